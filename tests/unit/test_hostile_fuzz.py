"""A bounded fuzz (Hypothesis, derandomized so CI sees the same cases) of what reads hostile bytes: the
contract loader, the compose reader, interpolation and `.env` files, and the probe-output parser. Every input ends in a value or in the
documented error (ContractError: exit 4, ComposeError: exit 3), each message one line. Nothing is timed
here (benchmarks/hostile.py measures time and memory); the whole file runs in a few seconds
(`max_examples`).

A longer, random run: NETCONTRACT_FUZZ_EXAMPLES=5000 pytest tests/unit/test_hostile_fuzz.py"""

from __future__ import annotations

import os
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcontract.compose.interpolation import (
    MAX_EXPANSION,
    MAX_NESTING,
    InterpolationLimit,
    Interpolator,
    parse_dotenv,
)
from netcontract.compose.reader import parse_compose_text
from netcontract.contract import Contract, contract_from_data, parse_yaml
from netcontract.errors import ComposeError, ContractError, InterpolationError
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.probe.parse import classify, parse_batch

_DEEP = int(os.environ.get("NETCONTRACT_FUZZ_EXAMPLES", "0"))


def _fuzz(examples: int) -> settings:
    # no deadline: nothing in the suite is timed (benchmarks/hostile.py measures the corpus)
    return settings(
        max_examples=_DEEP or examples,
        deadline=None,
        derandomize=not _DEEP,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


FUZZ = _fuzz(300)

VALID = """version: 1
project: shop
tiers:
  front: {network: shop_front}
  back: {network: shop_back, internal: true}
services:
  web: {tiers: [front, back], aliases: {front: [www.shop]}, ports: [80]}
  db: {tiers: [back], ports: [5432]}
policy:
  allow: ["front -> back"]
  isolate: []
"""
COMPOSE = """services:
  web:
    image: nginx
    networks: {front: {aliases: [www]}}
    ports: ["8080:80"]
networks:
  front: {internal: true}
"""
# What YAML and our messages trip over: indicators, anchors, tags, escapes, line breaks of every kind.
YAML_BITS = st.sampled_from(
    [
        "&a ",
        "*a",
        "<<: *a\n",
        "!!str ",
        "!!python/name:os.system ",
        "!x ",
        "? ",
        ": ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "#",
        "'",
        '"',
        "|\n",
        ">\n",
        "\n",
        "\r\n",
        "\t",
        "  ",
        "\x00",
        "\x1b[2J",
        "\x85",
        "\u2028",
        "\ufeff",
        "9" * 5000,
        "0x" + "f" * 3000,
        "1:2:3",
        ".inf",
        "~",
        "yes",
        "2001-12-14",
        "\\u0000",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        "é",
        "\U0001f600",
    ]
)
TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(YAML_BITS, st.text(max_size=8)), max_size=60).map("".join),
)


def _mutated(base: str) -> st.SearchStrategy[str]:
    """`base` with a few pieces of TEXT spliced in: mostly valid documents, broken in interesting places."""
    return st.lists(st.tuples(st.integers(0, len(base)), TEXT), max_size=4).map(
        lambda cuts: _splice(base, cuts)
    )


def _splice(base: str, cuts: list[tuple[int, str]]) -> str:
    out = base
    for at, piece in sorted(cuts, reverse=True):
        out = out[:at] + piece + out[at:]
    return out


def _one_line(lines: list[str]) -> None:
    assert lines
    for line in lines:
        assert "\n" not in line and "\r" not in line and len(line) < 1000, line


# -- the contract loader ----------------------------------------------------------------------------------


def _load_contract(text: str) -> Contract | None:
    try:
        return contract_from_data(parse_yaml(text, "c.yaml"), "c.yaml")
    except ContractError as exc:
        _one_line(exc.lines())
        assert all(line.startswith("c.yaml: ") for line in exc.lines())
        assert len(exc.lines()) <= 21
        return None


@FUZZ
@given(st.one_of(TEXT, _mutated(VALID)))
def test_contract_loader_text(text: str) -> None:
    _load_contract(text)


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=30,
)


@_fuzz(150)  # pydantic on every example: the slowest of these
@given(
    st.dictionaries(
        st.sampled_from(["version", "project", "tiers", "services", "policy", "x"]),
        JSONISH,
        max_size=5,
    )
)
def test_contract_loader_structures(data: dict[str, Any]) -> None:
    _load_contract(yaml.safe_dump(data, allow_unicode=True))


# -- the compose reader -----------------------------------------------------------------------------------


@FUZZ
@given(st.one_of(TEXT, _mutated(COMPOSE)))
def test_compose_reader(text: str) -> None:
    try:
        data, lines = parse_compose_text(text, "compose.yaml")
        assert isinstance(data, dict) and isinstance(lines, dict)
    except ComposeError as exc:
        _one_line(exc.lines())
        assert str(exc).startswith("compose.yaml: ")


# -- the probe-output parser --------------------------------------------------------------------------------

PROBES = [
    Probe("p0", ProbeKind.TCP, "10.0.0.3", 80),
    Probe("p1", ProbeKind.DNS, "db"),
    Probe("p2", ProbeKind.ICMP, "10.0.0.4"),
]
OUTPUT_BITS = st.sampled_from(
    [
        "@@tools tcp=nc-z dns=nslookup icmp=ping\n",
        "@@tools tcp=bash dns=getent icmp=none\n",
        "@@done\n",
        "@@missing sleep\n",
        "@p0|",
        "@p1|",
        "@p2|",
        "@@rc 0\n",
        "@@rc 1\n",
        "@@rc 143\n",
        "@@rc x\n",
        "@@notool tcp\n",
        "Server: 127.0.0.11\n",
        "Name: db\n",
        "Address: 172.22.0.2\n",
        "** server can't find db: NXDOMAIN\n",
        "*** Can't find db: No answer\n",
        "nc: connect to x port 80 (tcp) failed: Connection refused\n",
        "Connection to x 80 port [tcp/*] succeeded!\n",
        "1 packets transmitted, 1 packets received\n",
        "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable\n",
        "nxdomain",
        "timeout",
        "unreachable",
        "refused",
        "\r",
        "\x0b",
        "\x1c",
        "\x85",
        "\u2028",
        "\x1b[2J",
        "\x00",
        "\n",
    ]
)
OUTPUT = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(OUTPUT_BITS, st.text(max_size=6)), max_size=40).map("".join),
)


@FUZZ
@given(OUTPUT)
def test_probe_batches(text: str) -> None:
    got = parse_batch(text, PROBES)
    assert set(got) == {"p0", "p1", "p2"} and all(isinstance(o, Observation) for o in got.values())


@FUZZ
@given(
    st.sampled_from(list(ProbeKind)),
    st.sampled_from(["nc-z", "nc-e", "bash", "python3", "nslookup", "getent", "ping", "", "none"]),
    st.integers(-1, 255),
    OUTPUT,
)
def test_probe_outputs(kind: ProbeKind, tool: str, rc: int, output: str) -> None:
    obs = classify(kind, tool, rc, output)
    assert isinstance(obs.outcome, Outcome) and len(obs.detail) <= 250 and obs.output == output
    if obs.outcome is Outcome.OK and kind is ProbeKind.DNS:
        assert obs.addresses  # a DNS pass always names what it resolved to


@FUZZ
@given(
    st.from_regex(
        r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?){0,3}",
        fullmatch=True,
    )
)
def test_no_name_changes_a_verdict(name: str) -> None:
    """Whatever DNS name the tools echo, the outcome is the one of the line format around it."""
    answer = f"Server: 127.0.0.11\nAddress: 127.0.0.11:53\n\nName:\t{name}\nAddress: 172.22.0.5\n"
    assert classify(ProbeKind.DNS, "nslookup", 0, answer).outcome is Outcome.OK
    nx = f"Server: 127.0.0.11\n\n** server can't find {name}: NXDOMAIN\n"
    assert classify(ProbeKind.DNS, "nslookup", 1, nx).outcome is Outcome.NXDOMAIN
    dropped = f"nc: connect to {name} port 80 (tcp) timed out: Operation now in progress\n"
    assert classify(ProbeKind.TCP, "nc-z", 1, dropped).outcome is Outcome.TIMEOUT
    ok = f"Connection to {name} 80 port [tcp/http] succeeded!\n"
    assert classify(ProbeKind.TCP, "nc-z", 0, ok).outcome is Outcome.OK
    lost = f"PING {name} (10.0.0.9): 56 data bytes\n--- {name} ping statistics ---\n1 packets transmitted, 0 packets received\n"
    assert classify(ProbeKind.ICMP, "ping", 1, lost).outcome is Outcome.TIMEOUT


# -- interpolation and .env files ------------------------------------------------------------------

# The pieces of `${...}` syntax, nests and doublings of every depth, and what splits lines.
INTERP_BITS = st.sampled_from(
    [
        "$",
        "$$",
        "${",
        "}",
        "{",
        "A",
        "B",
        "BIG",
        "_",
        ":-",
        "-",
        ":?",
        "?",
        ":+",
        "+",
        ":",
        "/",
        "x",
        " ",
        "\n",
        "\r",
        "\\",
        '"',
        "'",
        "#",
        "=",
        "export ",
        "${A:-" * 40,
        "}" * 40,
        "${BIG}" * 50,
        "\u2028",
        "\x00",
    ]
)
ENV = {"A": "1", "E": "", "BIG": "b" * 4096}


@FUZZ
@given(st.lists(INTERP_BITS, max_size=60).map("".join))
def test_fuzz_interpolation_ends_in_a_value_or_one_line(text: str) -> None:
    interp = Interpolator(ENV)
    try:
        out = interp.text(text)
    except InterpolationLimit as exc:
        assert "\n" not in str(exc) and (
            "nested deeper than" in str(exc) or "expands to more than" in str(exc)
        )
        return
    except InterpolationError as exc:
        assert len(str(exc)) < 1000
        return
    assert len(out) <= MAX_EXPANSION
    if "$" not in text:
        assert out == text


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["V", "W", "A", "BIG", "x y", "1A"]),
            st.lists(INTERP_BITS, max_size=12).map("".join),
        ),
        max_size=40,
    )
)
def test_fuzz_dotenv_ends_in_values_or_one_line(lines: list[tuple[str, str]]) -> None:
    text = "\n".join(f"{k}={v}" for k, v in lines)
    try:
        values = parse_dotenv(text, ENV)
    except InterpolationError as exc:
        assert str(exc).startswith("line ") and len(str(exc)) < 1000
        return
    assert sum(len(v) for v in values.values()) <= MAX_EXPANSION + len(text)


def test_a_doubling_env_file_stops_at_the_budget() -> None:
    text = (
        "V0="
        + "x" * 16
        + "\n"
        + "".join(f"V{i}=${{V{i - 1}}}${{V{i - 1}}}\n" for i in range(1, 64))
    )
    try:
        parse_dotenv(text, {})
    except InterpolationLimit as exc:
        # 16 * 2**21 characters in all by line 21 (V20): the budget stops it there, not at 2**63
        assert str(exc) == f"line 21: interpolation expands to more than {MAX_EXPANSION} characters"
    else:
        raise AssertionError("2^63 characters were not refused")


def test_nesting_past_the_cap_is_refused_and_at_the_cap_is_read() -> None:
    at_cap = "${U:-" * MAX_NESTING + "x" + "}" * MAX_NESTING
    assert Interpolator({}).text(at_cap) == "x"
    try:
        Interpolator({}).text("${U:-" + at_cap + "}")
    except InterpolationLimit as exc:
        assert f"nested deeper than {MAX_NESTING} levels" in str(exc)
    else:
        raise AssertionError("nesting past the cap was read")

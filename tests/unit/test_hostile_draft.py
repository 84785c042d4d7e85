"""`init` drafts are data serialised by the YAML library, comments included: whatever the names in the
compose file or on the engine (newlines, quotes, `#`, `: `, unicode, terminal escapes), the draft
loads with exit 0 and holds exactly the names that can be contract names; the others are left out
with a comment that cannot end early. A stack on the host network gets a valid draft that says so."""

from __future__ import annotations

import string
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcontract.cli.main import main
from netcontract.contract import contract_from_data, parse_yaml
from netcontract.draft.build import DraftHints, draft_contract
from netcontract.draft.yaml_text import comment, scalar
from netcontract.names import is_dns_name, is_label, is_network_name, is_project_name
from netcontract.state import Container, Endpoint, Network, State

BUILTIN = ["--compose-loader", "builtin"]
PLEX = """services:
  plex:
    image: linuxserver/plex
    container_name: plex
    network_mode: host
    environment:
      - VERSION=docker
    restart: always
    volumes:
      - ${PLEX_MEDIA_PATH}:/media/
"""  # docker/awesome-compose plex/compose.yaml (CC0 1.0)


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_a_stack_on_the_host_network_gets_a_valid_draft(tmp_path: Path) -> None:
    compose = tmp_path / "plex" / "compose.yaml"
    compose.parent.mkdir()
    compose.write_text(PLEX)
    code, out, err = _run("init", "--from-compose", str(compose), *BUILTIN)
    assert code == 0, err
    c = contract_from_data(parse_yaml(out, "draft"), "draft")
    assert (c.project, dict(c.tiers), list(c.services)) == ("plex", {}, ["plex"])
    assert (
        c.services["plex"].network_mode == "host"
    )  # issue 19: a host-network service is described, not left out
    draft = tmp_path / "draft.yaml"
    draft.write_text(out)
    assert _run("lint", "-c", str(draft), "-f", str(compose), *BUILTIN)[0] == 0


def test_a_name_cannot_add_keys_through_the_compose_file(tmp_path: Path) -> None:
    compose = tmp_path / "shop" / "compose.yaml"
    compose.parent.mkdir()
    compose.write_text(
        "services:\n"
        '  "web\\nservices:\\n  evil: {tiers: [x]}\\n#":\n    image: a\n    networks: [front]\n'
        '  "db # x: y\\u2028policy: {}":\n    image: b\n    networks: [front]\n'
        '  api:\n    image: c\n    networks:\n      front:\n        aliases: ["a\\"b", "ok.alias", "x\\r\\ny: z"]\n'
        "networks:\n  front: {}\n"
    )
    code, out, err = _run("init", "--from-compose", str(compose), *BUILTIN)
    assert code == 0, err
    data = yaml.safe_load(out)
    assert list(data["services"]) == ["api"] and data["services"]["api"]["aliases"] == {
        "front": ["ok.alias"]
    }
    assert "# web\\nservices:\\n  evil: {tiers: [x]}\\n#: left out" in out
    assert "\u2028" not in out and "\r" not in out


def test_comments_and_scalars_are_escaped() -> None:
    assert comment("a\nb\r\x85\u2028\x1b") == "a\\nb\\r\\x85\\u2028\\x1b"
    for text in (
        "yes",
        "on",
        "1.5",
        "0o17",
        "a: b",
        "#x",
        "x #y",
        "'q'",
        '"q"',
        "é",
        "\U0001f600",
        "\ud800",
        "line\nbreak",
        "tab\there",
        "-",
        "[x]",
        "{x}",
        "*a",
        "&a",
        "!tag",
        "%x",
        "@x",
        "`x",
        "a -> b",
    ):
        assert yaml.safe_load(f"k: {scalar(text)}")["k"] == text, text


# -- Hypothesis: random names from a compose file or an engine ---------------------------------------

_SPICY = "\n\r\t\x00\x1b\x85\u2028\u202e#:'\"{}[],&*!|>%@`-_. ?~\\/"
NAME = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
    st.text(
        alphabet=string.ascii_letters + string.digits + _SPICY + "éß😀", min_size=1, max_size=12
    ),
    st.text(min_size=1, max_size=8),
)


@settings(
    max_examples=150,
    deadline=5000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    project=NAME,
    services=st.lists(
        st.tuples(NAME, st.lists(NAME, max_size=2), st.lists(NAME, max_size=3)),
        min_size=1,
        max_size=4,
        unique_by=lambda s: s[0],
    ),
)
def test_a_draft_of_any_names_loads_with_the_same_names(
    project: str, services: list[tuple[str, list[str], list[str]]]
) -> None:
    networks = sorted({n for _, nets, _ in services for n in nets})
    containers = tuple(
        Container(
            id=f"{i:064x}",
            name=f"c{i}",
            project=project,
            service=name,
            status="running",
            endpoints=tuple(Endpoint(n, aliases=tuple(aliases)) for n in nets),
        )
        for i, (name, nets, aliases) in enumerate(services)
    )
    state = State(
        project=project,
        networks=tuple(Network(n, "bridge", False) for n in networks),
        containers=containers,
    )
    text = draft_contract(
        state, DraftHints(command="netcontract init --from-live --project " + project)
    )
    c = contract_from_data(
        parse_yaml(text, "draft"), "draft"
    )  # raises (and fails the test) if it does not load
    kept = {
        name
        for name, nets, _ in services
        if is_label(name)
        and any(is_network_name(n) and n not in ("host", "none", "bridge") for n in nets)
    }
    assert set(c.services) == kept
    assert c.project == (project if is_project_name(project) else None)
    assert {t.network for t in c.tiers.values()} <= set(networks)
    for name, svc in c.services.items():
        declared = {
            a for n, (s, nets, aliases) in enumerate(services) if s == name for a in aliases
        }
        assert all(
            is_dns_name(a) and a in declared for names in svc.aliases.values() for a in names
        )
    for line in text.split("\n"):  # every comment stays one line: nothing in it ends it early
        assert "\r" not in line and "\x85" not in line and "\u2028" not in line

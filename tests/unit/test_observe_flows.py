"""observe's pure core: conntrack text (both sources), addresses -> services (replicas, IPv6, namespace
sharers, the host, outside), counting, used against allowed, and the least-privilege draft."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from netcontract.cli.observe import parse_duration
from netcontract.conntrack_parse import parse_line, parse_table
from netcontract.contract import contract_from_data
from netcontract.draft.build import check_draft
from netcontract.draft.observed import draft_from_observation
from netcontract.flows import (
    HOST,
    OUTSIDE,
    SERVICE,
    Accumulator,
    FlowWindow,
    address_index,
    served_ports,
)
from netcontract.report.flows import render_json, render_text
from netcontract.state import Container, Endpoint, Network, State
from netcontract.usage import compare

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "conntrack"


# -- parsing, both sources ---------------------------------------------------------------------------------


def test_proc_file_lines() -> None:
    entries = parse_table((ASSETS / "proc.txt").read_text())
    tcp = [e for e in entries if e.proto == "tcp" and e.dport == 8001]
    assert (
        tcp
        and tcp[0].src == "192.168.48.3"
        and tcp[0].dst == "192.168.48.5"
        and tcp[0].state == "TIME_WAIT"
    )
    assert tcp[0].replied and tcp[0].assured
    udp = next(e for e in entries if e.proto == "udp")
    assert not udp.replied and udp.dport == 53
    v6 = next(e for e in entries if e.src.startswith("fd00"))
    assert (
        v6.src == "fd00:1::3" and v6.dst == "fd00:1::5"
    )  # the proc file writes IPv6 in full; compared canonical
    icmp = next(e for e in entries if e.proto == "icmp")
    assert icmp.dport == 0 and icmp.server == ("192.168.48.5", 0)


def test_conntrack_tool_lines_read_the_same() -> None:
    proc = parse_table((ASSETS / "proc.txt").read_text())
    tool = parse_table((ASSETS / "conntrack-L.txt").read_text())
    assert {e.key for e in tool} == {e.key for e in proc}
    assert [e.state for e in tool] == [e.state for e in proc]


def test_dnat_server_is_the_reply_source() -> None:
    e = parse_line(
        "ipv4 2 tcp 6 86399 ESTABLISHED src=10.0.0.9 dst=10.0.0.1 sport=40000 dport=8080 "
        "src=192.168.48.5 dst=10.0.0.9 sport=80 dport=40000 [ASSURED] mark=0 zone=0 use=2"
    )
    assert e is not None and e.server == ("192.168.48.5", 80)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.",
        "ipv4 2 tcp 6 1 CLOSE src=x dst=1.2.3.4 sport=1 dport=2",
        "tcp 6 1 CLOSE src=1.1.1.1 dst=1.2.3.4 sport=a dport=2",
    ],
)
def test_what_is_not_an_entry(line: str) -> None:
    assert parse_line(line) is None


@pytest.mark.parametrize(
    ("text", "seconds"), [("60", 60), ("60s", 60), ("2m", 120), ("1h", 3600), ("500ms", 0.5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "-1s", "1d", "soon", "8000000s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# -- mapping ---------------------------------------------------------------------------------------------


def _c(
    name: str,
    service: str | None,
    eps: tuple[Endpoint, ...] = (),
    mode: str = "",
    project: str = "p",
) -> Container:
    return Container(
        id=f"id-{name}",
        name=name,
        project=project,
        service=service,
        status="running",
        endpoints=eps,
        network_mode=mode,
    )


def _state() -> State:
    nets = (
        Network("p_front", "bridge", False, ("192.168.48.0/20",), gateways=("192.168.48.1",)),
        Network(
            "p_back",
            "bridge",
            True,
            ("192.168.64.0/20", "fd00:1::/64"),
            ipv6=True,
            gateways=("192.168.64.1",),
        ),
    )
    return State(
        "p",
        nets,
        (
            _c("p-web-1", "web", (Endpoint("p_front", "192.168.48.3"),)),
            _c(
                "p-api-1",
                "api",
                (
                    Endpoint("p_front", "192.168.48.5"),
                    Endpoint("p_back", "192.168.64.5", ipv6="fd00:1::5"),
                ),
            ),
            _c(
                "p-api-2",
                "api",
                (Endpoint("p_front", "192.168.48.6"), Endpoint("p_back", "192.168.64.6")),
            ),
            _c("p-db-1", "db", (Endpoint("p_back", "192.168.64.7", ipv6="fd00:1:0:0::7"),)),
            _c("p-exporter-1", "exporter", mode="container:id-p-db-1"),
            _c("stranger", None, (Endpoint("p_back", "192.168.64.9"),), project=""),
        ),
    )


def _entry(
    proto: str, src: str, dst: str, dport: int, sport: int = 40000, reply: bool = True
) -> str:
    flag = "[ASSURED]" if reply else "[UNREPLIED]"
    state = "TIME_WAIT " if proto == "tcp" else ""
    num = {"tcp": 6, "udp": 17, "icmp": 1}[proto]
    return (
        f"{proto} {num} 100 {state}src={src} dst={dst} sport={sport} dport={dport} "
        f"src={dst} dst={src} sport={dport} dport={sport} {flag} mark=0 use=1"
    )


def _window(lines: list[str], reads: int = 1) -> FlowWindow:
    state = _state()
    acc = Accumulator(address_index(state))
    acc.add(100.0, [])  # the first read: an empty table
    for i in range(reads):
        acc.add(101.0 + i, parse_table("\n".join(lines)))
    return FlowWindow(state, tuple(acc.flows()), 100.0, 60.0, "proc", acc.reads, len(acc.before))


def test_replicas_are_one_service_and_counted_per_connection() -> None:
    w = _window(
        [
            _entry("tcp", "192.168.48.3", "192.168.48.5", 8000, 1),
            _entry("tcp", "192.168.48.3", "192.168.48.6", 8000, 2),
            _entry("tcp", "192.168.48.3", "192.168.48.6", 8000, 3),
        ],
        reads=3,
    )
    (f,) = w.flows
    assert (f.client.name, f.server.name, f.port, f.network, f.count) == (
        "web",
        "api",
        8000,
        "p_front",
        3,
    )
    assert (
        f.containers == ("p-api-1", "p-api-2")
        and (f.first, f.last) == (101.0, 103.0)
        and not f.before
    )


def test_ipv6_addresses_in_any_spelling_map_to_the_service() -> None:
    w = _window(
        [
            "ipv6 10 "
            + _entry(
                "tcp",
                "fd00:0001:0000:0000:0000:0000:0000:0005",
                "fd00:0001:0000:0000:0000:0000:0000:0007",
                5432,
            )
        ]
    )
    (f,) = w.flows
    assert (f.client.name, f.server.name, f.network) == ("api", "db", "p_back")


def test_namespace_sharers_are_named_with_the_owner() -> None:
    w = _window([_entry("tcp", "192.168.64.5", "192.168.64.7", 9100)])
    (f,) = w.flows
    assert f.server.name == "db" and f.server.sharers == ("exporter",)
    assert "db (namespace shared with exporter)" in render_text(w)


def test_host_outside_foreign_and_routed() -> None:
    w = _window(
        [
            _entry("tcp", "192.168.48.3", "203.0.113.7", 443),
            _entry("tcp", "192.168.48.1", "192.168.48.5", 8000),
            _entry("tcp", "192.168.64.9", "192.168.64.7", 5432),
            _entry("tcp", "192.168.48.3", "192.168.64.7", 5432, reply=False),
            _entry("tcp", "203.0.113.7", "198.51.100.1", 80),
        ]
    )  # neither end is the stack's: dropped
    kinds = {(f.client.kind, f.client.name, f.server.kind, f.server.name): f for f in w.flows}
    assert len(w.flows) == 4
    egress = kinds[(SERVICE, "web", OUTSIDE, "203.0.113.7")]
    assert egress.egress and egress.network == ""
    assert (HOST, HOST, SERVICE, "api") in kinds
    assert ("container", "stranger", SERVICE, "db") in kinds
    routed = kinds[(SERVICE, "web", SERVICE, "db")]
    assert routed.routed and not routed.replied


def test_entries_already_there_at_the_first_read_are_marked() -> None:
    state = _state()
    acc = Accumulator(address_index(state))
    acc.add(100.0, parse_table(_entry("tcp", "192.168.48.3", "192.168.48.5", 8000)))
    (f,) = acc.flows()
    assert f.before and (f.count, f.lingering) == (0, 1) and not f.evidence


def test_lingering_entries_are_counted_apart_from_the_windows_own() -> None:
    """Six TIME_WAIT entries of an earlier check's probes and three connections made in the window: x3, not
    x9 (a full CI run once counted nine); a lingering unanswered SYN is listed but never judged; a connection
    pool opened before the window and established during it is a use."""
    state = _state()
    acc = Accumulator(address_index(state))
    old = [_entry("tcp", "192.168.48.3", "192.168.48.5", 8000, sport=41000 + i) for i in range(6)]
    syn = _entry("tcp", "192.168.48.3", "192.168.64.7", 5432, sport=42000, reply=False)
    pool = _entry("tcp", "192.168.64.5", "192.168.64.7", 5432, sport=43000).replace(
        "TIME_WAIT", "ESTABLISHED"
    )
    acc.add(100.0, parse_table("\n".join([*old, syn, pool])))
    new = [_entry("tcp", "192.168.48.3", "192.168.48.5", 8000, sport=44000 + i) for i in range(3)]
    acc.add(101.0, parse_table("\n".join([*old, syn, pool, *new])))
    flows = {(f.client.name, f.server.name, f.port): f for f in acc.flows()}
    web_api = flows[("web", "api", 8000)]
    assert (web_api.count, web_api.lingering, web_api.before, web_api.evidence) == (
        3,
        6,
        False,
        True,
    )
    web_db = flows[("web", "db", 5432)]
    assert (web_db.count, web_db.lingering, web_db.evidence) == (0, 1, False)
    api_db = flows[("api", "db", 5432)]
    assert (api_db.count, api_db.lingering, api_db.held, api_db.evidence) == (0, 1, True, True)
    w = FlowWindow(state, tuple(acc.flows()), 100.0, 60.0, "proc", acc.reads, len(acc.before))
    usage = compare(contract_from_data(_contract()), w.flows)
    # web -> db shares no tier, but only an old unanswered SYN shows it: not forbidden
    assert not usage.forbidden
    assert ("pair", "api -> db") not in {(u.kind, u.subject) for u in usage.unused}
    text = render_text(w, usage, {"p_front": "front", "p_back": "back"})
    assert "x3" in text and "and 6 from before the window" in text
    assert "only lingering from before the window: not judged" in text
    assert "open when the window began" in text
    doc = json.loads(render_json(w, usage, {"p_front": "front", "p_back": "back"}))
    counts = {
        (f["client"]["name"], f["server"]["name"]): (
            f["count"],
            f["open_at_start_count"],
            f["evidence"],
        )
        for f in doc["flows"]
    }
    assert counts[("web", "api")] == (3, 6, True) and counts[("web", "db")] == (0, 1, False)


def test_served_ports_only_answered_tcp_between_services() -> None:
    w = _window(
        [
            _entry("tcp", "192.168.48.3", "192.168.48.5", 8000),
            _entry("udp", "192.168.48.3", "192.168.48.5", 53),
            _entry("tcp", "192.168.48.3", "192.168.48.5", 9999, reply=False),
        ]
    )
    assert served_ports(w.flows) == {"api": (8000,)}


# -- used against allowed ----------------------------------------------------------------------------------


def _contract(**policy: object) -> dict:
    return {
        "version": 1,
        "project": "p",
        "tiers": {"front": {"network": "p_front"}, "back": {"network": "p_back", "internal": True}},
        "services": {
            "web": {"tiers": ["front"], "ports": [80]},
            "api": {"tiers": ["front", "back"], "ports": [8000]},
            "db": {"tiers": ["back"], "ports": [5432]},
        },
        "policy": {"allow": ["front -> back"], **policy},
    }


def test_forbidden_flow_with_its_evidence_and_unused_paths() -> None:
    w = _window(
        [
            _entry("tcp", "192.168.48.3", "192.168.48.5", 8000),
            _entry("tcp", "192.168.48.3", "192.168.64.7", 5432),
        ]
    )
    usage = compare(contract_from_data(_contract()), w.flows)
    (bad,) = usage.forbidden
    assert (bad.flow.client.name, bad.flow.server.name, bad.flow.port) == ("web", "db", 5432)
    assert bad.reason == "web and db share no tier in the contract" and usage.violated
    unused = {(u.kind, u.subject) for u in usage.unused}
    assert ("pair", "api -> db") in unused and ("pair", "web -> api") not in unused
    assert ("port", "web:80") in unused and ("port", "api:8000") not in unused
    text = render_text(w, usage, {"p_front": "front", "p_back": "back"})
    assert (
        "web -> db (namespace shared with exporter) 5432/tcp on back  x1" in text
        and "1 forbidden flow seen" in text
    )


def test_egress_from_an_all_internal_service_is_forbidden_other_egress_is_not() -> None:
    state_lines = [
        _entry("tcp", "192.168.64.7", "203.0.113.7", 443),
        _entry("tcp", "192.168.48.3", "203.0.113.7", 443),
    ]
    usage = compare(contract_from_data(_contract()), _window(state_lines).flows)
    assert [(x.flow.client.name, x.reason) for x in usage.forbidden] == [
        ("db", "db's tiers are all internal: it must not reach outside the stack")
    ]


def test_isolate_and_unknown_services() -> None:
    w = _window([_entry("tcp", "192.168.64.9", "192.168.64.7", 5432)])
    usage = compare(contract_from_data(_contract(isolate=["web -> db"])), w.flows)
    assert [x.reason for x in usage.forbidden] == [
        "stranger is a container outside the project on a tier"
    ]


def test_json_output_is_complete() -> None:
    w = _window([_entry("tcp", "192.168.48.3", "192.168.48.5", 8000)])
    usage = compare(contract_from_data(_contract()), w.flows)
    import json

    doc = json.loads(render_json(w, usage, {"p_front": "front"}))
    (f,) = doc["flows"]
    assert (f["client"]["name"], f["server"]["name"], f["port"], f["tier"], f["count"]) == (
        "web",
        "api",
        8000,
        "front",
        1,
    )
    assert f["first_seen"].endswith("Z") and doc["limits"] and doc["forbidden"] == []


# -- the draft --------------------------------------------------------------------------------------------


def test_draft_from_flows_loads_and_says_why() -> None:
    state = _state()
    state = State("p", state.networks, tuple(c for c in state.containers if c.name != "stranger"))
    acc = Accumulator(address_index(state))
    acc.add(100.0, [])
    acc.add(
        101.0,
        parse_table(
            "\n".join(
                [
                    _entry("tcp", "192.168.48.3", "192.168.48.5", 8000),
                    _entry("udp", "192.168.64.5", "192.168.64.7", 5353),
                ]
            )
        ),
    )
    w = FlowWindow(state, tuple(acc.flows()), 100.0, 60.0, "proc", acc.reads, 0)
    text = draft_from_observation(w, "netcontract observe --write x.yaml")
    check_draft(text)
    data = yaml.safe_load(text)
    assert data["services"]["api"]["ports"] == [8000]
    assert "ports" not in data["services"]["web"]
    assert "# observed served: 1 connection" in text
    assert "no TCP port: check probes it with ICMP echo only" in text
    assert "served 5353/udp to api" in text and "TCP ports only" in text
    assert data["policy"]["isolate"] == ["db -> web", "web -> db"]
    assert "proposal: api and db share p_back but never talked" not in text  # they did (UDP)


# -- init --from-live --observe: the same draft as observe --write, in one command --------------------------


def _observed_window() -> FlowWindow:
    state = _state()
    state = State("p", state.networks, tuple(c for c in state.containers if c.name != "stranger"))
    acc = Accumulator(address_index(state))
    acc.add(100.0, [])
    acc.add(101.0, parse_table(_entry("tcp", "192.168.48.3", "192.168.48.5", 8000)))
    return FlowWindow(state, tuple(acc.flows()), 100.0, 60.0, "proc", acc.reads, 0)


def test_init_from_live_observe_writes_observes_draft(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    import netcontract.live.observe as live_observe
    from netcontract.cli.main import main

    calls: list[tuple[str | None, float | None]] = []

    def fake_observe(
        project: str | None, seconds: float | None, *_: object, **__: object
    ) -> FlowWindow:
        calls.append((project, seconds))
        return _observed_window()

    monkeypatch.setattr(live_observe, "observe", fake_observe)
    out = tmp_path / "tight.yaml"
    run = CliRunner().invoke(
        main, ["init", "--from-live", "--project", "p", "--observe", "2m", "-o", str(out)]
    )
    assert run.exit_code == 0, run.output
    assert calls == [("p", 120.0)]
    text = out.read_text()
    command = "netcontract init --from-live --project p --observe 120s"
    assert text == draft_from_observation(_observed_window(), command)
    assert f"`{command}`" in text
    assert yaml.safe_load(text)["services"]["api"]["ports"] == [8000]
    assert "observed project p for 60 s through proc: 1 flow in the stack, 0 egress" in run.output


def test_init_observe_usage(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from netcontract.cli.main import main

    compose = tmp_path / "compose.yaml"
    compose.write_text("services: {}\n")
    for argv, message in [
        (["--from-compose", str(compose), "--observe", "60s"], "--observe goes with --from-live"),
        (["--from-live", "--observe", "soon"], "expected a duration like 60s"),
    ]:
        run = CliRunner().invoke(main, ["init", *argv])
        assert run.exit_code == 2, run.output
        assert message in run.output

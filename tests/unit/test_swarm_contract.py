"""Swarm support (issue 13), step 1: the contract fields and their structural checks. No daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netcontract.contract import Contract, contract_from_data, load_contract
from netcontract.errors import ContractError
from netcontract.live.docker.engine import network_from_inspect
from netcontract.results import Kind, Result, Verdict
from netcontract.state import Container, Endpoint, Network, State
from netcontract.structural import egress_results, structural_results, unreadable_errors

ROOT = Path(__file__).resolve().parents[2]
P, F, E, S = Verdict.PASS, Verdict.FAIL, Verdict.ERROR, Verdict.SKIP


def data(**tier: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "project": "st",
        "orchestrator": "swarm",
        "tiers": {
            "front": {"network": "st_front", "driver": "overlay", **tier},
            "back": {"network": "st_back", "driver": "overlay", "internal": True},
        },
        "services": {
            "web": {"tiers": ["front"], "ports": [80]},
            "db": {"tiers": ["back"], "ports": [5432], "aliases": {"back": ["database"]}},
        },
    }


def issues(d: dict[str, Any]) -> list[str]:
    with pytest.raises(ContractError) as info:
        contract_from_data(d, "c.yaml")
    return info.value.lines()


# -- the contract ---------------------------------------------------------------------------------


def test_the_swarm_test_bed_contract_loads_with_every_new_field() -> None:
    c = load_contract(ROOT / "tests" / "swarm" / "contract.yaml")
    assert c.orchestrator == "swarm"
    assert c.project == "nctest"
    assert c.tiers["edge"].attachable is True and c.tiers["edge"].driver == "overlay"
    assert c.tiers["vault"].encrypted is True and c.tiers["vault"].internal is True
    assert c.tiers["app"].attachable is None and c.tiers["app"].encrypted is None


def test_every_shipped_contract_stays_valid_and_defaults_to_compose_bridge() -> None:
    paths = sorted((ROOT / "contracts").glob("*.yaml"))
    assert paths
    for path in paths:
        c = load_contract(path)
        assert c.orchestrator == "compose", path
        assert all(t.attachable is None and t.encrypted is None for t in c.tiers.values()), path


def test_defaults_are_compose_and_unchecked() -> None:
    c = contract_from_data(
        {"version": 1, "tiers": {"t": {"network": "n"}}, "services": {"s": {"tiers": ["t"]}}}
    )
    assert c.orchestrator == "compose"
    assert (c.tiers["t"].driver, c.tiers["t"].attachable, c.tiers["t"].encrypted) == (
        "bridge",
        None,
        None,
    )


def test_an_unknown_orchestrator_is_one_line_with_its_path() -> None:
    d = data()
    d["orchestrator"] = "kubernetes"
    (line,) = issues(d)
    assert line.startswith("c.yaml: orchestrator: ") and "swarm" in line


@pytest.mark.parametrize("field", ["attachable", "encrypted"])
@pytest.mark.parametrize("value", [True, False])
def test_overlay_fields_on_a_bridge_tier_are_refused(field: str, value: bool) -> None:
    d = data()
    d["tiers"]["front"] = {"network": "st_front", field: value}
    (line,) = issues(d)
    assert line == (
        f"c.yaml: tiers.front.{field}: {field} applies to overlay networks only "
        "(this tier's driver is 'bridge'; set `driver: overlay`)"
    )


@pytest.mark.parametrize("field", ["attachable", "encrypted"])
def test_overlay_fields_must_be_booleans(field: str) -> None:
    (line,) = issues(data(**{field: "sometimes"}))
    assert line.startswith(f"c.yaml: tiers.front.{field}: ")


# -- reading the network --------------------------------------------------------------------------


def test_network_from_inspect_reads_attachable_scope_and_the_encrypted_option() -> None:
    raw = {
        "Name": "nctest_vault",
        "Id": "x",
        "Driver": "overlay",
        "Scope": "swarm",
        "Internal": True,
        "Attachable": False,
        "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4100", "encrypted": ""},
        "IPAM": {"Config": [{"Subnet": "10.0.5.0/24", "Gateway": "10.0.5.1"}]},
    }
    n = network_from_inspect(raw)
    assert (n.driver, n.scope, n.internal, n.attachable, n.encrypted) == (
        "overlay",
        "swarm",
        True,
        False,
        True,
    )
    raw2 = {
        **raw,
        "Attachable": True,
        "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4101"},
    }
    n2 = network_from_inspect(raw2)
    assert (n2.attachable, n2.encrypted) == (True, False)
    assert network_from_inspect({"Name": "b"}).encrypted is False


# -- network:<tier> -------------------------------------------------------------------------------

FRONT = Network("st_front", "overlay", False, attachable=True, scope="swarm")
BACK = Network("st_back", "overlay", True, options=(("encrypted", ""),), scope="swarm")
WEB = Container(
    "a" * 64,
    "st_web.1",
    "st",
    "web",
    "running",
    None,
    (Endpoint("st_front", "10.0.1.3"),),
    node="n1",
)
DB = Container(
    "b" * 64,
    "st_db.1",
    "st",
    "db",
    "running",
    None,
    (Endpoint("st_back", "10.0.2.3", ("database", "db")),),
    node="n2",
)


def swarm_state(
    *containers: Container,
    networks: tuple[Network, ...] = (FRONT, BACK),
    unreachable: tuple[tuple[str, str], ...] = (),
) -> State:
    return State("st", networks, containers, orchestrator="swarm", unreachable=unreachable)


def results(contract: Contract, st: State) -> dict[str, Result]:
    return {
        r.id: r
        for r in unreadable_errors(
            structural_results(contract, st) + egress_results(contract, st), st
        )
    }


def test_attachable_and_encrypted_pass_when_they_match_and_show_in_expected_and_actual() -> None:
    d = data(attachable=True)
    d["tiers"]["back"]["encrypted"] = True
    r = results(contract_from_data(d), swarm_state(WEB, DB))
    assert r["network:front"].verdict is P
    assert r["network:front"].expected == "st_front (overlay, not internal, attachable)"
    assert r["network:front"].actual == "st_front (overlay, not internal, attachable)"
    assert r["network:back"].verdict is P
    assert r["network:back"].actual == "st_back (overlay, internal, encrypted)"
    assert all(x.verdict is P for x in r.values()), [x for x in r.values() if x.verdict is not P]


def test_the_negative_overlay_fields_show_in_expected_and_actual() -> None:
    r = results(
        contract_from_data(data(attachable=False, encrypted=False)),
        swarm_state(WEB, DB, networks=(Network("st_front", "overlay", False, scope="swarm"), BACK)),
    )
    assert r["network:front"].verdict is P
    assert (
        r["network:front"].expected
        == "st_front (overlay, not internal, not attachable, not encrypted)"
    )
    assert (
        r["network:front"].actual
        == "st_front (overlay, not internal, not attachable, not encrypted)"
    )


def test_unset_overlay_fields_are_not_checked_nor_shown() -> None:
    r = results(contract_from_data(data()), swarm_state(WEB, DB))
    assert r["network:front"].verdict is P
    assert r["network:front"].actual == "st_front (overlay, not internal)"


@pytest.mark.parametrize(
    ("want", "net", "reason"),
    [
        (True, Network("st_front", "overlay", False), "st_front is not attachable"),
        (False, FRONT, "st_front is attachable: any container on a swarm node can join it"),
    ],
)
def test_attachable_mismatch_fails_both_ways(want: bool, net: Network, reason: str) -> None:
    r = results(
        contract_from_data(data(attachable=want)), swarm_state(WEB, DB, networks=(net, BACK))
    )["network:front"]
    assert r.verdict is F and r.reason.startswith(reason)


@pytest.mark.parametrize(
    ("want", "options", "reason"),
    [
        (True, (), "st_front is not encrypted: its traffic between nodes is plain VXLAN"),
        (False, (("encrypted", ""),), "st_front is encrypted (the `encrypted` option is set)"),
    ],
)
def test_encrypted_mismatch_fails_both_ways(
    want: bool, options: tuple[tuple[str, str], ...], reason: str
) -> None:
    net = Network("st_front", "overlay", False, options=options)
    r = results(
        contract_from_data(data(encrypted=want)), swarm_state(WEB, DB, networks=(net, BACK))
    )["network:front"]
    assert (r.verdict, r.reason) == (F, reason)


def test_an_overlay_tier_on_a_bridge_network_fails_on_the_driver() -> None:
    net = Network("st_front", "bridge", False)
    r = results(contract_from_data(data()), swarm_state(WEB, DB, networks=(net, BACK)))[
        "network:front"
    ]
    assert r.verdict is F and "driver is bridge, not overlay" in r.reason


def test_a_missing_service_names_the_stack_labels() -> None:
    r = results(contract_from_data(data()), swarm_state(WEB))["running:db"]
    assert r.verdict is F
    assert (
        r.reason
        == "no container has labels com.docker.stack.namespace=st, com.docker.swarm.service.name=st_db"
    )


# -- a node that could not be read ----------------------------------------------------------------

BLIND_DB = Container(
    "c" * 64,
    "st_db.2",
    "st",
    "db",
    "running",
    None,
    (Endpoint("st_back", "10.0.2.4"),),
    node="n3",
    unreadable="node n3 (tcp://10.9.9.9:2375) unreachable: connection refused",
)


def test_checks_that_need_an_unreachable_node_are_errors_naming_it_never_passes() -> None:
    st = swarm_state(
        WEB, DB, BLIND_DB, unreachable=(("n3", "tcp://10.9.9.9:2375: connection refused"),)
    )
    r = results(contract_from_data(data()), st)
    for rid in ("running:db", "networks:db", "egress:db", "exposure:db"):
        assert r[rid].verdict is E, rid
        assert "st_db.2" in r[rid].reason and "node n3" in r[rid].reason, rid
    assert (
        r["alias:db@back:database"].verdict is F
    )  # st_db.2 read from the manager has no alias: a FAIL stays
    for rid in ("foreign:back", "alias-unique:back", "alias-unique:front"):
        assert r[rid].verdict is E and "n3" in r[rid].reason, rid
    # what does not need node n3 is still judged
    assert r["running:web"].verdict is P and r["network:back"].verdict is P


def test_every_unreachable_node_is_named_in_the_tier_wide_errors() -> None:
    st = swarm_state(WEB, DB, BLIND_DB, unreachable=(("n3", "refused"), ("n4", "timed out")))
    r = results(contract_from_data(data()), st)
    assert r["foreign:back"].reason == (
        "not evaluated: the containers of node n3 (refused), n4 (timed out) were not read"
    )


def test_a_fail_proven_by_a_readable_task_stays_a_fail() -> None:
    stray = Container(
        "d" * 64,
        "st_db.1",
        "st",
        "db",
        "running",
        None,
        (Endpoint("st_back", "10.0.2.3"), Endpoint("st_front", "10.0.1.9")),
        node="n2",
    )
    st = swarm_state(WEB, stray, BLIND_DB, unreachable=(("n3", "down"),))
    r = results(contract_from_data(data()), st)
    assert r["networks:db"].verdict is F and "st_front" in r["networks:db"].reason


def test_without_unreachable_nodes_nothing_changes() -> None:
    st = swarm_state(WEB, DB)
    before = structural_results(contract_from_data(data()), st)
    assert unreadable_errors(before, st) == before
    assert {x.kind for x in before} >= {Kind.NETWORK, Kind.RUNNING, Kind.FOREIGN}

"""Structural rules, probe planning and verdicts on recorded `docker inspect` data (no daemon)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from netcontract.contract import Contract, load_contract
from netcontract.live.docker.engine import container_from_inspect, network_from_inspect
from netcontract.probe.observation import Observation, Outcome
from netcontract.probe.plan import Expect, plan_probes
from netcontract.probe.verdicts import evaluate
from netcontract.results import Kind, Verdict
from netcontract.state import State
from netcontract.structural import egress_results, structural_results

ROOT = Path(__file__).resolve().parents[2]
ASSET = ROOT / "tests" / "assets" / "devonboarder-inspect.json"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(ROOT / "contracts" / "devonboarder.yaml")


@pytest.fixture
def raw() -> dict[str, Any]:
    return json.loads(ASSET.read_text())


def state_of(raw: dict[str, Any]) -> State:
    return State(
        project="devonboarder",
        networks=tuple(network_from_inspect(n) for n in raw["networks"]),
        containers=tuple(container_from_inspect(c) for c in raw["containers"]),
    )


def container(raw: dict[str, Any], service: str) -> dict[str, Any]:
    return next(
        c
        for c in raw["containers"]
        if c["Config"]["Labels"]["com.docker.compose.service"] == service
    )


def by_id(results: list[Any]) -> dict[str, Any]:
    return {r.id: r for r in results}


def test_recorded_stack_holds(contract: Contract, raw: dict[str, Any]) -> None:
    results = structural_results(contract, state_of(raw)) + egress_results(contract, state_of(raw))
    assert results and all(r.verdict is Verdict.PASS for r in results), [
        r for r in results if r.verdict != "PASS"
    ]
    ids = {r.id for r in results}
    assert {
        "network:data_tier",
        "running:db",
        "networks:backend",
        "alias:db@data_tier:database",
        "foreign:data_tier",
        "exposure:db",
        "alias-unique:data_tier",
        "egress:db",
    } <= ids


def test_snapshot_parsing(raw: dict[str, Any]) -> None:
    st = state_of(raw)
    data = st.network("devonboarder_data_tier")
    assert data is not None and data.internal and data.driver == "bridge" and data.subnets
    db = st.service_containers("db")[0]
    assert db.running and db.health == "healthy" and db.project == "devonboarder"
    assert db.networks == ("devonboarder_data_tier",)
    ep = db.endpoint("devonboarder_data_tier")
    assert (
        ep is not None and ep.ipv4 and {"db.devonboarder.internal", "database"} <= set(ep.aliases)
    )


def test_backend_disconnected_from_data_tier(contract: Contract, raw: dict[str, Any]) -> None:
    del container(raw, "backend")["NetworkSettings"]["Networks"]["devonboarder_data_tier"]
    r = by_id(structural_results(contract, state_of(raw)))["networks:backend"]
    assert r.verdict is Verdict.FAIL
    assert "devonboarder_data_tier" in r.expected and "devonboarder_data_tier" not in r.actual
    assert "is not attached to devonboarder_data_tier (tier data_tier)" in r.reason


def test_frontend_connected_to_data_tier(contract: Contract, raw: dict[str, Any]) -> None:
    fe = container(raw, "frontend")
    fe["NetworkSettings"]["Networks"]["devonboarder_data_tier"] = {
        "IPAddress": "10.99.0.9",
        "Aliases": ["frontend"],
    }
    r = by_id(structural_results(contract, state_of(raw)))["networks:frontend"]
    assert r.verdict is Verdict.FAIL
    assert (
        "frontend" in r.reason
        and "is attached to devonboarder_data_tier (tier data_tier)" in r.reason
    )


def test_alias_removed(contract: Contract, raw: dict[str, Any]) -> None:
    ep = container(raw, "db")["NetworkSettings"]["Networks"]["devonboarder_data_tier"]
    ep["Aliases"] = [a for a in ep["Aliases"] if a != "database"]
    r = by_id(structural_results(contract, state_of(raw)))["alias:db@data_tier:database"]
    assert (
        r.verdict is Verdict.FAIL
        and "does not have alias database on devonboarder_data_tier" in r.reason
    )


def test_foreign_container_and_alias_collision(contract: Contract, raw: dict[str, Any]) -> None:
    intruder = copy.deepcopy(container(raw, "db"))
    intruder["Id"] = "f" * 64
    intruder["Name"] = "/intruder"
    intruder["Config"]["Labels"] = {}
    intruder["NetworkSettings"]["Networks"]["devonboarder_data_tier"]["Aliases"] = ["database"]
    raw["containers"].append(intruder)
    res = by_id(structural_results(contract, state_of(raw)))
    assert "foreign:data_tier" not in res
    assert (
        res["foreign:data_tier:intruder"].verdict is Verdict.FAIL
        and "intruder" in res["foreign:data_tier:intruder"].reason
    )
    assert res["alias-unique:data_tier"].verdict is Verdict.FAIL
    assert (
        "alias database on devonboarder_data_tier is held by"
        in res["alias-unique:data_tier"].reason
    )


def test_published_port_on_internal_tier(contract: Contract, raw: dict[str, Any]) -> None:
    container(raw, "db")["NetworkSettings"]["Ports"] = {
        "5432/tcp": [{"HostIp": "0.0.0.0", "HostPort": "5432"}]
    }
    r = by_id(structural_results(contract, state_of(raw)))["exposure:db"]
    assert r.verdict is Verdict.FAIL and "publishes 0.0.0.0:5432->5432/tcp" in r.reason


def test_stopped_and_unhealthy(contract: Contract, raw: dict[str, Any]) -> None:
    container(raw, "db")["State"]["Status"] = "exited"
    container(raw, "backend")["State"]["Health"]["Status"] = "unhealthy"
    res = by_id(structural_results(contract, state_of(raw)))
    assert res["running:db"].verdict is Verdict.FAIL and "is exited" in res["running:db"].reason
    assert (
        res["running:backend"].verdict is Verdict.FAIL
        and "unhealthy" in res["running:backend"].reason
    )


def test_missing_network_skips_what_depends_on_it(contract: Contract, raw: dict[str, Any]) -> None:
    raw["networks"] = [n for n in raw["networks"] if n["Name"] != "devonboarder_data_tier"]
    res = by_id(structural_results(contract, state_of(raw)))
    assert res["network:data_tier"].verdict is Verdict.FAIL
    assert res["foreign:data_tier"].verdict is Verdict.SKIP


def test_plan_covers_every_kind(contract: Contract, raw: dict[str, Any]) -> None:
    plan = plan_probes(contract, state_of(raw))
    assert len(plan.sources) == 7 and not plan.settled
    exps = {e.id: e for s in plan.sources for e in s.expectations}
    assert exps["dns:backend->db.devonboarder.internal"].expect is Expect.RESOLVE
    assert exps["dns:frontend->database"].expect is Expect.NO_RESOLVE
    assert exps["reach:backend->db:5432@data_tier"].expect is Expect.CONNECT
    iso = exps["isolation:frontend->db:5432@data_tier"]
    assert iso.expect is Expect.BLOCKED and iso.context == "policy.isolate: frontend -> db"
    assert exps["dns:db->db"].control
    # no probe targets anything but this stack's containers, and (from services whose tiers are all
    # internal) the host's own address on their networks
    state = state_of(raw)
    ips = {ep.ipv4 for c in state.containers for ep in c.endpoints}
    gateways = {gw for n in state.networks for gw in n.gateways}
    for e in exps.values():
        if e.kind is Kind.HOST:
            assert set(e.targets) <= gateways and e.src == "db"
        elif e.probe_kind.value != "dns":
            assert set(e.targets) <= ips


def test_plan_fails_reach_when_target_has_no_address(
    contract: Contract, raw: dict[str, Any]
) -> None:
    del container(raw, "backend")["NetworkSettings"]["Networks"]["devonboarder_data_tier"]
    plan = plan_probes(contract, state_of(raw))
    settled = {r.id: r for r in plan.settled}
    r = settled["reach:auth-service->backend:8001@data_tier"]
    assert (
        r.verdict is Verdict.FAIL
        and "backend is not attached to devonboarder_data_tier" in r.reason
    )


def _judge(
    contract: Contract,
    raw: dict[str, Any],
    rid: str,
    obs: list[Observation],
    control_ok: bool = True,
) -> Any:
    st = state_of(raw)
    plan = plan_probes(contract, st)
    for s in plan.sources:
        for e in s.expectations:
            if e.id == rid:
                return evaluate(
                    e, obs, source=s.container, contract=contract, state=st, control_ok=control_ok
                )
    raise AssertionError(rid)


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (Outcome.TIMEOUT, Verdict.PASS),
        (Outcome.UNREACHABLE, Verdict.PASS),
        (Outcome.OK, Verdict.FAIL),
        (Outcome.REFUSED, Verdict.FAIL),
        (Outcome.ERROR, Verdict.ERROR),
    ],
)
def test_isolation_verdicts(
    contract: Contract, raw: dict[str, Any], outcome: Outcome, verdict: Verdict
) -> None:
    r = _judge(
        contract, raw, "isolation:frontend->db:5432@data_tier", [Observation(outcome, detail="x")]
    )
    assert r.verdict is verdict
    if outcome is Outcome.REFUSED:
        assert "refused" in r.reason and "reachable" in r.reason


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (Outcome.OK, Verdict.PASS),
        (Outcome.REFUSED, Verdict.FAIL),
        (Outcome.TIMEOUT, Verdict.FAIL),
        (Outcome.ERROR, Verdict.ERROR),
    ],
)
def test_reach_verdicts(
    contract: Contract, raw: dict[str, Any], outcome: Outcome, verdict: Verdict
) -> None:
    assert (
        _judge(contract, raw, "reach:backend->db:5432@data_tier", [Observation(outcome)]).verdict
        is verdict
    )


def test_dns_verdicts(contract: Contract, raw: dict[str, Any]) -> None:
    db_ip = state_of(raw).service_containers("db")[0].endpoint("devonboarder_data_tier").ipv4  # type: ignore[union-attr]
    rid = "dns:backend->db.devonboarder.internal"
    assert _judge(contract, raw, rid, [Observation(Outcome.OK, (db_ip,))]).verdict is Verdict.PASS
    collision = _judge(contract, raw, rid, [Observation(Outcome.OK, (db_ip, "10.9.9.9"))])
    assert collision.verdict is Verdict.FAIL and "10.9.9.9 is no container" in collision.reason
    assert _judge(contract, raw, rid, [Observation(Outcome.NXDOMAIN)]).verdict is Verdict.FAIL
    neg = "dns:frontend->database"
    assert _judge(contract, raw, neg, [Observation(Outcome.NXDOMAIN)]).verdict is Verdict.PASS
    # no answer counts as "does not resolve" only when the resolver answered the source's own name
    assert (
        _judge(contract, raw, neg, [Observation(Outcome.TIMEOUT)], control_ok=True).verdict
        is Verdict.PASS
    )
    assert (
        _judge(contract, raw, neg, [Observation(Outcome.TIMEOUT)], control_ok=False).verdict
        is Verdict.ERROR
    )
    leak = _judge(contract, raw, neg, [Observation(Outcome.OK, (db_ip,))])
    assert leak.verdict is Verdict.FAIL and "db (" in leak.reason


def test_plan_skips_stopped_source(contract: Contract, raw: dict[str, Any]) -> None:
    st = state_of(raw)
    stopped = tuple(replace(c, status="exited") if c.service == "db" else c for c in st.containers)
    plan = plan_probes(contract, replace(st, containers=stopped))
    assert [r.id for r in plan.settled] == ["probes:db"]
    assert "db" not in {s.service for s in plan.sources}

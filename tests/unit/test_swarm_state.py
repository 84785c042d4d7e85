"""Swarm support (issue 13), step 2: the multi-node snapshot, from a recorded test-bed read. No daemon.

tests/assets/swarm-nctest.json was recorded from `make swarm-up` (three nodes, stack nctest): the
manager's services, tasks and nodes, the stack's networks, and each node's task containers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from netcontract.contract import load_contract
from netcontract.errors import UsageError
from netcontract.live.docker.engine import container_from_inspect, network_from_inspect
from netcontract.probe.observation import Outcome
from netcontract.probe.parse import parse_dns
from netcontract.results import Kind, Verdict
from netcontract.state import Container, State
from netcontract.structural import egress_results, structural_results, unreadable_errors
from netcontract.swarm.nodes import (
    NodeRef,
    SwarmRead,
    build_state,
    parse_node,
    parse_nodes,
    stack_service,
)

ROOT = Path(__file__).resolve().parents[2]
RAW: dict[str, Any] = json.loads((ROOT / "tests" / "assets" / "swarm-nctest.json").read_text())
CONTRACT = load_contract(ROOT / "tests" / "swarm" / "contract.yaml")
NODES = ("ncswarm-node1", "ncswarm-node2", "ncswarm-node3")


def read(raw: Mapping[str, Any] = RAW, unreachable: Mapping[str, str] | None = None) -> SwarmRead:
    unreachable = unreachable or {}
    containers = {
        node: [(container_from_inspect(c), c["Config"]["Labels"]) for c in found]
        for node, found in raw["containers"].items()
        if node not in unreachable
    }
    return SwarmRead(
        project="nctest",
        manager="ncswarm-node1",
        nodes=raw["nodes"],
        services=raw["services"],
        tasks=raw["tasks"],
        networks=tuple(network_from_inspect(n) for n in raw["networks"]),
        containers=containers,
        unreachable=unreachable,
        engine="Docker 20.10.24 swarm",
    )


def by_name(state: State) -> dict[str, Container]:
    return {c.name: c for c in state.containers}


# -- --node ---------------------------------------------------------------------------------------


def test_parse_node() -> None:
    assert parse_node("ncswarm-node1=tcp://172.18.0.2:2375") == NodeRef(
        "ncswarm-node1", "tcp://172.18.0.2:2375"
    )
    assert parse_node(" n1 = unix:///var/run/docker.sock ") == NodeRef(
        "n1", "unix:///var/run/docker.sock"
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("node1", "expected NAME=URL"),
        ("=tcp://1.2.3.4:2375", "expected NAME=URL"),
        ("node1=", "expected NAME=URL"),
        ("no de=tcp://x:1", "a node name is a hostname"),
        ("-n=tcp://x:1", "a node name is a hostname"),
        ("n1=10.0.0.1:2375", "is not an engine URL"),
        ("n1=tcp://x:1\nrm -rf", "is not an engine URL"),
    ],
)
def test_parse_node_refuses_with_one_line(text: str, says: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_node(text)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_a_node_given_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse_nodes(["a=tcp://x:1", "a=tcp://y:1"])


def test_stack_service_needs_both_labels_and_the_prefix() -> None:
    labels = {"com.docker.stack.namespace": "nctest", "com.docker.swarm.service.name": "nctest_db"}
    assert stack_service(labels, "nctest") == "db"
    assert stack_service(labels, "other") is None
    assert stack_service({**labels, "com.docker.swarm.service.name": "other_db"}, "nctest") is None
    assert stack_service({"com.docker.compose.project": "nctest"}, "nctest") is None


# -- the merged state -----------------------------------------------------------------------------


def test_every_task_of_the_recorded_stack_is_a_container_on_its_node() -> None:
    st = build_state(read())
    assert st.orchestrator == "swarm" and st.project == "nctest" and st.unreachable == ()
    names = sorted(by_name(st))
    assert names == sorted(
        [
            *(f"nctest_proxy@{n}" for n in NODES),
            *(f"nctest_web.{i}" for i in (1, 2, 3)),
            *(f"nctest_api.{i}" for i in (1, 2, 3)),
            "nctest_db.1",
            "nctest_db.2",
            "nctest_vault.1",
        ]
    )
    assert {c.node for c in st.containers} == set(NODES)
    assert all(c.running and c.health == "healthy" and not c.unreadable for c in st.containers)
    # the services that spread one task per node did so
    assert len({c.node for c in st.service_containers("web")}) == 3
    assert st.notes[0].startswith(
        "swarm: stack nctest, 12 tasks of 5 services; manager ncswarm-node1"
    )


def test_aliases_come_from_the_service_spec_onto_each_tasks_endpoint() -> None:
    st = build_state(read())
    for db in st.service_containers("db"):
        ep = db.endpoint("nctest_data")
        assert ep is not None and ep.ipv4
        assert {"database", "db.nctest.internal", "db"} <= set(ep.aliases)
    api = st.service_containers("api")[0]
    app, data = api.endpoint("nctest_app"), api.endpoint("nctest_data")
    assert app is not None and "api.nctest.internal" in app.aliases
    assert data is not None and "api.nctest.internal" not in data.aliases


def test_the_overlays_carry_their_flags() -> None:
    st = build_state(read())
    edge, vault = st.network("nctest_edge"), st.network("nctest_vault")
    assert edge is not None and (edge.driver, edge.attachable, edge.scope) == (
        "overlay",
        True,
        "swarm",
    )
    assert vault is not None and vault.internal and vault.encrypted and not vault.attachable


def test_the_recorded_stack_holds_its_contract_structurally() -> None:
    st = build_state(read())
    results = unreadable_errors(structural_results(CONTRACT, st) + egress_results(CONTRACT, st), st)
    assert [r for r in results if r.verdict is not Verdict.PASS] == []
    # 4 network, 5 running, 5 networks, 3 alias, 4 foreign (every tier since issue 19), 3 exposure, 4 alias-unique,
    # 2 egress
    assert len(results) == 30 and sum(r.kind is Kind.FOREIGN for r in results) == 4


def test_old_tasks_of_the_history_are_left_out() -> None:
    raw = copy.deepcopy(RAW)
    old = copy.deepcopy(raw["containers"]["ncswarm-node2"][0])
    old["Id"] = "f" * 64
    old["Config"]["Labels"]["com.docker.swarm.task.id"] = "oldtaskid0000000000000000"
    old["State"] = {"Status": "exited", "Pid": 0, "StartedAt": ""}
    raw["containers"]["ncswarm-node2"].append(old)
    st = build_state(read(raw))
    assert "f" * 64 not in {c.id for c in st.containers}
    assert len(st.containers) == 12


def test_a_container_of_another_project_on_a_tier_network_stays_as_it_is() -> None:
    raw = copy.deepcopy(RAW)
    stray = copy.deepcopy(raw["containers"]["ncswarm-node3"][0])
    stray["Id"], stray["Name"] = "e" * 64, "/intruder"
    stray["Config"]["Labels"] = {
        "com.docker.compose.project": "other",
        "com.docker.compose.service": "x",
    }
    raw["containers"]["ncswarm-node3"].append(stray)
    st = build_state(read(raw))
    intruder = by_name(st)["intruder"]
    assert (intruder.project, intruder.service, intruder.node) == ("other", "x", "ncswarm-node3")


def test_a_task_on_an_unreachable_node_comes_from_the_manager_marked_unreadable() -> None:
    st = build_state(
        read(unreachable={"ncswarm-node3": "tcp://172.18.0.4:2375: connection refused"})
    )
    assert st.unreachable == (("ncswarm-node3", "tcp://172.18.0.4:2375: connection refused"),)
    blind = [c for c in st.containers if c.unreadable]
    assert blind and {c.node for c in blind} == {"ncswarm-node3"}
    assert len(st.containers) == 12
    for c in blind:
        assert "node ncswarm-node3 was not read" in c.unreadable
        assert c.status == "running" and c.pid == 0 and c.health is None
        assert all(ep.ipv4 for ep in c.endpoints)  # the manager's record has the addresses
    db = [c for c in blind if c.service == "db"]
    if db:
        ep = db[0].endpoint("nctest_data")
        assert ep is not None and "database" in ep.aliases
    assert any("node ncswarm-node3 not read" in n for n in st.notes)


def test_an_unreachable_node_turns_its_services_checks_into_errors_naming_it() -> None:
    st = build_state(read(unreachable={"ncswarm-node3": "connection refused"}))
    results = {
        r.id: r
        for r in unreadable_errors(
            structural_results(CONTRACT, st) + egress_results(CONTRACT, st), st
        )
    }
    on3 = {c.service for c in st.containers if c.node == "ncswarm-node3"}
    assert "proxy" in on3  # global: one task per node
    for svc in on3:
        r = results[f"running:{svc}"]
        assert r.verdict is Verdict.ERROR and "ncswarm-node3" in r.reason
    assert results["foreign:data"].verdict is Verdict.ERROR
    assert not [r for r in results.values() if r.verdict is Verdict.PASS and r.service in on3]
    assert all(r.verdict is not Verdict.FAIL for r in results.values())


def test_a_task_not_started_yet_is_not_running() -> None:
    raw = copy.deepcopy(RAW)
    db_id = next(s["ID"] for s in raw["services"] if s["Spec"]["Name"] == "nctest_db")
    task = next(t for t in raw["tasks"] if t["ServiceID"] == db_id)
    task["Status"]["State"] = "starting"
    cid = task["Status"]["ContainerStatus"]["ContainerID"]
    for node in raw["containers"]:
        raw["containers"][node] = [c for c in raw["containers"][node] if c["Id"] != cid]
    st = build_state(read(raw))
    results = {r.id: r for r in structural_results(CONTRACT, st)}
    assert results["running:db"].verdict is Verdict.FAIL
    assert "is starting" in results["running:db"].reason


def test_a_running_task_whose_container_is_missing_on_a_read_node_is_unreadable() -> None:
    raw = copy.deepcopy(RAW)
    cid = raw["tasks"][0]["Status"]["ContainerStatus"]["ContainerID"]
    for node in raw["containers"]:
        raw["containers"][node] = [c for c in raw["containers"][node] if c["Id"] != cid]
    st = build_state(read(raw))
    (blind,) = [c for c in st.containers if c.unreadable]
    assert "whose engine has no container" in blind.unreadable and blind.id == cid


# -- busybox nslookup on an empty NOERROR answer ----------------------------------------------------

EMPTY = "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nNon-authoritative answer:\n\n"


def test_an_empty_noerror_answer_is_nodata() -> None:
    o = parse_dns("nslookup", 0, EMPTY)
    assert (o.outcome, o.addresses, o.detail) == (
        Outcome.NODATA,
        (),
        "NOERROR without an address (empty answer section)",
    )
    # twice (busybox asks A and AAAA without -type): still nothing
    assert (
        parse_dns("nslookup", 0, EMPTY + "Non-authoritative answer:\n\n").outcome is Outcome.NODATA
    )


def test_an_answer_header_followed_by_anything_is_not_taken_for_nodata() -> None:
    assert parse_dns("nslookup", 1, EMPTY).outcome is Outcome.ERROR
    cname = EMPTY + "x.example\tcanonical name = y.example\n"
    assert parse_dns("nslookup", 0, cname).outcome is Outcome.ERROR
    assert (
        parse_dns("nslookup", 0, "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n").outcome
        is Outcome.ERROR
    )

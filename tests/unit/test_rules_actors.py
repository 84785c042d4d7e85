"""Issue 19: the actor rules (actors.py), each PASS, FAIL and SKIP where it has one, on hand-built states;
the snapshot's actor selection (engine.actor_ids); the contract fields; and sharers named in probe results.

The world is test_rules_structural's: front on web, api on web and data, db and worker on the internal data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from test_rules_structural import (
    API,
    CONTRACT,
    DATA,
    DB,
    FRONT,
    WEB,
    WORKER,
    ctr,
    ep,
    healthy,
    results,
    state,
)

from netcontract.actors import name_sharers
from netcontract.contract import Contract, contract_from_data
from netcontract.contract_schema import dump
from netcontract.errors import ContractError
from netcontract.live.docker.engine import actor_ids, container_from_inspect, network_from_inspect
from netcontract.probe.host_reach import with_host_reach
from netcontract.probe.plan import ProbePlan
from netcontract.results import Kind, Result, Verdict

P, F, S = Verdict.PASS, Verdict.FAIL, Verdict.SKIP
DB_ID = DB.id


def variant(**changes: Any) -> Contract:
    """CONTRACT with top-level keys, or `services.X`/`tiers.X`/`policy` entries, changed."""
    data = dump(CONTRACT, exclude_none=True, exclude_defaults=True)
    data["version"] = 1
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            data[section][name] = value
        else:
            data[section] = value
    return contract_from_data(data)


def actors(*extra: Any, contract: Contract = CONTRACT, **kw: Any) -> dict[str, Result]:
    return results(state(FRONT, API, DB, WORKER, *extra, **kw), contract)


def of_kind(res: dict[str, Result], kind: Kind) -> dict[str, Result]:
    return {k: r for k, r in res.items() if r.kind is kind}


# -- a healthy world has no actor besides its services --------------------------------------------


def test_a_healthy_world_has_no_actor_results_but_the_foreign_passes() -> None:
    res = results(healthy())
    assert not of_kind(res, Kind.UNDECLARED) and not of_kind(res, Kind.NAMESPACE)
    assert not of_kind(res, Kind.HOST_NETWORK)
    assert {k: r.verdict for k, r in of_kind(res, Kind.FOREIGN).items()} == {
        "foreign:web": P,
        "foreign:data": P,
    }


# -- undeclared:<service> --------------------------------------------------------------------------


def test_undeclared_service_of_the_project_fails_naming_its_containers() -> None:
    a = ctr("cache", "shop-cache-1", ep("other_net", "10.9.0.2"))
    b = ctr("cache", "shop-cache-2", ep("other_net", "10.9.0.3"))
    r = actors(a, b)["undeclared:cache"]
    assert (r.verdict, r.containers, r.service) == (F, ("shop-cache-1", "shop-cache-2"), "cache")
    assert "cache (shop-cache-1) is on other_net" in r.reason and "not in the contract" in r.reason


def test_undeclared_passes_silently_when_ignored_and_for_stopped_containers() -> None:
    cache = ctr("cache", "shop-cache-1", ep("other_net", "10.9.0.2"))
    assert "undeclared:cache" not in actors(cache, contract=variant(ignore=["cache"]))
    assert "undeclared:cache" not in actors(replace(cache, status="exited"))


def test_undeclared_one_off_container_of_an_unknown_service_fails() -> None:
    """`docker compose run migrate` is a container of the project like any other."""
    job = replace(ctr("migrate", "shop-migrate-run-1a2b", ep("other_net", "10.9.0.2")), oneoff=True)
    r = actors(job)["undeclared:migrate"]
    assert r.verdict is F and "(docker compose run)" in r.reason


def test_undeclared_in_a_compose_file_fails_too() -> None:
    cache = ctr("cache", "shop-cache-1", ep("other_net", ""), status="declared")
    st = state(FRONT, API, DB, WORKER, cache, live=False)
    assert results(st)["undeclared:cache"].verdict is F


# -- namespace:<owner>:<actor> ---------------------------------------------------------------------


def test_an_undeclared_sharer_of_a_service_fails_naming_it_and_the_owner() -> None:
    dbg = ctr("debug", "shop-debug-1", network_mode=f"container:{DB_ID}")
    res = actors(dbg)
    r = res["namespace:db:debug"]
    assert (r.verdict, r.containers, r.service) == (F, ("shop-debug-1",), "db")
    assert "debug (shop-debug-1) shares the network namespace of db (shop-db-1)" in r.reason
    assert "on db's tiers (data)" in r.reason
    assert "undeclared:debug" not in res  # one finding, with the owner


def test_a_container_outside_the_project_sharing_by_name_fails() -> None:
    """`docker run --network container:shop-db-1`: Docker may keep the name as given."""
    dbg = ctr(None, "netshoot", project=None, network_mode="container:shop-db-1")
    r = actors(dbg)["namespace:db:netshoot"]
    assert r.verdict is F and "netshoot shares the network namespace of db (shop-db-1)" in r.reason


def test_a_declared_sharer_passes() -> None:
    dbg = ctr("debug", "shop-debug-1", network_mode=f"container:{DB_ID}")
    c = variant(services__debug={"network_mode": "service:db"})
    res = actors(dbg, contract=c)
    assert res["namespace:db:debug"].verdict is P
    assert (
        "networks:debug" not in res and "egress:debug" not in res
    )  # no endpoints of its own: no such check


def test_shared_by_admits_a_container_outside_the_project() -> None:
    dbg = ctr(None, "netshoot", project=None, network_mode=f"container:{DB_ID[:12]}")
    services = dict(dump(CONTRACT, exclude_none=True)["services"])
    services["db"] = {**services["db"], "shared_by": ["net*"]}
    assert actors(dbg, contract=variant(services=services))["namespace:db:netshoot"].verdict is P


def test_a_declared_sharer_that_shares_another_owner_fails() -> None:
    dbg = ctr("debug", "shop-debug-1", network_mode=f"container:{API.id}")
    res = actors(dbg, contract=variant(services__debug={"network_mode": "service:db"}))
    assert res["namespace:db:debug"].verdict is F and "not db's" in res["namespace:db:debug"].reason
    assert res["namespace:api:debug"].verdict is F  # and it sits in api's namespace undeclared


def test_a_declared_sharer_with_its_own_network_fails() -> None:
    dbg = ctr("debug", "shop-debug-1", ep("shop_web", "10.1.0.9"))
    r = actors(dbg, contract=variant(services__debug={"network_mode": "service:db"}))[
        "namespace:db:debug"
    ]
    assert r.verdict is F and "has its own network" in r.reason


def test_a_sharer_of_a_sharer_is_in_the_first_owners_namespace() -> None:
    a = ctr("debug", "shop-debug-1", network_mode=f"container:{DB_ID}")
    b = ctr(None, "second", project=None, network_mode="container:shop-debug-1")
    res = actors(a, b)
    assert res["namespace:db:second"].verdict is F


# -- host-network:<actor> --------------------------------------------------------------------------


def test_undeclared_host_networking_in_the_project_fails() -> None:
    agent = ctr("agent", "shop-agent-1", ep("host", ""), network_mode="host")
    r = actors(agent)["host-network:agent"]
    assert r.verdict is F and "which the contract does not declare" in r.reason
    assert "internal tier data" in r.reason


def test_declared_host_networking_passes() -> None:
    agent = ctr("agent", "shop-agent-1", ep("host", ""), network_mode="host")
    res = actors(agent, contract=variant(services__agent={"network_mode": "host"}))
    assert res["host-network:agent"].verdict is P and "declared" in res["host-network:agent"].reason


def test_a_declared_host_service_on_its_own_network_fails() -> None:
    agent = ctr("agent", "shop-agent-1", ep("shop_web", "10.1.0.9"))
    r = actors(agent, contract=variant(services__agent={"network_mode": "host"}))[
        "host-network:agent"
    ]
    assert r.verdict is F and "is not on the host's network" in r.reason


def test_host_network_outside_the_project_is_reported_and_fails_under_deny() -> None:
    other = ctr(None, "node-exporter", project=None, network_mode="host")
    r = actors(other)["host-network:node-exporter"]
    assert r.verdict is P and r.reason.startswith("reported:") and "data" in r.reason
    deny = variant(policy={"allow": ["web -> data"], "host_network": "deny"})
    assert actors(other, contract=deny)["host-network:node-exporter"].verdict is F


# -- foreign:<tier>[:<actor>] ----------------------------------------------------------------------

OWNED_WEB = replace(WEB, project="shop")


def test_foreign_on_a_project_network_fails_on_a_tier_that_is_not_internal() -> None:
    x = ctr(None, "visitor", ep("shop_web", "10.1.0.9"), project=None)
    res = actors(x, networks=(OWNED_WEB, DATA))
    assert (
        res["foreign:web:visitor"].verdict is F
        and "a network created by the project" in res["foreign:web:visitor"].reason
    )
    assert "foreign:web" not in res


def test_foreign_on_an_external_network_is_reported() -> None:
    x = ctr(None, "visitor", ep("shop_web", "10.1.0.9"), project=None)
    r = actors(x)["foreign:web:visitor"]
    assert r.verdict is P and r.reason.startswith("reported:")
    deny = variant(tiers__web={"network": "shop_web", "foreign": "deny"})
    assert actors(x, contract=deny)["foreign:web:visitor"].verdict is F


def test_foreign_admitted_by_the_tier_passes() -> None:
    x = ctr("agent", "mon-agent-1", ep("shop_web", "10.1.0.9"), project="mon")
    admit = variant(tiers__web={"network": "shop_web", "admit": ["mon/agent"]})
    r = actors(x, contract=admit, networks=(OWNED_WEB, DATA))["foreign:web:mon-agent-1"]
    assert r.verdict is P and r.reason.startswith("admitted")


def test_foreign_skips_only_where_the_tier_would_deny() -> None:
    res = actors(networks=(DATA,))
    assert res["foreign:data"].verdict is P and "foreign:web" not in res
    assert actors(networks=(WEB,))["foreign:data"].verdict is S


def test_a_sharer_of_a_foreign_container_is_foreign_too() -> None:
    x = ctr(None, "visitor", ep("shop_data", "10.2.0.9"), project=None)
    y = ctr(None, "rider", project=None, network_mode="container:visitor")
    res = actors(x, y)
    assert (
        res["foreign:data:rider"].verdict is F
        and "shares the network namespace of visitor" in res["foreign:data:rider"].reason
    )


def test_a_one_off_container_of_a_service_is_judged_on_the_service_tiers() -> None:
    """`docker compose run db` gets db's networks: fine there; on a tier db is not on, it is foreign."""
    run = replace(ctr("db", "shop-db-run-1", ep("shop_data", "10.2.0.9")), oneoff=True)
    res = actors(run)
    assert (
        res["foreign:data"].verdict is P
        and res["running:db"].actual == "shop-db-1: running, healthy"
    )
    stray = replace(ctr("db", "shop-db-run-2", ep("shop_web", "10.1.0.9")), oneoff=True)
    assert actors(stray, networks=(OWNED_WEB, DATA))["foreign:web:db"].verdict is F


# -- the contract fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"network_mode": "service:nope"}, "unknown service 'nope'"),
        ({"network_mode": "service:debug"}, "cannot share its own namespace"),
        ({"network_mode": "host", "tiers": ["web"]}, "leave out tiers"),
        ({"network_mode": "bridge"}, "is not a network_mode"),
        ({}, "lists no tier"),
    ],
)
def test_network_mode_rules(service: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractError) as exc:
        variant(services__debug=service)
    assert message in str(exc.value)


def test_a_sharer_of_a_sharer_is_refused_and_ignore_cannot_name_a_service() -> None:
    with pytest.raises(ContractError, match="share the namespace of a service that has endpoints"):
        variant(
            services__debug={"network_mode": "host"},
            services__dbg2={"network_mode": "service:debug"},
        )
    with pytest.raises(ContractError, match="cannot also be ignored"):
        variant(ignore=["db"])


def test_every_existing_contract_keeps_loading() -> None:
    from pathlib import Path

    from netcontract.contract import load_contract

    for path in sorted((Path(__file__).resolve().parents[2] / "contracts").glob("*.yaml")):
        load_contract(path)


# -- the snapshot: which containers are actors (pure) ----------------------------------------------


def listed(cid: str, mode: str, state: str = "running", name: str = "") -> dict[str, Any]:
    return {
        "Id": cid,
        "Names": [f"/{name or cid[:6]}"],
        "State": state,
        "HostConfig": {"NetworkMode": mode},
    }


def test_actor_ids_keeps_host_network_and_sharers_of_known_containers() -> None:
    owner, other = "a" * 64, "b" * 64
    rows = [
        listed(owner, "default", name="shop-db-1"),
        listed(other, "default"),
        listed("c" * 64, f"container:{owner}"),  # by id (what compose and recent engines store)
        listed("d" * 64, "container:shop-db-1"),  # by name
        listed("e" * 64, "container:" + "c" * 12),  # of a sharer, by short id
        listed("f" * 64, f"container:{other}"),  # of a container no tier holds
        listed("1" * 64, "host"),
        listed("2" * 64, "host", state="exited"),
        {**listed("3" * 64, f"container:{owner}"), "Labels": {"org.netcontract.probe": "1"}},
    ]  # a probe sidecar
    assert actor_ids(rows, {owner}) == {"c" * 64, "d" * 64, "e" * 64, "1" * 64}


def test_inspect_reads_the_one_off_label_and_the_network_project() -> None:
    c = container_from_inspect(
        {
            "Id": "a" * 64,
            "Name": "/x",
            "State": {"Status": "running"},
            "Config": {"Labels": {"com.docker.compose.oneoff": "True"}},
            "HostConfig": {"NetworkMode": "container:" + "b" * 64},
        }
    )
    assert c.oneoff and c.shared_ref == "b" * 64
    n = network_from_inspect({"Name": "shop_web", "Labels": {"com.docker.compose.project": "shop"}})
    assert n.project == "shop"


# -- probes: the host's namespace, and sharers named ---------------------------------------------


def test_host_reach_probes_every_internal_member_from_one_host_container() -> None:
    a = ctr(None, "node-exporter", project=None, network_mode="host")
    b = ctr(None, "other-host", project=None, network_mode="host")
    st = state(FRONT, API, DB, WORKER, a, b)
    plan = with_host_reach(CONTRACT, st, ProbePlan(()))
    (source,) = plan.sources
    assert source.container is a
    ids = sorted(e.id for e in source.expectations)
    assert ids == [
        "host-reach:api:8000@data",
        "host-reach:db:5432@data",
        "host-reach:worker:icmp@data",
    ]
    assert all(e.report_only for e in source.expectations)
    deny = variant(policy={"allow": ["web -> data"], "host_network": "deny"})
    assert not any(
        e.report_only for e in with_host_reach(deny, st, ProbePlan(())).sources[0].expectations
    )
    assert with_host_reach(CONTRACT, healthy(), ProbePlan(())).sources == ()


def test_probe_results_from_an_owner_name_its_sharers() -> None:
    dbg = ctr("debug", "shop-debug-1", network_mode=f"container:{DB_ID}")
    st = state(FRONT, API, DB, WORKER, dbg)
    probe = Result(
        "reach:db->api:8000@data",
        Kind.REACH,
        "db->api",
        F,
        "connects",
        "timeout",
        "blocked",
        attempts=1,
        containers=("shop-db-1",),
    )
    structural = Result("running:db", Kind.RUNNING, "db", P, "", "", containers=("shop-db-1",))
    (named, kept), notes = name_sharers([probe, structural], st)
    assert (
        named.containers == ("shop-db-1", "shop-debug-1")
        and "also the reach of debug" in named.reason
    )
    assert kept is structural
    assert notes and "debug (shop-debug-1) shares the network namespace of shop-db-1" in notes[0]


# -- lint and init on compose files: the same rules -------------------------------------------------

SIDECAR_COMPOSE = """name: shop
services:
  db:
    image: postgres
    networks: [data]
  debug:
    image: busybox
    network_mode: "service:db"
  agent:
    image: busybox
    network_mode: host
networks:
  data:
    name: shop_data
    internal: true
"""


def _cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from netcontract.cli.main import main

    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout


def test_lint_fails_undeclared_sharers_and_host_services_and_init_drafts_them(
    tmp_path: Any,
) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(SIDECAR_COMPOSE)
    bare = tmp_path / "bare.yaml"
    bare.write_text(
        "version: 1\nproject: shop\ntiers: {data: {network: shop_data, internal: true}}\n"
        "services: {db: {tiers: [data]}}\n"
    )
    code, out = _cli(
        "lint",
        "-c",
        str(bare),
        "-f",
        str(compose),
        "--compose-loader",
        "builtin",
        "--format",
        "json",
    )
    import json

    failed = {r["id"] for r in json.loads(out)["results"] if r["verdict"] == "FAIL"}
    assert code == 1 and failed == {"namespace:db:debug", "host-network:agent"}
    code, draft = _cli("init", "--from-compose", str(compose), "--compose-loader", "builtin")
    assert code == 0 and 'network_mode: "service:db"' in draft and "network_mode: host" in draft
    drafted = tmp_path / "draft.yaml"
    drafted.write_text(draft)
    code, out = _cli("lint", "-c", str(drafted), "-f", str(compose), "--compose-loader", "builtin")
    assert code == 0, out


def test_a_declared_sharer_is_no_probe_source_or_target() -> None:
    from netcontract.probe.plan import plan_probes

    dbg = ctr("debug", "shop-debug-1", network_mode=f"container:{DB_ID}")
    c = variant(
        services__debug={"network_mode": "service:db"}, services__agent={"network_mode": "host"}
    )
    plan = plan_probes(c, state(FRONT, API, DB, WORKER, dbg))
    assert {s.service for s in plan.sources} == {"front", "api", "db", "worker"}
    assert not [e for s in plan.sources for e in s.expectations if e.dst in ("debug", "agent")]
    assert not [r for r in plan.settled if r.src in ("debug", "agent")]


def test_init_from_live_drafts_sharers_and_points_at_outsiders() -> None:
    from netcontract.contract import contract_from_data as load
    from netcontract.contract import parse_yaml
    from netcontract.draft.build import DraftHints, draft_contract

    dbg = ctr("debug", "shop-debug-1", network_mode=f"container:{DB_ID}")
    agent = ctr("agent", "shop-agent-1", ep("host", ""), network_mode="host")
    outsider = ctr(None, "netshoot", project=None, network_mode="container:shop-db-1")
    visitor = ctr(None, "visitor", ep("shop_web", "10.1.0.9"), project=None)
    st = state(FRONT, API, DB, WORKER, dbg, agent, outsider, visitor, networks=(OWNED_WEB, DATA))
    text = draft_contract(st, DraftHints(command="netcontract init --from-live"))
    c = load(parse_yaml(text, "draft"), "draft")
    assert (
        c.services["debug"].network_mode == "service:db"
        and c.services["agent"].network_mode == "host"
    )
    assert (
        "shared by netshoot (check reports namespace:db:<container>; list it in `shared_by`" in text
    )
    assert "check reports foreign:web:visitor; list it in `admit`" in text
    res = results(st, c)
    assert {k for k, r in res.items() if r.verdict is F} == {
        "namespace:db:netshoot",
        "foreign:web:visitor",
    }

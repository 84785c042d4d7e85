"""Structural rules, each PASS and FAIL (and SKIP), on hand-built states; and the report's exit code.

The world: tiers web (shop_web) and data (shop_data, internal); front on web, api on web and
data, db (healthcheck required) and worker (healthcheck not required) on data.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from netcontract.contract import Contract, contract_from_data
from netcontract.contract_schema import dump
from netcontract.results import ExitCode, Kind, Report, Result, Verdict
from netcontract.state import Container, Endpoint, Network, PublishedPort, State
from netcontract.structural import egress_results, structural_results

P, F, E, S = Verdict.PASS, Verdict.FAIL, Verdict.ERROR, Verdict.SKIP

CONTRACT: Contract = contract_from_data(
    {
        "version": 1,
        "project": "shop",
        "tiers": {
            "web": {"network": "shop_web"},
            "data": {"network": "shop_data", "internal": True},
        },
        "services": {
            "front": {"tiers": ["web"], "ports": [80]},
            "api": {
                "tiers": ["web", "data"],
                "ports": [8000],
                "aliases": {"data": ["api.internal"]},
            },
            "db": {"tiers": ["data"], "ports": [5432], "aliases": {"data": ["database"]}},
            "worker": {"tiers": ["data"], "healthy": False},
        },
        "policy": {"allow": ["web -> data"]},
    }
)

WEB = Network("shop_web", "bridge", False)
DATA = Network("shop_data", "bridge", True)


def ep(network: str, ip: str, *aliases: str) -> Endpoint:
    return Endpoint(network, ip, aliases)


def ctr(
    service: str | None,
    name: str,
    *endpoints: Endpoint,
    project: str | None = "shop",
    status: str = "running",
    health: str | None = "healthy",
    published: tuple[PublishedPort, ...] = (),
    network_mode: str = "",
    cid: str = "",
) -> Container:
    return Container(
        cid or name.ljust(64, "0"),
        name,
        project,
        service,
        status,
        health,
        endpoints,
        published,
        network_mode,
    )


FRONT = ctr("front", "shop-front-1", ep("shop_web", "10.1.0.2", "front"))
API = ctr(
    "api",
    "shop-api-1",
    ep("shop_web", "10.1.0.3", "api"),
    ep("shop_data", "10.2.0.3", "api", "api.internal"),
)
DB = ctr(
    "db",
    "shop-db-1",
    ep("shop_data", "10.2.0.4", "db", "database", "shop-db-1".ljust(64, "0")[:12]),
)
WORKER = ctr("worker", "shop-worker-1", ep("shop_data", "10.2.0.6", "worker"), health=None)


def state(
    *containers: Container,
    networks: tuple[Network, ...] = (WEB, DATA),
    project: str | None = "shop",
    live: bool = True,
) -> State:
    return State(
        project, networks, containers, source="live" if live else "compose.yaml", live=live
    )


def healthy() -> State:
    return state(FRONT, API, DB, WORKER)


def without(service: str, *extra: Container, networks: tuple[Network, ...] = (WEB, DATA)) -> State:
    keep = tuple(c for c in (FRONT, API, DB, WORKER) if c.service != service)
    return state(*keep, *extra, networks=networks)


def results(st: State, contract: Contract = CONTRACT) -> dict[str, Result]:
    return {r.id: r for r in structural_results(contract, st) + egress_results(contract, st)}


def test_a_healthy_world_passes_every_rule_in_order() -> None:
    got = structural_results(CONTRACT, healthy())
    assert [r.id for r in got] == [
        "network:web",
        "network:data",
        "running:front",
        "running:api",
        "running:db",
        "running:worker",
        "networks:front",
        "networks:api",
        "networks:db",
        "networks:worker",
        "alias:api@data:api.internal",
        "alias:db@data:database",
        "foreign:web",
        "foreign:data",
        "exposure:api",
        "exposure:db",
        "exposure:worker",
        "alias-unique:web",
        "alias-unique:data",
    ]
    assert all(r.verdict is P for r in got), [r for r in got if r.verdict is not P]
    assert [r.id for r in egress_results(CONTRACT, healthy())] == ["egress:db", "egress:worker"]


# -- network:<tier> --------------------------------------------------------------------------------


def test_network_pass_shows_driver_and_internal_flag() -> None:
    res = results(healthy())
    assert (res["network:web"].expected, res["network:web"].actual) == (
        "shop_web (bridge, not internal)",
        "shop_web (bridge, not internal)",
    )
    assert (res["network:data"].expected, res["network:data"].actual) == (
        "shop_data (bridge, internal)",
        "shop_data (bridge, internal)",
    )
    assert res["network:data"].kind is Kind.NETWORK and res["network:data"].subject == "data"


def test_network_missing_fails() -> None:
    r = results(without("", networks=(WEB,)))["network:data"]
    assert (r.verdict, r.actual, r.reason) == (
        F,
        "missing",
        "no network named shop_data (on the Docker engine)",
    )
    static = structural_results(CONTRACT, state(FRONT, networks=(WEB,), live=False))
    r = next(r for r in static if r.id == "network:data")
    assert r.reason == "no network named shop_data (in compose.yaml)"


def test_network_driver_mismatch_fails_and_names_both_drivers() -> None:
    r = results(without("", networks=(Network("shop_web", "overlay", False), DATA)))["network:web"]
    assert (r.verdict, r.actual, r.reason) == (
        F,
        "shop_web (overlay, not internal)",
        "driver is overlay, not bridge",
    )


def test_network_internal_flag_mismatch_fails_both_ways() -> None:
    r = results(without("", networks=(WEB, Network("shop_data", "bridge", False))))["network:data"]
    assert (r.verdict, r.actual) == (F, "shop_data (bridge, not internal)")
    assert r.reason == "shop_data is not internal: containers on it can reach outside networks"
    r = results(without("", networks=(Network("shop_web", "bridge", True), DATA)))["network:web"]
    assert (r.verdict, r.reason) == (F, "shop_web is internal: its members have no egress")


def test_network_with_two_problems_lists_both() -> None:
    r = results(without("", networks=(WEB, Network("shop_data", "macvlan", False))))["network:data"]
    assert r.reason == (
        "driver is macvlan, not bridge; "
        "shop_data is not internal: containers on it can reach outside networks"
    )


# -- running:<service> -----------------------------------------------------------------------------


def test_running_pass_describes_each_container() -> None:
    res = results(healthy())
    assert (res["running:db"].expected, res["running:db"].actual) == (
        "running and healthy",
        "shop-db-1: running, healthy",
    )
    assert (res["running:worker"].expected, res["running:worker"].actual) == (
        "running",
        "shop-worker-1: running, no healthcheck",
    )
    assert res["running:db"].service == "db" and res["running:db"].kind is Kind.RUNNING


def test_a_service_without_container_fails_so_the_report_exits_1() -> None:
    res = results(without("db"))
    r = res["running:db"]
    assert (r.verdict, r.actual, r.reason, r.service) == (
        F,
        "no container",
        "no container has labels project=shop, service=db",
        "db",
    )
    assert Report("c", tuple(res.values())).exit_code is ExitCode.VIOLATED


def test_a_container_of_another_project_does_not_run_the_service() -> None:
    other = replace(DB, project="other", name="other-db-1")
    assert results(without("db", other))["running:db"].verdict is F


def test_running_fails_on_a_stopped_container() -> None:
    r = results(without("db", replace(DB, status="exited")))["running:db"]
    assert (r.verdict, r.actual, r.reason) == (F, "shop-db-1: exited", "shop-db-1 is exited")


@pytest.mark.parametrize("health", ["unhealthy", "starting"])
def test_running_fails_when_a_required_healthcheck_is_not_healthy(health: str) -> None:
    r = results(without("db", replace(DB, health=health)))["running:db"]
    assert (r.verdict, r.actual, r.reason) == (
        F,
        f"shop-db-1: running, {health}",
        f"shop-db-1 is {health}",
    )


def test_running_without_healthcheck_or_when_health_is_not_required_passes() -> None:
    assert results(without("db", replace(DB, health=None)))["running:db"].verdict is P
    r = results(without("worker", replace(WORKER, health="unhealthy")))["running:worker"]
    assert (r.verdict, r.actual) == (P, "shop-worker-1: running, unhealthy")


def test_running_lists_every_replica_and_fails_on_one_bad_one() -> None:
    db2 = replace(DB, id="b" * 64, name="shop-db-2", status="restarting")
    r = results(without("", db2))["running:db"]
    assert (r.verdict, r.actual, r.reason) == (
        F,
        "shop-db-1: running, healthy, shop-db-2: restarting",
        "shop-db-2 is restarting",
    )


def test_a_static_state_has_no_running_check() -> None:
    assert not [
        r
        for r in structural_results(CONTRACT, state(FRONT, API, DB, live=False))
        if r.kind is Kind.RUNNING
    ]


# -- networks:<service> ----------------------------------------------------------------------------


def test_networks_pass_and_show_what_is_attached() -> None:
    r = results(healthy())["networks:api"]
    assert (r.verdict, r.expected, r.actual, r.service) == (
        P,
        "shop_data, shop_web",
        "shop_data, shop_web",
        "api",
    )


def test_networks_skip_without_container() -> None:
    r = results(without("db"))["networks:db"]
    assert (r.verdict, r.expected, r.actual, r.reason) == (
        S,
        "shop_data",
        "no container",
        "see running:db",
    )


def test_networks_fail_when_a_tier_network_is_missing() -> None:
    r = results(without("api", replace(API, endpoints=API.endpoints[:1])))["networks:api"]
    assert (r.verdict, r.actual) == (F, "shop_web")
    assert r.reason == "api (shop-api-1) is not attached to shop_data (tier data)"


def test_networks_fail_on_an_extra_network() -> None:
    front = replace(
        FRONT, endpoints=(*FRONT.endpoints, ep("shop_data", "10.2.0.2"), ep("bridge", "172.17.0.2"))
    )
    r = results(without("front", front))["networks:front"]
    assert (r.verdict, r.actual) == (F, "bridge, shop_data, shop_web")
    assert r.reason == (
        "front (shop-front-1) is attached to bridge (not a tier), which the contract does not give it; "
        "front (shop-front-1) is attached to shop_data (tier data), which the contract does not "
        "give it"
    )


@pytest.mark.parametrize("mode", ["host", "container:0123abcd", "service:db", "none"])
def test_networks_fail_on_a_network_mode_that_joins_no_tier(mode: str) -> None:
    r = results(without("db", replace(DB, endpoints=(), network_mode=mode)))["networks:db"]
    assert (r.verdict, r.actual) == (F, "(none)")
    assert r.reason == (
        f"db (shop-db-1) uses network_mode {mode}, so it joins no tier network; "
        "db (shop-db-1) is not attached to shop_data (tier data)"
    )


def test_networks_accept_a_named_network_mode() -> None:
    assert results(without("db", replace(DB, network_mode="shop_data")))["networks:db"].verdict is P


# -- alias:<service>@<tier>:<alias> ----------------------------------------------------------------


def test_alias_pass_shows_the_names_without_the_short_id() -> None:
    r = results(healthy())["alias:db@data:database"]
    assert (r.verdict, r.subject, r.expected, r.actual) == (
        P,
        "db@data",
        "database on shop_data",
        "shop-db-1: database, db",
    )
    assert (r.kind, r.service, r.tier) == (Kind.ALIAS, "db", "data")


def test_alias_skips_without_container() -> None:
    r = results(without("db"))["alias:db@data:database"]
    assert (r.verdict, r.actual, r.reason, r.service, r.tier) == (
        S,
        "no container",
        "see running:db",
        "db",
        "data",
    )


def test_alias_fails_when_missing() -> None:
    db = replace(DB, endpoints=(ep("shop_data", "10.2.0.4", "db"),))
    r = results(without("db", db))["alias:db@data:database"]
    assert (r.verdict, r.actual, r.reason) == (
        F,
        "shop-db-1: db",
        "db (shop-db-1) does not have alias database on shop_data",
    )


def test_alias_fails_when_not_attached_to_the_tier() -> None:
    db = replace(DB, endpoints=(ep("shop_web", "10.1.0.4", "database"),))
    r = results(without("db", db))["alias:db@data:database"]
    assert (r.verdict, r.actual, r.reason) == (
        F,
        "not attached to shop_data",
        "db (shop-db-1) is not attached to shop_data",
    )


def test_alias_from_dns_names_passes() -> None:
    db = replace(
        DB, endpoints=(Endpoint("shop_data", "10.2.0.4", (), dns_names=("database", "shop-db-1")),)
    )
    r = results(without("db", db))["alias:db@data:database"]
    assert (r.verdict, r.actual) == (P, "shop-db-1: (none)")


def test_alias_fails_when_one_replica_lacks_it() -> None:
    db2 = ctr("db", "shop-db-2", ep("shop_data", "10.2.0.5", "db"))
    r = results(without("", db2))["alias:db@data:database"]
    assert (r.verdict, r.actual, r.reason) == (
        F,
        "shop-db-1: database, db; shop-db-2: db",
        "db (shop-db-2) does not have alias database on shop_data",
    )


# -- foreign:<internal tier> -----------------------------------------------------------------------


def test_foreign_pass_on_every_tier() -> None:
    res = results(healthy())
    assert res["foreign:web"].verdict is P
    r = res["foreign:data"]
    assert (r.verdict, r.expected, r.actual, r.reason, r.containers, r.tier) == (
        P,
        "only api, db, worker",
        "only contract services",
        "",
        (),
        "data",
    )


def test_foreign_skips_when_the_network_is_missing() -> None:
    r = results(without("", networks=(WEB,)))["foreign:data"]
    assert (r.verdict, r.expected, r.actual, r.reason) == (
        S,
        "only api, db, worker",
        "network missing",
        "see network:data",
    )


def test_foreign_fails_on_a_container_without_compose_labels() -> None:
    intruder = ctr(None, "intruder", ep("shop_data", "10.2.0.9"), project=None)
    res = results(without("", intruder))
    assert "foreign:data" not in res
    r = res["foreign:data:intruder"]
    assert (r.verdict, r.actual, r.containers) == (F, "intruder", ("intruder",))
    assert r.reason == (
        "intruder is on shop_data (tier data): on internal tier data (shop_data), a network not "
        "created by the project, it reaches every member, and it is not a service of the contract "
        "(nor in tiers.data.admit)"
    )


def test_foreign_fails_on_a_service_the_contract_does_not_know() -> None:
    cache = ctr("cache", "shop-cache-1", ep("shop_data", "10.2.0.8"))
    res = results(without("", cache))
    r = res["foreign:data:cache"]  # a service of the project: named by its service
    assert (r.verdict, r.actual) == (F, "cache (shop-cache-1)")
    assert res["undeclared:cache"].verdict is F


def test_foreign_fails_on_a_contract_service_name_from_another_project() -> None:
    """A `db` of compose project `other` on the internal tier is foreign, whatever its service name."""
    other = ctr("db", "other-db-1", ep("shop_data", "10.2.0.7", "db"), project="other")
    r = results(without("", other))["foreign:data:other-db-1"]
    assert (r.verdict, r.containers) == (F, ("other-db-1",))
    assert r.reason.startswith(
        "db (other-db-1) is on shop_data (tier data): on internal tier data (shop_data)"
    )


def test_foreign_without_a_project_accepts_any_project_today() -> None:
    """Only a state without a project (never a live one: check always resolves a project) matches
    services across projects."""
    other = ctr("db", "other-db-1", ep("shop_data", "10.2.0.7"), project="other")
    st = state(FRONT, API, other, project=None)
    assert results(st)["foreign:data"].verdict is P


def test_foreign_lists_every_intruder() -> None:
    a = ctr(None, "a", ep("shop_data", "10.2.0.9"), project=None)
    b = ctr("db", "other-db-1", ep("shop_data", "10.2.0.7"), project="other")
    res = results(without("", b, a))
    assert (res["foreign:data:a"].containers, res["foreign:data:other-db-1"].containers) == (
        ("a",),
        ("other-db-1",),
    )
    assert res["foreign:data:a"].verdict is F and res["foreign:data:other-db-1"].verdict is F


# -- exposure:<service> ----------------------------------------------------------------------------

PG = PublishedPort(5432, "tcp", "0.0.0.0", "5432")


def test_exposure_pass() -> None:
    r = results(healthy())["exposure:db"]
    assert (r.verdict, r.expected, r.actual, r.containers, r.service) == (
        P,
        "no published ports (member of internal data)",
        "no published ports",
        (),
        "db",
    )
    assert "exposure:front" not in results(healthy())


def test_exposure_skips_without_container() -> None:
    r = results(without("db"))["exposure:db"]
    assert (r.verdict, r.expected, r.actual, r.reason) == (
        S,
        "no published ports",
        "no container",
        "see running:db",
    )


def test_exposure_fails_on_a_published_port() -> None:
    db = replace(DB, published=(PG, PublishedPort(5433)))
    r = results(without("db", db))["exposure:db"]
    assert (r.verdict, r.actual, r.containers) == (
        F,
        "0.0.0.0:5432->5432/tcp, 5433/tcp",
        ("shop-db-1",),
    )
    assert r.reason == (
        "db (shop-db-1) publishes 0.0.0.0:5432->5432/tcp and 5433/tcp on the host, which bypasses "
        "the isolation of data"
    )


def test_exposure_says_its_reason_once_for_every_binding_and_replica() -> None:
    """Issue 25: an engine lists a port bound on IPv4 and on IPv6 (and each replica) apart; the
    reason is still one sentence, each container named once."""
    v4 = PublishedPort(8000, "tcp", "0.0.0.0", "8000")
    v6 = PublishedPort(8000, "tcp", "::", "8000")
    one = replace(DB, published=(v4, v6))
    two = replace(DB, id="shop-db-2".ljust(64, "0"), name="shop-db-2", published=(v4, v6, v4))
    r = results(without("db", one, two))["exposure:db"]
    assert r.verdict == F
    assert r.reason == (
        "db (shop-db-1) publishes 0.0.0.0:8000->8000/tcp and :::8000->8000/tcp and db (shop-db-2) "
        "publishes 0.0.0.0:8000->8000/tcp and :::8000->8000/tcp on the host, which bypasses the "
        "isolation of data"
    )
    assert r.reason.count("bypasses") == 1


def test_exposure_covers_a_service_attached_to_an_internal_tier_it_was_not_given() -> None:
    front = replace(
        FRONT,
        endpoints=(*FRONT.endpoints, ep("shop_data", "10.2.0.2")),
        published=(PublishedPort(80, "tcp", "", "8080"),),
    )
    r = results(without("front", front))["exposure:front"]
    assert (r.verdict, r.expected, r.actual) == (
        F,
        "no published ports (member of internal data)",
        "8080->80/tcp",
    )


def test_exposure_needs_an_internal_tier_in_the_contract() -> None:
    flat = contract_from_data(
        {
            "version": 1,
            "tiers": {"web": {"network": "shop_web"}},
            "services": {"front": {"tiers": ["web"]}},
        }
    )
    st = state(replace(FRONT, published=(PublishedPort(80, "tcp", "", "80"),)), networks=(WEB,))
    assert not [r for r in structural_results(flat, st) if r.kind is Kind.EXPOSURE]


# -- alias-unique:<tier> ---------------------------------------------------------------------------


def test_alias_unique_pass() -> None:
    r = results(healthy())["alias-unique:data"]
    assert (r.verdict, r.expected, r.actual, r.containers, r.tier) == (
        P,
        "each alias held by one service",
        "no shared alias",
        (),
        "data",
    )


def test_alias_unique_skips_when_the_network_is_missing() -> None:
    r = results(without("", networks=(WEB,)))["alias-unique:data"]
    assert (r.verdict, r.actual, r.reason) == (S, "network missing", "see network:data")


def test_alias_unique_fails_when_two_services_hold_one_alias() -> None:
    intruder = ctr(None, "intruder", ep("shop_data", "10.2.0.9", "database"), project=None)
    r = results(without("", intruder))["alias-unique:data"]
    assert (r.verdict, r.actual, r.containers) == (
        F,
        "database held by 2",
        ("shop-db-1", "intruder"),
    )
    assert r.reason == (
        "alias database on shop_data is held by intruder, shop/db: Docker's DNS round-robins "
        "between them"
    )


def test_alias_unique_counts_one_owner_per_project_and_service() -> None:
    db2 = ctr("db", "shop-db-2", ep("shop_data", "10.2.0.5", "db", "database"))
    assert results(without("", db2))["alias-unique:data"].verdict is P
    other = ctr("db", "other-db-1", ep("shop_data", "10.2.0.7", "db"), project="other")
    r = results(without("", other))["alias-unique:data"]
    assert (r.verdict, r.reason) == (
        F,
        "alias db on shop_data is held by other/db, shop/db: Docker's DNS "
        "round-robins between them",
    )


def test_alias_unique_lists_every_clash_sorted() -> None:
    x = ctr("x", "shop-x-1", ep("shop_data", "10.2.0.8", "worker", "database"))
    r = results(without("", x))["alias-unique:data"]
    assert r.reason.startswith("alias database on shop_data is held by shop/db, shop/x: ")
    assert "; alias worker on shop_data is held by shop/worker, shop/x: " in r.reason
    assert set(r.actual.split(", ")) == {"database held by 2", "worker held by 2"}
    assert r.containers == ("shop-db-1", "shop-x-1", "shop-worker-1")


def test_alias_unique_ignores_container_ids() -> None:
    a = ctr("x", "shop-x-1", ep("shop_data", "10.2.0.8", "a" * 12), cid="a" * 64)
    b = ctr(
        "y", "shop-y-1", ep("shop_data", "10.2.0.9", "a" * 12, "a" * 64), cid="a" * 12 + "b" * 52
    )
    c = ctr("z", "shop-z-1", ep("shop_data", "10.2.0.10", "a" * 64), cid="a" * 64)
    assert results(without("", a, b, c))["alias-unique:data"].verdict is P


# -- egress:<service> ------------------------------------------------------------------------------


def test_egress_pass_for_services_whose_tiers_are_all_internal() -> None:
    res = results(healthy())
    assert "egress:api" not in res and "egress:front" not in res
    r = res["egress:db"]
    assert (r.verdict, r.expected, r.actual, r.src, r.service) == (
        P,
        "only internal networks (no egress)",
        "shop_data",
        "db",
        "db",
    )


def test_egress_skips_without_container() -> None:
    r = results(without("db"))["egress:db"]
    assert (r.verdict, r.actual, r.reason, r.src) == (S, "no container", "see running:db", "db")


def test_egress_fails_on_a_network_that_is_not_internal() -> None:
    db = replace(DB, endpoints=(*DB.endpoints, ep("shop_web", "10.1.0.4")))
    r = results(without("db", db))["egress:db"]
    assert (r.verdict, r.actual) == (F, "shop_data, shop_web")
    assert r.reason == "db (shop-db-1) is attached to shop_web, which is not internal: a way out"


def test_egress_fails_on_a_network_that_could_not_be_inspected() -> None:
    db = replace(DB, endpoints=(*DB.endpoints, ep("bridge", "172.17.0.4")))
    r = results(without("db", db))["egress:db"]
    assert (r.verdict, r.reason) == (
        F,
        "db (shop-db-1) is attached to bridge, which could not be inspected",
    )


def test_egress_fails_on_host_network_mode() -> None:
    r = results(without("db", replace(DB, endpoints=(), network_mode="host")))["egress:db"]
    assert (r.verdict, r.actual, r.reason) == (F, "(none)", "db (shop-db-1) uses network_mode host")


def test_egress_passes_with_network_mode_none() -> None:
    assert (
        results(without("db", replace(DB, endpoints=(), network_mode="none")))["egress:db"].verdict
        is P
    )


@pytest.mark.parametrize("mode", ["container:" + "c" * 64, "service:cache"])
def test_egress_does_not_pass_a_container_in_another_containers_namespace(mode: str) -> None:
    """(Was a bug: with no network of its own to check, it passed.)"""
    r = results(without("db", replace(DB, endpoints=(), network_mode=mode)))["egress:db"]
    assert (r.verdict, r.reason) == (
        F,
        f"db (shop-db-1) uses network_mode {mode}: its way out is that container's, "
        "which the contract does not bound",
    )


# -- the report's exit code ------------------------------------------------------------------------


def _report(*verdicts: Verdict) -> Report:
    return Report(
        "c", tuple(Result(f"r{i}", Kind.NETWORK, "s", v, "", "") for i, v in enumerate(verdicts))
    )


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ((), ExitCode.OK),
        ((P,), ExitCode.OK),
        ((P, S), ExitCode.OK),
        ((S,), ExitCode.OK),
        ((P, F), ExitCode.VIOLATED),
        ((E, F, P), ExitCode.VIOLATED),
        ((E,), ExitCode.NOT_EVALUATED),
        ((P, S, E), ExitCode.NOT_EVALUATED),
    ],
)
def test_exit_code(verdicts: tuple[Verdict, ...], code: ExitCode) -> None:
    assert _report(*verdicts).exit_code is code
    assert int(code) in (0, 1, 3)
    assert {ExitCode.OK: 0, ExitCode.VIOLATED: 1, ExitCode.NOT_EVALUATED: 3}[code] == int(code)


# -- every result names its subject, and a rule goes on after a service it skips ---------------------

TWO_INTERNAL: Contract = contract_from_data(
    {
        "version": 1,
        "project": "shop",
        "tiers": {
            "web": {"network": "shop_web"},
            "data": {"network": "shop_data", "internal": True},
            "vault": {"network": "shop_vault", "internal": True},
        },
        "services": {
            "api": {"tiers": ["web", "data"]},
            "db": {"tiers": ["data", "vault"], "aliases": {"data": ["database", "pg"]}},
            "keys": {"tiers": ["vault"]},
        },
        "policy": {"allow": ["web -> data", "data -> vault"]},
    }
)
VAULT = Network("shop_vault", "bridge", True)


def broken_states() -> list[State]:
    stopped = replace(DB, status="exited")
    bad_db = replace(
        DB, endpoints=(ep("shop_web", "10.1.0.4"),), published=(PG,), network_mode="host"
    )
    intruder = ctr(None, "intruder", ep("shop_data", "10.2.0.9", "database"), project=None)
    return [
        healthy(),
        without("db"),
        without("db", stopped),
        without("db", bad_db),
        without("", intruder),
        without("", networks=()),
        state(),
    ]


@pytest.mark.parametrize("index", range(7))
def test_every_structural_result_names_its_subject_and_expectation(index: int) -> None:
    st = broken_states()[index]
    for contract in (CONTRACT, TWO_INTERNAL):
        for r in structural_results(contract, st) + egress_results(contract, st):
            assert r.subject == r.id.split(":")[1], r
            assert isinstance(r.expected, str) and r.expected, r
            if r.kind in (Kind.RUNNING, Kind.NETWORKS, Kind.ALIAS, Kind.EXPOSURE, Kind.EGRESS):
                assert r.service == r.subject.split("@")[0], r
            if r.verdict is S:
                assert r.reason.startswith("see "), r


def test_expected_text_of_results_that_could_not_be_checked() -> None:
    res = results(without("db", networks=(WEB,)))
    assert res["network:data"].expected == "shop_data (bridge, internal)"
    assert res["alias-unique:data"].expected == "each alias held by one service"
    assert res["alias:db@data:database"].expected == "database on shop_data"
    assert res["egress:db"].expected == "only internal networks (no egress)"
    assert res["running:db"].expected == "running and healthy"


def test_a_service_without_container_does_not_stop_the_other_services_checks() -> None:
    ids = set(results(without("db")))
    assert {"running:worker", "networks:worker", "exposure:worker", "egress:worker"} <= ids
    st = state(API, networks=(WEB, DATA, VAULT))
    got = {r.id for r in structural_results(TWO_INTERNAL, st)}
    assert {"alias:db@data:database", "alias:db@data:pg"} <= got


def test_a_missing_internal_network_does_not_stop_the_checks_of_the_next_tier() -> None:
    got = {
        r.id: r.verdict for r in structural_results(TWO_INTERNAL, state(API, networks=(WEB, VAULT)))
    }
    assert (got["foreign:data"], got["foreign:vault"]) == (S, P)


def test_alias_checks_every_replica_after_one_that_is_not_attached() -> None:
    db1 = replace(DB, endpoints=(ep("shop_web", "10.1.0.4"),))
    db2 = ctr("db", "shop-db-2", ep("shop_data", "10.2.0.5", "db", "database"))
    r = results(without("db", db1, db2))["alias:db@data:database"]
    assert (r.verdict, r.actual, r.reason) == (
        F,
        "shop-db-2: database, db",
        "db (shop-db-1) is not attached to shop_data",
    )
    db2 = ctr("db", "shop-db-2", ep("shop_data", "10.2.0.5", "db"))
    r = results(without("db", db1, db2))["alias:db@data:database"]
    assert r.reason == (
        "db (shop-db-1) is not attached to shop_data; "
        "db (shop-db-2) does not have alias database on shop_data"
    )


def test_networks_of_all_replicas_are_shown() -> None:
    db2 = ctr("db", "shop-db-2", ep("shop_web", "10.1.0.5"))
    r = results(without("", db2))["networks:db"]
    assert (r.verdict, r.actual) == (F, "shop_data, shop_web")


def test_running_lists_every_bad_replica() -> None:
    db2 = replace(DB, id="b" * 64, name="shop-db-2", health="unhealthy")
    r = results(without("db", replace(DB, status="exited"), db2))["running:db"]
    assert r.reason == "shop-db-1 is exited; shop-db-2 is unhealthy"


def test_foreign_reason_lists_every_intruder() -> None:
    a = ctr(None, "a", ep("shop_data", "10.2.0.9"), project=None)
    b = ctr(None, "b", ep("shop_data", "10.2.0.8"), project=None)
    res = results(without("", a, b))
    assert all("is not a service of the contract" in res[f"foreign:data:{n}"].reason for n in "ab")


def test_exposure_names_every_internal_tier_of_the_service() -> None:
    db = ctr(
        "db",
        "shop-db-1",
        ep("shop_data", "10.2.0.4"),
        ep("shop_vault", "10.3.0.4"),
        published=(PG,),
    )
    r = next(
        r
        for r in structural_results(TWO_INTERNAL, state(API, db, networks=(WEB, DATA, VAULT)))
        if r.id == "exposure:db"
    )
    assert r.expected == "no published ports (member of internal data, vault)"
    assert r.reason == (
        "db (shop-db-1) publishes 0.0.0.0:5432->5432/tcp on the host, which bypasses the isolation "
        "of data, vault"
    )


def test_egress_lists_every_way_out() -> None:
    db = replace(
        DB, endpoints=(*DB.endpoints, ep("shop_web", "10.1.0.4"), ep("bridge", "172.17.0.4"))
    )
    r = results(without("db", db))["egress:db"]
    assert r.reason == (
        "db (shop-db-1) is attached to shop_web, which is not internal: a way out; "
        "db (shop-db-1) is attached to bridge, which could not be inspected"
    )


# -- network:<tier> with a declared ipv6 -----------------------------------------------------------


def with_ipv6(flag: bool) -> Contract:
    data = dump(CONTRACT, exclude_none=True)
    data["tiers"]["data"]["ipv6"] = flag
    return contract_from_data(data)


def test_network_ipv6_checked_only_when_declared() -> None:
    r = results(without("", networks=(WEB, replace(DATA, ipv6=True))))["network:data"]
    assert (r.verdict, r.expected, r.actual) == (
        P,
        "shop_data (bridge, internal)",
        "shop_data (bridge, internal)",
    )
    r = results(without("", networks=(WEB, replace(DATA, ipv6=True))), with_ipv6(True))[
        "network:data"
    ]
    assert (r.verdict, r.expected, r.actual) == (
        P,
        "shop_data (bridge, internal, IPv6)",
        "shop_data (bridge, internal, IPv6)",
    )


def test_network_ipv6_mismatch_fails_both_ways() -> None:
    r = results(healthy(), with_ipv6(True))["network:data"]
    assert (r.verdict, r.expected, r.actual, r.reason) == (
        F,
        "shop_data (bridge, internal, IPv6)",
        "shop_data (bridge, internal, no IPv6)",
        "shop_data has no IPv6 (EnableIPv6 is off)",
    )
    r = results(without("", networks=(WEB, replace(DATA, ipv6=True))), with_ipv6(False))[
        "network:data"
    ]
    assert (r.verdict, r.expected, r.actual) == (
        F,
        "shop_data (bridge, internal, no IPv6)",
        "shop_data (bridge, internal, IPv6)",
    )
    assert r.reason == (
        "shop_data has IPv6 enabled: its members get IPv6 addresses, which engines filter between "
        "networks only with ip6tables on"
    )
    assert results(healthy(), with_ipv6(False))["network:data"].verdict is P


def test_a_missing_network_does_not_stop_the_checks_of_the_next_tier() -> None:
    res = results(without("", networks=(DATA,)))
    assert (res["network:web"].verdict, res["network:data"].verdict) == (F, P)
    assert (res["alias-unique:web"].verdict, res["alias-unique:data"].verdict) == (S, P)

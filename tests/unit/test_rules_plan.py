"""Probe planning rules: what each source must observe, from a hand-built contract and state.

Tiers web (shop_web) and data (shop_data, internal). front on web; api on web and data (two
ports, an alias on each tier); db (two replicas) and worker (no port: ICMP) on data;
front -> db isolated; two egress canaries (one TCP, one ICMP).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from netcontract.contract import Contract, contract_from_data
from netcontract.contract_schema import dump
from netcontract.probe.observation import ProbeKind
from netcontract.probe.plan import Expect, Expectation, ProbePlan, plan_probes
from netcontract.results import Kind, Verdict
from netcontract.state import Container, Endpoint, Network, State

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
                "ports": [8000, 8001],
                "aliases": {"web": ["api.local"], "data": ["api.internal"]},
            },
            "db": {"tiers": ["data"], "ports": [5432], "aliases": {"data": ["database"]}},
            "worker": {"tiers": ["data"]},
        },
        "policy": {
            "allow": ["web -> data"],
            "isolate": ["front -> db"],
            "egress_canaries": [{"host": "192.0.2.10", "port": 443}, {"host": "192.0.2.11"}],
        },
    }
)


def ctr(
    service: str, name: str, *endpoints: tuple[str, str | None], status: str = "running"
) -> Container:
    return Container(
        name.ljust(64, "0"),
        name,
        "shop",
        service,
        status,
        endpoints=tuple(Endpoint(net, ip) for net, ip in endpoints),
    )


FRONT = ctr("front", "shop-front-1", ("shop_web", "10.1.0.2"))
API = ctr("api", "shop-api-1", ("shop_web", "10.1.0.3"), ("shop_data", "10.2.0.3"))
DB1 = ctr("db", "shop-db-1", ("shop_data", "10.2.0.4"))
DB2 = ctr("db", "shop-db-2", ("shop_data", "10.2.0.5"))
WORKER = ctr("worker", "shop-worker-1", ("shop_data", "10.2.0.6"))


def state(*containers: Container) -> State:
    return State(
        "shop",
        (Network("shop_web", "bridge", False), Network("shop_data", "bridge", True)),
        containers or (FRONT, API, DB2, DB1, WORKER),
    )


def exps(plan: ProbePlan, source: str) -> list[Expectation]:
    return list(next(s for s in plan.sources if s.service == source).expectations)


def brief(e: Expectation) -> tuple[Any, ...]:
    return (e.id, e.expect, e.tier, e.targets, e.port, e.probe_kind, e.context, e.expected)


def test_every_running_container_is_a_source() -> None:
    plan = plan_probes(CONTRACT, state())
    assert [(s.service, s.container.name) for s in plan.sources] == [
        ("front", "shop-front-1"),
        ("api", "shop-api-1"),
        ("db", "shop-db-1"),
        ("db", "shop-db-2"),
        ("worker", "shop-worker-1"),
    ]
    assert plan.settled == ()
    # a replica is named in ids and labels; a single container is not
    for source in plan.sources:
        label = f"db[{source.container.name}]" if source.service == "db" else source.service
        assert {e.label for e in source.expectations} == {label}
        assert all(e.src == source.service for e in source.expectations)
        assert all(e.id.split(":", 1)[1].startswith(label + "->") for e in source.expectations)


def test_a_source_without_a_running_container_is_skipped() -> None:
    plan = plan_probes(CONTRACT, state(FRONT, API, replace(DB1, status="exited"), WORKER))
    assert [s.service for s in plan.sources] == ["front", "api", "worker"]
    [r] = plan.settled
    assert (
        r.id,
        r.kind,
        r.subject,
        r.verdict,
        r.expected,
        r.actual,
        r.reason,
        r.src,
        r.service,
    ) == (
        "probes:db",
        Kind.PROBES,
        "db",
        Verdict.SKIP,
        "probes from db",
        "no running container",
        "see running:db",
        "db",
        "db",
    )


def test_a_stopped_replica_is_not_a_source_nor_a_target() -> None:
    plan = plan_probes(CONTRACT, state(FRONT, API, replace(DB1, status="exited"), DB2, WORKER))
    assert [s.container.name for s in plan.sources if s.service == "db"] == ["shop-db-2"]
    assert exps(plan, "db")[0].id == "dns:db->db"
    reach = next(e for e in exps(plan, "api") if e.id == "reach:api->db:5432@data")
    assert reach.targets == ("10.2.0.5",)


def test_the_plan_of_a_source_on_one_tier() -> None:
    got = [brief(e) for e in exps(plan_probes(CONTRACT, state()), "front")]
    dns, tcp, icmp = ProbeKind.DNS, ProbeKind.TCP, ProbeKind.ICMP
    assert got == [
        (
            "dns:front->front",
            Expect.RESOLVE,
            "",
            ("front",),
            None,
            dns,
            "",
            "resolves to 10.1.0.2 (front itself)",
        ),
        (
            "dns:front->api",
            Expect.RESOLVE,
            "web",
            ("api",),
            None,
            dns,
            "",
            "resolves to 10.1.0.3 (api on shop_web)",
        ),
        (
            "dns:front->api.local",
            Expect.RESOLVE,
            "web",
            ("api.local",),
            None,
            dns,
            "",
            "resolves to 10.1.0.3 (api on shop_web)",
        ),
        (
            "dns:front->api.internal",
            Expect.NO_RESOLVE,
            "data",
            ("api.internal",),
            None,
            dns,
            "front is on web; api.internal exists only on data",
            "does not resolve (NXDOMAIN)",
        ),
        (
            "reach:front->api:8000@web",
            Expect.CONNECT,
            "web",
            ("10.1.0.3",),
            8000,
            tcp,
            "",
            "connects to api's port 8000 on shop_web",
        ),
        (
            "reach:front->api:8001@web",
            Expect.CONNECT,
            "web",
            ("10.1.0.3",),
            8001,
            tcp,
            "",
            "connects to api's port 8001 on shop_web",
        ),
        (
            "isolation:front->api:8000@data",
            Expect.BLOCKED,
            "data",
            ("10.2.0.3",),
            8000,
            tcp,
            "the contract does not put both front and api on data",
            "blocked from api's port 8000 on shop_data",
        ),
        (
            "isolation:front->api:8001@data",
            Expect.BLOCKED,
            "data",
            ("10.2.0.3",),
            8001,
            tcp,
            "the contract does not put both front and api on data",
            "blocked from api's port 8001 on shop_data",
        ),
        (
            "dns:front->db",
            Expect.NO_RESOLVE,
            "data",
            ("db",),
            None,
            dns,
            "front is on web; db exists only on data",
            "does not resolve (NXDOMAIN)",
        ),
        (
            "dns:front->database",
            Expect.NO_RESOLVE,
            "data",
            ("database",),
            None,
            dns,
            "front is on web; database exists only on data",
            "does not resolve (NXDOMAIN)",
        ),
        (
            "isolation:front->db:5432@data",
            Expect.BLOCKED,
            "data",
            ("10.2.0.4", "10.2.0.5"),
            5432,
            tcp,
            "policy.isolate: front -> db",
            "blocked from db's port 5432 on shop_data",
        ),
        (
            "isolation:front->worker:icmp@data",
            Expect.BLOCKED,
            "data",
            ("10.2.0.6",),
            None,
            icmp,
            "the contract does not put both front and worker on data",
            "blocked from worker's address (ICMP: no declared port) on shop_data",
        ),
    ]


def test_the_plan_of_a_source_whose_tiers_are_all_internal() -> None:
    got = [brief(e) for e in exps(plan_probes(CONTRACT, state(FRONT, API, DB1, WORKER)), "db")]
    dns, tcp, icmp = ProbeKind.DNS, ProbeKind.TCP, ProbeKind.ICMP
    assert got == [
        (
            "dns:db->db",
            Expect.RESOLVE,
            "",
            ("db",),
            None,
            dns,
            "",
            "resolves to 10.2.0.4 (db itself)",
        ),
        (
            "isolation:db->front:80@web",
            Expect.BLOCKED,
            "web",
            ("10.1.0.2",),
            80,
            tcp,
            "the contract does not put both db and front on web",
            "blocked from front's port 80 on shop_web",
        ),
        (
            "dns:db->api",
            Expect.RESOLVE,
            "data",
            ("api",),
            None,
            dns,
            "",
            "resolves to 10.2.0.3 (api on shop_data)",
        ),
        (
            "dns:db->api.local",
            Expect.NO_RESOLVE,
            "web",
            ("api.local",),
            None,
            dns,
            "db is on data; api.local exists only on web",
            "does not resolve (NXDOMAIN)",
        ),
        (
            "dns:db->api.internal",
            Expect.RESOLVE,
            "data",
            ("api.internal",),
            None,
            dns,
            "",
            "resolves to 10.2.0.3 (api on shop_data)",
        ),
        (
            "isolation:db->api:8000@web",
            Expect.BLOCKED,
            "web",
            ("10.1.0.3",),
            8000,
            tcp,
            "the contract does not put both db and api on web",
            "blocked from api's port 8000 on shop_web",
        ),
        (
            "isolation:db->api:8001@web",
            Expect.BLOCKED,
            "web",
            ("10.1.0.3",),
            8001,
            tcp,
            "the contract does not put both db and api on web",
            "blocked from api's port 8001 on shop_web",
        ),
        (
            "reach:db->api:8000@data",
            Expect.CONNECT,
            "data",
            ("10.2.0.3",),
            8000,
            tcp,
            "",
            "connects to api's port 8000 on shop_data",
        ),
        (
            "reach:db->api:8001@data",
            Expect.CONNECT,
            "data",
            ("10.2.0.3",),
            8001,
            tcp,
            "",
            "connects to api's port 8001 on shop_data",
        ),
        (
            "dns:db->worker",
            Expect.RESOLVE,
            "data",
            ("worker",),
            None,
            dns,
            "",
            "resolves to 10.2.0.6 (worker on shop_data)",
        ),
        (
            "reach:db->worker:icmp@data",
            Expect.CONNECT,
            "data",
            ("10.2.0.6",),
            None,
            icmp,
            "",
            "connects to worker's address (ICMP: no declared port) on shop_data",
        ),
        (
            "egress:db->192.0.2.10:443",
            Expect.BLOCKED,
            "",
            ("192.0.2.10",),
            443,
            tcp,
            "policy.egress_canaries",
            "blocked (every tier of the service is internal)",
        ),
        (
            "egress:db->192.0.2.11",
            Expect.BLOCKED,
            "",
            ("192.0.2.11",),
            None,
            icmp,
            "policy.egress_canaries",
            "blocked (every tier of the service is internal)",
        ),
    ]
    egress = [
        e
        for e in exps(plan_probes(CONTRACT, state(FRONT, API, DB1, WORKER)), "db")
        if e.kind is Kind.EGRESS
    ]
    assert [(e.src, e.dst) for e in egress] == [("db", "192.0.2.10"), ("db", "192.0.2.11")]


def test_kinds_and_addresses_of_the_expectations() -> None:
    by_id = {e.id: e for e in exps(plan_probes(CONTRACT, state()), "api")}
    control = by_id["dns:api->api"]
    assert (
        control.control
        and control.kind is Kind.DNS
        and (control.src, control.dst) == ("api", "api")
    )
    assert control.addresses == {"10.1.0.3", "10.2.0.3"}
    assert control.groups == (frozenset({"10.1.0.3"}), frozenset({"10.2.0.3"}))
    assert control.expected == "resolves to 10.1.0.3 or 10.2.0.3 (api itself)"
    assert (control.qtypes, control.label) == (("A",), "api")
    db = by_id["dns:api->db"]
    assert not db.control and db.kind is Kind.DNS and (db.src, db.dst) == ("api", "db")
    assert db.addresses == {"10.2.0.4", "10.2.0.5"}
    assert db.groups == (frozenset({"10.2.0.4", "10.2.0.5"}),)
    assert db.expected == "resolves to 10.2.0.4, 10.2.0.5 (db on shop_data)"
    assert by_id["reach:api->db:5432@data"].kind is Kind.REACH
    assert (by_id["reach:api->db:5432@data"].src, by_id["reach:api->db:5432@data"].dst) == (
        "api",
        "db",
    )
    front = plan_probes(CONTRACT, state())
    no = next(e for e in exps(front, "front") if e.id == "dns:front->database")
    assert (no.kind, no.src, no.dst, no.addresses, no.control) == (
        Kind.DNS,
        "front",
        "db",
        frozenset(),
        False,
    )
    iso = next(e for e in exps(front, "front") if e.id == "isolation:front->db:5432@data")
    assert (iso.kind, iso.src, iso.dst, iso.addresses, iso.control) == (
        Kind.ISOLATION,
        "front",
        "db",
        frozenset(),
        False,
    )


def test_a_name_on_two_shared_tiers_resolves_to_the_addresses_on_both() -> None:
    c = contract_from_data(
        {
            "version": 1,
            "tiers": {"web": {"network": "shop_web"}, "data": {"network": "shop_data"}},
            "services": {"api": {"tiers": ["web", "data"]}, "gw": {"tiers": ["web", "data"]}},
            "policy": {"allow": ["web -> data"]},
        }
    )
    gw = ctr("gw", "shop-gw-1", ("shop_web", "10.1.0.9"), ("shop_data", "10.2.0.9"))
    e = next(e for e in exps(plan_probes(c, state(API, gw)), "api") if e.id == "dns:api->gw")
    assert (e.tier, e.addresses) == ("web", {"10.1.0.9", "10.2.0.9"})
    assert e.groups == (frozenset({"10.1.0.9"}), frozenset({"10.2.0.9"}))
    assert e.expected == "resolves to 10.1.0.9 or 10.2.0.9 (gw on shop_web, shop_data)"


def test_no_source_without_an_address_has_no_control() -> None:
    front = ctr("front", "shop-front-1", ("shop_web", None))
    ids = [e.id for e in exps(plan_probes(CONTRACT, state(front, API, DB1, WORKER)), "front")]
    assert "dns:front->front" not in ids and ids[0] == "dns:front->api"


def test_a_target_that_is_not_running_gets_no_positive_dns_nor_path_probe() -> None:
    plan = plan_probes(CONTRACT, state(FRONT, API, DB1))  # worker does not run
    db_ids = [e.id for e in exps(plan, "db")]
    assert not [i for i in db_ids if "worker" in i]
    # the names it must not resolve are still checked
    front = plan_probes(CONTRACT, state(FRONT, API))
    ids = [e.id for e in exps(front, "front")]
    assert {"dns:front->db", "dns:front->database"} <= set(ids)
    assert not [i for i in ids if i.startswith("isolation:front->db")]
    assert [r.id for r in front.settled] == ["probes:db", "probes:worker"]


def test_a_running_target_without_an_address_on_a_shared_tier_fails_reach_without_a_probe() -> None:
    api = ctr("api", "shop-api-1", ("shop_web", "10.1.0.3"))
    plan = plan_probes(CONTRACT, state(FRONT, api, DB1, WORKER))
    settled = {r.id: r for r in plan.settled}
    assert list(settled) == [
        "reach:db->api:8000@data",
        "reach:db->api:8001@data",
        "reach:worker->api:8000@data",
        "reach:worker->api:8001@data",
    ]
    r = settled["reach:db->api:8000@data"]
    assert (r.kind, r.subject, r.verdict, r.src, r.dst, r.tier) == (
        Kind.REACH,
        "db->api",
        Verdict.FAIL,
        "db",
        "api",
        "data",
    )
    assert (r.expected, r.actual) == (
        "connects to api on shop_data",
        "api has no address on shop_data",
    )
    assert r.reason == "api is not attached to shop_data, so db cannot reach it over tier data"
    dns = next(e for e in exps(plan, "db") if e.id == "dns:db->api")
    assert (dns.addresses, dns.expected) == (
        frozenset(),
        "resolves to (no address) (api on shop_data)",
    )
    assert not [
        e
        for e in exps(plan, "db")
        if e.id.startswith(("reach:db->api", "isolation:db->api")) and e.tier == "data"
    ]


def test_a_target_without_port_and_without_address_settles_icmp() -> None:
    worker = ctr("worker", "shop-worker-1", ("shop_web", "10.1.0.6"))
    plan = plan_probes(CONTRACT, state(FRONT, API, DB1, worker))
    r = next(r for r in plan.settled if r.id == "reach:db->worker:icmp@data")
    assert r.reason == "worker is not attached to shop_data, so db cannot reach it over tier data"


def test_no_address_on_a_tier_that_is_not_shared_is_no_probe_and_no_result() -> None:
    plan = plan_probes(CONTRACT, state(FRONT, API, DB1, WORKER))
    assert not [e for e in exps(plan, "front") if e.id.endswith("@web") and "->db" in e.id]
    assert plan.settled == ()


def test_canaries_only_for_sources_whose_tiers_are_all_internal() -> None:
    plan = plan_probes(CONTRACT, state())
    for src in ("front", "api"):
        assert not [e for e in exps(plan, src) if e.kind is Kind.EGRESS]
    for src in ("db", "worker"):
        assert len([e for e in exps(plan, src) if e.kind is Kind.EGRESS]) == 2


def test_a_target_that_is_not_running_still_gets_its_other_names_checked() -> None:
    ids = [e.id for e in exps(plan_probes(CONTRACT, state(FRONT, DB1, WORKER)), "front")]
    assert "dns:front->api" not in ids and "dns:front->api.local" not in ids
    assert "dns:front->api.internal" in ids


def test_the_context_of_a_name_that_must_not_resolve_lists_every_tier() -> None:
    c = contract_from_data(
        {
            "version": 1,
            "tiers": {t: {"network": f"shop_{t}"} for t in ("a", "b", "c", "d")},
            "services": {"s": {"tiers": ["a", "b"]}, "t": {"tiers": ["c", "d"]}},
            "policy": {"allow": ["a -> b", "c -> d"], "isolate": ["s -> t"]},
        }
    )
    s = ctr("s", "shop-s-1", ("shop_a", "10.1.0.1"))
    t = ctr("t", "shop-t-1", ("shop_c", "10.3.0.1"))
    st = State("shop", tuple(Network(f"shop_{x}", "bridge", False) for x in "abcd"), (s, t))
    e = next(e for e in exps(plan_probes(c, st), "s") if e.id == "dns:s->t")
    assert (e.expect, e.tier, e.context) == (
        Expect.NO_RESOLVE,
        "c",
        "s is on a, b; t exists only on c, d",
    )


def test_the_control_of_a_replica_is_every_replica_it_can_see() -> None:
    control = exps(plan_probes(CONTRACT, state()), "db")[0]
    assert (control.id, control.label, control.control) == (
        "dns:db[shop-db-1]->db",
        "db[shop-db-1]",
        True,
    )
    assert control.groups == (frozenset({"10.2.0.4", "10.2.0.5"}),)
    assert control.expected == "resolves to 10.2.0.4, 10.2.0.5 (db itself)"


# -- IPv6 -------------------------------------------------------------------------------------------


def v6(c: Container, network: str, address: str) -> Container:
    return replace(
        c,
        endpoints=tuple(
            replace(ep, ipv6=address) if ep.network == network else ep for ep in c.endpoints
        ),
    )


def test_every_address_family_of_a_target_is_probed() -> None:
    db = v6(DB1, "shop_data", "fd00:2::4")
    by_id = {e.id: e for e in exps(plan_probes(CONTRACT, state(FRONT, API, db, WORKER)), "api")}
    v4, six = by_id["reach:api->db:5432@data"], by_id["reach:api->db:5432@data/ipv6"]
    assert (v4.targets, v4.family, v4.expected) == (
        ("10.2.0.4",),
        4,
        "connects to db's port 5432 on shop_data",
    )
    assert (six.targets, six.family, six.tier, six.expected) == (
        ("fd00:2::4",),
        6,
        "data",
        "connects to db's port 5432 on shop_data over IPv6",
    )
    iso = {e.id: e for e in exps(plan_probes(CONTRACT, state(FRONT, API, db, WORKER)), "front")}
    assert (
        iso["isolation:front->db:5432@data/ipv6"].expected
        == "blocked from db's port 5432 on shop_data over IPv6"
    )
    assert (
        iso["isolation:front->db:5432@data/ipv6"].family,
        iso["isolation:front->db:5432@data"].family,
    ) == (6, 4)
    # the DNS answer may hold both families
    assert by_id["dns:api->db"].groups == (frozenset({"10.2.0.4", "fd00:2::4"}),)
    assert by_id["dns:api->db"].qtypes == ("A",)  # api itself has no IPv6


def test_a_target_with_ipv6_only_is_probed_over_ipv6_only() -> None:
    db = replace(DB1, endpoints=(Endpoint("shop_data", None, ipv6="fd00:2::4"),))
    ids = [e.id for e in exps(plan_probes(CONTRACT, state(FRONT, API, db, WORKER)), "api")]
    assert "reach:api->db:5432@data/ipv6" in ids and "reach:api->db:5432@data" not in ids


def test_a_source_with_ipv6_asks_aaaa_too() -> None:
    api = v6(API, "shop_data", "fd00:2::3")
    got = exps(plan_probes(CONTRACT, state(FRONT, api, DB1, WORKER)), "api")
    dns = [e for e in got if e.kind is Kind.DNS]
    assert dns and all(e.qtypes == ("A", "AAAA") for e in dns)
    assert dns[0].groups == (frozenset({"10.1.0.3"}), frozenset({"10.2.0.3", "fd00:2::3"}))
    front_control = exps(plan_probes(CONTRACT, state(FRONT, api, DB1, WORKER)), "front")[0]
    assert front_control.qtypes == ("A",)
    front = v6(FRONT, "shop_web", "fd00:1::2")
    negative = [
        e
        for e in exps(plan_probes(CONTRACT, state(front, API, DB1, WORKER)), "front")
        if e.expect is Expect.NO_RESOLVE
    ]
    assert negative and all(e.qtypes == ("A", "AAAA") for e in negative)


def test_a_source_with_only_an_ipv6_address_still_has_a_control() -> None:
    front = replace(FRONT, endpoints=(Endpoint("shop_web", None, ipv6="fd00:1::2"),))
    control = exps(plan_probes(CONTRACT, state(front, API, DB1, WORKER)), "front")[0]
    assert (control.control, control.addresses, control.qtypes) == (
        True,
        {"fd00:1::2"},
        ("A", "AAAA"),
    )


# -- the Docker host, from a service whose tiers are all internal ------------------------------------


def hosted(contract_host: str, host_ports: tuple[int, ...] = ()) -> Contract:
    data = dump(CONTRACT, exclude_none=True)
    data["tiers"]["data"]["host"] = contract_host
    data["policy"]["host_ports"] = list(host_ports)
    return contract_from_data(data)


def host_state(*networks: Network) -> State:
    return State("shop", networks, (FRONT, API, DB1, WORKER))


GW_DATA = Network("shop_data", "bridge", True, gateways=("10.2.0.1",))
BRIDGE = Network("bridge", "bridge", False, gateways=("172.17.0.1",))
WEB_NET = Network("shop_web", "bridge", False, gateways=("10.1.0.1",))


def host_exps(contract: Contract, st: State, source: str = "db") -> list[Expectation]:
    return [e for e in exps(plan_probes(contract, st), source) if e.kind is Kind.HOST]


def test_the_host_is_probed_on_each_gateway_and_the_default_bridge() -> None:
    got = host_exps(hosted("report", (2375,)), host_state(WEB_NET, GW_DATA, BRIDGE))
    rule = "host: report (engines let internal networks reach the host; `host: deny` makes it a failure)"
    assert [
        (
            e.id,
            e.dst,
            e.tier,
            e.probe_kind,
            e.targets,
            e.port,
            e.expect,
            e.report_only,
            e.context,
            e.expected,
        )
        for e in got
    ] == [
        (
            "host:db->10.2.0.1",
            "10.2.0.1",
            "data",
            ProbeKind.ICMP,
            ("10.2.0.1",),
            None,
            Expect.BLOCKED,
            True,
            rule,
            "reported: does the host answer? (the host's address on shop_data)",
        ),
        (
            "host:db->10.2.0.1:2375",
            "10.2.0.1",
            "data",
            ProbeKind.TCP,
            ("10.2.0.1",),
            2375,
            Expect.BLOCKED,
            True,
            rule,
            "reported: does the host answer? (the host's address on shop_data)",
        ),
        (
            "host:db->172.17.0.1",
            "172.17.0.1",
            "",
            ProbeKind.ICMP,
            ("172.17.0.1",),
            None,
            Expect.BLOCKED,
            True,
            rule,
            "reported: does the host answer? (the default bridge's host address)",
        ),
        (
            "host:db->172.17.0.1:2375",
            "172.17.0.1",
            "",
            ProbeKind.TCP,
            ("172.17.0.1",),
            2375,
            Expect.BLOCKED,
            True,
            rule,
            "reported: does the host answer? (the default bridge's host address)",
        ),
    ]
    assert all(e.src == "db" and e.family == 4 and e.label == "db" for e in got)
    # only sources whose tiers are all internal
    assert host_exps(hosted("report"), host_state(WEB_NET, GW_DATA, BRIDGE), "api") == []


def test_host_deny_makes_the_host_probe_a_failure_to_check() -> None:
    got = host_exps(hosted("deny"), host_state(GW_DATA))
    assert [(e.id, e.report_only, e.context, e.expected) for e in got] == [
        (
            "host:db->10.2.0.1",
            False,
            "host: deny on data",
            "blocked (host: deny) (the host's address on shop_data)",
        )
    ]


def test_a_gateway_shared_by_two_networks_is_probed_once_and_ipv6_gateways_too() -> None:
    data = Network("shop_data", "bridge", True, gateways=("10.2.0.1", "fd00:2::1"))
    bridge = Network("bridge", "bridge", False, gateways=("10.2.0.1",))
    got = host_exps(hosted("report"), host_state(data, bridge))
    assert [(e.dst, e.family, e.tier) for e in got] == [
        ("10.2.0.1", 4, "data"),
        ("fd00:2::1", 6, "data"),
    ]


def test_no_host_probe_without_an_inspected_network() -> None:
    assert host_exps(hosted("report"), host_state()) == []


def test_a_replica_not_on_a_tier_does_not_hide_the_next_one() -> None:
    db1 = ctr("db", "shop-db-1", ("shop_web", "10.1.0.4"))
    by_id = {
        e.id: e for e in exps(plan_probes(CONTRACT, state(FRONT, API, db1, DB2, WORKER)), "api")
    }
    assert by_id["reach:api->db:5432@data"].targets == ("10.2.0.5",)
    assert by_id["dns:api->db"].groups == (frozenset({"10.2.0.5"}),)


def test_host_deny_names_every_denying_tier() -> None:
    c = contract_from_data(
        {
            "version": 1,
            "tiers": {
                "data": {"network": "shop_data", "internal": True, "host": "deny"},
                "vault": {"network": "shop_vault", "internal": True, "host": "deny"},
            },
            "services": {"db": {"tiers": ["data", "vault"]}},
            "policy": {"allow": ["data -> vault"]},
        }
    )
    db = ctr("db", "shop-db-1", ("shop_data", "10.2.0.4"))
    [e] = host_exps(c, State("shop", (GW_DATA,), (db,)))
    assert e.context == "host: deny on data, vault"

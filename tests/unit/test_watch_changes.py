"""watch's pure core (netcontract/changes.py): which services an engine event touches, the merge of a
partial re-check with the results it did not repeat, verdict changes; and probe.plan.narrow_plan."""

from __future__ import annotations

from dataclasses import replace

from test_rules_structural import API, CONTRACT, DB, FRONT, WORKER, ctr, ep, state

from netcontract.changes import Change, Event, diff, merge, scope, touches
from netcontract.probe.plan import narrow_plan, plan_probes
from netcontract.results import Kind, Report, Result, Verdict

P, F, E = Verdict.PASS, Verdict.FAIL, Verdict.ERROR
WORLD = state(FRONT, API, DB, WORKER)


def ev(kind: str, action: str, actor: str = "", **attrs: str) -> Event:
    return Event(kind, action, actor, attrs)


def raw(kind: str, action: str, actor: str, attrs: dict[str, object]) -> dict[str, object]:
    return {
        "Type": kind,
        "Action": action,
        "Actor": {"ID": actor, "Attributes": attrs},
        "timeNano": 1_700_000_000_500_000_000,
    }


# -- Event.from_api -------------------------------------------------------------------------------------


def test_events_watch_acts_on_are_read_with_their_attributes_and_time() -> None:
    e = Event.from_api(
        raw(
            "network", "connect", "net1", {"container": "c1", "name": "shop_data", "type": "bridge"}
        )
    )
    assert e == Event(
        "network",
        "connect",
        "net1",
        {"container": "c1", "name": "shop_data", "type": "bridge"},
        1_700_000_000.5,
    )
    health = Event.from_api(
        raw("container", "health_status: unhealthy", "c1", {"name": "shop-db-1"})
    )
    assert health is not None and health.verb == "health_status"


def test_other_events_and_junk_are_ignored() -> None:
    assert Event.from_api(raw("container", "exec_start: sh -c ls", "c1", {})) is None
    assert Event.from_api(raw("image", "pull", "busybox", {})) is None
    assert Event.from_api(raw("volume", "create", "v", {})) is None
    assert Event.from_api("not an event") is None
    assert Event.from_api({"Type": "network", "Action": "connect", "Actor": "x"}) == Event(
        "network", "connect", "", {}
    )
    # attributes that are not scalars are dropped, never trusted as text
    e = Event.from_api(raw("container", "start", "c1", {"name": "x", "nested": {"a": 1}}))
    assert e is not None and e.attributes == {"name": "x"}


def test_describe_names_the_container_and_network() -> None:
    names = {FRONT.id: "shop-front-1"}
    assert (
        ev("network", "connect", "n", container=FRONT.id, name="shop_data").describe(names)
        == "network connect: shop-front-1 to shop_data"
    )
    assert (
        ev("network", "disconnect", "n", container="f" * 64, name="shop_data").describe()
        == "network disconnect: ffffffffffff from shop_data"
    )
    assert (
        ev("network", "destroy", "n", name="shop_data").describe() == "network destroy: shop_data"
    )
    assert ev("container", "die", DB.id, name="shop-db-1").describe() == "container die: shop-db-1"


# -- scope ------------------------------------------------------------------------------------------------


def test_a_connect_of_a_contract_container_touches_its_service() -> None:
    s = scope(
        [ev("network", "connect", "n", container=FRONT.id, name="shop_data")],
        CONTRACT,
        "shop",
        WORLD,
        WORLD,
    )
    assert s.relevant and not s.everything and s.services == {"front"}


def test_a_tier_network_created_or_destroyed_rechecks_everything() -> None:
    for action in ("create", "destroy"):
        s = scope([ev("network", action, "n", name="shop_data")], CONTRACT, "shop", WORLD, WORLD)
        assert s.relevant and s.everything
    other = scope([ev("network", "create", "n", name="elsewhere")], CONTRACT, "shop", WORLD, WORLD)
    assert not other.relevant and not other.everything


def test_a_foreign_container_joining_a_tier_is_structural_only() -> None:
    s = scope(
        [ev("network", "connect", "n", container="9" * 64, name="shop_web")],
        CONTRACT,
        "shop",
        WORLD,
        WORLD,
    )
    assert s.relevant and s.services == frozenset()


def test_events_of_other_stacks_are_not_relevant() -> None:
    s = scope(
        [
            ev(
                "container",
                "start",
                "7" * 64,
                name="other-app-1",
                **{"com.docker.compose.project": "other"},
            ),
            ev("network", "connect", "n", container="7" * 64, name="other_default"),
        ],
        CONTRACT,
        "shop",
        WORLD,
        WORLD,
    )
    assert not s.relevant


def test_a_new_container_is_found_by_its_labels_or_the_later_snapshot() -> None:
    labels = {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "api",
        "name": "shop-api-2",
    }
    s = scope([ev("container", "start", "2" * 64, **labels)], CONTRACT, "shop", WORLD, WORLD)
    assert s.services == {"api"}
    api2 = ctr("api", "shop-api-2", ep("shop_web", "10.1.0.9", "api"), cid="3" * 64)
    after = state(FRONT, API, api2, DB, WORKER)
    s = scope(
        [ev("network", "connect", "n", container=api2.id, name="shop_web")],
        CONTRACT,
        "shop",
        WORLD,
        after,
    )
    assert s.services == {"api"}


def test_a_removed_container_is_found_in_the_earlier_snapshot() -> None:
    after = state(FRONT, API, WORKER)
    s = scope([ev("container", "destroy", DB.id)], CONTRACT, "shop", WORLD, after)
    assert s.services == {"db"}


def test_a_service_label_the_contract_does_not_name_touches_no_probe() -> None:
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "debug"}
    s = scope([ev("container", "start", "4" * 64, **labels)], CONTRACT, "shop", WORLD, WORLD)
    assert s.relevant and s.services == frozenset()


# -- narrow_plan ----------------------------------------------------------------------------------------


def test_narrow_plan_keeps_probes_from_and_to_the_services_and_each_sources_control() -> None:
    plan = plan_probes(CONTRACT, WORLD)
    narrow = narrow_plan(plan, {"db"})
    by_source = {sp.service: sp for sp in narrow.sources}
    assert (
        by_source["db"].expectations
        == next(sp for sp in plan.sources if sp.service == "db").expectations
    )
    for service, sp in by_source.items():
        if service == "db":
            continue
        assert all(e.dst == "db" or e.control for e in sp.expectations)
        assert any(e.dst == "db" for e in sp.expectations)
        assert any(e.control for e in sp.expectations)
    full = {e.id for sp in plan.sources for e in sp.expectations if e.src == "db" or e.dst == "db"}
    kept = {
        e.id
        for sp in narrow.sources
        for e in sp.expectations
        if not e.control or sp.service == "db"
    }
    assert full <= kept


def test_narrow_plan_to_nothing_probes_nothing() -> None:
    assert narrow_plan(plan_probes(CONTRACT, WORLD), set()).sources == ()


# -- merge and diff ---------------------------------------------------------------------------------------


def res(rid: str, verdict: Verdict, src: str = "", dst: str = "", service: str = "") -> Result:
    return Result(rid, Kind.REACH, rid, verdict, "", "", src=src, dst=dst, service=service)


def report(*results: Result) -> Report:
    return Report("c.yaml", results)


STRUCT = res("networks:front", P, service="front")
FRONT_DB = res("isolation:front->db:5432@data", P, "front", "db")
API_DB = res("reach:api->db:5432@data", P, "api", "db")
FRONT_API = res("reach:front->api:8000@web", P, "front", "api")


def test_merge_keeps_what_the_partial_check_did_not_repeat() -> None:
    previous = report(STRUCT, FRONT_DB, API_DB, FRONT_API)
    partial = report(replace(STRUCT, verdict=F), replace(FRONT_DB, verdict=F), FRONT_API)
    whole = merge(previous, partial, {"front"}, {STRUCT.id})
    assert {r.id: r.verdict for r in whole.results} == {
        STRUCT.id: F,
        FRONT_DB.id: F,
        FRONT_API.id: P,
        API_DB.id: P,
    }


def test_merge_drops_vanished_structural_results_and_probes_of_touched_services() -> None:
    previous = report(STRUCT, FRONT_DB, API_DB)
    whole = merge(previous, report(), {"db"}, {STRUCT.id})
    assert whole.results == ()  # STRUCT was re-evaluated (and is gone); both probes touch db


def test_a_full_recheck_is_the_whole_picture() -> None:
    partial = report(FRONT_API)
    assert merge(report(STRUCT, FRONT_DB), partial, None, {STRUCT.id}) is partial


def test_touches() -> None:
    assert touches(FRONT_DB, {"db"}) and touches(FRONT_DB, {"front"}) and touches(STRUCT, {"front"})
    assert not touches(API_DB, {"front"})


def test_diff_names_every_verdict_that_changed_new_and_gone_checks() -> None:
    before = report(FRONT_DB, API_DB, FRONT_API)
    after = report(replace(FRONT_DB, verdict=F, reason="connected"), API_DB, res("dns:x", E))
    assert diff(before, after) == [
        Change(FRONT_DB.id, P, F, replace(FRONT_DB, verdict=F, reason="connected")),
        Change("dns:x", None, E, res("dns:x", E)),
        Change(FRONT_API.id, P, None, None),
    ]


def test_the_first_diff_lists_what_does_not_pass() -> None:
    first = report(FRONT_DB, replace(API_DB, verdict=F), res("dns:x", E))
    assert [(c.id, c.before, c.after) for c in diff(None, first)] == [
        (API_DB.id, None, F),
        ("dns:x", None, E),
    ]


def test_change_lines() -> None:
    failed = replace(
        FRONT_DB, verdict=F, reason="frontend connected to db on a tier it must not share"
    )
    assert Change(FRONT_DB.id, P, F, failed).line("network connect: shop-front-1 to shop_data") == (
        "PASS->FAIL isolation:front->db:5432@data: frontend connected to db on a tier it must not share "
        "[network connect: shop-front-1 to shop_data]"
    )
    assert (
        Change(FRONT_DB.id, F, P, FRONT_DB).line("x")
        == "FAIL->PASS isolation:front->db:5432@data [x]"
    )
    assert Change("dns:x", P, None, None).line() == "PASS->GONE dns:x"

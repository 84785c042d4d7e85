"""The judge, one rule at a time: `evaluate` on hand-built expectations and observations (no daemon).

Every expectation is built by hand (not by the planner), so a test names exactly the
rule it pins down. The world: tiers web (shop_web) and data (shop_data, internal);
front on web, api on web and data, db (two replicas) on data; front -> db isolated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from netcontract.contract import Contract, contract_from_data
from netcontract.probe.observation import Observation, Outcome, ProbeKind
from netcontract.probe.plan import Expect, Expectation
from netcontract.probe.verdicts import evaluate
from netcontract.results import Kind, Result, Verdict
from netcontract.state import Container, Endpoint, Network, State

OK, REFUSED, TIMEOUT, UNREACHABLE = (
    Outcome.OK,
    Outcome.REFUSED,
    Outcome.TIMEOUT,
    Outcome.UNREACHABLE,
)
NXDOMAIN, NODATA, SERVFAIL, ERROR = (
    Outcome.NXDOMAIN,
    Outcome.NODATA,
    Outcome.SERVFAIL,
    Outcome.ERROR,
)

CONTRACT: Contract = contract_from_data(
    {
        "version": 1,
        "project": "shop",
        "tiers": {
            "web": {"network": "shop_web"},
            "data": {"network": "shop_data", "internal": True},
            "ops": {"network": "shop_ops"},
        },
        "services": {
            "front": {"tiers": ["web"], "ports": [80]},
            "api": {"tiers": ["web", "data"], "ports": [8000]},
            "db": {"tiers": ["data"], "ports": [5432], "aliases": {"data": ["database"]}},
            "mon": {"tiers": ["ops"]},
        },
        "policy": {"allow": ["web -> data"], "isolate": ["front -> db"]},
    }
)

DB1, DB2, API_DATA, API_WEB, FRONT_WEB = "10.2.0.4", "10.2.0.5", "10.2.0.3", "10.1.0.3", "10.1.0.2"


def ctr(service: str, name: str, *endpoints: tuple[str, str]) -> Container:
    return Container(
        id=name.ljust(64, "0"),
        name=name,
        project="shop",
        service=service,
        status="running",
        endpoints=tuple(Endpoint(net, ip) for net, ip in endpoints),
    )


FRONT = ctr("front", "shop-front-1", ("shop_web", FRONT_WEB))
API = ctr("api", "shop-api-1", ("shop_web", API_WEB), ("shop_data", API_DATA))
DB_1 = ctr("db", "shop-db-1", ("shop_data", DB1))
DB_2 = ctr("db", "shop-db-2", ("shop_data", DB2))


def world(*extra: Container) -> State:
    nets = (
        Network("shop_web", "bridge", False),
        Network("shop_data", "bridge", True),
        Network("shop_ops", "bridge", False),
    )
    return State("shop", nets, (FRONT, API, DB_1, DB_2, *extra))


def expect(
    how: Expect,
    src: str = "api",
    dst: str = "db",
    tier: str = "data",
    *,
    kind: Kind | None = None,
    targets: tuple[str, ...] = (DB1,),
    port: int | None = 5432,
    addresses: Sequence[str] = (),
    context: str = "",
    control: bool = False,
) -> Expectation:
    if kind is None:
        kind = {Expect.CONNECT: Kind.REACH, Expect.BLOCKED: Kind.ISOLATION}.get(how, Kind.DNS)
    probe = ProbeKind.DNS if kind is Kind.DNS else (ProbeKind.TCP if port else ProbeKind.ICMP)
    return Expectation(
        f"{kind.value}:{src}->{dst}",
        kind,
        src,
        dst,
        tier,
        probe,
        targets,
        port,
        how,
        f"expected {how.value}",
        addresses=frozenset(addresses),
        context=context,
        control=control,
    )


def judge(
    e: Expectation,
    obs: Sequence[Observation],
    source: Container = API,
    *,
    state: State | None = None,
    control_ok: bool = True,
) -> Result:
    return evaluate(
        e, obs, source=source, contract=CONTRACT, state=state or world(), control_ok=control_ok
    )


def seen(*outcomes: Outcome, detail: str = "") -> list[Observation]:
    return [Observation(o, detail=detail) for o in outcomes]


def answer(*addresses: str) -> list[Observation]:
    return [Observation(OK, tuple(addresses))]


# -- no observation --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", list(Expect))
def test_no_observation_is_error_for_every_kind_of_expectation(how: Expect) -> None:
    r = judge(expect(how), [])
    assert (r.verdict, r.reason, r.actual) == (Verdict.ERROR, "no observation", "")


# -- CONNECT: a path the contract allows -----------------------------------------------------------


def test_connect_passes_only_when_every_target_connects() -> None:
    two = expect(Expect.CONNECT, targets=(DB1, DB2))
    assert (judge(two, seen(OK, OK)).verdict, judge(two, seen(OK, OK)).reason) == (Verdict.PASS, "")
    r = judge(two, seen(OK, TIMEOUT))
    assert r.verdict is Verdict.FAIL
    assert r.reason == "api cannot reach db on shop_data (timeout)"


def test_connect_refused_is_reachable_but_fails_because_nothing_listens() -> None:
    r = judge(expect(Expect.CONNECT), seen(REFUSED))
    assert r.verdict is Verdict.FAIL
    assert r.reason == "db is reachable but refuses port 5432: nothing listens there"


@pytest.mark.parametrize("outcome", [TIMEOUT, UNREACHABLE, NXDOMAIN])
def test_connect_not_connected_fails_and_names_the_outcome(outcome: Outcome) -> None:
    r = judge(expect(Expect.CONNECT), seen(outcome))
    assert r.verdict is Verdict.FAIL
    assert r.reason == f"api cannot reach db on shop_data ({outcome.value})"


def test_connect_fail_says_when_the_source_is_not_attached_to_the_tier() -> None:
    r = judge(expect(Expect.CONNECT, src="front"), seen(UNREACHABLE), FRONT)
    assert (
        r.reason
        == "front cannot reach db on shop_data (unreachable) because front is not attached to shop_data"
    )


def test_connect_error_is_error_not_fail() -> None:
    r = judge(expect(Expect.CONNECT), seen(ERROR, detail="exec failed"))
    assert (r.verdict, r.reason) == (Verdict.ERROR, "probe could not run: exec failed")


def test_connect_the_first_target_that_did_not_connect_decides() -> None:
    e = expect(Expect.CONNECT, targets=(DB1, DB2))
    assert judge(e, seen(OK, REFUSED)).reason.startswith("db is reachable but refuses port 5432")
    assert judge(e, [Observation(TIMEOUT), Observation(ERROR, detail="x")]).verdict is Verdict.FAIL
    assert judge(e, [Observation(ERROR, detail="x"), Observation(TIMEOUT)]).verdict is Verdict.ERROR


# -- BLOCKED: a path the contract forbids ----------------------------------------------------------


@pytest.mark.parametrize(
    "outcomes", [(TIMEOUT,), (UNREACHABLE,), (TIMEOUT, UNREACHABLE), (UNREACHABLE, TIMEOUT)]
)
def test_blocked_passes_on_timeout_and_unreachable(outcomes: tuple[Outcome, ...]) -> None:
    e = expect(
        Expect.BLOCKED, src="front", targets=(DB1, DB2), context="policy.isolate: front -> db"
    )
    r = judge(e, seen(*outcomes), FRONT)
    assert (r.verdict, r.reason) == (Verdict.PASS, "")


def test_blocked_but_connected_fails_and_says_why_from_the_snapshot() -> None:
    intruder = ctr("front", "shop-front-1", ("shop_web", FRONT_WEB), ("shop_data", "10.2.0.9"))
    e = expect(Expect.BLOCKED, src="front", context="policy.isolate: front -> db")
    r = judge(e, seen(OK), intruder, state=world())
    assert r.verdict is Verdict.FAIL
    assert r.reason == (
        "front reaches db over shop_data (connects) because front is attached to shop_data, "
        "which the contract does not give it [policy.isolate: front -> db]"
    )


def test_blocked_but_refused_is_reachable_so_it_fails() -> None:
    e = expect(
        Expect.BLOCKED, src="front", context="the contract does not put both front and db on data"
    )
    r = judge(e, seen(REFUSED), FRONT)
    assert r.verdict is Verdict.FAIL
    assert r.reason == (
        "front reaches db over shop_data (gets `refused` (reachable, nothing listening)) "
        "although front is not attached to shop_data (check published ports and routing)"
    )


def test_blocked_leak_cause_names_the_target_when_it_is_the_intruder() -> None:
    # front -> db over web: db was attached to shop_web, which the contract does not give it
    e = expect(Expect.BLOCKED, src="front", tier="web", context="policy.isolate: front -> db")
    r = judge(e, seen(OK), FRONT)
    assert r.reason == (
        "front reaches db over shop_web (connects) because db is attached to shop_web, which the "
        "contract does not give it [policy.isolate: front -> db]"
    )


def test_blocked_leak_cause_names_both_intruders() -> None:
    front_on_ops = ctr("front", "shop-front-1", ("shop_web", FRONT_WEB), ("shop_ops", "10.3.0.2"))
    e = expect(Expect.BLOCKED, src="front", tier="ops", context="policy.isolate: front -> db")
    r = judge(e, seen(OK), front_on_ops)
    assert r.reason == (
        "front reaches db over shop_ops (connects) because front is attached to shop_ops, which the "
        "contract does not give it and db is attached to shop_ops, which the contract does not give "
        "it [policy.isolate: front -> db]"
    )


def test_blocked_leak_between_members_of_the_tier_blames_the_attachment() -> None:
    e = expect(Expect.BLOCKED, context="hand-made")
    r = judge(e, seen(OK), API)
    assert (
        r.reason == "api reaches db over shop_data (connects) because api is attached to shop_data"
    )


def test_blocked_leak_of_a_source_outside_the_contract() -> None:
    ghost = Container(
        "g" * 64,
        "ghost",
        "shop",
        "ghost",
        "running",
        endpoints=(Endpoint("shop_data", "10.2.0.8"),),
    )
    r = judge(expect(Expect.BLOCKED, src="ghost", context="x"), seen(OK), ghost)
    # a service the contract does not know is no intruder by the contract: the attachment is the cause
    assert (
        r.reason
        == "ghost reaches db over shop_data (connects) because ghost is attached to shop_data"
    )


def test_egress_leak_says_there_is_a_way_out() -> None:
    e = expect(
        Expect.BLOCKED,
        src="db",
        dst="192.0.2.10",
        tier="",
        kind=Kind.EGRESS,
        targets=("192.0.2.10",),
        port=443,
        context="policy.egress_canaries",
    )
    for outcome, how in (
        (OK, "connects"),
        (REFUSED, "gets `refused` (reachable, nothing listening)"),
    ):
        r = judge(e, seen(outcome), DB_1)
        assert r.verdict is Verdict.FAIL
        assert r.reason == f"db {how} to 192.0.2.10: it has a way out (policy.egress_canaries)"
    assert judge(e, seen(TIMEOUT), DB_1).verdict is Verdict.PASS


def test_blocked_leak_wins_over_an_error_on_another_target() -> None:
    e = expect(Expect.BLOCKED, src="front", targets=(DB1, DB2), context="c")
    r = judge(e, [Observation(ERROR, detail="x"), Observation(REFUSED)], FRONT)
    assert r.verdict is Verdict.FAIL


def test_blocked_error_leaves_isolation_unproven() -> None:
    e = expect(Expect.BLOCKED, src="front", targets=(DB1, DB2), context="c")
    r = judge(e, [Observation(TIMEOUT), Observation(ERROR, detail="no nc")], FRONT)
    assert (r.verdict, r.reason) == (
        Verdict.ERROR,
        "probe could not run, so isolation is unproven: no nc",
    )


@pytest.mark.parametrize("outcome", [NXDOMAIN, NODATA, SERVFAIL])
def test_blocked_with_an_outcome_that_is_no_network_answer_is_error(outcome: Outcome) -> None:
    r = judge(expect(Expect.BLOCKED, src="front", context="c"), seen(outcome), FRONT)
    assert (r.verdict, r.reason) == (Verdict.ERROR, f"unexpected observation {outcome.value}")


# -- RESOLVE: the name resolves to the target's addresses ------------------------------------------


def resolve(src: str = "api", name_tier: str = "data") -> Expectation:
    return expect(
        Expect.RESOLVE,
        src=src,
        tier=name_tier,
        targets=("database",),
        port=None,
        addresses=(DB1, DB2),
    )


def test_resolve_to_all_of_the_targets_addresses_passes() -> None:
    r = judge(resolve(), answer(DB2, DB1))
    assert (r.verdict, r.reason, r.actual) == (Verdict.PASS, "", f"{DB2}, {DB1}")


def test_resolve_to_a_strict_subset_of_the_targets_addresses_fails() -> None:
    """'Resolves to exactly the target's addresses': Docker answers a name with every container
    holding it on the network it answers from, so an answer with one replica of two FAILs."""
    r = judge(resolve(), answer(DB2))
    assert (r.verdict, r.reason) == (
        Verdict.FAIL,
        f"database answers without some of db's addresses: {DB1} (db (shop-db-1) on shop_data)",
    )


def groups(*sets: tuple[str, ...]) -> Expectation:
    gs = tuple(frozenset(g) for g in sets)
    return replace(resolve(), addresses=frozenset(a for g in gs for a in g), groups=gs)


def test_resolve_answers_from_one_network_the_whole_group_it_holds_there() -> None:
    e = groups((DB1, DB2), ("10.1.0.4",))
    assert judge(e, answer(DB2, DB1)).verdict is Verdict.PASS
    assert judge(e, answer("10.1.0.4")).verdict is Verdict.PASS
    r = judge(e, answer(DB1))
    assert (
        r.reason
        == f"database answers without some of db's addresses: {DB2} (db (shop-db-2) on shop_data)"
    )


def test_resolve_an_answer_that_mixes_two_networks_passes_today() -> None:
    """Pinned as it is: the answer must equal one group, but only what it leaves out of the
    closest group is reported; all of one group plus part of another leaves nothing out."""
    assert judge(groups((DB1, DB2), ("10.1.0.4",)), answer(DB1, "10.1.0.4")).verdict is Verdict.PASS
    r = judge(groups((DB1, DB2), ("10.1.0.4", "10.1.0.5")), answer(DB1, "10.1.0.4"))
    assert (
        r.reason
        == f"database answers without some of db's addresses: {DB2} (db (shop-db-2) on shop_data)"
    )


def test_resolve_checks_each_asked_family_on_its_own() -> None:
    e = groups((DB1, "fd00:2::4"))
    a, aaaa = Observation(OK, (DB1,), qtype="A"), Observation(OK, ("fd00:2::4",), qtype="AAAA")
    assert judge(e, [a, aaaa]).verdict is Verdict.PASS
    assert judge(e, [a]).verdict is Verdict.PASS  # AAAA not asked (a source without IPv6)
    r = judge(e, [a, Observation(NODATA, qtype="AAAA")])
    assert r.verdict is Verdict.FAIL and r.reason.startswith(
        "database answers without some of db's addresses: fd00:2::4"
    )
    r = judge(e, [Observation(NODATA, qtype="A"), aaaa])
    assert (
        r.reason
        == f"database answers without some of db's addresses: {DB1} (db (shop-db-1) on shop_data)"
    )
    # a family the target has no address of is not checked
    assert (
        judge(resolve(), [*answer(DB1, DB2), Observation(NODATA, qtype="AAAA")]).verdict
        is Verdict.PASS
    )
    # every missing address of every question, each once
    r = judge(e, [Observation(OK, (DB2,), qtype="A"), Observation(NODATA, qtype="AAAA")])
    assert r.reason == (
        "database also answers with addresses that are not db's: "
        f"{DB2} is db (shop-db-2) on shop_data"
    )
    e2 = groups((DB1, DB2, "fd00:2::4"))
    r = judge(e2, [Observation(OK, (DB2,), qtype="A"), Observation(NODATA, qtype="AAAA")])
    assert r.reason == (
        f"database answers without some of db's addresses: {DB1} (db (shop-db-1) on shop_data); "
        "fd00:2::4 (no container of this snapshot)"
    )
    r = judge(resolve(), [*answer(DB2), *answer(DB2)])
    assert (
        r.reason
        == f"database answers without some of db's addresses: {DB1} (db (shop-db-1) on shop_data)"
    )


def test_reasons_name_the_owner_of_an_ipv6_address() -> None:
    """(Was a bug: the owner and the networks of an address were looked up by IPv4 only.)"""
    db = Container(
        "d" * 64,
        "shop-db-1",
        "shop",
        "db",
        "running",
        endpoints=(Endpoint("shop_data", DB1, ipv6="fd00:2::4"),),
    )
    e = groups((DB1, "fd00:2::4"))
    r = judge(
        e, [Observation(OK, (DB1,), qtype="A"), Observation(NODATA, qtype="AAAA")], state=world(db)
    )
    assert r.reason.endswith("fd00:2::4 (db (shop-db-1) on shop_data)")
    front = Container(
        "f" * 64,
        "shop-front-1",
        "shop",
        "front",
        "running",
        endpoints=(Endpoint("shop_web", FRONT_WEB), Endpoint("shop_data", None, ipv6="fd00:2::9")),
    )
    r = judge(no_resolve(), [Observation(OK, ("fd00:2::4",), qtype="AAAA")], front, state=world(db))
    assert r.reason == (
        "database resolves from front: fd00:2::4 is db (shop-db-1) on shop_data (front is attached "
        "to shop_data, which the contract does not give it)"
    )


def test_resolve_with_a_foreign_address_fails_and_names_its_owner() -> None:
    r = judge(resolve(), answer(DB1, API_DATA, "10.9.9.9"))
    assert r.verdict is Verdict.FAIL
    assert r.reason == (
        f"database also answers with addresses that are not db's: {API_DATA} is api (shop-api-1) "
        "on shop_data; 10.9.9.9 is no container of this snapshot"
    )


@pytest.mark.parametrize("outcome", [NXDOMAIN, TIMEOUT, NODATA, SERVFAIL])
def test_resolve_without_an_answer_fails(outcome: Outcome) -> None:
    """NODATA and SERVFAIL on a name that must resolve are a FAIL today (like NXDOMAIN and a
    timeout), whatever the control lookup said."""
    for ok in (True, False):
        r = judge(resolve(), seen(outcome), control_ok=ok)
        assert r.verdict is Verdict.FAIL
        assert r.reason == f"database does not resolve from api ({outcome.value})"


def test_resolve_ok_without_addresses_fails() -> None:
    r = judge(resolve(), [Observation(OK)])
    assert (r.verdict, r.reason) == (Verdict.FAIL, "database does not resolve from api (ok)")


def test_resolve_fail_says_when_the_source_is_not_attached() -> None:
    r = judge(resolve("front"), seen(NXDOMAIN), FRONT)
    assert (
        r.reason
        == "database does not resolve from front (nxdomain) because front is not attached to shop_data"
    )


def test_resolve_control_fail_has_no_network_to_blame() -> None:
    control = expect(
        Expect.RESOLVE,
        src="api",
        dst="api",
        tier="",
        targets=("api",),
        port=None,
        addresses=(API_WEB, API_DATA),
        control=True,
    )
    r = judge(control, seen(TIMEOUT))
    assert (r.verdict, r.reason) == (Verdict.FAIL, "api does not resolve from api (timeout)")
    r = judge(control, seen(TIMEOUT), FRONT)
    assert r.reason == "api does not resolve from api (timeout)"


def test_resolve_error_is_error_for_a_must_resolve_name() -> None:
    r = judge(resolve(), seen(ERROR, detail="no resolver tool"))
    assert (r.verdict, r.reason) == (Verdict.ERROR, "probe could not run: no resolver tool")


def test_resolve_reads_every_observation() -> None:
    """One expectation may have asked several questions (A, and AAAA where asked)."""
    a = [Observation(OK, (DB1, DB2), qtype="A")]
    assert judge(resolve(), [*a, Observation(NODATA, qtype="AAAA")]).verdict is Verdict.PASS
    assert judge(resolve(), [Observation(NXDOMAIN, qtype="AAAA"), *a]).verdict is Verdict.PASS
    r = judge(resolve(), [*answer(DB1), *answer("10.9.9.9"), *answer("10.9.9.9")])
    assert (
        r.reason
        == "database also answers with addresses that are not db's: 10.9.9.9 is no container of this snapshot"
    )
    r = judge(resolve(), [*answer(DB1), Observation(ERROR, detail="exec failed")])
    assert (r.verdict, r.reason) == (Verdict.ERROR, "probe could not run: exec failed")
    r = judge(resolve(), seen(NODATA, SERVFAIL, NODATA))
    assert (r.verdict, r.reason) == (
        Verdict.FAIL,
        "database does not resolve from api (nodata/servfail)",
    )


# -- NO_RESOLVE: the name must not resolve from the source -----------------------------------------


def no_resolve(
    src: str = "front", context: str = "front is on web; database exists only on data"
) -> Expectation:
    return expect(Expect.NO_RESOLVE, src=src, targets=("database",), port=None, context=context)


def test_no_resolve_nxdomain_passes_whatever_the_control() -> None:
    for ok in (True, False):
        r = judge(no_resolve(), seen(NXDOMAIN), FRONT, control_ok=ok)
        assert (r.verdict, r.reason) == (Verdict.PASS, "")


def test_no_resolve_timeout_passes_only_with_a_working_control() -> None:
    r = judge(no_resolve(), seen(TIMEOUT), FRONT, control_ok=True)
    assert (r.verdict, r.reason) == (Verdict.PASS, "")
    r = judge(no_resolve(), seen(TIMEOUT), FRONT, control_ok=False)
    assert r.verdict is Verdict.ERROR
    assert r.reason == "no DNS answer, and front's resolver did not answer its own name either"


def test_no_resolve_error_is_error() -> None:
    for ok in (True, False):
        r = judge(no_resolve(), seen(ERROR, detail="exec failed"), FRONT, control_ok=ok)
        assert (r.verdict, r.reason) == (Verdict.ERROR, "probe could not run: exec failed")


@pytest.mark.parametrize("outcome", [REFUSED, UNREACHABLE, OK])  # OK: an answer without an address
def test_no_resolve_outcomes_that_are_no_dns_answer_are_error(outcome: Outcome) -> None:
    for ok in (True, False):
        r = judge(no_resolve(), seen(outcome), FRONT, control_ok=ok)
        assert (r.verdict, r.reason) == (Verdict.ERROR, f"probe could not run: {outcome.value}")


def test_no_resolve_nodata_is_the_resolver_saying_no_address() -> None:
    """NOERROR without a record of the asked type: no address of that type, whatever the control
    (a name with only the other family's address is caught by the other question, where asked)."""
    for ok in (True, False):
        r = judge(
            no_resolve(), seen(NODATA, detail="NOERROR without A record"), FRONT, control_ok=ok
        )
        assert (r.verdict, r.reason) == (Verdict.PASS, "")
    assert (
        judge(no_resolve(), seen(NXDOMAIN, NODATA), FRONT, control_ok=False).verdict is Verdict.PASS
    )


def test_no_resolve_servfail_is_like_a_timeout() -> None:
    """SERVFAIL is what Docker's DNS answers for a name it cannot forward (an internal network):
    proof only with a working control."""
    r = judge(no_resolve(), seen(SERVFAIL), FRONT, control_ok=True)
    assert (r.verdict, r.reason) == (Verdict.PASS, "")
    r = judge(no_resolve(), seen(SERVFAIL), FRONT, control_ok=False)
    assert (r.verdict, r.reason) == (
        Verdict.ERROR,
        "no DNS answer, and front's resolver did not answer its own name either",
    )


def test_no_resolve_reads_every_observation() -> None:
    assert (
        judge(no_resolve(), seen(NXDOMAIN, TIMEOUT), FRONT, control_ok=True).verdict is Verdict.PASS
    )
    assert (
        judge(no_resolve(), seen(NXDOMAIN, SERVFAIL), FRONT, control_ok=False).verdict
        is Verdict.ERROR
    )
    # an answer in any of them is a leak, even next to an error
    r = judge(
        no_resolve(),
        [Observation(ERROR, detail="x"), Observation(NXDOMAIN), *answer("10.9.9.9")],
        FRONT,
    )
    assert r.verdict is Verdict.FAIL
    # every leaked address once
    r = judge(
        no_resolve(context="c"), [*answer("10.9.9.9"), *answer("10.9.9.9", "10.9.9.8")], FRONT
    )
    assert r.reason == (
        "database resolves from front: 10.9.9.9 is no container of this snapshot; "
        "10.9.9.8 is no container of this snapshot (c)"
    )
    # the first observation that proves nothing decides the error
    r = judge(
        no_resolve(),
        [Observation(NXDOMAIN), Observation(TIMEOUT), Observation(ERROR, detail="exec failed")],
        FRONT,
    )
    assert (r.verdict, r.reason) == (Verdict.ERROR, "probe could not run: timeout")
    r = judge(no_resolve(), [Observation(NODATA), Observation(ERROR, detail="exec failed")], FRONT)
    assert (r.verdict, r.reason) == (Verdict.ERROR, "probe could not run: exec failed")


def test_no_resolve_answer_fails_and_names_the_attachment_the_contract_does_not_give() -> None:
    front = ctr("front", "shop-front-1", ("shop_web", FRONT_WEB), ("shop_data", "10.2.0.9"))
    r = judge(no_resolve(), answer(DB1, DB2), front)
    assert r.verdict is Verdict.FAIL
    assert r.reason == (
        f"database resolves from front: {DB1} is db (shop-db-1) on shop_data; {DB2} is db "
        "(shop-db-2) on shop_data (front is attached to shop_data, which the contract does not "
        "give it)"
    )


def test_no_resolve_answer_without_a_wrong_attachment_gives_the_contract_context() -> None:
    r = judge(no_resolve(), answer("10.9.9.9"), FRONT)
    assert r.reason == (
        "database resolves from front: 10.9.9.9 is no container of this snapshot "
        "(front is on web; database exists only on data)"
    )
    # an address on a network of the source that is one of its tiers is no wrong attachment
    r = judge(no_resolve("api", context="ctx"), answer(API_WEB), API)
    assert (
        r.reason == f"database resolves from api: {API_WEB} is api (shop-api-1) on shop_web (ctx)"
    )


def test_no_resolve_answer_on_a_network_that_is_no_tier() -> None:
    stray = ctr("db", "shop-db-1", ("shop_data", DB1), ("stray", "10.7.0.4"))
    front = ctr("front", "shop-front-1", ("shop_web", FRONT_WEB), ("stray", "10.7.0.2"))
    r = judge(no_resolve(), answer("10.7.0.4"), front, state=world(stray))
    assert r.reason.endswith("(front is attached to stray, which the contract does not give it)")


def test_no_resolve_from_a_source_outside_the_contract() -> None:
    ghost = Container(
        "g" * 64,
        "ghost",
        "shop",
        "ghost",
        "running",
        endpoints=(Endpoint("shop_data", "10.2.0.8"),),
    )
    r = judge(no_resolve("ghost"), answer(DB1), ghost)
    assert r.reason.endswith(
        "(ghost is attached to shop_data, which the contract does not give it)"
    )


# -- the Result that evaluate builds ---------------------------------------------------------------


def test_evaluate_fills_the_result() -> None:
    e = expect(Expect.CONNECT, targets=(DB1, DB2))
    obs = [Observation(OK, output="open", tool="nc"), Observation(TIMEOUT, output="", tool="")]
    r = evaluate(
        e,
        obs,
        source=API,
        contract=CONTRACT,
        state=world(),
        control_ok=True,
        duration=1.5,
        attempts=2,
    )
    assert (r.id, r.kind, r.subject, r.expected) == (
        "reach:api->db",
        Kind.REACH,
        "api->db",
        "expected connect",
    )
    assert (r.src, r.dst, r.tier, r.duration, r.attempts) == ("api", "db", "data", 1.5, 2)
    assert r.actual == "ok; timeout"
    assert r.output == f"[nc:{DB1}] open\n[?:{DB2}]"


def test_evaluate_defaults() -> None:
    r = evaluate(
        expect(Expect.CONNECT),
        seen(OK),
        source=API,
        contract=CONTRACT,
        state=world(),
        control_ok=True,
    )
    assert (r.duration, r.attempts) == (0.0, 1)


def test_evaluate_output_with_more_observations_than_targets() -> None:
    obs = [Observation(OK, output="a", tool="t"), Observation(OK, output="b", tool="t")]
    r = judge(expect(Expect.CONNECT), obs)
    assert r.output == f"[t:{DB1}] a\n[t:?] b"


def test_observed_text_dedupes_and_shows_error_details_only() -> None:
    obs = [
        Observation(ERROR, detail="boom"),
        Observation(ERROR, detail="boom"),
        Observation(TIMEOUT, detail="slow"),
        Observation(ERROR),
        Observation(OK, (DB1, DB2)),
    ]
    r = judge(expect(Expect.BLOCKED, context="c"), obs)
    assert r.actual == f"error (boom); timeout; error; {DB1}, {DB2}"


def test_no_resolve_answer_names_every_wrong_attachment() -> None:
    db = ctr("db", "shop-db-1", ("shop_data", DB1), ("stray", "10.7.0.4"))
    front = ctr(
        "front",
        "shop-front-1",
        ("shop_web", FRONT_WEB),
        ("shop_data", "10.2.0.9"),
        ("stray", "10.7.0.2"),
    )
    r = judge(no_resolve(), answer(DB1, "10.7.0.4"), front, state=world(db))
    assert r.reason.endswith(
        "(front is attached to shop_data, which the contract does not give it; "
        "front is attached to stray, which the contract does not give it)"
    )


# -- HOST: the Docker host, seen from a service whose tiers are all internal ----------------------


def host(port: int | None, *, report_only: bool) -> Expectation:
    e = expect(
        Expect.BLOCKED,
        src="db",
        dst="10.2.0.1",
        tier="data",
        kind=Kind.HOST,
        targets=("10.2.0.1",),
        port=port,
        context="host: deny on data",
    )
    return replace(e, report_only=report_only)


def test_host_answer_is_reported_not_failed_under_host_report() -> None:
    r = judge(host(None, report_only=True), seen(OK), DB_1)
    assert (r.verdict, r.reason) == (
        Verdict.PASS,
        "the Docker host answers db at 10.2.0.1 (ICMP echo): engines "
        "allow this by design; `host: deny` on the tier fails it",
    )


def test_host_answer_fails_under_host_deny() -> None:
    r = judge(host(2375, report_only=False), seen(REFUSED), DB_1)
    assert (r.verdict, r.reason) == (
        Verdict.FAIL,
        "the Docker host answers db at 10.2.0.1 (port 2375) [host: deny on data]",
    )
    for report_only in (True, False):
        assert (
            judge(host(2375, report_only=report_only), seen(TIMEOUT), DB_1).verdict is Verdict.PASS
        )


def test_the_result_names_the_source_replica_and_container() -> None:
    e = replace(expect(Expect.CONNECT), label="api[shop-api-2]")
    r = judge(e, seen(OK))
    assert (r.subject, r.src, r.containers) == ("api[shop-api-2]->db", "api", ("shop-api-1",))
    assert judge(expect(Expect.CONNECT), seen(OK)).subject == "api->db"


def test_resolve_an_answer_that_is_not_ok_brings_no_address() -> None:
    r = judge(
        resolve(),
        [Observation(OK, (DB1, DB2), qtype="A"), Observation(TIMEOUT, (DB1, DB2), qtype="A")],
    )
    assert r.reason == (
        f"database answers without some of db's addresses: {DB1} (db (shop-db-1) on shop_data); "
        f"{DB2} (db (shop-db-2) on shop_data)"
    )


def test_a_getent_answer_with_one_of_several_replicas_is_no_failure() -> None:
    """musl's `getent hosts` prints one address of several: it proves no foreign address, not all of them."""
    from dataclasses import replace as _replace

    exp = _replace(expect(Expect.RESOLVE, addresses=(DB1, DB2)), groups=(frozenset({DB1, DB2}),))
    assert judge(exp, [Observation(OK, (DB1,), tool="getent", qtype="A")]).verdict is Verdict.PASS
    assert judge(exp, [Observation(OK, (DB1,), tool="nslookup", qtype="A")]).verdict is Verdict.FAIL
    assert (
        judge(exp, [Observation(OK, (DB1, DB2), tool="nslookup", qtype="A")]).verdict
        is Verdict.PASS
    )

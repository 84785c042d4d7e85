"""The judge across one source's batch: the DNS control, what is retried, proven leaks and
`judge_source` (a source that could not probe, containers that stopped during the check)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from test_judge_verdicts import API, API_DATA, API_WEB, CONTRACT, DB1, DB2, FRONT, expect, world

from netcontract.probe.observation import Observation, Outcome
from netcontract.probe.plan import Expect, Expectation, SourcePlan
from netcontract.probe.verdicts import control_ok, differs, judge_source, proven_leak, to_retry
from netcontract.results import Kind, Result, Verdict

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


def obs(*outcomes: Outcome) -> list[Observation]:
    return [Observation(o) for o in outcomes]


def named(e: Expectation, rid: str) -> Expectation:
    return replace(e, id=rid)


CONTROL = replace(
    expect(
        Expect.RESOLVE,
        src="api",
        dst="api",
        tier="",
        targets=("api",),
        port=None,
        addresses=(API_WEB, API_DATA),
        control=True,
    ),
    groups=(frozenset({API_WEB}), frozenset({API_DATA})),
)
REACH = named(expect(Expect.CONNECT, targets=(DB1, DB2)), "reach:api->db:5432@data")
ISO = named(
    expect(
        Expect.BLOCKED,
        src="api",
        dst="front",
        tier="web",
        targets=("10.1.0.2",),
        port=80,
        context="c",
    ),
    "isolation:api->front:80@web",
)
ISO2 = named(ISO, "isolation:api->front:80@web#2")
RESOLVE = named(
    expect(Expect.RESOLVE, targets=("database",), port=None, addresses=(DB1, DB2)),
    "dns:api->database",
)
NO_RESOLVE = named(
    expect(Expect.NO_RESOLVE, dst="front", tier="web", targets=("secret",), port=None, context="x"),
    "dns:api->secret",
)
BATCH = (CONTROL, REACH, ISO, RESOLVE, NO_RESOLVE)


# -- control_ok: the source's resolver answered its own name --------------------------------------


def test_control_ok_when_the_own_name_resolved() -> None:
    assert control_ok(BATCH, {CONTROL.id: [Observation(OK, (API_WEB,))]}) is True


@pytest.mark.parametrize(
    "got",
    [
        [],  # no observation at all
        [Observation(TIMEOUT)],  # the lookup timed out
        [Observation(NXDOMAIN)],
        [Observation(SERVFAIL)],
        [Observation(ERROR, detail="no tool")],  # the lookup failed
        [Observation(OK)],  # answered without an address
        [Observation(OK, (API_WEB,)), Observation(TIMEOUT)],  # one of its lookups failed
    ],
)
def test_control_not_ok_when_the_own_lookup_failed(got: list[Observation]) -> None:
    assert control_ok(BATCH, {CONTROL.id: got}) is False


def test_control_not_ok_without_a_control_or_its_observation() -> None:
    assert control_ok(BATCH, {}) is False
    assert (
        control_ok((REACH, RESOLVE), {REACH.id: obs(OK), RESOLVE.id: [Observation(OK, (DB1,))]})
        is False
    )


def test_control_is_the_first_control_expectation() -> None:
    second = named(CONTROL, "dns:api->api#2")
    assert control_ok(
        (CONTROL, second), {CONTROL.id: [Observation(OK, (API_WEB,))], second.id: obs(TIMEOUT)}
    )
    assert not control_ok(
        (CONTROL, second), {CONTROL.id: obs(TIMEOUT), second.id: [Observation(OK, (API_WEB,))]}
    )


# -- differs: does the observation disagree with the expectation? ----------------------------------


@pytest.mark.parametrize(
    ("e", "got", "resolver_ok", "disagrees"),
    [
        (REACH, obs(OK, OK), True, False),
        (REACH, obs(OK, TIMEOUT), True, True),
        (REACH, obs(REFUSED), True, True),
        (ISO, obs(TIMEOUT), True, False),
        (ISO, obs(UNREACHABLE), True, False),
        # a forbidden path seen open is evidence: another attempt could only hide it
        (ISO, obs(OK), True, False),
        (ISO, obs(REFUSED), True, False),
        (ISO, obs(TIMEOUT, REFUSED), True, False),
        (RESOLVE, [Observation(OK, (DB1, DB2))], True, False),
        (RESOLVE, [Observation(OK, (DB2,))], True, False),  # a subset agrees
        (RESOLVE, [Observation(OK, (DB1, "10.9.9.9"))], True, True),
        (RESOLVE, [Observation(OK, (DB1,)), Observation(OK, ("10.9.9.9",))], True, True),
        (RESOLVE, obs(NXDOMAIN), True, True),
        (RESOLVE, [Observation(OK, (DB1,)), Observation(TIMEOUT)], True, True),
        (NO_RESOLVE, obs(NXDOMAIN), False, False),
        (NO_RESOLVE, [Observation(OK, (DB1,))], True, False),  # a proven leak
        (NO_RESOLVE, obs(NXDOMAIN, OK), True, True),  # an answer without an address is no proof
        (NO_RESOLVE, obs(TIMEOUT), True, False),
        (NO_RESOLVE, obs(TIMEOUT), False, True),
        (NO_RESOLVE, obs(SERVFAIL), True, False),
        (NO_RESOLVE, obs(SERVFAIL), False, True),
        (NO_RESOLVE, obs(NODATA), False, False),
    ],
)
def test_differs(
    e: Expectation, got: list[Observation], resolver_ok: bool, disagrees: bool
) -> None:
    assert differs(e, got, resolver_ok) is disagrees


@pytest.mark.parametrize("e", [REACH, ISO, RESOLVE, NO_RESOLVE])
def test_an_error_never_differs(e: Expectation) -> None:
    assert differs(e, obs(ERROR), False) is False
    assert differs(e, obs(OK, ERROR), False) is False


# -- to_retry: which probes deserve another, longer attempt ----------------------------------------


def ids(exps: Sequence[Expectation]) -> list[str]:
    return [e.id for e in exps]


def test_nothing_is_retried_when_everything_agrees() -> None:
    seen = {
        CONTROL.id: [Observation(OK, (API_WEB,))],
        REACH.id: obs(OK, OK),
        ISO.id: obs(TIMEOUT),
        RESOLVE.id: [Observation(OK, (DB1,))],
        NO_RESOLVE.id: obs(TIMEOUT),
    }
    assert to_retry(BATCH, seen) == []


def test_disagreements_are_retried_in_plan_order() -> None:
    seen = {
        CONTROL.id: obs(TIMEOUT),
        REACH.id: obs(OK, REFUSED),
        ISO.id: obs(TIMEOUT),
        RESOLVE.id: obs(NXDOMAIN),
        NO_RESOLVE.id: obs(NXDOMAIN, OK),
    }
    assert ids(to_retry(BATCH, seen)) == [CONTROL.id, REACH.id, RESOLVE.id, NO_RESOLVE.id]


def test_a_proven_leak_is_not_retried() -> None:
    seen = {
        REACH.id: obs(OK, OK),
        ISO.id: obs(TIMEOUT, OK),
        NO_RESOLVE.id: [Observation(OK, (DB1,))],
    }
    assert to_retry((REACH, ISO, NO_RESOLVE), seen) == []


def test_a_proven_leak_is_not_retried_even_in_a_starved_batch() -> None:
    """(Was a bug: the starved-batch clause repeated it, and the retry's timeouts replaced the evidence.)"""
    seen = {REACH.id: obs(TIMEOUT), ISO.id: obs(TIMEOUT, OK), ISO2.id: obs(REFUSED, TIMEOUT)}
    assert to_retry((REACH, ISO, ISO2), seen) == [REACH]


def test_expectations_without_observations_are_not_retried() -> None:
    assert to_retry(BATCH, {REACH.id: obs(TIMEOUT)}) == [REACH]


def test_dns_timeouts_are_retried_when_the_control_failed_in_the_batch() -> None:
    seen = {CONTROL.id: obs(TIMEOUT), NO_RESOLVE.id: obs(TIMEOUT)}
    assert ids(to_retry(BATCH, seen)) == [CONTROL.id, NO_RESOLVE.id]
    seen = {CONTROL.id: [Observation(OK, (API_WEB,))], NO_RESOLVE.id: obs(TIMEOUT)}
    assert to_retry(BATCH, seen) == []
    # the control outside the observed batch does not count
    assert to_retry((CONTROL, NO_RESOLVE), {NO_RESOLVE.id: obs(TIMEOUT)}) == [NO_RESOLVE]


def test_starved_batch_retries_the_blocked_timeouts_too() -> None:
    """A path that must connect timed out: the batch may have been starved, so its "blocked"
    timeouts prove nothing either."""
    seen = {REACH.id: obs(OK, TIMEOUT), ISO.id: obs(TIMEOUT), ISO2.id: obs(UNREACHABLE)}
    assert ids(to_retry((REACH, ISO, ISO2), seen)) == [REACH.id, ISO.id]


def test_a_batch_is_not_starved_by_a_refused_or_unreachable_connect() -> None:
    for outcome in (REFUSED, UNREACHABLE):
        seen = {REACH.id: obs(outcome), ISO.id: obs(TIMEOUT)}
        assert ids(to_retry((REACH, ISO), seen)) == [REACH.id]


def test_blocked_timeouts_are_not_retried_in_a_healthy_batch() -> None:
    assert to_retry((REACH, ISO), {REACH.id: obs(OK, OK), ISO.id: obs(TIMEOUT)}) == []


def test_a_timed_out_dns_lookup_does_not_starve_the_batch() -> None:
    seen = {
        CONTROL.id: [Observation(OK, (API_WEB,))],
        NO_RESOLVE.id: obs(TIMEOUT),
        ISO.id: obs(TIMEOUT),
    }
    assert to_retry((CONTROL, NO_RESOLVE, ISO), seen) == []


def test_errors_are_never_retried_not_even_in_a_starved_batch() -> None:
    seen = {REACH.id: obs(ERROR), ISO.id: obs(ERROR)}
    assert to_retry((REACH, ISO), seen) == []
    starved = {
        REACH.id: obs(TIMEOUT),
        ISO.id: obs(ERROR),
        RESOLVE.id: obs(ERROR),
        NO_RESOLVE.id: obs(ERROR),
    }
    assert to_retry((REACH, ISO, RESOLVE, NO_RESOLVE), starved) == [REACH]


def test_starved_batch_retries_a_blocked_probe_with_one_error_and_one_timeout_today() -> None:
    """Pinned as it is: the starved rule looks at timeouts only, so an isolation probe whose
    targets gave an ERROR and a TIMEOUT is repeated (differs alone would not repeat it)."""
    seen = {REACH.id: obs(TIMEOUT), ISO.id: obs(ERROR, TIMEOUT)}
    assert ids(to_retry((REACH, ISO), seen)) == [REACH.id, ISO.id]


# -- proven_leak: evidence that survives a container that died -------------------------------------


@pytest.mark.parametrize(
    ("e", "got", "leak"),
    [
        (ISO, obs(OK), True),
        (ISO, obs(TIMEOUT, REFUSED), True),
        (ISO, obs(TIMEOUT, UNREACHABLE), False),
        (ISO, obs(ERROR), False),
        (NO_RESOLVE, [Observation(OK, (DB1,))], True),
        (NO_RESOLVE, [Observation(NXDOMAIN), Observation(OK, (DB1,))], True),
        (NO_RESOLVE, obs(OK), False),  # no address, no leak
        (NO_RESOLVE, obs(NXDOMAIN), False),
        (NO_RESOLVE, [Observation(TIMEOUT, (DB1,))], False),
        (REACH, obs(OK), False),
        (RESOLVE, [Observation(OK, ("10.9.9.9",))], False),
    ],
)
def test_proven_leak(e: Expectation, got: list[Observation], leak: bool) -> None:
    assert proven_leak(e, got) is leak


# -- judge_source ----------------------------------------------------------------------------------


def source(*exps: Expectation) -> SourcePlan:
    return SourcePlan("api", API, exps or BATCH)


def verdicts(results: list[Result]) -> dict[str, Verdict]:
    return {r.id: r.verdict for r in results}


def test_a_source_that_could_not_probe_is_all_error() -> None:
    seen = {REACH.id: obs(OK, OK)}
    res = judge_source(
        source(), seen, contract=CONTRACT, state=world(), problem="exec failed: no such container"
    )
    assert [r.id for r in res] == ids(BATCH)
    for r, e in zip(res, BATCH, strict=True):
        assert (r.verdict, r.actual, r.reason) == (
            Verdict.ERROR,
            "not probed",
            "exec failed: no such container",
        )
        assert (r.kind, r.subject, r.expected, r.src, r.dst, r.tier) == (
            e.kind,
            f"{e.src}->{e.dst}",
            e.expected,
            e.src,
            e.dst,
            e.tier,
        )


def test_judge_source_uses_the_batch_control_for_dns_timeouts() -> None:
    seen = {CONTROL.id: [Observation(OK, (API_WEB,))], NO_RESOLVE.id: obs(TIMEOUT)}
    res = verdicts(
        judge_source(source(CONTROL, NO_RESOLVE), seen, contract=CONTRACT, state=world())
    )
    assert res == {CONTROL.id: Verdict.PASS, NO_RESOLVE.id: Verdict.PASS}
    seen = {CONTROL.id: obs(TIMEOUT), NO_RESOLVE.id: obs(TIMEOUT)}
    res = verdicts(
        judge_source(source(CONTROL, NO_RESOLVE), seen, contract=CONTRACT, state=world())
    )
    assert res == {CONTROL.id: Verdict.FAIL, NO_RESOLVE.id: Verdict.ERROR}


def test_judge_source_without_observation_is_error() -> None:
    res = judge_source(source(REACH), {}, contract=CONTRACT, state=world())
    assert [(r.verdict, r.reason) for r in res] == [(Verdict.ERROR, "no observation")]


def test_judge_source_passes_attempts_and_duration() -> None:
    seen = {REACH.id: obs(OK, OK), ISO.id: obs(TIMEOUT)}
    res = judge_source(
        source(REACH, ISO),
        seen,
        contract=CONTRACT,
        state=world(),
        attempts={ISO.id: 3},
        duration=2.5,
    )
    assert [(r.attempts, r.duration) for r in res] == [(1, 2.5), (3, 2.5)]
    default = judge_source(source(REACH), seen, contract=CONTRACT, state=world())
    assert (default[0].attempts, default[0].duration) == (1, 0.0)


def test_void_turns_a_timeout_pass_into_error() -> None:
    """A container that stopped or restarted during the check voids what was seen to or from it."""
    seen = {REACH.id: obs(OK, OK), ISO.id: obs(TIMEOUT)}
    res = judge_source(source(REACH, ISO), seen, contract=CONTRACT, state=world(), void=("front",))
    assert verdicts(res) == {REACH.id: Verdict.PASS, ISO.id: Verdict.ERROR}
    assert (
        res[1].reason
        == "front stopped or restarted during the check, so this observation proves nothing"
    )


def test_void_names_the_source_first() -> None:
    seen = {REACH.id: obs(OK, OK)}
    res = judge_source(source(REACH), seen, contract=CONTRACT, state=world(), void=("db", "api"))
    assert res[0].verdict is Verdict.ERROR
    assert res[0].reason.startswith("api stopped or restarted")
    res = judge_source(source(REACH), seen, contract=CONTRACT, state=world(), void=("db",))
    assert res[0].reason.startswith("db stopped or restarted")


def test_void_turns_a_fail_that_is_no_leak_into_error() -> None:
    seen = {REACH.id: obs(OK, TIMEOUT), RESOLVE.id: [Observation(OK, ("10.9.9.9",))]}
    res = judge_source(source(REACH, RESOLVE), seen, contract=CONTRACT, state=world(), void=("db",))
    assert verdicts(res) == {REACH.id: Verdict.ERROR, RESOLVE.id: Verdict.ERROR}


def test_void_keeps_a_proven_leak_a_fail() -> None:
    seen = {ISO.id: obs(OK), NO_RESOLVE.id: [Observation(OK, (DB1,))]}
    res = judge_source(
        source(ISO, NO_RESOLVE), seen, contract=CONTRACT, state=world(), void=("front",)
    )
    assert verdicts(res) == {ISO.id: Verdict.FAIL, NO_RESOLVE.id: Verdict.FAIL}
    assert "stopped" not in res[0].reason and "stopped" not in res[1].reason


def test_void_leaves_other_services_alone() -> None:
    seen = {ISO.id: obs(TIMEOUT)}
    res = judge_source(source(ISO), seen, contract=CONTRACT, state=world(), void=("db", "mon"))
    assert verdicts(res) == {ISO.id: Verdict.PASS}


def test_judge_source_judges_each_expectation_from_its_own_observations() -> None:
    iso = named(expect(Expect.BLOCKED, src="front", context="c"), "i")
    seen = {"i": obs(REFUSED), ISO.id: obs(TIMEOUT)}
    res = judge_source(SourcePlan("front", FRONT, (iso,)), seen, contract=CONTRACT, state=world())
    assert [(r.id, r.kind, r.verdict) for r in res] == [("i", Kind.ISOLATION, Verdict.FAIL)]


def test_a_host_answer_under_host_report_is_no_proven_leak() -> None:
    report = replace(ISO, kind=Kind.HOST, report_only=True)
    assert proven_leak(report, obs(OK)) is False
    assert proven_leak(replace(report, report_only=False), obs(OK)) is True


def test_an_ipv6_leak_whose_ipv4_twin_is_blocked_names_the_likely_cause() -> None:
    v6 = named(ISO, ISO.id + "/ipv6")
    iso2_v6 = named(ISO, "isolation:api->front:81@web/ipv6")
    seen = {ISO.id: obs(TIMEOUT), v6.id: obs(OK), iso2_v6.id: obs(OK)}
    res = judge_source(source(ISO, v6, iso2_v6), seen, contract=CONTRACT, state=world())
    assert [r.verdict for r in res] == [Verdict.PASS, Verdict.FAIL, Verdict.FAIL]
    assert res[1].reason.endswith(
        "; IPv4 is dropped on the same path and IPv6 connects: the engine does not filter "
        "IPv6 between networks (ip6tables off: the default before Docker 27, and still "
        "switchable off)"
    )
    assert "IPv4 is dropped" not in res[2].reason  # no IPv4 twin
    # both leak: nothing to explain
    res = judge_source(
        source(ISO, v6), {ISO.id: obs(OK), v6.id: obs(OK)}, contract=CONTRACT, state=world()
    )
    assert not [r for r in res if "IPv4 is dropped" in r.reason]
    # only isolation results are explained
    reach_v6 = named(REACH, REACH.id + "/ipv6")
    res = judge_source(
        source(REACH, reach_v6),
        {REACH.id: obs(OK, OK), reach_v6.id: obs(TIMEOUT)},
        contract=CONTRACT,
        state=world(),
    )
    assert not [r for r in res if "IPv4 is dropped" in r.reason]

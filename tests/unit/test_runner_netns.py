"""The runner's netns executor through the NamespaceProber Protocol with a fake prober: one pass over
every source, the calibration of the windows that decide timeouts, retries, names as targets and the
report notes (tests/unit/fake_engine.py; no daemon, no root)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fake_engine import Stack

from netcontract.live.netns.enter import Stretch
from netcontract.live.runner import ExecutorMode
from netcontract.probe.observation import Observation, Outcome, ProbeKind
from netcontract.results import Result, Verdict

NETNS, AUTO = ExecutorMode.NETNS, ExecutorMode.AUTO
TCP, DNS, ICMP = ProbeKind.TCP, ProbeKind.DNS, ProbeKind.ICMP
CANARY = "172.30.0.9"
# the sources without a probe of the host (db's tiers are all internal: it pings its gateway)
NO_HOST = ("traefik", "auth-service", "backend", "discord-integration", "dashboard", "frontend")


def window_note(note: str, *parts: str) -> bool:
    """The netns window note, with `parts` like `tcp 300 ms (slowest answer 30.0 ms)` in it. The kind may carry
    the address family (tcp4), and the last words may say "kind of path": both spellings are accepted."""
    head = re.match(
        r"netns: timeouts judged on windows of at least (.*); floor 100 ms, "
        r"10x the slowest answer (of|on) the same kind( of path)?$",
        note,
    )
    if head is None:
        return False
    listed = re.sub(r"\b(tcp|icmp)[46]\b", r"\1", head.group(1))
    return all(p in listed for p in parts)


def of(results: dict[str, Result], src: str) -> dict[str, Result]:
    return {rid: r for rid, r in results.items() if r.src == src}


def verdicts(results: dict[str, Result]) -> set[Verdict]:
    return {r.verdict for r in results.values()}


def timed_out(stack: Stack, service: str) -> set[tuple[ProbeKind, str, int | None]]:
    """What `service` probes that the compliant stack drops: its isolation probes."""
    out = set()
    for rid in stack.expectation_ids(service):
        e = stack.expectation(rid)
        if rid.startswith("isolation:"):
            out.add((e.probe_kind, e.targets[0], e.port))
    return out


@pytest.fixture
def stack() -> Stack:
    return Stack()


# -- one pass, every source -------------------------------------------------------------------


def test_one_netns_pass_over_every_source_on_the_floor_window(stack: Stack) -> None:
    results = stack.run(mode=NETNS)
    run = stack.prober.runs[0]  # every source on one selector
    assert run.window == pytest.approx(0.1)
    assert sorted(run.keys) == sorted(c.id for c in stack.state.containers)
    assert sum(len(s.probes) for s in run.sources) == len(results)
    assert (
        stack.engine.calls["exec"]
        == stack.engine.calls["sidecar"]
        == stack.engine.calls["image_problem"]
        == 0
    )
    assert verdicts(results) == {Verdict.PASS} and {r.executor for r in results.values()} == {
        "netns"
    }
    assert all(r.output.startswith("[netns:") for r in results.values())


def test_netns_progress_counts_the_namespace_sources_at_once(stack: Stack) -> None:
    stack.prober.problems[stack.id("db")] = "no process 9366 on this host"
    seen: list[tuple[int, int]] = []
    stack.run(mode=AUTO, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(6, 7), (7, 7)]


def test_netns_with_a_problem_is_error_for_that_source_never_pass(stack: Stack) -> None:
    front = stack.id("frontend")
    why = "no process 9364 on this host (container stopped, or the engine runs elsewhere)"
    stack.prober.problems[front] = why
    results = stack.run(mode=NETNS)
    mine = of(results, "frontend")
    assert verdicts(mine) == {Verdict.ERROR}
    assert all(
        r.reason == f"netns executor: {why}" and r.actual == "not probed" for r in mine.values()
    )
    assert {r.executor for r in mine.values()} == {"netns"}
    assert all(front not in run.keys for run in stack.prober.runs)
    assert (
        stack.engine.calls["exec"] == stack.engine.calls["sidecar"] == 0
    )  # netns never falls back
    assert verdicts({k: r for k, r in results.items() if r.src != "frontend"}) == {Verdict.PASS}
    assert not any(n.startswith("auto:") for n in stack.last_runner.notes)


def test_netns_where_no_namespace_can_be_entered_is_error_everywhere(stack: Stack) -> None:
    stack.prober.default_problem = "netns needs root or CAP_SYS_ADMIN"
    results = stack.run(mode=NETNS)
    assert verdicts(results) == {Verdict.ERROR} and not stack.prober.runs
    assert stack.last_runner.notes == []  # no window was used, so none is reported


def test_a_probe_the_netns_run_did_not_answer_is_error_never_pass(stack: Stack) -> None:
    stack.prober.silent.add((stack.id("frontend"), stack.ip("db", "data_tier")))
    r = stack.run(mode=NETNS)["isolation:frontend->db:5432@data_tier"]
    assert r.verdict is Verdict.ERROR and "netns run returned no observation" in r.reason


def test_a_netns_error_observation_is_error_and_not_retried(stack: Stack) -> None:
    front = stack.id("frontend")
    stack.prober.canned[(front, TCP, stack.ip("db", "data_tier"), 5432)] = Observation(
        Outcome.ERROR, detail="EMFILE (Too many open files)", tool="netns"
    )
    r = stack.run("frontend", mode=NETNS)["isolation:frontend->db:5432@data_tier"]
    assert r.verdict is Verdict.ERROR and "EMFILE" in r.reason and r.attempts == 1
    assert len(stack.prober.runs) == 1


# -- calibration --------------------------------------------------------------------------------


def test_fast_answers_keep_the_floor_window(stack: Stack) -> None:
    stack.run("frontend", mode=NETNS)
    assert [r.window for r in stack.prober.runs] == [pytest.approx(0.1)]
    assert window_note(stack.last_runner.notes[0], "tcp 100 ms (slowest answer 0.2 ms)")


def test_a_slow_source_waits_ten_times_its_slowest_answer_in_the_first_pass(stack: Stack) -> None:
    """The first pass stretches: its unanswered probes wait 10x the slowest answer of their kind so far, so
    nothing needs probing again."""
    front = stack.id("frontend")
    stack.world.slow(0.03, src=front)  # every answer from frontend takes 30 ms
    results = stack.run("frontend", mode=NETNS)
    (first,) = stack.prober.runs
    assert first.window == pytest.approx(0.1)
    assert first.stretch == Stretch(
        10, 2.0
    )  # NETNS_MULTIPLE, capped at the first retry's window (2 x 1 s)
    blocked = {rid for rid in results if rid.startswith("isolation:")}
    assert blocked and all(results[rid].attempts == 1 for rid in blocked)
    assert verdicts(results) == {Verdict.PASS}
    (note,) = stack.last_runner.notes
    assert window_note(note, "tcp 300 ms (slowest answer 30.0 ms)")


def test_a_reach_slower_than_the_first_window_is_caught_by_the_stretch(stack: Stack) -> None:
    front, backend = stack.id("frontend"), stack.ip("backend", "api_tier")
    stack.world.slow(0.03, src=front)
    stack.world.slow(0.15, src=front, target=backend)  # later than 100 ms, within 10 x 30 ms
    results = stack.run("frontend", mode=NETNS, retries=0)
    assert len(stack.prober.runs) == 1
    r = results["reach:frontend->backend:8001@api_tier"]
    assert r.verdict is Verdict.PASS and r.attempts == 1


# The calibration pass stays as the safety net: a probe that expired before a slower answer of its kind came
# in (which the real engine cannot always avoid) had a shorter window than the run's answers call for.


def test_timeouts_shorter_than_the_run_calls_for_are_probed_again_with_ten_times_the_slowest_answer(
    stack: Stack,
) -> None:
    front = stack.id("frontend")
    stack.prober.stretches = False
    stack.world.slow(0.03, src=front)  # every answer from frontend takes 30 ms
    results = stack.run("frontend", mode=NETNS)
    first, again = stack.prober.runs
    assert first.window == pytest.approx(0.1) and again.window == pytest.approx(0.3)
    assert again.keys == [front]
    assert set(again.probes_of(front)) == timed_out(
        stack, "frontend"
    )  # only the timeouts, not the answers
    blocked = {rid for rid in results if rid.startswith("isolation:")}
    assert all(results[rid].attempts == 2 for rid in blocked)
    assert verdicts(results) == {Verdict.PASS}
    (note,) = stack.last_runner.notes
    assert window_note(note, "tcp 300 ms (slowest answer 30.0 ms)")


def test_calibration_catches_a_reach_slower_than_the_first_window(stack: Stack) -> None:
    front, backend = stack.id("frontend"), stack.ip("backend", "api_tier")
    stack.prober.stretches = False
    stack.world.slow(0.03, src=front)
    stack.world.slow(0.15, src=front, target=backend)  # later than 100 ms, within 300 ms
    results = stack.run("frontend", mode=NETNS, retries=0)
    assert [r.window for r in stack.prober.runs] == [pytest.approx(0.1), pytest.approx(0.3)]
    r = results["reach:frontend->backend:8001@api_tier"]
    assert r.verdict is Verdict.PASS and r.attempts == 2


def test_the_slowest_answer_of_any_source_sets_every_sources_window(stack: Stack) -> None:
    """The calibration takes the slowest answer of the same kind from the same source, or from any
    source if that is slower: a fast source's timeouts are probed again too."""
    front, dash = stack.id("frontend"), stack.id("dashboard")
    stack.prober.stretches = False
    stack.world.slow(0.03, src=front)
    stack.run("frontend", "dashboard", mode=NETNS)
    again = stack.prober.runs[1]
    assert sorted(again.keys) == sorted([front, dash]) and again.window == pytest.approx(0.3)
    assert set(again.probes_of(dash)) == timed_out(stack, "dashboard")


def test_the_stretch_takes_the_slowest_answer_of_any_source_too(stack: Stack) -> None:
    stack.world.slow(0.03, src=stack.id("frontend"))
    results = stack.run("frontend", "dashboard", mode=NETNS)
    assert len(stack.prober.runs) == 1
    dash = [r for rid, r in results.items() if rid.startswith("isolation:dashboard")]
    assert dash and all(r.verdict is Verdict.PASS and r.attempts == 1 for r in dash)
    assert window_note(stack.last_runner.notes[0], "tcp 300 ms (slowest answer 30.0 ms)")


def test_a_slow_answer_of_another_kind_does_not_lengthen_tcp_windows(stack: Stack) -> None:
    front = stack.id("frontend")
    stack.world.slow(0.05, src=front, target="backend")  # one slow DNS answer
    stack.run("frontend", mode=NETNS)
    assert len(stack.prober.runs) == 1
    assert (
        "dns" not in stack.last_runner.notes[0]
    )  # no DNS probe timed out: no DNS window to report
    assert window_note(stack.last_runner.notes[0], "tcp 100 ms")


def test_the_calibrated_window_never_exceeds_the_first_retry_window(stack: Stack) -> None:
    stack.world.slow(0.03, src=stack.id("frontend"))
    stack.run(
        "frontend", mode=NETNS, timeout=0.02
    )  # 10 x 30 ms = 300 ms, but the first retry has 40 ms
    assert len(stack.prober.runs) == 1  # the floor (100 ms) is already more than that


def test_a_kind_of_path_nothing_answered_on_gets_the_timeout_window(stack: Stack) -> None:
    """db's only ICMP probe is its ping of the host, which is silent: there is no answer to calibrate from."""
    db = stack.id("db")
    results = stack.run("db", mode=NETNS, timeout=0.5)
    first, again = stack.prober.runs
    assert (
        first.window == pytest.approx(0.1)
        and again.window == pytest.approx(0.5)
        and again.probes_of(db) == [(ICMP, "192.168.32.1", None)]
    )
    assert results["host:db->192.168.32.1"].verdict is Verdict.PASS
    (note,) = stack.last_runner.notes
    assert window_note(
        note, "icmp 500 ms (nothing answered: --timeout)", "tcp 100 ms (slowest answer 0.2 ms)"
    )


def test_the_window_note_says_dash_when_nothing_timed_out(stack: Stack) -> None:
    stack.run("backend", mode=NETNS)  # backend may reach everything: no timeout to judge
    (note,) = stack.last_runner.notes
    assert window_note(note) and "at least -;" in note


# -- retries ------------------------------------------------------------------------------------


def test_netns_retries_go_through_the_prober_with_the_doubled_window(stack: Stack) -> None:
    front, backend = stack.id("frontend"), stack.ip("backend", "api_tier")
    stack.world.slow(
        0.5, src=front, target=backend
    )  # later than every netns window but the retry's
    results = stack.run(*NO_HOST, mode=NETNS, timeout=1.0)
    first, retry = stack.prober.runs
    assert first.window == pytest.approx(0.1) and retry.window == pytest.approx(2.0)
    assert retry.keys == [front]
    # the connect that timed out, and the blocked timeouts of its (maybe starved) batch
    assert set(retry.probes_of(front)) == timed_out(stack, "frontend") | {(TCP, backend, 8001)}
    r = results["reach:frontend->backend:8001@api_tier"]
    assert r.verdict is Verdict.PASS and r.attempts == 2
    assert stack.engine.calls["exec"] == 0


def test_a_netns_leak_is_not_repeated(stack: Stack) -> None:
    front = stack.id("frontend")
    stack.world.resolve("database", [stack.ip("db", "data_tier")], src=front)
    results = stack.run(mode=NETNS)
    assert all(r.window < 2.0 for r in stack.prober.runs)  # no retry pass: a leak seen is evidence
    assert results["dns:frontend->database"].verdict is Verdict.FAIL
    assert results["dns:frontend->database"].attempts == 1


def test_netns_without_retries(stack: Stack) -> None:
    stack.world.drop(stack.ip("backend", "api_tier"), 8001)
    results = stack.run("frontend", mode=NETNS, retries=0)
    assert len(stack.prober.runs) == 1
    assert results["reach:frontend->backend:8001@api_tier"].verdict is Verdict.FAIL


def test_a_cancelled_netns_pass_is_error_check_interrupted(stack: Stack) -> None:
    runner = stack.runner(mode=NETNS)
    runner.cancelled.set()
    results = stack.run(runner=runner)
    assert not stack.prober.runs and verdicts(results) == {Verdict.ERROR}
    assert all(r.reason.endswith("check interrupted") for r in results.values())
    assert stack.engine.removed == [runner.run_id]


def test_cancelled_during_the_first_pass_nothing_is_calibrated_or_retried(stack: Stack) -> None:
    runner = stack.runner(mode=NETNS)
    stack.prober.stretches = False
    stack.world.slow(0.03, src=stack.id("frontend"))
    stack.world.drop(stack.ip("backend", "api_tier"), 8001)
    stack.prober.on_run = lambda sources, window: runner.cancelled.set()
    results = stack.run(runner=runner)
    assert len(stack.prober.runs) == 1
    calibrated = {rid for rid in of(results, "frontend") if rid.startswith("isolation:")}
    assert all(
        results[rid].verdict is Verdict.ERROR and "check interrupted" in results[rid].reason
        for rid in calibrated
    )
    assert results["reach:frontend->backend:8001@api_tier"].attempts == 1


def test_an_interrupt_in_the_prober_removes_the_runs_containers(stack: Stack) -> None:
    def interrupt(sources: object, window: float) -> None:
        raise KeyboardInterrupt

    stack.prober.on_run = interrupt
    runner = stack.runner(mode=NETNS)
    with pytest.raises(KeyboardInterrupt):
        stack.run(runner=runner)
    assert runner.cancelled.is_set() and stack.engine.removed[0] == runner.run_id


# -- names as targets -----------------------------------------------------------------------------


@pytest.fixture
def canary(tmp_path: Path) -> Stack:
    return Stack.with_canary(tmp_path)


def test_a_name_target_is_resolved_in_the_same_namespace_first(canary: Stack) -> None:
    db = canary.id("db")
    canary.world.resolve("egress-canary", [CANARY])
    results = canary.run("db", mode=NETNS)
    names, probes = canary.prober.runs[:2]
    assert names.keys == [db] and names.probes_of(db) == [(DNS, "egress-canary", None)]
    assert names.window == pytest.approx(0.1)
    assert (TCP, CANARY, 8080) in probes.probes_of(db)
    assert not any(t == "egress-canary" for _, t, _ in probes.probes_of(db))
    r = results["egress:db->egress-canary:8080"]
    assert r.verdict is Verdict.PASS and r.executor == "netns"


@pytest.mark.parametrize(
    ("how", "seen"), [("nxdomain", "nxdomain"), ("silent", "timeout"), ("lost", "error")]
)
def test_an_unresolvable_name_target_is_error_never_pass(
    canary: Stack, how: str, seen: str
) -> None:
    if how == "silent":
        canary.world.dns_silent.add(("*", "egress-canary"))
    elif how == "lost":
        canary.prober.silent.add((canary.id("db"), "egress-canary"))
    r = canary.run("db", mode=NETNS)["egress:db->egress-canary:8080"]
    assert r.verdict is Verdict.ERROR
    assert f"egress-canary does not resolve from here ({seen}): give its address" in r.reason
    assert not any(
        t == "egress-canary"
        for run in canary.prober.runs[1:]
        for _, t, _ in run.probes_of(canary.id("db"))
    )


def test_every_address_of_a_name_target_is_probed(canary: Stack) -> None:
    canary.world.resolve("egress-canary", [CANARY, "172.30.0.10"])
    canary.world.open("172.30.0.10", 8080)
    r = canary.run("db", mode=NETNS, retries=0)["egress:db->egress-canary:8080"]
    assert {(TCP, CANARY, 8080), (TCP, "172.30.0.10", 8080)} <= set(
        canary.prober.runs[1].probes_of(canary.id("db"))
    )
    assert r.verdict is Verdict.FAIL and "connects to egress-canary: it has a way out" in r.reason


def test_an_icmp_name_target(tmp_path: Path) -> None:
    stack = Stack.with_canary(tmp_path, port=None)
    stack.world.resolve("egress-canary", [CANARY])
    results = stack.run("db", mode=NETNS)
    assert (ICMP, CANARY, None) in stack.prober.runs[1].probes_of(stack.id("db"))
    assert results["egress:db->egress-canary"].verdict is Verdict.PASS
    stack.world.icmp[("*", CANARY)] = Outcome.OK
    assert stack.run("db", mode=NETNS)["egress:db->egress-canary"].verdict is Verdict.FAIL


def test_names_are_resolved_again_for_a_retry(canary: Stack) -> None:
    db = canary.id("db")
    canary.world.resolve("egress-canary", [CANARY])
    canary.world.drop(
        CANARY, 8080
    )  # the canary does not answer, and a connect db must make times out:
    canary.world.drop(
        canary.ip("backend", "data_tier"), 8001, src=db
    )  # a starved batch repeats its timeouts
    canary.run("db", mode=NETNS)
    windows = [(round(r.window, 3), r.probes_of(db)[0][0]) for r in canary.prober.runs]
    assert windows[-2:] == [(0.1, DNS), (2.0, TCP)]

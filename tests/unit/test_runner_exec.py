"""The runner's exec, sidecar and auto executors, retries, exit statuses, voids and cancellation,
through the LiveEngine Protocol with a fake engine (tests/unit/fake_engine.py): no daemon."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_engine import FULL_TOOLS, Sidecar, Stack, batch_output

from netcontract.errors import EngineError
from netcontract.live.runner import ExecutorMode
from netcontract.probe.timing import Timing
from netcontract.results import Kind, Result, Verdict

EXEC, SIDECAR, AUTO, NETNS = (
    ExecutorMode.EXEC,
    ExecutorMode.SIDECAR,
    ExecutorMode.AUTO,
    ExecutorMode.NETNS,
)
NOT_HERE = "process 9364 on this host is not devonboarder-frontend-1: the engine runs elsewhere"


def of(results: dict[str, Result], src: str) -> dict[str, Result]:
    return {rid: r for rid, r in results.items() if r.src == src}


def verdicts(results: dict[str, Result]) -> set[Verdict]:
    return {r.verdict for r in results.values()}


@pytest.fixture
def stack() -> Stack:
    return Stack()


# -- every executor on a stack that holds ----------------------------------------------------


@pytest.mark.parametrize(
    "mode", [m for m in ExecutorMode if m is not ExecutorMode.HELPER]
)  # the helper: below
def test_every_executor_passes_the_recorded_stack(stack: Stack, mode: ExecutorMode) -> None:
    results = stack.run(mode=mode)
    assert len(results) == 137 and verdicts(results) == {Verdict.PASS}
    expected = "netns" if mode in (AUTO, NETNS) else mode.value
    assert {r.executor for r in results.values()} == {expected}
    # (netns may probe a kind of path nothing answered on again with a longer window: db's ICMP to the host)
    assert all(r.attempts == 1 for r in results.values() if r.kind is not Kind.HOST)
    runner = stack.last_runner
    assert stack.engine.removed == [
        runner.run_id
    ]  # the run's probe containers are always cleaned up
    # every running container of the contract is watched for restarts, by its StartedAt
    assert stack.engine.changed_asked == [{c.id: c.started_at for c in stack.state.containers}]


def test_exec_runs_one_batch_per_source_with_the_first_window(stack: Stack) -> None:
    stack.run(mode=EXEC, timeout=1.5)
    assert sorted(e.container_id for e in stack.engine.execs) == sorted(
        c.id for c in stack.state.containers
    )
    assert {e.window for e in stack.engine.execs} == {1.5}
    assert stack.engine.calls["sidecar"] == 0 and not stack.prober.runs and not stack.prober.asked
    # exec (not auto) does not ask for the tools up front: no `@@missing` prologue for the kinds
    assert all('echo "@@missing tcp"' not in e.script for e in stack.engine.execs)


def test_sidecar_runs_in_the_probe_image_with_the_run_label_and_a_longer_wait(stack: Stack) -> None:
    runner = stack.runner(mode=SIDECAR, probe_image="registry.local/probe:1", pull=False)
    stack.run(runner=runner)
    assert (
        stack.engine.calls["exec"] == 0 and stack.engine.calls["image_problem"] == 1
    )  # checked once
    assert len(stack.engine.sidecars) == 7
    for s in stack.engine.sidecars:
        assert s.image == "registry.local/probe:1" and s.run_id == runner.run_id
        assert s.timeout == Timing.sidecar_wait(1.0) and s.cancelled is runner.cancelled
        assert s.argv[:2] == ["sh", "-c"] and s.window == 1.0


def test_progress_counts_every_source(stack: Stack) -> None:
    seen: list[tuple[int, int]] = []
    stack.run(mode=EXEC, concurrency=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(n, 7) for n in range(1, 8)]


# -- retries ---------------------------------------------------------------------------------


def test_a_leak_is_evidence_and_is_not_repeated(stack: Stack) -> None:
    front = stack.id("frontend")
    stack.world.resolve(
        "database", [stack.ip("db", "data_tier")], src=front
    )  # a leak: it must not resolve
    results = stack.run(mode=EXEC)
    assert [e.window for e in stack.engine.execs_of(front)] == [
        1.0
    ]  # nothing disagrees that a retry could change
    leak = results["dns:frontend->database"]
    assert (
        leak.verdict is Verdict.FAIL
        and leak.attempts == 1
        and "resolves from frontend" in leak.reason
    )


def test_only_the_disagreeing_probe_is_repeated_with_the_doubled_window(stack: Stack) -> None:
    front = stack.id("frontend")
    stack.world.resolve("backend", [], src=front)  # must resolve, and does not
    results = stack.run(mode=EXEC)
    execs = stack.engine.execs_of(front)
    assert [e.window for e in execs] == [1.0, 2.0]
    assert execs[1].targets == [
        ("dns", "backend", None)
    ]  # no timeouts of a connect: nothing else repeated
    assert all(
        len(stack.engine.execs_of(c.id)) == 1 for c in stack.state.containers if c.id != front
    )
    miss = results["dns:frontend->backend"]
    assert (
        miss.verdict is Verdict.FAIL
        and miss.attempts == 2
        and "does not resolve from frontend" in miss.reason
    )
    assert {r.attempts for rid, r in results.items() if rid != miss.id} == {1}


def test_a_connect_that_timed_out_repeats_the_blocked_timeouts_of_its_starved_batch(
    stack: Stack,
) -> None:
    front, backend = stack.id("frontend"), stack.ip("backend", "api_tier")
    stack.world.slow(
        1.5, src=front, target=backend
    )  # answers after the first window, within the second
    results = stack.run(mode=EXEC)
    first, retry = stack.engine.execs_of(front)
    assert retry.window == 2.0
    blocked = {rid for rid, r in of(results, "frontend").items() if rid.startswith("isolation:")}
    retried = {rid for rid, r in of(results, "frontend").items() if r.attempts == 2}
    assert retried == blocked | {"reach:frontend->backend:8001@api_tier"}
    # the passing connects and the DNS answers of that batch are not repeated
    assert {(k, t) for k, t, _ in retry.targets} == {
        ("tcp", t) for rid in retried for t in stack.expectation(rid).targets
    }
    assert all(t[0] == "tcp" for t in retry.targets) and len(retry.targets) < len(first.targets)
    assert verdicts(results) == {Verdict.PASS}


def test_retries_run_after_every_first_batch(stack: Stack) -> None:
    stack.world.slow(1.5, src=stack.id("frontend"), target=stack.ip("backend", "api_tier"))
    stack.run(mode=EXEC, concurrency=4)
    windows = [e.window for e in stack.engine.execs]
    assert windows == [1.0] * 7 + [2.0]


@pytest.mark.parametrize(
    ("retries", "windows", "attempts"), [(0, [1.0], 1), (1, [1.0, 2.0], 2), (2, [1.0, 2.0, 4.0], 3)]
)
def test_a_path_that_never_answers_fails_after_every_allowed_attempt(
    stack: Stack, retries: int, windows: list[float], attempts: int
) -> None:
    front = stack.id("frontend")
    stack.world.drop(stack.ip("backend", "api_tier"), 8001)
    results = stack.run(mode=EXEC, retries=retries)
    assert [e.window for e in stack.engine.execs_of(front)] == windows
    r = results["reach:frontend->backend:8001@api_tier"]
    assert r.verdict is Verdict.FAIL and r.attempts == attempts and "(timeout)" in r.reason


def test_a_slow_answer_passes_on_the_attempt_whose_window_holds_it(stack: Stack) -> None:
    stack.world.slow(3.0, src=stack.id("frontend"), target=stack.ip("backend", "api_tier"))
    r = stack.run(mode=EXEC, retries=2)["reach:frontend->backend:8001@api_tier"]
    assert r.verdict is Verdict.PASS and r.attempts == 3


@pytest.mark.parametrize(("deadline", "execs"), [(2.9, 1), (3.9, 2)])
def test_no_retry_when_the_deadline_cannot_hold_its_window(
    stack: Stack, deadline: float, execs: int
) -> None:
    """A retry needs its (doubled) window plus a second of the deadline still left."""
    front = stack.id("frontend")
    stack.world.drop(stack.ip("backend", "api_tier"), 8001)
    stack.run("frontend", mode=EXEC, deadline=deadline)
    assert len(stack.engine.execs_of(front)) == execs


def test_a_timeout_the_deadline_left_unretried_is_error_not_fail(stack: Stack) -> None:
    stack.world.drop(stack.ip("backend", "api_tier"), 8001)
    runner = stack.runner(mode=EXEC, deadline=2.9)
    results = stack.run("frontend", runner=runner)
    r = results["reach:frontend->backend:8001@api_tier"]
    assert (r.verdict, r.attempts) == (Verdict.ERROR, 1)
    assert r.reason == (
        "probe could not run: timed out, and the --deadline left no time for the retry with a "
        "longer window"
    )
    assert (
        "the --deadline passed before the retries: timeouts that a retry would have settled are ERROR"
        in runner.notes
    )
    # the batch's "blocked" timeouts are no proof either (it may have been starved: see to_retry) ...
    assert {v.verdict for k, v in results.items() if k.startswith("isolation:")} == {Verdict.ERROR}
    # ... and what did not depend on the window keeps its verdict
    assert {v.verdict for k, v in results.items() if k.startswith("dns:")} == {Verdict.PASS}


def test_the_first_retry_runs_even_when_the_first_pass_outlasted_the_default_budget(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of containers can take longer than the default budget (30 s) in the first pass alone; its
    timeouts must still get their retry, or a reachable path would be reported blocked."""
    from netcontract.live import runner as runner_module

    clock = iter([0.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    real = runner_module.time.monotonic
    monkeypatch.setattr(runner_module.time, "monotonic", lambda: next(clock, real()))
    front = stack.id("frontend")
    stack.world.drop(stack.ip("backend", "api_tier"), 8001)
    stack.run("frontend", mode=EXEC, retries=3)
    assert [e.window for e in stack.engine.execs_of(front)] == [
        1.0,
        2.0,
    ]  # the first retry; no later one


def test_the_default_budget_stops_the_retries_whose_window_would_not_fit(stack: Stack) -> None:
    stack.world.drop(stack.ip("backend", "api_tier"), 8001)
    stack.run(
        "frontend", mode=EXEC, retries=9
    )  # budget max(30 s, 20 x timeout): windows 1, 2, 4, 8, 16
    assert [e.window for e in stack.engine.execs] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_errors_are_not_retried(stack: Stack) -> None:
    stack.engine.canned[stack.id("frontend")] = (0, "")
    stack.run("frontend", mode=EXEC)
    assert stack.engine.calls["exec"] == 1


# -- auto ------------------------------------------------------------------------------------


def test_auto_uses_netns_where_the_prober_can(stack: Stack) -> None:
    results = stack.run(mode=AUTO)
    assert stack.engine.calls["exec"] == 0 and stack.engine.calls["sidecar"] == 0
    assert sorted(stack.prober.asked) == sorted(c.id for c in stack.state.containers)
    assert {r.executor for r in results.values()} == {"netns"}
    assert not any(n.startswith("auto:") for n in stack.last_runner.notes)


def test_auto_execs_with_the_tool_prologue_where_netns_is_not_possible(stack: Stack) -> None:
    front = stack.id("frontend")
    stack.prober.problems[front] = NOT_HERE
    results = stack.run(mode=AUTO)
    assert {r.executor for r in of(results, "frontend").values()} == {"exec"}
    assert {r.executor for rid, r in results.items() if r.src != "frontend"} == {"netns"}
    assert verdicts(results) == {Verdict.PASS}
    (ex,) = stack.engine.execs
    assert (
        ex.container_id == front
        and 'echo "@@missing tcp"' in ex.script
        and 'echo "@@missing dns"' in ex.script
    )
    assert all(front not in run.keys for run in stack.prober.runs)
    (note,) = [n for n in stack.last_runner.notes if n.startswith("auto:")]
    assert f"netns not possible ({NOT_HERE})" in note and "exec or sidecar used" in note


def test_auto_note_names_every_distinct_reason_once(stack: Stack) -> None:
    stack.prober.default_problem = "not root"
    stack.prober.problems[stack.id("db")] = "no process 9366 on this host"
    stack.run(mode=AUTO)
    (note,) = [n for n in stack.last_runner.notes if n.startswith("auto:")]
    assert "(no process 9366 on this host; not root)" in note


@pytest.mark.parametrize("lack", ["tcp", "dns", "sleep"])
def test_auto_moves_to_a_sidecar_when_the_batch_says_missing(stack: Stack, lack: str) -> None:
    front = stack.id("frontend")
    stack.prober.default_problem = "not root"
    if lack == "sleep":
        stack.engine.no_sleep.add(front)
    else:
        stack.engine.tools[front] = {**FULL_TOOLS, lack: "none"}
    results = stack.run(mode=AUTO)
    (side,) = stack.engine.sidecars
    assert side.container_id == front and 'echo "@@missing tcp"' not in side.script
    assert {r.executor for r in of(results, "frontend").values()} == {"sidecar"}
    assert {r.executor for rid, r in results.items() if r.src != "frontend"} == {"exec"}
    assert verdicts(results) == {Verdict.PASS}


@pytest.mark.parametrize("how", ["exit", "raise"])
def test_auto_moves_to_a_sidecar_when_the_container_has_no_shell(stack: Stack, how: str) -> None:
    front = stack.id("frontend")
    stack.prober.default_problem = "not root"
    stack.engine.no_shell[front] = how
    results = stack.run("frontend", mode=AUTO)
    assert len(stack.engine.sidecars_of(front)) == 1
    assert {r.executor for r in results.values()} == {"sidecar"} and verdicts(results) == {
        Verdict.PASS
    }


def test_after_moving_to_a_sidecar_the_retries_stay_there(stack: Stack) -> None:
    front = stack.id("frontend")
    stack.prober.default_problem = "not root"
    stack.engine.no_shell[front] = "exit"
    stack.world.slow(1.5, src=front, target=stack.ip("backend", "api_tier"))
    results = stack.run("frontend", mode=AUTO)
    assert len(stack.engine.execs) == 1  # the one that found no shell
    assert [s.window for s in stack.engine.sidecars] == [1.0, 2.0]
    assert results["reach:frontend->backend:8001@api_tier"].attempts == 2


@pytest.mark.parametrize("how", ["missing", "exit", "raise"])
def test_auto_with_an_unusable_probe_image_is_error_naming_the_option(
    stack: Stack, how: str
) -> None:
    front = stack.id("frontend")
    stack.prober.default_problem = "not root"
    stack.engine.image_problem_text = (
        "probe image busybox:1.36 is not present and pulling is off (--no-pull)"
    )
    if how == "missing":
        stack.engine.tools[front] = {**FULL_TOOLS, "tcp": "none"}
    else:
        stack.engine.no_shell[front] = how
    results = stack.run(mode=AUTO)
    front_results = of(results, "frontend")
    assert verdicts(front_results) == {Verdict.ERROR} and stack.engine.calls["sidecar"] == 0
    assert all(
        "--probe-image" in r.reason and "--no-pull" in r.reason for r in front_results.values()
    )
    assert verdicts({k: r for k, r in results.items() if r.src != "frontend"}) == {Verdict.PASS}


# -- exec and sidecar failures ------------------------------------------------------------------


def test_sidecar_with_an_unusable_probe_image_is_error_naming_the_option(stack: Stack) -> None:
    stack.engine.image_problem_text = (
        "probe image busybox:1.36 is not present and could not be pulled: denied"
    )
    results = stack.run(mode=SIDECAR)
    assert verdicts(results) == {Verdict.ERROR}
    assert all(
        "set --probe-image (or NETCONTRACT_PROBE_IMAGE)" in r.reason and "denied" in r.reason
        for r in results.values()
    )
    assert stack.engine.calls["sidecar"] == 0 and stack.engine.calls["image_problem"] == 1
    assert {r.executor for r in results.values()} == {"sidecar"}


@pytest.mark.parametrize("how", ["exit", "raise"])
def test_exec_never_moves_to_a_sidecar(stack: Stack, how: str) -> None:
    stack.engine.no_shell[stack.id("frontend")] = how
    results = stack.run("frontend", mode=EXEC)
    assert verdicts(results) == {Verdict.ERROR} and stack.engine.calls["sidecar"] == 0
    reason = next(iter(results.values())).reason
    if how == "raise":
        assert "exec failed: exec in" in reason and "executable file not found" in reason
    else:
        assert "exec in devonboarder-frontend-1 failed (OCI runtime exec failed" in reason
        assert "use --executor auto or sidecar" in reason


def test_exec_in_a_container_without_a_tool_is_error_for_that_kind(stack: Stack) -> None:
    stack.engine.tools[stack.id("frontend")] = {**FULL_TOOLS, "tcp": "none"}
    results = of(stack.run("frontend", mode=EXEC), "frontend")
    tcp = {rid: r for rid, r in results.items() if not rid.startswith("dns:")}
    assert verdicts(tcp) == {Verdict.ERROR}
    assert all("no tool for a tcp probe" in r.reason for r in tcp.values())
    assert verdicts({rid: r for rid, r in results.items() if rid.startswith("dns:")}) == {
        Verdict.PASS
    }


def test_an_engine_error_is_error_for_that_source_only(stack: Stack) -> None:
    stack.engine.exec_errors[stack.id("db")] = EngineError(
        "exec in 07e666dd4d43: 409 container is paused"
    )
    results = stack.run(mode=EXEC)
    assert verdicts(of(results, "db")) == {Verdict.ERROR}
    assert all(
        "exec failed: exec in 07e666dd4d43: 409 container is paused" in r.reason
        for r in of(results, "db").values()
    )
    assert verdicts({k: r for k, r in results.items() if r.src != "db"}) == {Verdict.PASS}


def test_a_sidecar_engine_error_is_error(stack: Stack) -> None:
    stack.engine.sidecar_errors[stack.id("db")] = EngineError(
        "starting probe sidecar: 404 no such container"
    )
    results = of(stack.run("db", mode=SIDECAR), "db")
    assert verdicts(results) == {Verdict.ERROR}
    assert all(
        r.reason.endswith("sidecar failed: starting probe sidecar: 404 no such container")
        for r in results.values()
    )


@pytest.mark.parametrize("mode", [EXEC, SIDECAR])
def test_a_batch_that_printed_nothing_is_error_never_pass(stack: Stack, mode: ExecutorMode) -> None:
    db = stack.id("db")
    if mode is EXEC:
        stack.engine.canned[db] = (0, "")
    else:  # the real engine's answer to a sidecar that did not finish
        stack.engine.sidecar_canned[db] = (None, "probe sidecar did not finish in time")
    results = of(stack.run("db", mode=mode), "db")
    assert verdicts(results) == {Verdict.ERROR}
    assert all("no result from the probe script" in r.reason for r in results.values())
    assert "isolation is unproven" in results["isolation:db->traefik:80@auth_tier"].reason


def test_a_killed_batch_is_error_naming_the_stopped_container_for_every_unfinished_probe(
    stack: Stack,
) -> None:
    stack.engine.killed_after[stack.id("frontend")] = (
        4  # p0..p3 finished, then SIGKILL: exec exits 137
    )
    results = of(stack.run("frontend", mode=EXEC), "frontend")
    (ex,) = stack.engine.execs
    finished = set(ex.targets[:4])
    assert len(finished) == 4
    for rid, r in results.items():
        e = stack.expectation(rid)
        if (e.probe_kind.value, e.targets[0], e.port) in finished:
            assert r.verdict is Verdict.PASS, rid
        else:
            assert r.verdict is Verdict.ERROR, rid
            assert "(exit 137: the container stopped?)" in r.reason and r.attempts == 1, rid
    assert stack.engine.calls["exec"] == 1  # nothing of a dead container is repeated


@pytest.mark.parametrize("code", [137, 143, 255])
def test_an_exit_status_from_a_signal_without_output_is_error_never_a_timeout(
    stack: Stack, code: int
) -> None:
    stack.engine.canned[stack.id("db")] = (code, "")
    results = of(stack.run("db", mode=EXEC), "db")
    assert verdicts(results) == {Verdict.ERROR}
    assert all(f"(exit {code}: the container stopped?)" in r.reason for r in results.values())
    assert all(r.actual.startswith("error") for r in results.values())


def test_exit_137_from_a_sidecar_is_error_too(stack: Stack) -> None:
    stack.engine.sidecar_canned[stack.id("db")] = (137, "@@tools tcp=nc-e dns=nslookup icmp=ping\n")
    results = of(stack.run("db", mode=SIDECAR), "db")
    assert verdicts(results) == {Verdict.ERROR}
    assert all(
        "sidecar in devonboarder-db-1 failed (exit code 137) (exit 137: the container stopped?)"
        in r.reason
        for r in results.values()
    )


def test_a_probe_killed_by_sigkill_is_error_not_a_timeout(stack: Stack) -> None:
    """rc 137 of one probe (the OOM killer, or the container dying) proves nothing about the network."""
    db = stack.id("db")
    stack.run("db", mode=EXEC)
    (ex,) = stack.engine.execs
    target = ("tcp", stack.ip("traefik", "auth_tier"), 80)
    key = f"p{ex.targets.index(target)}"
    _, text = batch_output(stack.world, db, ex.script, FULL_TOOLS)
    assert f"@{key}|@@rc 143\n" in text
    stack.engine.canned[db] = (0, text.replace(f"@{key}|@@rc 143\n", f"@{key}|@@rc 137\n"))
    results = stack.run("db", mode=EXEC)
    r = results["isolation:db->traefik:80@auth_tier"]
    assert r.verdict is Verdict.ERROR and "exited 137" in r.reason
    assert verdicts({k: v for k, v in results.items() if k != r.id}) == {Verdict.PASS}


# -- a container that stopped or restarted -----------------------------------------------------


@pytest.mark.parametrize("mode", [EXEC, NETNS])
def test_a_restarted_container_voids_its_results_but_not_a_proven_leak(
    stack: Stack, mode: ExecutorMode
) -> None:
    db_ip = stack.ip("db", "data_tier")
    stack.world.open(db_ip, 5432, src=stack.id("frontend"))  # frontend reaches db: a leak
    stack.world.resolve(
        "database", [db_ip], src=stack.id("dashboard")
    )  # dashboard resolves db's alias
    stack.engine.restarted.add(stack.id("db"))
    results = stack.run(mode=mode, retries=0)
    db = {rid: r for rid, r in results.items() if "db" in (r.src, r.dst)}
    leaks = {"isolation:frontend->db:5432@data_tier", "dns:dashboard->database"}
    for rid in leaks:
        assert db[rid].verdict is Verdict.FAIL, rid
    for rid, r in db.items():
        if rid not in leaks:
            assert r.verdict is Verdict.ERROR, rid
            assert (
                r.reason
                == "db stopped or restarted during the check, so this observation proves nothing"
            )
    assert verdicts({k: r for k, r in results.items() if k not in db}) == {Verdict.PASS}


def test_a_container_that_restarted_while_its_batch_was_killed_passes_nothing(stack: Stack) -> None:
    """A timeout the watchdog reported before the kill proves nothing once the container restarted."""
    db = stack.id("db")
    stack.engine.killed_after[db] = 10
    stack.engine.restarted.add(db)
    results = of(stack.run("db", mode=EXEC), "db")
    assert verdicts(results) == {Verdict.ERROR}


# -- cancellation ------------------------------------------------------------------------------


def test_an_interrupt_in_a_worker_cancels_the_run_and_removes_its_containers(stack: Stack) -> None:
    def interrupt(cid: str, argv: list[str]) -> None:
        if cid == stack.id("db"):
            raise KeyboardInterrupt

    stack.engine.on_exec = interrupt
    runner = stack.runner(mode=EXEC, concurrency=2)
    with pytest.raises(KeyboardInterrupt):
        stack.run(runner=runner)
    assert runner.cancelled.is_set()
    assert stack.engine.removed and set(stack.engine.removed) == {runner.run_id}
    assert stack.engine.calls["changed"] == 0  # nothing was judged


def test_a_cancelled_run_is_error_check_interrupted_and_retries_nothing(stack: Stack) -> None:
    runner = stack.runner(mode=EXEC, concurrency=1)
    first: list[str] = []

    def cancel(cid: str, argv: list[str]) -> None:
        first.append(cid)
        runner.cancelled.set()  # Ctrl-C arrives while the first batch runs

    stack.engine.on_exec = cancel
    stack.world.drop(
        stack.ip("backend", "api_tier"), 8001
    )  # something to retry, were it not cancelled
    results = stack.run(runner=runner)
    assert len(first) == 1 and stack.engine.calls["exec"] == 1
    probed = stack.state.containers
    src_of = {c.id: c.service for c in probed}
    for rid, r in results.items():
        if r.src == src_of[first[0]]:
            assert r.reason != "probe could not run: check interrupted"
        else:
            assert r.verdict is Verdict.ERROR and "check interrupted" in r.reason, rid
    assert stack.engine.removed == [runner.run_id]


def test_a_sidecar_gets_the_runs_cancel_event(stack: Stack) -> None:
    """Ctrl-C while a sidecar runs: the engine sees the run's event set, and the batch is ERROR."""
    runner = stack.runner(mode=SIDECAR)

    def interrupted(call: Sidecar) -> None:
        assert call.cancelled is runner.cancelled
        runner.cancelled.set()

    stack.engine.on_sidecar = interrupted
    results = stack.run("db", runner=runner)
    assert (
        len(stack.engine.sidecars) == 1 and stack.engine.sidecars[0].cancelled is runner.cancelled
    )
    assert verdicts(results) == {Verdict.ERROR}
    assert all("no result from the probe script" in r.reason for r in results.values())


# -- names as targets (egress canaries) through exec --------------------------------------------


def test_exec_egress_canary_by_name(tmp_path: Path) -> None:
    stack = Stack.with_canary(tmp_path)
    r = stack.run("db", mode=EXEC)["egress:db->egress-canary:8080"]
    assert ("tcp", "egress-canary", 8080) in stack.engine.execs[
        0
    ].targets  # the container's tool resolves it
    assert (
        r.verdict is Verdict.ERROR and "bad address 'egress-canary'" in r.reason
    )  # unresolvable: never PASS
    stack.world.resolve("egress-canary", ["172.30.0.9"])
    assert stack.run("db", mode=EXEC)["egress:db->egress-canary:8080"].verdict is Verdict.PASS
    stack.world.open("172.30.0.9", 8080)
    r = stack.run("db", mode=EXEC)["egress:db->egress-canary:8080"]
    assert r.verdict is Verdict.FAIL and "connects to egress-canary: it has a way out" in r.reason


def test_the_helper_executor_without_an_image_is_an_error_not_a_fallback(stack: Stack) -> None:
    results = stack.run(mode=ExecutorMode.HELPER)
    probes = [r for r in results.values() if r.kind is not Kind.RUNNING and "->" in r.id]
    assert probes and {r.verdict for r in probes} == {Verdict.ERROR}
    assert all("no --helper-image given" in r.reason for r in probes)
    assert stack.engine.calls["sidecar"] == 0 and stack.engine.calls["exec"] == 0

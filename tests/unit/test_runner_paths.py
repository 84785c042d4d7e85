"""The runner on IPv6 beside IPv4 and on the Docker host seen from an internal tier, and what a retry
may not take back: through the fake engine and prober (tests/unit/fake_engine.py; no daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_engine import CONTRACT, Stack, dual_stack_raw, state_from_raw, v6

from netcontract.contract import load_contract
from netcontract.live import runner as runner_module
from netcontract.live.netns import executor as netns_executor
from netcontract.live.runner import ExecutorMode
from netcontract.probe.observation import Outcome
from netcontract.probe.verdicts import IPV6_UNFILTERED
from netcontract.results import Kind, Result, Verdict

EXEC, SIDECAR, NETNS, AUTO = (
    ExecutorMode.EXEC,
    ExecutorMode.SIDECAR,
    ExecutorMode.NETNS,
    ExecutorMode.AUTO,
)
A_ONLY = "exec/sidecar ask A records only: AAAA (IPv6 names) is checked by the netns executor"
HOST = (
    "host:db->192.168.32.1"  # db's tiers are all internal: it pings the host on data_tier's gateway
)


def verdicts(results: dict[str, Result]) -> set[Verdict]:
    return {r.verdict for r in results.values()}


@pytest.fixture
def dual() -> Stack:
    """The stack with IPv6 on every tier; the host answers on its addresses (its IPv6 ones are ready)."""
    stack = Stack(state=state_from_raw(dual_stack_raw()))
    stack.world.host_answers(stack.state)
    return stack


# -- IPv6 -----------------------------------------------------------------------------------------


def test_netns_asks_a_and_aaaa_and_probes_both_families(dual: Stack) -> None:
    front = dual.id("frontend")
    results = dual.run("frontend", mode=NETNS)
    first = next(run for run in dual.prober.runs if run.purpose == "probes")
    assert first.qtypes_of(front, "backend") == ["A", "AAAA"]
    backend4, backend6 = dual.ip("backend", "api_tier"), v6(dual.ip("backend", "api_tier"))
    assert {(k.value, t, p) for k, t, p in first.probes_of(front)} >= {
        ("tcp", backend4, 8001),
        ("tcp", backend6, 8001),
    }
    assert verdicts(results) == {Verdict.PASS}
    assert "reach:frontend->backend:8001@api_tier/ipv6" in results
    assert results["dns:frontend->backend"].actual == f"{backend4}; {backend6}"
    assert A_ONLY not in dual.last_runner.notes


@pytest.mark.parametrize("mode", [EXEC, SIDECAR])
def test_scripted_executors_ask_a_only_and_say_so(dual: Stack, mode: ExecutorMode) -> None:
    results = dual.run("frontend", mode=mode)
    assert A_ONLY in dual.last_runner.notes
    assert verdicts(results) == {Verdict.PASS}
    assert results["dns:frontend->backend"].actual == dual.ip("backend", "api_tier")
    batch = (dual.engine.execs or dual.engine.sidecars)[0]
    assert ("tcp", v6(dual.ip("backend", "api_tier")), 8001) in batch.targets


def test_the_a_only_note_is_for_scripted_sources_only(dual: Stack) -> None:
    dual.prober.problems[dual.id("frontend")] = "not root"
    dual.run("frontend", "dashboard", mode=AUTO)
    assert A_ONLY in dual.last_runner.notes  # frontend went to exec
    dual.prober.problems.clear()
    dual.run("frontend", "dashboard", mode=AUTO)
    assert A_ONLY not in dual.last_runner.notes


def test_without_ipv6_there_is_no_a_only_note() -> None:
    stack = Stack()
    stack.run("frontend", mode=EXEC)
    assert A_ONLY not in stack.last_runner.notes


@pytest.mark.parametrize("mode", [EXEC, NETNS])
def test_an_ipv6_leak_beside_a_blocked_ipv4_twin_names_ip6tables(
    dual: Stack, mode: ExecutorMode
) -> None:
    db6 = v6(dual.ip("db", "data_tier"))
    dual.world.open(db6, 5432, src=dual.id("frontend"))  # ip6tables off: IPv6 crosses networks
    results = dual.run("frontend", mode=mode)
    leak = results["isolation:frontend->db:5432@data_tier/ipv6"]
    assert (
        leak.verdict is Verdict.FAIL
        and IPV6_UNFILTERED in leak.reason
        and leak.executor == mode.value
    )
    assert results["isolation:frontend->db:5432@data_tier"].verdict is Verdict.PASS


# -- netns waits for the host's IPv6 addresses ---------------------------------------------------------


class Clock:
    """Stands in for the runner's `time` module: only a prober run moves it (by its window)."""

    def __init__(self) -> None:
        self.now = 500.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, dual: Stack) -> Clock:
    c = Clock()
    monkeypatch.setattr(runner_module, "time", c)
    monkeypatch.setattr(netns_executor, "time", c)

    def tick(sources: object, window: float) -> None:
        c.now += window

    dual.prober.on_run = tick
    return c


V6_GATEWAYS = [
    "fd00:32::1",
    "fd00:48::1",
    "fd00:64::1",
]  # the host's IPv6 address on each tier network


def test_ipv6_sources_first_wait_for_the_hosts_ipv6_addresses(dual: Stack) -> None:
    front = dual.id("frontend")
    results = dual.run("frontend", "dashboard", mode=NETNS)
    wait = dual.prober.runs[0]
    assert wait.purpose == "gateways" and wait.window == pytest.approx(0.2)
    assert sorted(wait.keys) == sorted([front, dual.id("dashboard")])
    assert [(k.value, t) for k, t, _ in wait.probes_of(front)] == [("icmp", g) for g in V6_GATEWAYS]
    assert [run.purpose for run in dual.prober.runs].count("gateways") == 1  # they answered at once
    assert verdicts(results) == {Verdict.PASS}


def test_ipv4_only_sources_do_not_wait() -> None:
    stack = Stack()
    stack.run("frontend", mode=NETNS)
    assert "gateways" not in [run.purpose for run in stack.prober.runs]


def test_the_wait_ends_when_the_host_answers(dual: Stack, clock: Clock) -> None:
    dual.world.host_answers(
        dual.state, answer=False
    )  # duplicate address detection: the host is silent

    def dad_done(sources: object, window: float) -> None:
        clock.now += window
        if len(dual.prober.runs) == 3:
            dual.world.host_answers(dual.state)

    dual.prober.on_run = dad_done
    results = dual.run("frontend", mode=NETNS)
    assert [run.purpose for run in dual.prober.runs][:4] == [
        "gateways",
        "gateways",
        "gateways",
        "probes",
    ]
    assert verdicts(results) == {Verdict.PASS}


def test_ipv6_timeouts_prove_nothing_when_the_host_never_answers_over_ipv6(
    dual: Stack, clock: Clock
) -> None:
    dual.world.host_answers(dual.state, answer=False)
    results = dual.run("frontend", mode=NETNS)
    waits = [run for run in dual.prober.runs if run.purpose == "gateways"]
    assert 10 <= len(waits) <= 11  # 2 s of 200 ms pings (the clock adds up floats)
    blocked6 = {
        rid: r
        for rid, r in results.items()
        if rid.startswith("isolation:") and rid.endswith("/ipv6")
    }
    assert blocked6 and verdicts(blocked6) == {Verdict.ERROR}
    for r in blocked6.values():
        assert (
            f"the host's IPv6 address {', '.join(V6_GATEWAYS)} did not answer devonboarder-frontend-1 "
            "(duplicate address detection, or IPv6 routing off), so an IPv6 timeout from it proves nothing"
        ) in r.reason
    # IPv4, and the IPv6 paths that answered, are judged as ever
    assert verdicts({rid: r for rid, r in results.items() if rid not in blocked6}) == {Verdict.PASS}


def test_a_cancelled_run_stops_waiting_for_the_host(dual: Stack) -> None:
    dual.world.host_answers(dual.state, answer=False)
    runner = dual.runner(mode=NETNS)
    dual.prober.on_run = lambda sources, window: runner.cancelled.set()
    results = dual.run("frontend", runner=runner)
    assert [run.purpose for run in dual.prober.runs] == ["gateways"]
    assert verdicts(results) == {Verdict.ERROR}


# -- the host, from a service whose tiers are all internal -------------------------------------------


@pytest.mark.parametrize("mode", [EXEC, NETNS])
def test_a_host_that_answers_is_reported_not_failed(mode: ExecutorMode) -> None:
    stack = Stack()
    stack.world.host_answers(stack.state)
    r = stack.run("db", mode=mode)[HOST]
    assert r.kind is Kind.HOST and r.verdict is Verdict.PASS and r.executor == mode.value
    assert (
        "the Docker host answers db at 192.168.32.1 (ICMP echo): engines allow this by design"
        in r.reason
    )


@pytest.mark.parametrize("mode", [EXEC, NETNS])
def test_a_host_that_answers_a_deny_tier_fails(tmp_path: Path, mode: ExecutorMode) -> None:
    path = tmp_path / "deny.yaml"
    path.write_text(
        CONTRACT.read_text().replace("    internal: true ", "    host: deny\n    internal: true ")
    )
    stack = Stack(load_contract(path))
    stack.world.host_answers(stack.state)
    r = stack.run("db", mode=mode)[HOST]
    assert r.verdict is Verdict.FAIL and r.reason.endswith("[host: deny on data_tier]")


@pytest.mark.parametrize("mode", [EXEC, NETNS])
def test_a_silent_host_passes(mode: ExecutorMode) -> None:
    stack = Stack()
    r = stack.run("db", mode=mode)[HOST]
    assert r.verdict is Verdict.PASS and r.reason == "" and r.actual == Outcome.TIMEOUT.value


def test_a_report_only_host_answer_is_not_retried() -> None:
    stack = Stack()
    stack.world.host_answers(stack.state)
    results = stack.run("db", mode=EXEC)
    assert len(stack.engine.execs) == 1 and results[HOST].attempts == 1


# -- what a retry may not take back -----------------------------------------------------------------


@pytest.mark.parametrize("mode", [EXEC, NETNS])
def test_a_leak_seen_on_the_first_pass_stays_fail_when_the_retry_times_out(
    mode: ExecutorMode,
) -> None:
    stack = Stack()
    front, db = stack.id("frontend"), stack.ip("db", "data_tier")
    stack.world.open(db, 5432, src=front)
    passes: list[str] = []

    def close_after_the_first_pass(*_: object) -> None:
        passes.append("probe")
        if len(passes) > 1:
            stack.world.drop(db, 5432, src=front)

    if mode is EXEC:
        stack.engine.on_exec = close_after_the_first_pass
    else:
        stack.prober.on_run = close_after_the_first_pass
    r = stack.run("frontend", mode=mode)["isolation:frontend->db:5432@data_tier"]
    assert (
        len(passes) == 1
    )  # a leak seen is evidence: not repeated, so no later attempt can hide it
    assert r.verdict is Verdict.FAIL, (r.actual, r.reason)


def test_a_leak_seen_once_fails() -> None:
    stack = Stack()
    stack.world.open(stack.ip("db", "data_tier"), 5432, src=stack.id("frontend"))
    r = stack.run("frontend", mode=EXEC)["isolation:frontend->db:5432@data_tier"]
    assert r.verdict is Verdict.FAIL and r.attempts == 1
    assert "frontend reaches db over devonboarder_data_tier (connects)" in r.reason

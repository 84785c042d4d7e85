"""The helper executor on a swarm without a daemon: one helper per node (swarm/helpers.py), each given only
its own node's sources, the nodes at once, one merged run; and the runner using it (auto and helper) on the
recorded stack with its containers spread over fake nodes (tests/unit/fake_engine.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from fake_engine import FakeProber, Stack

from netcontract.errors import EngineError
from netcontract.live.netns.enter import NetnsRun, NetnsSource, Stretch
from netcontract.live.runner import ExecutorMode, ProbeRunner, RunOptions
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.results import Kind, Result, Verdict
from netcontract.state import Container
from netcontract.swarm.helpers import SwarmHelpers, _each, merge_runs

NOT_HERE = "a swarm task runs on its node's engine"


@pytest.fixture
def stack() -> Stack:
    return Stack()


class FakeNodeHelper:
    """One node's helper, answering from a FakeProber; records what it was asked."""

    def __init__(self, node: str, prober: FakeProber, broken: str | None = None) -> None:
        self.node = node
        self.prober = prober
        self.broken = broken  # why it cannot start (the image is not on the node, say)
        self.starts = 0
        self.asked: list[str] = []
        self.runs: list[list[str]] = []
        self.closed = False

    def start(self) -> str | None:
        self.starts += 1
        return self.broken

    def problem(self, container: Container) -> str | None:
        self.asked.append(container.id)
        return f"helper (img): {self.broken}" if self.broken else None

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        self.runs.append([s.key for s in sources])
        return self.prober.run(sources, window, stretch)

    def close(self) -> None:
        self.closed = True


class Fleet:
    """SwarmHelpers over fake nodes: `where` maps container ids to nodes; `down` nodes cannot be reached."""

    def __init__(
        self,
        prober: FakeProber,
        where: dict[str, str],
        down: frozenset[str] = frozenset(),
        broken: dict[str, str] | None = None,
    ) -> None:
        self.prober = prober
        self.where = where
        self.down = down
        self.broken = broken or {}
        self.made: dict[str, FakeNodeHelper] = {}
        self.helpers: SwarmHelpers | None = None

    def make(self, node: str) -> FakeNodeHelper:
        assert node not in self.made, "one helper per node"
        self.made[node] = FakeNodeHelper(node, self.prober, self.broken.get(node))
        return self.made[node]

    def locate(self, container_id: str) -> str:
        node = self.where.get(container_id)
        if node is None or node in self.down:
            raise EngineError(f"container {container_id[:12]}: node {node} cannot be reached")
        return node

    def nodes(self) -> list[str]:
        return sorted(set(self.where.values()) - self.down)

    def factory(self, image: str, run_id: str, pull: bool) -> SwarmHelpers:
        self.helpers = SwarmHelpers(self.make, self.locate, self.nodes)
        return self.helpers


def spread(stack: Stack) -> dict[str, str]:
    """The recorded stack's containers over three nodes, round robin."""
    ids = sorted(c.id for c in stack.state.containers)
    return {cid: f"node{i % 3 + 1}" for i, cid in enumerate(ids)}


def run(
    stack: Stack, fleet: Fleet, mode: ExecutorMode = ExecutorMode.HELPER
) -> tuple[ProbeRunner, dict[str, Result]]:
    stack.prober.default_problem = NOT_HERE  # a swarm: this host's netns never applies
    runner = ProbeRunner(
        stack.engine,
        RunOptions(mode=mode, helper_image="img"),
        stack.prober,
        helpers=fleet.factory,
    )
    return runner, stack.run(runner=runner)


def probes(results: dict[str, Result]) -> list[Result]:
    return [r for r in results.values() if r.kind is not Kind.RUNNING and "->" in r.id]


# -- the runner with one helper per node -----------------------------------------------------


def test_every_task_is_probed_by_the_helper_of_its_own_node(stack: Stack) -> None:
    fleet = Fleet(FakeProber(stack.world), spread(stack))
    runner, results = run(stack, fleet)
    assert probes(results) and {r.verdict for r in results.values()} == {Verdict.PASS}
    assert {r.executor for r in probes(results)} == {"helper"}
    assert sorted(fleet.made) == ["node1", "node2", "node3"]
    for node, helper in fleet.made.items():
        assert helper.starts == 1 and helper.closed  # started once, ended with the run
        mine = {cid for cid, n in fleet.where.items() if n == node}
        assert set(helper.asked) == mine
        assert helper.runs and all(set(keys) <= mine for keys in helper.runs)
    assert stack.engine.removed == [runner.run_id]  # and removed by label on every node


def test_auto_on_a_swarm_prefers_the_helper_and_says_where_it_probed_from(stack: Stack) -> None:
    fleet = Fleet(FakeProber(stack.world), spread(stack))
    runner, results = run(stack, fleet, ExecutorMode.AUTO)
    assert {r.executor for r in probes(results)} == {"helper"}
    assert stack.engine.calls["exec"] == 0 and stack.engine.calls["sidecar"] == 0
    note = next(n for n in runner.notes if n.startswith("auto:"))
    assert NOT_HERE in note and "each task's own node (one helper per node)" in note


def test_auto_moves_the_tasks_of_a_node_without_the_helper_image_to_exec(stack: Stack) -> None:
    fleet = Fleet(
        FakeProber(stack.world), spread(stack), broken={"node2": "helper image img is not present"}
    )
    runner, results = run(stack, fleet, ExecutorMode.AUTO)
    assert {r.executor for r in probes(results)} == {"helper", "exec"}
    on2 = {c.service for c in stack.state.containers if fleet.where[c.id] == "node2"}
    assert {r.src for r in probes(results) if r.executor == "exec"} == on2
    assert {r.verdict for r in results.values()} == {Verdict.PASS}
    note = next(n for n in runner.notes if n.startswith("auto:"))
    assert "node node2: helper (img): helper image img is not present" in note
    assert "where it could; the other sources used exec or sidecar" in note
    assert note.count(NOT_HERE) == 1  # each reason once, not once per task


def test_helper_mode_on_an_unreachable_node_is_error_never_pass(stack: Stack) -> None:
    fleet = Fleet(FakeProber(stack.world), spread(stack), down=frozenset({"node3"}))
    _, results = run(stack, fleet)
    on3 = {c.service for c in stack.state.containers if fleet.where[c.id] == "node3"}
    assert on3
    for r in probes(results):
        if r.src in on3:
            assert r.verdict is Verdict.ERROR and "node node3 cannot be reached" in r.reason, r
        else:
            assert r.verdict is Verdict.PASS and r.executor == "helper"
    assert "node3" not in fleet.made  # nothing is started on a node that cannot be reached


# -- SwarmHelpers itself ---------------------------------------------------------------------


def source(key: str, *targets: str) -> NetnsSource:
    return NetnsSource(
        key, 1, tuple(Probe(f"p{i}", ProbeKind.TCP, t, 80) for i, t in enumerate(targets))
    )


class Canned:
    """A NodeHelper that answers every probe OK, optionally waiting at a barrier first."""

    def __init__(self, barrier: threading.Barrier | None = None, fail: bool = False) -> None:
        self.barrier = barrier
        self.fail = fail
        self.got: list[str] = []

    def start(self) -> str | None:
        return None

    def problem(self, container: Container) -> str | None:
        return None

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        if self.barrier is not None:
            self.barrier.wait(timeout=5)  # every node's part must be running at once to pass this
        if self.fail:
            raise RuntimeError("boom")
        self.got += [s.key for s in sources]
        out = NetnsRun()
        for s in sources:
            for p in s.probes:
                out.observations[(s.key, p.key)] = Observation(Outcome.OK, tool="netns")
                out.latency_ms[(s.key, p.key)] = 1.0
            out.slowest_tcp_ok_ms[s.key] = 1.0
        return out

    def close(self) -> None:
        pass


def test_a_run_is_split_by_node_run_at_once_and_merged() -> None:
    barrier = threading.Barrier(2)
    made = {"a": Canned(barrier), "b": Canned(barrier)}
    where = {"s1": "a", "s2": "b", "s3": "a"}

    def locate(key: str) -> str:
        if key not in where:
            raise EngineError("node gone cannot be reached")
        return where[key]

    helpers = SwarmHelpers(made.__getitem__, locate, lambda: ["a", "b"])
    got = helpers.run(
        [
            source("s1", "10.0.0.1"),
            source("s2", "10.0.0.2"),
            source("s3", "x"),
            source("lost", "y"),
        ],
        0.1,
    )
    assert made["a"].got == ["s1", "s3"] and made["b"].got == ["s2"]
    assert {k: o.outcome for k, o in got.observations.items()} == {
        ("s1", "p0"): Outcome.OK,
        ("s2", "p0"): Outcome.OK,
        ("s3", "p0"): Outcome.OK,
        ("lost", "p0"): Outcome.ERROR,
    }
    assert "node gone cannot be reached" in got.observations[("lost", "p0")].detail
    assert set(got.slowest_tcp_ok_ms) == {"s1", "s2", "s3"}


def test_a_node_part_that_raises_is_raised_to_the_caller() -> None:
    helpers = SwarmHelpers(
        {"a": Canned(), "b": Canned(fail=True)}.__getitem__,
        {"s1": "a", "s2": "b"}.__getitem__,
        lambda: ["a", "b"],
    )
    with pytest.raises(RuntimeError, match="boom"):
        helpers.run([source("s1", "10.0.0.1"), source("s2", "10.0.0.2")], 0.1)


def test_each_keeps_the_order_and_runs_a_single_item_inline() -> None:
    assert _each([3, 1, 2], lambda x: x * 2) == [6, 2, 4]
    main = threading.current_thread()
    assert _each([1], lambda _: threading.current_thread()) == [main]
    assert _each([], lambda x: x) == []


def test_merge_runs_keeps_every_part() -> None:
    a, b = NetnsRun(), NetnsRun()
    a.observations[("s1", "p0")] = Observation(Outcome.OK)
    a.waited_ms[("s1", "p1")] = 100.0
    b.observations[("s2", "p0")] = Observation(Outcome.TIMEOUT)
    b.latency_ms[("s2", "p1")] = 2.0
    m = merge_runs([a, b])
    assert set(m.observations) == {("s1", "p0"), ("s2", "p0")}
    assert m.waited_ms == {("s1", "p1"): 100.0} and m.latency_ms == {("s2", "p1"): 2.0}

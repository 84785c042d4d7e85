"""The helper executor on a swarm: one helper container per node, each probing the tasks of its own node.

A task's `State.Pid` is a pid of its node's pid namespace, so no prober on this host can enter it; a helper
started through the node's own engine (live/netns/helper.py: the host's pid namespace of that node, the
setns capabilities, no network) sees exactly those pids. `SwarmHelpers` is the NetnsExecutor's prober for
a swarm check: it asks the helper of a task's node whether it may probe from that task, splits every run
by node, runs the nodes' parts at once and merges what they saw. The passes, the calibration across all
nodes and the verdicts stay the NetnsExecutor's, as on one engine.

A source whose node cannot be reached (its engine was not read, or its helper did not start) gets ERROR
for every probe, saying why; it is never judged from a run that did not happen. The helpers end when
`close` ends their attach streams (each removes itself), and the runner's `remove_run` removes them by
label on every node's engine, on every exit path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar, cast

from netcontract.errors import EngineError
from netcontract.live.netns.enter import NetnsRun, NetnsSource, Stretch
from netcontract.live.netns.tasks import error_observation
from netcontract.state import Container

START_WAIT = 10.0  # seconds `close` waits for helpers still starting (a Ctrl-C during their start)
T = TypeVar("T")
R = TypeVar("R")


class NodeHelper(Protocol):
    """One node's helper: what `SwarmHelpers` needs of `HelperNamespaces` (faked in the unit tests)."""

    def start(self) -> str | None:
        """Start it now if it has not been; None when it answers, else why it cannot probe at all."""
        ...

    def problem(self, container: Container) -> str | None:
        """None when it can probe from inside `container`'s namespace, else why not."""
        ...

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        """Every probe of every source (all on this node); ERROR observations for what could not run."""
        ...

    def close(self) -> None:
        """End the helper."""
        ...


class SwarmHelpers:
    """The helper prober of a swarm: one `NodeHelper` per node, made on first use by `make(node)`.

    `locate(container_id)` names the node a task runs on, or raises EngineError saying why it cannot be
    reached; `nodes()` lists the nodes with tasks, whose helpers the first question starts in parallel.
    """

    where = "each task's own node (one helper per node)"

    def __init__(
        self,
        make: Callable[[str], NodeHelper],
        locate: Callable[[str], str],
        nodes: Callable[[], Iterable[str]],
    ) -> None:
        self._make = make
        self._locate = locate
        self._nodes = nodes
        self._helpers: dict[str, NodeHelper] = {}
        self._lock = threading.Lock()
        self._started = False
        self._starting: list[
            threading.Thread
        ] = []  # the threads starting the helpers (close waits for them)

    def _helper(self, node: str) -> NodeHelper:
        with self._lock:
            if node not in self._helpers:
                self._helpers[node] = self._make(node)
            return self._helpers[node]

    def _start_all(self) -> None:
        """Start the helper of every node with tasks at once (each start is a container, an attach and a
        python start-up: about a second, which would add up node after node)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        helpers = [self._helper(node) for node in sorted(set(self._nodes()))]
        _each(helpers, lambda h: h.start(), self._starting)

    def problem(self, container: Container) -> str | None:
        """None when the helper of the task's node can probe from inside it, else why not (naming the node)."""
        try:
            node = self._locate(container.id)
        except EngineError as exc:
            return f"helper: {exc}"
        self._start_all()
        why = self._helper(node).problem(container)
        return None if why is None else f"node {node}: {why}"

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        """Each node's sources on its own helper, the nodes at once; one NetnsRun with every probe."""
        groups: dict[str, list[NetnsSource]] = {}
        lost = NetnsRun()
        for s in sources:
            try:
                groups.setdefault(self._locate(s.key), []).append(s)
            except EngineError as exc:
                lost.observations.update(
                    {(s.key, p.key): error_observation(p, f"helper: {exc}") for p in s.probes}
                )
        parts = list(groups.items())
        runs = _each(parts, lambda part: self._helper(part[0]).run(part[1], window, stretch))
        return merge_runs([lost, *runs])

    def close(self) -> None:
        """End every node's helper. After a Ctrl-C during their start, first wait (up to START_WAIT seconds)
        for the starts still under way, so that no helper is created after the runner's last `remove_run`."""
        deadline = time.monotonic() + START_WAIT
        for t in list(self._starting):
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            helpers = list(self._helpers.values())
        for h in helpers:
            h.close()


def merge_runs(runs: Iterable[NetnsRun]) -> NetnsRun:
    """One NetnsRun from runs over disjoint sources (each node's part of one pass)."""
    out = NetnsRun()
    for run in runs:
        out.observations.update(run.observations)
        out.latency_ms.update(run.latency_ms)
        out.slowest_tcp_ok_ms.update(run.slowest_tcp_ok_ms)
        out.waited_ms.update(run.waited_ms)
    return out


def _each(
    items: Sequence[T], call: Callable[[T], R], threads_out: list[threading.Thread] | None = None
) -> list[R]:
    """call(item) for every item, each in its own daemon thread (a node's helper blocks on its answer), in
    order; the first exception is raised here. A single item runs on the calling thread. Daemon threads: a
    Ctrl-C here goes straight to the runner, which removes the helpers, which ends their calls. The threads
    are added to `threads_out` (for whoever must wait for them after a Ctrl-C)."""
    if len(items) <= 1:
        return [call(item) for item in items]
    results: list[R | None] = [None] * len(items)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = call(items[i])
        except BaseException as exc:  # handed to the calling thread below
            errors.append(exc)

    threads = [
        threading.Thread(target=one, args=(i,), daemon=True, name=f"helper-{i}")
        for i in range(len(items))
    ]
    if threads_out is not None:
        threads_out += threads
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return cast(list[R], results)

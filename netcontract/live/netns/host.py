"""Where the netns executor may run, and the one call that runs it: the `NamespaceProber` Protocol.

`HostNamespaces` is the real one: it decides per container whether this
process can probe from inside its network namespace (root on the engine's own
host, the container's pid really being that container) and runs
`live.netns.enter.run_netns`. The runner's unit tests give it a fake with canned
observations instead.

Why the cgroup check: a pid from the engine is only meaningful when the engine
runs on this host. With a remote DOCKER_HOST (or Docker Desktop's VM) the same
number names an unrelated local process, and probing from its namespace would
test the wrong machine. `/proc/<pid>/cgroup` names the container's id on every
Docker cgroup layout (cgroupfs and systemd drivers, v1 and v2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from netcontract.live.netns.enter import (
    NetnsRun,
    NetnsSource,
    NetnsUnavailable,
    Stretch,
    pid_problem,
    run_netns,
)
from netcontract.state import Container


class NamespaceProber(Protocol):
    """Whether the netns executor can probe from a container, and the call that runs it (faked in tests)."""

    def problem(self, container: Container) -> str | None:
        """None when probes can run inside `container`'s network namespace, else a one-line reason."""
        ...

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        """Every probe of every source, each with `window` seconds for its answer (longer with `stretch`)."""
        ...


class HostNamespaces:
    """The real prober: setns into containers of an engine on this host."""

    def __init__(self) -> None:
        self._host_problem: str | None = None

    def problem(self, container: Container) -> str | None:
        """None when this process can probe from inside `container`'s namespace, else why not: no process,
        a pid that is not that container on this host (the engine runs elsewhere), or no access at all
        (remembered for every later container).
        """
        if self._host_problem is not None:
            return self._host_problem
        try:
            return pid_problem(container.pid, container.id, container.name)
        except NetnsUnavailable as exc:
            self._host_problem = str(exc)
            return self._host_problem

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        """`run_netns` over `sources`, each probe with `window` seconds for its answer (longer with `stretch`)."""
        return run_netns(sources, window, stretch=stretch)

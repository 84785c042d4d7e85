"""The helper executor's prober: the netns prober run by an agent inside one helper container on the engine's
host, for when this process cannot enter the containers' namespaces itself (not root, a remote engine,
Docker Desktop's VM).

`HelperNamespaces` implements `NamespaceProber` like `HostNamespaces`; the NetnsExecutor drives it exactly
as it drives the local prober (first pass, calibration, retries), so the probes, the kernel's timings and
the verdicts are the same. The helper is started on first use, once per check, from an image the user
chose (`--helper-image`: any image with python3 3.11 or later; pin it by digest), and gets this
netcontract's own prober source (live/netns/agent.py). It is the most privileged thing netcontract
starts: docs/security.md says what it can do.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from netcontract.errors import EngineError
from netcontract.live.interface import LiveEngine
from netcontract.live.netns.agent import BOOTSTRAP, bundle, run_from_wire, sources_to_wire
from netcontract.live.netns.enter import NetnsSource
from netcontract.live.netns.tasks import NetnsRun, Stretch, error_observation
from netcontract.state import Container

ANSWER_SLACK = 30.0  # seconds beyond a run's own longest window that its answer may take


class HelperProber(Protocol):
    """What the runner needs of the helper executor's prober: a NamespaceProber that names where it probes
    from and ends its helper container(s). `HelperNamespaces` (one engine) and `swarm.helpers.SwarmHelpers`
    (one helper per swarm node) implement it."""

    where: str  # for the report's note: where the helper probed from

    def problem(self, container: Container) -> str | None:
        """None when the helper can probe from inside `container`'s namespace, else why not."""
        ...

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        """Every probe of every source; ERROR observations for what could not run."""
        ...

    def close(self) -> None:
        """End the helper container(s)."""
        ...


class HelperNamespaces:
    """The netns prober inside a helper container: one per check, started on first use, closed by `close`."""

    where = "the engine's host"

    def __init__(self, engine: LiveEngine, image: str, run_id: str, pull: bool = True) -> None:
        self.engine = engine
        self.image = image
        self.run_id = run_id
        self.pull = pull
        self._lock = threading.Lock()
        self._channel: Any = None
        self._problem: str | None = None  # why the helper cannot probe from anywhere (remembered)
        self._started = False

    def _ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """One request and its answer; EngineError when the helper is gone or answers nonsense."""
        channel = self._channel
        channel.send(json.dumps(request).encode() + b"\n")
        try:
            reply = json.loads(channel.readline(timeout))
        except ValueError:
            raise EngineError("the helper container answered something that is not JSON") from None
        if not isinstance(reply, dict) or "error" in reply:
            raise EngineError(
                f"the helper container failed: {str(reply.get('error') if isinstance(reply, dict) else reply)[:300]}"
            )
        return reply

    def _start(self) -> None:
        self._started = True
        try:
            self._channel = self.engine.helper(
                self.image, ["python3", "-u", "-c", BOOTSTRAP], self.run_id, self.pull
            )
            self._channel.send(bundle())
            self._ask({"op": "hello"}, 60)
        except EngineError as exc:
            self._problem = f"helper ({self.image}): {exc}"
            self.close()

    def start(self) -> str | None:
        """Start the helper now, if it has not been (a swarm starts one per node at once); None when it
        answers, else why it cannot probe from anywhere."""
        with self._lock:
            if not self._started:
                self._start()
            return self._problem

    def problem(self, container: Container) -> str | None:
        """None when the helper can probe from inside `container`'s namespace, else why not."""
        with self._lock:
            if not self._started:
                self._start()
            if self._problem is not None:
                return self._problem
            try:
                reply = self._ask(
                    {
                        "op": "problem",
                        "pid": container.pid,
                        "id": container.id,
                        "name": container.name,
                    },
                    30,
                )
            except EngineError as exc:
                self._problem = f"helper ({self.image}): {exc}"
                return self._problem
            if reply.get("everywhere"):
                self._problem = f"helper ({self.image}): {reply.get('problem')}"
                return self._problem
            found = reply.get("problem")
            return None if found is None else f"helper: {found}"

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        """Every probe of every source, run by the agent; ERROR for all of them when the helper is gone."""
        longest = max(window, stretch.cap if stretch else 0.0)
        request = {
            "op": "run",
            "sources": sources_to_wire(sources),
            "window": window,
            "stretch": [stretch.multiple, stretch.cap] if stretch else None,
        }
        with self._lock:
            why = self._problem
            if why is None and self._channel is not None:
                try:
                    return run_from_wire(self._ask(request, longest * 4 + ANSWER_SLACK)["run"])
                except (EngineError, KeyError, TypeError, ValueError) as exc:
                    why = self._problem = f"helper ({self.image}): {exc}"
                    self.close()
        run = NetnsRun()
        run.observations = {
            (s.key, p.key): error_observation(p, why or "the helper was never started")
            for s in sources
            for p in s.probes
        }
        return run

    def close(self) -> None:
        """End the helper (its container removes itself; the runner's remove_run is the safety net)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None

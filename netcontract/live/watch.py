"""`watch`: a full check, then the engine's event stream, re-checking only what an event can change.

The loop (one thread; a reader thread only moves events from the stream into a queue):
1. open the event stream first, then run a full check, so no event between the two is lost;
2. wait for an event; gather the burst it starts until `settle` seconds pass without another (at most
   `burst_max`), so a `compose up` of dozens of events is one re-check;
3. take a snapshot, ask `changes.scope` which services the burst touched, and evaluate the structural
   rules and the probes from and to those services (a tier network created or destroyed: everything);
4. merge with the results not repeated, hand the new picture and its verdict changes to the caller.
A container that died without starting again, or whose healthcheck is still `starting`, is given
`grace` seconds before its scope is re-checked, so a restart is not reported as a failure. Every
`interval` seconds a full check runs anyway: firewall rules change without an engine event. When the
stream breaks (the engine restarted, the socket went away) the loop says so, reconnects with backoff,
and starts again at 1.

Probe containers (sidecars) are removed by each check's runner, on every exit path.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from netcontract.changes import Change, Event, Scope, diff, merge, scope
from netcontract.contract import Contract, load_contract
from netcontract.errors import EngineError, UsageError
from netcontract.live.checker import CheckOptions, connect, evaluate, resolve_project
from netcontract.live.docker.api import ApiError, EngineApi, EventStream, env_host, speaks
from netcontract.live.interface import LiveEngine
from netcontract.results import Report
from netcontract.state import State
from netcontract.structural import egress_results, structural_results

EVENT_FILTERS = {"type": ["container", "network"]}


@dataclass(frozen=True)
class WatchOptions:
    """How `watch` follows the engine: the check's own options, and the loop's timings (seconds)."""

    check: CheckOptions = field(default_factory=CheckOptions)
    settle: float = 0.2  # quiet time that ends a burst of events
    burst_max: float = 2.0  # a burst is re-checked after at most this long
    grace: float = (
        30.0  # how long a dead or `starting` container of a touched service is waited for
    )
    interval: float = 300.0  # a full check every this many seconds (0: never)
    backoff_max: float = 10.0  # the longest wait between reconnection attempts


@dataclass(frozen=True)
class Update:
    """One re-check: the whole picture after it, the verdicts that changed, and why it ran."""

    report: Report
    changes: tuple[Change, ...]
    cause: str  # "initial check", the events in a few words, "periodic full check", "engine back"
    full: bool  # every probe ran (else only those from and to `services`)
    services: frozenset[str] = frozenset()
    events: int = 0  # engine events in the burst
    at: float = 0.0  # time.time() when it finished


class _Lost:
    """Put on the queue by the reader thread when the stream ends or fails."""

    def __init__(self, why: str) -> None:
        self.why = why


class Watcher:
    """Runs the loop for one contract; `on_update` gets every re-check, `on_status` one line per state change
    of the loop itself (following, connection lost, back). `stop` ends it between re-checks."""

    def __init__(
        self,
        contract_path: str | Path,
        options: WatchOptions,
        engine_factory: Callable[[CheckOptions], LiveEngine] = connect,
        events_factory: Callable[[], EngineApi] | None = None,
    ) -> None:
        self.contract_path = str(contract_path)
        self.options = options
        self.engine_factory = engine_factory
        self.events_factory = events_factory or _events_api
        self.contract: Contract = load_contract(contract_path)
        if self.contract.orchestrator == "swarm":
            raise UsageError(
                "watch follows one engine's events: Swarm stacks are checked with `check --node`"
            )
        self.project = resolve_project(self.contract, options.check.project)
        self.networks = [t.network for t in self.contract.tiers.values()]
        self.report: Report | None = None
        self.state: State | None = None
        self.events_seen = 0
        self.last_full = 0.0
        self._structural: set[str] = set()

    # -- the loop ---------------------------------------------------------------------------------
    def run(
        self,
        on_update: Callable[[Update], None],
        on_status: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        """Follow the engine until `stop` is set; reconnect whenever the engine goes away."""
        backoff = 0.5
        lost_at: float | None = None
        while not stop.is_set():
            try:
                api = self.events_factory()
                stream = api.events(filters=EVENT_FILTERS)
            except (ApiError, EngineError, OSError) as exc:
                if lost_at is None:
                    lost_at = time.monotonic()
                    on_status(f"engine unreachable ({exc}); retrying")
                stop.wait(backoff)
                backoff = min(backoff * 2, self.options.backoff_max)
                continue
            inbox: queue.Queue[object] = queue.Queue()
            reader = threading.Thread(
                target=_read, args=(stream, inbox), name="events", daemon=True
            )
            reader.start()
            try:
                engine = self.engine_factory(self.options.check)
                try:
                    cause = "initial check" if self.report is None else "engine back"
                    if lost_at is not None:
                        cause = f"engine back after {time.monotonic() - lost_at:.1f} s"
                        on_status(f"{cause}: full check")
                    on_update(self._check(engine, None, cause, 0))
                    lost_at, backoff = None, 0.5
                    on_status(f"following engine events ({env_host()})")
                    why = self._follow(engine, inbox, on_update, stop)
                finally:
                    engine.close()
            except (EngineError, ApiError) as exc:
                why = str(exc)
            finally:
                stream.close()
                api.close()
            if stop.is_set():
                return
            lost_at = time.monotonic()
            on_status(f"engine connection lost ({why}); reconnecting")

    def _follow(
        self,
        engine: LiveEngine,
        inbox: queue.Queue[object],
        on_update: Callable[[Update], None],
        stop: threading.Event,
    ) -> str:
        """Re-check bursts until the stream is lost (its reason returned) or `stop` is set."""
        interval = self.options.interval
        pending: list[Event] = []  # events whose scope waits for a container to come back or settle
        waiting_since = 0.0
        while not stop.is_set():
            timeout = 0.5
            if interval > 0:
                timeout = max(0.0, min(timeout, self.last_full + interval - time.monotonic()))
            if pending:
                timeout = min(timeout, 0.25)
            try:
                item = inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, _Lost):
                return item.why
            burst = list(pending)
            if isinstance(item, Event):
                burst.append(item)
                lost = self._gather(inbox, burst)
                if lost is not None:
                    return lost
            if burst:
                if not pending:
                    waiting_since = time.monotonic()
                state = engine.snapshot(self.project, self.networks)
                found = scope(burst, self.contract, self.project, self.state or state, state)
                unsettled = self._unsettled(found, state)
                if unsettled and time.monotonic() - waiting_since < self.options.grace:
                    pending = burst
                    continue
                pending = []
                if found.relevant:
                    services = None if found.everything else found.services
                    on_update(
                        self._check(
                            engine, services, _cause(burst, self.state, state), len(burst), state
                        )
                    )
                else:
                    self.state = state
            elif interval > 0 and time.monotonic() - self.last_full >= interval:
                on_update(self._check(engine, None, "periodic full check", 0))
        return "stopped"

    def _gather(self, inbox: queue.Queue[object], burst: list[Event]) -> str | None:
        """Add the rest of a burst: events until `settle` seconds pass without one, at most `burst_max`."""
        end = time.monotonic() + self.options.burst_max
        while True:
            wait = min(self.options.settle, end - time.monotonic())
            if wait <= 0:
                return None
            try:
                item = inbox.get(timeout=wait)
            except queue.Empty:
                return None
            if isinstance(item, _Lost):
                return item.why
            if isinstance(item, Event):
                burst.append(item)

    def _unsettled(self, found: Scope, state: State) -> bool:
        """A touched service with no running container, or one still `starting` its healthcheck: it may be
        restarting, so its verdicts wait (at most `grace`)."""
        for service in found.services:
            containers = state.service_containers(service)
            if not containers or any(not c.running or c.health == "starting" for c in containers):
                return True
        return False

    def _check(
        self,
        engine: LiveEngine,
        services: frozenset[str] | None,
        cause: str,
        events: int,
        state: State | None = None,
    ) -> Update:
        """Evaluate (everything, or the probes from and to `services`), merge, diff."""
        self.events_seen += events
        started = time.monotonic()
        state = state or engine.snapshot(self.project, self.networks)
        check = self.options.check
        partial = evaluate(
            self.contract,
            self.contract_path,
            self.project,
            engine,
            state,
            check,
            only=services,
            started=started,
        )
        whole = (
            merge(self.report, partial, services, self._structural)
            if self.report is not None
            else partial
        )
        whole = replace(whole, duration=time.monotonic() - started)
        changes = diff(self.report, whole)
        self.report, self.state = whole, state
        self._structural = {
            r.id
            for r in structural_results(self.contract, state) + egress_results(self.contract, state)
        }
        if services is None:
            self.last_full = time.monotonic()
        return Update(
            whole,
            tuple(changes),
            cause,
            services is None,
            services or frozenset(),
            events,
            time.time(),
        )


def _read(stream: EventStream, inbox: queue.Queue[object]) -> None:
    """The reader thread: decoded events into the queue, then why the stream ended."""
    try:
        for raw in stream:
            event = Event.from_api(raw)
            if event is not None:
                inbox.put(event)
        inbox.put(_Lost("the event stream ended"))
    except ApiError as exc:
        inbox.put(_Lost(str(exc)))
    except Exception as exc:  # the reader must always report, or the loop would wait forever
        inbox.put(_Lost(f"{type(exc).__name__}: {exc}"))


def _events_api() -> EngineApi:
    """The standard-library client for the environment's engine; watch needs its event stream."""
    if not speaks():
        raise UsageError(
            "watch reads the engine's event stream over unix:// or tcp:// (DOCKER_HOST); "
            "TLS and ssh engines are not supported by watch yet"
        )
    return EngineApi(env_host(), timeout=30)


def _cause(burst: list[Event], before: State | None, after: State) -> str:
    """The events of a burst in a few words: the first three, then how many more."""
    names = {c.id: c.name for s in (before, after) if s is not None for c in s.containers}
    words = list(dict.fromkeys(e.describe(names) for e in burst))
    return "; ".join(words[:3]) + (f"; and {len(words) - 3} more" if len(words) > 3 else "")

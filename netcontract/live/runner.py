"""Executors and concurrency: observe every source's probes, repeat what the judge asks for, judge.

Executors (`--executor`):
- `netns`: sockets netcontract opens inside each source container's network namespace, all
  sources on one selector (live/netns/enter.py). Nothing of the container runs; our code reads the
  kernel's answers and Docker's DNS packets.
- `exec`: one `docker exec` per source runs a batch script with the container's own tools.
- `sidecar`: the same script in a short-lived probe container sharing the source's namespace.
- `auto`: netns where this process can enter the namespace (root on the engine's host), else
  exec, else sidecar.

Only probes whose observation the judge says differs from the expectation are repeated, with a
longer window, within an overall deadline. netns negatives are judged on a window calibrated from
the same source's answered probes (probe/timing.py).
"""

from __future__ import annotations

import enum
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import TypeVar

from netcontract.contract import Contract
from netcontract.errors import EngineError
from netcontract.live.interface import LiveEngine
from netcontract.live.netns.enter import NetnsRun, NetnsSource, Stretch
from netcontract.live.netns.host import HostNamespaces, NamespaceProber, is_address
from netcontract.live.netns.tasks import path_kind
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.probe.plan import Expectation, ProbePlan, SourcePlan
from netcontract.probe.timing import NETNS_MULTIPLE, Timing
from netcontract.probe.verdicts import judge_source, to_retry
from netcontract.results import Result
from netcontract.state import State

DEFAULT_PROBE_IMAGE = "busybox:1.36"


class ExecutorMode(enum.StrEnum):
    AUTO = "auto"  # netns where possible, else exec where the container has the tools, else a sidecar
    NETNS = "netns"  # our own sockets inside each source's network namespace (root, engine on this host)
    EXEC = "exec"  # only the tools inside the source container
    SIDECAR = "sidecar"  # always a probe container sharing the source's network namespace


@dataclass(frozen=True)
class RunOptions:
    mode: ExecutorMode = ExecutorMode.AUTO
    timeout: float = 1.0
    retries: int = 1
    concurrency: int = 16
    probe_image: str = DEFAULT_PROBE_IMAGE
    pull: bool = True
    deadline: float | None = None  # seconds for all probing, retries included; default: Timing.budget

    @property
    def timing(self) -> Timing:
        return Timing(self.timeout, self.deadline)


Progress = Callable[[int, int], None]
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class _Batch:
    executor: str  # "netns", "exec" or "sidecar"
    problem: str = ""  # set when no executor can run this source's probes
    auto: bool = False  # exec, but move to a sidecar when the container lacks sh or tools


class ProbeRunner:
    def __init__(self, engine: LiveEngine, options: RunOptions, prober: NamespaceProber | None = None) -> None:
        self.engine = engine
        self.options = options
        self.prober: NamespaceProber = prober if prober is not None else HostNamespaces()
        self.run_id = uuid.uuid4().hex[:12]
        self.cancelled = threading.Event()
        self.notes: list[str] = []
        self._image_problem: str | None = None
        self._image_checked = False
        self._lock = threading.Lock()
        self._fallbacks: dict[str, str] = {}  # auto: container id -> why netns was not possible

    # -- public -------------------------------------------------------------------------
    def run(self, plan: ProbePlan, contract: Contract, state: State,
            progress: Progress | None = None) -> list[Result]:
        """Probe every source, then repeat what disagreed with the contract, then judge.

        Retries run as a second pass, after every first batch has finished: a
        probe that timed out because the machine was busy gets its second try
        on a quiet machine, with a doubled window.
        """
        started = time.monotonic()
        timing = self.options.timing
        results: list[Result] = list(plan.settled)
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.concurrency), thread_name_prefix="probe")
        try:
            runs = [_SourceRun(sp, self._choose(sp)) for sp in plan.sources]
            self._note_executors(runs)
            spaces = [r for r in runs if r.batch.executor == "netns" and not r.batch.problem]
            others = [r for r in runs if r not in spaces]
            futures = [pool.submit(self._first, r) for r in others]
            if spaces:
                self.notes += neighbour_notes(neighbours_needed([r.plan for r in spaces], state), neighbour_limits())
                self._await_ipv6(spaces, state)
                self._netns(spaces, timing.netns_first, _SourceRun.everything,
                            Stretch(NETNS_MULTIPLE, timing.netns_cap))
                self._calibrate(spaces)
                if progress:
                    progress(len(spaces), len(runs))
            self._wait(futures, progress, offset=len(spaces), total=len(runs))
            for attempt in range(1, self.options.retries + 1):
                window = timing.attempt(attempt)
                remaining = timing.budget - (time.monotonic() - started)
                pending = [r for r in runs if r.pending()]
                if not pending or self.cancelled.is_set():
                    break
                # The first retry always runs (a timeout where a path should connect is retried with a longer
                # window before it is reported), unless an explicit --deadline cannot hold it; later ones must
                # fit the budget. A first pass that took longer than the budget (hundreds of containers) must
                # not turn its timeouts into verdicts.
                if remaining < window + 1 and (attempt > 1 or timing.deadline is not None):
                    if attempt == 1:
                        self._unretried(pending)
                    break
                pending_ns = [r for r in pending if r.batch.executor == "netns"]
                futures = [pool.submit(self._retry, r, window) for r in pending if r not in pending_ns]
                if pending_ns:
                    self._netns(pending_ns, window, _SourceRun.disagreeing)
                self._wait(futures, None)
            self._note_windows(spaces)
            # A container that stopped or restarted while it was probed (or probed from)
            # makes its timeouts meaningless: those results become ERRORs.
            watched = {c.id: c.started_at for c in state.containers if c.running and c.service in contract.services}
            changed = self.engine.changed(watched)
            void = {c.service for c in state.containers if c.id in changed and c.service}
            for r in runs:
                results += r.judge(contract, state, void)
        except BaseException:
            self.cancelled.set()
            pool.shutdown(wait=False, cancel_futures=True)
            self.engine.remove_run(self.run_id)
            raise
        finally:
            pool.shutdown(wait=True)
            self.engine.remove_run(self.run_id)
        return results

    @staticmethod
    def _wait(futures: list[Future[_R]], progress: Progress | None, offset: int = 0, total: int = 0) -> list[_R]:
        for done, fut in enumerate(as_completed(futures), start=1):
            fut.result()  # re-raise a worker's exception here
            if progress:
                progress(offset + done, total or len(futures))
        return [f.result() for f in futures]

    # -- netns: every source on one selector ----------------------------------------------
    def _netns(self, runs: list[_SourceRun], window: float, which: Callable[[_SourceRun], list[Expectation]],
               stretch: Stretch | None = None) -> None:
        """One netns pass over `runs`, probing `which(run)` of each: every expectation (the first pass), the
        timeouts (calibration) or what the judge wants repeated (retries). With `stretch` (the first pass) an
        unanswered probe waits as long as the answers seen so far call for, so calibration rarely repeats it."""
        t0 = time.monotonic()
        redo = which is not _SourceRun.everything
        todo = {id(r): which(r) for r in runs}
        if self.cancelled.is_set():
            for r in runs:
                r.obs.update({e.id: [Observation(Outcome.ERROR, detail="check interrupted")] for e in todo[id(r)]})
            return
        names = self._resolve_names(runs, todo)
        sources: list[NetnsSource] = []
        layout: list[tuple[_SourceRun, list[tuple[Probe, str, Observation | None]]]] = []
        for r in runs:
            slots: list[tuple[Probe, str, Observation | None]] = []
            for e in todo[id(r)]:
                for target in e.targets:
                    for address, problem in _addresses(e, target, names.get((id(r), target))):
                        for qtype in e.qtypes if e.probe_kind is ProbeKind.DNS else ("A",):
                            probe = Probe(f"p{len(slots)}", e.probe_kind, address, e.port, qtype=qtype)
                            slots.append((probe, e.id, problem))
            sources.append(NetnsSource(r.plan.container.id, r.plan.container.pid,
                                       tuple(p for p, _, problem in slots if problem is None)))
            layout.append((r, slots))
        seen = self.prober.run(sources, window, stretch) if any(s.probes for s in sources) else NetnsRun()
        elapsed = time.monotonic() - t0
        for r, slots in layout:
            obs: dict[str, list[Observation]] = {e.id: [] for e in todo[id(r)]}
            for probe, rid, problem in slots:
                key = (r.plan.container.id, probe.key)
                got = problem or seen.observations.get(key)
                if got is not None and probe.kind is ProbeKind.DNS and got.qtype != probe.qtype:
                    got = replace(got, qtype=probe.qtype)
                obs[rid].append(got or Observation(Outcome.ERROR, detail="netns run returned no observation"))
                if got is not None and key in seen.latency_ms and got.outcome not in (Outcome.ERROR, Outcome.TIMEOUT):
                    # answered (a connect, a refusal, an echo reply, a DNS response): how long this kind of
                    # path takes to answer from this source right now
                    path = _path_kind(probe)
                    r.slowest[path] = max(r.slowest.get(path, 0.0), seen.latency_ms[key] / 1000)
            r.obs.update(obs)
            had: dict[str, float] = {}  # the shortest window a timed-out probe of each expectation had
            for probe, rid, _problem in slots:
                waited = seen.waited_ms.get((r.plan.container.id, probe.key))
                if waited is not None:
                    had[rid] = min(had.get(rid, waited / 1000), waited / 1000)
            r.windows.update({e.id: max(window, had.get(e.id, window)) for e in todo[id(r)]})
            r.elapsed += elapsed
            if redo:
                for e in todo[id(r)]:
                    r.attempts[e.id] = r.attempts.get(e.id, 1) + 1

    def _resolve_names(self, runs: list[_SourceRun], todo: dict[int, list[Expectation]]
                       ) -> dict[tuple[int, str], Observation]:
        """TCP and ICMP targets given as names (egress canaries) are resolved from inside the source first."""
        wanted = {(id(r), t) for r in runs for e in todo[id(r)] if e.probe_kind is not ProbeKind.DNS
                  for t in e.targets if not is_address(t)}
        if not wanted:
            return {}
        sources = []
        for r in runs:
            mine = sorted(t for rid, t in wanted if rid == id(r))
            if mine:
                sources.append(NetnsSource(r.plan.container.id, r.plan.container.pid,
                                           tuple(Probe(f"n{i}", ProbeKind.DNS, t) for i, t in enumerate(mine))))
        seen = self.prober.run(sources, self.options.timing.netns_first)
        out: dict[tuple[int, str], Observation] = {}
        for r in runs:
            mine = sorted(t for rid, t in wanted if rid == id(r))
            for i, t in enumerate(mine):
                out[(id(r), t)] = seen.observations.get((r.plan.container.id, f"n{i}"),
                                                        Observation(Outcome.ERROR, detail="no DNS observation"))
        return out

    def _await_ipv6(self, runs: list[_SourceRun], state: State) -> None:
        """IPv6 timeouts prove nothing until the host's IPv6 addresses answer: a bridge's address spends a second
        or two in duplicate address detection after its first container attaches, and IPv6 through it is
        dropped meanwhile (measured on 20.10: a leak there read as blocked right after `up`). Each source with
        IPv6 paths pings the host's IPv6 addresses on the tier networks until they answer, within a deadline;
        where they never do, its IPv6 timeouts become ERRORs."""
        gateways = sorted({g for n in state.networks for g in n.gateways if ":" in g and n.name != "bridge"})
        waiting = {id(r): set(gateways) for r in runs if any(e.family == 6 for e in r.plan.expectations)}
        if not gateways or not waiting:
            return
        deadline = time.monotonic() + max(2.0, self.options.timing.attempt(1))
        while waiting and time.monotonic() < deadline and not self.cancelled.is_set():
            asking = [r for r in runs if id(r) in waiting]
            probes = {id(r): sorted(waiting[id(r)]) for r in asking}
            seen = self.prober.run([NetnsSource(r.plan.container.id, r.plan.container.pid,
                                                tuple(Probe(f"g{i}", ProbeKind.ICMP, g) for i, g in
                                                      enumerate(probes[id(r)]))) for r in asking], 0.2)
            for r in asking:
                for i, g in enumerate(probes[id(r)]):
                    o = seen.observations.get((r.plan.container.id, f"g{i}"))
                    if o is not None and o.outcome is Outcome.OK:
                        waiting[id(r)].discard(g)
                if not waiting[id(r)]:
                    del waiting[id(r)]
        for r in runs:
            if id(r) in waiting:
                r.ipv6_problem = (f"the host's IPv6 address {', '.join(sorted(waiting[id(r)]))} did not answer "
                                  f"{r.plan.container.name} (duplicate address detection, or IPv6 routing off), "
                                  "so an IPv6 timeout from it proves nothing")

    def _unretried(self, pending: list[_SourceRun]) -> None:
        """--deadline left no time for the first retry: an observation that only a longer window could settle
        (a timeout where the contract expects an answer) proves nothing, so it is an ERROR, not a FAIL."""
        for r in pending:
            for e in r.disagreeing():
                if any(o.outcome is Outcome.TIMEOUT for o in r.obs.get(e.id, ())):
                    r.obs[e.id] = [Observation(Outcome.ERROR, detail="timed out, and the --deadline left no time "
                                                                   "for the retry with a longer window")]
        self.notes.append("the --deadline passed before the retries: timeouts that a retry would have settled "
                          "are ERROR")

    def _calibrate(self, runs: list[_SourceRun]) -> None:
        """Every timeout must have had the window that answers of its kind call for: NETNS_MULTIPLE times the
        slowest answer of the same kind of path (TCP, ICMP, DNS; IPv4 or IPv6) from the same source, or from any
        source if slower. A kind of path that nothing answered on in this run (say IPv6 where every IPv6 path
        is forbidden) has nothing to calibrate from: its timeouts get the --timeout window."""
        timing = self.options.timing
        everywhere: dict[str, float] = {}
        for r in runs:
            for path, slowest in r.slowest.items():
                everywhere[path] = max(everywhere.get(path, 0.0), slowest)
        needed: dict[int, dict[str, float]] = {}
        for r in runs:
            want = {}
            for e in r.negatives():
                path = _path_kind(e)
                if path in everywhere:
                    want[e.id] = timing.netns_window(max(r.slowest.get(path, 0.0), everywhere[path]))
                else:
                    want[e.id] = timing.netns_unsampled
            short = {rid: w for rid, w in want.items() if w > r.windows.get(rid, 0.0)}
            if short:
                needed[id(r)] = short
        if not needed:
            return
        slow = [r for r in runs if id(r) in needed]
        window = max(w for short in needed.values() for w in short.values())
        self._netns(slow, window, lambda r: [e for e in r.plan.expectations if e.id in needed[id(r)]])

    def _note_windows(self, runs: list[_SourceRun]) -> None:
        """Say in the report which windows the negatives were judged on, and why."""
        windows: dict[str, float] = {}
        slowest: dict[str, float] = {}
        for r in runs:
            for e in r.negatives():
                path = _path_kind(e)
                windows[path] = min(windows.get(path, 1e9), r.windows.get(e.id, 0.0))
            for path, s in r.slowest.items():
                slowest[path] = max(slowest.get(path, 0.0), s)
        if not runs:
            return
        parts = [f"{path} {windows[path] * 1000:.0f} ms ("
                 + (f"slowest answer {slowest[path] * 1000:.1f} ms" if path in slowest else "nothing answered: --timeout")
                 + ")" for path in sorted(windows)]
        self.notes.append("netns: timeouts judged on windows of at least " + (", ".join(parts) or "-")
                          + f"; floor {self.options.timing.netns_first * 1000:.0f} ms, "
                          f"{NETNS_MULTIPLE}x the slowest answer on the same kind of path")

    def _note_executors(self, runs: list[_SourceRun]) -> None:
        scripted = [r for r in runs if r.batch.executor in ("exec", "sidecar")]
        if any("AAAA" in e.qtypes for r in scripted for e in r.plan.expectations):
            self.notes.append("exec/sidecar ask A records only: AAAA (IPv6 names) is checked by the netns executor")
        mode = self.options.mode
        if mode is ExecutorMode.AUTO:
            fallback = sorted(set(self._fallbacks.values()))
            if fallback:
                self.notes.append("auto: netns not possible (" + "; ".join(fallback)[:300] + "): exec or sidecar "
                                  "used, whose verdicts trust the tools they run (docs/security.md)")

    # -- one source (exec, sidecar) -------------------------------------------------------
    def _first(self, run: _SourceRun) -> _SourceRun:
        t0 = time.monotonic()
        if run.batch.problem:
            run.problem = run.batch.problem
        else:
            run.obs = self._observe(run.plan, list(run.plan.expectations), run.batch, self.options.timeout)
        run.elapsed = time.monotonic() - t0
        return run

    def _retry(self, run: _SourceRun, timeout: float) -> _SourceRun:
        t0 = time.monotonic()
        redo = run.disagreeing()
        run.obs.update(self._observe(run.plan, redo, run.batch, timeout))
        for e in redo:
            run.attempts[e.id] = run.attempts.get(e.id, 1) + 1
        run.elapsed += time.monotonic() - t0
        return run

    def _choose(self, sp: SourcePlan) -> _Batch:
        mode = self.options.mode
        if mode in (ExecutorMode.NETNS, ExecutorMode.AUTO):
            why = self.prober.problem(sp.container)
            if why is None:
                return _Batch("netns")
            if mode is ExecutorMode.NETNS:
                return _Batch("netns", problem=f"netns executor: {why}")
            self._fallbacks[sp.container.id] = why
        if mode is ExecutorMode.SIDECAR:
            return self._sidecar()
        # exec, or auto: the first exec doubles as tool detection (see batch_script)
        return _Batch("exec", auto=mode is ExecutorMode.AUTO)

    def _sidecar(self) -> _Batch:
        return _Batch("sidecar", problem=self._probe_image_problem() or "")

    def _move_to_sidecar(self, batch: _Batch) -> None:
        """auto: this container lacks a shell or tools; its batches go to a sidecar from now on."""
        sidecar = self._sidecar()
        batch.executor, batch.problem, batch.auto = sidecar.executor, sidecar.problem, False

    def _probe_image_problem(self) -> str | None:
        with self._lock:
            if not self._image_checked:
                problem = self.engine.image_problem(self.options.probe_image, self.options.pull)
                self._image_problem = f"{problem}; set --probe-image (or NETCONTRACT_PROBE_IMAGE)" if problem else None
                self._image_checked = True
            return self._image_problem

    def _observe(self, sp: SourcePlan, exps: list[Expectation], batch: _Batch,
                 timeout: float) -> dict[str, list[Observation]]:
        probes: list[Probe] = []
        owner: list[str] = []
        for e in exps:
            for target in e.targets:
                # the batch script asks A records only: AAAA over exec/sidecar is not probed (a report note says so)
                probes.append(Probe(f"p{len(probes)}", e.probe_kind, target, e.port))
                owner.append(e.id)
        if self.cancelled.is_set():
            return {e.id: [Observation(Outcome.ERROR, detail="check interrupted")] for e in exps}
        from netcontract.probe.parse import parse_batch
        from netcontract.probe.script import batch_script

        try:
            if batch.executor == "exec":
                argv = ["sh", "-c", batch_script(probes, timeout, require_tools=batch.auto)]
                code, text = self.engine.exec(sp.container.id, argv)
                if batch.auto and _lacks_tools(code, text):
                    self._move_to_sidecar(batch)
                    if batch.problem:
                        return {e.id: [Observation(Outcome.ERROR, detail=batch.problem)] for e in exps}
            if batch.executor == "sidecar":
                argv = ["sh", "-c", batch_script(probes, timeout)]
                code, text = self.engine.sidecar(sp.container.id, self.options.probe_image, argv, self.run_id,
                                                 timeout=Timing.sidecar_wait(timeout), cancelled=self.cancelled)
        except EngineError as exc:
            if batch.auto and "executable file not found" in str(exc):
                self._move_to_sidecar(batch)
                if batch.problem:
                    return {e.id: [Observation(Outcome.ERROR, detail=batch.problem)] for e in exps}
                return self._observe(sp, exps, batch, timeout)
            return {e.id: [Observation(Outcome.ERROR, detail=f"{batch.executor} failed: {exc}")] for e in exps}
        parsed = parse_batch(text, probes)
        if code not in (0, None) and not any(o.outcome is not Outcome.ERROR for o in parsed.values()):
            detail = _first(text) or f"exit code {code}"
            note = f"{batch.executor} in {sp.container.name} failed ({detail})"
            if batch.executor == "exec":
                note += "; the container may lack a shell or probe tools: use --executor auto or sidecar"
            parsed = {k: Observation(Outcome.ERROR, detail=note, output=text) for k in parsed}
        out: dict[str, list[Observation]] = {e.id: [] for e in exps}
        for probe, rid in zip(probes, owner, strict=True):
            o = parsed[probe.key]
            if probe.kind is ProbeKind.DNS:
                o = replace(o, qtype="A")
            if o.outcome is Outcome.ERROR and code is not None and code >= 128:
                o = Observation(Outcome.ERROR, detail=f"{o.detail} (exit {code}: the container stopped?)",
                                output=o.output, tool=o.tool)
            out[rid].append(o)
        return out



@dataclass
class _SourceRun:
    """One source's probing across attempts."""

    plan: SourcePlan
    batch: _Batch
    obs: dict[str, list[Observation]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    problem: str = ""
    elapsed: float = 0.0
    windows: dict[str, float] = field(default_factory=dict)  # netns: expectation id -> its last window
    slowest: dict[str, float] = field(default_factory=dict)  # netns: slowest answer by kind of path, seconds
    ipv6_problem: str = ""  # netns: why this source's IPv6 timeouts prove nothing

    def everything(self) -> list[Expectation]:
        return list(self.plan.expectations)

    def disagreeing(self) -> list[Expectation]:
        return to_retry(self.plan.expectations, self.obs)

    def negatives(self) -> list[Expectation]:
        """Expectations with an observation that is only a timeout: the ones a window decides."""
        return [e for e in self.plan.expectations
                if any(o.outcome is Outcome.TIMEOUT for o in self.obs.get(e.id, ()))]

    def pending(self) -> bool:
        return not self.problem and not self.batch.problem and bool(self.disagreeing())

    def judge(self, contract: Contract, state: State, void: Collection[str] = ()) -> list[Result]:
        if self.ipv6_problem:
            for e in self.plan.expectations:
                if e.family == 6 and any(o.outcome is Outcome.TIMEOUT for o in self.obs.get(e.id, ())):
                    self.obs[e.id] = [Observation(Outcome.ERROR, detail=self.ipv6_problem, tool="netns")]
        results = judge_source(self.plan, self.obs, contract=contract, state=state,
                               problem=self.problem or self.batch.problem, void=void,
                               attempts=self.attempts, duration=self.elapsed)
        return [replace(r, executor=self.batch.executor) for r in results]


def neighbours_needed(plans: Sequence[SourcePlan], state: State) -> dict[int, int]:
    """How many neighbour entries (ARP for IPv4, NDP for IPv6) the probes of these sources make the kernel
    create, by family: per source, each distinct target address on a network it is attached to, plus one
    for its way to anything else (a gateway). Every namespace's entries count against one table per family."""
    network_of: dict[str, str] = {}
    for c in state.containers:
        for ep in c.endpoints:
            for address in ep.addresses:
                network_of.setdefault(address, ep.network)
    for n in state.networks:
        for gw in n.gateways:
            network_of.setdefault(gw, n.name)
    total = {4: 0, 6: 0}
    for plan in plans:
        attached = set(plan.container.networks)
        onlink: set[str] = set()
        routed = False
        for e in plan.expectations:
            if e.probe_kind is ProbeKind.DNS:
                continue
            for t in e.targets:
                if network_of.get(t) in attached:
                    onlink.add(t)
                else:
                    routed = True
        for t in onlink:
            total[6 if ":" in t else 4] += 1
        total[4] += int(routed)
    return total


def neighbour_limits() -> dict[int, int]:
    """The kernel's hard limits on neighbour entries (gc_thresh3), by family; those it cannot read are left out."""
    out = {}
    for family, path in ((4, "/proc/sys/net/ipv4/neigh/default/gc_thresh3"),
                         (6, "/proc/sys/net/ipv6/neigh/default/gc_thresh3")):
        try:
            with open(path, encoding="ascii") as f:
                out[family] = int(f.read().strip())
        except (OSError, ValueError):
            continue
    return out


def neighbour_notes(needed: Mapping[int, int], limits: Mapping[int, int]) -> list[str]:
    """A note when the probes need more neighbour entries than the kernel keeps: past gc_thresh3 it drops the
    packets to new neighbours, and reachable paths time out (measured: 200 containers, gc_thresh3 8192)."""
    out = []
    for family, name in ((4, "IPv4 (ARP)"), (6, "IPv6 (NDP)")):
        if family in limits and needed.get(family, 0) > limits[family]:
            key = f"net.ipv{family}.neigh.default.gc_thresh3"
            out.append(f"kernel neighbour table: these probes need about {needed[family]} {name} neighbour entries "
                       f"across the containers' namespaces, more than {key} ({limits[family]}); past it the kernel "
                       "drops packets to new neighbours and reachable paths time out: raise it (and gc_thresh1/2; "
                       "docs/performance.md)")
    return out


def _path_kind(item: Probe | Expectation) -> str:
    """The kind of path a probe or expectation takes, for calibration: dns, tcp4, tcp6, icmp4, icmp6."""
    if isinstance(item, Probe):
        return path_kind(item.kind, 6 if ":" in item.target else 4)
    return path_kind(item.probe_kind, item.family)


def _addresses(e: Expectation, target: str, resolved: Observation | None
               ) -> list[tuple[str, Observation | None]]:
    """The addresses a netns probe goes to, each with the observation that replaces it when it cannot be sent."""
    if e.probe_kind is ProbeKind.DNS or is_address(target):
        return [(target, None)]
    if resolved is not None and resolved.outcome is Outcome.OK and resolved.addresses:
        return [(a, None) for a in resolved.addresses]
    why = resolved.outcome.value if resolved is not None else "not asked"
    return [(target, Observation(Outcome.ERROR, tool="netns",
                                 detail=f"{target} does not resolve from here ({why}): give its address"))]


def _lacks_tools(code: int | None, text: str) -> bool:
    """The auto executor's exec found no usable shell or probe tools in the container."""
    if "@@missing" in text:
        return True
    # no /bin/sh: the runtime reports it (exit 126/127 with "not found" or "no such file")
    low = text.lower()
    return code in (126, 127) and "@@tools" not in text and ("not found" in low or "no such file" in low)


def _first(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.startswith("@"):
            return line.strip()[:200]
    return ""

"""The runner: choose an executor for each source, observe, repeat what the judge asks for, judge.

Executors (`--executor`), each implementing live/executor.py's `Executor`:
- `netns` (live/netns/executor.py): sockets netcontract opens inside each source container's network
  namespace, all sources on one selector. Nothing of the container runs; our code reads the kernel's
  answers and Docker's DNS packets.
- `exec` (live/scripted.py): one `docker exec` per source runs a batch script with the container's
  own tools.
- `sidecar` (live/scripted.py): the same script in a short-lived probe container sharing the source's
  namespace.
- `helper` (live/netns/helper.py): the netns prober in one helper container on the engine's host (a swarm:
  one per node, swarm/helpers.py).
- `auto`: netns where this process can enter the namespace (root on the engine's host), else the helper
  (with --helper-image), else exec, else sidecar.

Only probes whose observation the judge says differs from the expectation are repeated, with a
longer window, within an overall deadline. netns negatives are judged on a window calibrated from
the answered probes of the same kind of path (probe/timing.py).
"""

from __future__ import annotations

import enum
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial

from netcontract.contract import Contract
from netcontract.live.executor import Executor, SourceRun
from netcontract.live.interface import LiveEngine
from netcontract.live.netns.executor import NetnsExecutor
from netcontract.live.netns.helper import HelperNamespaces, HelperProber
from netcontract.live.netns.host import HostNamespaces, NamespaceProber
from netcontract.live.scripted import ProbeImage, ScriptedExecutor
from netcontract.probe.observation import Observation, Outcome
from netcontract.probe.plan import ProbePlan, SourcePlan
from netcontract.probe.timing import Timing
from netcontract.results import Result
from netcontract.state import State

DEFAULT_PROBE_IMAGE = "busybox:1.36"
NOTE_REASONS = 600  # characters of the reasons in auto's note (a swarm has one per node)


class ExecutorMode(enum.StrEnum):
    """`--executor`: how the probes of each source are run."""

    AUTO = (
        "auto"  # netns where possible, else exec where the container has the tools, else a sidecar
    )
    NETNS = "netns"  # our own sockets inside each source's network namespace (root, engine on this host)
    EXEC = "exec"  # only the tools inside the source container
    SIDECAR = "sidecar"  # always a probe container sharing the source's network namespace
    HELPER = (
        "helper"  # the netns prober in one helper container on the engine's host (--helper-image)
    )


@dataclass(frozen=True)
class RunOptions:
    """How to probe: the executor, windows, retries, concurrency and the sidecar's image."""

    mode: ExecutorMode = ExecutorMode.AUTO
    timeout: float = 1.0
    retries: int = 1
    concurrency: int = 16
    probe_image: str = DEFAULT_PROBE_IMAGE
    pull: bool = True
    deadline: float | None = (
        None  # seconds for all probing, retries included; default: Timing.budget
    )
    helper_image: str | None = (
        None  # the helper executor's image (python3 >= 3.11); None: no helper
    )
    require_trusted: bool = False  # never judge from a container's own tools (exec): ERROR instead

    @property
    def timing(self) -> Timing:
        """Every window and wait of this run, derived from --timeout and --deadline."""
        return Timing(self.timeout, self.deadline)


Progress = Callable[[int, int], None]
HelperFactory = Callable[
    [str, str, bool], HelperProber
]  # (image, run id, pull) -> the helper's prober


class ProbeRunner:
    """Probe every source of a plan with the executor chosen for it, retry, and judge (probe/verdicts.py).

    Holds the run's id (the label of its sidecars), its cancellation flag and the notes it adds to the
    report. Every probe container of the run is removed when `run` returns or raises.
    """

    def __init__(
        self,
        engine: LiveEngine,
        options: RunOptions,
        prober: NamespaceProber | None = None,
        helpers: HelperFactory | None = None,
    ) -> None:
        """`prober`: the netns executor's (default: this host's namespaces); `helpers`: makes the helper
        executor's prober from (image, run id, pull) (default: one helper container on `engine`; a swarm
        gives one per node)."""
        self.engine = engine
        self.options = options
        self.prober: NamespaceProber = prober if prober is not None else HostNamespaces()
        self.run_id = uuid.uuid4().hex[:12]
        self.cancelled = threading.Event()
        self.notes: list[str] = []
        self._fallbacks: dict[str, str] = {}  # auto: container id -> why netns was not possible
        self.helper: HelperProber | None = None
        if options.helper_image and options.mode in (ExecutorMode.AUTO, ExecutorMode.HELPER):
            make = helpers or partial(HelperNamespaces, engine)
            self.helper = make(options.helper_image, self.run_id, options.pull)
        timeout = options.timeout
        image = ProbeImage(engine, options.probe_image, options.pull)
        self._sidecar = ScriptedExecutor(
            "sidecar", engine, timeout, self.run_id, self.cancelled, image
        )
        self._exec = ScriptedExecutor(
            "exec", engine, timeout, self.run_id, self.cancelled, image, self._sidecar
        )

    def run(
        self, plan: ProbePlan, contract: Contract, state: State, progress: Progress | None = None
    ) -> list[Result]:
        """Probe every source, then repeat what disagreed with the contract, then judge.

        Retries run as a second pass, after every first batch has finished: a
        probe that timed out because the machine was busy gets its second try
        on a quiet machine, with a doubled window.
        """
        started = time.monotonic()
        timing = self.options.timing
        results: list[Result] = list(plan.settled)
        netns = NetnsExecutor(self.prober, timing, state, self.cancelled)
        helper = (
            NetnsExecutor(self.helper, timing, state, self.cancelled, name="helper")
            if self.helper
            else None
        )
        self._exec.absolute_names = self._sidecar.absolute_names = state.podman
        pool = ThreadPoolExecutor(
            max_workers=max(1, self.options.concurrency), thread_name_prefix="probe"
        )
        try:
            runs = [self._choose(sp, netns, helper) for sp in plan.sources]
            inline = [r for r in runs if isinstance(r.executor, NetnsExecutor)]
            self.notes += self._exec.notes([r for r in runs if r not in inline])
            self._note_fallbacks(runs)
            # scripted sources start in the pool first; the netns passes then run here, beside them
            futures = _probe(self._group([r for r in runs if r not in inline]), pool, None)
            if inline:
                _probe(self._group(inline), pool, None)
                if progress:
                    progress(len(inline), len(runs))
            _wait(futures, progress, offset=len(inline), total=len(runs))
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
                groups = self._group(pending)
                futures = _probe(
                    [(ex, rs) for ex, rs in groups if not isinstance(ex, NetnsExecutor)],
                    pool,
                    window,
                )
                _probe(
                    [(ex, rs) for ex, rs in groups if isinstance(ex, NetnsExecutor)], pool, window
                )
                _wait(futures, None)
            for executor, members in self._group(inline):
                self.notes += executor.notes(members)
            # A container that stopped or restarted while it was probed (or probed from)
            # makes its timeouts meaningless: those results become ERRORs.
            watched = {
                c.id: c.started_at
                for c in state.containers
                if c.running and c.service in contract.services
            }
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
            if self.helper is not None:
                self.helper.close()
            self.engine.remove_run(self.run_id)
        return results

    def _choose(
        self, sp: SourcePlan, netns: NetnsExecutor, helper: NetnsExecutor | None
    ) -> SourceRun:
        """The executor for one source, by --executor and by what this process can do. auto goes by trust: our
        own sockets here (netns), else in the helper, else the container's own tools (exec, moving to a sidecar
        where they are missing), or a sidecar straight away under --require-trusted."""
        mode = self.options.mode
        if mode in (ExecutorMode.NETNS, ExecutorMode.AUTO):
            why = self.prober.problem(sp.container)
            if why is None:
                return SourceRun(sp, netns)
            if mode is ExecutorMode.NETNS:
                return SourceRun(sp, netns, problem=f"netns executor: {why}")
            self._fallbacks[sp.container.id] = why
        if mode is ExecutorMode.HELPER and (self.helper is None or helper is None):
            return SourceRun(sp, self._sidecar, problem="helper executor: no --helper-image given")
        if self.helper is not None and helper is not None:
            why = self.helper.problem(sp.container)
            if why is None:
                return SourceRun(sp, helper)
            if mode is ExecutorMode.HELPER:
                return SourceRun(sp, helper, problem=f"helper executor: {why}")
            self._fallbacks[sp.container.id] += f"; {why}"
        if mode is ExecutorMode.SIDECAR or (
            mode is ExecutorMode.AUTO and self.options.require_trusted
        ):
            return SourceRun(sp, self._sidecar, problem=self._sidecar.image.problem() or "")
        if self.options.require_trusted:
            return SourceRun(
                sp,
                self._exec,
                problem="--require-trusted: exec verdicts would rest on the "
                "container's own tools; use netns, helper or sidecar",
            )
        # exec, or auto: the first exec doubles as tool detection (see batch_script)
        return SourceRun(sp, self._exec, auto=mode is ExecutorMode.AUTO)

    @staticmethod
    def _group(runs: list[SourceRun]) -> list[tuple[Executor, list[SourceRun]]]:
        """`runs` by their executor (a source can move from exec to sidecar during the check)."""
        executors = list({id(r.executor): r.executor for r in runs}.values())
        return [(ex, [r for r in runs if r.executor is ex]) for ex in executors]

    def _unretried(self, pending: list[SourceRun]) -> None:
        """--deadline left no time for the first retry: an observation that only a longer window could settle
        (a timeout where the contract expects an answer) proves nothing, so it is an ERROR, not a FAIL."""
        for r in pending:
            for e in r.disagreeing():
                if any(o.outcome is Outcome.TIMEOUT for o in r.obs.get(e.id, ())):
                    r.obs[e.id] = [
                        Observation(
                            Outcome.ERROR,
                            detail="timed out, and the --deadline left no time "
                            "for the retry with a longer window",
                        )
                    ]
        self.notes.append(
            "the --deadline passed before the retries: timeouts that a retry would have settled "
            "are ERROR"
        )

    def _note_fallbacks(self, runs: list[SourceRun]) -> None:
        """auto: say why netns was not possible where it was not, and what the verdicts then rest on."""
        if self.options.mode is not ExecutorMode.AUTO:
            return
        # each reason once (a swarm repeats the netns reason for every node's tasks), in a stable order
        fallback = list(
            dict.fromkeys(
                part for f in sorted(set(self._fallbacks.values())) for part in f.split("; ")
            )
        )
        if not fallback:
            return
        moved = {r.executor.name for r in runs if r.plan.container.id in self._fallbacks}
        if moved == {"helper"}:
            where = self.helper.where if self.helper is not None else "the engine's host"
            self.notes.append(
                "auto: netns not possible here ("
                + "; ".join(fallback)[:NOTE_REASONS]
                + "): the helper "
                f"container ({self.options.helper_image}) probed from {where} instead, "
                "with the same prober (docs/security.md)"
            )
            return
        if "helper" in moved and self.helper is not None:
            self.notes.append(
                "auto: netns not possible (" + "; ".join(fallback)[:NOTE_REASONS] + "): the helper "
                f"container ({self.options.helper_image}) probed from {self.helper.where} where it could; "
                "the other sources used exec or sidecar, whose verdicts trust the tools they run "
                "(docs/security.md)"
            )
            return
        self.notes.append(
            "auto: netns not possible ("
            + "; ".join(fallback)[:NOTE_REASONS]
            + "): exec or sidecar "
            "used, whose verdicts trust the tools they run (docs/security.md)"
        )


def _probe(
    groups: list[tuple[Executor, list[SourceRun]]], pool: ThreadPoolExecutor, window: float | None
) -> list[Future[SourceRun]]:
    """Hand each executor its sources; collect the work it left running in the pool."""
    return [f for executor, members in groups for f in executor.probe(members, pool, window)]


def _wait(
    futures: list[Future[SourceRun]], progress: Progress | None, offset: int = 0, total: int = 0
) -> None:
    """Wait for the pool's work, re-raising a worker's exception, reporting progress as sources finish."""
    for done, fut in enumerate(as_completed(futures), start=1):
        fut.result()
        if progress:
            progress(offset + done, total or len(futures))

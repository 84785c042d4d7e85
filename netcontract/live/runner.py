"""Executors and concurrency: run each source's probe batch and judge what came back.

One `docker exec` (or one sidecar) per source container runs all of that
source's probes at once; sources run concurrently under `concurrency`. Only
probes whose observation differs from the expectation are repeated, with a
longer timeout, within an overall deadline.
"""

from __future__ import annotations

import enum
import functools
import threading
import time
import uuid
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TypeVar

from netcontract.contract import Contract
from netcontract.errors import EngineError
from netcontract.live.interface import LiveEngine
from netcontract.probe.observation import Observation, Outcome, Probe
from netcontract.probe.parse import parse_batch
from netcontract.probe.plan import Expectation, ProbePlan, SourcePlan
from netcontract.probe.script import batch_script
from netcontract.probe.timing import Timing
from netcontract.probe.verdicts import judge_source, to_retry
from netcontract.results import Result
from netcontract.state import State

DEFAULT_PROBE_IMAGE = "busybox:1.36"


class ExecutorMode(enum.StrEnum):
    AUTO = "auto"  # exec where the container has the tools, a sidecar otherwise
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
    executor: str  # "exec" or "sidecar"
    problem: str = ""  # set when no executor can run this source's probes
    auto: bool = False  # exec, but move to a sidecar when the container lacks sh or tools


class ProbeRunner:
    def __init__(self, engine: LiveEngine, options: RunOptions) -> None:
        self.engine = engine
        self.options = options
        self.run_id = uuid.uuid4().hex[:12]
        self.cancelled = threading.Event()
        self._image_problem: str | None = None
        self._image_checked = False
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------
    def run(self, plan: ProbePlan, contract: Contract, state: State,
            progress: Progress | None = None) -> list[Result]:
        """Probe every source, then repeat what disagreed with the contract, then judge.

        Retries run as a second pass, after every first batch has finished: a
        probe that timed out because the machine was busy gets its second try
        on a quiet machine, with a doubled timeout.
        """
        started = time.monotonic()
        results: list[Result] = list(plan.settled)
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.concurrency), thread_name_prefix="probe")
        try:
            runs = self._parallel(pool, self._first, list(plan.sources), progress)
            for attempt in range(1, self.options.retries + 1):
                timeout = self.options.timing.attempt(attempt)
                remaining = self.options.timing.budget - (time.monotonic() - started)
                pending = [r for r in runs if r.pending()]
                if not pending or remaining < timeout + 1 or self.cancelled.is_set():
                    break
                self._parallel(pool, functools.partial(self._retry, timeout=timeout), pending, None)
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
    def _parallel(pool: ThreadPoolExecutor, fn: Callable[[_T], _R], items: list[_T],
                  progress: Progress | None) -> list[_R]:
        futures = [pool.submit(fn, item) for item in items]
        for done, fut in enumerate(as_completed(futures), start=1):
            fut.result()  # re-raise a worker's exception here
            if progress:
                progress(done, len(futures))
        return [f.result() for f in futures]

    # -- one source ---------------------------------------------------------------------
    def _first(self, sp: SourcePlan) -> _SourceRun:
        t0 = time.monotonic()
        run = _SourceRun(sp, self._choose(sp))
        if run.batch.problem:
            run.problem = run.batch.problem
        else:
            run.obs = self._observe(sp, list(sp.expectations), run.batch, self.options.timeout)
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
        if self.options.mode is ExecutorMode.SIDECAR:
            return self._sidecar()
        # exec, or auto: the first exec doubles as tool detection (see batch_script)
        return _Batch("exec", auto=self.options.mode is ExecutorMode.AUTO)

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
                probes.append(Probe(f"p{len(probes)}", e.probe_kind, target, e.port))
                owner.append(e.id)
        if self.cancelled.is_set():
            return {e.id: [Observation(Outcome.ERROR, detail="check interrupted")] for e in exps}
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

    def disagreeing(self) -> list[Expectation]:
        return to_retry(self.plan.expectations, self.obs)

    def pending(self) -> bool:
        return not self.problem and bool(self.disagreeing())

    def judge(self, contract: Contract, state: State, void: Collection[str] = ()) -> list[Result]:
        return judge_source(self.plan, self.obs, contract=contract, state=state, problem=self.problem, void=void,
                            attempts=self.attempts, duration=self.elapsed)


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

"""The scripted executors: one batch script per source (probe/script.py), run with the container's
own tools (`exec`) or in a short-lived probe container sharing its namespace (`sidecar`).

Their verdicts rest on the tools they run (docs/security.md). Under `auto`, a container whose
first exec finds no shell or no probe tool moves to a sidecar for the rest of the check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from netcontract.addresses import is_address
from netcontract.errors import EngineError
from netcontract.live.executor import SourceRun, interrupted
from netcontract.live.interface import LiveEngine
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.probe.plan import Expectation
from netcontract.probe.timing import Timing


class ProbeImage:
    """The sidecar's image, checked once per check (and pulled if allowed), shared by every sidecar."""

    def __init__(self, engine: LiveEngine, image: str, pull: bool) -> None:
        self.engine, self.image, self.pull = engine, image, pull
        self._lock = threading.Lock()
        self._checked = False
        self._problem: str | None = None

    def problem(self) -> str | None:
        """None when the image can run sidecars, else why not (and how to choose another)."""
        with self._lock:
            if not self._checked:
                problem = self.engine.image_problem(self.image, self.pull)
                self._problem = (
                    f"{problem}; set --probe-image (or NETCONTRACT_PROBE_IMAGE)"
                    if problem
                    else None
                )
                self._checked = True
            return self._problem


class ScriptedExecutor:
    """`exec` or `sidecar`: the batch script of each source, sources run concurrently in the pool."""

    def __init__(
        self,
        name: str,
        engine: LiveEngine,
        timeout: float,
        run_id: str,
        cancelled: threading.Event,
        image: ProbeImage,
        sidecar: ScriptedExecutor | None = None,
    ) -> None:
        if name not in ("exec", "sidecar"):
            raise ValueError(f"not a scripted executor: {name}")
        self.name = name
        self.engine = engine
        self.timeout = timeout  # the first pass's window; retries pass their own
        self.run_id = run_id
        self.cancelled = cancelled
        self.image = image
        self.sidecar = sidecar  # exec only: where a container without the tools moves under auto
        # Podman: DNS names are asked in their absolute form ("name."). Its resolv.conf has `search dns.podman`,
        # and busybox nslookup reports the answer for NAME.dns.podman, which aardvark-dns gives only for the
        # network of the nameserver asked (NXDOMAIN elsewhere), not the answer for NAME (docs/engines.md).
        self.absolute_names = False

    def probe(
        self, runs: Sequence[SourceRun], pool: ThreadPoolExecutor, window: float | None = None
    ) -> list[Future[SourceRun]]:
        """Submit each source's batch to the pool; the caller waits for the futures."""
        return [
            pool.submit(self._first if window is None else self._again, run, window or self.timeout)
            for run in runs
        ]

    def notes(self, runs: Sequence[SourceRun]) -> list[str]:
        """The batch script asks A records only: say so where AAAA would have been asked."""
        if any("AAAA" in e.qtypes for r in runs for e in r.plan.expectations):
            return [
                "exec/sidecar ask A records only: AAAA (IPv6 names) is checked by the netns executor"
            ]
        return []

    def _first(self, run: SourceRun, window: float) -> SourceRun:
        t0 = time.monotonic()
        if not run.problem:
            run.obs = self._observe(run, list(run.plan.expectations), window)
        run.elapsed = time.monotonic() - t0
        return run

    def _again(self, run: SourceRun, window: float) -> SourceRun:
        t0 = time.monotonic()
        redo = run.disagreeing()
        run.obs.update(self._observe(run, redo, window))
        run.count(redo)
        run.elapsed += time.monotonic() - t0
        return run

    def _move_to_sidecar(self, run: SourceRun) -> None:
        """auto: this container lacks a shell or tools; its batches go to a sidecar from now on."""
        sidecar = self.sidecar
        if sidecar is None:
            raise RuntimeError("exec under auto has no sidecar executor to move to")
        run.executor, run.auto = sidecar, False
        run.problem = sidecar.image.problem() or ""

    def _observe(
        self, run: SourceRun, exps: list[Expectation], timeout: float
    ) -> dict[str, list[Observation]]:
        from netcontract.probe.parse import lacks_tools, parse_batch
        from netcontract.probe.script import batch_script

        sp = run.plan
        probes: list[Probe] = []
        owner: list[str] = []
        for e in exps:
            for target in e.targets:
                # the batch script asks A records only: AAAA over exec/sidecar is not probed (a report note says so)
                if self.absolute_names and e.probe_kind is ProbeKind.DNS and not is_address(target):
                    target += "."
                probes.append(Probe(f"p{len(probes)}", e.probe_kind, target, e.port))
                owner.append(e.id)
        if self.cancelled.is_set():
            return interrupted(exps)
        try:
            if self.name == "exec":
                argv = ["sh", "-c", batch_script(probes, timeout, require_tools=run.auto)]
                code, text = self.engine.exec(sp.container.id, argv)
                if run.auto and lacks_tools(code, text):
                    self._move_to_sidecar(run)
                    return self._moved(run, exps, timeout)
            else:
                argv = ["sh", "-c", batch_script(probes, timeout)]
                code, text = self.engine.sidecar(
                    sp.container.id,
                    self.image.image,
                    argv,
                    self.run_id,
                    timeout=Timing.sidecar_wait(timeout),
                    cancelled=self.cancelled,
                )
        except EngineError as exc:
            if run.auto and "executable file not found" in str(exc):
                self._move_to_sidecar(run)
                return self._moved(run, exps, timeout)
            return {
                e.id: [Observation(Outcome.ERROR, detail=f"{self.name} failed: {exc}")]
                for e in exps
            }
        parsed = parse_batch(text, probes)
        if code not in (0, None) and not any(
            o.outcome is not Outcome.ERROR for o in parsed.values()
        ):
            detail = _first_line(text) or f"exit code {code}"
            note = f"{self.name} in {sp.container.name} failed ({detail})"
            if self.name == "exec":
                note += "; the container may lack a shell or probe tools: use --executor auto or sidecar"
            parsed = {k: Observation(Outcome.ERROR, detail=note, output=text) for k in parsed}
        out: dict[str, list[Observation]] = {e.id: [] for e in exps}
        for probe, rid in zip(probes, owner, strict=True):
            o = parsed[probe.key]
            if probe.kind is ProbeKind.DNS:
                o = replace(o, qtype="A")
            if o.outcome is Outcome.ERROR and code is not None and code >= 128:
                o = Observation(
                    Outcome.ERROR,
                    detail=f"{o.detail} (exit {code}: the container stopped?)",
                    output=o.output,
                    tool=o.tool,
                )
            out[rid].append(o)
        return out

    def _moved(
        self, run: SourceRun, exps: list[Expectation], timeout: float
    ) -> dict[str, list[Observation]]:
        """The batch again, in the sidecar this source moved to (or its reason to be ERROR)."""
        if run.problem:
            return {e.id: [Observation(Outcome.ERROR, detail=run.problem)] for e in exps}
        sidecar = self.sidecar
        assert sidecar is not None  # _move_to_sidecar checked it
        return sidecar._observe(run, exps, timeout)


def _first_line(text: str) -> str:
    """The first line of a tool's output that is not one of the batch's markers, for an error's detail."""
    for line in text.splitlines():
        if line.strip() and not line.startswith("@"):
            return line.strip()[:200]
    return ""

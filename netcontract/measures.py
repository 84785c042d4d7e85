"""What a check measured besides verdicts, and how it compares with a baseline: frozen values. Pure.

A report may carry each service's start-up time (from the engine's own records) and, through its
results, each path's round trip (netns only). `compare.compare` puts two reports side by side into a
`Comparison`; every output format reads it from `Report.comparison`. Nothing here imports the rest of
netcontract, so `results.Report` can hold these values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Startup:
    """One container's start-up: the engine's StartedAt to the end of its first healthy probe.

    `seconds` is None when the engine's records cannot tell (no healthcheck, not healthy yet, or the
    first healthy probe has already left the engine's five-entry health log); `note` then says which."""

    service: str
    container: str
    started_at: str  # State.StartedAt, as the engine wrote it
    healthy_at: str = ""  # State.Health.Log[].End of the first healthy probe since StartedAt
    seconds: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Thresholds:
    """When a measurement counts as a regression: past BOTH its ratio and its absolute floor.

    Latency: a path's median round trip on a bridge moves by tenths of a millisecond between runs, and
    by a few milliseconds when the host is busy (measured on the test stack: docs/ci.md); 3x and 5 ms
    together are past that noise. Start-up: the plan's 5 %, with a floor of 0.25 s, the spread of one
    health probe's own run time on a loaded host (below it a 1 s start-up "regresses" by noise alone)."""

    latency_ratio: float = 3.0
    latency_floor_ms: float = 5.0
    # DNS answers come from the engine's resolver, a process in the engine scheduled like any other: on Docker
    # 26.1 the same name's median moved from under 1 ms to 10-30 ms between two clean runs (CI, 2026-12-04), so
    # a DNS path is flagged only past 50 ms more. TCP handshakes and echo replies are the kernel's alone.
    dns_floor_ms: float = 50.0
    startup_ratio: float = 1.05
    startup_floor_s: float = 0.25


@dataclass(frozen=True)
class VerdictChange:
    """A check whose verdict differs from the baseline's: `before` None for a new check, `after` None for a gone one."""

    id: str
    before: str | None  # the baseline's verdict (PASS, FAIL, ERROR, SKIP)
    after: str | None
    reason: str = ""  # the new result's reason (FAIL, ERROR)

    @property
    def category(self) -> str:
        """new-fail, fixed, new-error, appeared, disappeared or changed."""
        if self.after == "FAIL" and self.before != "FAIL":
            return "new-fail"
        if self.after == "ERROR" and self.before not in ("ERROR", "FAIL"):
            return "new-error"
        if self.before in ("FAIL", "ERROR") and self.after in ("PASS", "SKIP"):
            return "fixed"
        if self.before is None:
            return "appeared"
        if self.after is None:
            return "disappeared"
        return "changed"


@dataclass(frozen=True)
class LatencyStat:
    """The round trips of one group of paths (source, target, kind) in one report."""

    median_ms: float
    low_ms: float  # the spread: smallest and largest figure of the group
    high_ms: float
    count: int
    source: str  # how the figures were measured (probe.observation.LATENCY_SOURCES, `+`-joined)


@dataclass(frozen=True)
class LatencyDelta:
    """One group's round trip in the baseline and now; `regressed` past both thresholds."""

    src: str
    dst: str
    kind: str  # the results' kind: dns, reach, isolation, egress, host
    before: LatencyStat | None
    after: LatencyStat | None
    regressed: bool = False


@dataclass(frozen=True)
class StartupDelta:
    """One service's start-up in the baseline and now (slowest container); `regressed` past both thresholds."""

    service: str
    before: float | None
    after: float | None
    regressed: bool = False
    note: str = ""  # why a side has no figure


@dataclass(frozen=True)
class Comparison:
    """A report against its baseline: what changed, what is known, and the measurements side by side."""

    baseline: str  # where the baseline came from (its file, or its contract)
    changes: tuple[VerdictChange, ...]
    known_failures: tuple[str, ...]  # ids that FAIL in both reports
    latency: tuple[LatencyDelta, ...] = ()
    startup: tuple[StartupDelta, ...] = ()
    comparable: bool = True  # same engine, host and executors: measurements may be flagged
    incomparable: tuple[str, ...] = ()  # why not, one line each
    thresholds: Thresholds = Thresholds()

    def of(self, category: str) -> list[VerdictChange]:
        """The changes of one category (VerdictChange.category)."""
        return [c for c in self.changes if c.category == category]

    @property
    def regressions(self) -> list[str]:
        """The flagged measurements, one line each."""
        out = [
            f"latency {d.kind} {d.src}->{d.dst}: {_ms(d.before)} -> {_ms(d.after)}"
            for d in self.latency
            if d.regressed
        ]
        out += [
            f"start-up {d.service}: {d.before:.2f} s -> {d.after:.2f} s"
            for d in self.startup
            if d.regressed and d.before is not None and d.after is not None
        ]
        return out


def _ms(stat: LatencyStat | None) -> str:
    return f"{stat.median_ms:.2f} ms" if stat else "-"

"""A report against a baseline (an earlier report): verdict changes, path round trips, start-up times. Pure.

`check --baseline FILE` and `diff OLD NEW` both call `compare`. Verdict changes come from
`changes.diff` (the one that `watch` uses). Measurements are flagged only when both reports ran on the
same engine, host and executors, and only past both a ratio and an absolute floor (measures.Thresholds):
a figure from another machine, or another way of measuring, is shown and never called a regression.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable
from datetime import datetime

from netcontract.changes import diff
from netcontract.measures import (
    Comparison,
    LatencyDelta,
    LatencyStat,
    Startup,
    StartupDelta,
    Thresholds,
    VerdictChange,
)
from netcontract.results import ExitCode, Report, Verdict
from netcontract.state import Container, State

HEALTH_LOG_KEPT = 5  # the engine keeps a container's last five health probes (Docker 20.10 to 27)


class FailOn(enum.Enum):
    """What `--fail-on` gates on: only what the new report introduced."""

    NEW_FAIL = "new-fail"  # a check that FAILs now and did not in the baseline
    REGRESSION = "regression"  # that, or a flagged round trip or start-up time


def parse_time(text: str) -> float | None:
    """Seconds since the epoch of an engine timestamp (RFC 3339, nanoseconds); None for none or the zero time."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.partition(".")
    frac, zone = "", rest
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, zone = rest[:digits], rest[digits:]
    else:
        for sep in ("Z", "+", "-"):
            i = head.find(sep, 19)
            if i >= 0:
                head, zone = head[:i], head[i:]
                break
    try:
        when = datetime.fromisoformat(head + (zone.replace("Z", "+00:00") or "+00:00"))
    except ValueError:
        return None
    return when.timestamp() + (float("0." + frac) if frac else 0.0)


def startup_of(c: Container) -> Startup:
    """The container's start-up from the engine's records: StartedAt to the End of its first healthy probe."""
    name = c.service or c.name
    started = parse_time(c.started_at)
    if started is None:
        return Startup(name, c.name, c.started_at, note="the engine gives no start time")
    if not c.health_log:
        why = "no healthcheck" if c.health is None else "no health probe has run yet"
        return Startup(name, c.name, c.started_at, note=why)
    since = [e for e in c.health_log if (parse_time(e[0]) or 0.0) >= started]
    ok = next((e for e in since if e[2] == 0), None)
    if ok is None:
        return Startup(name, c.name, c.started_at, note="no healthy probe since it started")
    if len(c.health_log) >= HEALTH_LOG_KEPT and len(since) == len(c.health_log):
        return Startup(
            name,
            c.name,
            c.started_at,
            note=f"the engine keeps only the last {HEALTH_LOG_KEPT} health "
            "probes and they are all since start: the first healthy "
            "one may be gone (check sooner after start)",
        )
    end = parse_time(ok[1])
    if end is None:
        return Startup(name, c.name, c.started_at, note="the healthy probe has no end time")
    return Startup(name, c.name, c.started_at, ok[1], round(max(0.0, end - started), 3))


def startup_times(state: State, services: Iterable[str]) -> tuple[Startup, ...]:
    """Every running container of `services`, in service order."""
    return tuple(startup_of(c) for s in services for c in state.service_containers(s) if c.running)


def latency_groups(report: Report) -> dict[tuple[str, str, str], LatencyStat]:
    """The report's round trips grouped by source, target and kind: median, spread, count, how measured."""
    groups: dict[tuple[str, str, str], list[tuple[float, str]]] = {}
    for r in report.results:
        if r.latency_ms is not None:
            groups.setdefault((r.src, r.dst, r.kind.value), []).append(
                (r.latency_ms, r.latency_source)
            )
    out = {}
    for key, figures in groups.items():
        values = [v for v, _ in figures]
        how = "+".join(sorted({h for _, h in figures if h})) or "unknown"
        out[key] = LatencyStat(
            round(statistics.median(values), 3),
            round(min(values), 3),
            round(max(values), 3),
            len(values),
            how,
        )
    return out


def _executors(report: Report) -> set[str]:
    return {r.executor for r in report.results if r.executor}


def comparability(old: Report, new: Report) -> list[str]:
    """Why the two reports' measurements cannot be compared (empty when they can)."""
    why = []
    if not old.engine or not new.engine:
        why.append("a report does not name its engine (made before netcontract 0.2)")
    elif old.engine != new.engine:
        why.append(f"different engines: {old.engine} vs {new.engine}")
    if old.host != new.host:
        why.append(f"different hosts: {old.host or 'unknown'} vs {new.host or 'unknown'}")
    if _executors(old) != _executors(new):
        why.append(
            f"different executors: {', '.join(sorted(_executors(old))) or 'none'} vs "
            f"{', '.join(sorted(_executors(new))) or 'none'}"
        )
    return why


def _past(before: float, after: float, ratio: float, floor: float) -> bool:
    return after > before * ratio and after - before > floor


def _slowest(startups: Iterable[Startup]) -> dict[str, Startup]:
    out: dict[str, Startup] = {}
    for s in startups:
        had = out.get(s.service)
        if had is None or (
            s.seconds is not None and (had.seconds is None or s.seconds > had.seconds)
        ):
            out[s.service] = s
    return out


def compare(
    old: Report, new: Report, baseline: str = "", thresholds: Thresholds | None = None
) -> Comparison:
    """`new` against `old`: every verdict change, the FAILs both have, round trips and start-up times."""
    t = thresholds or Thresholds()
    old_failed = {r.id for r in old.results if r.verdict is Verdict.FAIL}
    changes = tuple(
        VerdictChange(
            c.id,
            c.before.value if c.before else None,
            c.after.value if c.after else None,
            (c.result.reason or c.result.actual)
            if c.result is not None and c.result.verdict in (Verdict.FAIL, Verdict.ERROR)
            else "",
        )
        for c in diff(old, new)
    )
    known = tuple(r.id for r in new.results if r.verdict is Verdict.FAIL and r.id in old_failed)
    why = comparability(old, new)
    ok = not why
    before_l, after_l = latency_groups(old), latency_groups(new)
    latency = []
    for key in sorted(before_l.keys() | after_l.keys()):
        b, a = before_l.get(key), after_l.get(key)
        flagged = (
            ok
            and b is not None
            and a is not None
            and _past(
                b.median_ms,
                a.median_ms,
                t.latency_ratio,
                t.dns_floor_ms if key[2] == "dns" else t.latency_floor_ms,
            )
        )
        latency.append(LatencyDelta(*key, b, a, flagged))
    before_s, after_s = _slowest(old.startup), _slowest(new.startup)
    startup = []
    for service in sorted(before_s.keys() | after_s.keys()):
        sb, sa = before_s.get(service), after_s.get(service)
        b_s, a_s = (sb.seconds if sb else None), (sa.seconds if sa else None)
        flagged = (
            ok
            and b_s is not None
            and a_s is not None
            and _past(b_s, a_s, t.startup_ratio, t.startup_floor_s)
        )
        note = "; ".join(
            f"{side}: {s.note}" for side, s in (("baseline", sb), ("now", sa)) if s and s.note
        )
        startup.append(StartupDelta(service, b_s, a_s, flagged, note))
    return Comparison(
        baseline or old.contract, changes, known, tuple(latency), tuple(startup), ok, tuple(why), t
    )


def gate(comparison: Comparison, fail_on: FailOn) -> bool:
    """Whether `--fail-on` fails the run: a new FAIL, or (regression) also a flagged measurement."""
    if comparison.of("new-fail"):
        return True
    return fail_on is FailOn.REGRESSION and bool(comparison.regressions)


def gated_exit(comparison: Comparison, fail_on: FailOn) -> ExitCode:
    """The exit code under `--fail-on`: 1 when `gate` fails the run, else 3 when a check that did not ERROR in
    the baseline ERRORs now (what changed could not be evaluated), else 0, whatever FAILs both reports share."""
    if gate(comparison, fail_on):
        return ExitCode.VIOLATED
    if comparison.of("new-error"):
        return ExitCode.NOT_EVALUATED
    return ExitCode.OK

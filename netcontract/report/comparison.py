"""A report against its baseline, as text, Markdown and JSON (`check --baseline`, `diff`). Pure.

Text goes through `sanitize.line`, Markdown through `markdown.escape`: a check id or a reason comes
from names on the engine. Only measurements past their thresholds on comparable runs say REGRESSED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from netcontract.measures import Comparison, LatencyDelta, LatencyStat, Startup
from netcontract.sanitize import line as safe

# The order the changes are shown in, with their headings.
SECTIONS = (
    ("new-fail", "New FAIL"),
    ("new-error", "New ERROR"),
    ("fixed", "Fixed"),
    ("changed", "Changed"),
    ("appeared", "New checks"),
    ("disappeared", "Gone checks"),
)


def _stat(s: LatencyStat | None) -> str:
    if s is None:
        return "-"
    spread = f" ({s.low_ms:.2f}-{s.high_ms:.2f}, n={s.count})" if s.count > 1 else ""
    return f"{s.median_ms:.2f} ms{spread}"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def headline(c: Comparison) -> str:
    """`against main.json: 1 new FAIL, 0 new ERROR, 2 fixed, 3 known FAIL, 1 regression`."""
    n = {key: len(c.of(key)) for key, _ in SECTIONS}
    return (
        f"against {c.baseline}: {n['new-fail']} new FAIL, {n['new-error']} new ERROR, {n['fixed']} fixed, "
        f"{len(c.known_failures)} known FAIL, {n['appeared']} new and {n['disappeared']} gone checks, "
        f"{len(c.regressions)} measurement regression{'s' if len(c.regressions) != 1 else ''}"
    )


MAX_PATHS = 30  # round-trip rows shown (a pull-request comment is limited to 65,536 characters); JSON has all


def _change(d: LatencyDelta) -> float:
    if d.before is None or d.after is None:
        return 0.0
    return d.after.median_ms / max(d.before.median_ms, 0.001)


def shown_paths(c: Comparison) -> tuple[list[LatencyDelta], int]:
    """The round-trip rows to show: the flagged ones, then the most slowed down, MAX_PATHS in all (never
    leaving out a flagged one); and how many were left out."""
    ranked = sorted(c.latency, key=lambda d: (not d.regressed, -_change(d)))
    keep = max(MAX_PATHS, sum(d.regressed for d in ranked))
    return ranked[:keep], max(0, len(ranked) - keep)


def _rows(c: Comparison, esc: Callable[[str], str]) -> tuple[list[list[str]], list[list[str]]]:
    flag = "REGRESSED"
    lat = [
        [
            esc(f"{d.src}->{d.dst}"),
            d.kind,
            _stat(d.before),
            _stat(d.after),
            flag if d.regressed else "",
            d.after.source if d.after else (d.before.source if d.before else ""),
        ]
        for d in shown_paths(c)[0]
    ]
    up = [
        [esc(d.service), _secs(d.before), _secs(d.after), flag if d.regressed else "", esc(d.note)]
        for d in c.startup
    ]
    return lat, up


def _limits(c: Comparison) -> str:
    t = c.thresholds
    return (
        f"flagged past {t.latency_ratio:g}x and +{t.latency_floor_ms:g} ms (round trip; DNS +{t.dns_floor_ms:g} ms), "
        f"{(t.startup_ratio - 1) * 100:g} % and +{t.startup_floor_s:g} s (start-up)"
    )


def text(c: Comparison, *, all_measures: bool = False) -> str:
    """The comparison for a terminal: the headline, the changes by kind, the known FAILs, the flagged
    measurements (every measurement with `all_measures`), and why nothing is flagged when nothing may be."""
    lines = [safe("baseline " + headline(c))]
    for key, title in SECTIONS:
        for ch in c.of(key):
            was, now = ch.before or "NEW", ch.after or "GONE"
            lines.append(
                safe(
                    f"  {title}: {ch.id} ({was} -> {now})" + (f": {ch.reason}" if ch.reason else "")
                )
            )
    lines += [safe(f"  Known FAIL: {rid}") for rid in c.known_failures]
    if not c.comparable:
        lines += [safe(f"  measurements not compared: {why}") for why in c.incomparable]
    lines += [safe(f"  REGRESSED {r}") for r in c.regressions]
    if all_measures:
        lat, up = _rows(c, lambda s: s)
        lines += [safe("  round trip " + " | ".join(row)) for row in lat]
        if shown_paths(c)[1]:
            lines.append(f"  ... and {shown_paths(c)[1]} more paths (all of them in --format json)")
        lines += [safe("  start-up " + " | ".join(row)) for row in up]
    lines.append(f"  ({_limits(c)}; round trips: netns only, exec and sidecar measure none)")
    return "\n".join(lines) + "\n"


def markdown(c: Comparison, escape: Callable[[str], str]) -> str:
    """The comparison as a Markdown section for a pull-request comment; `escape` makes a value safe in a
    table cell (report.markdown.escape)."""
    out = [f"### Compared with the baseline ({escape(c.baseline)})", "", escape(headline(c)), ""]
    for key, title in SECTIONS:
        items = c.of(key)
        if items:
            out.append(f"**{title}**")
            out += [
                f"- `{escape(ch.id)}` ({ch.before or 'NEW'} -> {ch.after or 'GONE'})"
                + (f": {escape(ch.reason)}" if ch.reason else "")
                for ch in items
            ]
            out.append("")
    if c.known_failures:
        out.append(
            f"**Known FAIL** (in the baseline too): {', '.join(f'`{escape(i)}`' for i in c.known_failures)}"
        )
        out.append("")
    if not c.comparable:
        out += [
            f"Measurements are shown, not flagged: {escape(why)}." for why in c.incomparable
        ] + [""]
    lat, up = _rows(c, escape)
    if up:
        out += ["| service | start-up before | now | | note |", "|---|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in up] + [""]
    if lat:
        out += [
            "| path | kind | round trip before | now | | measured by |",
            "|---|---|---|---|---|---|",
        ]
        out += ["| " + " | ".join(r) + " |" for r in lat] + [""]
        if shown_paths(c)[1]:
            out += [
                f"... and {shown_paths(c)[1]} more paths, none flagged (all of them in `diff --format json`).",
                "",
            ]
    out.append(f"_{_limits(c)}; round trips come from the netns executor only._")
    return "\n".join(out) + "\n"


def startup_dict(s: Startup) -> dict[str, Any]:
    """One `startup` entry of the JSON report."""
    return asdict(s)


def as_dict(c: Comparison) -> dict[str, Any]:
    """The JSON report's `comparison` object (see report/schema.py)."""
    return {
        "baseline": c.baseline,
        "comparable": c.comparable,
        "incomparable": list(c.incomparable),
        "thresholds": asdict(c.thresholds),
        "changes": [{**asdict(ch), "category": ch.category} for ch in c.changes],
        "known_failures": list(c.known_failures),
        "latency": [asdict(d) for d in c.latency],
        "startup": [asdict(d) for d in c.startup],
        "regressions": c.regressions,
    }

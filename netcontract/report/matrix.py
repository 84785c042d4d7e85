"""Reachability matrix: who can reach whom, as observed against as expected. Pure.

Built only from results of kind "reach" (expected: allowed) and "isolation"
(expected: blocked), keyed by their `src` and `dst`. A cell aggregates every
result for its ordered pair (several ports, several tiers), worst first: any
FAIL makes it DIFFERS, any ERROR makes it ERROR, any SKIP makes it SKIPPED. A
cell is never shown as "as expected" unless every check behind it passed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from netcontract.results import Kind, Report, Result, Verdict
from netcontract.sanitize import line as safe

MATRIX_KINDS = (Kind.REACH, Kind.ISOLATION)


class CellState(enum.Enum):
    """A matrix cell's state: as expected (allowed, blocked, mixed) or not (differs, error, skipped)."""

    ALLOWED = "allowed"  # expected reachable, and it was
    BLOCKED = "blocked"  # expected blocked, and it was
    MIXED = "mixed"  # some ports or tiers allowed, others blocked, all as expected
    DIFFERS = "differs"  # at least one FAIL: observed differs from the contract
    ERROR = "error"  # at least one check could not be made (and none failed)
    SKIPPED = "skipped"  # at least one check was skipped (and none failed or errored)


@dataclass(frozen=True)
class Cell:
    """One ordered (src, dst) pair's cell: its state and the reach and isolation results behind it."""

    state: CellState
    results: tuple[Result, ...]

    @property
    def failed(self) -> tuple[Result, ...]:
        """The cell's FAIL results."""
        return tuple(r for r in self.results if r.verdict is Verdict.FAIL)


@dataclass(frozen=True)
class Glyphs:
    """What a renderer draws cells with: one glyph per state, one for a pair not probed, one for the diagonal."""

    cells: dict[CellState, str]
    none: str  # pair not probed
    self_: str  # diagonal


TERMINAL_GLYPHS = Glyphs(
    {
        CellState.ALLOWED: "✓",
        CellState.BLOCKED: "·",
        CellState.MIXED: "~",
        CellState.DIFFERS: "✗",
        CellState.ERROR: "!",
        CellState.SKIPPED: "?",
    },
    none=" ",
    self_="-",
)

LEGEND = {
    CellState.ALLOWED: "reachable, as the contract expects",
    CellState.BLOCKED: "not reachable, as the contract expects",
    CellState.MIXED: "some ports or tiers reachable, others not, all as expected",
    CellState.DIFFERS: "differs from the contract (see the violations)",
    CellState.ERROR: "could not be checked: not evidence either way",
    CellState.SKIPPED: "not checked (skipped)",
}

_COLOURS = {
    CellState.ALLOWED: "32",
    CellState.BLOCKED: "90",
    CellState.MIXED: "36",
    CellState.DIFFERS: "1;31",
    CellState.ERROR: "33",
    CellState.SKIPPED: "90",
}


def _cell_state(results: Iterable[Result]) -> CellState:
    rs = list(results)
    verdicts = {r.verdict for r in rs}
    if Verdict.FAIL in verdicts:
        return CellState.DIFFERS
    if Verdict.ERROR in verdicts:
        return CellState.ERROR
    if Verdict.SKIP in verdicts:
        return CellState.SKIPPED
    kinds = {r.kind for r in rs}
    if kinds == {Kind.REACH}:
        return CellState.ALLOWED
    if kinds == {Kind.ISOLATION}:
        return CellState.BLOCKED
    return CellState.MIXED


def matrix_rows(report: Report) -> tuple[list[str], dict[tuple[str, str], Cell]]:
    """Services in order of first appearance, and one cell per probed ordered (src, dst) pair."""
    services: list[str] = []
    grouped: dict[tuple[str, str], list[Result]] = {}
    for r in report.results:
        if r.kind not in MATRIX_KINDS or not r.src or not r.dst:
            continue
        for name in (r.src, r.dst):
            if name not in services:
                services.append(name)
        grouped.setdefault((r.src, r.dst), []).append(r)
    cells = {pair: Cell(_cell_state(rs), tuple(rs)) for pair, rs in grouped.items()}
    return services, cells


def glyph(cells: dict[tuple[str, str], Cell], src: str, dst: str, glyphs: Glyphs) -> str:
    """The glyph of the (src, dst) cell: the diagonal's for a service not probed against itself, `none` for a
    pair not probed.
    """
    if src == dst and (src, dst) not in cells:
        return glyphs.self_
    cell = cells.get((src, dst))
    return glyphs.none if cell is None else glyphs.cells[cell.state]


def dns_failures(report: Report) -> list[Result]:
    """The DNS results that failed or could not be checked."""
    return [
        r
        for r in report.results
        if r.kind is Kind.DNS and r.verdict in (Verdict.FAIL, Verdict.ERROR)
    ]


def _paint(text: str, state: CellState | None, colour: bool) -> str:
    if not colour or state is None:
        return text
    return f"\x1b[{_COLOURS[state]}m{text}\x1b[0m"


def _grid(services: list[str], cells: dict[tuple[str, str], Cell], colour: bool) -> list[str]:
    """Rows are sources, numbered; columns are targets, by the same numbers (keeps it narrow)."""
    width = len(str(len(services)))
    names = {s: safe(s) for s in services}  # a name on the engine may hold a terminal escape
    name_w = max(len(n) for n in names.values())
    pad = " " * (width + 2 + name_w)
    head = "  ".join(f"{i:>{width}}" for i in range(1, len(services) + 1))
    lines = [f"{pad}  {head}   (from row to column)"]
    for i, src in enumerate(services, 1):
        row = []
        for dst in services:
            cell = cells.get((src, dst))
            text = glyph(cells, src, dst, TERMINAL_GLYPHS)
            row.append(" " * (width - 1) + _paint(text, cell.state if cell else None, colour))
        lines.append((f"{i:>{width}}. {names[src]:<{name_w}}  " + "  ".join(row)).rstrip())
    return lines


def _legend(cells: dict[tuple[str, str], Cell], colour: bool) -> list[str]:
    used = {c.state for c in cells.values()}
    shown = [
        s
        for s in CellState
        if s in used or s in (CellState.ALLOWED, CellState.BLOCKED, CellState.DIFFERS)
    ]
    return [f"  {_paint(TERMINAL_GLYPHS.cells[s], s, colour)}  {LEGEND[s]}" for s in shown]


def _differences(services: list[str], cells: dict[tuple[str, str], Cell]) -> list[str]:
    lines = []
    for src in services:
        for dst in services:
            cell = cells.get((src, dst))
            if cell is None or cell.state not in (CellState.DIFFERS, CellState.ERROR):
                continue
            for r in cell.results:
                if r.verdict in (Verdict.FAIL, Verdict.ERROR):
                    lines.append(_failure_line(r))
    return lines


def _failure_line(r: Result) -> str:
    why = f": {r.reason}" if r.reason else ""
    return safe(f"  {r.verdict.value} {r.id}: expected {r.expected}, got {r.actual}{why}")


def render(report: Report, *, colour: bool = False) -> str:
    """The reachability grid with its legend and the differences (one line when the report has no reach
    or isolation result), then the DNS failures.
    """
    services, cells = matrix_rows(report)
    lines: list[str] = []
    if services:
        lines += ["Reachability:", *_grid(services, cells, colour), "", *_legend(cells, colour)]
        diffs = _differences(services, cells)
        if diffs:
            lines += ["", "Differences:", *diffs]
    else:
        lines.append("Reachability: no reach or isolation checks in this report.")
    dns = dns_failures(report)
    if dns:
        lines += ["", "DNS failures:"]
        lines += [_failure_line(r) for r in dns]
    return "\n".join(lines) + "\n"

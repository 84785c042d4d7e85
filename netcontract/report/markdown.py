"""Markdown summary, for CI step summaries and pull-request comments. Pure.

A status word (PASSED / FAILED / NOT EVALUATED), the violations (DNS ones
included) with expected, actual and why, then the reachability matrix. Every value from a result is
escaped (`escape`): `|` cannot break a table, newlines cannot end a row, `<none>` shows as text
instead of vanishing as an HTML tag, `[x](y)` and `![x](y)` are no link or image, `@team` notifies
nobody and `#12` links no issue when the summary is posted as a pull-request comment; control
characters show as `\\x1b`. See docs/security.md.
"""

from __future__ import annotations

import re

from netcontract import sanitize
from netcontract.report import comparison
from netcontract.report.matrix import LEGEND, CellState, Glyphs, glyph, matrix_rows
from netcontract.results import ExitCode, Report, Result

STATUS = {
    ExitCode.OK: "PASSED",
    ExitCode.VIOLATED: "FAILED",
    ExitCode.NOT_EVALUATED: "NOT EVALUATED",
    ExitCode.INVALID_CONTRACT: "INVALID CONTRACT",
    ExitCode.USAGE: "USAGE ERROR",
}

# Words, not symbols: they read the same in every renderer and in a plain-text email.
MARKDOWN_GLYPHS = Glyphs(
    {
        CellState.ALLOWED: "allowed",
        CellState.BLOCKED: "blocked",
        CellState.MIXED: "mixed",
        CellState.DIFFERS: "**DIFFERS**",
        CellState.ERROR: "ERROR",
        CellState.SKIPPED: "skipped",
    },
    none="",
    self_="-",
)


# GitHub links `@name` and `@org/team` (a mention: a notification) unless a word character comes
# right before the `@` (`db@data_tier` is no mention), and `#12` or `owner/repo#12` (a reference that
# shows up on that issue). A zero-width space after the `@` or `#` (written `&#8203;`, as Renovate and
# Dependabot do) keeps the text as it reads and links nothing.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
_REFERENCE = re.compile(r"(?<!&)#(?=[0-9])")
_ZWSP = "&#8203;"


def escape(text: str) -> str:
    """Make any text safe inside one Markdown table cell: no table break, no HTML, no link or image,
    no mention or issue reference, no control character."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("&", "&amp;").replace("<", "&lt;")  # a bare '>' is harmless mid-line
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    text = text.replace("[", "\\[").replace(
        "]", "\\]"
    )  # `[x](y)` and `![x](y)`: brackets are the link
    text = sanitize.block(text)  # ANSI escapes and other control characters, visibly
    text = _MENTION.sub("@" + _ZWSP, text)
    text = _REFERENCE.sub("#" + _ZWSP, text)
    return "<br>".join(text.split("\n")) if text else " "


def status_word(report: Report) -> str:
    """PASSED, FAILED or NOT EVALUATED, from the report's exit code."""
    return STATUS.get(report.exit_code, "NOT EVALUATED")


def summary_line(report: Report) -> str:
    """The status word in bold and the counts per verdict, with the duration."""
    s = report.summary
    return (
        f"**{status_word(report)}**: {s.total} checks, {s.passed} passed, {s.failed} failed, "
        f"{s.errors} errors, {s.skipped} skipped ({report.duration:.2f}s)"
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _result_rows(results: list[Result]) -> list[list[str]]:
    return [
        [r.verdict.value, escape(r.id), escape(r.expected), escape(r.actual), escape(r.reason)]
        for r in results
    ]


def _matrix(report: Report) -> list[str]:
    services, cells = matrix_rows(report)
    if not services:
        return []
    header = ["from \\ to", *(escape(s) for s in services)]
    rows = [
        [
            f"**{escape(src)}**",
            *(glyph(cells, src, dst, MARKDOWN_GLYPHS) or " " for dst in services),
        ]
        for src in services
    ]
    used = {c.state for c in cells.values()}
    legend = [f"- {MARKDOWN_GLYPHS.cells[s]}: {LEGEND[s]}" for s in CellState if s in used]
    return ["", "### Reachability", "", *_table(header, rows), "", *legend]


def render(report: Report) -> str:
    """The Markdown summary: status, counts, notes, the violations table, the reachability matrix."""
    where = f"contract {escape(report.contract)}, project {escape(report.project or '-')}, {escape(report.source)}"
    lines = [
        f"## netcontract {escape(report.command)}: {status_word(report)}",
        "",
        summary_line(report),
        "",
        where,
    ]
    if report.notes:
        lines += ["", *(f"- note: {escape(n)}" for n in report.notes)]
    if report.aborted is not None:
        a = report.aborted
        lines += [
            "",
            f"### Why nothing was checked (exit {int(a.exit_code)})",
            "",
            *(f"- {escape(line)}" for line in a.lines),
        ]
    bad = report.violations()
    if bad:
        lines += [
            "",
            "### Violations",
            "",
            *_table(["result", "check", "expected", "actual", "why"], _result_rows(bad)),
        ]
    lines += _matrix(report)
    if report.comparison is not None:
        lines += ["", comparison.markdown(report.comparison, escape).rstrip("\n")]
    return "\n".join(lines) + "\n"

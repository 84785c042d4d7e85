"""Terminal table: one line per check, then expected vs actual and why for each violation.

Every text from a result, a note or a path goes through `sanitize.line` (probe output line by line):
an ANSI escape or a carriage return in a name on the engine or in container output is shown as
`\\x1b[2J`, never sent to the terminal as a command.
"""

from __future__ import annotations

from tabulate import tabulate

from netcontract.report import comparison
from netcontract.results import Report, Result, Verdict
from netcontract.sanitize import line as safe

_COLOURS = {Verdict.PASS: "32", Verdict.FAIL: "31", Verdict.ERROR: "33", Verdict.SKIP: "90"}


def _paint(text: str, verdict: Verdict, colour: bool) -> str:
    return f"\x1b[{_COLOURS[verdict]}m{text}\x1b[0m" if colour else text


def _detail(r: Result) -> str:
    text = safe(r.reason if r.verdict is not Verdict.PASS and r.reason else r.actual)
    return text if len(text) <= 90 else text[:87] + "..."


def summary_line(report: Report) -> str:
    """`contract holds`, `contract VIOLATED` or `contract NOT EVALUATED (errors)`, with counts and duration."""
    s = report.summary
    head = (
        "contract holds"
        if report.exit_code == 0
        else ("contract VIOLATED" if s.failed else "contract NOT EVALUATED (errors)")
    )
    return (
        f"{head}: {s.total} checks, {s.passed} passed, {s.failed} failed, "
        f"{s.errors} errors, {s.skipped} skipped ({report.duration:.2f}s)"
    )


def render(
    report: Report, *, colour: bool = False, quiet: bool = False, verbose: bool = False
) -> str:
    """The terminal table: a header, the notes, one line per result (FAIL and ERROR only with `quiet`;
    timings with `verbose`), the violations in detail, the summary line. `colour` paints the verdicts.
    """
    lines = [
        safe(
            f"netcontract {report.command}: {report.contract} (project {report.project or '-'}, {report.source})"
        )
    ]
    lines += [f"note: {safe(n)}" for n in report.notes]
    shown = [r for r in report.results if not quiet or r.verdict in (Verdict.FAIL, Verdict.ERROR)]
    if shown:
        rows = []
        for r in shown:
            row = [_paint(r.verdict.value, r.verdict, colour), safe(r.id), _detail(r)]
            if verbose:
                row.append(
                    f"{r.duration * 1000:.0f}ms" + (f" x{r.attempts}" if r.attempts > 1 else "")
                )
            rows.append(row)
        lines += ["", tabulate(rows, tablefmt="plain")]
    bad = report.violations()
    if bad:
        lines += ["", "Violations:"]
        for r in bad:
            lines.append(f"  {_paint(r.verdict.value, r.verdict, colour)} {safe(r.id)}")
            lines.append(f"      expected: {safe(r.expected)}")
            lines.append(f"      actual:   {safe(r.actual)}")
            if r.reason:
                lines.append(f"      why:      {safe(r.reason)}")
            if verbose and r.output:
                lines += [f"      | {safe(o)}" for o in r.output.removesuffix("\n").split("\n")]
    if report.comparison is not None:
        lines += ["", comparison.text(report.comparison, all_measures=verbose).rstrip("\n")]
    lines += ["", summary_line(report)]
    return "\n".join(lines) + "\n"

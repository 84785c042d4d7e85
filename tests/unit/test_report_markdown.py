"""The Markdown summary, parsed back as a GFM table reader would split it."""

from __future__ import annotations

import html
import re

import pytest
from sample_reports import awkward, holds, not_evaluated, violated

from netcontract.report import markdown
from netcontract.report.matrix import matrix_rows
from netcontract.results import Report


def _split_row(line: str) -> list[str]:
    """GFM: a row is split on every `|` not escaped by a backslash."""
    assert line.startswith("| ") and line.endswith(" |"), line
    cells = re.split(r"(?<!\\)\|", line[1:-1])
    return [c.strip() for c in cells]


def _unescape(cell: str) -> str:
    return html.unescape(
        cell.replace("<br>", "\n").replace("\\|", "|").replace("\\`", "`").replace("\\\\", "\\")
    )


def _table_after(text: str, heading: str) -> list[list[str]]:
    lines = text.split(heading, 1)[1].strip("\n").splitlines()
    rows: list[list[str]] = []
    for line in lines:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append(_split_row(line))
    header, rule, *body = rows
    assert all(set(c) <= {"-", " "} for c in rule)
    assert all(len(r) == len(header) for r in body)
    return [header, *body]


@pytest.mark.parametrize(
    ("report", "word"),
    [
        (holds(), "PASSED"),
        (violated(), "FAILED"),
        (not_evaluated(), "NOT EVALUATED"),
    ],
)
def test_status_word_follows_the_exit_code(report: Report, word: str) -> None:
    text = markdown.render(report)
    assert text.splitlines()[0] == f"## netcontract check: {word}"
    s = report.summary
    assert (
        f"**{word}**: {s.total} checks, {s.passed} passed, {s.failed} failed, {s.errors} errors"
        in text
    )


def test_violations_table_has_expected_actual_and_why() -> None:
    report = violated()
    header, *rows = _table_after(markdown.render(report), "### Violations")
    assert header == ["result", "check", "expected", "actual", "why"]
    want = [[r.verdict.value, r.id, r.expected, r.actual, r.reason] for r in report.violations()]
    assert [[_unescape(c) for c in row] for row in rows] == want


def test_a_passing_report_has_no_violations_table() -> None:
    assert "### Violations" not in markdown.render(holds())


def test_pipes_newlines_and_html_cannot_break_the_table() -> None:
    report = awkward()
    text = markdown.render(report)
    _, row = _table_after(text, "### Violations")
    assert len(row) == 5
    (r,) = report.results
    assert [_unescape(c) for c in row] == [
        "FAIL",
        r.id,
        r.expected,
        r.actual,
        r.reason.replace("\r\n", "\n"),
    ]
    assert "<none>" not in text  # would vanish as an unknown HTML tag
    assert "odd\\|name.yaml" in text


def test_matrix_table_reuses_matrix_rows() -> None:
    report = violated()
    header, *rows = _table_after(markdown.render(report), "### Reachability")
    services, _ = matrix_rows(report)
    assert header == ["from \\ to", *services]
    grid = {row[0].strip("*"): dict(zip(services, row[1:], strict=True)) for row in rows}
    assert list(grid) == services
    assert grid["backend"]["db"] == "allowed"
    assert grid["dashboard"]["db"] == "blocked"
    assert grid["frontend"]["db"] == "**DIFFERS**"
    assert grid["traefik"]["db"] == "ERROR"
    assert grid["discord-integration"]["db"] == "skipped"
    assert grid["db"]["db"] == "-"
    assert grid["backend"]["frontend"] == ""


def test_markdown_is_plain_ascii_for_ascii_input() -> None:
    assert markdown.render(violated()).isascii()


def test_no_matrix_without_probe_results() -> None:
    report = Report(
        "c.yaml", tuple(r for r in holds().results if r.kind not in ("reach", "isolation"))
    )
    assert "### Reachability" not in markdown.render(report)

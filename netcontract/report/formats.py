"""The one registry of output format names, used by every command. Pure.

`check` and `lint` print one of `STDOUT` formats and may also write any of
`ARTIFACTS` to files in the same run; `graph` draws one of `GraphFormat`.
Each renderer module is imported only when its format is asked for, so a
command does not pay start-up time for formats it does not write.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import assert_never

from netcontract.results import Report


class ReportFormat(enum.Enum):
    """A report format that `check` or `lint` can print or write to a file."""

    TABLE = "table"
    JSON = "json"
    MATRIX = "matrix"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    HTML = "html"

    def renderer(
        self, *, colour: bool = False, quiet: bool = False, verbose: bool = False
    ) -> Callable[[Report], str]:
        """The format's `render(report) -> str`; the options reach only the table, and the matrix's colour
        (it ends with the table's summary line).
        """
        match self:
            case ReportFormat.TABLE:
                from netcontract.report import table

                return lambda r: table.render(r, colour=colour, quiet=quiet, verbose=verbose)
            case ReportFormat.JSON:
                from netcontract.report import json_report

                return json_report.render
            case ReportFormat.MATRIX:
                from netcontract.report import matrix, table

                return lambda r: (
                    matrix.render(r, colour=colour) + "\n" + table.summary_line(r) + "\n"
                )
            case ReportFormat.JUNIT:
                from netcontract.report import junit

                return junit.render
            case ReportFormat.MARKDOWN:
                from netcontract.report import markdown

                return markdown.render
            case ReportFormat.HTML:
                from netcontract.report import html

                return html.render
            case _:
                assert_never(self)


# What each command may print on stdout, and the report files any run may also write (CI artifacts).
STDOUT: dict[str, tuple[ReportFormat, ...]] = {
    "check": (ReportFormat.TABLE, ReportFormat.JSON, ReportFormat.MATRIX),
    "lint": (ReportFormat.TABLE, ReportFormat.JSON),
}
ARTIFACTS: tuple[ReportFormat, ...] = (
    ReportFormat.JUNIT,
    ReportFormat.JSON,
    ReportFormat.MARKDOWN,
    ReportFormat.HTML,
)


def names(formats: tuple[ReportFormat, ...]) -> list[str]:
    """The formats' names, as the --format choices list them."""
    return [f.value for f in formats]


class GraphFormat(enum.StrEnum):
    """The diagram language `graph` draws in."""

    MERMAID = "mermaid"  # renders inline on GitHub
    DOT = "dot"  # Graphviz: pipe through `dot -Tsvg`

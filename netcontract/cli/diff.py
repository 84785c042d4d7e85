"""`netcontract diff OLD.json NEW.json`: two JSON reports compared, without an engine. Registered on the
main group at the bottom of cli/main.py.

Exit codes: 0 by default, whatever the reports hold; with `--fail-on`, 1 when the new report introduced
what it names, 3 when a check that did not ERROR in OLD does now (and nothing failed the gate), 0 otherwise;
3 also when a file is no JSON report; 2 usage.
"""

from __future__ import annotations

import enum
import json
import sys
from typing import assert_never

import click

from netcontract.cli.common import InputFile, user_errors
from netcontract.compare import FailOn, compare, gated_exit
from netcontract.measures import Comparison
from netcontract.report import comparison as rendering
from netcontract.report.json_read import load_report
from netcontract.results import ExitCode


class DiffFormat(enum.Enum):
    """What `diff` prints: text for a terminal, Markdown for a pull-request comment, JSON for a program."""

    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"

    def render(self, c: Comparison) -> str:
        """The comparison in this format."""
        match self:
            case DiffFormat.TEXT:
                return rendering.text(c, all_measures=True)
            case DiffFormat.MARKDOWN:
                from netcontract.report.markdown import escape

                return rendering.markdown(c, escape)
            case DiffFormat.JSON:
                return json.dumps(rendering.as_dict(c), indent=2) + "\n"
            case _:
                assert_never(self)


FAIL_ON_HELP = (
    "Exit 1 only for what the new run introduced: new-fail (a check that FAILs now and did not "
    "before; FAILs in both are known) or regression (that, or a round trip or start-up time "
    "flagged past its threshold). Exit 3 when a check that did not ERROR before does now."
)


@click.command("diff")
@click.argument("old", type=InputFile())
@click.argument("new", type=InputFile())
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in DiffFormat]),
    default="text",
    show_default=True,
    help="text, markdown (a pull-request comment) or json.",
)
@click.option(
    "--fail-on", "fail_on", type=click.Choice([f.value for f in FailOn]), help=FAIL_ON_HELP
)
def diff_cmd(old: str, new: str, fmt: str, fail_on: str | None) -> None:
    """Compare the JSON report NEW with the earlier OLD (e.g. main's CI artifact): verdicts that changed,
    FAILs both have, round trips per path and start-up times per service.

    \b
    Example, in a pull request's CI job:
      netcontract check -c contracts/app.yaml --json new.json || true
      netcontract diff main.json new.json --format markdown > comment.md
      netcontract diff main.json new.json --fail-on new-fail

    \b
    Exit codes:
      0  compared (without --fail-on, whatever the reports hold)
      1  --fail-on: the new report introduced a FAIL (or, regression, a flagged measurement)
      2  usage error
      3  a file is not a JSON report; or --fail-on: a check ERRORs now that did not before
    """
    with user_errors():
        c = compare(load_report(old), load_report(new), baseline=old)
    click.echo(DiffFormat(fmt).render(c), nl=False)
    sys.exit(int(gated_exit(c, FailOn(fail_on)) if fail_on else ExitCode.OK))

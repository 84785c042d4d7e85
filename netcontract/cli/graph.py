"""`netcontract graph`: draw the contract, optionally with the live violations in red.

Registered on the main group at the bottom of cli/main.py. Errors map to the same
exit codes as `check`: 4 invalid contract, 3 Docker unreachable or output not
written, 2 usage.
Drawing succeeds with exit 0 even when --live finds violations: the graph is
a picture for people; `netcontract check` is the gate.
"""

from __future__ import annotations

import sys

import click

from netcontract.cli.common import InputFile, follow_symlinks_option, user_errors, write_file
from netcontract.report.formats import GraphFormat
from netcontract.results import ExitCode, Result, Verdict


@click.command("graph")
@click.option(
    "-c",
    "--contract",
    "contract_path",
    type=InputFile(),
    help="Contract YAML file. Default: netcontract.yaml (or .yml, or a dot file) here or in a parent "
    "directory, up to the git root.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in GraphFormat]),
    default="mermaid",
    show_default=True,
    help="mermaid (renders inline on GitHub) or dot (pipe through `dot -Tsvg`).",
)
@click.option(
    "--live",
    is_flag=True,
    help="Check the running stack first and draw its violations in red (errors in orange).",
)
@click.option(
    "--project", metavar="NAME", help="Compose project name for --live (overrides `project:`)."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the graph to FILE instead of stdout (atomically; never over the contract).",
)
@follow_symlinks_option
def graph_cmd(
    contract_path: str | None, fmt: str, live: bool, project: str | None, output: str | None
) -> None:
    """Draw CONTRACT's tiers, services and allowed flows as a diagram.

    \b
    Examples:
      netcontract graph -c contracts/devonboarder.yaml > tiers.mmd
      netcontract graph -c contracts/devonboarder.yaml --format dot | dot -Tsvg -o tiers.svg
      netcontract graph -c contracts/devonboarder.yaml --live --format dot -o live.dot
    """

    from netcontract.contract import load_contract
    from netcontract.discover import find_contract
    from netcontract.report.graph import render_graph

    with user_errors():
        contract_path = contract_path or find_contract()
        contract = load_contract(contract_path)
        violations: list[Result] = []
        if live:
            from netcontract.live.checker import CheckOptions, check
            from netcontract.report.table import summary_line

            report = check(contract_path, CheckOptions(project=project))
            violations = [r for r in report.results if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
            click.echo(summary_line(report), err=True)
    text = render_graph(contract, GraphFormat(fmt), violations)
    if output:
        with user_errors():
            write_file(output, text, label="-o")
    else:
        click.echo(text, nl=False)
    sys.exit(int(ExitCode.OK))

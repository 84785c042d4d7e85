"""The command line. Thin: parse options, call the core, render, map errors to exit codes."""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable
from typing import NoReturn, assert_never

import click

from netcontract import __version__
from netcontract.checker import CheckOptions, NoProjectError, check
from netcontract.contract import json_schema
from netcontract.errors import ContractError, EngineError, NetcontractError
from netcontract.report import json_report, table
from netcontract.results import ExitCode, Report


class OutputFormat(enum.Enum):
    TABLE = "table"
    JSON = "json"

    def renderer(self, *, colour: bool, quiet: bool, verbose: bool) -> Callable[[Report], str]:
        match self:
            case OutputFormat.TABLE:
                return lambda r: table.render(r, colour=colour, quiet=quiet, verbose=verbose)
            case OutputFormat.JSON:
                return json_report.render
            case _:
                assert_never(self)


def _fail(lines: list[str], code: ExitCode) -> NoReturn:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(int(code))


def _use_colour(stream: object) -> bool:
    return "NO_COLOR" not in os.environ and bool(getattr(stream, "isatty", lambda: False)())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="netcontract")
def main() -> None:
    """Check a live Docker deployment against a declared network contract.

    \b
    Typical use, after `docker compose up` or as a CI gate:
      netcontract check -c contracts/devonboarder.yaml
      echo $?   # 0 holds, 1 violated, 2 usage, 3 could not evaluate, 4 invalid contract
    """


@main.command("check")
@click.option("-c", "--contract", "contract_path", required=True, type=click.Path(dir_okay=False),
              help="Contract YAML file.")
@click.option("--project", metavar="NAME",
              help="Compose project name (overrides `project:` in the contract).")
@click.option("--format", "fmt", type=click.Choice([f.value for f in OutputFormat]), default="table",
              show_default=True, help="Output format on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Show only violations and the summary.")
@click.option("-v", "--verbose", is_flag=True, help="Show every check with its timing and probe output.")
def check_cmd(contract_path: str, project: str | None, fmt: str, quiet: bool, verbose: bool) -> None:
    """Check the running stack against CONTRACT and exit with a code CI can gate on.

    \b
    Services are found by their compose labels (com.docker.compose.project and
    com.docker.compose.service), never by container name.

    \b
    Exit codes:
      0  every check passed (skips allowed)
      1  at least one check FAILED: the contract is violated
      2  usage error
      3  could not evaluate: Docker unreachable, or ERRORs and no FAIL
      4  the contract file is invalid
    """
    try:
        report = check(contract_path, CheckOptions(project=project))
    except ContractError as exc:
        _fail(exc.lines(), ExitCode.INVALID_CONTRACT)
    except NoProjectError as exc:
        _fail([f"netcontract: {exc}"], ExitCode.USAGE)
    except EngineError as exc:
        _fail([f"netcontract: {exc}"], ExitCode.NOT_EVALUATED)
    except NetcontractError as exc:
        _fail([f"netcontract: {exc}"], ExitCode.NOT_EVALUATED)
    render = OutputFormat(fmt).renderer(colour=_use_colour(sys.stdout), quiet=quiet, verbose=verbose)
    click.echo(render(report), nl=False)
    sys.exit(int(report.exit_code))


@main.command("schema")
def schema_cmd() -> None:
    """Print the contract's JSON schema (for editors and validators)."""
    click.echo(json_schema())

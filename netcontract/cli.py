"""The command line. Thin: parse options, call the core, render, map errors to exit codes."""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, assert_never

import click

from netcontract import __version__
from netcontract.checker import CheckOptions, NoProjectError, check
from netcontract.contract import json_schema
from netcontract.errors import ContractError, NetcontractError
from netcontract.report import json_report, junit, markdown, matrix, table
from netcontract.report.schema import render_schema
from netcontract.results import ExitCode, Report
from netcontract.runner import DEFAULT_PROBE_IMAGE, ExecutorMode, RunOptions


class OutputFormat(enum.Enum):
    TABLE = "table"
    JSON = "json"
    MATRIX = "matrix"

    def renderer(self, *, colour: bool, quiet: bool, verbose: bool) -> Callable[[Report], str]:
        match self:
            case OutputFormat.TABLE:
                return lambda r: table.render(r, colour=colour, quiet=quiet, verbose=verbose)
            case OutputFormat.JSON:
                return json_report.render
            case OutputFormat.MATRIX:
                return lambda r: matrix.render(r, colour=colour) + "\n" + table.summary_line(r) + "\n"
            case _:
                assert_never(self)


# Report files that one run can write beside the terminal output (CI artifacts).
ARTIFACTS: dict[str, Callable[[Report], str]] = {
    "junit": junit.render,
    "json": json_report.render,
    "markdown": markdown.render,
}


def write_artifacts(report: Report, paths: dict[str, str | None]) -> list[str]:
    """Write each requested report file; return one error line per file that could not be written."""
    problems = []
    for kind, path in paths.items():
        if not path:
            continue
        try:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(ARTIFACTS[kind](report), encoding="utf-8")
        except OSError as exc:
            problems.append(f"netcontract: cannot write --{kind} {path}: {exc.strerror or exc}")
    return problems


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
@click.option("--junit", "junit_path", metavar="PATH", type=click.Path(dir_okay=False),
              help="Also write a JUnit XML report (one testcase per check).")
@click.option("--json", "json_path", metavar="PATH", type=click.Path(dir_okay=False),
              help="Also write the JSON report (schema: `netcontract schema --report`).")
@click.option("--markdown", "markdown_path", metavar="PATH", type=click.Path(dir_okay=False),
              help="Also write a Markdown summary with the violations and the reachability matrix.")
@click.option("--probes/--no-probes", default=True, show_default=True,
              help="Run reachability, isolation and DNS probes (--no-probes: structural checks only).")
@click.option("--executor", type=click.Choice([m.value for m in ExecutorMode]), default="auto",
              show_default=True,
              help="exec: tools inside each container; sidecar: a probe container sharing its network "
                   "namespace; auto: exec where the tools exist, sidecar otherwise.")
@click.option("--probe-image", envvar="NETCONTRACT_PROBE_IMAGE", default=DEFAULT_PROBE_IMAGE,
              show_default=True, show_envvar=True, metavar="IMAGE",
              help="Image for sidecar probes; needs sh and busybox-style nc, nslookup, ping.")
@click.option("--pull/--no-pull", default=True, show_default=True,
              help="Pull the probe image when it is not present.")
@click.option("--timeout", type=click.FloatRange(min=0.05, max=60), default=1.0, show_default=True,
              metavar="SECONDS", help="Per-probe timeout; a dropped packet costs this long.")
@click.option("--retries", type=click.IntRange(0, 5), default=1, show_default=True,
              help="Repeat probes whose observation differs from the expectation, doubling the timeout.")
@click.option("--concurrency", type=click.IntRange(1, 128), default=16, show_default=True,
              help="Source containers probed at once.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=0, show_default=True,
              metavar="SECONDS", help="Wait until every service is running and healthy before checking.")
def check_cmd(contract_path: str, project: str | None, fmt: str, quiet: bool, verbose: bool,
              junit_path: str | None, json_path: str | None, markdown_path: str | None, probes: bool,
              executor: str, probe_image: str, pull: bool, timeout: float, retries: int, concurrency: int,
              wait_s: float) -> None:
    """Check the running stack against the contract (-c) and exit with a code CI can gate on.

    \b
    Structural checks read the Docker Engine API (networks, memberships,
    aliases, published ports, health); probes then run from inside each
    container's network namespace: every allowed path must connect, every
    forbidden one must be dropped (`refused` counts as reachable), and every
    name must resolve exactly where the contract says.

    \b
    Services are found by their compose labels (com.docker.compose.project and
    com.docker.compose.service), never by container name.

    \b
    Exit codes:
      0  every check passed (skips allowed)
      1  at least one check FAILED: the contract is violated
      2  usage error
      3  could not evaluate: Docker unreachable, stack not ready, or ERRORs and no FAIL
      4  the contract file is invalid
    """
    run = RunOptions(mode=ExecutorMode(executor), timeout=timeout, retries=retries, concurrency=concurrency,
                     probe_image=probe_image, pull=pull, deadline=max(30.0, timeout * 20))
    options = CheckOptions(project=project, probes=probes, run=run, wait=wait_s)
    progress = _progress_printer() if sys.stderr.isatty() and not quiet else None
    try:
        with _terminate_as_interrupt():
            report = check(contract_path, options, progress)
    except ContractError as exc:
        _fail(exc.lines(), ExitCode.INVALID_CONTRACT)
    except NoProjectError as exc:
        _fail([f"netcontract: {exc}"], ExitCode.USAGE)
    except NetcontractError as exc:
        _fail([f"netcontract: {exc}"], ExitCode.NOT_EVALUATED)
    except KeyboardInterrupt:
        _fail(["netcontract: interrupted; probe containers removed"], ExitCode.INTERRUPTED)
    if progress:
        click.echo("\r\x1b[K", err=True, nl=False)
    render = OutputFormat(fmt).renderer(colour=_use_colour(sys.stdout), quiet=quiet, verbose=verbose)
    click.echo(render(report), nl=False)
    problems = write_artifacts(report, {"junit": junit_path, "json": json_path, "markdown": markdown_path})
    if problems:
        # the verdict is printed above; a lost artifact must still fail the CI job
        _fail(problems, ExitCode.NOT_EVALUATED if report.exit_code == ExitCode.OK else report.exit_code)
    sys.exit(int(report.exit_code))


def _progress_printer() -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        click.echo(f"\r\x1b[Kprobing: {done}/{total} sources", err=True, nl=False)

    return show


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM takes the Ctrl-C path, so probe containers are removed either way."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. called from a test runner thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@main.command("schema")
@click.option("--report", "report_schema", is_flag=True,
              help="Print the JSON report's schema instead of the contract's.")
def schema_cmd(report_schema: bool) -> None:
    """Print the contract's JSON schema (for editors and validators).

    \b
    In VS Code (redhat.vscode-yaml), for example:
      netcontract schema > netcontract.schema.json
      # then in the contract:  # yaml-language-server: $schema=netcontract.schema.json
    """
    click.echo(render_schema() if report_schema else json_schema() + "\n", nl=False)


from netcontract.cli_graph import graph_cmd  # noqa: E402

main.add_command(graph_cmd, "graph")

from netcontract.cli_static import init_cmd, lint_cmd, scaffold_cmd  # noqa: E402

main.add_command(lint_cmd, "lint")
main.add_command(init_cmd, "init")
main.add_command(scaffold_cmd, "scaffold")

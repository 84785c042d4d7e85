"""The command line. Thin: parse options, call the core, render, map errors to exit codes.

Start-up is part of the interface (`--version` and `--help` at most 0.1 s, docs/performance.md): this
module and the command modules import only click and the light core at the top; the contract models
(pydantic), the checker, the runner and the Docker edge are imported inside the command that runs.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from netcontract import __version__
from netcontract.cli.aborted import reports_on_error
from netcontract.cli.colour import colour_option
from netcontract.cli.common import (
    InputFile,
    artifact_options,
    finish,
    internal_error,
    probe_options,
    run_options,
)
from netcontract.cli.diff import FAIL_ON_HELP
from netcontract.compare import FailOn, compare, gated_exit
from netcontract.errors import UsageError
from netcontract.report import formats
from netcontract.report.json_read import load_report
from netcontract.results import ExitCode

if TYPE_CHECKING:
    from netcontract.swarm.nodes import NodeRef

# EXECUTORS and DEFAULT_PROBE_IMAGE (cli/common.py) spell live.runner's ExecutorMode values and probe image, so
# that `--help` does not import the runner (tests/unit/test_cli_everyday.py keeps them equal).


class _Main(click.Group):
    """The command group; an unexpected exception becomes one line and exit 70 (cli.common.internal_error)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:  # parsing the command line (and its callbacks) is outside `invoke`
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo(
                "netcontract: interrupted", err=True
            )  # not click's blank line and "Aborted!", exit 1
            sys.exit(int(ExitCode.INTERRUPTED))

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # outside a command's own handler (which removes probe containers first): still 130, never
            # click's "Aborted!" with exit 1, which CI reads as "contract violated"
            click.echo("netcontract: interrupted", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))
        except (
            click.exceptions.ClickException,
            click.exceptions.Exit,
            click.exceptions.Abort,
            SystemExit,
        ):
            raise
        except Exception as exc:
            internal_error(exc)


@click.group(
    cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="netcontract")
@colour_option
def main() -> None:
    """Check a live Docker deployment against a declared network contract.

    \b
    Typical use, after `docker compose up` or as a CI gate:
      netcontract check -c contracts/devonboarder.yaml
      echo $?   # 0 holds, 1 violated, 2 usage, 3 could not evaluate, 4 invalid contract

    \b
    Without -c, check, lint and graph use the first netcontract.yaml, netcontract.yml,
    .netcontract.yaml or .netcontract.yml found from the working directory
    upwards (to the git root). Shell completion: see `Shell completion` in
    the README (_NETCONTRACT_COMPLETE=bash_source|zsh_source|fish_source).
    """


def _nodes(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[NodeRef, ...]:
    from netcontract.swarm.nodes import parse_nodes

    try:
        return parse_nodes(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command("check")
@click.option(
    "-c",
    "--contract",
    "contract_path",
    type=InputFile(),
    help="Contract YAML file. Default: netcontract.yaml (or .yml, or a dot file) here or in a "
    "parent directory, up to the git root.",
)
@click.option(
    "--project", metavar="NAME", help="Compose project name (overrides `project:` in the contract)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(formats.names(formats.STDOUT["check"])),
    default="table",
    show_default=True,
    help="Output format on stdout.",
)
@click.option("-q", "--quiet", is_flag=True, help="Show only violations and the summary.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Show every check with its timing and probe output."
)
@artifact_options
@probe_options
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Wait until every service is running and healthy before checking.",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=InputFile(),
    metavar="FILE",
    help="An earlier JSON report (the last good run): add what changed since, round trips and start-up "
    "times side by side, to every output. The exit code is unchanged unless --fail-on.",
)
@click.option(
    "--fail-on", "fail_on", type=click.Choice([f.value for f in FailOn]), help=FAIL_ON_HELP
)
@click.option(
    "--node",
    "nodes",
    multiple=True,
    metavar="NAME=URL",
    callback=_nodes,
    help="Swarm (`orchestrator: swarm`): a node's hostname and its engine's URL (tcp://IP:2375, "
    "unix:///PATH; TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) or context:NAME (a Docker "
    "context, with its own TLS material). Repeat for every node; one "
    "of them must be a manager. Without it, the engine of DOCKER_HOST is the manager and the only "
    "node read.",
)
@colour_option
def check_cmd(
    contract_path: str | None,
    project: str | None,
    fmt: str,
    quiet: bool,
    verbose: bool,
    junit_path: str | None,
    json_path: str | None,
    markdown_path: str | None,
    html_path: str | None,
    probes: bool,
    executor: str,
    probe_image: str,
    helper_image: str | None,
    require_trusted: bool,
    pull: bool,
    timeout: float,
    retries: int,
    concurrency: int,
    wait_s: float,
    baseline_path: str | None,
    fail_on: str | None,
    nodes: tuple[NodeRef, ...],
) -> None:
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
    With --baseline and --fail-on, 1 and 3 mean what `netcontract diff --fail-on` says
    (only what this run introduced).
    """
    from netcontract.discover import find_contract
    from netcontract.live.checker import CheckOptions, check

    if fail_on and not baseline_path:
        raise click.UsageError("--fail-on needs --baseline FILE")
    artifacts = {
        "junit": junit_path,
        "json": json_path,
        "markdown": markdown_path,
        "html": html_path,
    }
    with reports_on_error("check", "", artifacts, project=project):
        contract_path = contract_path or find_contract()
        baseline = load_report(baseline_path) if baseline_path else None
    run = run_options(
        executor, timeout, retries, concurrency, probe_image, pull, helper_image, require_trusted
    )
    options = CheckOptions(project=project, probes=probes, run=run, wait=wait_s, nodes=nodes)
    progress = _progress_printer() if sys.stderr.isatty() and not quiet else None
    with (
        reports_on_error(
            "check",
            contract_path,
            artifacts,
            project=project,
            interrupted="netcontract: interrupted; probe containers removed",
        ),
        _terminate_as_interrupt(),
    ):
        report = check(contract_path, options, progress)
    if progress:
        click.echo("\r\x1b[K", err=True, nl=False)
    code = None
    if baseline is not None:
        report = replace(report, comparison=compare(baseline, report, baseline=str(baseline_path)))
        if fail_on and report.comparison is not None:
            code = gated_exit(report.comparison, FailOn(fail_on))
    finish(report, fmt, quiet, verbose, artifacts, code)


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
@click.option(
    "--report",
    "report_schema",
    is_flag=True,
    help="Print the JSON report's schema instead of the contract's.",
)
def schema_cmd(report_schema: bool) -> None:
    """Print the contract's JSON schema (for editors and validators).

    \b
    In VS Code (redhat.vscode-yaml), for example:
      netcontract schema > netcontract.schema.json
      # then in the contract:  # yaml-language-server: $schema=netcontract.schema.json
    """
    if report_schema:
        from netcontract.report.schema import render_schema

        click.echo(render_schema(), nl=False)
    else:
        from netcontract.contract import json_schema

        click.echo(json_schema() + "\n", nl=False)


from netcontract.cli.graph import graph_cmd  # noqa: E402

main.add_command(graph_cmd, "graph")

from netcontract.cli.static import init_cmd, lint_cmd, scaffold_cmd  # noqa: E402

main.add_command(lint_cmd, "lint")
main.add_command(init_cmd, "init")
main.add_command(scaffold_cmd, "scaffold")

from netcontract.cli.watch import serve_cmd, watch_cmd  # noqa: E402

main.add_command(watch_cmd, "watch")
main.add_command(serve_cmd, "serve")

from netcontract.cli.docker_plugin import install_plugin_cmd  # noqa: E402

main.add_command(install_plugin_cmd, "install-docker-plugin")

from netcontract.cli.diff import diff_cmd  # noqa: E402

main.add_command(diff_cmd, "diff")

from netcontract.cli.observe import observe_cmd  # noqa: E402

main.add_command(observe_cmd, "observe")

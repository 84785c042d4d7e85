"""What every command shares: output formats, report files, error-to-exit-code mapping."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import click

from netcontract.errors import NetcontractError, OutputError
from netcontract.report.formats import ReportFormat
from netcontract.results import ExitCode, Report

OutputFormat = ReportFormat  # the registry lives in report/formats.py


def write_artifacts(report: Report, paths: dict[str, str | None]) -> list[str]:
    """Write each requested report file; return one error line per file that could not be written."""
    problems = []
    for kind, path in paths.items():
        if not path:
            continue
        try:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(ReportFormat(kind).renderer()(report), encoding="utf-8")
        except OSError as exc:
            problems.append(OutputError(f"cannot write --{kind} {path}: {exc.strerror or exc}").lines()[0])
    return problems


def fail(lines: list[str], code: ExitCode) -> NoReturn:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(int(code))


@contextlib.contextmanager
def user_errors(interrupted: str = "netcontract: interrupted") -> Iterator[None]:
    """The one mapping from errors to exit codes, for every command: each error class carries its
    code (errors.py); the message is its lines on stderr."""
    try:
        yield
    except NetcontractError as exc:
        fail(exc.lines(), exc.exit_code)
    except KeyboardInterrupt:
        fail([interrupted], ExitCode.INTERRUPTED)


def internal_error(exc: BaseException) -> NoReturn:
    """Last resort for a bug: one line and exit 70, never a traceback and never 1 ("violated")."""
    if os.environ.get("NETCONTRACT_DEBUG"):
        raise exc
    what = " ".join(str(exc).split())[:200]
    fail([f"netcontract: internal error: {type(exc).__name__}: {what} "
          "(a bug in netcontract: please report it; NETCONTRACT_DEBUG=1 shows the traceback)"], ExitCode.INTERNAL)


def finish(report: Report, fmt: str, quiet: bool, verbose: bool, artifacts: dict[str, str | None]) -> NoReturn:
    """Print the report, write the requested report files, exit with the report's code."""
    render = ReportFormat(fmt).renderer(colour=use_colour(sys.stdout), quiet=quiet, verbose=verbose)
    click.echo(render(report), nl=False)
    problems = write_artifacts(report, artifacts)
    if problems:
        # the verdict is printed above; a lost artifact must still fail the CI job
        fail(problems, ExitCode.NOT_EVALUATED if report.exit_code == ExitCode.OK else report.exit_code)
    sys.exit(int(report.exit_code))


def artifact_options(f: Callable[..., None]) -> Callable[..., None]:
    """--junit/--json/--markdown PATH: report files written by the same run (CI artifacts)."""
    f = click.option("--markdown", "markdown_path", metavar="PATH", type=click.Path(dir_okay=False),
                     help="Also write a Markdown summary with the violations and the reachability matrix.")(f)
    f = click.option("--json", "json_path", metavar="PATH", type=click.Path(dir_okay=False),
                     help="Also write the JSON report (schema: `netcontract schema --report`).")(f)
    return click.option("--junit", "junit_path", metavar="PATH", type=click.Path(dir_okay=False),
                        help="Also write a JUnit XML report (one testcase per check).")(f)


def use_colour(stream: object) -> bool:
    return "NO_COLOR" not in os.environ and bool(getattr(stream, "isatty", lambda: False)())

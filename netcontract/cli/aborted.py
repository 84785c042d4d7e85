"""A report on every exit: when `check` or `lint` stops before any verdict (the engine cannot be asked, the
stack is not up, the contract is invalid, no contract was found), the --junit/--json/--markdown files the
command line asked for are still written, and say why; the exit code and the lines on stderr are the
error's own, as without them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from netcontract.cli.common import fail, user_errors, write_artifacts
from netcontract.errors import NetcontractError
from netcontract.results import Aborted, Report


def aborted_report(
    command: str,
    contract: str,
    exc: NetcontractError,
    *,
    project: str | None = None,
    source: str = "live",
    duration: float = 0.0,
) -> Report:
    """The report of a run that made no verdict: no results, the error's exit code and lines."""
    return Report(
        contract=contract,
        results=(),
        project=project,
        source=source,
        command=command,
        duration=duration,
        aborted=Aborted(exc.exit_code, type(exc).__name__, tuple(exc.lines())),
    )


@contextlib.contextmanager
def reports_on_error(
    command: str,
    contract: str,
    artifacts: dict[str, str | None],
    *,
    project: str | None = None,
    source: str = "live",
    interrupted: str = "netcontract: interrupted",
) -> Iterator[None]:
    """`common.user_errors`, and before exiting on a NetcontractError writes the requested report files with
    the error in them. A report file that cannot be written adds its own line; the exit code stays the
    error's. Everything else (Ctrl-C, SIGTERM) is user_errors' own."""
    started = time.monotonic()
    with user_errors(interrupted):
        try:
            yield
        except NetcontractError as exc:
            if not any(artifacts.values()):
                raise
            report = aborted_report(
                command,
                contract,
                exc,
                project=project,
                source=source,
                duration=time.monotonic() - started,
            )
            fail([*exc.lines(), *write_artifacts(report, artifacts)], exc.exit_code)

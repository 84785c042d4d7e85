"""A report on every exit: when `check` or `lint` stops before any verdict (the engine cannot be asked, the
stack is not up, the contract is invalid, no contract was found), the --junit/--json/--markdown files the
command line asked for are still written, and say why; the exit code and the lines on stderr are the
error's own, as without them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from netcontract.cli.common import fail, write_artifacts
from netcontract.errors import NetcontractError
from netcontract.results import Aborted, ExitCode, Report


def aborted_report(command: str, contract: str, exc: NetcontractError, *, project: str | None = None,
                   source: str = "live", duration: float = 0.0) -> Report:
    """The report of a run that made no verdict: no results, the error's exit code and lines."""
    return Report(contract=contract, results=(), project=project, source=source, command=command,
                  duration=duration, aborted=Aborted(exc.exit_code, type(exc).__name__, tuple(exc.lines())))


@contextlib.contextmanager
def reports_on_error(command: str, contract: str, artifacts: dict[str, str | None], *, project: str | None = None,
                     source: str = "live", interrupted: str = "netcontract: interrupted") -> Iterator[None]:
    """Like `common.user_errors`, and before exiting writes the requested report files with the error in them.
    A report file that cannot be written adds its own line; the exit code stays the error's."""
    started = time.monotonic()
    try:
        yield
    except NetcontractError as exc:
        problems: list[str] = []
        if any(artifacts.values()):
            report = aborted_report(command, contract, exc, project=project, source=source,
                                    duration=time.monotonic() - started)
            problems = write_artifacts(report, artifacts)
        fail([*exc.lines(), *problems], exc.exit_code)
    except KeyboardInterrupt:
        fail([interrupted], ExitCode.INTERRUPTED)

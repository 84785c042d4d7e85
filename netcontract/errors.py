"""Every error netcontract raises on purpose, each tied to its exit code.

Third-party errors are translated into these where they are caught. The CLI
maps any of them to one line on stderr and `exc.exit_code` through one
function (`netcontract.cli.common.user_errors`), so the same failure has the
same exit code in every command.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from netcontract.results import ExitCode


class NetcontractError(Exception):
    """Base of every error netcontract raises on purpose: the stack could not be evaluated (exit 3)."""

    exit_code: ClassVar[ExitCode] = ExitCode.NOT_EVALUATED

    def lines(self) -> list[str]:
        """The message as printed on stderr, one entry a line."""
        return [f"netcontract: {self}"]


# -- exit 4: the contract ------------------------------------------------------------------


@dataclass(frozen=True)
class ContractIssue:
    """One problem in a contract: its YAML path (empty at the top level) and what is wrong."""

    loc: tuple[str | int, ...]
    message: str
    position: tuple[int, int] | None = None  # (line, column), 1-based, when read from a file


def format_loc(loc: Sequence[str | int]) -> str:
    """A YAML path as the user reads it: services.backend.tiers[1]."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


class ContractError(NetcontractError):
    """The contract file cannot be used: one issue per line, each with its YAML path."""

    exit_code = ExitCode.INVALID_CONTRACT

    def __init__(self, source: str, issues: Sequence[ContractIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per issue: `source:line:col: path: message` (the position when the file was read, the path
        unless the issue is at the top level)."""
        out = []
        for issue in self.issues:
            where = f"{format_loc(issue.loc)}: " if issue.loc else ""
            at = f":{issue.position[0]}:{issue.position[1]}" if issue.position else ""
            out.append(f"{self.source}{at}: {where}{issue.message}")
        return out


# -- exit 2: the command line ---------------------------------------------------------------


class UsageError(NetcontractError):
    """The command line asks for something inconsistent (exit 2, like click's own usage errors)."""

    exit_code = ExitCode.USAGE


class NoProjectError(UsageError):
    """Neither the contract nor the command line names the compose project."""


class ProjectNeededError(UsageError):
    """--project is needed: the engine runs no compose project, or several."""


class NoContractError(UsageError):
    """No -c, and no contract file found from the working directory upwards (or two in one directory)."""


class MapError(UsageError):
    """A --map names a service the contract does not have."""


class OutputExistsError(UsageError):
    """The output file exists and --force was not given."""


# -- exit 3: could not evaluate ---------------------------------------------------------------


class InputError(NetcontractError):
    """An input file cannot be read or parsed safely. Callers re-raise it as the error of their input kind."""


class EngineError(NetcontractError):
    """The Docker engine could not be asked (not running, no permission, API error)."""


class NotReadyError(NetcontractError):
    """The stack did not become ready within --wait."""


class NoStackError(NetcontractError):
    """The engine has no container of the project."""


class ComposeError(NetcontractError):
    """A compose file cannot be read as compose would read it. The message is one line."""


class ScaffoldError(NetcontractError):
    """scaffold cannot rewrite or restore the file safely."""


class OutputError(NetcontractError):
    """A report or output file could not be written (the verdict, if any, was printed already)."""


class InternalError(NetcontractError):
    """A bug in netcontract: never exit 1 (which CI reads as "contract violated") for one."""

    exit_code = ExitCode.INTERNAL


# errno values of an OSError that is an I/O failure, not a bug (exit 3): a full disk, a closed or broken
# stdout, a read-only or failing device.
IO_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG, errno.EROFS}
)


# -- not user errors: programming errors caught where they arise --------------------------------


class InterpolationError(ValueError):
    """A `${...}` expression compose would refuse; re-raised as ComposeError with the file name."""


class UnsafeProbeError(ValueError):
    """A probe target that could break the script; the planner never produces one."""

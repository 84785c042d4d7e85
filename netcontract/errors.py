"""netcontract's own exceptions. Third-party errors are translated into these where caught;
only the CLI maps them to exit codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class NetcontractError(Exception):
    """Base of every error netcontract raises on purpose."""


@dataclass(frozen=True)
class ContractIssue:
    loc: tuple[str | int, ...]
    message: str


class ContractError(NetcontractError):
    """The contract file cannot be used: one issue per line, each with its YAML path."""

    def __init__(self, source: str, issues: Sequence[ContractIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        from netcontract.contract import format_loc

        out = []
        for issue in self.issues:
            where = f"{format_loc(issue.loc)}: " if issue.loc else ""
            out.append(f"{self.source}: {where}{issue.message}")
        return out


class UsageError(NetcontractError):
    """The command line asks for something inconsistent (exit 2, like click's own usage errors)."""


class EngineError(NetcontractError):
    """The Docker engine could not be asked (not running, no permission, API error)."""


class NotReadyError(NetcontractError):
    """The stack did not become ready within --wait."""

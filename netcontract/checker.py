"""The orchestrator: load, snapshot, plan, probe, report. Prints nothing, exits nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from netcontract import docker_engine
from netcontract.contract import Contract, load_contract
from netcontract.errors import NetcontractError
from netcontract.results import Report
from netcontract.state import State
from netcontract.structural import structural_results


class NoProjectError(NetcontractError):
    """Neither the contract nor the command line names the compose project."""


@dataclass(frozen=True)
class CheckOptions:
    project: str | None = None


def resolve_project(contract: Contract, project: str | None) -> str:
    name = project or contract.project
    if not name:
        raise NoProjectError(
            "no compose project: set `project:` in the contract or pass --project "
            "(services are matched by the com.docker.compose.project label, never by container name)"
        )
    return name


def live_state(contract: Contract, project: str) -> State:
    client = docker_engine.connect()
    try:
        return docker_engine.snapshot(client, project, [t.network for t in contract.tiers.values()])
    finally:
        client.close()


def check(contract_path: str | Path, options: CheckOptions | None = None) -> Report:
    """Check the live deployment against the contract at `contract_path` and return the report."""
    options = options or CheckOptions()
    started = time.monotonic()
    contract = load_contract(contract_path)
    project = resolve_project(contract, options.project)
    state = live_state(contract, project)
    results = structural_results(contract, state)
    return Report(
        contract=str(contract_path),
        results=tuple(results),
        project=project,
        source="live",
        duration=time.monotonic() - started,
    )

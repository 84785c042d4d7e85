"""`lint`: the structural rules of `check`, run on the State compose files declare. No daemon.

Prints nothing and exits nothing: `lint()` returns a `Report` (command "lint").
Besides the shared structural results it adds what only a file can answer:

- `running:<service>` says whether the service is declared and active in the
  files (a file says nothing about what runs; the id is `check`'s, so the
  "see running:<service>" of skipped checks points at it);
- `project` compares the compose project name with the contract's `project:`
  (a different name means `check` would find none of the containers).

A rule a file cannot decide is SKIP, never PASS: an external network's driver
and internal flag live on the engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from netcontract.compose.loader import load_project
from netcontract.compose.project import ComposeOptions, ComposeProject, replica_notes, to_state
from netcontract.contract import Contract, load_contract
from netcontract.errors import MapError
from netcontract.results import Kind, Report, Result, Verdict, result_id
from netcontract.state import State
from netcontract.structural import structural_results
from netcontract.yaml_input import did_you_mean


def check_service_map(contract: Contract, service_map: Mapping[str, str]) -> None:
    """MapError (one line, with a did-you-mean) when --map names a service the contract does not have."""
    for name in service_map:
        if name not in contract.services:
            hint = did_you_mean(name, list(contract.services))
            raise MapError(
                f"--map {name}={service_map[name]}: the contract has no service {name!r}{hint}"
            )


@dataclass(frozen=True)
class LintOptions:
    """What `lint` reads: the compose files and how, and --map's contract-to-compose service names."""

    compose: ComposeOptions
    service_map: Mapping[str, str] = field(default_factory=dict)  # contract name -> compose name


def lint(contract_path: str | Path, options: LintOptions) -> Report:
    """Check the compose files in `options` against the contract at `contract_path`."""
    started = time.monotonic()
    contract = load_contract(contract_path)
    check_service_map(contract, options.service_map)
    project = load_project(options.compose)
    results = lint_results(contract, project, options.service_map)
    return Report(
        contract=str(contract_path),
        results=tuple(results),
        project=project.name,
        source=", ".join(project.files),
        command="lint",
        duration=time.monotonic() - started,
        notes=(f"compose files read by {project.loader}", *project.notes, *replica_notes(project)),
        topology=contract.topology(),
    )


def lint_results(
    contract: Contract, project: ComposeProject, service_map: Mapping[str, str]
) -> list[Result]:
    """Lint's results for `project` against `contract`: the project name, the structural rules on its
    static State (with `running:` read as "declared and active"), each pointed at its file:line.
    """
    rename = {compose: name for name, compose in service_map.items()}
    state = to_state(project, rename)
    structural = structural_results(contract, state)
    split = next(
        (i for i, r in enumerate(structural) if r.kind is not Kind.NETWORK), len(structural)
    )
    results = [
        *_project(contract, project),
        *structural[:split],
        *_declared(contract, project, service_map),
        *structural[split:],
    ]
    external = {n.name for n in project.networks.values() if n.external}
    where = {rename.get(s.name, s.name): (s.name, s.where) for s in project.active}
    by_container = {c.name: where[c.service] for c in state.containers if c.service in where}
    return [_locate(_static(r, contract, state, external), where, by_container) for r in results]


def _project(contract: Contract, project: ComposeProject) -> Iterator[Result]:
    if contract.project is None:
        return
    ok = contract.project == project.name
    reason = (
        ""
        if ok
        else (
            f"compose would name the project {project.name!r} (from --project, COMPOSE_PROJECT_NAME, `name:` or "
            f"the directory of {project.files[0]}), so `check` would find no container labelled "
            f"project={contract.project}: set `name: {contract.project}` in {project.files[0]} or pass --project"
        )
    )
    yield Result(
        result_id(Kind.PROJECT, ""),
        Kind.PROJECT,
        project.name,
        Verdict.PASS if ok else Verdict.FAIL,
        contract.project,
        project.name,
        reason,
    )


def _declared(
    contract: Contract, project: ComposeProject, service_map: Mapping[str, str]
) -> Iterator[Result]:
    """running:<service> for a static state: is the service declared and active?"""
    files = ", ".join(project.files)
    names = [s.name for s in project.services]
    for name in contract.services:
        compose_name = service_map.get(name, name)
        svc = project.service(compose_name)
        rid = result_id(Kind.RUNNING, name)
        want = f"service {compose_name} declared and active"
        if svc is None:
            hint = did_you_mean(compose_name, names, cutoff=0.5, then=f" pass --map {name}={{}}")
            yield Result(
                rid,
                Kind.RUNNING,
                name,
                Verdict.FAIL,
                want,
                "not declared",
                f"{files} declares no service {compose_name}{hint}",
            )
        elif not svc.active:
            profiles = ", ".join(svc.profiles)
            yield Result(
                rid,
                Kind.RUNNING,
                name,
                Verdict.FAIL,
                want,
                f"inactive (profiles: {profiles})",
                f"{svc.where}: {compose_name} runs only with --profile {svc.profiles[0]}",
            )
        elif svc.replicas == 0:
            yield Result(
                rid,
                Kind.RUNNING,
                name,
                Verdict.FAIL,
                want,
                "0 replicas",
                f"{svc.where}: {compose_name} is scaled to 0 replicas",
            )
        else:
            yield Result(rid, Kind.RUNNING, name, Verdict.PASS, want, f"declared at {svc.where}")


def _static(r: Result, contract: Contract, state: State, external: set[str]) -> Result:
    """Turn what a file cannot decide into SKIP."""
    if r.kind is Kind.NETWORK and r.verdict is Verdict.FAIL and r.subject in contract.tiers:
        network = contract.tiers[r.subject].network
        if network in external and state.network(network) is not None:
            return r.with_verdict(
                Verdict.SKIP,
                f"{network} is external: its driver and internal flag are set where it is created; `check` reads them",
            )
    if (
        r.kind is Kind.EXPOSURE
        and r.subject in contract.services
        and not state.service_containers(r.subject)
    ):
        return replace(
            r, verdict=Verdict.SKIP, actual="not declared", reason=f"see running:{r.subject}"
        )
    return r


def _locate(
    r: Result, where: Mapping[str, tuple[str, str]], by_container: Mapping[str, tuple[str, str]]
) -> Result:
    """Point a violation at the file and line that declare the service(s) it is about (from the result's
    `service` and `containers` fields, never from its message)."""
    if r.verdict is Verdict.PASS or not r.reason:
        return r
    if r.kind in (Kind.NETWORKS, Kind.ALIAS, Kind.EXPOSURE) and r.service in where:
        compose_name, at = where[r.service]
        return replace(r, reason=f"{r.reason} (services.{compose_name} at {at})", location=at)
    if r.kind in (Kind.FOREIGN, Kind.ALIAS_UNIQUE):
        found = list(
            dict.fromkeys(
                f"{by_container[n][0]} at {by_container[n][1]}"
                for n in r.containers
                if n in by_container
            )
        )
        if found:
            return replace(
                r,
                reason=f"{r.reason} (declared: {'; '.join(found)})",
                location=found[0].split(" at ", 1)[1],
            )
    return r

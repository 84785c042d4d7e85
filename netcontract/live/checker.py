"""The orchestrator: load, snapshot, plan, probe, report. Prints nothing, exits nothing."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

from netcontract.actors import name_sharers
from netcontract.compare import startup_times
from netcontract.contract import Contract, load_contract
from netcontract.errors import NoProjectError, NotReadyError, UsageError
from netcontract.live.interface import LiveEngine
from netcontract.live.runner import ExecutorMode, ProbeRunner, RunOptions
from netcontract.notes import (
    dns_egress_notes,
    gateway_mode_notes,
    health_notes,
    ipv6_filter_notes,
    podman_isolation_notes,
)
from netcontract.probe.host_reach import host_actors, with_host_reach
from netcontract.probe.plan import narrow_plan, plan_probes
from netcontract.results import Kind, Report, Result
from netcontract.state import State
from netcontract.structural import egress_results, structural_results, unreadable_errors
from netcontract.swarm.nodes import NodeRef, explain_unreadable, explain_vips


@dataclass(frozen=True)
class CheckOptions:
    """How `check` runs: the project, whether to probe, the runner's options, the readiness wait, the swarm's nodes."""

    project: str | None = None
    probes: bool = True  # False: structural checks only
    run: RunOptions = field(default_factory=RunOptions)
    wait: float = 0.0  # seconds to wait for the stack to be running and healthy
    nodes: tuple[NodeRef, ...] = ()  # swarm: --node NAME=URL, the engines of the swarm's nodes
    swarm: bool = False  # the contract says `orchestrator: swarm` (set by check())


def resolve_project(contract: Contract, project: str | None) -> str:
    """The project to check: --project, else the contract's `project:`; NoProjectError when neither names one."""
    name = project or contract.project
    if not name:
        raise NoProjectError(
            "no compose project: set `project:` in the contract or pass --project "
            "(services are matched by the com.docker.compose.project label, never by container name)"
        )
    return name


def _networks(contract: Contract) -> list[str]:
    return [t.network for t in contract.tiers.values()]


def not_ready(contract: Contract, state: State) -> list[str]:
    """Services without a running (and, where required, healthy) container."""
    out = []
    for name, svc in contract.services.items():
        cs = state.service_containers(name)
        ok = cs and all(c.running and (not svc.healthy or c.health_ok) for c in cs)
        if not ok:
            out.append(name)
    return out


def wait_until_ready(engine: LiveEngine, contract: Contract, project: str, seconds: float) -> State:
    """Snapshot until every service is running and healthy (see `not_ready`), every half second; return
    that State. NotReadyError, naming the services still pending, once `seconds` have passed.
    """
    deadline = time.monotonic() + seconds
    while True:
        state = engine.snapshot(project, _networks(contract))
        pending = not_ready(contract, state)
        if not pending:
            return state
        if time.monotonic() >= deadline:
            raise NotReadyError(
                f"stack not ready after {seconds:g}s: {', '.join(pending)} not running and healthy "
                f"(project {project})"
            )
        time.sleep(0.5)


def connect(options: CheckOptions) -> LiveEngine:
    """The engine named by the environment (DOCKER_HOST), as docker and docker compose find it; for a swarm,
    its manager and nodes (--node). Imported here, not at the top: `--help` and `lint` never load them."""
    from netcontract.live.docker import engine as docker_engine

    if options.swarm:
        from netcontract.swarm.live import connect_swarm

        return connect_swarm(options.nodes, timeout=options.run.timing.api_timeout)
    return docker_engine.Engine.from_env(timeout=options.run.timing.api_timeout)


def check(
    contract_path: str | Path,
    options: CheckOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine_factory: Callable[[CheckOptions], LiveEngine] = connect,
) -> Report:
    """Check the live deployment against the contract at `contract_path` and return the report."""
    options = options or CheckOptions()
    started = time.monotonic()
    contract = load_contract(contract_path)
    project = resolve_project(contract, options.project)
    options = swarm_options(contract, options)
    engine = engine_factory(options)
    try:
        if options.wait > 0:
            state = wait_until_ready(engine, contract, project, options.wait)
        else:
            state = engine.snapshot(project, _networks(contract))
        return evaluate(
            contract, str(contract_path), project, engine, state, options, progress, started=started
        )
    finally:
        engine.close()


def evaluate(
    contract: Contract,
    contract_path: str,
    project: str,
    engine: LiveEngine,
    state: State,
    options: CheckOptions,
    progress: Callable[[int, int], None] | None = None,
    *,
    only: Collection[str] | None = None,
    started: float | None = None,
) -> Report:
    """The report for one snapshot: every structural rule, and the probes of the plan. With `only`
    (watch: the services an engine event touched), only the probes from and to those services run;
    the report then holds the structural results and those probes' results alone."""
    started = time.monotonic() if started is None else started
    results: list[Result] = structural_results(contract, state) + egress_results(contract, state)
    notes: list[str] = list(state.notes)
    if state.orchestrator == "swarm":
        results = unreadable_errors(results, state)
    if not any(state.network(t.network) for t in contract.tiers.values()) and not any(
        c.project == project for c in state.containers
    ):
        notes.append(f"nothing of project {project} exists on this engine: is the stack up?")
    if options.probes:
        plan = plan_probes(contract, state)
        if not options.swarm:
            plan = with_host_reach(contract, state, plan)
        prober = None
        helpers = None
        if options.swarm:
            from netcontract.swarm.live import NoNamespaces, SwarmEngine
            from netcontract.swarm.plan import swarm_plan

            plan, swarm_notes = swarm_plan(contract, state, plan)
            notes += swarm_notes
            prober = NoNamespaces()
            if isinstance(engine, SwarmEngine):
                helpers = engine.helpers  # one helper per node
        if only is not None:
            plan = narrow_plan(plan, only)
        runner = ProbeRunner(engine, options.run, prober, helpers)
        probed = runner.run(plan, contract, state, progress)
        if not options.swarm:
            probed, shared_notes = name_sharers(name_host_actors(probed, state), state)
            notes += shared_notes
        results += explain_vips(explain_unreadable(probed, state)) if options.swarm else probed
        notes += runner.notes
        notes += ipv6_filter_notes(results)
    else:
        notes.append(
            "probes skipped (--no-probes): reachability, isolation and DNS were not tested"
        )
    notes += gateway_mode_notes(contract, state)
    notes += dns_egress_notes(contract, state)
    notes += health_notes(contract, state)
    notes += podman_isolation_notes(contract, state, results)
    return Report(
        contract=contract_path,
        results=tuple(results),
        project=project,
        source="live",
        duration=time.monotonic() - started,
        notes=tuple(notes),
        engine=state.engine,
        host=host_identity(),
        startup=startup_times(state, contract.services),
        topology=contract.topology(),
    )


def name_host_actors(results: list[Result], state: State) -> list[Result]:
    """Probes from the host's namespace name every container in it: the reach is theirs alike."""
    names = tuple(c.name for c in host_actors(state))
    return [replace(r, containers=names) if r.kind is Kind.HOST_REACH else r for r in results]


def host_identity() -> str:
    """The machine that ran the check (where the netns executor measures round trips), and the engine's
    address when it is not a local socket: two reports from different ones are not compared.
    NETCONTRACT_HOST names it instead, for CI runners that are alike but named anew for every job."""
    where = os.environ.get("DOCKER_HOST", "")
    name = os.environ.get("NETCONTRACT_HOST") or platform.node()
    return name + (f" via {where}" if where and not where.startswith("unix://") else "")


def swarm_options(contract: Contract, options: CheckOptions) -> CheckOptions:
    """A swarm contract reads the swarm (--node, or the environment's engine as manager); --node without one,
    and the netns executor with one, are usage errors."""
    if contract.orchestrator != "swarm":
        if options.nodes:
            raise UsageError("--node is for Swarm stacks: the contract needs `orchestrator: swarm`")
        return options
    if options.probes and options.run.mode is ExecutorMode.NETNS:
        raise UsageError(
            "--executor netns cannot probe a swarm: tasks run on their nodes' engines, and netns "
            "enters only containers of an engine on this host; use exec, sidecar or auto"
        )
    return replace(options, swarm=True)

"""The orchestrator: load, snapshot, plan, probe, report. Prints nothing, exits nothing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from netcontract.actors import name_sharers
from netcontract.contract import Contract, load_contract
from netcontract.errors import NoProjectError, NotReadyError, UsageError
from netcontract.live.interface import LiveEngine
from netcontract.live.runner import ExecutorMode, ProbeRunner, RunOptions
from netcontract.probe.host_reach import host_actors, with_host_reach
from netcontract.probe.plan import plan_probes
from netcontract.results import Kind, Report, Result, Verdict
from netcontract.state import State
from netcontract.structural import egress_results, structural_results, unreadable_errors
from netcontract.swarm.nodes import NodeRef, explain_unreadable, explain_vips


@dataclass(frozen=True)
class CheckOptions:
    project: str | None = None
    probes: bool = True  # False: structural checks only
    run: RunOptions = field(default_factory=RunOptions)
    wait: float = 0.0  # seconds to wait for the stack to be running and healthy
    nodes: tuple[NodeRef, ...] = ()  # swarm: --node NAME=URL, the engines of the swarm's nodes
    swarm: bool = False  # the contract says `orchestrator: swarm` (set by check())


def resolve_project(contract: Contract, project: str | None) -> str:
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
        ok = cs and all(c.running and (not svc.healthy or c.health in (None, "healthy")) for c in cs)
        if not ok:
            out.append(name)
    return out


def wait_until_ready(engine: LiveEngine, contract: Contract, project: str, seconds: float) -> State:
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
    """The Docker engine named by the environment (DOCKER_HOST), as docker and docker compose find it."""
    from netcontract.live.docker import engine as docker_engine

    if options.swarm:
        from netcontract.swarm.live import connect_swarm

        return connect_swarm(options.nodes, timeout=options.run.timing.api_timeout)
    return docker_engine.Engine.from_env(timeout=options.run.timing.api_timeout)


def check(contract_path: str | Path, options: CheckOptions | None = None,
          progress: Callable[[int, int], None] | None = None,
          engine_factory: Callable[[CheckOptions], LiveEngine] = connect) -> Report:
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
        results: list[Result] = structural_results(contract, state) + egress_results(contract, state)
        notes: list[str] = list(state.notes)
        if state.orchestrator == "swarm":
            results = unreadable_errors(results, state)
        if not any(state.network(t.network) for t in contract.tiers.values()) and not any(
                c.project == project for c in state.containers):
            notes.append(f"nothing of project {project} exists on this engine: is the stack up?")
        if options.probes:
            plan = plan_probes(contract, state)
            if not options.swarm:
                plan = with_host_reach(contract, state, plan)
            prober = None
            if options.swarm:
                from netcontract.swarm.live import NoNamespaces
                from netcontract.swarm.plan import swarm_plan

                plan, swarm_notes = swarm_plan(contract, state, plan)
                notes += swarm_notes
                prober = NoNamespaces()
            runner = ProbeRunner(engine, options.run, prober)
            probed = runner.run(plan, contract, state, progress)
            if not options.swarm:
                probed, shared_notes = name_sharers(name_host_actors(probed, state), state)
                notes += shared_notes
            results += explain_vips(explain_unreadable(probed, state)) if options.swarm else probed
            notes += runner.notes
            notes += ipv6_filter_notes(results)
        else:
            notes.append("probes skipped (--no-probes): reachability, isolation and DNS were not tested")
        notes += gateway_mode_notes(contract, state)
        notes += dns_egress_notes(contract, state)
    finally:
        engine.close()
    return Report(
        contract=str(contract_path),
        results=tuple(results),
        project=project,
        source="live",
        duration=time.monotonic() - started,
        notes=tuple(notes),
        engine=state.engine,
    )


def name_host_actors(results: list[Result], state: State) -> list[Result]:
    """Probes from the host's namespace name every container in it: the reach is theirs alike."""
    names = tuple(c.name for c in host_actors(state))
    return [replace(r, containers=names) if r.kind is Kind.HOST_REACH else r for r in results]


def swarm_options(contract: Contract, options: CheckOptions) -> CheckOptions:
    """A swarm contract reads the swarm (--node, or the environment's engine as manager); --node without one,
    and the netns executor with one, are usage errors."""
    if contract.orchestrator != "swarm":
        if options.nodes:
            raise UsageError("--node is for Swarm stacks: the contract needs `orchestrator: swarm`")
        return options
    if options.probes and options.run.mode is ExecutorMode.NETNS:
        raise UsageError("--executor netns cannot probe a swarm: tasks run on their nodes' engines, and netns "
                         "enters only containers of an engine on this host; use exec, sidecar or auto")
    return replace(options, swarm=True)


def ipv6_filter_notes(results: list[Result]) -> list[str]:
    """What the probes found about the engine's IPv6 filtering between networks."""
    v6 = [r for r in results if r.kind is Kind.ISOLATION and r.id.endswith("/ipv6")]
    if not v6:
        return []
    open_ = [r for r in v6 if r.verdict is Verdict.FAIL]
    if open_:
        return [f"IPv6: {len(open_)} of {len(v6)} IPv6 paths the contract forbids connect; where IPv4 on the same "
                "path is dropped, the engine does not filter IPv6 between networks (ip6tables off)"]
    held = [r for r in v6 if r.verdict is Verdict.PASS]
    return [f"IPv6: {len(held)} of {len(v6)} forbidden IPv6 paths probed and blocked (the engine filters IPv6)"]


def dns_egress_notes(contract: Contract, state: State) -> list[str]:
    """On an engine older than the CVE-2024-29018 fix, say that DNS egress from internal-only services is a
    known way out, and how to probe it, when the contract does not already ask for it."""
    internal_only = [s for s, svc in contract.services.items()
                     if svc.tiers and all(contract.tiers[t].internal for t in svc.tiers if t in contract.tiers)]
    m = re.match(r"Docker (\d+)\.(\d+)\.(\d+)", state.engine)
    if not internal_only or contract.policy.dns_egress_names or not m:
        return []
    if tuple(int(x) for x in m.groups()) >= (26, 0, 0):
        return []
    return [f"DNS egress not probed: {state.engine.split(' (')[0]} predates Docker 26.0, where the fix for "
            f"CVE-2024-29018 landed (backported to 25.0.5 and 23.0.11 upstream; distribution builds may differ): "
            f"its DNS may forward external names asked by {_some(internal_only)} out of the internal networks. "
            "List a name your resolver answers in policy.dns_egress_names to probe it"]


def _some(names: list[str], shown: int = 5) -> str:
    """`a, b, c` or `a, b, c, d, e and 45 more`."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def gateway_mode_notes(contract: Contract, state: State) -> list[str]:
    """Bridge gateway modes other than the default (Docker 27+: routed, nat-unprotected, isolated): a routed
    or nat-unprotected network is reachable from other networks, which its isolation probes then show."""
    out = []
    for key, tier in contract.tiers.items():
        net = state.network(tier.network)
        for name, value in net.options if net else ():
            if "gateway_mode" in name and value not in ("", "nat"):
                out.append(f"{tier.network} (tier {key}): {name}={value}")
    return out

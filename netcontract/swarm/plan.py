"""Swarm DNS and virtual IPs on top of the plan of `probe.plan`. Pure.

Swarm's embedded DNS (docs/swarm.md, measured on the test bed):
- `tasks.<service>` resolves to the addresses of the service's tasks on the network the querier shares
  with it, in either endpoint mode: one RESOLVE expectation per source and service sharing a tier (the
  source's own service included), and a NO_RESOLVE for pairs in policy.isolate.
- The service name and its aliases resolve to the task addresses in `dnsrr` mode (what `probe.plan`
  already expects), and to the service's virtual IP on that network in `vip` mode: those expectations are
  rewritten to the VIP.
- Replicas of one service are spread over the nodes and share its tiers, so each task must reach its
  sibling tasks on every tier (the declared ports, ICMP where none): the cross-node path of each overlay
  (`reach:web[nctest_web.1]->web:8080@edge`). A single host has no such path to test.
- A VIP answers TCP on the service's ports, not ICMP: each allowed pair gets a TCP connect to the VIP on
  every declared port (`reach:...@tier/vip`); a service with no declared port has its VIP not probed, and
  a note says so.
"""

from __future__ import annotations

from dataclasses import replace

from netcontract.contract import Contract
from netcontract.probe.observation import ProbeKind
from netcontract.probe.plan import Expect, Expectation, ProbePlan, SourcePlan
from netcontract.results import Kind, pair, result_id
from netcontract.state import Container, State


def _running(state: State, service: str) -> list[Container]:
    return [c for c in state.service_containers(service) if c.running]


def _task_ips(containers: list[Container], network: str) -> frozenset[str]:
    return frozenset(
        a for c in containers for ep in (c.endpoint(network),) if ep for a in ep.addresses
    )


def swarm_plan(contract: Contract, state: State, plan: ProbePlan) -> tuple[ProbePlan, list[str]]:
    """The plan with Swarm's names and VIPs; and the notes the report needs about them."""
    vip = {(svc, net): addr for svc, net, addr in state.vips}
    isolate = set(contract.isolated_pairs())
    running = {name: _running(state, name) for name in contract.services}
    sources = []
    for sp in plan.sources:
        label = sp.expectations[0].label if sp.expectations else sp.service
        exps = [_vip_name(e, contract, sp, vip) for e in sp.expectations]
        exps += _tasks_names(contract, sp, label, running, isolate)
        exps += _vip_reach(contract, sp, label, vip)
        exps += _siblings(contract, sp, label, running)
        sources.append(replace(sp, expectations=tuple(exps)))
    notes = []
    vip_services = sorted({s for s, _ in vip})
    if vip_services:
        unprobed = [
            s for s in vip_services if s in contract.services and not contract.services[s].ports
        ]
        notes.append(
            f"swarm: vip mode: {', '.join(vip_services)}; their names are expected to resolve to their "
            "virtual IPs, which are probed with TCP on the declared ports (a VIP answers no ICMP); a VIP "
            "that times out while the task addresses connect points at the nodes' load balancing "
            "(IPVS)"
        )
        if unprobed:
            notes.append(
                f"swarm: the virtual IPs of {', '.join(unprobed)} were not probed: no declared port"
            )
    return ProbePlan(tuple(sources), plan.settled), notes


def _shared_networks(contract: Contract, src: str, dst: str) -> list[tuple[str, str]]:
    """(tier, network) that the contract gives both services (for src == dst: all of its tiers)."""
    theirs = contract.services[dst].tiers
    return [(t, contract.tiers[t].network) for t in contract.services[src].tiers if t in theirs]


def _tasks_names(
    contract: Contract,
    sp: SourcePlan,
    label: str,
    running: dict[str, list[Container]],
    isolate: set[tuple[str, str]],
) -> list[Expectation]:
    out = []
    src = sp.service
    for dst in contract.services:
        name = f"tasks.{dst}"
        rid = result_id(Kind.DNS, pair(label, name))
        shared = _shared_networks(contract, src, dst)
        if shared and running[dst]:
            groups = tuple(g for g in (_task_ips(running[dst], net) for _, net in shared) if g)
            where = ", ".join(net for _, net in shared)
            shown = " or ".join(", ".join(sorted(g)) for g in groups) or "(no address)"
            out.append(
                Expectation(
                    rid,
                    Kind.DNS,
                    src,
                    dst,
                    shared[0][0],
                    ProbeKind.DNS,
                    (name,),
                    None,
                    Expect.RESOLVE,
                    f"resolves to {shown} ({dst}'s tasks on {where})",
                    frozenset(a for g in groups for a in g),
                    groups=groups,
                    label=label,
                )
            )
        elif (src, dst) in isolate:
            out.append(
                Expectation(
                    rid,
                    Kind.DNS,
                    src,
                    dst,
                    contract.services[dst].tiers[0],
                    ProbeKind.DNS,
                    (name,),
                    None,
                    Expect.NO_RESOLVE,
                    "does not resolve",
                    context=f"policy.isolate: {src} -> {dst}",
                    label=label,
                )
            )
    return out


def _vip_name(
    e: Expectation, contract: Contract, sp: SourcePlan, vip: dict[tuple[str, str], str]
) -> Expectation:
    """In vip mode the service name and its aliases resolve to the VIP on the shared network, not the tasks."""
    if e.kind is not Kind.DNS or e.expect is not Expect.RESOLVE or e.dst not in contract.services:
        return e
    if not any(s == e.dst for s, _ in vip) or e.targets[0].startswith("tasks."):
        return e
    nets = (
        [ep.network for ep in sp.container.endpoints]
        if e.dst == sp.service
        else [net for _, net in _shared_networks(contract, sp.service, e.dst)]
    )
    groups = tuple(frozenset({vip[(e.dst, n)]}) for n in nets if (e.dst, n) in vip)
    if not groups:
        return e
    shown = " or ".join(next(iter(g)) for g in groups)
    return replace(
        e,
        addresses=frozenset(a for g in groups for a in g),
        groups=groups,
        expected=f"resolves to {shown} ({e.dst}'s virtual IP)",
    )


def _vip_reach(
    contract: Contract, sp: SourcePlan, label: str, vip: dict[tuple[str, str], str]
) -> list[Expectation]:
    out = []
    src = sp.service
    for dst, svc in contract.services.items():
        if dst == src or not svc.ports:
            continue
        for tier, net in _shared_networks(contract, src, dst):
            address = vip.get((dst, net))
            if address is None:
                continue
            for port in svc.ports:
                out.append(
                    Expectation(
                        result_id(Kind.REACH, pair(label, dst), item=str(port), tier=f"{tier}/vip"),
                        Kind.REACH,
                        src,
                        dst,
                        tier,
                        ProbeKind.TCP,
                        (address,),
                        port,
                        Expect.CONNECT,
                        f"connects to {dst}'s virtual IP {address} port {port} on {net}",
                        label=label,
                    )
                )
    return out


def _siblings(
    contract: Contract, sp: SourcePlan, label: str, running: dict[str, list[Container]]
) -> list[Expectation]:
    """The other tasks of the source's own service, on each of its tiers: they must connect."""
    src = sp.service
    others = [c for c in running[src] if c.id != sp.container.id]
    out = []
    for tier in contract.services[src].tiers:
        net = contract.tiers[tier].network
        ips = tuple(
            sorted(
                a for c in others for ep in (c.endpoint(net),) if ep and ep.ipv4 for a in (ep.ipv4,)
            )
        )
        if not ips:
            continue
        for port in contract.services[src].ports or (None,):
            what = f"port {port}" if port else "address (ICMP: no declared port)"
            out.append(
                Expectation(
                    result_id(
                        Kind.REACH, pair(label, src), item=str(port) if port else "icmp", tier=tier
                    ),
                    Kind.REACH,
                    src,
                    src,
                    tier,
                    ProbeKind.TCP if port else ProbeKind.ICMP,
                    ips,
                    port,
                    Expect.CONNECT,
                    f"connects to its sibling tasks' {what} on {net}",
                    label=label,
                )
            )
    return out

"""Probes from the host's namespace: what a container on the host's network reaches on internal tiers. Pure.

Every container on the host's network (network_mode host) is in one namespace, the host's, so one
of them is the probe source for all: its namespace is entered (netns), or its tools run (exec), or
a sidecar joins it. The targets are the running members of each internal tier, on their declared
ports (ICMP echo when a member declares none). `internal: true` stops forwarding off the network,
not the host: an answer is what the report shows (`host-reach:<service>:<port>@<tier>`), a pass
under `policy.host_network: report`, a failure under `deny` unless every such container is a
service the contract declares on the host's network.
"""

from __future__ import annotations

from dataclasses import replace

from netcontract.addresses import family_of
from netcontract.contract import Contract
from netcontract.probe.observation import ProbeKind
from netcontract.probe.plan import Expect, Expectation, ProbePlan, SourcePlan
from netcontract.results import Kind, result_id
from netcontract.state import Container, State


def host_actors(state: State) -> list[Container]:
    """Running containers in the host's namespace, sorted by name."""
    return sorted(
        (c for c in state.containers if c.running and state.namespace_root(c).host_network),
        key=lambda c: c.name,
    )


def _declared(contract: Contract, state: State, c: Container) -> bool:
    svc = contract.services.get(c.service or "")
    return svc is not None and svc.network_mode == "host" and c.project == state.project


def with_host_reach(contract: Contract, state: State, plan: ProbePlan) -> ProbePlan:
    """The plan, plus one source in the host's namespace when any container is on the host's network."""
    actors = host_actors(state)
    internal = [k for k, t in contract.tiers.items() if t.internal]
    if not actors or not internal:
        return plan
    source = next((c for c in actors if c.network_mode == "host"), actors[0])
    deny = contract.policy.host_network == "deny" and not all(
        _declared(contract, state, c) for c in actors
    )
    names = ", ".join(c.name for c in actors)
    context = f"from the host's namespace, that of {names}"
    rule = (
        "policy.host_network: deny"
        if deny
        else "policy.host_network: report (internal stops forwarding, not the host; `deny` makes an answer a failure)"
    )
    exps: list[Expectation] = []
    for tier in internal:
        network = contract.tiers[tier].network
        for name in contract.members(tier):
            targets = sorted(
                (c for c in state.service_containers(name) if c.running), key=lambda c: c.name
            )
            for family in (4, 6):
                ips = tuple(
                    a
                    for c in targets
                    for ep in (c.endpoint(network),)
                    if ep
                    for a in ep.addresses
                    if family_of(a) == family
                )
                if not ips:
                    continue
                for port in contract.services[name].ports or (None,):
                    what = str(port) if port else "icmp"
                    via = (
                        f"{name}'s {'port ' + str(port) if port else 'address (ICMP)'} on {network}"
                    )
                    exps.append(
                        Expectation(
                            result_id(
                                Kind.HOST_REACH,
                                name,
                                item=what,
                                tier=tier + ("/ipv6" if family == 6 else ""),
                            ),
                            Kind.HOST_REACH,
                            "(host)",
                            name,
                            tier,
                            ProbeKind.TCP if port else ProbeKind.ICMP,
                            ips,
                            port,
                            Expect.BLOCKED,
                            (
                                "blocked (policy.host_network: deny)"
                                if deny
                                else "reported: does the host's namespace reach it?"
                            )
                            + f" ({via})",
                            context=f"{context} [{rule}]",
                            family=family,
                            report_only=not deny,
                            label="(host)",
                        )
                    )
    if not exps:
        return plan
    return replace(plan, sources=(*plan.sources, SourcePlan("(host)", source, tuple(exps))))

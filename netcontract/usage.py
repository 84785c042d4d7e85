"""Used against allowed: observed flows judged by a contract. Pure.

A flow between two services is allowed where the contract puts both on a common tier (Docker lets
them talk there, and `check` requires it) and `policy.isolate` does not name the pair; any other
flow between the stack's containers is forbidden, and so is egress from a service whose tiers are
all internal. The opposite view lists what the contract allows that nobody used in the window:
service pairs sharing a tier that never talked, declared ports nobody connected to, memberships of
a tier the service sent and received nothing on. Those are candidates to tighten, never verdicts:
the window decides what was used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netcontract.contract import Contract
from netcontract.flows import CONTAINER, HOST, OUTSIDE, SERVICE, Flow


@dataclass(frozen=True)
class Forbidden:
    """A flow the contract forbids, and why (the flow itself is the evidence)."""

    flow: Flow
    reason: str


@dataclass(frozen=True)
class Unused:
    """Something the contract allows that no flow in the window used."""

    kind: str  # "pair", "port", "membership"
    subject: str  # "frontend -> backend", "db:5432", "backend@data_tier"
    reason: str


@dataclass(frozen=True)
class Usage:
    """Forbidden flows and unused allowances; `violated` decides the exit code (1, as check)."""

    forbidden: tuple[Forbidden, ...]
    unused: tuple[Unused, ...]
    undeclared: tuple[
        str, ...
    ] = ()  # "db:5433/tcp": served ports the contract's `ports:` do not list

    @property
    def violated(self) -> bool:
        """Whether a flow the contract forbids was seen."""
        return bool(self.forbidden)


def _judge(c: Contract, f: Flow) -> str | None:
    """Why the contract forbids `f`, or None when it allows it (or says nothing about it: the host)."""
    client, server = f.client, f.server
    if client.kind == HOST or server.kind == HOST:
        return None  # the host is not a contract actor; tier.host and host_ports are check's
    if client.kind == OUTSIDE:
        return None if server.kind == SERVICE else f"{server.name} is not a service of the contract"
    if f.egress:
        if client.kind != SERVICE or client.name not in c.services:
            return f"{client.name} is not a service of the contract and reached outside the stack"
        tiers = c.services[client.name].tiers
        if tiers and all(c.tiers[t].internal for t in tiers if t in c.tiers):
            return f"{client.name}'s tiers are all internal: it must not reach outside the stack"
        return None
    for end in (client, server):
        if end.kind == CONTAINER:
            return f"{end.name} is a container outside the project on a tier"
        if end.name not in c.services:
            return f"{end.name} is not a service of the contract"
    if (client.name, server.name) in set(c.isolated_pairs()):
        return f"policy.isolate names {client.name} -> {server.name}"
    shared = set(c.services[client.name].tiers) & set(c.services[server.name].tiers)
    if not shared:
        return f"{client.name} and {server.name} share no tier in the contract"
    return None


def compare(c: Contract, flows: Iterable[Flow]) -> Usage:
    """The contract's view of the observed flows: what it forbids, and what it allows that was not used. Only
    flows with evidence of use in the window are judged (`Flow.evidence`): an entry that merely lingers from
    before it, such as an earlier check's probe, is neither a forbidden flow nor a use."""
    flows = [f for f in flows if f.evidence]
    forbidden = tuple(Forbidden(f, why) for f in flows if (why := _judge(c, f)) is not None)
    talked = {
        (f.client.name, f.server.name)
        for f in flows
        if f.client.kind == SERVICE and f.server.kind == SERVICE
    }
    unused: list[Unused] = []
    names = list(c.services)
    for a in names:
        for b in names:
            if a == b:
                continue
            shared = [t for t in c.services[a].tiers if t in c.services[b].tiers]
            if shared and (a, b) not in talked:
                unused.append(
                    Unused(
                        "pair",
                        f"{a} -> {b}",
                        f"share {', '.join(shared)} but {a} never connected to {b}",
                    )
                )
    served = {
        (f.server.name, f.port) for f in flows if f.server.kind == SERVICE and f.proto == "tcp"
    }
    for name, svc in c.services.items():
        for p in svc.ports:
            if (name, p) not in served:
                unused.append(
                    Unused("port", f"{name}:{p}", "declared, but no connection to it was seen")
                )
    active = {(f.client.name, f.network) for f in flows} | {
        (f.server.name, f.network) for f in flows
    }
    for name, svc in c.services.items():
        for t in svc.tiers:
            tier = c.tiers.get(t)
            if tier is not None and (name, tier.network) not in active and len(svc.tiers) > 1:
                unused.append(
                    Unused(
                        "membership", f"{name}@{t}", f"no flow to or from {name} on {t} was seen"
                    )
                )
    declared = {n: set(s.ports) for n, s in c.services.items()}
    undeclared = sorted(
        {
            f"{f.server.name}:{f.port_text}"
            for f in flows
            if f.server.kind == SERVICE
            and f.server.name in declared
            and f.proto == "tcp"
            and f.replied
            and f.port not in declared[f.server.name]
        }
    )
    return Usage(forbidden, tuple(unused), tuple(undeclared))

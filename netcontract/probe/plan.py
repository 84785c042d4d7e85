"""Probe planning: (Contract, State) -> what each source container must observe. Pure.

Expectations come from the contract; addresses come from the snapshot. So a
frontend that someone connected to data_tier is still expected to be blocked
from db there, and the probe shows it is not.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from netcontract.contract import Contract
from netcontract.probe.observation import ProbeKind
from netcontract.results import Kind, Result, Verdict, pair, result_id
from netcontract.state import Container, State


class Expect(enum.StrEnum):
    RESOLVE = "resolve"  # the name resolves to exactly the target's addresses
    NO_RESOLVE = "no-resolve"  # the name does not resolve from the source
    CONNECT = "connect"  # a TCP connect (or ping) succeeds
    BLOCKED = "blocked"  # it is dropped or has no route; `refused` means reachable


@dataclass(frozen=True)
class Expectation:
    id: str
    kind: Kind  # DNS, REACH, ISOLATION or EGRESS
    src: str
    dst: str
    tier: str
    probe_kind: ProbeKind
    targets: tuple[str, ...]  # addresses (one per target container) or one DNS name
    port: int | None
    expect: Expect
    expected: str  # human text for the report
    addresses: frozenset[str] = frozenset()  # for RESOLVE: every acceptable answer
    context: str = ""  # why this expectation exists (contract rule), used in reasons
    control: bool = False  # the source's own name: proves its resolver answers


@dataclass(frozen=True)
class SourcePlan:
    service: str
    container: Container
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class ProbePlan:
    sources: tuple[SourcePlan, ...]
    settled: tuple[Result, ...] = field(default=())  # decided without a probe (e.g. no address to probe)


def _running(state: State, service: str) -> list[Container]:
    return sorted((c for c in state.service_containers(service) if c.running), key=lambda c: c.name)


def _ips(containers: list[Container], network: str) -> tuple[str, ...]:
    out = []
    for c in containers:
        ep = c.endpoint(network)
        if ep and ep.ipv4:
            out.append(ep.ipv4)
    return tuple(out)


def plan_probes(contract: Contract, state: State) -> ProbePlan:
    sources: list[SourcePlan] = []
    settled: list[Result] = []
    isolate = set(contract.isolated_pairs())
    running = {name: _running(state, name) for name in contract.services}
    for src, src_svc in contract.services.items():
        if not running[src]:
            settled.append(Result(result_id(Kind.PROBES, src), Kind.PROBES, src, Verdict.SKIP, "probes from " + src,
                                  "no running container", f"see running:{src}", src=src, service=src))
            continue
        source = running[src][0]
        exps: list[Expectation] = []
        settled_here: list[Result] = []
        # control: the source resolves its own service name on its own networks
        own = frozenset(ip for n in source.networks for ip in _ips([source], n))
        if own:
            exps.append(Expectation(result_id(Kind.DNS, pair(src, src)), Kind.DNS, src, src, "", ProbeKind.DNS, (src,), None,
                                    Expect.RESOLVE, f"resolves to {_fmt(own)} ({src} itself)", own, control=True))
        for dst, dst_svc in contract.services.items():
            if dst == src:
                continue
            targets = running[dst]
            shared = [t for t in src_svc.tiers if t in dst_svc.tiers]
            exps += _dns(contract, src, dst, shared, targets, (src, dst) in isolate)
            rule = f"policy.isolate: {src} -> {dst}" if (src, dst) in isolate else ""
            for tier_key, tier in contract.tiers.items():
                network = tier.network
                declared_shared = tier_key in shared
                ips = _ips(targets, network)
                if not ips:
                    if declared_shared and targets:
                        for port in dst_svc.ports or (None,):
                            settled_here.append(_no_address(src, dst, tier_key, network, port))
                    continue
                ports: tuple[int | None, ...] = tuple(dst_svc.ports) or (None,)
                for port in ports:
                    exps.append(_reach(src, dst, tier_key, network, ips, port, declared_shared, rule))
        for canary in contract.policy.egress_canaries if _all_internal(contract, src) else ():
            kind = ProbeKind.TCP if canary.port else ProbeKind.ICMP
            what = f"{canary.host}:{canary.port}" if canary.port else canary.host
            exps.append(Expectation(result_id(Kind.EGRESS, pair(src, what)), Kind.EGRESS, src, canary.host, "", kind, (canary.host,),
                                    canary.port, Expect.BLOCKED, "blocked (every tier of the service is internal)",
                                    context="policy.egress_canaries"))
        sources.append(SourcePlan(src, source, tuple(exps)))
        settled += settled_here
    return ProbePlan(tuple(sources), tuple(settled))


def _all_internal(contract: Contract, service: str) -> bool:
    return all(contract.tiers[t].internal for t in contract.services[service].tiers)


def _fmt(addrs: frozenset[str] | tuple[str, ...]) -> str:
    return ", ".join(sorted(addrs))


def _dns(contract: Contract, src: str, dst: str, shared: list[str], targets: list[Container],
         isolated: bool) -> list[Expectation]:
    """What `src` must resolve of `dst`, and what it must not.

    The service name is an alias on every network of the target; declared
    aliases only on their tier. Every alias is checked both ways. The service
    name is checked negatively only for pairs in policy.isolate: for the other
    pairs without a shared tier, the isolation probes and the membership check
    already prove the separation, and those lookups were a third of all probes
    on a 48-container stack.
    """
    out = []
    names: dict[str, list[str]] = {dst: shared} if shared or isolated else {}
    for tier, aliases in contract.services[dst].aliases.items():
        for alias in aliases:
            names.setdefault(alias, [])
            if tier in shared:
                names[alias].append(tier)
    src_tiers = contract.services[src].tiers
    for name, tiers in names.items():
        rid = result_id(Kind.DNS, pair(src, name))
        if tiers:
            addrs = frozenset(ip for t in tiers for ip in _ips(targets, contract.tiers[t].network))
            if not targets:
                continue  # the target is not running: running:<dst> fails already
            where = ", ".join(contract.tiers[t].network for t in tiers)
            out.append(Expectation(rid, Kind.DNS, src, dst, tiers[0], ProbeKind.DNS, (name,), None, Expect.RESOLVE,
                                   f"resolves to {_fmt(addrs) or '(no address)'} ({dst} on {where})", addrs))
        else:
            owner_tiers = [t for t, a in contract.services[dst].aliases.items() if name in a] or list(
                contract.services[dst].tiers)
            why = (f"{src} is on {', '.join(src_tiers)}; {name} exists only on {', '.join(owner_tiers)}")
            out.append(Expectation(rid, Kind.DNS, src, dst, owner_tiers[0], ProbeKind.DNS, (name,), None,
                                   Expect.NO_RESOLVE, "does not resolve (NXDOMAIN)", context=why))
    return out


def _reach(src: str, dst: str, tier: str, network: str, ips: tuple[str, ...], port: int | None,
           allowed: bool, rule: str) -> Expectation:
    what = str(port) if port else "icmp"
    kind = ProbeKind.TCP if port else ProbeKind.ICMP
    via = f"{dst}'s {'port ' + str(port) if port else 'address (ICMP: no declared port)'} on {network}"
    if allowed:
        return Expectation(result_id(Kind.REACH, pair(src, dst), item=what, tier=tier), Kind.REACH, src, dst, tier,
                           kind, ips, port,
                           Expect.CONNECT, f"connects to {via}")
    context = rule or f"the contract does not put both {src} and {dst} on {tier}"
    return Expectation(result_id(Kind.ISOLATION, pair(src, dst), item=what, tier=tier), Kind.ISOLATION, src, dst,
                       tier, kind, ips, port,
                       Expect.BLOCKED, f"blocked from {via}", context=context)


def _no_address(src: str, dst: str, tier: str, network: str, port: int | None) -> Result:
    what = str(port) if port else "icmp"
    return Result(result_id(Kind.REACH, pair(src, dst), item=what, tier=tier), Kind.REACH, pair(src, dst), Verdict.FAIL,
                  f"connects to {dst} on {network}", f"{dst} has no address on {network}",
                  f"{dst} is not attached to {network}, so {src} cannot reach it over tier {tier}",
                  src=src, dst=dst, tier=tier)

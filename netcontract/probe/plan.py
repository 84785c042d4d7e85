"""Probe planning: (Contract, State) -> what each source container must observe. Pure.

Expectations come from the contract; addresses come from the snapshot. So a
frontend that someone connected to data_tier is still expected to be blocked
from db there, and the probe shows it is not.

Every running container of a service is a source (a replica joined to a
forbidden tier by hand leaks from itself, not from its siblings), and every
address family a target has on a tier is probed: IPv4 and IPv6 are filtered by
different rules (ip6tables), so a path blocked over one can be open over the
other. Result ids name the container when a service has several, and carry
`/ipv6` for IPv6 paths (IPv4 ids stay as they were).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field, replace

from netcontract.addresses import family_of
from netcontract.contract import Contract
from netcontract.probe.observation import ProbeKind
from netcontract.results import Kind, Result, Verdict, pair, result_id
from netcontract.state import Container, State


class Expect(enum.StrEnum):
    """What an expectation requires of its probe's outcome."""

    RESOLVE = "resolve"  # the name resolves to exactly the target's addresses
    NO_RESOLVE = "no-resolve"  # the name does not resolve from the source
    CONNECT = "connect"  # a TCP connect (or ping) succeeds
    BLOCKED = "blocked"  # it is dropped or has no route; `refused` means reachable
    NO_FORWARD = "no-forward"  # Docker's DNS must not hand an external name to an upstream resolver


@dataclass(frozen=True)
class Expectation:
    """One thing the contract says a source must observe (resolve, connect, be blocked), and the probe that tests it."""

    id: str
    kind: Kind  # DNS, REACH, ISOLATION, EGRESS or HOST
    src: str
    dst: str
    tier: str
    probe_kind: ProbeKind
    targets: tuple[str, ...]  # addresses (one per target container) or one DNS name
    port: int | None
    expect: Expect
    expected: str  # human text for the report
    addresses: frozenset[str] = frozenset()  # for RESOLVE: every acceptable answer
    # RESOLVE: Docker's DNS answers a name from ONE network it shares with the source, with every
    # container holding the name there: the answer must equal one of these sets (per family)
    groups: tuple[frozenset[str], ...] = ()
    context: str = ""  # why this expectation exists (contract rule), used in reasons
    control: bool = False  # the source's own name: proves its resolver answers
    family: int = 4  # 4 or 6: the address family of `targets` (DNS: 4)
    qtypes: tuple[str, ...] = ("A",)  # DNS: the record types asked ("A", "AAAA")
    report_only: bool = False  # HOST with `host: report`: an answer is shown, not failed
    label: str = ""  # the source as ids and subjects name it: the service, or service[container] for replicas


@dataclass(frozen=True)
class SourcePlan:
    """The expectations one running container of a service probes from it."""

    service: str
    container: Container
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class ProbePlan:
    """Every source's expectations, and the results already decided without a probe."""

    sources: tuple[SourcePlan, ...]
    settled: tuple[Result, ...] = field(
        default=()
    )  # decided without a probe (e.g. no address to probe)


def _running(state: State, service: str) -> list[Container]:
    return sorted((c for c in state.service_containers(service) if c.running), key=lambda c: c.name)


def _ips(containers: list[Container], network: str, family: int | None = 4) -> tuple[str, ...]:
    """The addresses of `containers` on `network`, of one family (None: both)."""
    out = []
    for c in containers:
        ep = c.endpoint(network)
        if ep is None:
            continue
        for address in ep.addresses:
            if family is None or family_of(address) == family:
                out.append(address)
    return tuple(out)


def _families(containers: list[Container], network: str) -> list[int]:
    return sorted({family_of(a) for a in _ips(containers, network, None)})


def plan_probes(contract: Contract, state: State) -> ProbePlan:
    """The probe plan for `contract` on `state`: per running container of every service, its control
    (its own name), DNS and path expectations towards every other service on every tier network, and
    for all-internal services the egress and host expectations.

    A service without a running container gets a SKIP `probes` result instead; a declared path to a
    target with no address on that network is settled without a probe.
    """
    sources: list[SourcePlan] = []
    settled: list[Result] = []
    # a service without endpoints of its own is no source and no target: a namespace sharer is its owner's
    # namespace (the owner's results name it: actors.name_sharers), the host's is probed by probe/host_reach.py
    running = {
        name: _running(state, name) for name, svc in contract.services.items() if svc.endpoints
    }
    for src in running:
        if not running[src]:
            settled.append(
                Result(
                    result_id(Kind.PROBES, src),
                    Kind.PROBES,
                    src,
                    Verdict.SKIP,
                    "probes from " + src,
                    "no running container",
                    f"see running:{src}",
                    src=src,
                    service=src,
                )
            )
            continue
        several = len(running[src]) > 1
        for source in running[src]:
            label = f"{src}[{source.name}]" if several else src
            exps, settled_here = _source_expectations(contract, state, running, src, source, label)
            sources.append(SourcePlan(src, source, tuple(exps)))
            settled += settled_here
    return ProbePlan(tuple(sources), tuple(settled))


def _source_expectations(
    contract: Contract,
    state: State,
    running: dict[str, list[Container]],
    src: str,
    source: Container,
    label: str,
) -> tuple[list[Expectation], list[Result]]:
    src_svc = contract.services[src]
    isolate = set(contract.isolated_pairs())
    v6 = any(ep.ipv6 for ep in source.endpoints)
    qtypes = ("A", "AAAA") if v6 else ("A",)
    exps: list[Expectation] = []
    settled: list[Result] = []
    # control: the source resolves its own service name on its own networks (every replica it can see)
    groups = tuple(frozenset(_ips(running[src], n, None)) for n in source.networks)
    own = frozenset(ip for g in groups for ip in g)
    if any(ep.addresses for ep in source.endpoints):
        exps.append(
            Expectation(
                result_id(Kind.DNS, pair(label, src)),
                Kind.DNS,
                src,
                src,
                "",
                ProbeKind.DNS,
                (src,),
                None,
                Expect.RESOLVE,
                f"resolves to {_one_of(groups)} ({src} itself)",
                own,
                control=True,
                qtypes=qtypes,
                groups=groups,
                label=label,
            )
        )
    for dst, dst_svc in contract.services.items():
        if dst == src or dst not in running:
            continue
        targets = running[dst]
        shared = [t for t in src_svc.tiers if t in dst_svc.tiers]
        exps += _dns(contract, label, src, dst, shared, targets, (src, dst) in isolate, qtypes)
        rule = f"policy.isolate: {src} -> {dst}" if (src, dst) in isolate else ""
        for tier_key, tier in contract.tiers.items():
            network = tier.network
            declared_shared = tier_key in shared
            families = _families(targets, network)
            if not families:
                if declared_shared and targets:
                    for port in dst_svc.ports or (None,):
                        settled.append(_no_address(label, src, dst, tier_key, network, port))
                continue
            ports: tuple[int | None, ...] = tuple(dst_svc.ports) or (None,)
            for family in families:
                ips = _ips(targets, network, family)
                for port in ports:
                    exps.append(
                        _reach(
                            label,
                            src,
                            dst,
                            tier_key,
                            network,
                            ips,
                            port,
                            declared_shared,
                            rule,
                            family,
                        )
                    )
    if _all_internal(contract, src):
        for canary in contract.policy.egress_canaries:
            kind = ProbeKind.TCP if canary.port else ProbeKind.ICMP
            what = f"{canary.host}:{canary.port}" if canary.port else canary.host
            exps.append(
                Expectation(
                    result_id(Kind.EGRESS, pair(label, what)),
                    Kind.EGRESS,
                    src,
                    canary.host,
                    "",
                    kind,
                    (canary.host,),
                    canary.port,
                    Expect.BLOCKED,
                    "blocked (every tier of the service is internal)",
                    context="policy.egress_canaries",
                    label=label,
                )
            )
        for name in contract.policy.dns_egress_names:
            exps.append(
                Expectation(
                    result_id(Kind.EGRESS, pair(label, name), item="dns"),
                    Kind.EGRESS,
                    src,
                    name,
                    "",
                    ProbeKind.DNS,
                    (name,),
                    None,
                    Expect.NO_FORWARD,
                    "not resolved: Docker's DNS does not forward it (SERVFAIL)",
                    context="policy.dns_egress_names",
                    label=label,
                )
            )
        exps += _host(contract, state, label, src, source)
    return exps, settled


def _all_internal(contract: Contract, service: str) -> bool:
    return all(contract.tiers[t].internal for t in contract.services[service].tiers)


def _fmt(addrs: frozenset[str] | tuple[str, ...]) -> str:
    return ", ".join(sorted(addrs))


def _one_of(groups: tuple[frozenset[str], ...]) -> str:
    """`a, b` for one network, `a or b` when Docker may answer from either of two networks."""
    return " or ".join(dict.fromkeys(_fmt(g) for g in groups if g))


def _dns(
    contract: Contract,
    label: str,
    src: str,
    dst: str,
    shared: list[str],
    targets: list[Container],
    isolated: bool,
    qtypes: tuple[str, ...],
) -> list[Expectation]:
    """What `src` must resolve of `dst`, and what it must not.

    The service name is an alias on every network of the target; declared
    aliases only on their tier. Every alias is checked both ways. The service
    name is checked negatively only for pairs in policy.isolate: for the other
    pairs without a shared tier, the isolation probes and the membership check
    already prove the separation, and those lookups were a third of all probes
    on a 48-container stack. A name resolves to exactly the target's addresses
    on those tiers, IPv4 (A) and, where the source has IPv6, IPv6 (AAAA).
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
        rid = result_id(Kind.DNS, pair(label, name))
        if tiers:
            groups = tuple(
                g
                for g in (frozenset(_ips(targets, contract.tiers[t].network, None)) for t in tiers)
                if g
            )
            addrs = frozenset(ip for g in groups for ip in g)
            if not targets:
                continue  # the target is not running: running:<dst> fails already
            where = ", ".join(contract.tiers[t].network for t in tiers)
            out.append(
                Expectation(
                    rid,
                    Kind.DNS,
                    src,
                    dst,
                    tiers[0],
                    ProbeKind.DNS,
                    (name,),
                    None,
                    Expect.RESOLVE,
                    f"resolves to {_one_of(groups) or '(no address)'} ({dst} on {where})",
                    addrs,
                    qtypes=qtypes,
                    groups=groups,
                    label=label,
                )
            )
        else:
            owner_tiers = [
                t for t, a in contract.services[dst].aliases.items() if name in a
            ] or list(contract.services[dst].tiers)
            why = f"{src} is on {', '.join(src_tiers)}; {name} exists only on {', '.join(owner_tiers)}"
            out.append(
                Expectation(
                    rid,
                    Kind.DNS,
                    src,
                    dst,
                    owner_tiers[0],
                    ProbeKind.DNS,
                    (name,),
                    None,
                    Expect.NO_RESOLVE,
                    "does not resolve (NXDOMAIN)",
                    context=why,
                    qtypes=qtypes,
                    label=label,
                )
            )
    return out


def _reach(
    label: str,
    src: str,
    dst: str,
    tier: str,
    network: str,
    ips: tuple[str, ...],
    port: int | None,
    allowed: bool,
    rule: str,
    family: int = 4,
) -> Expectation:
    what = str(port) if port else "icmp"
    kind = ProbeKind.TCP if port else ProbeKind.ICMP
    fam = "/ipv6" if family == 6 else ""
    over = " over IPv6" if family == 6 else ""
    via = f"{dst}'s {'port ' + str(port) if port else 'address (ICMP: no declared port)'} on {network}{over}"
    if allowed:
        return Expectation(
            result_id(Kind.REACH, pair(label, dst), item=what, tier=tier + fam),
            Kind.REACH,
            src,
            dst,
            tier,
            kind,
            ips,
            port,
            Expect.CONNECT,
            f"connects to {via}",
            family=family,
            label=label,
        )
    context = rule or f"the contract does not put both {src} and {dst} on {tier}"
    return Expectation(
        result_id(Kind.ISOLATION, pair(label, dst), item=what, tier=tier + fam),
        Kind.ISOLATION,
        src,
        dst,
        tier,
        kind,
        ips,
        port,
        Expect.BLOCKED,
        f"blocked from {via}",
        context=context,
        family=family,
        label=label,
    )


def _host(
    contract: Contract, state: State, label: str, src: str, source: Container
) -> list[Expectation]:
    """The Docker host, seen from a service whose tiers are all internal: each of its networks' gateways and
    the default bridge's. ICMP echo, and TCP on policy.host_ports."""
    tier_of = contract.network_tier()
    gateways: dict[str, str] = {}  # address -> where it comes from
    for ep in source.endpoints:
        net = state.network(ep.network)
        for gw in net.gateways if net else ():
            gateways.setdefault(gw, ep.network)
    bridge = state.network("bridge")
    for gw in bridge.gateways if bridge else ():
        gateways.setdefault(gw, "bridge")
    deny = {t for t in contract.services[src].tiers if contract.tiers[t].host == "deny"}
    out = []
    for address, via in gateways.items():
        tier = tier_of.get(via, "")
        report_only = not deny
        ports: tuple[int | None, ...] = (None, *contract.policy.host_ports)
        for port in ports:
            what = f"{address}:{port}" if port else address
            kind = ProbeKind.TCP if port else ProbeKind.ICMP
            rule = (
                f"host: deny on {', '.join(sorted(deny))}"
                if deny
                else "host: report (engines let internal networks reach the host; `host: deny` makes it a failure)"
            )
            expected = "blocked (host: deny)" if deny else "reported: does the host answer?"
            where = (
                f"the host's address on {via}"
                if via != "bridge"
                else "the default bridge's host address"
            )
            out.append(
                Expectation(
                    result_id(Kind.HOST, pair(label, what)),
                    Kind.HOST,
                    src,
                    address,
                    tier,
                    kind,
                    (address,),
                    port,
                    Expect.BLOCKED,
                    f"{expected} ({where})",
                    context=rule,
                    family=family_of(address),
                    report_only=report_only,
                    label=label,
                )
            )
    return out


def _no_address(
    label: str, src: str, dst: str, tier: str, network: str, port: int | None
) -> Result:
    what = str(port) if port else "icmp"
    return Result(
        result_id(Kind.REACH, pair(label, dst), item=what, tier=tier),
        Kind.REACH,
        pair(label, dst),
        Verdict.FAIL,
        f"connects to {dst} on {network}",
        f"{dst} has no address on {network}",
        f"{dst} is not attached to {network}, so {src} cannot reach it over tier {tier}",
        src=src,
        dst=dst,
        tier=tier,
    )


def narrow_plan(plan: ProbePlan, services: Collection[str]) -> ProbePlan:
    """The part of `plan` from and to `services`: every expectation of their sources, and the expectations
    of other sources that target them (watch re-checks only what an event can have changed)."""
    wanted = set(services)
    sources = []
    for sp in plan.sources:
        if sp.service in wanted:
            sources.append(sp)
            continue
        kept = tuple(e for e in sp.expectations if e.dst in wanted)
        if kept:
            # the source's own name stays: its answer is what makes a silent lookup mean "does not resolve"
            kept = tuple(e for e in sp.expectations if e.dst in wanted or e.control)
            sources.append(replace(sp, expectations=kept))
    settled = tuple(
        r for r in plan.settled if r.src in wanted or r.dst in wanted or r.service in wanted
    )
    return ProbePlan(tuple(sources), settled)

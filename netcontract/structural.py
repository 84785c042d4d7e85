"""Structural checks: everything that can be decided from a `State` alone. Pure.

`check` feeds a live snapshot, `lint` a state read from compose files; the
rules and result ids are the same for both.
"""

from __future__ import annotations

from collections.abc import Iterator

from netcontract.actors import actor_results
from netcontract.contract import Contract
from netcontract.results import Kind, Result, Verdict, result_id
from netcontract.state import STACK_LABEL, SWARM_SERVICE_LABEL, Container, PublishedPort, State


def _join(items: list[str] | tuple[str, ...] | set[str]) -> str:
    return ", ".join(sorted(items)) if items else "(none)"


MAX_LISTED = 20  # names listed in one result's `actual`; the rest are counted


def _join_some(items: list[str]) -> str:
    """`_join`, cut after MAX_LISTED names: `a, b, ... and 7980 more`."""
    if len(items) <= MAX_LISTED:
        return _join(items)
    return f"{_join(sorted(items)[:MAX_LISTED])}, ... and {len(items) - MAX_LISTED} more"


def structural_results(contract: Contract, state: State) -> list[Result]:
    """Every structural result for `contract` against `state`: tier networks, running containers,
    memberships, aliases, foreign containers on internal tiers, exposure, alias uniqueness.

    `check`, `lint` and scaffold (checking its edits) share it; `check` adds `egress_results`.
    """
    out: list[Result] = []
    out += _networks(contract, state)
    out += _running(contract, state)
    out += _memberships(contract, state)
    out += _aliases(contract, state)
    out += actor_results(contract, state)
    out += _exposure(contract, state)
    out += _alias_unique(contract, state)
    return out


def _shape(
    driver: str,
    internal: bool,
    ipv6: bool | None,
    attachable: bool | None = None,
    encrypted: bool | None = None,
) -> str:
    parts = [driver, "internal" if internal else "not internal"]
    if ipv6 is not None:
        parts.append("IPv6" if ipv6 else "no IPv6")
    if attachable is not None:
        parts.append("attachable" if attachable else "not attachable")
    if encrypted is not None:
        parts.append("encrypted" if encrypted else "not encrypted")
    return ", ".join(parts)


def _networks(contract: Contract, state: State) -> Iterator[Result]:
    for key, tier in contract.tiers.items():
        want = f"{tier.network} ({_shape(tier.driver, tier.internal, tier.ipv6, tier.attachable, tier.encrypted)})"
        net = state.network(tier.network)
        rid = result_id(Kind.NETWORK, key)
        if net is None:
            yield Result(
                rid,
                Kind.NETWORK,
                key,
                Verdict.FAIL,
                want,
                "missing",
                f"no network named {tier.network} ({_where(state)})",
            )
            continue
        shape = _shape(
            net.driver,
            net.internal,
            net.ipv6 if tier.ipv6 is not None else None,
            net.attachable if tier.attachable is not None else None,
            net.encrypted if tier.encrypted is not None else None,
        )
        got = f"{net.name} ({shape})"
        problems = []
        if net.driver != tier.driver:
            problems.append(f"driver is {net.driver}, not {tier.driver}")
        if net.internal != tier.internal:
            problems.append(
                f"{tier.network} is not internal: containers on it can reach outside networks"
                if tier.internal
                else f"{tier.network} is internal: its members have no egress"
            )
        if tier.ipv6 is not None and net.ipv6 != tier.ipv6:
            problems.append(
                f"{tier.network} has no IPv6 (EnableIPv6 is off)"
                if tier.ipv6
                else f"{tier.network} has IPv6 enabled: its members get IPv6 addresses, which engines filter "
                "between networks only with ip6tables on"
            )
        if tier.attachable is not None and net.attachable != tier.attachable:
            problems.append(
                f"{tier.network} is not attachable (containers outside the swarm's services cannot join it)"
                if tier.attachable
                else f"{tier.network} is attachable: any container on a swarm node can join it"
            )
        if tier.encrypted is not None and net.encrypted != tier.encrypted:
            problems.append(
                f"{tier.network} is not encrypted: its traffic between nodes is plain VXLAN"
                if tier.encrypted
                else f"{tier.network} is encrypted (the `encrypted` option is set)"
            )
        yield Result(
            rid,
            Kind.NETWORK,
            key,
            Verdict.FAIL if problems else Verdict.PASS,
            want,
            got,
            "; ".join(problems),
        )


def _where(state: State) -> str:
    return "on the Docker engine" if state.live else f"in {state.source}"


def _running(contract: Contract, state: State) -> Iterator[Result]:
    if not state.live:
        return  # a compose file says nothing about what runs
    for name, svc in contract.services.items():
        rid = result_id(Kind.RUNNING, name)
        want = "running and healthy" if svc.healthy else "running"
        containers = state.service_containers(name)
        if not containers:
            labels = (
                f"{STACK_LABEL}={state.project}, {SWARM_SERVICE_LABEL}={state.project}_{name}"
                if state.orchestrator == "swarm"
                else f"project={state.project}, service={name}"
            )
            yield Result(
                rid,
                Kind.RUNNING,
                name,
                Verdict.FAIL,
                want,
                "no container",
                f"no container has labels {labels}",
                service=name,
            )
            continue
        bad = []
        for c in containers:
            if not c.running:
                bad.append(f"{c.name} is {c.status}")
            elif svc.healthy and not c.health_ok:
                bad.append(f"{c.name} is {c.health}")
        actual = _join([_status(c) for c in containers])
        yield Result(
            rid,
            Kind.RUNNING,
            name,
            Verdict.FAIL if bad else Verdict.PASS,
            want,
            actual,
            "; ".join(bad),
            service=name,
        )


def _status(c: Container) -> str:
    if not c.running:
        return f"{c.name}: {c.status}"
    if c.health_unrun:
        return f"{c.name}: running, {c.health} (the engine never ran its healthcheck)"
    return f"{c.name}: running" + (f", {c.health}" if c.health else ", no healthcheck")


def _memberships(contract: Contract, state: State) -> Iterator[Result]:
    tier_of = contract.network_tier()
    for name, svc in contract.services.items():
        if not svc.endpoints:
            continue  # network_mode: actors.py checks the namespace it shares, or the host's
        rid = result_id(Kind.NETWORKS, name)
        want = {contract.tiers[t].network for t in svc.tiers}
        containers = state.service_containers(name)
        if not containers:
            yield Result(
                rid,
                Kind.NETWORKS,
                name,
                Verdict.SKIP,
                _join(want),
                "no container",
                f"see running:{name}",
                service=name,
            )
            continue
        reasons: list[str] = []
        actual: set[str] = set()
        for c in containers:
            if c.network_mode.startswith(("host", "container:", "service:", "none")):
                reasons.append(
                    f"{c.label} uses network_mode {c.network_mode}, so it joins no tier network"
                )
            got = set(c.networks)
            actual |= got
            for net in sorted(want - got):
                reasons.append(f"{c.label} is not attached to {net} (tier {tier_of[net]})")
            for net in sorted(got - want):
                what = f"tier {tier_of[net]}" if net in tier_of else "not a tier"
                reasons.append(
                    f"{c.label} is attached to {net} ({what}), which the contract does not give it"
                )
        verdict = Verdict.FAIL if reasons else Verdict.PASS
        yield Result(
            rid,
            Kind.NETWORKS,
            name,
            verdict,
            _join(want),
            _join(actual),
            "; ".join(reasons),
            service=name,
        )


def _aliases(contract: Contract, state: State) -> Iterator[Result]:
    for name, svc in contract.services.items():
        containers = state.service_containers(name)
        for tier, aliases in svc.aliases.items():
            network = contract.tiers[tier].network
            # once per container and tier, not once per alias: 8000 aliases stay linear, and the
            # names shown are at most MAX_LISTED (a report of 8000 x 8000 names would be 440 MB)
            eps = [(c, c.endpoint(network)) for c in containers]
            held = {
                c.name: (set(ep.aliases) | set(ep.dns_names)) for c, ep in eps if ep is not None
            }
            shown = {
                c.name: f"{c.name}: {_join_some([a for a in ep.aliases if a != c.short_id])}"
                for c, ep in eps
                if ep is not None
            }
            for alias in aliases:
                rid = result_id(Kind.ALIAS, f"{name}@{tier}", item=alias)
                subject = f"{name}@{tier}"
                want = f"{alias} on {network}"
                if not containers:
                    yield Result(
                        rid,
                        Kind.ALIAS,
                        subject,
                        Verdict.SKIP,
                        want,
                        "no container",
                        f"see running:{name}",
                        service=name,
                        tier=tier,
                    )
                    continue
                missing, seen = [], []
                for c, ep in eps:
                    if ep is None:
                        missing.append(f"{c.label} is not attached to {network}")
                        continue
                    seen.append(shown[c.name])
                    if alias not in held[c.name]:  # ep.answers_to(alias), from a set
                        missing.append(f"{c.label} does not have alias {alias} on {network}")
                actual = "; ".join(seen) if seen else f"not attached to {network}"
                verdict = Verdict.FAIL if missing else Verdict.PASS
                yield Result(
                    rid,
                    Kind.ALIAS,
                    subject,
                    verdict,
                    want,
                    actual,
                    "; ".join(missing),
                    service=name,
                    tier=tier,
                )


def _exposure(contract: Contract, state: State) -> Iterator[Result]:
    internal = {t.network: k for k, t in contract.tiers.items() if t.internal}
    if not internal:
        return
    for name, svc in contract.services.items():
        containers = state.service_containers(name)
        declared = [t for t in svc.tiers if contract.tiers[t].internal]
        on_internal = {n for c in containers for n in c.networks if n in internal}
        if not declared and not on_internal:
            continue
        if not containers:
            yield Result(
                result_id(Kind.EXPOSURE, name),
                Kind.EXPOSURE,
                name,
                Verdict.SKIP,
                "no published ports",
                "no container",
                f"see running:{name}",
                service=name,
            )
            continue
        tiers = sorted(set(declared) | {internal[n] for n in on_internal})
        published = [(c, p) for c in containers for p in c.published]
        reason = _exposure_reason(published, tiers)
        actual = _join([str(p) for _, p in published]) if published else "no published ports"
        verdict = Verdict.FAIL if published else Verdict.PASS
        yield Result(
            result_id(Kind.EXPOSURE, name),
            Kind.EXPOSURE,
            name,
            verdict,
            f"no published ports (member of internal {', '.join(tiers)})",
            actual,
            reason,
            service=name,
            containers=tuple(dict.fromkeys(c.name for c, _ in published)),
        )


def _and(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _exposure_reason(published: list[tuple[Container, PublishedPort]], tiers: list[str]) -> str:
    """One sentence however many ports and replicas publish: each container once with all its ports,
    e.g. `db (shop-db-1) publishes 0.0.0.0:5432->5432/tcp and :::5432->5432/tcp on the host, which
    bypasses the isolation of data` (an engine lists a port bound on IPv4 and IPv6 twice)."""
    if not published:
        return ""
    by_container: dict[str, list[str]] = {}
    for c, p in published:
        ports = by_container.setdefault(c.label, [])
        if str(p) not in ports:
            ports.append(str(p))
    clauses = [f"{label} publishes {_and(ports)}" for label, ports in by_container.items()]
    return f"{_and(clauses)} on the host, which bypasses the isolation of {', '.join(tiers)}"


def _alias_unique(contract: Contract, state: State) -> Iterator[Result]:
    for key, tier in contract.tiers.items():
        if state.network(tier.network) is None:
            yield Result(
                result_id(Kind.ALIAS_UNIQUE, key),
                Kind.ALIAS_UNIQUE,
                key,
                Verdict.SKIP,
                "each alias held by one service",
                "network missing",
                f"see network:{key}",
            )
            continue
        owners: dict[str, set[str]] = {}
        holders: dict[str, list[str]] = {}
        for c in state.attached(tier.network):
            ep = c.endpoint(tier.network)
            assert ep is not None
            owner = f"{c.project}/{c.service}" if c.service else c.name
            for alias in ep.aliases:
                if alias not in (c.short_id, c.id):
                    owners.setdefault(alias, set()).add(owner)
                    holders.setdefault(alias, []).append(c.name)
        clashes = {a: o for a, o in owners.items() if len(o) > 1}
        implicated = tuple(dict.fromkeys(n for a in sorted(clashes) for n in holders[a]))
        reason = "; ".join(
            f"alias {a} on {tier.network} is held by {_join(o)}: Docker's DNS round-robins between them"
            for a, o in sorted(clashes.items())
        )
        actual = (
            _join([f"{a} held by {len(o)}" for a, o in clashes.items()])
            if clashes
            else "no shared alias"
        )
        yield Result(
            result_id(Kind.ALIAS_UNIQUE, key),
            Kind.ALIAS_UNIQUE,
            key,
            Verdict.FAIL if clashes else Verdict.PASS,
            "each alias held by one service",
            actual,
            reason,
            tier=key,
            containers=implicated,
        )


def egress_results(contract: Contract, state: State) -> list[Result]:
    """A service whose tiers are all internal must have no way out: every network it is on is internal."""
    out = []
    for name, svc in contract.services.items():
        if not svc.endpoints or not all(contract.tiers[t].internal for t in svc.tiers):
            continue
        containers = state.service_containers(name)
        want = "only internal networks (no egress)"
        if not containers:
            out.append(
                Result(
                    result_id(Kind.EGRESS, name),
                    Kind.EGRESS,
                    name,
                    Verdict.SKIP,
                    want,
                    "no container",
                    f"see running:{name}",
                    src=name,
                    service=name,
                )
            )
            continue
        leaks = []
        for c in containers:
            if c.network_mode == "host":
                leaks.append(f"{c.label} uses network_mode {c.network_mode}")
            elif c.network_mode.startswith(("container:", "service:")):
                leaks.append(
                    f"{c.label} uses network_mode {c.network_mode}: its way out is that container's, "
                    "which the contract does not bound"
                )
            for net in c.networks:
                n = state.network(net)
                if n is None:
                    leaks.append(f"{c.label} is attached to {net}, which could not be inspected")
                elif not n.internal:
                    leaks.append(
                        f"{c.label} is attached to {net}, which is not internal: a way out"
                    )
        actual = _join({n for c in containers for n in c.networks})
        out.append(
            Result(
                result_id(Kind.EGRESS, name),
                Kind.EGRESS,
                name,
                Verdict.FAIL if leaks else Verdict.PASS,
                want,
                actual,
                "; ".join(leaks),
                src=name,
                service=name,
            )
        )
    return out


def unreadable_errors(results: list[Result], state: State) -> list[Result]:
    """Swarm: a check that needs a node whose engine could not be read is ERROR, never PASS.

    A service with a task on such a node cannot be proven running, healthy, attached or aliased as the
    contract says (only the manager's record of that task is known); a tier's foreign-member and
    alias-uniqueness checks cannot see that node's containers. A FAIL stays a FAIL: what was read proves it.
    """
    blind = {c.service: c for c in state.containers if c.unreadable and c.service}
    out = []
    for r in results:
        if r.verdict is Verdict.PASS:
            task = blind.get(r.service or "")  # blind has services only (no "" key)
            if task is not None:
                r = r.with_verdict(Verdict.ERROR, f"not evaluated: {task.label}: {task.unreadable}")
            elif state.unreachable and r.kind in (Kind.FOREIGN, Kind.ALIAS_UNIQUE):
                nodes = ", ".join(f"{n} ({why})" for n, why in state.unreachable)
                r = r.with_verdict(
                    Verdict.ERROR, f"not evaluated: the containers of node {nodes} were not read"
                )
        out.append(r)
    return out

"""The report's notes that follow from the contract, the snapshot and the results alone. Pure.

A note says what a verdict cannot: what the engine does that the probes only hint at (IPv6 filtering,
gateway modes), and what was not probed and why (DNS egress on older engines). The notes that come
from how the probes ran (windows, fallbacks, the neighbour table) are the executors' own.
"""

from __future__ import annotations

import re

from netcontract.contract import Contract
from netcontract.results import Kind, Result, Verdict
from netcontract.state import State


def ipv6_filter_notes(results: list[Result]) -> list[str]:
    """What the probes found about the engine's IPv6 filtering between networks."""
    v6 = [r for r in results if r.kind is Kind.ISOLATION and r.id.endswith("/ipv6")]
    if not v6:
        return []
    open_ = [r for r in v6 if r.verdict is Verdict.FAIL]
    if open_:
        return [
            f"IPv6: {len(open_)} of {len(v6)} IPv6 paths the contract forbids connect; where IPv4 on the same "
            "path is dropped, the engine does not filter IPv6 between networks (ip6tables off)"
        ]
    held = [r for r in v6 if r.verdict is Verdict.PASS]
    return [
        f"IPv6: {len(held)} of {len(v6)} forbidden IPv6 paths probed and blocked (the engine filters IPv6)"
    ]


def dns_egress_notes(contract: Contract, state: State) -> list[str]:
    """On an engine older than the CVE-2024-29018 fix, say that DNS egress from internal-only services is a
    known way out, and how to probe it, when the contract does not already ask for it."""
    internal_only = [
        s
        for s, svc in contract.services.items()
        if svc.tiers and all(contract.tiers[t].internal for t in svc.tiers if t in contract.tiers)
    ]
    m = re.match(r"Docker (\d+)\.(\d+)\.(\d+)", state.engine)
    if not internal_only or contract.policy.dns_egress_names or not m:
        return []
    if tuple(int(x) for x in m.groups()) >= (26, 0, 0):
        return []
    return [
        f"DNS egress not probed: {state.engine.split(' (')[0]} predates Docker 26.0, where the fix for "
        f"CVE-2024-29018 landed (backported to 25.0.5 and 23.0.11 upstream; distribution builds may differ): "
        f"its DNS may forward external names asked by {_some(internal_only)} out of the internal networks. "
        "List a name your resolver answers in policy.dns_egress_names to probe it"
    ]


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


def health_notes(contract: Contract, state: State) -> list[str]:
    """Healthchecks the engine never ran (Podman without systemd): their health is not judged, and why."""
    unrun = sorted(
        {
            c.service or c.name
            for c in state.containers
            if c.health_unrun and c.service in contract.services
        }
    )
    if not unrun:
        return []
    engine = state.engine.split(" (")[0] or "the engine"
    return [
        f"health not judged for {_some(unrun)}: {engine} never ran their healthchecks (health still "
        '"starting" with no result long after they were due). Podman runs healthchecks from systemd timers, '
        "and its host has no systemd; `running:` checks only that they run"
    ]


def podman_isolation_notes(contract: Contract, state: State, results: list[Result]) -> list[str]:
    """On Podman, forbidden paths that connect between tier networks created without netavark's `isolate`
    option: Podman forwards between such networks (docs/engines.md)."""
    if not state.podman:
        return []
    out = _podman_internal_notes(contract, results)
    leaks = [r for r in results if r.kind is Kind.ISOLATION and r.verdict is Verdict.FAIL]
    plain = [
        t.network
        for t in contract.tiers.values()
        if (net := state.network(t.network)) is not None
        and dict(net.options).get("isolate") not in ("true", "strict")
    ]
    if not leaks or not plain:
        return out
    return [
        *out,
        f"Podman: {len(leaks)} forbidden path(s) connect, and {_some(plain)} "
        f"{'was' if len(plain) == 1 else 'were'} created without netavark's `isolate` option: Podman "
        "forwards between its bridge networks unless they are created with it (`podman network create --opt "
        "isolate=true`, or `strict`, which also cuts them off from networks without it). Podman 4's "
        "Docker-compatible API sets isolate=true on every network it creates (docker network create, compose)",
    ]


def _podman_internal_notes(contract: Contract, results: list[Result]) -> list[str]:
    """Members of an internal tier that time out to each other on Podman, and the measured reason."""
    internal = {key: t.network for key, t in contract.tiers.items() if t.internal}
    stuck = sorted(
        {
            internal[r.tier]
            for r in results
            if r.kind is Kind.REACH
            and r.verdict is Verdict.FAIL
            and r.tier in internal
            and "timeout" in r.actual
        }
    )
    if not stuck:
        return []
    return [
        f"Podman: members of the internal network(s) {_some(stuck)} time out to each other. netavark (1.4) "
        "adds no forwarding rule for an internal network's subnet, so where the FORWARD chain drops by default "
        "(Docker sets that policy when it runs in the same network namespace) and bridged traffic passes "
        "iptables (net.bridge.bridge-nf-call-iptables=1), traffic inside the internal network is dropped. "
        "Run Podman in a network namespace of its own, or accept the internal subnet in the FORWARD chain"
    ]

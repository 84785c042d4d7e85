"""`observe --write`: a least-privilege draft from the flows seen. Pure.

The draft is `draft.build`'s, made from the live State at the end of the window, with what the flows
add, each with its evidence (count, first and last seen):
- `ports:` are the TCP ports other services connected to and got an answer on, not what images declare;
- `policy.isolate` holds every ordered pair of services that share no tier and never talked, so `check`
  proves Docker keeps them apart (their service names must not resolve to each other);
- pairs that share a tier but never talked are proposals in comments: a contract cannot isolate two
  services Docker lets talk, so tightening them means splitting the tier (then isolating them);
- tier memberships no flow used, egress by address, UDP ports served: comments, with the reason.
Memberships stay as the engine has them, so the draft holds against the stack it came from.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from netcontract.draft.build import DraftHints, check_draft, draft_contract
from netcontract.flows import SERVICE, Flow, served_ports, service_flows
from netcontract.names import is_label

if TYPE_CHECKING:
    from netcontract.flows import FlowWindow


def _hms(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t))


def _evidence(flows: Iterable[Flow]) -> str:
    flows = list(flows)
    n = sum(f.count + f.lingering for f in flows)
    return f"{n} connection{'s' if n != 1 else ''}, {_hms(min(f.first for f in flows))}..{_hms(max(f.last for f in flows))}"


def _service_notes(obs: FlowWindow, names: list[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {n: [] for n in names}
    flows = [f for f in obs.flows if f.evidence]
    for name in names:
        mine = [
            f
            for f in flows
            if name in (f.client.name, f.server.name) and SERVICE in (f.client.kind, f.server.kind)
        ]
        networks = {n for c in obs.state.service_containers(name) for n in c.networks}
        for net in sorted(networks - {"bridge", "host", "none"}):
            on = [f for f in mine if f.network == net]
            if on:
                peers = sorted(
                    {f.server.name if f.client.name == name else f.client.name for f in on} - {name}
                )
                out[name].append(
                    f"observed on {net}: with {', '.join(peers) or 'the host'} ({_evidence(on)})"
                )
            else:
                out[name].append(
                    f"observed: no flow on {net} in the window: a candidate to leave that network"
                )
        for f in mine:
            if f.server.name == name and f.server.kind == SERVICE and f.proto != "tcp" and f.port:
                out[name].append(
                    f"served {f.port_text} to {f.client.name} ({_evidence([f])}): a contract lists TCP "
                    "ports only, so it is not in ports:"
                )
        for f in mine:
            if f.client.name == name and f.egress:
                out[name].append(
                    f"egress seen to {f.server.name} {f.port_text} ({_evidence([f])}); not resolved"
                )
    return {k: tuple(v) for k, v in out.items()}


def observed_hints(obs: FlowWindow, command: str) -> DraftHints:
    """The DraftHints that put the observed flows into `draft.build`'s draft."""
    state = obs.state
    names = sorted(
        {
            c.service
            for c in state.containers  # the draft leaves out names that are no DNS label
            if c.service and c.project == state.project and is_label(c.service)
        }
    )
    flows = service_flows(f for f in obs.flows if f.evidence)
    served = served_ports(obs.flows)
    port_notes = {}
    for name, ports in served.items():
        evidence = [
            f for f in flows if f.server.name == name and f.port in ports and f.proto == "tcp"
        ]
        port_notes[name] = f"observed served: {_evidence(evidence)}"
    talked = {(f.client.name, f.server.name) for f in flows}
    nets = {
        n: {x for c in state.service_containers(n) for x in c.networks} - {"bridge", "host", "none"}
        for n in names
    }
    isolate, proposals = [], []
    for a in names:
        for b in names:
            if a == b or (a, b) in talked or (b, a) in talked:
                continue
            shared = sorted(nets[a] & nets[b])
            if not shared and nets[a] and nets[b]:
                isolate.append(f"{a} -> {b}")
            elif shared and a < b:
                proposals.append(
                    f"proposal: {a} and {b} share {', '.join(shared)} but never talked in the window: "
                    "split the network, then isolate them"
                )
    policy_notes = []
    if isolate:
        policy_notes.append(
            f"observed: these pairs share no network and never talked in {obs.seconds:.0f} s"
        )
    policy_notes += proposals
    return DraftHints(
        command=command,
        ports=served,
        port_notes=port_notes,
        notes=_service_notes(obs, names),
        isolate=tuple(isolate),
        policy_notes=tuple(policy_notes),
    )


def draft_from_observation(obs: FlowWindow, command: str) -> str:
    """The least-privilege draft (YAML text); it loads as a contract or this raises InternalError."""
    text = draft_contract(obs.state, observed_hints(obs, command))
    check_draft(text)
    return text

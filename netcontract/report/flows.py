"""observe's outputs: the flows seen (and, with a contract, used against allowed) as text or JSON. Pure."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from netcontract import sanitize
from netcontract.flows import LIMITS, Flow

if TYPE_CHECKING:
    from netcontract.flows import FlowWindow
    from netcontract.usage import Usage


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _hms(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t))


def tier_of(flow: Flow, tiers: dict[str, str]) -> str:
    """The flow's tier: the contract's key for its network when there is a contract, else the network's name."""
    return tiers.get(flow.network, flow.network) if flow.network else "-"


def flow_text(f: Flow, tiers: dict[str, str]) -> str:
    """One flow on one line: `frontend -> backend 8000/tcp on api_tier  x3  21:02:03..21:02:09`."""
    extra = []
    if not f.replied:
        extra.append("unreplied")
    if f.routed:
        extra.append("routed between networks")
    if f.before and f.held:
        extra.append("open when the window began")
    elif f.before:
        extra.append("only lingering from before the window: not judged")
    elif f.lingering:
        extra.append(f"and {f.lingering} from before the window")
    where = "egress" if f.egress else f"on {tier_of(f, tiers)}"
    tail = f"  ({', '.join(extra)})" if extra else ""
    return sanitize.line(
        f"{f.client} -> {f.server} {f.port_text} {where}  x{f.count}  "
        f"{_hms(f.first)}..{_hms(f.last)}{tail}"
    )


def render_text(
    obs: FlowWindow, usage: Usage | None = None, tiers: dict[str, str] | None = None
) -> str:
    """The observation for people: flows, egress, then the contract's view, the limits and the notes."""
    tiers = tiers or {}
    lines = [
        sanitize.line(
            f"observed project {obs.state.project} for {obs.seconds:.0f} s through {obs.source} "
            f"({obs.reads} reads, {len(obs.flows)} flows)"
        )
    ]
    inside = [f for f in obs.flows if not f.egress]
    egress = [f for f in obs.flows if f.egress]
    lines.append("")
    lines.append("flows:" if inside else "flows: none seen between the stack's containers")
    lines += ["  " + flow_text(f, tiers) for f in inside]
    if egress:
        lines += ["", "egress (addresses outside the stack; not resolved, not contacted):"]
        lines += ["  " + flow_text(f, tiers) for f in egress]
    if usage is not None:
        lines += [
            "",
            "forbidden by the contract:"
            if usage.forbidden
            else "forbidden by the contract: none seen",
        ]
        lines += [
            sanitize.line(f"  {flow_text(x.flow, tiers)}: {x.reason}") for x in usage.forbidden
        ]
        if usage.unused:
            lines += ["", "allowed but not used in the window (candidates to tighten):"]
            lines += [sanitize.line(f"  {u.kind} {u.subject}: {u.reason}") for u in usage.unused]
        if usage.undeclared:
            lines += [
                "",
                sanitize.line(
                    f"served but not in the contract's ports: {', '.join(usage.undeclared)}"
                ),
            ]
    lines += ["", "not seen by connection tracking:"] + [f"  - {x}" for x in LIMITS]
    lines += [sanitize.line(f"note: {n}") for n in obs.notes]
    if usage is not None:
        n = len(usage.forbidden)
        lines += [
            "",
            f"{n} forbidden flow{'s' if n != 1 else ''} seen" if n else "no forbidden flow seen",
        ]
    return "\n".join(lines) + "\n"


def _flow_json(f: Flow, tiers: dict[str, str]) -> dict[str, Any]:
    return {
        "client": {"kind": f.client.kind, "name": f.client.name, "sharers": list(f.client.sharers)},
        "server": {"kind": f.server.kind, "name": f.server.name, "sharers": list(f.server.sharers)},
        "proto": f.proto,
        "port": f.port or None,
        "network": f.network or None,
        "tier": tier_of(f, tiers) if f.network else None,
        "egress": f.egress,
        "count": f.count,
        "first_seen": _iso(f.first),
        "last_seen": _iso(f.last),
        "replied": f.replied,
        "routed": f.routed,
        "containers": list(f.containers),
        "open_at_start": f.before,
        "open_at_start_count": f.lingering,
        "evidence": f.evidence,
    }


def render_json(
    obs: FlowWindow, usage: Usage | None = None, tiers: dict[str, str] | None = None
) -> str:
    """The observation for tools: one JSON document (schema in docs/observe.md)."""
    tiers = tiers or {}
    doc: dict[str, Any] = {
        "project": obs.state.project,
        "source": obs.source,
        "started": _iso(obs.started),
        "seconds": round(obs.seconds, 3),
        "reads": obs.reads,
        "open_at_start": obs.before,
        "flows": [_flow_json(f, tiers) for f in obs.flows],
        "limits": list(LIMITS),
        "notes": list(obs.notes),
    }
    if usage is not None:
        doc["forbidden"] = [
            {"flow": _flow_json(x.flow, tiers), "reason": x.reason} for x in usage.forbidden
        ]
        doc["unused"] = [
            {"kind": u.kind, "subject": u.subject, "reason": u.reason} for u in usage.unused
        ]
        doc["undeclared_ports"] = list(usage.undeclared)
    return json.dumps(doc, indent=2) + "\n"

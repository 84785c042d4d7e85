"""What a tier graph shows, whatever draws it (report/graph.py: Mermaid and DOT; report/svg.py: the HTML
page's SVG). Pure.

Tiers and services from the report's `Topology` (contract order), the allowed tier flows (two-way ones
once), the non-home tiers each service is attached to, the `policy.isolate` pairs, and the violations: a
FAIL or ERROR result with a source and a target becomes an arrow between the two services (alias targets
drawn at their owner, anything else as an outsider), red for FAIL and orange for ERROR; any other FAIL or
ERROR colours its service or tier (red wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netcontract.results import Result, ServiceView, TierView, Topology, Verdict

RED = "#d62728"
ORANGE = "#e08a00"
FLOW = "#3b6ea5"
MEMBER = "#8c8c8c"
INTERNAL_FILL = "#fdf3e1"
INTERNAL_LINE = "#a86400"


@dataclass
class Arrow:
    """A violation drawn between two services (or a service and an outsider): its colour and kinds."""

    src: str
    dst: str
    colour: str
    labels: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


@dataclass
class Graph:
    """What to draw, independent of the output format (Mermaid, DOT, the HTML page's SVG)."""

    topology: Topology
    flows: list[tuple[str, str, bool]]  # (from, to, both directions)
    members: list[tuple[str, str]]  # (service, non-home tier)
    never: list[tuple[str, str]]
    arrows: list[Arrow]
    outsiders: list[str]  # probe targets that are not services (canaries, unknown names)
    node_colour: dict[str, str]  # service -> colour
    tier_colour: dict[str, str]  # tier -> colour
    services: dict[str, ServiceView] = field(default_factory=dict)
    tiers: dict[str, TierView] = field(default_factory=dict)

    def home_members(self, tier: str) -> list[str]:
        """The services whose home is `tier`, in contract order."""
        return [n for n, s in self.services.items() if s.home == tier]


def _flows(topology: Topology) -> list[tuple[str, str, bool]]:
    allowed = {f for f in topology.allowed if all(t in {x.key for x in topology.tiers} for t in f)}
    out: list[tuple[str, str, bool]] = []
    order = [t.key for t in topology.tiers]
    for a, b in sorted(allowed, key=lambda f: (order.index(f[0]), order.index(f[1]))):
        if (b, a) in allowed:
            if order.index(a) < order.index(b):
                out.append((a, b, True))
        else:
            out.append((a, b, False))
    return out


def _colour(r: Result) -> str | None:
    return RED if r.verdict is Verdict.FAIL else ORANGE if r.verdict is Verdict.ERROR else None


def build_graph(topology: Topology, violations: Sequence[Result]) -> Graph:
    """What to draw for `topology`, with the FAIL (red) and ERROR (orange) results among `violations`."""
    services = {s.name: s for s in topology.services}
    owner = {a: s.name for s in topology.services for a in s.aliases}
    g = Graph(
        topology=topology,
        flows=_flows(topology),
        members=[(s.name, t) for s in topology.services for t in s.tiers if t != s.home],
        never=list(topology.isolated),
        arrows=[],
        outsiders=[],
        node_colour={},
        tier_colour={},
        services=services,
        tiers={t.key: t for t in topology.tiers},
    )
    arrows: dict[tuple[str, str, str], Arrow] = {}
    for r in violations:
        colour = _colour(r)
        if colour is None:
            continue
        if r.src and r.dst and r.src in services:
            dst = r.dst if r.dst in services else owner.get(r.dst, r.dst)
            if dst not in services and dst not in g.outsiders:
                g.outsiders.append(dst)
            arrow = arrows.setdefault((r.src, dst, colour), Arrow(r.src, dst, colour))
            if r.kind not in arrow.labels:
                arrow.labels.append(r.kind)
            arrow.results.append(r)
            continue
        subject = r.subject.split("@")[0]
        target = g.node_colour if subject in services else g.tier_colour
        known = subject in services or subject in g.tiers
        if known and target.get(subject) != RED:  # red (FAIL) wins over orange (ERROR)
            target[subject] = colour
    g.arrows = list(arrows.values())
    return g

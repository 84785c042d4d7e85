"""The tier graph as inline SVG, for the HTML page: drawn here, no Graphviz at run time. Pure.

The same picture as `netcontract graph` (report/graph.py's `Graph`): a column per tier (contract order),
its home services stacked in it, an internal tier dashed and filled; allowed tier flows as blue arcs over
the columns; a dashed grey line from a service to each other tier it is attached to; `policy.isolate`
pairs as dotted "never" curves; and every violation as a thick curve between the two services with a
symbol as well as a colour: "✗" and solid red for a FAIL, "!" and dashed orange for an ERROR. Each
violation links to its checks on the page (`href(src, dst)`). Every name is escaped (html.escape after
sanitize.line); long names are shortened on the drawing and given whole in a <title>.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from netcontract.report.drawing import (
    FLOW,
    INTERNAL_FILL,
    INTERNAL_LINE,
    MEMBER,
    ORANGE,
    RED,
    Graph,
)
from netcontract.sanitize import line

COL_W, COL_GAP, NODE_W, NODE_H, NODE_GAP, HEAD_H, PAD = 200, 120, 176, 28, 12, 44, 12
MAX_CHARS = 22


def _t(text: str) -> str:
    """Text from the contract or the engine, for an SVG text node or attribute."""
    return escape(line(text), quote=True)


def _short(text: str) -> str:
    text = line(text)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


@dataclass
class _Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _layout(
    g: Graph, top: float
) -> tuple[dict[str, _Box], dict[str, _Box], dict[str, _Box], float]:
    """Boxes of tiers, services and outsiders; and the drawing's height."""
    tiers: dict[str, _Box] = {}
    nodes: dict[str, _Box] = {}
    outs: dict[str, _Box] = {}
    bottom = top
    for col, key in enumerate(g.tiers):
        x = PAD + col * (COL_W + COL_GAP)
        members = g.home_members(key)
        h = HEAD_H + max(1, len(members)) * (NODE_H + NODE_GAP) + PAD
        tiers[key] = _Box(x, top, COL_W, h)
        for i, name in enumerate(members):
            nodes[name] = _Box(
                x + (COL_W - NODE_W) / 2, top + HEAD_H + i * (NODE_H + NODE_GAP), NODE_W, NODE_H
            )
        bottom = max(bottom, top + h)
    # services without a home among the tiers (cannot happen for a valid contract) and outsiders: a last column
    x = PAD + len(g.tiers) * (COL_W + COL_GAP)
    extra = [n for n in g.services if n not in nodes] + list(g.outsiders)
    for i, name in enumerate(extra):
        box = _Box(x + (COL_W - NODE_W) / 2, top + HEAD_H + i * (NODE_H + NODE_GAP), NODE_W, NODE_H)
        (nodes if name in g.services else outs)[name] = box
        bottom = max(bottom, box.y + box.h + PAD)
    return tiers, nodes, outs, bottom


def _curve(a: _Box, b: _Box, bend: float) -> tuple[str, float, float]:
    """A quadratic curve from box a's edge to box b's edge, bent sideways by `bend`; and its middle."""
    if (
        abs(a.cx - b.cx) < 1
    ):  # same column: upwards on the right, downwards on the left (a pair both ways)
        out = 40 + abs(b.cy - a.cy) * 0.15 + bend
        if a.cy > b.cy:
            x1, y1, x2, y2 = a.x + a.w, a.cy, b.x + b.w, b.cy
            cx = x1 + out
        else:
            x1, y1, x2, y2 = a.x, a.cy, b.x, b.cy
            cx = x1 - out
        cy = (y1 + y2) / 2
    else:
        x1, x2 = (a.x + a.w, b.x) if a.cx < b.cx else (a.x, b.x + b.w)
        y1, y2 = a.cy, b.cy
        lift = (
            30 + bend if a.cx < b.cx else -30 - bend
        )  # a pair both ways: one arc above, one below
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 - lift
    mx, my = (x1 + 2 * cx + x2) / 4, (y1 + 2 * cy + y2) / 4
    return f"M{x1:.0f},{y1:.0f} Q{cx:.0f},{cy:.0f} {x2:.0f},{y2:.0f}", mx, my


def _defs() -> str:
    heads = {"flow": FLOW, "fail": RED, "error": ORANGE, "never": RED}
    return (
        "<defs>"
        + "".join(
            f'<marker id="h-{k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
            for k, c in heads.items()
        )
        + "</defs>"
    )


def render_svg(g: Graph, href: Callable[[str, str], str | None]) -> str:
    """The graph as an <svg> element; `href(src, dst)` is the page anchor of that pair's checks (or None)."""
    flows_h = 26 + 16 * len(g.flows)
    tiers, nodes, outs, bottom = _layout(g, flows_h)
    boxes = [*tiers.values(), *nodes.values(), *outs.values()]
    width = max([b.x + b.w for b in boxes] + [COL_W]) + PAD + (80 if g.arrows or g.never else 0)
    height = bottom + PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="tier-graph" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        "<title>Tier graph: tiers, services, allowed flows and violations</title>",
        _defs(),
    ]
    for key, box in tiers.items():
        tier = g.tiers[key]
        stroke = g.tier_colour.get(key, INTERNAL_LINE if tier.internal else FLOW)
        dash = ' stroke-dasharray="6 3"' if tier.internal else ""
        fill = INTERNAL_FILL if tier.internal else "#f5f8fc"
        bad = " bad" if key in g.tier_colour else ""
        label = key + (" (internal)" if tier.internal else "")
        out.append(
            f'<g class="tier{bad}" data-tier="{_t(key)}"><title>{_t(label)}: {_t(tier.network)}</title>'
            f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" height="{box.h:.0f}" rx="8" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="2"{dash}/>'
            f'<text x="{box.x + 10:.0f}" y="{box.y + 17:.0f}" font-weight="bold">{_t(_short(label))}</text>'
            f'<text x="{box.x + 10:.0f}" y="{box.y + 32:.0f}" fill="#555">{_t(_short(tier.network))}</text></g>'
        )
    for i, (a, b, both) in enumerate(g.flows):
        ta, tb = tiers[a], tiers[b]
        y = flows_h - 8 - 16 * i
        start = 'marker-start="url(#h-flow)" ' if both else ""
        sep = " ⇄ " if both else " → "
        out.append(
            f'<g class="flow"><title>allowed: {_t(a)}{sep}{_t(b)} (policy.allow)</title>'
            f'<path d="M{ta.cx:.0f},{ta.y:.0f} C{ta.cx:.0f},{y:.0f} {tb.cx:.0f},{y:.0f} {tb.cx:.0f},{tb.y:.0f}" '
            f'fill="none" stroke="{FLOW}" stroke-width="2.5" {start}marker-end="url(#h-flow)"/></g>'
        )
    for svc, other in g.members:
        if svc not in nodes or other not in tiers:
            continue
        n, t = nodes[svc], tiers[other]
        x1, x2 = (n.x + n.w, t.x) if t.x > n.x else (n.x, t.x + t.w)
        y2 = min(max(n.cy, t.y + HEAD_H / 2), t.y + t.h - 6)
        out.append(
            f'<g class="member"><title>{_t(svc)} is also attached to {_t(other)}</title>'
            f'<path d="M{x1:.0f},{n.cy:.0f} L{x2:.0f},{y2:.0f}" stroke="{MEMBER}" stroke-dasharray="4 3" '
            f'fill="none"/></g>'
        )
    for a, b in g.never:
        if a not in nodes or b not in nodes:
            continue
        d, mx, my = _curve(nodes[a], nodes[b], 10)
        out.append(
            f'<g class="never"><title>never: {_t(a)} → {_t(b)} (policy.isolate)</title>'
            f'<path d="{d}" fill="none" stroke="{RED}" stroke-width="1.5" stroke-dasharray="2 4" '
            f'marker-end="url(#h-never)"/>'
            f'<text x="{mx:.0f}" y="{my - 3:.0f}" fill="{RED}" font-size="10" text-anchor="middle">never</text></g>'
        )
    for name, box in nodes.items():
        colour = g.node_colour.get(name)
        stroke, width_, bad = (colour, 3, " bad") if colour else ("#666", 1, "")
        out.append(
            f'<g class="service{bad}" data-service="{_t(name)}"><title>{_t(name)}</title>'
            f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" height="{box.h:.0f}" rx="5" '
            f'fill="#fff" stroke="{stroke}" stroke-width="{width_}"/>'
            f'<text x="{box.cx:.0f}" y="{box.y + 18:.0f}" text-anchor="middle">'
            f"{'✗ ' if colour == RED else '! ' if colour else ''}{_t(_short(name))}</text></g>"
        )
    for name, box in outs.items():
        out.append(
            f'<g class="outsider" data-service="{_t(name)}"><title>{_t(name)} (not a contract service)</title>'
            f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" height="{box.h:.0f}" '
            f'fill="#fff" stroke="{RED}" stroke-dasharray="3 3"/>'
            f'<text x="{box.cx:.0f}" y="{box.y + 18:.0f}" text-anchor="middle">{_t(_short(name))}</text></g>'
        )
    for i, arrow in enumerate(g.arrows):
        from_box, to_box = nodes.get(arrow.src), nodes.get(arrow.dst) or outs.get(arrow.dst)
        if from_box is None or to_box is None:
            continue
        fail = arrow.colour == RED
        cls, mark, dash = ("fail", "✗", "") if fail else ("error", "!", ' stroke-dasharray="7 4"')
        d, mx, my = _curve(from_box, to_box, 14 * (i % 3))
        label = f"{mark} {', '.join(arrow.labels)}"
        what = "violates the contract" if fail else "could not be checked"
        body = (
            f"<title>{_t(arrow.src)} → {_t(arrow.dst)}: {_t(', '.join(arrow.labels))} {what} "
            f"({len(arrow.results)} checks)</title>"
            f'<path d="{d}" fill="none" stroke="{arrow.colour}" stroke-width="3.5"{dash} marker-end="url(#h-{cls})"/>'
            f'<text x="{mx:.0f}" y="{my - 5:.0f}" fill="{arrow.colour}" font-weight="bold" text-anchor="middle" '
            f'paint-order="stroke" stroke="#fff" stroke-width="3">{_t(label)}</text>'
        )
        link = href(arrow.src, arrow.dst)
        if link:
            body = f'<a href="{_t(link)}">{body}</a>'
        out.append(
            f'<g class="edge {cls}" data-src="{_t(arrow.src)}" data-dst="{_t(arrow.dst)}">{body}</g>'
        )
    out.append("</svg>")
    return "".join(out)

"""Draw a contract as a diagram: tiers as groups, services in their home tier. Pure.

`render_graph(contract, "mermaid" | "dot", violations)` returns Mermaid
flowchart text (GitHub renders it inline) or Graphviz DOT (`dot -Tsvg`).

- a tier is a group (Mermaid subgraph, Graphviz cluster); an internal tier is
  labelled "internal" and drawn filled and dashed;
- a service sits in its home tier; a dashed line joins it to each other tier
  it is attached to;
- an allowed tier flow (policy.allow) is a thick arrow between groups, with
  two heads when both directions are allowed;
- a `policy.isolate` pair is a red dotted "never" arrow;
- a service sharing another's network namespace (`network_mode: service:X`) sits beside X in
  X's home tier, drawn dashed, with a "namespace" line to X; a service on the host's network
  (`network_mode: host`) is a hexagon outside every tier, with a dotted "host network" line to
  each internal tier (it reaches their members from the host's namespace); `none` sits outside;
- a violation is red: a FAIL result with src/dst becomes a bold red arrow
  labelled with its kind(s), any other FAIL turns its service or tier red.
  An ERROR result is drawn the same way in orange ("could not check"): it is
  never evidence either way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import assert_never

from netcontract import sanitize
from netcontract.contract import Contract
from netcontract.report.drawing import FLOW, INTERNAL_FILL, INTERNAL_LINE, MEMBER, ORANGE, RED
from netcontract.report.formats import GraphFormat
from netcontract.results import Result, Verdict


@dataclass
class _Arrow:
    src: str
    dst: str
    colour: str
    labels: list[str] = field(default_factory=list)


@dataclass
class _Graph:
    """What to draw, independent of the output format."""

    contract: Contract
    flows: list[tuple[str, str, bool]]  # (from, to, both directions)
    members: list[tuple[str, str]]  # (service, non-home tier)
    never: list[tuple[str, str]]
    arrows: list[_Arrow]
    outsiders: list[str]  # probe targets that are not services (canaries, unknown names)
    node_colour: dict[str, str]  # service -> colour
    tier_colour: dict[str, str]  # tier -> colour

    homes: dict[str, list[str]] = field(
        default_factory=dict
    )  # tier -> the services whose home it is

    def home_members(self, tier: str) -> list[str]:
        if not self.homes:  # once, not once per tier: 8000 tiers and services stay linear
            for n in self.contract.services:
                self.homes.setdefault(home(self.contract, n), []).append(n)
        return self.homes.get(tier, [])

    def outside(self) -> list[str]:
        """Services in no tier: on the host's network, or on none."""
        return [n for n, s in self.contract.services.items() if s.network_mode in ("host", "none")]

    def sharers(self) -> list[tuple[str, str]]:
        """(sharer, namespace owner) pairs of the contract's services."""
        return [
            (n, s.owner)
            for n, s in self.contract.services.items()
            if s.owner in self.contract.services
        ]

    def host_links(self) -> list[tuple[str, str]]:
        """(host-network service, internal tier) pairs."""
        internal = [k for k, t in self.contract.tiers.items() if t.internal]
        return [
            (n, t)
            for n, s in self.contract.services.items()
            if s.network_mode == "host"
            for t in internal
        ]


def home(contract: Contract, name: str) -> str:
    """The tier a service is drawn in: its home tier, or its namespace owner's; "" for none."""
    svc = contract.services[name]
    owner = contract.services.get(svc.owner) if svc.owner else None
    return owner.home_tier if owner is not None else svc.home_tier


def _flows(contract: Contract) -> list[tuple[str, str, bool]]:
    allowed = contract.allowed_flows()
    out: list[tuple[str, str, bool]] = []
    order = {t: i for i, t in enumerate(contract.tiers)}
    for a, b in sorted(allowed, key=lambda f: (order[f[0]], order[f[1]])):
        if (b, a) in allowed:
            if order[a] < order[b]:
                out.append((a, b, True))
        else:
            out.append((a, b, False))
    return out


def _colour(r: Result) -> str | None:
    return RED if r.verdict is Verdict.FAIL else ORANGE if r.verdict is Verdict.ERROR else None


def _build(contract: Contract, violations: Sequence[Result]) -> _Graph:
    owner = {
        a: n for n, s in contract.services.items() for names in s.aliases.values() for a in names
    }
    g = _Graph(
        contract=contract,
        flows=_flows(contract),
        members=[(n, t) for n, s in contract.services.items() for t in s.tiers if t != s.home_tier],
        never=list(contract.isolated_pairs()),
        arrows=[],
        outsiders=[],
        node_colour={},
        tier_colour={},
    )
    arrows: dict[tuple[str, str, str], _Arrow] = {}
    for r in violations:
        colour = _colour(r)
        if colour is None:
            continue
        if r.src and r.dst and r.src in contract.services:
            dst = r.dst if r.dst in contract.services else owner.get(r.dst, r.dst)
            if dst not in contract.services and dst not in g.outsiders:
                g.outsiders.append(dst)
            arrow = arrows.setdefault((r.src, dst, colour), _Arrow(r.src, dst, colour))
            if r.kind not in arrow.labels:
                arrow.labels.append(r.kind)
            continue
        subject = r.subject.split("@")[0]
        target = g.node_colour if subject in contract.services else g.tier_colour
        known = subject in contract.services or subject in contract.tiers
        if known and target.get(subject) != RED:  # red (FAIL) wins over orange (ERROR)
            target[subject] = colour
    g.arrows = list(arrows.values())
    return g


def render_graph(contract: Contract, fmt: GraphFormat, violations: Sequence[Result] = ()) -> str:
    """The contract as a Mermaid or DOT diagram (see the module docstring), `violations` in red or orange."""
    g = _build(contract, violations)
    match fmt:
        case GraphFormat.MERMAID:
            return _mermaid(g)
        case GraphFormat.DOT:
            return _dot(g)
        case _:
            assert_never(fmt)


# -- Mermaid ----------------------------------------------------------------


def _mid(prefix: str, name: str) -> str:
    # Names are DNS labels or tier keys; '-' and '.' are not safe in Mermaid ids.
    return prefix + re.sub(r"[^A-Za-z0-9_]", lambda m: f"_{ord(m.group()):x}_", name)


def _mtext(text: str) -> str:
    # Mermaid labels take HTML (we add `<br/>` ourselves): quotes and angle brackets as entities,
    # control characters escaped visibly.
    return sanitize.line(text).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _mermaid(g: _Graph) -> str:
    c = g.contract
    lines = ["flowchart LR"]
    for key, tier in c.tiers.items():
        label = f"{key}: internal" if tier.internal else key
        lines.append(
            f'  subgraph {_mid("tier_", key)}["{_mtext(label)}<br/>{_mtext(tier.network)}"]'
        )
        lines += [
            f'    {_mid("svc_", n)}["{_mtext(n)}"]'
            if c.services[n].endpoints
            else f'    {_mid("svc_", n)}(["{_mtext(n)}<br/>namespace of {_mtext(c.services[n].owner)}"])'
            for n in g.home_members(key)
        ]
        lines.append("  end")
    lines += [
        f'  {_mid("svc_", n)}{{{{"{_mtext(n)}<br/>{_mtext(c.services[n].network_mode or "")} network"}}}}'
        for n in g.outside()
    ]
    lines += [f'  {_mid("ext_", o)}[/"{_mtext(o)}"/]' for o in g.outsiders]
    links: list[str] = []
    styles: list[str] = []

    def link(text: str, style: str) -> None:
        styles.append(f"  linkStyle {len(links)} {style}")
        links.append(f"  {text}")

    for a, b, both in g.flows:
        arrow = "<==>" if both else "==>"
        link(f"{_mid('tier_', a)} {arrow} {_mid('tier_', b)}", f"stroke:{FLOW},stroke-width:3px")
    for svc, other in g.members:
        link(f"{_mid('svc_', svc)} -.- {_mid('tier_', other)}", f"stroke:{MEMBER},stroke-width:1px")
    for svc, owner in g.sharers():
        link(
            f"{_mid('svc_', svc)} -.-|namespace| {_mid('svc_', owner)}",
            f"stroke:{MEMBER},stroke-width:2px",
        )
    for svc, tkey in g.host_links():
        link(
            f"{_mid('svc_', svc)} -.->|host network| {_mid('tier_', tkey)}",
            f"stroke:{INTERNAL_LINE},stroke-width:2px,stroke-dasharray:2 4,color:{INTERNAL_LINE}",
        )
    for a, b in g.never:
        link(
            f"{_mid('svc_', a)} -.->|never| {_mid('svc_', b)}",
            f"stroke:{RED},stroke-width:2px,stroke-dasharray:2 4,color:{RED}",
        )
    for arrow_ in g.arrows:
        dst = _mid("svc_", arrow_.dst) if arrow_.dst in c.services else _mid("ext_", arrow_.dst)
        label = _mtext(", ".join(arrow_.labels))
        link(
            f'{_mid("svc_", arrow_.src)} ==>|"{label}"| {dst}',
            f"stroke:{arrow_.colour},stroke-width:3px,color:{arrow_.colour}",
        )
    lines += links
    lines += styles
    for key, tier in c.tiers.items():
        line = g.tier_colour.get(key, INTERNAL_LINE if tier.internal else FLOW)
        fill = INTERNAL_FILL if tier.internal else "#f5f8fc"
        dash = ",stroke-dasharray:6 3" if tier.internal else ""
        lines.append(
            f"  style {_mid('tier_', key)} fill:{fill},stroke:{line},stroke-width:2px{dash}"
        )
    for name in c.services:
        if not c.services[name].endpoints and name not in g.node_colour:
            lines.append(f"  style {_mid('svc_', name)} stroke:{MEMBER},stroke-dasharray:4 3")
    for name, colour in g.node_colour.items():
        lines.append(
            f"  style {_mid('svc_', name)} stroke:{colour},stroke-width:3px,color:{colour}"
        )
    for o in g.outsiders:
        lines.append(f"  style {_mid('ext_', o)} stroke:{RED},stroke-dasharray:3 3")
    return "\n".join(lines) + "\n"


# -- Graphviz DOT -------------------------------------------------------------


def _q(text: str) -> str:
    text = sanitize.block(text).replace(
        "\\", "\\\\"
    )  # our own "\n" stays a line break in the label
    return '"' + text.replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kv: str) -> str:
    return "[" + ", ".join(f"{k}={_q(v)}" for k, v in kv.items()) + "]"


def _anchor(tier: str) -> str:
    return _q(f"tier:{tier}")


def _svc(name: str) -> str:
    return _q(f"svc:{name}")


def _cluster(tier: str) -> str:
    return f"cluster_{re.sub(r'[^A-Za-z0-9_]', '_', tier)}"


_LEGEND = (
    '<<table border="0" cellspacing="2" cellpadding="1">'
    f'<tr><td align="left"><font color="{FLOW}"><b>&#x21D2;</b></font> allowed tier flow (policy.allow)</td>'
    f'<td align="left"><font color="{MEMBER}">- - -</font> also attached to that tier</td></tr>'
    f'<tr><td align="left"><font color="{RED}">&#183;&#183;&#183;&gt;</font> never (policy.isolate)</td>'
    f'<td align="left"><font color="{INTERNAL_LINE}">dashed, filled</font> internal tier: no egress</td></tr>'
    f'<tr><td align="left"><font color="{RED}"><b>&#x2192;</b></font> violation (FAIL)</td>'
    f'<td align="left"><font color="{ORANGE}"><b>&#x2192;</b></font> could not check (ERROR)</td></tr>'
    "</table>>"
)


def _dot(g: _Graph) -> str:
    c = g.contract
    title = f"netcontract: {c.project}" if c.project else "netcontract"
    lines = [
        f"digraph {_q(title)} {{",
        '  graph [rankdir=LR, compound=true, newrank=true, fontname="Helvetica", fontsize=11, '
        "nodesep=0.35, ranksep=1.1, labelloc=b, labeljust=l];",
        f"  label={_LEGEND};",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for key, tier in c.tiers.items():
        internal = tier.internal
        line = g.tier_colour.get(key, INTERNAL_LINE if internal else FLOW)
        label = f"{key} (internal)\n{tier.network}" if internal else f"{key}\n{tier.network}"
        style = "rounded,filled,dashed" if internal else "rounded,filled"
        fill = INTERNAL_FILL if internal else "#f5f8fc"
        lines.append(f"  subgraph {_cluster(key)} {{")
        lines.append(
            f"    graph {_attrs(label=label, labelloc='t', style=style, fillcolor=fill, color=line, penwidth='2')};"
        )
        lines.append(f"    {_anchor(key)} [shape=point, style=invis, width=0.01, height=0.01];")
        for name in g.home_members(key):
            colour = g.node_colour.get(name)
            extra = f", color={_q(colour)}, fontcolor={_q(colour)}, penwidth=3" if colour else ""
            owner = c.services[name].owner
            if owner:
                extra += ', style="rounded,dashed"'
            label = f"{name}\n(namespace of {owner})" if owner else name
            lines.append(f"    {_svc(name)} [label={_q(label)}{extra}];")
        # One column per tier: the tier flows order the columns left to right.
        same = " ".join([_anchor(key), *(_svc(n) for n in g.home_members(key))])
        lines.append(f"    {{rank=same; {same}}}")
        lines.append("  }")
    for name in g.outside():
        colour = g.node_colour.get(name, INTERNAL_LINE)
        label = name + "\n(" + str(c.services[name].network_mode) + " network)"
        lines.append(
            f"  {_svc(name)} "
            + _attrs(label=label, shape="hexagon", color=colour, fontcolor=colour, style="dashed")
            + ";"
        )
    for svc, owner in g.sharers():
        lines.append(
            f"  {_svc(svc)} -> {_svc(owner)} "
            + _attrs(
                label="namespace",
                style="dashed",
                arrowhead="none",
                color=MEMBER,
                constraint="false",
            )
            + ";"
        )
    for svc, tkey in g.host_links():
        lines.append(
            f"  {_svc(svc)} -> {_anchor(tkey)} "
            + _attrs(
                lhead=_cluster(tkey),
                label="host network",
                style="dotted",
                color=INTERNAL_LINE,
                fontcolor=INTERNAL_LINE,
            )
            + ";"
        )
    for o in g.outsiders:
        lines.append(
            f"  {_q('ext:' + o)} {_attrs(label=o, shape='note', color=RED, fontcolor=RED, style='dashed')};"
        )
    for a, b, both in g.flows:
        lines.append(
            f"  {_anchor(a)} -> {_anchor(b)} "
            + _attrs(
                ltail=_cluster(a),
                lhead=_cluster(b),
                dir="both" if both else "forward",
                color=FLOW,
                penwidth="2.5",
                arrowsize="0.9",
            )
            + ";"
        )
    order = {t: i for i, t in enumerate(c.tiers)}
    for svc, other in g.members:
        # Written left to right as the columns run, so dot routes the line straight.
        if order[other] < order[c.services[svc].home_tier]:
            ends, clip = f"{_anchor(other)} -> {_svc(svc)}", {"ltail": _cluster(other)}
        else:
            ends, clip = f"{_svc(svc)} -> {_anchor(other)}", {"lhead": _cluster(other)}
        lines.append(
            f"  {ends} "
            + _attrs(**clip, style="dashed", arrowhead="none", color=MEMBER, constraint="false")
            + ";"
        )
    for a, b in g.never:
        lines.append(
            f"  {_svc(a)} -> {_svc(b)} "
            + _attrs(
                label="never",
                style="dotted",
                color=RED,
                fontcolor=RED,
                penwidth="1.8",
                constraint="false",
            )
            + ";"
        )
    for arrow in g.arrows:
        dst = _svc(arrow.dst) if arrow.dst in c.services else _q("ext:" + arrow.dst)
        lines.append(
            f"  {_svc(arrow.src)} -> {dst} "
            + _attrs(
                label=", ".join(arrow.labels),
                color=arrow.colour,
                fontcolor=arrow.colour,
                penwidth="3",
                constraint="false" if arrow.dst in c.services else "true",
            )
            + ";"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"

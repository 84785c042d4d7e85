"""The line edits scaffold makes: a service's `networks:` block, top-level tier definitions,
removing a network no service uses any more, and (`--unpublish`) `ports:`. Pure.

Every edit is whole lines placed from ruamel.yaml round-trip positions, in the
file's own indentation; a shape it cannot edit safely (flow style, an anchor
defined on the value, settings it would drop) is refused with one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netcontract.compose.project import ComposeProject
from netcontract.contract import Contract
from netcontract.draft.yaml_text import scalar
from netcontract.errors import ScaffoldError
from netcontract.scaffold.splice import Edit, block_end, key_comment, leading_comments, position

Entries = list[tuple[str, tuple[str, ...]]]  # (network key, aliases) for one service


@dataclass(frozen=True)
class Style:
    """The file's own layout, which new lines copy: mapping indentation, sequence-dash offset, line ending."""

    step: int  # mapping indentation step
    seq: int  # how far '-' sits past its key
    newline: str


def _indent(n: int) -> str:
    return " " * n


def service_edit(
    lines: list[str],
    services: Any,
    compose_name: str,
    entries: Entries,
    style: Style,
    path: str,
) -> Edit | None:
    """The edit that gives service `compose_name` exactly the `entries` networks (with aliases), or None
    when it already has them. ScaffoldError (one line) for a service it cannot edit safely: not a block
    mapping, on network_mode, or with network settings it would drop.
    """
    svc = services[compose_name]
    where = f"{path}: services.{compose_name}"
    if svc is None or not hasattr(svc, "lc") or svc.fa.flow_style():
        raise ScaffoldError(
            f"{where}: not a block mapping; scaffold edits block-style services only"
        )
    if "network_mode" in svc:
        raise ScaffoldError(
            f"{where}: uses network_mode {svc['network_mode']}; remove it by hand to join tiers"
        )
    if _normalized(svc.get("networks")) == {k: set(a) for k, a in entries}:
        return None
    current = svc.get("networks")
    if isinstance(current, dict):
        for key, spec in current.items():
            extra = sorted(set(spec or {}) - {"aliases"})
            if key in dict(entries) and extra:
                raise ScaffoldError(
                    f"{where}.networks.{key}: has {', '.join(extra)}; scaffold would drop it, edit by hand"
                )
    at = position(svc, "networks")
    svc_line, svc_col = position(services, compose_name) or (0, 0)
    key_col = at[1] if at else svc_col + style.step
    if at is not None:
        anchor = getattr(getattr(current, "anchor", None), "value", None)
        if anchor and f"&{anchor}" in lines[at[0]]:
            raise ScaffoldError(
                f"{where}.networks: defines anchor &{anchor} that other keys may use; edit by hand"
            )
        comment = key_comment(lines[at[0]])
        new = _render_networks(entries, key_col, style, comment, mapping=isinstance(current, dict))
        return Edit(at[0], block_end(lines, at[0], at[1]), tuple(new))
    end = block_end(lines, svc_line, svc_col)
    return Edit(end, end, tuple(_render_networks(entries, key_col, style, "", mapping=False)))


def _normalized(value: Any) -> dict[str, set[str]] | None:
    if isinstance(value, list):
        return {str(v): set() for v in value}
    if isinstance(value, dict):
        return {
            str(k): {str(a) for a in ((v or {}).get("aliases") or [])} for k, v in value.items()
        }
    return None


def _render_networks(
    entries: Entries, col: int, style: Style, comment: str, *, mapping: bool
) -> list[str]:
    """A `networks:` block: a list, unless there are aliases or the file used the mapping form."""
    nl, pad = style.newline, _indent(col)
    out = [f"{pad}networks:{comment}{nl}"]
    if not mapping and not any(aliases for _, aliases in entries):
        return out + [f"{_indent(col + style.seq)}- {scalar(key)}{nl}" for key, _ in entries]
    inner = _indent(col + style.step)
    for key, aliases in entries:
        if not aliases:
            out.append(f"{inner}{scalar(key)}: {{}}{nl}")
            continue
        out += [f"{inner}{scalar(key)}:{nl}", f"{_indent(col + 2 * style.step)}aliases:{nl}"]
        out += [f"{_indent(col + 2 * style.step + style.seq)}- {scalar(a)}{nl}" for a in aliases]
    return out


def top_level_edits(
    lines: list[str],
    doc: Any,
    contract: Contract,
    compose: ComposeProject,
    keys: Mapping[str, str],
    desired: Mapping[str, Entries],
    style: Style,
    path: str,
) -> list[Edit]:
    """The edits of the top-level `networks:`: remove a network no service uses any more, fix an
    existing tier definition's internal flag and driver, add the tiers the file lacks. ScaffoldError
    for a block it cannot edit safely.
    """
    nets = doc.get("networks")
    at = position(doc, "networks")
    if at is not None and (not hasattr(nets, "lc") or nets.fa.flow_style()) and nets is not None:
        raise ScaffoldError(
            f"{path}: top-level networks is not a block mapping; scaffold edits block style only"
        )
    col = (at[1] if at else 0) + style.step
    nl = style.newline
    before = {n.key for s in compose.services for n in s.networks}
    after = {n.key for s in compose.services if s.name not in desired for n in s.networks}
    after |= {k for entries in desired.values() for k, _ in entries}
    edits: list[Edit] = []
    for key in list(nets or {}):
        if key in before and key not in after:
            line, kcol = position(nets, key) or (0, 0)
            edits.append(
                Edit(leading_comments(lines, line, kcol), block_end(lines, line, kcol), ())
            )
    new: list[str] = []
    members = {t for s in contract.services.values() for t in s.tiers}
    for tier_key, tier in contract.tiers.items():
        key = keys[tier_key]
        if tier_key not in members:
            continue
        if key in (nets or {}):
            edits += _fix_definition(
                lines, nets, key, tier.internal, tier.driver, compose, style, path
            )
            continue
        new += [
            f"{_indent(col)}{scalar(key)}:{nl}",
            f"{_indent(col + style.step)}name: {scalar(tier.network)}{nl}",
        ]
        if tier.driver != "bridge":
            new.append(f"{_indent(col + style.step)}driver: {scalar(tier.driver)}{nl}")
        if tier.internal:
            new.append(f"{_indent(col + style.step)}internal: true{nl}")
    if new and at is None:
        new = [nl, f"networks:{nl}", *new]
        edits.append(Edit(len(lines), len(lines), tuple(new)))
    elif new and at is not None:
        end = block_end(lines, at[0], at[1])
        edits.append(Edit(end, end, tuple(new)))
    return edits


def _fix_definition(
    lines: list[str],
    nets: Any,
    key: str,
    internal: bool,
    driver: str,
    compose: ComposeProject,
    style: Style,
    path: str,
) -> list[Edit]:
    """Make an existing tier definition internal (or not) and of the contract's driver."""
    have = compose.networks[key]
    if have.external or (have.internal == internal and have.driver == driver):
        return []
    spec = nets[key]
    line, col = position(nets, key) or (0, 0)
    if spec is not None and (not hasattr(spec, "lc") or (spec.fa.flow_style() and len(spec))):
        raise ScaffoldError(
            f"{path}: networks.{key}: written in flow style; set internal/driver by hand"
        )
    wanted = {"internal": "true" if internal else "false", "driver": scalar(driver)}
    edits: list[Edit] = []
    missing: list[str] = []
    for name, value in wanted.items():
        if (name == "internal" and have.internal == internal) or (
            name == "driver" and have.driver == driver
        ):
            continue
        kat = position(spec, name) if spec is not None else None
        if kat is not None:
            edits.append(
                Edit(
                    kat[0],
                    block_end(lines, *kat),
                    (f"{_indent(kat[1])}{name}: {value}{style.newline}",),
                )
            )
        else:
            missing.append(f"{_indent(col + style.step)}{name}: {value}{style.newline}")
    if missing and (spec is None or not len(spec)):
        edits.append(
            Edit(line, line + 1, (f"{_indent(col)}{scalar(key)}:{style.newline}", *missing))
        )
    elif missing:
        end = block_end(lines, line, col)
        edits.append(Edit(end, end, tuple(missing)))
    return edits


def unpublish_edits(
    lines: list[str], services: Any, contract: Contract, names: Mapping[str, str], path: str
) -> list[Edit]:
    """`--unpublish`: delete the `ports:` of every service on an internal tier (ScaffoldError: from an anchor)."""
    edits = []
    for name, svc in contract.services.items():
        if not any(contract.tiers[t].internal for t in svc.tiers):
            continue
        node = services[names[name]]
        at = position(node, "ports")
        if at is not None:
            edits.append(Edit(at[0], block_end(lines, *at), ()))
        elif "ports" in node:
            raise ScaffoldError(
                f"{path}: services.{names[name]}.ports: comes from an anchor; remove it by hand"
            )
    return edits

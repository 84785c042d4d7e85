"""`scaffold`: rewrite a compose file's networks, memberships and aliases to match a contract.

Only network lines change: each contract service's `networks:` block, the
top-level tier definitions, and the old network once no service uses it. The
edits are whole lines placed with ruamel.yaml's round-trip positions (see
scaffold/splice.py), so comments, anchors, quoting and key order elsewhere stay
byte-identical. Before anything is written the candidate is checked twice:
read as compose reads it, it must satisfy the contract's network, membership
and alias rules, and apart from networks it must load to the same data as the
original. Both checks run on netcontract's reader, and again on Compose's own
loader (`docker compose config`) when the command selected it and a binary is
found. Planning itself always uses netcontract's reader: it edits this one
file, line by line. Writing, backup and restore live in scaffold/files.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from netcontract.compose.lint import check_service_map
from netcontract.compose.loader import load_project
from netcontract.compose.project import ComposeOptions, ComposeProject, to_state
from netcontract.compose.reader import parse_compose_text, read_text
from netcontract.contract import Contract
from netcontract.errors import NetcontractError, ScaffoldError
from netcontract.results import Verdict
from netcontract.scaffold.edits import (
    Entries,
    Style,
    service_edit,
    top_level_edits,
    unpublish_edits,
)
from netcontract.scaffold.splice import Edit, apply_edits, position, sequence_offset
from netcontract.structural import structural_results
from netcontract.yaml_input import did_you_mean


@dataclass(frozen=True)
class Plan:
    """What scaffold would write to `path`: the original text, the new one, and notes for the user."""

    path: str
    original: str
    text: str
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the new text differs from the original."""
        return self.text != self.original

    def diff(self) -> str:
        """The change as a unified diff, original first."""
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.text.splitlines(keepends=True),
                fromfile=f"{self.path} (now)",
                tofile=f"{self.path} (scaffolded)",
            )
        )


def plan_scaffold(
    contract: Contract,
    path: str,
    service_map: Mapping[str, str] | None = None,
    *,
    unpublish: bool = False,
    project: str | None = None,
    reader: Callable[[str], str] = read_text,
) -> Plan:
    """The rewritten text of the compose file at `path` (nothing is written here)."""
    compose = load_project(ComposeOptions(files=(path,), project=project, loader="builtin"), reader)
    original = reader(path)
    try:
        doc = YAML(typ="rt").load(original)
    except YAMLError as exc:
        raise ScaffoldError(
            f"{path}: ruamel.yaml cannot read it: {str(exc).splitlines()[0]}"
        ) from None
    services = doc.get("services")
    if position(doc, "services") is None or not hasattr(services, "lc") or services.fa.flow_style():
        raise ScaffoldError(
            f"{path}: services must be a block mapping written in the file for scaffold to edit it"
        )
    names = _compose_names(contract, compose, dict(service_map or {}), path)
    lines = original.splitlines(keepends=True)
    style = _style(lines, doc, services, original)
    keys = _tier_keys(contract, compose, doc, path)
    edits: list[Edit] = []
    desired: dict[str, Entries] = {}
    for name, svc in contract.services.items():
        entries = [(keys[t], svc.aliases.get(t, ())) for t in svc.tiers]
        desired[names[name]] = entries
        edit = service_edit(lines, services, names[name], entries, style, path)
        if edit is not None:
            edits.append(edit)
    edits += top_level_edits(lines, doc, contract, compose, keys, desired, style, path)
    notes = _notes(contract, compose, names, keys, desired, unpublish)
    if unpublish:
        edits += unpublish_edits(lines, services, contract, names, path)
    text = apply_edits(lines, edits, style.newline)
    if text != original:
        _verify(contract, compose, names, path, original, text, unpublish)
        if reader is read_text:
            notes += _verify_with_compose(contract, compose, names, path, original, text, unpublish)
    return Plan(path, original, text, tuple(notes))


def _compose_names(
    contract: Contract, compose: ComposeProject, service_map: dict[str, str], path: str
) -> dict[str, str]:
    check_service_map(contract, service_map)
    names = {name: service_map.get(name, name) for name in contract.services}
    present = [s.name for s in compose.services]
    for name, compose_name in names.items():
        if compose.service(compose_name) is None:
            hint = did_you_mean(compose_name, present, cutoff=0.5, then=f" pass --map {name}={{}}")
            raise ScaffoldError(
                f"{path}: contract service {name!r} has no service {compose_name!r} here{hint}"
            )
    return names


def _style(lines: list[str], doc: Any, services: Any, original: str) -> Style:
    newline = "\r\n" if "\r\n" in original else "\n"
    s_col = position(doc, "services")
    step = 2
    first = next(iter(services), None)
    if first is not None and s_col is not None:
        step = max((position(services, first) or (0, s_col[1] + 2))[1] - s_col[1], 1)
    seq = None
    for name in services:
        svc = services[name]
        for key in getattr(getattr(svc, "lc", None), "data", {}) or {}:
            at = position(svc, key)
            if at is not None and hasattr(svc[key], "append") and not svc[key].fa.flow_style():
                seq = sequence_offset(lines, *at)
            if seq is not None:
                return Style(step, seq, newline)
    return Style(step, step, newline)


def _tier_keys(contract: Contract, compose: ComposeProject, doc: Any, path: str) -> dict[str, str]:
    """tier -> the compose network key that names the tier's network (an existing one, or the tier key)."""
    declared = doc.get("networks") or {}
    keys = {}
    for tier_key, tier in contract.tiers.items():
        existing = [
            k for k, n in compose.networks.items() if n.name == tier.network and (k in declared)
        ]
        if existing:
            keys[tier_key] = existing[0]
        elif tier_key in declared:
            other = compose.networks[tier_key].name
            raise ScaffoldError(
                f"{path}: networks.{tier_key} names network {other}, not {tier.network}: rename one of them"
            )
        else:
            keys[tier_key] = tier_key
    return keys


def _notes(
    contract: Contract,
    compose: ComposeProject,
    names: Mapping[str, str],
    keys: Mapping[str, str],
    desired: Mapping[str, Entries],
    unpublish: bool,
) -> list[str]:
    notes = []
    left = {n.key for s in compose.services if s.name in desired for n in s.networks}
    tier_keys = set(keys.values())
    for other in compose.services:
        if other.name in desired:
            continue
        stranded = sorted(n.key for n in other.networks if n.key in left and n.key not in tier_keys)
        if stranded:
            notes.append(
                f"{other.name} is not in the contract: it stays on {', '.join(stranded)}, which no contract service "
                "is on any more (add it to the contract if it must reach them)"
            )
    for name, svc in contract.services.items():
        internal = [t for t in svc.tiers if contract.tiers[t].internal]
        declared = compose.service(names[name])
        published = declared.published if declared else ()
        if internal and published and not unpublish:
            ports = ", ".join(str(p) for p in published)
            notes.append(
                f"{names[name]} publishes {ports} though it is on internal {', '.join(internal)}: lint still reports "
                f"exposure:{name}; scaffold leaves ports alone (remove them by hand, or pass --unpublish)"
            )
    return notes


def _verify(
    contract: Contract,
    compose: ComposeProject,
    names: Mapping[str, str],
    path: str,
    original: str,
    text: str,
    unpublish: bool,
) -> None:
    """Refuse unless the candidate meets the network rules and changes nothing but networks."""
    try:
        candidate = load_project(
            ComposeOptions(files=(path,), project=compose.name, loader="builtin"), lambda _: text
        )
    except NetcontractError as exc:
        raise ScaffoldError(
            f"{path}: the rewritten file would not load ({exc}); nothing written"
        ) from None
    rename = {compose_name: name for name, compose_name in names.items()}
    for r in structural_results(contract, to_state(candidate, rename)):
        if r.verdict is Verdict.FAIL and r.kind in ("network", "networks", "alias"):
            raise ScaffoldError(
                f"{path}: the rewritten file would still fail {r.id}: {r.reason}; nothing written"
            )
    dropped = {
        names[n]
        for n, s in contract.services.items()
        if unpublish and any(contract.tiers[t].internal for t in s.tiers)
    }
    if _without_networks(parse_compose_text(original, path)[0], dropped) != _without_networks(
        parse_compose_text(text, path)[0], dropped
    ):
        raise ScaffoldError(
            f"{path}: the rewrite changed more than networks (a netcontract bug); nothing written"
        )


def _verify_with_compose(
    contract: Contract,
    compose: ComposeProject,
    names: Mapping[str, str],
    path: str,
    original: str,
    text: str,
    unpublish: bool,
) -> list[str]:
    """The same two checks on Compose's own reading of both texts, when the command selected it."""
    from netcontract.compose.loader import describe, read_texts

    read = read_texts(path, [original, text], compose.name)
    if read is None:
        return []
    binary, (before, after) = read
    if isinstance(before, NetcontractError):
        return [
            f"{binary.name} {binary.version} cannot read {path} as it is ({before}): the result was checked "
            "with netcontract's reader only"
        ]
    if isinstance(after, NetcontractError):
        raise ScaffoldError(
            f"{path}: {binary.name} {binary.version} would not read the rewritten file ({after}); "
            "nothing written"
        )
    (old_model, _), (new_model, candidate) = before, after
    rename = {compose_name: name for name, compose_name in names.items()}
    for r in structural_results(contract, to_state(candidate, rename)):
        if r.verdict is Verdict.FAIL and r.kind in ("network", "networks", "alias"):
            raise ScaffoldError(
                f"{path}: read by {binary.name} {binary.version}, the rewritten file would still fail "
                f"{r.id}: {r.reason}; nothing written"
            )
    dropped = {
        names[n]
        for n, s in contract.services.items()
        if unpublish and any(contract.tiers[t].internal for t in s.tiers)
    }
    if _without_networks(old_model.active, dropped) != _without_networks(new_model.active, dropped):
        raise ScaffoldError(
            f"{path}: read by {binary.name} {binary.version}, the rewrite changed more than networks "
            "(a netcontract bug); nothing written"
        )
    return [f"the result was checked with {describe(binary)}"]


def _without_networks(data: Mapping[str, Any], unpublished: set[str]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k != "networks"}
    services = out.get("services") or {}
    out["services"] = {
        name: {
            k: v
            for k, v in (svc or {}).items()
            if k != "networks" and not (k == "ports" and name in unpublished)
        }
        for name, svc in services.items()
    }
    return out

"""`init`: a draft contract from a State (read from compose files or from the engine). Pure.

The draft describes the stack as it is, so it passes `lint`/`check` against
that same stack; where netcontract had to guess (the home tier, the allowed
flows, health) it says so in a YAML comment. Whatever cannot be a contract
entry (a service on `network_mode: host`, an alias that is not a DNS name, an
alias two services share) is left out with a comment that says why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from netcontract.draft.yaml_text import flow, scalar
from netcontract.names import is_dns_name, is_label, is_tier_key
from netcontract.state import Container, State

_NO_TIER = {"host", "none", "bridge"}  # Docker's own networks: no user-defined DNS, never a tier


@dataclass(frozen=True)
class DraftHints:
    """What a State does not carry: how the draft was made and per-service facts from its source."""

    command: str
    tier_keys: Mapping[str, str] = field(default_factory=dict)  # network name -> tier key (compose's key)
    ports: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # service -> declared TCP ports
    healthchecks: Mapping[str, bool | None] = field(default_factory=dict)  # service -> declares a healthcheck
    skipped: Mapping[str, str] = field(default_factory=dict)  # service -> why it is not in the draft
    external: frozenset[str] = frozenset()  # networks created outside the stack


@dataclass
class _Service:
    name: str
    containers: list[Container]
    tiers: list[str] = field(default_factory=list)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _tier_key(network: str, project: str | None, taken: set[str]) -> str:
    base = network.removeprefix(f"{project}_") if project else network
    key = re.sub(r"[^a-z0-9_-]", "_", base.lower())[:60]
    if not key or not key[0].isalpha():
        key = f"net_{key}"[:60]
    out, n = key, 2
    while out in taken or not is_tier_key(out):
        out, n = f"{key}_{n}", n + 1
    taken.add(out)
    return out


def draft_contract(state: State, hints: DraftHints) -> str:
    services: dict[str, _Service] = {}
    skipped = dict(hints.skipped)
    for c in state.containers:
        if not c.service or (state.project is not None and c.project != state.project):
            continue
        services.setdefault(c.service, _Service(c.service, [])).containers.append(c)

    keys: dict[str, str] = {}
    taken: set[str] = set()
    for net, key in hints.tier_keys.items():
        if is_tier_key(key) and key not in taken:
            keys[net] = key
            taken.add(key)
    kept: list[_Service] = []
    for svc in services.values():
        networks = list(dict.fromkeys(n for c in svc.containers for n in c.networks if n not in _NO_TIER))
        if not is_label(svc.name):
            skipped[svc.name] = "its name is not a DNS label, which a contract service name must be"
        elif not networks:
            modes = sorted({c.network_mode or "no network" for c in svc.containers})
            skipped[svc.name] = f"it joins no user-defined network ({', '.join(modes)}), so no tier can hold it"
        else:
            for net in networks:
                keys.setdefault(net, _tier_key(net, state.project, taken))
            svc.tiers = [keys[n] for n in networks]
            kept.append(svc)
    _aliases(kept, keys)
    _exposure(state, kept, keys)
    return _render(state, hints, kept, keys, skipped)


def _exposure(state: State, kept: list[_Service], keys: Mapping[str, str]) -> None:
    """A published port on an internal tier is a finding the draft cannot paper over: say so."""
    internal = {keys[n.name] for n in state.networks if n.internal and n.name in keys}
    for svc in kept:
        tiers = [t for t in svc.tiers if t in internal]
        published = list(dict.fromkeys(str(p) for c in svc.containers for p in c.published))
        if tiers and published:
            svc.notes.append(
                f"publishes {', '.join(published)} on the host while on internal {', '.join(tiers)}: "
                f"lint and check report exposure:{svc.name} (no contract can allow it)"
            )


def _aliases(kept: list[_Service], keys: Mapping[str, str]) -> None:
    """Declared aliases per tier: an endpoint's aliases minus the names Docker and compose add."""
    owners: dict[tuple[str, str], str] = {(t, s.name): s.name for s in kept for t in s.tiers}
    for svc in kept:
        for c in svc.containers:
            implicit = {svc.name, c.name, c.id, c.short_id, ""}
            for ep in c.endpoints:
                tier = keys.get(ep.network)
                if tier is None or tier not in svc.tiers:
                    continue
                for alias in ep.aliases:
                    if alias in implicit or alias in svc.aliases.get(tier, []):
                        continue
                    owner = owners.get((tier, alias))
                    if not is_dns_name(alias):
                        svc.notes.append(f"alias {alias!r} on {tier} left out: not a lower-case DNS name")
                    elif owner is not None and owner != svc.name:
                        svc.notes.append(
                            f"alias {alias} on {tier} left out: {owner} has it too (Docker round-robins; "
                            "check reports alias-unique)"
                        )
                    else:
                        owners[(tier, alias)] = svc.name
                        svc.aliases.setdefault(tier, []).append(alias)


def _render(
    state: State, hints: DraftHints, kept: list[_Service], keys: Mapping[str, str], skipped: Mapping[str, str]
) -> str:
    out = [
        f"# Draft network contract written by `{hints.command}`.",
        "# It describes the stack as it is. Lines marked 'guessed' are netcontract's guesses:",
        "# review them, then tighten the contract (tiers, policy.isolate) to what it should be.",
        "version: 1",
    ]
    if state.project:
        out.append(f"project: {scalar(state.project)}")
    out += ["", "tiers:"]
    used = list(dict.fromkeys(t for s in kept for t in s.tiers))
    by_key = {k: n for n, k in keys.items()}
    for key in used:
        name = by_key[key]
        net = state.network(name)
        out += [f"  {key}:", f"    network: {scalar(name)}"]
        if name in hints.external or net is None:
            out.append("    # guessed: created outside the stack; its driver and internal flag are not known here")
        else:
            if net.driver and net.driver != "bridge":
                out.append(f"    driver: {scalar(net.driver)}")
            if net.internal:
                out.append("    internal: true")
                foreign = [c.label for c in state.attached(name) if c.project != state.project or not c.service]
                if foreign:
                    out.append(f"    # also attached, not of this stack: {', '.join(foreign)} (check reports foreign:{key})")
    out += ["", "services:"]
    for svc in kept:
        out += _render_service(svc, hints)
    for name, why in skipped.items():
        out.append(f"  # {name}: left out, {why}")
    flows = sorted({f"{s.tiers[0]} -> {t}" for s in kept for t in s.tiers[1:]})
    out += ["", "policy:"]
    if flows:
        out.append("  # guessed: derived from memberships (each service's home tier may talk to its other tiers)")
        out.append("  allow:")
        out += [f"    - {f}" for f in flows]
    else:
        out.append("  allow: []  # every service sits on one tier: no flow between tiers is needed")
    out.append("  isolate: []  # add service pairs that must never reach each other, e.g. \"frontend -> db\"")
    return "\n".join(out) + "\n"


def _render_service(svc: _Service, hints: DraftHints) -> list[str]:
    out = [f"  {scalar(svc.name)}:"]
    guess = "  # guessed: the home tier is the first network" if len(svc.tiers) > 1 else ""
    out.append(f"    tiers: {flow(svc.tiers)}{guess}")
    if svc.aliases:
        out.append("    aliases:")
        out += [f"      {tier}: {flow(aliases)}" for tier, aliases in svc.aliases.items()]
    ports = sorted(p for p in hints.ports.get(svc.name, ()) if 0 < p < 65536)
    if ports:
        out.append(f"    ports: {flow(ports)}  # declared (expose, ports, EXPOSE), not observed listening")
    bad = sorted({c.health for c in svc.containers if c.health not in (None, "healthy")} - {None})
    stopped = sorted({c.status for c in svc.containers if c.status not in ("running", "declared")})
    if bad:
        out.append(f"    healthy: false  # guessed: it was {', '.join(str(b) for b in bad)} when this draft was taken")
    elif any(c.health == "healthy" for c in svc.containers) or hints.healthchecks.get(svc.name):
        out.append("    # has a healthcheck: check requires it to report healthy")
    if stopped:
        out.append(f"    # it was {', '.join(stopped)} when this draft was taken: check requires it running")
    out += [f"    # {note}" for note in svc.notes]
    return out

"""`init`: a draft contract from a State (read from compose files or from the engine). Pure.

The draft describes the stack as it is, so it passes `lint`/`check` against
that same stack; where netcontract had to guess (the home tier, the allowed
flows, health) it says so in a YAML comment. Whatever cannot be a contract
entry (a service on `network_mode: host`, a name that is not a DNS label, a
network name Docker would refuse, an alias two services share) is left out
with a comment that says why.

The draft is built as data (ruamel.yaml's CommentedMap, comments attached to
its keys) and written by the YAML library, never by pasting strings into YAML:
a name holding a newline, a quote, `#` or `: ` cannot add a key, and comment
text is escaped (`yaml_text.comment`). `draft_contract` reads its own output
back and refuses (InternalError, one line) unless it is the same data.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.tokens import CommentToken

from netcontract.contract import Contract, contract_from_data, parse_yaml
from netcontract.draft.yaml_text import comment, plain_ok
from netcontract.errors import ContractError, InputError, InternalError
from netcontract.names import is_dns_name, is_label, is_network_name, is_project_name, is_tier_key
from netcontract.state import Container, State
from netcontract.yaml_input import load_yaml

_NO_TIER = {"host", "none", "bridge"}  # Docker's own networks: no user-defined DNS, never a tier


@dataclass(frozen=True)
class DraftHints:
    """What a State does not carry: how the draft was made and per-service facts from its source."""

    command: str
    tier_keys: Mapping[str, str] = field(
        default_factory=dict
    )  # network name -> tier key (compose's key)
    ports: Mapping[str, tuple[int, ...]] = field(
        default_factory=dict
    )  # service -> declared TCP ports
    other_ports: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # service -> declared ports of other protocols (expose, EXPOSE), as "53/udp"
    healthchecks: Mapping[str, bool | None] = field(
        default_factory=dict
    )  # service -> declares a healthcheck
    skipped: Mapping[str, str] = field(
        default_factory=dict
    )  # service -> why it is not in the draft
    external: frozenset[str] = frozenset()  # networks created outside the stack
    # observe --write (draft/observed.py): what the flows seen add to the draft, each with its evidence
    port_notes: Mapping[str, str] = field(
        default_factory=dict
    )  # service -> comment on its ports (their source)
    notes: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # service -> comment lines under it
    isolate: tuple[str, ...] = ()  # policy.isolate entries ("a -> b")
    policy_notes: tuple[str, ...] = ()  # comment lines above policy.isolate


@dataclass
class _Service:
    name: str
    containers: list[Container]
    tiers: list[str] = field(default_factory=list)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    network_mode: str = ""  # host, none or service:<owner>: no endpoints of its own


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
    """The draft contract for the services of `state`, as YAML text with comments where it guessed or
    left something out. InternalError (one line) when it would not load back as the same contract.
    """
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
    moded: list[_Service] = []
    for svc in services.values():
        mode, why = _mode(state, svc)
        if mode or why:
            if why:
                skipped[svc.name] = why
            elif not is_label(svc.name):
                skipped[svc.name] = (
                    "its name is not a DNS label, which a contract service name must be"
                )
            else:
                svc.network_mode = mode
                moded.append(svc)
            continue
        joined = list(
            dict.fromkeys(n for c in svc.containers for n in c.networks if n not in _NO_TIER)
        )
        networks = [n for n in joined if is_network_name(n)]
        if not is_label(svc.name):
            skipped[svc.name] = "its name is not a DNS label, which a contract service name must be"
        elif not networks:
            skipped[svc.name] = _why_no_tier(svc, joined)
        else:
            for net in networks:
                keys.setdefault(net, _tier_key(net, state.project, taken))
            svc.tiers = [keys[n] for n in networks]
            svc.notes += list(hints.notes.get(svc.name, ()))
            svc.notes += [
                f"network {n!r} left out: Docker does not accept that network name"
                for n in joined
                if n not in networks
            ]
            kept.append(svc)
    _aliases(kept, keys)
    _exposure(state, kept, keys)
    for svc in kept:
        outsiders = [
            s
            for c in svc.containers
            for s in state.sharers(c)
            if s.project != state.project or not s.service
        ]
        if outsiders:
            svc.notes.append(
                f"its network namespace is shared by {', '.join(s.label for s in outsiders)} (check "
                f"reports namespace:{svc.name}:<container>; list it in `shared_by` if it belongs)"
            )
    names = {s.name for s in kept}
    for svc in moded:
        owner = (svc.network_mode or "").removeprefix("service:")
        if svc.network_mode.startswith("service:") and owner not in names:
            skipped[svc.name] = (
                f"it shares the network namespace of {owner}, which the draft leaves out"
            )
        else:
            kept.append(svc)
    doc = _render(state, hints, kept, keys, skipped)
    text = dump(doc)
    try:
        same = load_yaml(text) == plain(doc)
    except InputError:
        same = False
    if not same:  # a netcontract bug: the library wrote something that does not read back
        raise InternalError(
            "the draft does not read back as the data it was written from; please report this"
        )
    return text


def _mode(state: State, svc: _Service) -> tuple[str, str]:
    """(network_mode for the contract, "") for a service without endpoints of its own (the host's network, another
    service's namespace, none); ("", why) when it cannot be described; ("", "") for a service with endpoints."""
    modes: set[str] = set()
    for c in svc.containers:
        root = state.namespace_root(c)
        if root.host_network:
            modes.add("host")
        elif c.shared_ref:
            if root is c or not root.service or root.project != c.project:
                return "", (
                    f"it shares the network namespace of {root.label if root is not c else c.shared_ref}, "
                    "which is no service of this stack"
                )
            modes.add(f"service:{root.service}")
        elif c.network_mode == "none":
            modes.add("none")
        else:
            modes.add("")
    if len(modes) > 1:
        return (
            "",
            f"its containers use different network modes ({', '.join(sorted(m or 'default' for m in modes))})",
        )
    return (modes.pop() if modes else ""), ""


def _why_no_tier(svc: _Service, joined: list[str]) -> str:
    if joined:
        return (
            f"Docker does not accept the name of its network{'s' if len(joined) > 1 else ''} "
            f"({', '.join(repr(n) for n in joined)}), so no tier can hold it"
        )
    modes = sorted({c.network_mode or "no network" for c in svc.containers})
    if "host" in modes:
        return (
            f"it joins no user-defined network ({', '.join(modes)}): it uses the host's network "
            "(network_mode: host), which no tier describes and check does not probe"
        )
    return f"it joins no user-defined network ({', '.join(modes)}), so no tier can hold it"


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
                        svc.notes.append(
                            f"alias {alias!r} on {tier} left out: not a lower-case DNS name"
                        )
                    elif owner is not None and owner != svc.name:
                        svc.notes.append(
                            f"alias {alias} on {tier} left out: {owner} has it too (Docker round-robins; "
                            "check reports alias-unique)"
                        )
                    else:
                        owners[(tier, alias)] = svc.name
                        svc.aliases.setdefault(tier, []).append(alias)


def _render(
    state: State,
    hints: DraftHints,
    kept: list[_Service],
    keys: Mapping[str, str],
    skipped: Mapping[str, str],
) -> CommentedMap:
    doc = CommentedMap()
    doc.yaml_set_start_comment(
        "\n".join(
            [
                f"Draft network contract written by `{comment(hints.command)}`.",
                "It describes the stack as it is. Lines marked 'guessed' are netcontract's guesses:",
                "review them, then tighten the contract (tiers, policy.isolate) to what it should be.",
            ]
        )
    )
    doc["version"] = 1
    if state.project and is_project_name(state.project):
        doc["project"] = state.project
    elif state.project:
        _before(
            doc, "version", [f"project {state.project!r} left out: not a compose project name"], 0
        )
    doc["tiers"] = _tiers(state, hints, kept, keys)
    _before(doc, "tiers", [], 0, blank=True)
    services = CommentedMap()
    for svc in kept:
        services[svc.name] = _service(svc, hints)
    doc["services"] = services
    _before(doc, "services", [], 0, blank=True)
    doc["policy"] = _policy(kept, hints)
    left_out = [f"{name}: left out, {why}" for name, why in skipped.items()]
    _before(doc, "policy", left_out, 2 if services else 0, blank=True)
    return doc


def _tiers(
    state: State, hints: DraftHints, kept: list[_Service], keys: Mapping[str, str]
) -> CommentedMap:
    tiers = CommentedMap()
    used = list(dict.fromkeys(t for s in kept for t in s.tiers))
    by_key = {k: n for n, k in keys.items()}
    for key in used:
        name = by_key[key]
        net = state.network(name)
        tier = CommentedMap()
        tier["network"] = name
        notes: list[str] = []
        if name in hints.external or net is None:
            notes.append(
                "guessed: created outside the stack; its driver and internal flag are not known here"
            )
        else:
            if net.driver and net.driver != "bridge":
                tier["driver"] = net.driver
            if net.internal:
                tier["internal"] = True
            if net.internal or (net.project and net.project == state.project):
                foreign = [
                    c for c in state.attached(name) if c.project != state.project or not c.service
                ]
                if foreign:
                    ids = ", ".join(f"foreign:{key}:{c.name}" for c in foreign)
                    notes.append(
                        f"also attached, not of this stack: {', '.join(c.label for c in foreign)} (check "
                        f"reports {ids}; list it in `admit` if it belongs here)"
                    )
        _after(tier, notes, 4)
        tiers[key] = tier
    return tiers


def _policy(kept: list[_Service], hints: DraftHints) -> CommentedMap:
    policy = CommentedMap()
    flows = sorted({f"{s.tiers[0]} -> {t}" for s in kept for t in s.tiers[1:]})
    policy["allow"] = CommentedSeq(flows)
    if flows:
        _before(
            policy,
            "allow",
            [
                "guessed: derived from memberships (each service's home tier may talk to its other tiers)"
            ],
            2,
        )
    else:
        _flow(policy["allow"])
        _eol(
            policy,
            "allow",
            "every service sits on one tier: no flow between tiers is needed"
            if kept
            else "no service has a tier: nothing to allow",
        )
    if hints.isolate:
        policy["isolate"] = CommentedSeq(hints.isolate)
        _before(policy, "isolate", list(hints.policy_notes), 2)
        return policy
    policy["isolate"] = _flow(CommentedSeq())
    _before(policy, "isolate", list(hints.policy_notes), 2)
    _eol(
        policy,
        "isolate",
        'add service pairs that must never reach each other, e.g. "frontend -> db"',
    )
    return policy


def _service(svc: _Service, hints: DraftHints) -> CommentedMap:
    out = CommentedMap()
    if svc.network_mode:
        out["network_mode"] = svc.network_mode
        _eol(
            out,
            "network_mode",
            "the host's network: it reaches every tier's addresses"
            if svc.network_mode == "host"
            else "no network"
            if svc.network_mode == "none"
            else f"shares {svc.network_mode.removeprefix('service:')}'s network namespace, so its tiers",
        )
        return out
    out["tiers"] = _flow(CommentedSeq(svc.tiers))
    if len(svc.tiers) > 1:
        _eol(out, "tiers", "guessed: the home tier is the first network")
    if svc.aliases:
        out["aliases"] = CommentedMap(
            (tier, _flow(CommentedSeq(names))) for tier, names in svc.aliases.items()
        )
    ports = sorted(p for p in hints.ports.get(svc.name, ()) if 0 < p < 65536)
    notes: list[str] = []
    if ports:
        out["ports"] = _flow(CommentedSeq(ports))
        _eol(
            out,
            "ports",
            hints.port_notes.get(
                svc.name, "declared (expose, ports, EXPOSE), not observed listening"
            ),
        )
    else:
        notes.append("no TCP port: check probes it with ICMP echo only")
    other = sorted({str(p) for c in svc.containers for p in c.published if p.protocol != "tcp"})
    if other:
        notes.append(
            f"publishes {', '.join(other)}: contract ports are TCP (check probes TCP and ICMP), so "
            f"{'they are' if len(other) > 1 else 'it is'} not listed"
        )
    published = {f"{p.container_port}/{p.protocol}" for c in svc.containers for p in c.published}
    exposed = [p for p in hints.other_ports.get(svc.name, ()) if p not in published]
    if exposed:
        notes.append(
            f"exposes {', '.join(exposed)}: contract ports are TCP (check probes TCP and ICMP), so "
            f"{'they are' if len(exposed) > 1 else 'it is'} not listed"
        )
    bad = sorted({c.health for c in svc.containers if c.health not in (None, "healthy")} - {None})
    stopped = sorted({c.status for c in svc.containers if c.status not in ("running", "declared")})
    if bad:
        out["healthy"] = False
        _eol(
            out,
            "healthy",
            f"guessed: it was {', '.join(str(b) for b in bad)} when this draft was taken",
        )
    elif any(c.health == "healthy" for c in svc.containers) or hints.healthchecks.get(svc.name):
        notes.append("has a healthcheck: check requires it to report healthy")
    if stopped:
        notes.append(
            f"it was {', '.join(stopped)} when this draft was taken: check requires it running"
        )
    _after(out, notes + svc.notes, 4)
    return out


# -- ruamel.yaml: the draft is data; comments ride on its keys ----------------------------------------


def _flow(seq: CommentedSeq) -> CommentedSeq:
    seq.fa.set_flow_style()
    return seq


def _before(
    m: CommentedMap, key: str, lines: list[str], indent: int, *, blank: bool = False
) -> None:
    """Comment lines (and a blank line first, with `blank`) above `key`."""
    if not lines and not blank:
        return
    text = "\n".join(comment(line) for line in lines)
    m.yaml_set_comment_before_after_key(
        key,
        before=("\n" if blank else "") + text + ("\n" if lines and blank else ""),
        indent=indent,
    )


def _eol(m: CommentedMap, key: str, text: str) -> None:
    """`key: value  # text` (two spaces, as people write it)."""
    _comment_token(m, key, f" # {comment(text)}\n")


def _after(m: CommentedMap, lines: list[str], indent: int) -> None:
    """Comment lines below the last key of `m` (after its end-of-line comment, if it has one)."""
    if not lines or not m:
        return
    last = list(m)[-1]
    if (
        isinstance(m[last], CommentedMap) and m[last]
    ):  # below a nested mapping's last line, not above its first
        _after(m[last], lines, indent)
        return
    eol = m.ca.items.get(last, [None, None, None, None])[2]
    head = eol.value if eol is not None else "\n"
    _comment_token(m, last, head + "".join(f"{' ' * indent}# {comment(line)}\n" for line in lines))


def _comment_token(m: CommentedMap, key: str, value: str) -> None:
    m.ca.items.setdefault(key, [None, None, None, None])[2] = CommentToken(value, CommentMark(0))


class _Representer(RoundTripRepresenter):
    """Strings plain only where every YAML reader reads them back as the same string (yaml_text)."""


def _represent_str(representer: RoundTripRepresenter, data: str) -> Any:
    return representer.represent_scalar(
        "tag:yaml.org,2002:str", data, style=None if plain_ok(data) else '"'
    )


_Representer.add_representer(str, _represent_str)


def dump(doc: CommentedMap) -> str:
    """The draft as YAML text (ruamel.yaml: block mappings, two-space indents, no line folding)."""
    y = YAML(typ="rt")
    y.Representer = _Representer
    y.width = 1 << 30
    y.allow_unicode = True
    y.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def plain(value: Any) -> Any:
    """`value` (CommentedMap/Seq) as plain dicts and lists: what a YAML reader should read back."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def check_draft(text: str) -> Contract:
    """The draft read as `check -c` reads a contract: it must load, or it is a netcontract bug (InternalError,
    one line). Names that could not be written so (a service name that is not a DNS label) never get here:
    `draft_contract` leaves them out with a comment."""
    try:
        return contract_from_data(parse_yaml(text, "the draft"), "the draft")
    except ContractError as exc:  # a netcontract bug: never hand out a contract that does not load
        raise InternalError(
            f"the draft is not a valid contract ({exc.lines()[0]}); please report this"
        ) from None

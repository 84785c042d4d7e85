"""The contract: its runtime classes, the YAML loader and the load-time rules.

A contract is read in two passes. The first checks the shape (types, unknown keys, name syntax); the
second, `_semantic_issues`, checks what refers to what (unknown tiers, memberships the policy forbids,
alias collisions). Both report `ContractIssue`s carrying the YAML path, so every error is one line:
``contracts/x.yaml: services.backend.tiers[1]: unknown tier 'dta_tier'``.

The shape has two readers with one outcome. `_read` takes a contract written in canonical form (what
YAML gives for a well-written file: strings, booleans, integers, lists and mappings of exactly the
types the schema names) and builds the runtime classes directly; it declines anything else. Everything
it declines goes to the pydantic schema (contract_schema.py), which coerces what it may (a port written
as "80") and words every error; what the schema accepts is then read by `_read` from its canonical dump.
pydantic is therefore imported only for a contract that is not in canonical form or has errors: that
import and the model build are about 0.1 s, a third of a small check (issue 23). A unit test holds the
readers together: whatever `_read` accepts, the schema accepts with the same result.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netcontract import contract_values as values
from netcontract import sanitize
from netcontract.errors import ContractError, ContractIssue, InputError
from netcontract.names import is_label, is_project_name, is_tier_key
from netcontract.results import ServiceView, TierView, Topology
from netcontract.yaml_input import did_you_mean, load_yaml, one_line, read_input, short_repr


@dataclass(frozen=True, kw_only=True)
class Tier:
    """A tier is one Docker network, named as Docker knows it (fields: contract_schema.Tier)."""

    network: str
    driver: str = "bridge"
    internal: bool = False
    attachable: bool | None = None
    encrypted: bool | None = None
    ipv6: bool | None = None
    host: str = "report"  # report | deny
    foreign: str | None = None  # deny | report | None
    admit: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class Service:
    """A compose service, keyed in the contract by its compose service name (fields: contract_schema.Service)."""

    tiers: tuple[str, ...] = ()
    network_mode: str | None = None
    shared_by: tuple[str, ...] = ()
    home: str | None = None
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ports: tuple[int, ...] = ()
    healthy: bool = True

    @property
    def home_tier(self) -> str:
        """The service's home tier: `home` when given, else the first of `tiers` ("" without tiers)."""
        return self.home or (self.tiers[0] if self.tiers else "")

    @property
    def owner(self) -> str:
        """The service whose network namespace this one shares (`network_mode: service:<owner>`), or ""."""
        mode = self.network_mode or ""
        return mode.removeprefix("service:") if mode.startswith("service:") else ""

    @property
    def endpoints(self) -> bool:
        """Whether the service has endpoints of its own (no `network_mode`)."""
        return self.network_mode is None


@dataclass(frozen=True, kw_only=True)
class Canary:
    """A target that a service without egress must not reach (fields: contract_schema.Canary)."""

    host: str
    port: int | None = None


@dataclass(frozen=True, kw_only=True)
class Policy:
    """Which tiers may talk to which, and what must stay isolated (fields: contract_schema.Policy)."""

    allow: tuple[str, ...] = ()
    isolate: tuple[str, ...] = ()
    egress_canaries: tuple[Canary, ...] = ()
    dns_egress_names: tuple[str, ...] = ()
    host_network: str = "report"  # report | deny
    host_ports: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Contract:
    """A network contract: tiers (Docker networks), the services on them, and the policy (fields and their
    meaning: contract_schema.Contract)."""

    version: int
    project: str | None = None
    orchestrator: str = "compose"  # compose | swarm
    tiers: dict[str, Tier]
    services: dict[str, Service]
    policy: Policy = field(default_factory=Policy)
    ignore: tuple[str, ...] = ()

    # -- derived views used by the planner and reporters -------------------
    def allowed_flows(self) -> frozenset[tuple[str, str]]:
        """policy.allow as (from_tier, to_tier) pairs; a malformed arrow is left out (the load-time rules reject it)."""
        return frozenset(f for f in (_parse_arrow(a) for a in self.policy.allow) if f is not None)

    def isolated_pairs(self) -> tuple[tuple[str, str], ...]:
        """policy.isolate as (source_service, target_service) pairs, in contract order; a malformed arrow is left out."""
        return tuple(p for p in (_parse_arrow(a) for a in self.policy.isolate) if p is not None)

    def network_tier(self) -> dict[str, str]:
        """Docker network name -> tier key."""
        return {t.network: key for key, t in self.tiers.items()}

    def members(self, tier: str) -> list[str]:
        """The services attached to `tier`, in contract order."""
        return [name for name, s in self.services.items() if tier in s.tiers]

    def effective_tiers(self, service: str) -> tuple[str, ...]:
        """The tiers a service reaches through endpoints: its own, or its namespace owner's."""
        svc = self.services[service]
        owner = self.services.get(svc.owner) if svc.owner else None
        return owner.tiers if owner is not None else svc.tiers

    def topology(self) -> Topology:
        """The contract's shape as reports draw it (results.Topology)."""
        return Topology(
            tiers=tuple(TierView(key, t.network, t.internal) for key, t in self.tiers.items()),
            services=tuple(
                ServiceView(
                    name,
                    s.tiers,
                    s.home_tier,
                    tuple(a for names in s.aliases.values() for a in names),
                )
                for name, s in self.services.items()
            ),
            allowed=self.allowed_flows(),
            isolated=self.isolated_pairs(),
            project=self.project,
        )


def matches(selector: str, name: str, project: str | None, service: str | None) -> bool:
    """Whether a container (its name, and `project/service` from its compose labels) matches a selector."""
    if "/" in selector:
        return bool(project and service) and fnmatch.fnmatchcase(f"{project}/{service}", selector)
    return fnmatch.fnmatchcase(name, selector)


def _parse_arrow(text: str) -> tuple[str, str] | None:
    parts = [p.strip() for p in text.split("->")]
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


# -- loading ----------------------------------------------------------------


def parse_yaml(text: str, source: str) -> Any:
    """Contract YAML as data, read under the input limits; raise ContractError, located at `source`, if it cannot be read."""
    try:
        return load_yaml(text)
    except InputError as exc:
        raise ContractError(source, [ContractIssue((), str(exc))]) from None


def load_contract(path: str | Path) -> Contract:
    """Read, parse and validate a contract file; raise ContractError with every problem found.

    Whatever the file holds, the outcome is a Contract or a ContractError (exit 4): the input
    limits are yaml_input's, and every issue is one bounded line (`_bounded`)."""
    source = str(path)
    try:
        text = read_input(path)
    except InputError as exc:
        raise ContractError(source, [ContractIssue((), str(exc))]) from None
    try:
        return contract_from_data(parse_yaml(text, source), source)
    except ContractError as exc:  # every issue at the line and column its path is written on
        if any(i.position for i in exc.issues):
            raise
        from netcontract.contract_messages import located

        raise ContractError(source, located(exc.issues, text)) from None


MAX_ISSUES = 20  # a hostile file can hold 100,000 mistakes; the user needs the first few
_MAX_MESSAGE = 300
_MAX_LOC_PART = 64


def contract_from_data(data: Any, source: str = "<contract>") -> Contract:
    """Validate parsed YAML as a contract: the models, then every load-time rule.

    Raise ContractError with every issue found (bounded, one line each); `source` names the input in its
    messages.
    """
    if not isinstance(data, dict):
        raise ContractError(
            source,
            [ContractIssue((), "a contract is a YAML mapping with version, tiers and services")],
        )
    contract = _read(data)
    if contract is None:  # not in canonical form, or wrong: the schema coerces it or says why
        contract = _through_schema(data, source)
    issues = _bounded([*_project_name(contract), *_semantic_issues(contract)])
    if issues:
        raise ContractError(source, issues)
    return contract


def _project_name(c: Contract) -> Iterator[ContractIssue]:
    """`project:` is matched against a label: compose's own rule, full match (no trailing newline)."""
    if c.project is not None and not is_project_name(c.project):
        yield ContractIssue(
            ("project",),
            f"{short_repr(c.project)} is not a compose project name "
            "(lower-case letters, digits, '-' and '_', starting with a letter or digit)",
        )


@dataclass(frozen=True)
class _Unknown(ContractIssue):
    """`unknown tier 'x'`, whose "did you mean" is searched only if the issue is shown (`_bounded`):
    a contract of 2000 unknown names must not cost 2000 searches among 8000 options."""

    name: str = ""
    options: Collection[str] = ()

    def shown(self) -> ContractIssue:
        """The issue as shown: with its suggestion, searched now."""
        return ContractIssue(
            self.loc, f"{self.message}{did_you_mean(self.name, list(self.options))}", self.position
        )


def _unknown(
    loc: tuple[str | int, ...], what: str, name: str, options: Collection[str]
) -> _Unknown:
    return _Unknown(loc, f"unknown {what} {name!r}", None, name, options)


def _bounded(issues: Iterable[ContractIssue]) -> list[ContractIssue]:
    """At most MAX_ISSUES issues (then one line saying how many more), each on one line of bounded
    length: a key or value from the file may be 64 KiB long or hold a newline. Suggestions are
    searched for the issues shown only."""
    out: list[ContractIssue] = []
    more = 0
    for issue in issues:
        if len(out) >= MAX_ISSUES:
            more += 1
            continue
        if isinstance(issue, _Unknown):
            issue = issue.shown()
        loc = tuple(p if isinstance(p, int) else _loc_part(p) for p in issue.loc)
        out.append(ContractIssue(loc, one_line(issue.message, _MAX_MESSAGE)))
    if more:
        out.append(ContractIssue((), f"... and {more} more problem{'s' if more > 1 else ''}"))
    return out


def _loc_part(part: object) -> str:
    text = part if isinstance(part, str) else short_repr(part)
    if text != one_line(text) or len(text) > _MAX_LOC_PART or sanitize.has_unsafe(text):
        return short_repr(text, _MAX_LOC_PART)  # quoted, escaped and cut: never raw
    return text


def _through_schema(data: dict[str, Any], source: str) -> Contract:
    """The pydantic schema's reading of a contract `_read` declined: the Contract, or ContractError with
    every problem in the contract's words (a misspelt key once, with its suggestion: contract_messages)."""
    from pydantic import ValidationError

    from netcontract import contract_schema
    from netcontract.contract_messages import pydantic_issues

    try:
        model = contract_schema.Contract.model_validate(data)
    except ValidationError as exc:
        raise ContractError(
            source, _bounded(pydantic_issues(exc, contract_schema.Contract))
        ) from None
    except (ValueError, TypeError, RecursionError) as exc:  # a value pydantic cannot even look at
        raise ContractError(
            source, [ContractIssue((), f"cannot read a value: {one_line(str(exc))}")]
        ) from None
    contract = _read(model.model_dump())
    if contract is None:  # the schema's canonical form must read: the readers disagree (a bug here)
        raise AssertionError("contract.py's reader declined the schema's canonical dump")
    return contract


# -- the fast reader: canonical form only, None for anything else ------------------------------------------


class _Decline(Exception):
    """The value is not in canonical form (or not valid): the schema decides."""


def _str(v: Any) -> str:
    if type(v) is not str:
        raise _Decline
    return v


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise _Decline
    return v


def _opt_bool(v: Any) -> bool | None:
    return None if v is None else _bool(v)


def _port(v: Any) -> int:
    if type(v) is not int or not 1 <= v <= 65535:
        raise _Decline
    return v


def _opt_port(v: Any) -> int | None:
    return None if v is None else _port(v)


def _one_of(*allowed: str) -> Callable[[Any], str]:
    def read(v: Any) -> str:
        if type(v) is not str or v not in allowed:
            raise _Decline
        return v

    return read


def _opt(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else read(v)


def _checked(rule: Callable[[str], str]) -> Callable[[Any], str]:
    def read(v: Any) -> str:
        try:
            return rule(_str(v))
        except ValueError:
            raise _Decline from None

    return read


def _tuple(read: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    def many(v: Any) -> tuple[Any, ...]:
        if type(v) is not list and type(v) is not tuple:
            raise _Decline
        return tuple(read(x) for x in v)

    return many


def _mapping(read: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    def keyed(v: Any) -> dict[str, Any]:
        if type(v) is not dict:
            raise _Decline
        return {_str(k): read(x) for k, x in v.items()}

    return keyed


def _version(v: Any) -> int:
    if type(v) is not int or v != 1:
        raise _Decline
    return v


_Fields = dict[str, Callable[[Any], Any]]


def _record(cls: type[Any], fields: _Fields, required: frozenset[str]) -> Callable[[Any], Any]:
    def read(v: Any) -> Any:
        if type(v) is not dict or not required <= v.keys() or not v.keys() <= fields.keys():
            raise _Decline
        return cls(**{k: fields[k](x) for k, x in v.items()})

    return read


_dns = _checked(values.dns_name)
_selectors = _tuple(_checked(values.selector))
_TIER = _record(
    Tier,
    {
        "network": _checked(values.network_name),
        "driver": _str,
        "internal": _bool,
        "attachable": _opt_bool,
        "encrypted": _opt_bool,
        "ipv6": _opt_bool,
        "host": _one_of("report", "deny"),
        "foreign": _opt(_one_of("deny", "report")),
        "admit": _selectors,
        "description": _opt_str,
    },
    frozenset({"network"}),
)
_SERVICE = _record(
    Service,
    {
        "tiers": _tuple(_str),
        "network_mode": _opt(_checked(values.network_mode)),
        "shared_by": _selectors,
        "home": _opt_str,
        "aliases": _mapping(_tuple(_dns)),
        "ports": _tuple(_port),
        "healthy": _bool,
    },
    frozenset(),
)
_CANARY = _record(Canary, {"host": _checked(values.host), "port": _opt_port}, frozenset({"host"}))
_POLICY = _record(
    Policy,
    {
        "allow": _tuple(_str),
        "isolate": _tuple(_str),
        "egress_canaries": _tuple(_CANARY),
        "dns_egress_names": _tuple(_dns),
        "host_network": _one_of("report", "deny"),
        "host_ports": _tuple(_port),
    },
    frozenset(),
)
_CONTRACT = _record(
    Contract,
    {
        "version": _version,
        "project": _opt_str,
        "orchestrator": _one_of("compose", "swarm"),
        "tiers": _mapping(_TIER),
        "services": _mapping(_SERVICE),
        "policy": _POLICY,
        "ignore": _tuple(_str),
    },
    frozenset({"version", "tiers", "services"}),
)


def _read(data: Any) -> Contract | None:
    """The contract in `data` when it is in canonical form and its shape is valid, else None (the schema
    then reads it: coercion, or errors in the contract's words)."""
    try:
        contract: Contract = _CONTRACT(data)
    except (_Decline, RecursionError):
        return None
    return contract


def _semantic_issues(c: Contract) -> Iterator[ContractIssue]:
    """Every load-time rule, one function each: what refers to what."""
    for rule in _RULES:
        yield from rule(c)


def _tier_keys(c: Contract) -> Iterator[ContractIssue]:
    for key in c.tiers:
        if not is_tier_key(key):
            yield ContractIssue(
                ("tiers", key), "tier key must start with a letter and use a-z, 0-9, '_', '-'"
            )


def _tier_networks(c: Contract) -> Iterator[ContractIssue]:
    """Two tiers may not name one network."""
    seen_networks: dict[str, str] = {}
    for key, tier in c.tiers.items():
        if tier.network in seen_networks:
            yield ContractIssue(
                ("tiers", key, "network"),
                f"network {tier.network!r} is already tier {seen_networks[tier.network]!r}",
            )
        seen_networks[tier.network] = key


def _allow_arrows(c: Contract) -> Iterator[ContractIssue]:
    """policy.allow: `from_tier -> to_tier` between known tiers."""
    for i, text in enumerate(c.policy.allow):
        arrow = _parse_arrow(text)
        if arrow is None:
            yield ContractIssue(
                ("policy", "allow", i), f"expected 'from_tier -> to_tier', got {text!r}"
            )
            continue
        for end in arrow:
            if end not in c.tiers:
                yield _unknown(("policy", "allow", i), "tier", end, c.tiers)


def _overlay_fields(c: Contract) -> Iterator[ContractIssue]:
    """`attachable` and `encrypted` are overlay network properties: set on another driver they could never hold."""
    for key, tier in c.tiers.items():
        for name in ("attachable", "encrypted"):
            if getattr(tier, name) is not None and tier.driver != "overlay":
                yield ContractIssue(
                    ("tiers", key, name),
                    f"{name} applies to overlay networks only (this tier's driver is {tier.driver!r}; "
                    "set `driver: overlay`)",
                )


def _service_names(c: Contract) -> Iterator[ContractIssue]:
    for name in c.services:
        if not is_label(name):
            yield ContractIssue(
                ("services", name),
                "service name is not a valid DNS label (lower-case letters, digits, '-', '_'; "
                "at most 63 characters; no shell metacharacters)",
            )


def _service_tiers(c: Contract) -> Iterator[ContractIssue]:
    """A service's tiers are known tiers, each listed once; its home tier is one of them."""
    for name, svc in c.services.items():
        base = ("services", name)
        first: dict[str, int] = {}
        if svc.endpoints and not svc.tiers:
            yield ContractIssue(
                (*base, "tiers"),
                "lists no tier (a service lists at least one tier, "
                "unless `network_mode` says it has no endpoints of its own)",
            )
        for i, t in enumerate(svc.tiers):
            if t not in c.tiers:
                yield _unknown((*base, "tiers", i), "tier", t, c.tiers)
            elif first.setdefault(t, i) != i:
                yield ContractIssue((*base, "tiers", i), f"tier {t!r} is listed twice")
        if svc.home is not None and svc.home not in svc.tiers:
            yield ContractIssue(
                (*base, "home"), f"home tier {svc.home!r} is not one of the service's tiers"
            )


def _network_modes(c: Contract) -> Iterator[ContractIssue]:
    """A service with `network_mode` has no endpoints: no tiers, home or aliases; `service:<owner>` names a
    contract service with endpoints of its own (Docker cannot join a namespace that is itself joined)."""
    for name, svc in c.services.items():
        if svc.network_mode is None:
            continue
        base = ("services", name)
        for key in ("tiers", "home", "aliases"):
            if getattr(svc, key):
                yield ContractIssue(
                    (*base, key),
                    f"a service with network_mode {svc.network_mode} has no endpoints of "
                    f"its own: leave out {key} (it reaches what its network mode gives it)",
                )
        owner = svc.owner
        if owner and owner not in c.services:
            yield ContractIssue(
                (*base, "network_mode"),
                f"unknown service {owner!r}{did_you_mean(owner, list(c.services))}",
            )
        elif owner == name:
            yield ContractIssue((*base, "network_mode"), "a service cannot share its own namespace")
        elif owner and not c.services[owner].endpoints:
            yield ContractIssue(
                (*base, "network_mode"),
                f"{owner!r} has network_mode "
                f"{c.services[owner].network_mode} itself: share the namespace of a service that "
                "has endpoints of its own",
            )


def _ignore(c: Contract) -> Iterator[ContractIssue]:
    """`ignore` names compose services the contract leaves out, so none of its own services."""
    for i, name in enumerate(c.ignore):
        if name in c.services:
            yield ContractIssue(
                ("ignore", i), f"{name!r} is a service of this contract: it cannot also be ignored"
            )


def _memberships_allowed(c: Contract) -> Iterator[ContractIssue]:
    """A service joins a tier other than its home only where policy.allow lets the home tier talk to it."""
    flows = {a for a in (_parse_arrow(t) for t in c.policy.allow) if a is not None}
    for name, svc in c.services.items():
        home = svc.home_tier
        if not home or home not in c.tiers:
            continue
        for i, t in enumerate(svc.tiers):
            if t in c.tiers and t != home and (home, t) not in flows:
                yield ContractIssue(
                    ("services", name, "tiers", i),
                    f"policy forbids joining {t!r}: home tier {home!r} may not talk to it "
                    f"(add '{home} -> {t}' to policy.allow)",
                )


def _alias_tiers(c: Contract) -> Iterator[ContractIssue]:
    """Aliases are declared only on tiers the service is on."""
    for name, svc in c.services.items():
        if not svc.endpoints:
            continue  # _network_modes says why it has no aliases
        known = [t for t in svc.tiers if t in c.tiers]
        for t in svc.aliases:
            if t not in known:
                yield ContractIssue(
                    ("services", name, "aliases", t), f"service {name!r} is not on tier {t!r}"
                )


def _isolate_pairs(c: Contract) -> Iterator[ContractIssue]:
    """policy.isolate: `source -> target` between known services that share no tier."""
    for i, text in enumerate(c.policy.isolate):
        arrow = _parse_arrow(text)
        if arrow is None:
            yield ContractIssue(
                ("policy", "isolate", i),
                f"expected 'source_service -> target_service', got {text!r}",
            )
            continue
        missing = [s for s in arrow if s not in c.services]
        for s in missing:
            yield _unknown(("policy", "isolate", i), "service", s, c.services)
        if not missing:
            shared = sorted(set(c.effective_tiers(arrow[0])) & set(c.effective_tiers(arrow[1])))
            if shared:
                yield ContractIssue(
                    ("policy", "isolate", i),
                    f"{arrow[0]} and {arrow[1]} share tier {shared[0]!r}, so Docker lets {arrow[0]} reach {arrow[1]}",
                )


def _alias_collisions(c: Contract) -> Iterator[ContractIssue]:
    """An alias (or service name) may name only one service on a tier."""
    members: dict[str, list[str]] = {}
    claims: dict[str, list[tuple[str, int, str]]] = {}
    for (
        name,
        svc,
    ) in c.services.items():  # one pass, not one per tier: 8000 tiers and services stay linear
        for t in svc.tiers:
            members.setdefault(t, []).append(name)
        for t, aliases in svc.aliases.items():
            claims.setdefault(t, []).extend((name, j, alias) for j, alias in enumerate(aliases))
    for tier in c.tiers:
        owners: dict[str, str] = {}
        for name in members.get(tier, ()):
            owners.setdefault(name, name)
        for name, j, alias in claims.get(tier, ()):
            owner = owners.get(alias)
            if owner is not None and owner != name:
                yield ContractIssue(
                    ("services", name, "aliases", tier, j),
                    f"alias {alias!r} on tier {tier!r} is already claimed by service {owner!r}",
                )
            else:
                owners[alias] = name


def _dns_egress_names(c: Contract) -> Iterator[ContractIssue]:
    """policy.dns_egress_names: external names, so a qualified name that is no service or alias here."""
    own = set(c.services) | {
        a for s in c.services.values() for names in s.aliases.values() for a in names
    }
    for i, name in enumerate(c.policy.dns_egress_names):
        if "." not in name.strip("."):
            yield ContractIssue(
                ("policy", "dns_egress_names", i),
                f"{name!r} has no dot: give a fully qualified external name, e.g. 'www.your-domain.example'",
            )
        elif name.rstrip(".") in own:
            yield ContractIssue(
                ("policy", "dns_egress_names", i),
                f"{name!r} is a service or alias of this contract, not an external name",
            )


_RULES = (
    _tier_keys,
    _tier_networks,
    _overlay_fields,
    _allow_arrows,
    _service_names,
    _service_tiers,
    _network_modes,
    _ignore,
    _memberships_allowed,
    _alias_tiers,
    _alias_collisions,
    _isolate_pairs,
    _dns_egress_names,
)


def json_schema() -> str:
    """The contract's JSON schema, built from the schema's models, as `netcontract schema` prints it."""
    from netcontract import contract_schema

    return contract_schema.json_schema()

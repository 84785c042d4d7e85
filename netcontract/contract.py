"""The contract: pydantic models, the YAML loader and the load-time rules.

A contract is parsed in two passes. pydantic checks the shape (types, unknown
keys, name syntax); `_semantic_issues` then checks what refers to what
(unknown tiers, memberships the policy forbids, alias collisions). Both passes
report `ContractIssue`s carrying the YAML path, so every error is one line:
``contracts/x.yaml: services.backend.tiers[1]: unknown tier 'dta_tier'``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from netcontract import sanitize
from netcontract.addresses import is_address
from netcontract.contract_messages import located, pydantic_issues
from netcontract.errors import ContractError, ContractIssue, InputError
from netcontract.names import is_dns_name, is_label, is_network_name, is_project_name, is_tier_key
from netcontract.results import ServiceView, TierView, Topology
from netcontract.yaml_input import did_you_mean, load_yaml, one_line, read_input, short_repr


def _dns_name(value: str) -> str:
    if not is_dns_name(value):
        raise ValueError(
            f"{value!r} is not a valid DNS name (lower-case letters, digits, '-', '_', "
            "dot-separated labels of at most 63 characters)"
        )
    return value


def _network_name(value: str) -> str:
    if not is_network_name(value):
        raise ValueError(f"{value!r} is not a valid Docker network name")
    return value


def _host(value: str) -> str:
    return value if is_address(value) else _dns_name(value)


def _selector(value: str) -> str:
    if not _SELECTOR.fullmatch(value):
        raise ValueError(
            f"{short_repr(value)} is not a container selector (a container name, or `project/service`, with "
            "the wildcards * and ?; letters, digits, '.', '_', '-')"
        )
    return value


def _network_mode(value: str) -> str:
    if value in ("host", "none") or (
        value.startswith("service:") and is_label(value.removeprefix("service:"))
    ):
        return value
    raise ValueError(
        f"{short_repr(value)} is not a network_mode a contract describes: `host`, `none`, or "
        "`service:<contract service>` (the namespace owner)"
    )


_SELECTOR = re.compile(r"[A-Za-z0-9_.*?-]{1,128}(/[A-Za-z0-9_.*?-]{1,128})?")

DnsName = Annotated[str, AfterValidator(_dns_name)]
Selector = Annotated[str, AfterValidator(_selector)]
NetworkName = Annotated[str, AfterValidator(_network_name)]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Model):
    """A tier is one Docker network, named as Docker knows it."""

    network: NetworkName = Field(
        description="The Docker network's real name, e.g. devonboarder_data_tier."
    )
    driver: str = Field(
        "bridge", description="Expected network driver: `bridge` (compose) or `overlay` (Swarm)."
    )
    internal: bool = Field(
        False, description="Whether the network must be `internal: true` (no egress)."
    )
    attachable: bool | None = Field(
        None,
        description="Overlay only: whether the network must be attachable (containers that are not tasks of a "
        "Swarm service may join it); unset: not checked.",
    )
    encrypted: bool | None = Field(
        None,
        description="Overlay only: whether the network must have the `encrypted` option (IPsec encryption of "
        "the data plane between nodes); unset: not checked.",
    )
    ipv6: bool | None = Field(
        None,
        description="Whether the network must have IPv6 enabled (EnableIPv6); unset: not checked. "
        "Every family a member has is probed either way.",
    )
    host: Literal["report", "deny"] = Field(
        "report",
        description="For members whose tiers are all internal: `report` shows whether the Docker host answers "
        "on the network's gateway and the default bridge (engines allow that by design); `deny` "
        "makes an answer a failure.",
    )
    foreign: Literal["deny", "report"] | None = Field(
        None,
        description="Containers on the network that are no contract service (and not in `admit`): `deny` fails "
        "each, `report` lists each and passes. Unset: `deny` on internal tiers and on networks the "
        "project created (compose project label), `report` on networks created outside it.",
    )
    admit: tuple[Selector, ...] = Field(
        (),
        description="Foreign containers this tier accepts: a container name or `project/service` (its compose "
        "labels), with the wildcards * and ?. Each admitted container passes, named in the report.",
    )
    description: str | None = Field(None, description="Free text for people; not checked.")


class Service(_Model):
    """A compose service, keyed in the contract by its compose service name."""

    tiers: tuple[str, ...] = Field(
        (),
        description="Tiers the service is attached to; the first is its home tier unless `home` says otherwise. "
        "Required, unless `network_mode` says the service has no endpoints of its own.",
    )
    network_mode: Annotated[str, AfterValidator(_network_mode)] | None = Field(
        None,
        description="For a service without endpoints of its own, as compose writes it: `service:<owner>` shares "
        "the owner's network namespace (it is on every tier of the owner), `host` uses the host's "
        "network (it reaches every tier's addresses), `none` has no network. Such a service lists no "
        "tiers, aliases or home.",
    )
    shared_by: tuple[Selector, ...] = Field(
        (),
        description="Containers outside the contract's services that may share this service's network namespace "
        "(`docker run --network container:<it>`): a container name or `project/service`, with * and ?.",
    )
    home: str | None = Field(None, description="Home tier; defaults to the first of `tiers`.")
    aliases: dict[str, tuple[DnsName, ...]] = Field(
        default_factory=dict, description="DNS aliases per tier: {tier: [alias, ...]}."
    )
    ports: tuple[Port, ...] = Field((), description="TCP ports the service listens on.")
    healthy: bool = Field(
        True, description="Whether the container must report healthy when it has a healthcheck."
    )

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


class Canary(_Model):
    """A target that a service without egress must not reach (tests use a container of their own)."""

    host: Annotated[str, AfterValidator(_host)] = Field(description="An IP address or a DNS name.")
    port: Port | None = Field(None, description="TCP port; without it the probe uses ICMP.")


class Policy(_Model):
    """Which tiers may talk to which (everything else is denied) and what must stay isolated."""

    allow: tuple[str, ...] = Field(
        (),
        description='Directed tier flows that are allowed, as "from_tier -> to_tier"; all others are denied.',
    )
    isolate: tuple[str, ...] = Field(
        (), description='Service pairs that must never reach each other, as "frontend -> db".'
    )
    egress_canaries: tuple[Canary, ...] = Field(
        (), description="Targets that services whose tiers are all internal must not reach."
    )
    dns_egress_names: tuple[DnsName, ...] = Field(
        (),
        description="External names (with a dot) that services whose tiers are all internal must not resolve: each "
        "is asked of Docker's DNS, which must not forward it (CVE-2024-29018). Pick names your upstream "
        "resolver answers; on a vulnerable engine the query leaves the host.",
    )
    host_network: Literal["report", "deny"] = Field(
        "report",
        description="Containers on the host's network that are no contract service (anywhere on the engine) reach "
        "every internal tier from the host's namespace: `report` lists them and what the probes from "
        "that namespace reached; `deny` makes each a failure.",
    )
    host_ports: tuple[Port, ...] = Field(
        (),
        description="TCP ports on the Docker host that services whose tiers are all internal are probed on, "
        "through each network's gateway and the default bridge (besides ICMP echo).",
    )


class Contract(_Model):
    """A network contract: tiers (Docker networks), the services on them, and the policy."""

    version: Literal[1] = Field(description="Contract format version; always 1.")
    project: str | None = Field(
        None,
        description="Compose project name, matched through the com.docker.compose.project label; with "
        "`orchestrator: swarm`, the stack name (com.docker.stack.namespace).",
    )
    orchestrator: Literal["compose", "swarm"] = Field(
        "compose",
        description="`compose`: services are containers with the compose labels on one engine. `swarm`: a "
        "`docker stack deploy` stack; services are found by com.docker.stack.namespace=<project> and "
        "com.docker.swarm.service.name=<project>_<service>, their tasks on every node "
        "(`check --node`).",
    )
    tiers: dict[str, Tier] = Field(
        description="Tiers keyed by a short name used everywhere else in the contract."
    )
    services: dict[str, Service] = Field(
        description="Compose services keyed by their compose service name (the com.docker.compose.service label)."
    )
    policy: Policy = Field(
        default_factory=Policy, description="Allowed tier flows and isolated service pairs."
    )
    ignore: tuple[str, ...] = Field(
        (),
        description="Compose services of the project that the contract deliberately leaves out: they do not fail "
        "`undeclared:<service>`. The tier, namespace and host-network rules still see their containers.",
    )

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
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        raise ContractError(source, _bounded(_pydantic_issues(exc))) from None
    except (ValueError, TypeError, RecursionError) as exc:  # a value pydantic cannot even look at
        raise ContractError(
            source, [ContractIssue((), f"cannot read a value: {one_line(str(exc))}")]
        ) from None
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


def _pydantic_issues(exc: ValidationError) -> Iterator[ContractIssue]:
    """In the contract's words, a misspelt key once with its suggestion (contract_messages)."""
    return pydantic_issues(exc, Contract)


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
    """The contract's JSON schema, built from the models, as `netcontract schema` prints it."""
    return json.dumps(Contract.model_json_schema(), indent=2)

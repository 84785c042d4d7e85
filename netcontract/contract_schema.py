"""The contract's schema: pydantic models (frozen, extra=forbid) with every field's description.

The schema is what reads a contract that is not in canonical form (a port written as "80", a tuple
written as a mapping) and words every error in the contract's terms (contract_messages); it is also
what `netcontract schema` prints and what docs/contract.md's field tables are generated from.
contract.py's runtime classes (plain dataclasses) have the same fields, defaults and order; a unit
test holds the two together. Importing pydantic and building these models costs about 0.1 s, so a
check of a contract in canonical form never imports this module (contract.py's fast reader).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from netcontract import contract_values as values

DnsName = Annotated[str, AfterValidator(values.dns_name)]
Selector = Annotated[str, AfterValidator(values.selector)]
NetworkName = Annotated[str, AfterValidator(values.network_name)]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Model(BaseModel):
    """Frozen, and no key that the schema does not name."""

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
    network_mode: Annotated[str, AfterValidator(values.network_mode)] | None = Field(
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


class Canary(_Model):
    """A target that a service without egress must not reach (tests use a container of their own)."""

    host: Annotated[str, AfterValidator(values.host)] = Field(
        description="An IP address or a DNS name."
    )
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


def json_schema() -> str:
    """The contract's JSON schema, built from the models, as `netcontract schema` prints it."""
    return json.dumps(Contract.model_json_schema(), indent=2)


def dump(data: Any, **options: Any) -> dict[str, Any]:
    """A contract (runtime classes or data) as plain data through the schema: `model_dump(**options)`, e.g.
    exclude_none=True (tests and tools that write a contract back)."""
    if not isinstance(data, dict):
        from dataclasses import asdict

        data = asdict(data)
    return Contract.model_validate(data).model_dump(**options)

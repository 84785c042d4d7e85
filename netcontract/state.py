"""The observed deployment as frozen values. No docker import here.

A `State` is produced either live by `live.docker.engine.snapshot` or statically
from compose files; the planner cannot tell the difference, which is what lets
`check` and `lint` share every structural rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
STACK_LABEL = "com.docker.stack.namespace"  # swarm: the stack (`docker stack deploy ... NAME`)
SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"  # swarm: "<stack>_<service>"
ONEOFF_LABEL = "com.docker.compose.oneoff"  # "True" on `docker compose run` containers


@dataclass(frozen=True)
class Network:
    """A Docker network as the engine (or the compose files) describe it."""

    name: str
    driver: str
    internal: bool
    subnets: tuple[str, ...] = ()
    id: str = ""
    ipv6: bool = False  # EnableIPv6
    gateways: tuple[str, ...] = ()  # the bridge's own addresses (the host, seen from the network)
    options: tuple[
        tuple[str, str], ...
    ] = ()  # driver options, e.g. com.docker.network.bridge.gateway_mode_ipv4
    attachable: bool = (
        False  # Attachable (overlay: containers outside the swarm's services may join)
    )
    scope: str = ""  # local or swarm
    project: str = (
        ""  # the compose project (or Swarm stack) that created the network, from its labels
    )

    @property
    def encrypted(self) -> bool:
        """The overlay's `encrypted` option (its value is empty: the key's presence is the flag)."""
        return any(k == "encrypted" for k, _ in self.options)


@dataclass(frozen=True)
class Endpoint:
    """A container's attachment to one network."""

    network: str
    ipv4: str | None = None
    aliases: tuple[str, ...] = ()
    ipv6: str | None = None  # GlobalIPv6Address
    dns_names: tuple[
        str, ...
    ] = ()  # DNSNames (API 1.44+): every name Docker's DNS answers for it here

    @property
    def addresses(self) -> tuple[str, ...]:
        """The endpoint's IPv4 and IPv6 addresses, those it has, IPv4 first."""
        return tuple(a for a in (self.ipv4, self.ipv6) if a)

    def answers_to(self, name: str) -> bool:
        """Whether Docker's DNS answers `name` for this container on this network (an alias or a DNSName)."""
        return name in self.aliases or name in self.dns_names


@dataclass(frozen=True)
class PublishedPort:
    """A container port and, when published, the host address and port it is published on."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: str = ""

    def __str__(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        hp = f"{host}{self.host_port}->" if self.host_port else ""
        return f"{hp}{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class Container:
    """One container: its identity, compose (or swarm) service, status, endpoints and published ports."""

    id: str
    name: str
    project: str | None
    service: str | None
    status: str  # docker's State.Status: running, exited, created, paused, restarting, dead
    health: str | None = None  # healthy, unhealthy, starting; None when there is no healthcheck
    endpoints: tuple[Endpoint, ...] = ()
    published: tuple[PublishedPort, ...] = ()
    network_mode: str = ""
    origin: str = ""  # where it was declared (compose file) for static states
    started_at: str = (
        ""  # State.StartedAt: tells a restarted container from the one that was snapshot
    )
    pid: int = (
        0  # State.Pid on the engine's host: the in-namespace prober enters /proc/<pid>/ns/net
    )
    node: str = ""  # swarm: the node (hostname) the task runs on
    unreadable: str = (
        ""  # swarm: why this task's container could not be read on its node (from the manager only)
    )
    health_unrun: bool = (
        False  # the engine never ran its healthcheck though it was due (Podman without systemd)
    )
    oneoff: bool = False  # a `docker compose run` container (label com.docker.compose.oneoff=True)

    @property
    def host_network(self) -> bool:
        """On the host's network namespace (network_mode host; a Swarm task attached to the `host` network): it
        reaches every container address."""
        return self.network_mode == "host" or any(ep.network == "host" for ep in self.endpoints)

    @property
    def shared_ref(self) -> str:
        """The container (id or name; compose files: `service:NAME`) whose network namespace this one joins."""
        if self.network_mode.startswith("container:"):
            return self.network_mode.removeprefix("container:")
        if self.network_mode.startswith("service:"):
            return self.network_mode
        return ""

    health_log: tuple[
        tuple[str, str, int], ...
    ] = ()  # State.Health.Log: (Start, End, ExitCode), the last five probes

    @property
    def running(self) -> bool:
        """Whether the engine reports it running."""
        return self.status == "running"

    @property
    def health_ok(self) -> bool:
        """Healthy, or no healthcheck, or one the engine never runs (so health cannot be judged)."""
        return self.health in (None, "healthy") or self.health_unrun

    @property
    def short_id(self) -> str:
        """The first 12 characters of the id, as docker prints it."""
        return self.id[:12]

    def endpoint(self, network: str) -> Endpoint | None:
        """The container's endpoint on `network`, or None when it is not attached there."""
        for ep in self.endpoints:
            if ep.network == network:
                return ep
        return None

    @property
    def networks(self) -> tuple[str, ...]:
        """The names of the networks the container is attached to, in endpoint order."""
        return tuple(ep.network for ep in self.endpoints)

    @property
    def label(self) -> str:
        """How to name this container in a message: service (container name)."""
        if self.service:
            return (
                f"{self.service} ({self.name})"
                if self.name and self.name != self.service
                else self.service
            )
        return self.name


@dataclass(frozen=True)
class State:
    """Everything netcontract observed, frozen.

    `containers` holds the project's containers and every container attached
    to a tier network, whatever its project.
    """

    project: str | None
    networks: tuple[Network, ...]
    containers: tuple[Container, ...]
    source: str = "live"  # "live" or the compose file(s) a static state was read from
    live: bool = True
    notes: tuple[str, ...] = field(default=())
    engine: str = ""  # live: "Docker 26.1.5 (API 1.45)" or "Podman 4.3.1 (API 1.41)", as the engine reports itself
    orchestrator: str = (
        "compose"  # "compose" or "swarm": which labels name the project and services
    )
    unreachable: tuple[
        tuple[str, str], ...
    ] = ()  # swarm: (node, why) for nodes whose engine was not read
    vips: tuple[
        tuple[str, str, str], ...
    ] = ()  # swarm: (service, network, virtual IP) of vip-mode services

    @property
    def podman(self) -> bool:
        """The engine is Podman (through its Docker-compatible API): docs/engines.md lists what differs."""
        return self.engine.startswith("Podman ")

    def network(self, name: str) -> Network | None:
        """The network named `name`, or None when the state has none by that name."""
        for n in self.networks:
            if n.name == name:
                return n
        return None

    def service_containers(self, service: str) -> list[Container]:
        """The service's replicas: its project containers, one-off `docker compose run` containers excepted
        (those are actors of their own: structural.py judges them on the service's tiers)."""
        return [
            c
            for c in self.containers
            if c.service == service
            and not c.oneoff
            and (self.project is None or c.project == self.project)
        ]

    def owner_of(self, c: Container) -> Container | None:
        """The container whose network namespace `c` joins (network_mode container:<id or name>, or a compose
        file's service:<name>), when it is in this state; None when `c` has its own namespace."""
        ref = c.shared_ref
        if not ref:
            return None
        if ref.startswith("service:"):
            svc = ref.removeprefix("service:")
            return next(
                (
                    o
                    for o in self.containers
                    if o.service == svc and o.project == c.project and not o.oneoff
                ),
                None,
            )
        for o in self.containers:
            if o.id and (o.id == ref or (len(ref) >= 12 and o.id.startswith(ref))):
                return o
        return next((o for o in self.containers if o.name == ref.lstrip("/")), None)

    def namespace_root(self, c: Container) -> Container:
        """The container that owns the network namespace `c` is in (itself unless it shares one; a chain of
        sharers is followed to its end)."""
        seen = {id(c)}
        while (owner := self.owner_of(c)) is not None and id(owner) not in seen:
            seen.add(id(owner))
            c = owner
        return c

    def sharers(self, owner: Container) -> list[Container]:
        """Running containers other than `owner` whose network namespace is `owner`'s."""
        return [
            c
            for c in self.containers
            if c is not owner
            and c.shared_ref
            and (c.running or not self.live)
            and self.namespace_root(c) is owner
        ]

    def attached(self, network: str) -> list[Container]:
        """Every container with an endpoint on `network`, whatever its project."""
        return [c for c in self.containers if c.endpoint(network) is not None]

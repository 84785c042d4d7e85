"""Observed flows: conntrack entries mapped to the stack's services and tiers. Pure.

`observe` reads the kernel's connection tracking table (live/conntrack.py) for a window; this module
turns what it read into who talked to whom: each address is looked up in the live State (every
endpoint of every container, replicas of one service merged, containers sharing a namespace named
together, the bridges' own addresses as the host), and entries are counted per
(client, server, protocol, port, network) with first and last seen. An address the State does not
hold is outside the stack and is kept as an address: never resolved, never contacted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from netcontract.addresses import ip_or_none
from netcontract.conntrack_parse import ConnEntry
from netcontract.state import Container, State

HOST = "host"  # the Docker host, seen on a bridge's gateway address
OUTSIDE = "outside"  # an address the stack does not hold
SERVICE = "service"
CONTAINER = "container"  # a container on a tier that is not a service of the project

# What connection tracking cannot see, said in every output (docs/observe.md explains each).
LIMITS = (
    "flows inside one network namespace (a container to itself, containers sharing a namespace) never "
    "leave it and are not seen",
    "containers on the host's network (network_mode: host) have the host's addresses: their flows are "
    "shown as the host's",
    "UDP without a reply shows as unreplied; a port nobody used in the window is not seen: the window "
    "decides what counts as used",
    "only this host's table is read: an engine on another host, or in another network namespace, "
    "is not seen",
)


@dataclass(frozen=True)
class Owner:
    """Who holds an address: a service (or a foreign container, or the host) on one network."""

    kind: str  # SERVICE, CONTAINER, HOST
    name: str  # service name, container name, or HOST
    network: str
    containers: tuple[
        str, ...
    ] = ()  # the container(s) behind it (a replica, and any namespace sharers)
    sharers: tuple[
        str, ...
    ] = ()  # services sharing that container's namespace (network_mode: container:X)


@dataclass(frozen=True)
class End:
    """One end of a flow as it is shown: a service, a foreign container, the host, or an outside address."""

    kind: str
    name: str
    sharers: tuple[str, ...] = ()

    def __str__(self) -> str:
        extra = f" (namespace shared with {', '.join(self.sharers)})" if self.sharers else ""
        return f"{self.name}{extra}"


@dataclass(frozen=True)
class Flow:
    """Every connection seen from one client to one server port over one network, counted."""

    client: End
    server: End
    proto: str
    port: int  # 0: a protocol without ports (ICMP)
    network: str  # the server's network; "" when the server is outside the stack
    count: int  # connections that began in the window (not in the table at its first read)
    first: float
    last: float
    replied: bool  # at least one connection got an answer
    routed: bool = (
        False  # the client's address is not on the server's network (forwarded between networks)
    )
    containers: tuple[str, ...] = ()  # the server container(s) that answered
    lingering: int = (
        0  # connections already in the table when the window began (they may predate it)
    )
    held: bool = (
        False  # one of those was an established TCP connection during the window (open through it)
    )

    @property
    def before(self) -> bool:
        """Every connection was already in the table when the window began (none began in it)."""
        return self.count == 0

    @property
    def evidence(self) -> bool:
        """Whether the flow shows use in the window: a connection began in it, or a TCP connection that was
        already open was established during it (a pool opened before the window). Entries that only linger
        from before (TIME_WAIT, an unanswered SYN, a UDP or ICMP entry waiting out its timeout: for
        instance the probes of a `check` run a minute earlier) show nothing about the window: they are
        listed, but neither judged nor drafted."""
        return self.count > 0 or self.held

    @property
    def egress(self) -> bool:
        """A flow from the stack to an address the stack does not hold."""
        return self.server.kind == OUTSIDE

    @property
    def port_text(self) -> str:
        """`5432/tcp`, or `icmp` for a protocol without ports."""
        return f"{self.port}/{self.proto}" if self.port else self.proto


def _sharers(state: State) -> dict[str, list[Container]]:
    """container id and name -> the containers that joined its namespace (network_mode container:<id or name>)."""
    out: dict[str, list[Container]] = {}
    for c in state.containers:
        if c.network_mode.startswith("container:"):
            out.setdefault(c.network_mode.removeprefix("container:"), []).append(c)
    return out


def address_index(state: State) -> dict[str, list[Owner]]:
    """Every address of the State -> who holds it (usually one owner; two when a stopped container's address was
    reused). Bridges' own addresses are the host's."""
    index: dict[str, list[Owner]] = {}
    sharers = _sharers(state)
    for c in state.containers:
        joined = sharers.get(c.id, []) + sharers.get(c.name, [])
        names = tuple(
            dict.fromkeys(s.service or s.name for s in joined if (s.service or s.name) != c.service)
        )
        kind, name = (
            (SERVICE, c.service)
            if c.service and (state.project is None or c.project == state.project)
            else (CONTAINER, c.name)
        )
        for ep in c.endpoints:
            for addr in ep.addresses:
                key = ip_or_none(addr)
                if key:
                    index.setdefault(key, []).append(
                        Owner(kind, name, ep.network, (c.name, *(s.name for s in joined)), names)
                    )
    for net in state.networks:
        for gw in net.gateways:
            key = ip_or_none(gw.split("/")[0])
            if key and key not in index:
                index[key] = [Owner(HOST, HOST, net.name)]
    return index


def _one(owners: list[Owner]) -> Owner:
    return owners[
        0
    ]  # an address held twice: the snapshot is being rebuilt; the first is the one it listed first


@dataclass
class Accumulator:
    """Conntrack tables read over a window -> one record per connection, with first and last seen."""

    index: Mapping[str, list[Owner]]
    seen: dict[tuple[str, str, str, int, int, int], tuple[ConnEntry, float, float]] = field(
        default_factory=dict
    )
    reads: int = 0
    before: set[tuple[str, str, str, int, int, int]] = field(
        default_factory=set
    )  # open when the window began
    established: set[tuple[str, str, str, int, int, int]] = field(
        default_factory=set
    )  # TCP connections seen ESTABLISHED at some read

    def add(self, t: float, entries: Iterable[ConnEntry]) -> None:
        """One read of the table at time `t`: keep entries with at least one end in the stack."""
        first_read = self.reads == 0
        self.reads += 1
        for e in entries:
            if e.src not in self.index and e.server[0] not in self.index:
                continue
            if e.state == "ESTABLISHED":
                self.established.add(e.key)
            old = self.seen.get(e.key)
            if old is None:
                self.seen[e.key] = (e, t, t)
                if first_read:
                    self.before.add(e.key)
            else:
                # a later read knows more: the reply may have come since
                self.seen[e.key] = (e if e.replied or not old[0].replied else old[0], old[1], t)

    def flows(self) -> list[Flow]:
        """The connections counted per (client, server, protocol, port, network)."""
        return summarize(
            ((e, a, b) for e, a, b in self.seen.values()),
            self.index,
            frozenset(self.before),
            frozenset(self.established),
        )


def _end(addr: str, index: Mapping[str, list[Owner]]) -> tuple[End, Owner | None]:
    owners = index.get(addr)
    if not owners:
        return End(OUTSIDE, addr), None
    o = _one(owners)
    return End(o.kind, o.name, o.sharers), o


def summarize(
    records: Iterable[tuple[ConnEntry, float, float]],
    index: Mapping[str, list[Owner]],
    before: frozenset[tuple[str, str, str, int, int, int]] = frozenset(),
    established: frozenset[tuple[str, str, str, int, int, int]] = frozenset(),
) -> list[Flow]:
    """Connections (entry, first seen, last seen) -> flows, sorted by client, server, port. Flows between two
    outside addresses are dropped (they are not the stack's). `before`: keys of connections already in the
    table at the window's first read; `established`: keys seen ESTABLISHED at some read."""
    groups: dict[
        tuple[End, End, str, int, str], list[tuple[ConnEntry, float, float, bool, str]]
    ] = {}
    for e, first, last in records:
        server_addr, port = e.server
        client, c_owner = _end(e.src, index)
        server, s_owner = _end(server_addr, index)
        if c_owner is None and s_owner is None:
            continue
        if e.proto in ("icmp", "icmpv6"):
            port = 0
        network = s_owner.network if s_owner else ""
        routed = bool(c_owner and s_owner and c_owner.network != s_owner.network)
        who = ",".join(s_owner.containers[:1]) if s_owner else ""
        groups.setdefault((client, server, e.proto, port, network), []).append(
            (e, first, last, routed, who)
        )
    out = []
    for (client, server, proto, port, network), items in groups.items():
        out.append(
            Flow(
                client,
                server,
                proto,
                port,
                network,
                count=sum(1 for i in items if i[0].key not in before),
                first=min(i[1] for i in items),
                last=max(i[2] for i in items),
                replied=any(i[0].replied for i in items),
                routed=any(i[3] for i in items),
                containers=tuple(sorted({i[4] for i in items if i[4]})),
                lingering=sum(1 for i in items if i[0].key in before),
                held=any(i[0].key in before and i[0].key in established for i in items),
            )
        )
    out.sort(
        key=lambda f: (
            f.client.kind != SERVICE,
            f.client.name,
            f.server.kind,
            f.server.name,
            f.proto,
            f.port,
        )
    )
    return out


def service_flows(flows: Iterable[Flow]) -> list[Flow]:
    """The flows between two services of the stack (not the host, foreign containers or outside)."""
    return [f for f in flows if f.client.kind == SERVICE and f.server.kind == SERVICE]


def served_ports(flows: Iterable[Flow]) -> dict[str, tuple[int, ...]]:
    """service -> the TCP ports other services connected to (and got an answer on) in the window, sorted."""
    out: dict[str, set[int]] = {}
    for f in service_flows(flows):
        if f.proto == "tcp" and f.port and f.replied and f.evidence:
            out.setdefault(f.server.name, set()).add(f.port)
    return {k: tuple(sorted(v)) for k, v in out.items()}


@dataclass(frozen=True)
class FlowWindow:
    """What a window of observation saw: the stack (snapshot at its end), its flows, and how it was read."""

    state: State
    flows: tuple[Flow, ...]
    started: float  # wall clock, seconds since the epoch
    seconds: float  # how long the window really was
    source: str  # proc or conntrack
    reads: int
    before: int  # connections already open (or lingering) when the window began
    notes: tuple[str, ...] = ()

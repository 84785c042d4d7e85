"""The parts of the netns executor that do no I/O: result type, classifiers, pacing queue, probe state.

`classify_connect` maps the errno of a finished TCP connect to an Outcome,
`classify_dns` a DNS answer that matched its query; `Pacer` queues work so that
at most N items per key (a target) and M overall are in flight; ProbeTask,
SourceState and SharedSocket are the engine's bookkeeping (netns_engine does
the I/O on the sockets they hold).

What this does not prove: an Outcome is only as true as the packet behind it
(see netcontract.live.netns.enter).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import socket
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from netcontract.addresses import hostport, ip_or_none
from netcontract.probe import dns_wire
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind

TOOL = "netns"
# Probes in flight at once (a TCP probe holds its own socket). Most of a dense stack's wall time is spent
# waiting out the windows of negatives (isolation SYNs dropped, names that must not resolve), so this is
# what bounds it: 512 made a 120-container check wait ~28 windows in a row (issue 23, docs/performance.md).
MAX_OPEN = 2048
# In flight to one TCP (address, port) or one ICMP address: a listen queue (busybox httpd's is 9, most
# servers' 128 or more) must not drop SYNs because we sent too many at once.
PER_TARGET = 32
# In flight on one source's DNS socket, to the engine's resolver: datagrams, no queue of the server's to
# overflow; names that must not resolve wait a window each, so this bounds a source's DNS time.
DNS_PER_SOURCE = 128
UNREACHABLE_ERRNOS = {
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTDOWN: "host is down",
}
T = TypeVar("T")


@dataclass
class NetnsRun:
    """What a netns run saw.

    observations: one per probe of every source, by (source key, probe key).
    latency_ms: milliseconds from sending to the answer, for every probe that got
      one (any TCP result but a timeout, echo replies and ICMP errors, DNS answers);
      absent for TIMEOUT and for probes that could not be sent.
    slowest_tcp_ok_ms: by source key, its slowest successful TCP connect (sources with one).
    """

    observations: dict[tuple[str, str], Observation] = field(default_factory=dict)
    latency_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    slowest_tcp_ok_ms: dict[str, float] = field(default_factory=dict)
    waited_ms: dict[tuple[str, str], float] = field(
        default_factory=dict
    )  # TIMEOUT: how long it had, in ms


@dataclass(frozen=True)
class Stretch:
    """Windows that follow the answers of the run itself: an unanswered probe waits `multiple` times the slowest
    answer seen so far on its kind of path (any source), at least its window and at most `cap` seconds."""

    multiple: float
    cap: float


def path_kind(kind: ProbeKind, family: int) -> str:
    """dns, tcp4, tcp6, icmp4, icmp6: the kinds of path whose answers calibrate windows (family 4 or 6)."""
    return kind.value if kind is ProbeKind.DNS else f"{kind.value}{family}"


def classify_connect(err: int) -> tuple[Outcome, str]:
    """Outcome and a short phrase for a finished non-blocking connect, from SO_ERROR (or connect's errno)."""
    if err == 0:
        return Outcome.OK, "connected"
    if err == errno.ECONNREFUSED:
        return Outcome.REFUSED, "refused"
    if err in UNREACHABLE_ERRNOS:
        return Outcome.UNREACHABLE, UNREACHABLE_ERRNOS[err]
    if err == errno.ETIMEDOUT:
        return Outcome.TIMEOUT, "timed out"
    return Outcome.ERROR, f"{errno.errorcode.get(err, str(err))} ({os.strerror(err)})"


def classify_dns(answer: dns_wire.DnsAnswer, qtype: str) -> tuple[Outcome, str, tuple[str, ...]]:
    """Outcome, a short phrase and the sorted addresses of a DNS answer that matched its query."""
    if answer.truncated:
        return Outcome.ERROR, "answer truncated (TC bit); DNS over TCP is not tried", ()
    if answer.rcode == 0:
        found = sorted(set(answer.addresses), key=ipaddress.ip_address)
        if found:
            return Outcome.OK, ", ".join(found), tuple(found)
        return Outcome.NODATA, f"NOERROR without {qtype.upper()} record", ()
    if answer.rcode == 3:
        return Outcome.NXDOMAIN, "NXDOMAIN", ()
    if answer.rcode == 2:
        return Outcome.SERVFAIL, "SERVFAIL", ()
    return Outcome.ERROR, f"the DNS server answered {answer.rcode_name}", ()


def error_observation(probe: Probe, detail: str) -> Observation:
    """ERROR for a probe that could not be sent at all."""
    target = probe.target if probe.port is None else hostport(probe.target, probe.port)
    return Observation(
        Outcome.ERROR, detail=detail, output=f"{probe.kind.value} {target}: {detail}", tool=TOOL
    )


class Pacer(Generic[T]):
    """Work queued by key: FIFO within a key, round robin across keys, at most `total` in flight and at most
    `per_key` under one key, or `per_kind[key[0]]` for a tuple key whose first part is listed there."""

    def __init__(
        self, total: int, per_key: int, per_kind: Mapping[Hashable, int] | None = None
    ) -> None:
        self.total, self.per_key = total, per_key
        self.per_kind = dict(per_kind or {})
        self.in_flight = 0
        self._waiting: dict[Hashable, deque[T]] = {}
        self._active: dict[Hashable, int] = {}
        self._ready: deque[Hashable] = (
            deque()
        )  # keys with waiting work and a free slot, each at most once

    @property
    def idle(self) -> bool:
        """Whether nothing is in flight and nothing waits."""
        return not self.in_flight and not self._waiting

    def add(self, key: Hashable, item: T) -> None:
        """Queue `item` under `key`, behind that key's earlier work."""
        queue = self._waiting.setdefault(key, deque())
        queue.append(item)
        if len(queue) == 1 and self._active.get(key, 0) < self._limit(key):
            self._ready.append(key)

    def take(self) -> list[tuple[Hashable, T]]:
        """Everything that may start now (counted in flight until `done`)."""
        out: list[tuple[Hashable, T]] = []
        while self._ready and self.in_flight < self.total:
            key = self._ready.popleft()
            queue = self._waiting[key]
            out.append((key, queue.popleft()))
            self.in_flight += 1
            active = self._active[key] = self._active.get(key, 0) + 1
            if not queue:
                del self._waiting[key]
            elif active < self._limit(key):
                self._ready.append(key)
        return out

    def _limit(self, key: Hashable) -> int:
        if self.per_kind and isinstance(key, tuple) and key:
            return self.per_kind.get(key[0], self.per_key)
        return self.per_key

    def done(self, key: Hashable) -> None:
        """Free `key`'s slot for an item taken earlier; its next waiting item may start."""
        self.in_flight -= 1
        active = self._active[key] - 1
        if active:
            self._active[key] = active
        else:
            del self._active[key]
        if active == self._limit(key) - 1 and key in self._waiting:
            self._ready.append(key)


@dataclass(eq=False)
class SharedSocket:
    """A source's raw ICMP socket of one family, or its DNS socket, used by all its probes of that kind."""

    kind: ProbeKind
    sock: socket.socket
    ident: int = field(default_factory=lambda: secrets.randbelow(0x10000))
    waiting: dict[int, ProbeTask] = field(
        default_factory=dict
    )  # ICMP sequence or DNS id -> probe in flight
    used: set[int] = field(default_factory=set)  # DNS ids given out on this socket
    next_seq: int = field(default_factory=lambda: secrets.randbelow(0x10000))

    def token(self) -> int:
        """A fresh ICMP sequence number, or a random DNS id not yet used on this socket."""
        if self.kind is ProbeKind.ICMP:
            while self.next_seq in self.waiting:
                self.next_seq = (self.next_seq + 1) & 0xFFFF
            seq, self.next_seq = self.next_seq, (self.next_seq + 1) & 0xFFFF
            return seq
        if len(self.used) > 0xF000:
            self.used = set(self.waiting)
        while (qid := secrets.randbelow(0x10000)) in self.used:
            pass
        self.used.add(qid)
        return qid


@dataclass(eq=False)
class SourceState:
    """One source inside the selector: its namespace fd, and the shared sockets its probes use with
    how many unfinished probes hold each.
    """

    key: str
    ns_fd: int
    dns: tuple[str, int] = ("127.0.0.11", 53)  # the DNS server its DNS probes ask
    shared: dict[tuple[ProbeKind, int], SharedSocket] = field(default_factory=dict)
    users: dict[tuple[ProbeKind, int], int] = field(
        default_factory=dict
    )  # unfinished probes per shared socket


@dataclass(eq=False)
class ProbeTask:
    """One probe to one address in flight: its socket(s), what it sent and when, whether it is done."""

    src: SourceState
    probe: Probe
    address: str  # an IP address; the name for DNS probes
    family: int  # of the socket: the target's, or the DNS server's
    label: str  # start of the human output, e.g. "connect 172.20.0.3:5432"
    pace: Hashable
    socks: list[socket.socket] = field(
        default_factory=list
    )  # TCP: the first attempt, and the resent one
    shared: SharedSocket | None = None
    token: int = -1
    packet: bytes = b""  # ICMP / DNS: what was sent (and is sent again)
    sent: float = 0.0  # perf_counter() at the first send
    sent_ns: int = (
        0  # time.time_ns() at the first send: kernel receive timestamps are on that clock
    )
    resent: bool = False
    note: str = ""  # why a packet that looked like the answer was ignored
    done: bool = False

    @property
    def shared_key(self) -> tuple[ProbeKind, int]:
        """Which of its source's shared sockets the probe uses: its kind and address family."""
        return self.probe.kind, self.family


def parse_nameservers(text: str) -> tuple[str, ...]:
    """The `nameserver` addresses of a resolv.conf, in order (IPv6 zone suffixes dropped)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            address = ip_or_none(fields[1].split("%")[0])
            if address is not None:
                out.append(address)
    return tuple(out)


def choose_resolver(nameservers: Sequence[str], candidates: Sequence[str], default: str) -> str:
    """Which DNS server the netns prober asks for a container: `default` (Docker's 127.0.0.11) when the
    container's resolv.conf names it or cannot be read; else the first nameserver that is one of
    `candidates` (the gateways of its networks, where Podman's aardvark-dns answers); else `default`.
    A nameserver elsewhere (the host's upstream) is never asked: netns probes stay on the engine's resolver."""
    if not nameservers or default in nameservers:
        return default
    return next((ns for ns in nameservers if ns in candidates), default)

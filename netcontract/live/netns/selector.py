"""The selector loop of the netns executor: probes in flight on sockets made in other namespaces, with deadlines.

`drive` asks an opener for sockets inside each source's network namespace,
sends every probe from them (TCP connect, ICMP echo, DNS query), reads every
answer on one selector in the calling thread and records one Observation per
probe in a NetnsRun. It never enters a namespace itself: with an opener that
makes plain sockets it runs on loopback, which is how the unit tests drive it.
At most `budget` probes are in flight, at most `per_target` to one target (TCP
address and port, ICMP address) and `dns_per_source` on one source's DNS socket;
the rest wait.
A probe without an answer halfway through its window is sent once more (a new
SYN from a new socket, the same echo request, the same DNS query): a SYN that a
momentarily full listen queue dropped, or one lost datagram, then does not
turn into a false TIMEOUT. The window itself is not extended.

Deadlines and latencies. A probe expires only at a time that the last
select() has already covered (its return time), so an answer that reached the
socket before the deadline is always read first, however busy this loop was
in between. Latencies, which calibrate the windows of negatives (live.runner),
are the network's, not this loop's: the kernel's handshake round trip
(TCP_INFO tcpi_rtt) for a connect, the kernel's receive timestamp
(SO_TIMESTAMPNS) for an echo reply or a DNS answer; where the kernel gives
none (a refused connect, a SYN sent twice, an architecture without the
constant), the time from the first send to the select() that saw the answer.

What this does not prove: see netcontract.live.netns.enter. A DNS answer is whatever
packet came back from the server's address with our random id and question.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import platform
import selectors
import socket
import struct
import time
from collections.abc import Callable, Mapping, Sequence

from netcontract.addresses import family_of, hostport, ip_or_none
from netcontract.live.netns.tasks import (
    DNS_PER_SOURCE,
    MAX_OPEN,
    PER_TARGET,
    TOOL,
    UNREACHABLE_ERRNOS,
    NetnsRun,
    Pacer,
    ProbeTask,
    SharedSocket,
    SourceState,
    Stretch,
    classify_connect,
    classify_dns,
    error_observation,
    path_kind,
)
from netcontract.probe import dns_wire, icmp_wire
from netcontract.probe.observation import (
    RX_TIMESTAMP,
    TCP_RTT,
    USERSPACE,
    Observation,
    Outcome,
    Probe,
    ProbeKind,
)

_SPECS: dict[tuple[ProbeKind, int], tuple[int, int, int]] = {
    (ProbeKind.ICMP, socket.AF_INET): (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    (ProbeKind.ICMP, socket.AF_INET6): (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
}
_LINGER_RESET = struct.pack(
    "ii", 1, 0
)  # close with a reset: no TIME_WAIT left in the container's namespace
RESEND_AT = 0.5  # fraction of the window after which an unanswered probe is sent once more
# SO_TIMESTAMPNS (= SCM_TIMESTAMPNS) of asm-generic, which these architectures use; Python does not export it.
SO_TIMESTAMPNS = (
    35
    if platform.machine()
    in (
        "x86_64",
        "amd64",
        "aarch64",
        "arm64",
        "armv7l",
        "ppc64le",
        "s390x",
        "riscv64",
        "i686",
        "i386",
    )
    else None
)
_TCPI_RTT = (
    68  # offset of tcpi_rtt (microseconds, u32) in struct tcp_info (linux/tcp.h, stable since 2.6)
)
_TIMESPEC = struct.Struct("qq")

Opener = Callable[[int, Sequence[tuple[int, int, int]]], list[socket.socket | OSError]]


def drive(
    run: NetnsRun,
    sources: Sequence[tuple[str, int, Sequence[Probe]]],
    timeout: float,
    opener: Opener,
    *,
    dns: tuple[str, int] = ("127.0.0.11", 53),
    budget: int = MAX_OPEN,
    per_target: int = PER_TARGET,
    dns_per_source: int = DNS_PER_SOURCE,
    stretch: Stretch | None = None,
    resolvers: Mapping[str, tuple[str, int]] | None = None,
) -> None:
    """Run the probes of every (key, namespace fd, probes) source; record an Observation for each in `run`.
    With `stretch`, an unanswered probe's window grows with the slowest answer of its kind of path so far.
    DNS goes to `dns`, or to `resolvers[key]` for the sources named there (Podman: the container's own)."""
    engine = _Engine(
        run, timeout, opener, dns, Pacer(budget, per_target, {"dns": dns_per_source}), stretch
    )
    try:
        for key, ns_fd, probes in sources:
            engine.add(SourceState(key, ns_fd, dns=(resolvers or {}).get(key, dns)), probes)
        engine.loop()
    finally:
        for selector_key in list(engine.sel.get_map().values()):
            selector_key.fileobj.close()  # type: ignore[union-attr]
        engine.sel.close()


class _Engine:
    def __init__(
        self,
        run: NetnsRun,
        timeout: float,
        opener: Opener,
        dns: tuple[str, int],
        pacer: Pacer[ProbeTask],
        stretch: Stretch | None = None,
    ) -> None:
        self.run, self.timeout, self.opener, self.dns, self.pacer = run, timeout, opener, dns, pacer
        self.stretch = stretch
        self.slowest: dict[str, float] = {}  # kind of path -> slowest answer so far, seconds
        self.sel = selectors.DefaultSelector()
        self.timers: list[
            tuple[float, int, ProbeTask, bool]
        ] = []  # (when, order, probe, resend rather than expire)
        self.order = itertools.count()
        self.seen_at: float | None = (
            None  # while events are handled: when the select() that returned them did
        )

    def add(self, src: SourceState, probes: Sequence[Probe]) -> None:
        for probe in probes:
            task = self._task(src, probe)
            if isinstance(task, str):
                self.run.observations[(src.key, probe.key)] = error_observation(probe, task)
                continue
            if probe.kind is not ProbeKind.TCP:
                src.users[task.shared_key] = src.users.get(task.shared_key, 0) + 1
            self.pacer.add(task.pace, task)

    def _task(self, src: SourceState, probe: Probe) -> ProbeTask | str:
        if probe.kind is ProbeKind.DNS:
            try:
                dns_wire.validate_name(probe.target)
                dns_wire.qtype_code(probe.qtype)
            except dns_wire.DnsError as exc:
                return str(exc)
            label = f"{probe.qtype.upper()} {probe.target} @{hostport(*src.dns)}"
            return ProbeTask(src, probe, probe.target, _family(src.dns[0]), label, ("dns", id(src)))
        address = ip_or_none(probe.target)
        if address is None:
            return f"netns probes need an address, not {probe.target!r}"
        if probe.kind is ProbeKind.ICMP:
            return ProbeTask(
                src, probe, address, _family(address), f"ping {address}", ("icmp", address)
            )
        if probe.port is None or not 0 < probe.port < 0x10000:
            return f"TCP probe without a valid port ({probe.port})"
        label = f"connect {hostport(address, probe.port)}"
        return ProbeTask(src, probe, address, _family(address), label, ("tcp", address, probe.port))

    def loop(self) -> None:
        while True:
            while batch := self.pacer.take():
                by_source: dict[SourceState, list[ProbeTask]] = {}
                for _key, task in batch:
                    by_source.setdefault(task.src, []).append(task)
                for src, tasks in by_source.items():
                    self._start(src, tasks)
            if self.pacer.idle:
                return
            while self.timers and self.timers[0][2].done:
                heapq.heappop(self.timers)
            wait = self.timers[0][0] - time.perf_counter() if self.timers else self.timeout
            events = self.sel.select(max(0.0, wait))
            # Everything that reached a socket before this moment is in `events`: only deadlines up to here
            # may expire, however long handling the events takes.
            now = self.seen_at = time.perf_counter()
            try:
                for selector_key, _mask in events:
                    if isinstance(selector_key.data, ProbeTask):
                        self._on_connect(selector_key.data, selector_key.fileobj)  # type: ignore[arg-type]
                    else:
                        self._on_readable(selector_key.data)
            finally:
                self.seen_at = None
            resend: dict[SourceState, list[ProbeTask]] = {}
            while self.timers and self.timers[0][0] <= now:
                _when, _order, task, again = heapq.heappop(self.timers)
                if task.done:
                    continue
                if again:
                    resend.setdefault(task.src, []).append(task)
                    continue
                longer = self._window(task)
                if (
                    task.sent + longer > now
                ):  # slower answers came in meanwhile: this one waits for as long
                    heapq.heappush(self.timers, (task.sent + longer, next(self.order), task, False))
                    continue
                waited = now - task.sent
                self.run.waited_ms[(task.src.key, task.probe.key)] = waited * 1000
                note = f"; {task.note}" if task.note else ""
                self._finish(
                    task,
                    Outcome.TIMEOUT,
                    f"no answer within {waited * 1000:.0f} ms{note}",
                    answered=False,
                )
            for src, tasks in resend.items():
                self._resend(src, tasks)

    def _start(self, src: SourceState, tasks: list[ProbeTask]) -> None:
        tcp = [t for t in tasks if t.probe.kind is ProbeKind.TCP]
        missing = list(
            dict.fromkeys(
                t.shared_key
                for t in tasks
                if t.probe.kind is not ProbeKind.TCP and t.shared_key not in src.shared
            )
        )
        specs: list[tuple[int, int, int]] = [(t.family, socket.SOCK_STREAM, 0) for t in tcp]
        specs += [_SPECS.get(key, (key[1], socket.SOCK_DGRAM, 0)) for key in missing]
        try:
            made = self.opener(src.ns_fd, specs) if specs else []
        except OSError as exc:
            for task in tasks:
                self._finish(
                    task,
                    Outcome.ERROR,
                    f"cannot open sockets in the namespace: {exc}",
                    answered=False,
                )
            return
        problems: dict[tuple[ProbeKind, int], str] = {}
        for key, made_one in zip(missing, made[len(tcp) :], strict=True):
            problem = self._open_shared(src, key, made_one)
            if problem:
                problems[key] = problem
        for task, sock in zip(tcp, made, strict=False):
            if isinstance(sock, OSError):
                self._finish(
                    task, Outcome.ERROR, f"cannot open a TCP socket: {sock}", answered=False
                )
            else:
                self._connect(task, sock)
        for task in tasks:
            if task.probe.kind is not ProbeKind.TCP:
                self._send(task, problems.get(task.shared_key, "socket closed"))

    def _open_shared(
        self, src: SourceState, key: tuple[ProbeKind, int], made: socket.socket | OSError
    ) -> str:
        if isinstance(made, OSError):
            return (
                f"cannot open a {'raw ICMP' if key[0] is ProbeKind.ICMP else 'UDP'} socket: {made}"
            )
        try:
            made.setblocking(False)
            if SO_TIMESTAMPNS is not None:
                with contextlib.suppress(OSError):
                    made.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            if key[0] is ProbeKind.DNS:
                made.connect(src.dns)  # only the server's packets reach this socket
        except OSError as exc:
            made.close()
            return f"cannot reach the DNS server {hostport(*src.dns)}: {exc.strerror or exc}"
        shared = src.shared[key] = SharedSocket(key[0], made)
        self.sel.register(made, selectors.EVENT_READ, shared)
        return ""

    def _window(self, task: ProbeTask) -> float:
        """How long `task` must wait for its answer, given the answers seen so far."""
        if self.stretch is None:
            return self.timeout
        slowest = self.slowest.get(_path(task), 0.0)
        return max(self.timeout, min(self.stretch.cap, self.stretch.multiple * slowest))

    def _arm(self, task: ProbeTask) -> None:
        heapq.heappush(
            self.timers, (task.sent + self.timeout * RESEND_AT, next(self.order), task, True)
        )
        heapq.heappush(self.timers, (task.sent + self.timeout, next(self.order), task, False))

    def _resend(self, src: SourceState, tasks: list[ProbeTask]) -> None:
        """Send unanswered probes once more; a failure to do so just leaves the first attempt."""
        tcp = [t for t in tasks if t.probe.kind is ProbeKind.TCP]
        made: list[socket.socket | OSError] = []
        if tcp:
            with contextlib.suppress(OSError):
                made = self.opener(src.ns_fd, [(t.family, socket.SOCK_STREAM, 0) for t in tcp])
        for task, sock in zip(tcp, made, strict=False):
            if isinstance(sock, socket.socket):
                task.resent = True
                self._connect(task, sock, first=False)
        for task in tasks:
            if task.shared is not None and not task.done:
                task.resent = True
                with contextlib.suppress(OSError):
                    self._transmit(task, task.shared)

    def _connect(self, task: ProbeTask, sock: socket.socket, *, first: bool = True) -> None:
        assert task.probe.port is not None
        task.socks.append(sock)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            if first:
                task.sent, task.sent_ns = time.perf_counter(), time.time_ns()
            err = sock.connect_ex((task.address, task.probe.port))
        except OSError as exc:
            if first:
                self._finish(task, Outcome.ERROR, f"connect failed: {exc}", answered=False)
            return
        if err in (errno.EINPROGRESS, errno.EAGAIN):
            self.sel.register(sock, selectors.EVENT_WRITE, task)
            if first:
                self._arm(task)
        else:
            self._finish(task, *classify_connect(err))

    def _on_connect(self, task: ProbeTask, sock: socket.socket) -> None:
        if task.done:
            return
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        latency = None
        if err == 0 and not task.resent:
            with contextlib.suppress(OSError, struct.error):
                rtt_us = struct.unpack_from(
                    "I", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), _TCPI_RTT
                )[0]
                latency = rtt_us / 1000 if rtt_us else None
        self._finish(task, *classify_connect(err), latency_ms=latency, how=TCP_RTT)

    def _send(self, task: ProbeTask, problem: str) -> None:
        shared = task.src.shared.get(task.shared_key)
        if shared is None:
            self._finish(task, Outcome.ERROR, problem, answered=False)
            return
        task.shared, task.token = shared, shared.token()
        if task.probe.kind is ProbeKind.ICMP:
            task.packet = icmp_wire.build_echo(
                4 if task.family == socket.AF_INET else 6, shared.ident, task.token
            )
        else:
            task.packet = dns_wire.build_query(task.token, task.address, task.probe.qtype)
        task.sent, task.sent_ns = time.perf_counter(), time.time_ns()
        try:
            self._transmit(task, shared)
        except OSError as exc:
            if exc.errno in UNREACHABLE_ERRNOS:
                self._finish(task, Outcome.UNREACHABLE, UNREACHABLE_ERRNOS[exc.errno])
            else:
                self._finish(task, Outcome.ERROR, f"send failed: {exc}", answered=False)
            return
        shared.waiting[task.token] = task
        self._arm(task)

    @staticmethod
    def _transmit(task: ProbeTask, shared: SharedSocket) -> None:
        if task.probe.kind is ProbeKind.ICMP:
            shared.sock.sendto(task.packet, (task.address, 0))
        else:
            shared.sock.send(task.packet)

    def _on_readable(self, shared: SharedSocket) -> None:
        for _ in range(64):  # drain, but let the other sockets have their turn
            if shared.sock.fileno() < 0:
                return
            try:
                data, ancillary, _flags, peer = shared.sock.recvmsg(
                    4096, socket.CMSG_SPACE(_TIMESPEC.size)
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                server = next((t.src.dns for t in shared.waiting.values()), self.dns)
                what = (
                    f"nothing answers DNS at {hostport(*server)} (port unreachable)"
                    if exc.errno == errno.ECONNREFUSED
                    else f"receive failed: {exc}"
                )
                for task in list(shared.waiting.values()):
                    self._finish(task, Outcome.ERROR, what, answered=False)
                if exc.errno != errno.ECONNREFUSED:
                    return
                continue
            received = _kernel_time_ns(ancillary)
            if shared.kind is ProbeKind.ICMP:
                self._on_icmp(shared, data, str(peer[0]), received)
            else:
                self._on_dns(shared, data, received)

    def _on_icmp(
        self, shared: SharedSocket, data: bytes, sender: str, received: int | None = None
    ) -> None:
        event = icmp_wire.parse(6 if shared.sock.family == socket.AF_INET6 else 4, data, sender)
        if event is None or event.ident != shared.ident:
            return
        task = shared.waiting.get(event.seq)
        if task is None or ip_or_none(event.peer) != task.address:
            return
        if event.kind == "reply":
            self._finish(task, Outcome.OK, "echo reply", latency_ms=_since(task, received))
        else:
            self._finish(
                task,
                Outcome.UNREACHABLE,
                f"{event.reason} from {event.sender}",
                latency_ms=_since(task, received),
            )

    def _on_dns(self, shared: SharedSocket, data: bytes, received: int | None = None) -> None:
        qid = dns_wire.response_id(data)
        task = shared.waiting.get(qid) if qid is not None else None
        if task is None:
            return
        try:
            answer = dns_wire.parse_response(data, task.token, task.address, task.probe.qtype)
        except dns_wire.DnsMismatch:
            return  # a late or forged packet: keep waiting for the real answer
        except dns_wire.DnsFormatError as exc:
            task.note = f"ignored a malformed answer: {exc}"
            return
        outcome, what, addresses = classify_dns(answer, task.probe.qtype)
        self._finish(task, outcome, what, addresses=addresses, latency_ms=_since(task, received))

    def _finish(
        self,
        task: ProbeTask,
        outcome: Outcome,
        what: str,
        *,
        addresses: tuple[str, ...] = (),
        answered: bool = True,
        latency_ms: float | None = None,
        how: str = RX_TIMESTAMP,
    ) -> None:
        if task.done:
            return
        task.done = True
        key = (task.src.key, task.probe.key)
        timing = ""
        if answered and task.sent:
            if latency_ms is None:  # no kernel figure: up to the select() that saw the answer
                latency_ms, how = (
                    ((self.seen_at or time.perf_counter()) - task.sent) * 1000,
                    USERSPACE,
                )
            ms = self.run.latency_ms[key] = latency_ms
            if outcome is not Outcome.ERROR:
                kind = _path(task)
                self.slowest[kind] = max(self.slowest.get(kind, 0.0), ms / 1000)
            timing = f" ({ms:.1f} ms{', sent twice' if task.resent else ''})"
            if outcome is Outcome.OK and task.probe.kind is ProbeKind.TCP:
                slowest = self.run.slowest_tcp_ok_ms
                slowest[task.src.key] = max(ms, slowest.get(task.src.key, 0.0))
        self.run.observations[key] = Observation(
            outcome,
            addresses,
            what,
            f"{task.label}: {what}{timing}",
            TOOL,
            task.probe.qtype if task.probe.kind is ProbeKind.DNS else "",
            latency_ms=self.run.latency_ms.get(key) if timing else None,
            latency_source=how if timing else "",
        )
        for sock in task.socks:
            if sock in self.sel.get_map():
                self.sel.unregister(sock)
            sock.close()
        self.pacer.done(task.pace)
        if task.probe.kind is ProbeKind.TCP:
            return
        if task.shared is not None and task.shared.waiting.get(task.token) is task:
            del task.shared.waiting[task.token]
        src, skey = task.src, task.shared_key
        src.users[skey] -= 1
        if not src.users[skey] and skey in src.shared:
            shared = src.shared.pop(skey)
            self.sel.unregister(shared.sock)
            shared.sock.close()


def _kernel_time_ns(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    """The kernel's receive time (CLOCK_REALTIME, ns) from SCM_TIMESTAMPNS, if the socket asked for it."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return int(sec) * 1_000_000_000 + int(nsec)
    return None


def _since(task: ProbeTask, received: int | None) -> float | None:
    """Milliseconds from the first send to the kernel's receipt; None when unknown or the clock stepped."""
    if received is None or not task.sent_ns:
        return None
    ms = (received - task.sent_ns) / 1e6
    return ms if ms >= 0 else None


def _path(task: ProbeTask) -> str:
    """The kind of path a probe takes (dns, tcp4, icmp6, ...): the runner calibrates windows by the same names."""
    return path_kind(task.probe.kind, 6 if task.family == socket.AF_INET6 else 4)


def _family(address: str) -> int:
    return socket.AF_INET6 if family_of(address) == 6 else socket.AF_INET

"""The netns engine's edges, through `drive` on loopback: where its latencies come from, what an error
records, and the failures of its own sockets (the mutation run, `make mutate`, showed which no test pinned).

Latencies calibrate the windows of negative probes (live.runner), so their source matters: the kernel's
handshake round trip (TCP_INFO) for a connect, the kernel's receive timestamp (SO_TIMESTAMPNS) for an
ICMP or DNS answer. The sockets here report figures no loop could measure (an rtt of 123.456 ms on
loopback, a timestamp 5 s after the send), so a test sees which figure was used. A probe that could not
be made records no latency and no window: it was not answered. Traffic: loopback only; the documentation
addresses (192.0.2.0/24) appear only inside crafted datagrams.
"""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from netcontract.live.netns import selector
from netcontract.live.netns.selector import drive
from netcontract.live.netns.tasks import (
    NetnsRun,
    Pacer,
    ProbeTask,
    SharedSocket,
    SourceState,
    Stretch,
)
from netcontract.probe.observation import Outcome, Probe, ProbeKind

Opener = Callable[[int, Sequence[tuple[int, int, int]]], list[socket.socket | OSError]]
KEY = ("src", "p0")


def run(
    probes: Sequence[Probe], opener: Opener, timeout: float = 0.3, ns_fd: int = 7, **options: object
) -> NetnsRun:
    result = NetnsRun()
    drive(result, [("src", ns_fd, probes)], timeout, opener, **options)  # type: ignore[arg-type]
    return result


def opener_of(
    make: Callable[[int, int, int], socket.socket | OSError], calls: list[int] | None = None
) -> Opener:
    def opener(ns_fd: int, specs: Sequence[tuple[int, int, int]]) -> list[socket.socket | OSError]:
        if calls is not None:
            calls.append(ns_fd)
        return [make(*spec) for spec in specs]

    return opener


def plain(family: int, kind: int, proto: int) -> socket.socket | OSError:
    return socket.socket(family, socket.SOCK_DGRAM if kind == socket.SOCK_RAW else kind, 0)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server.getsockname()[1]
    server.close()


# -- TCP: the kernel's round trip -------------------------------------------------------------------


class RttSocket(socket.socket):
    """A TCP socket whose TCP_INFO reports `rtt_us` as the handshake's round trip."""

    rtt_us = 123456

    def getsockopt(self, level: int, option: int, buflen: int | None = None) -> int | bytes:  # type: ignore[override]
        if (level, option) == (socket.IPPROTO_TCP, socket.TCP_INFO):
            assert buflen == 104
            info = bytearray(super().getsockopt(level, option, buflen))
            struct.pack_into("I", info, 68, self.rtt_us)
            return bytes(info)
        return (
            super().getsockopt(level, option)
            if buflen is None
            else super().getsockopt(level, option, buflen)
        )


class NoRttSocket(RttSocket):
    rtt_us = 0


def test_a_connect_takes_its_latency_from_tcp_info(listener: int) -> None:
    result = run(
        [Probe("p0", ProbeKind.TCP, "127.0.0.1", listener)],
        opener_of(lambda f, k, p: RttSocket(f, k, p)),
    )
    obs = result.observations[KEY]
    assert (obs.outcome, obs.detail) == (Outcome.OK, "connected")
    assert result.latency_ms[KEY] == pytest.approx(123.456)
    assert obs.output == f"connect 127.0.0.1:{listener}: connected (123.5 ms)"
    assert result.slowest_tcp_ok_ms.get("src") == pytest.approx(123.456)


def test_without_a_kernel_round_trip_the_loop_measures(listener: int) -> None:
    result = run(
        [Probe("p0", ProbeKind.TCP, "127.0.0.1", listener)],
        opener_of(lambda f, k, p: NoRttSocket(f, k, p)),
    )
    assert result.observations[KEY].outcome is Outcome.OK
    assert (
        0 < result.latency_ms[KEY] < 100
    )  # select() saw the connect, not 0 ms and not TCP_INFO's 0


class BrokenTcpInfo(socket.socket):
    """TCP_INFO fails (`fail`) or is too short to hold tcpi_rtt."""

    fail = True

    def getsockopt(self, level: int, option: int, buflen: int | None = None) -> int | bytes:  # type: ignore[override]
        if (level, option) == (socket.IPPROTO_TCP, socket.TCP_INFO):
            if self.fail:
                raise OSError(errno.ENOPROTOOPT, "Protocol not available")
            return b"\x00" * 16
        return (
            super().getsockopt(level, option)
            if buflen is None
            else super().getsockopt(level, option, buflen)
        )


class ShortTcpInfo(BrokenTcpInfo):
    fail = False


@pytest.mark.parametrize("kind", [BrokenTcpInfo, ShortTcpInfo])
def test_without_tcp_info_a_connect_is_still_read(listener: int, kind: type[socket.socket]) -> None:
    result = run(
        [Probe("p0", ProbeKind.TCP, "127.0.0.1", listener)],
        opener_of(lambda f, k, p: kind(f, k, p)),
    )
    assert result.observations[KEY].outcome is Outcome.OK
    assert 0 < result.latency_ms[KEY] < 100


def test_a_refused_connect_is_not_timed_by_tcp_info() -> None:
    """TCP_INFO's rtt belongs to a handshake that completed; a refused connect is timed by the loop."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    result = run(
        [Probe("p0", ProbeKind.TCP, "127.0.0.1", port)],
        opener_of(lambda f, k, p: RttSocket(f, k, p)),
    )
    assert result.observations[KEY].outcome is Outcome.REFUSED
    assert result.latency_ms[KEY] < 100  # not RttSocket's 123.456 ms


class FailingConnect(socket.socket):
    def connect_ex(self, address: object) -> int:  # type: ignore[override]
        raise OSError(errno.EINVAL, "Invalid argument")


class ImmediateErrno(socket.socket):
    def connect_ex(self, address: object) -> int:  # type: ignore[override]
        return errno.ENETUNREACH


def test_a_connect_that_raises_is_an_error_without_a_latency() -> None:
    result = run(
        [Probe("p0", ProbeKind.TCP, "127.0.0.1", 9)],
        opener_of(lambda f, k, p: FailingConnect(f, k, p)),
    )
    obs = result.observations[KEY]
    assert (obs.outcome, obs.detail) == (
        Outcome.ERROR,
        "connect failed: [Errno 22] Invalid argument",
    )
    assert obs.output == "connect 127.0.0.1:9: connect failed: [Errno 22] Invalid argument"
    assert KEY not in result.latency_ms


def test_a_connect_that_fails_at_once_is_classified_by_its_errno() -> None:
    result = run(
        [Probe("p0", ProbeKind.TCP, "127.0.0.1", 9)],
        opener_of(lambda f, k, p: ImmediateErrno(f, k, p)),
    )
    obs = result.observations[KEY]
    assert (obs.outcome, obs.detail) == (Outcome.UNREACHABLE, "network unreachable")
    assert KEY in result.latency_ms  # the kernel answered


@pytest.mark.parametrize(
    ("port", "detail"),
    [
        (0, "TCP probe without a valid port (0)"),
        (0x10000, "TCP probe without a valid port (65536)"),
        (None, "TCP probe without a valid port (None)"),
    ],
)
def test_a_tcp_probe_without_a_valid_port_is_an_error(port: int | None, detail: str) -> None:
    result = run([Probe("p0", ProbeKind.TCP, "127.0.0.1", port)], opener_of(plain))
    obs = result.observations[KEY]
    assert (obs.outcome, obs.detail, obs.tool) == (Outcome.ERROR, detail, "netns")
    assert KEY not in result.latency_ms


def test_the_highest_port_is_probed() -> None:
    result = run([Probe("p0", ProbeKind.TCP, "127.0.0.1", 0xFFFF)], opener_of(plain))
    assert result.observations[KEY].detail != "TCP probe without a valid port (65535)"


def test_a_dropped_syn_is_sent_again_from_a_new_socket_in_the_same_namespace() -> None:
    """A listen queue that drops SYNs: the second attempt is opened in the source's namespace too (same fd)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    server.setblocking(False)

    def drain() -> None:
        for _ in range(8):
            try:
                server.accept()[0].close()
            except OSError:
                return

    calls: list[int] = []
    timer = threading.Timer(0.4, drain)
    try:
        timer.start()
        result = run(
            [Probe("p0", ProbeKind.TCP, "127.0.0.1", port)],
            opener_of(plain, calls),
            timeout=1.0,
            ns_fd=7,
        )
    finally:
        timer.join()
        for f in fillers:
            f.close()
        server.close()
    assert calls and set(calls) == {7}
    assert len(calls) == 2, calls  # the first attempt, then the resend
    obs = result.observations[KEY]
    assert obs.outcome is Outcome.OK, obs
    assert obs.output.endswith(", sent twice)"), obs.output


# -- ICMP and DNS: the kernel's receive time ------------------------------------------------------


def ipv4(src: str, dst: str, payload: bytes) -> bytes:
    return (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(payload),
            0,
            0,
            64,
            1,
            0,
            socket.inet_aton(src),
            socket.inet_aton(dst),
        )
        + payload
    )


class Late(socket.socket):
    """A UDP socket standing in for a raw ICMP or a DNS socket. Whatever it sends is answered at once over
    loopback (`answer`), and the kernel's receive timestamps it reports are moved 5 s later."""

    answer: Callable[[bytes, str], list[bytes]] = staticmethod(lambda data, dest: [])
    recv_error: OSError | None = None
    shift = 5  # seconds added to the kernel's receive timestamps

    def __init__(self, family: int, kind: int, proto: int) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)
        self.bind(("127.0.0.1", 0))

    def _reply(self, data: bytes, dest: str) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for packet in self.answer(bytes(data), dest):
                out.sendto(packet, self.getsockname())

    def connect(
        self, address: object
    ) -> None:  # the DNS socket: "connected" to the server, nothing to do
        self.server = address

    def send(self, data: bytes, flags: int = 0, /) -> int:  # type: ignore[override]
        self._reply(data, "dns")
        return len(data)

    def sendto(self, data: bytes, address: object, /) -> int:  # type: ignore[override]
        assert isinstance(address, tuple)
        self._reply(data, str(address[0]))
        return len(data)

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0, /):  # type: ignore[no-untyped-def, override]
        if self.recv_error is not None:
            raise self.recv_error
        data, ancillary, msg_flags, peer = super().recvmsg(bufsize, ancbufsize, flags)
        moved = []
        for level, kind, payload in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, selector.SO_TIMESTAMPNS):
                sec, nsec = struct.unpack("qq", payload)
                payload = struct.pack("qq", sec + self.shift, nsec)
            moved.append((level, kind, payload))
        return data, moved, msg_flags, peer


def echo_reply(request: bytes, dest: str) -> list[bytes]:
    return [ipv4(dest, "192.0.2.2", b"\x00\x00\x00\x00" + request[4:8])]


def unreachable(request: bytes, dest: str) -> list[bytes]:
    quoted = ipv4("192.0.2.2", dest, request)[:28]
    return [ipv4("192.0.2.1", "192.0.2.2", b"\x03\x01\x00\x00\x00\x00\x00\x00" + quoted)]


def dns_answer(query: bytes, _dest: str) -> list[bytes]:
    question = query[12:]
    head = struct.pack("!HHHHHH", int.from_bytes(query[:2], "big"), 0x8180, 1, 1, 0, 0)
    return [
        head + question + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([10, 0, 0, 3])
    ]


def late(
    answer: Callable[[bytes, str], list[bytes]], recv_error: OSError | None = None, shift: int = 5
) -> Opener:
    class Answering(Late):
        pass

    Answering.answer = staticmethod(answer)  # type: ignore[method-assign]
    Answering.recv_error = recv_error
    Answering.shift = shift
    return opener_of(lambda f, k, p: Answering(f, k, p))


@pytest.mark.skipif(
    selector.SO_TIMESTAMPNS is None, reason="no SO_TIMESTAMPNS constant for this architecture"
)
@pytest.mark.parametrize(
    ("probe", "answer", "outcome"),
    [
        (Probe("p0", ProbeKind.ICMP, "192.0.2.9"), echo_reply, Outcome.OK),
        (Probe("p0", ProbeKind.ICMP, "192.0.2.9"), unreachable, Outcome.UNREACHABLE),
        (Probe("p0", ProbeKind.DNS, "db", qtype="A"), dns_answer, Outcome.OK),
    ],
)
def test_an_answer_takes_its_latency_from_the_kernel_timestamp(
    probe: Probe, answer: Callable[[bytes, str], list[bytes]], outcome: Outcome
) -> None:
    result = run([probe], late(answer), timeout=1.0)
    obs = result.observations[KEY]
    assert (obs.outcome, obs.tool, obs.qtype) == (
        outcome,
        "netns",
        "A" if probe.kind is ProbeKind.DNS else "",
    )
    assert 5000 <= result.latency_ms[KEY] < 5500  # the kernel's (moved) figure, not the loop's


def test_a_failing_receive_is_an_error_for_every_waiting_probe() -> None:
    probes = [
        Probe("p0", ProbeKind.DNS, "db", qtype="A"),
        Probe("p1", ProbeKind.DNS, "web", qtype="A"),
    ]
    result = run(probes, late(dns_answer, OSError(errno.EIO, "Input/output error")), timeout=1.0)
    for key in (KEY, ("src", "p1")):
        obs = result.observations[key]
        assert (obs.outcome, obs.detail) == (
            Outcome.ERROR,
            "receive failed: [Errno 5] Input/output error",
        )
        assert key not in result.latency_ms


def test_a_refused_receive_says_nothing_answers_dns() -> None:
    result = run(
        [Probe("p0", ProbeKind.DNS, "db", qtype="A")],
        late(dns_answer, OSError(errno.ECONNREFUSED, "Connection refused")),
        timeout=1.0,
    )
    obs = result.observations[KEY]
    assert (obs.outcome, obs.detail) == (
        Outcome.ERROR,
        "nothing answers DNS at 127.0.0.11:53 (port unreachable)",
    )
    assert KEY not in result.latency_ms


# -- sockets the engine could not open or use ---------------------------------------------------------


@pytest.mark.parametrize(
    ("probe", "detail"),
    [
        (
            Probe("p0", ProbeKind.ICMP, "192.0.2.9"),
            "cannot open a raw ICMP socket: [Errno 1] Operation not permitted",
        ),
        (
            Probe("p0", ProbeKind.DNS, "db", qtype="A"),
            "cannot open a UDP socket: [Errno 1] Operation not permitted",
        ),
        (
            Probe("p0", ProbeKind.TCP, "127.0.0.1", 80),
            "cannot open a TCP socket: [Errno 1] Operation not permitted",
        ),
    ],
)
def test_a_socket_that_cannot_be_opened_is_an_error_without_a_latency(
    probe: Probe, detail: str
) -> None:
    result = run(
        [probe], opener_of(lambda f, k, p: OSError(errno.EPERM, "Operation not permitted"))
    )
    obs = result.observations[KEY]
    assert (obs.outcome, obs.detail) == (Outcome.ERROR, detail)
    assert obs.output.endswith(f": {detail}")  # no timing: nothing answered
    assert KEY not in result.latency_ms


def test_a_dns_server_that_cannot_be_reached_is_an_error() -> None:
    """connect() of a UDP socket to a broadcast address fails (EACCES) and sends nothing."""
    result = run(
        [Probe("p0", ProbeKind.DNS, "db", qtype="A")], opener_of(plain), dns=("255.255.255.255", 53)
    )
    obs = result.observations[KEY]
    assert (obs.outcome, obs.detail) == (
        Outcome.ERROR,
        "cannot reach the DNS server 255.255.255.255:53: Permission denied",
    )
    assert KEY not in result.latency_ms


def test_an_opener_that_raises_fails_every_probe_of_the_batch() -> None:
    def opener(
        _ns_fd: int, _specs: Sequence[tuple[int, int, int]]
    ) -> list[socket.socket | OSError]:
        raise OSError(errno.EBADF, "Bad file descriptor")

    probes = [Probe("p0", ProbeKind.TCP, "127.0.0.1", 80), Probe("p1", ProbeKind.ICMP, "192.0.2.9")]
    result = run(probes, opener)
    for key in (KEY, ("src", "p1")):
        obs = result.observations[key]
        assert (obs.outcome, obs.detail) == (
            Outcome.ERROR,
            "cannot open sockets in the namespace: [Errno 9] Bad file descriptor",
        )
        assert key not in result.latency_ms


# -- windows -------------------------------------------------------------------------------------------


def test_with_a_stretch_but_no_answer_yet_the_window_is_the_window() -> None:
    start = time.monotonic()
    result = run(
        [Probe("p0", ProbeKind.DNS, "db", qtype="A")],
        late(lambda data, dest: []),
        timeout=0.3,
        stretch=Stretch(10.0, 5.0),
    )
    obs = result.observations[KEY]
    assert obs.outcome is Outcome.TIMEOUT
    assert 300 <= result.waited_ms[KEY] < 1500
    assert KEY not in result.latency_ms  # nothing answered
    assert obs.output == f"A db @127.0.0.11:53: {obs.detail}"  # no timing either
    assert time.monotonic() - start < 3


def test_with_a_stretch_an_unanswered_probe_waits_for_the_answers_seen_not_more() -> None:
    def only_db(query: bytes, dest: str) -> list[bytes]:
        return dns_answer(query, dest) if b"\x02db\x00" in query else []

    probes = [
        Probe("p0", ProbeKind.DNS, "db", qtype="A"),
        Probe("p1", ProbeKind.DNS, "web", qtype="A"),
    ]
    result = run(probes, late(only_db, shift=0), timeout=0.3, stretch=Stretch(10.0, 2.0))
    assert result.observations[KEY].outcome is Outcome.OK
    assert result.observations[("src", "p1")].outcome is Outcome.TIMEOUT
    # db answered within a few ms: ten times that is less than the window, so web waited the window
    assert 300 <= result.waited_ms[("src", "p1")] < 1500
    slow = run(probes, late(only_db, shift=5), timeout=0.3, stretch=Stretch(10.0, 2.0))
    # db's answer took the kernel's (moved) 5 s: ten times that is past the cap, so web waited the cap, 2 s
    assert 1900 <= slow.waited_ms[("src", "p1")] < 2500


# -- the pure helpers ----------------------------------------------------------------------------------


def test_kernel_time_is_read_from_scm_timestampns_only() -> None:
    if selector.SO_TIMESTAMPNS is None:
        pytest.skip("no SO_TIMESTAMPNS constant for this architecture")
    stamp = struct.pack("qq", 12, 345)
    assert (
        selector._kernel_time_ns([(socket.SOL_SOCKET, selector.SO_TIMESTAMPNS, stamp)])
        == 12_000_000_345
    )
    assert (
        selector._kernel_time_ns([(socket.SOL_SOCKET, selector.SO_TIMESTAMPNS, stamp[:15])]) is None
    )
    assert (
        selector._kernel_time_ns([(socket.SOL_SOCKET, selector.SO_TIMESTAMPNS + 1, stamp)]) is None
    )
    assert selector._kernel_time_ns([(socket.IPPROTO_IP, selector.SO_TIMESTAMPNS, stamp)]) is None
    assert (
        selector._kernel_time_ns(
            [
                (socket.IPPROTO_IP, 1, b""),
                (socket.SOL_SOCKET, selector.SO_TIMESTAMPNS, stamp + b"pad"),
            ]
        )
        == 12_000_000_345
    )


def task(
    family: int = socket.AF_INET, kind: ProbeKind = ProbeKind.TCP, sent_ns: int = 0
) -> ProbeTask:
    made = ProbeTask(
        SourceState("src", -1), Probe("p0", kind, "10.0.0.3", 80), "10.0.0.3", family, "x", "pace"
    )
    made.sent_ns = sent_ns
    return made


def test_since_is_the_kernel_time_after_the_send_in_ms() -> None:
    assert selector._since(task(sent_ns=1_000_000_000), 1_002_500_000) == 2.5
    assert selector._since(task(sent_ns=1_000_000_000), 1_000_000_000) == 0.0
    assert selector._since(task(sent_ns=1_000_000_000), 1_000_000_000 + 999_999) == pytest.approx(
        0.999999
    )
    assert (
        selector._since(task(sent_ns=1_000_000_000), 999_000_000) is None
    )  # the clock stepped back
    assert selector._since(task(sent_ns=1_000_000_000), None) is None
    assert selector._since(task(sent_ns=0), 1_000_000_000) is None  # never sent


@pytest.mark.parametrize(
    ("family", "kind", "path"),
    [
        (socket.AF_INET, ProbeKind.TCP, "tcp4"),
        (socket.AF_INET6, ProbeKind.TCP, "tcp6"),
        (socket.AF_INET, ProbeKind.ICMP, "icmp4"),
        (socket.AF_INET6, ProbeKind.ICMP, "icmp6"),
        (socket.AF_INET6, ProbeKind.DNS, "dns"),
    ],
)
def test_the_path_of_a_probe(family: int, kind: ProbeKind, path: str) -> None:
    assert selector._path(task(family, kind)) == path


def test_the_family_of_an_address() -> None:
    assert selector._family("10.0.0.3") == socket.AF_INET
    assert selector._family("fd00::3") == socket.AF_INET6


# -- echo sequences and DNS ids ----------------------------------------------------------------------


def test_echo_sequences_wrap_and_skip_those_in_flight() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        shared = SharedSocket(ProbeKind.ICMP, sock, ident=1, next_seq=0xFFFE)
        shared.waiting[0xFFFF] = task()
        shared.waiting[0] = task()
        assert [shared.token(), shared.token(), shared.token()] == [0xFFFE, 1, 2]
        assert shared.next_seq == 3


def test_dns_ids_are_never_repeated_on_one_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        shared = SharedSocket(ProbeKind.DNS, sock)
        ids = [shared.token() for _ in range(3000)]
        assert len(set(ids)) == 3000 and all(0 <= i <= 0xFFFF for i in ids)
        assert shared.used == set(ids)


def test_the_used_dns_ids_are_forgotten_past_61440_but_not_those_in_flight() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        shared = SharedSocket(ProbeKind.DNS, sock)
        shared.used = set(range(0xF000))  # 61440: kept
        qid = shared.token()
        assert qid >= 0xF000 and len(shared.used) == 0xF001
        shared.waiting[7] = task()
        qid = shared.token()  # 61441 used: forgotten, but for the id in flight
        assert qid != 7 and shared.used == {7, qid}


# -- pacing ---------------------------------------------------------------------------------------------


def test_a_target_at_its_limit_gets_no_more_until_one_is_done() -> None:
    pacer: Pacer[int] = Pacer(total=8, per_key=1)
    pacer.add("a", 1)
    assert pacer.take() == [("a", 1)]
    pacer.add("a", 2)
    assert pacer.take() == []  # "a" has its one in flight
    pacer.done("a")
    assert pacer.take() == [("a", 2)]
    pacer.done("a")
    assert pacer.idle

"""The netns executor without a Docker engine: its pure parts, and its selector loop on loopback.

The engine (`drive`) never enters a namespace itself; given an opener that
makes plain sockets it probes 127.0.0.1 from this process's namespace, against
listeners and a scripted DNS server started here. Tests of the real setns path
(`run_netns` on this process's own pid) and of raw ICMP need root and are
skipped without it. Traffic: loopback only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import resource
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from netcontract.live.netns import enter as netns
from netcontract.live.netns.selector import drive
from netcontract.live.netns.tasks import NetnsRun, Pacer, Stretch, classify_connect, classify_dns
from netcontract.probe import dns_wire, icmp_wire
from netcontract.probe.observation import Outcome, Probe, ProbeKind

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="raw sockets and setns need root")


def plain_opener(
    _ns_fd: int, specs: Sequence[tuple[int, int, int]]
) -> list[socket.socket | OSError]:
    out: list[socket.socket | OSError] = []
    for family, kind, proto in specs:
        try:
            out.append(socket.socket(family, kind, proto))
        except OSError as exc:
            out.append(exc)
    return out


def tcp(key: str, port: int, target: str = "127.0.0.1") -> Probe:
    return Probe(key, ProbeKind.TCP, target, port)


def dns(key: str, name: str, qtype: str = "A") -> Probe:
    return Probe(key, ProbeKind.DNS, name, qtype=qtype)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4096)
    yield server.getsockname()[1]
    server.close()


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


Reply = Callable[[int, bytes], list[bytes]]  # (query id, query) -> packets to send back


@pytest.fixture
def dns_server() -> Iterator[Callable[[Reply], int]]:
    """A scripted UDP DNS server on 127.0.0.1; returns its port."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(reply: Reply) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.05)

        def serve() -> None:
            while not stop.is_set():
                try:
                    data, peer = sock.recvfrom(512)
                except TimeoutError:
                    continue
                for packet in reply(int.from_bytes(data[:2], "big"), data):
                    sock.sendto(packet, peer)
            sock.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        port: int = sock.getsockname()[1]
        return port

    yield start
    stop.set()
    for thread in threads:
        thread.join()


def answer(
    query: bytes, *, rcode: int = 0, addresses: Sequence[bytes] = (), qid: int | None = None
) -> bytes:
    """A response echoing the query's question, with A/AAAA records for `addresses`."""
    question = query[12:]
    head = struct.pack(
        "!HHHHHH",
        int.from_bytes(query[:2], "big") if qid is None else qid,
        0x8180 | rcode,
        1,
        len(addresses),
        0,
        0,
    )
    rrs = b"".join(
        b"\xc0\x0c" + struct.pack("!HHIH", 1 if len(a) == 4 else 28, 1, 60, len(a)) + a
        for a in addresses
    )
    return head + question + rrs


def run(probes: Sequence[Probe], timeout: float = 0.3, **options: object) -> NetnsRun:
    result = NetnsRun()
    drive(result, [("src", -1, probes)], timeout, plain_opener, **options)  # type: ignore[arg-type]
    return result


# -- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "outcome"),
    [
        (0, Outcome.OK),
        (errno.ECONNREFUSED, Outcome.REFUSED),
        (errno.EHOSTUNREACH, Outcome.UNREACHABLE),
        (errno.ENETUNREACH, Outcome.UNREACHABLE),
        (errno.ETIMEDOUT, Outcome.TIMEOUT),
        (errno.EACCES, Outcome.ERROR),
        (errno.ECONNRESET, Outcome.ERROR),
    ],
)
def test_connect_errno_classification(err: int, outcome: Outcome) -> None:
    assert classify_connect(err)[0] is outcome


def test_dns_classification() -> None:
    def ans(
        rcode: int = 0, addresses: tuple[str, ...] = (), truncated: bool = False
    ) -> dns_wire.DnsAnswer:
        return dns_wire.DnsAnswer(1, rcode, addresses, truncated, len(addresses))

    assert classify_dns(ans(addresses=("10.0.0.10", "10.0.0.9", "10.0.0.9")), "A")[::2] == (
        Outcome.OK,
        ("10.0.0.9", "10.0.0.10"),
    )
    assert classify_dns(ans(), "AAAA")[:2] == (Outcome.NODATA, "NOERROR without AAAA record")
    assert classify_dns(ans(3), "A")[0] is Outcome.NXDOMAIN
    assert classify_dns(ans(2), "A")[0] is Outcome.SERVFAIL
    assert classify_dns(ans(5), "A")[:2] == (Outcome.ERROR, "the DNS server answered REFUSED")
    assert classify_dns(ans(addresses=("10.0.0.1",), truncated=True), "A")[0] is Outcome.ERROR


def test_pacer_limits_per_key_and_in_total() -> None:
    pacer: Pacer[int] = Pacer(total=4, per_key=2)
    for i in range(4):
        pacer.add("a", i)
    pacer.add("b", 10)
    pacer.add("c", 20)
    first = pacer.take()
    assert [item for _key, item in first] == [
        0,
        10,
        20,
        1,
    ]  # round robin across keys, FIFO within one
    assert pacer.take() == []  # 4 in flight: the total
    pacer.done("b")
    assert pacer.take() == []  # "a" has 2 in flight, the others have nothing waiting
    pacer.done("a")
    assert pacer.take() == [("a", 2)]
    pacer.add("d", 30)
    assert pacer.take() == [("d", 30)]  # 4 in flight again
    pacer.add("e", 40)
    assert pacer.take() == []
    for key in ("a", "a", "c", "d"):
        pacer.done(key)
    assert pacer.take() == [("e", 40), ("a", 3)]  # "e" was ready first
    assert not pacer.idle
    pacer.done("a")
    pacer.done("e")
    assert pacer.idle


def test_icmp_checksum_and_echo() -> None:
    assert icmp_wire.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D  # RFC 1071's example
    packet = icmp_wire.build_echo(4, 0x1234, 7, b"x")
    assert packet[:2] == b"\x08\x00" and packet[4:8] == b"\x12\x34\x00\x07"
    assert icmp_wire.checksum(packet) == 0  # a correct checksum sums to zero
    assert (
        icmp_wire.build_echo(6, 1, 2, b"") == b"\x80\x00\x00\x00\x00\x01\x00\x02"
    )  # the kernel sums ICMPv6
    with pytest.raises(ValueError):
        icmp_wire.build_echo(4, 0x10000, 0)


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


def test_icmp_parse_v4() -> None:
    reply = ipv4("172.20.0.3", "172.20.0.2", b"\x00\x00\x00\x00\x12\x34\x00\x07payload")
    event = icmp_wire.parse(4, reply)
    assert event is not None and (event.kind, event.ident, event.seq, event.peer) == (
        "reply",
        0x1234,
        7,
        "172.20.0.3",
    )
    request = ipv4("172.20.0.2", "172.20.0.9", icmp_wire.build_echo(4, 0x1234, 8))
    unreachable = ipv4(
        "172.20.0.1", "172.20.0.2", b"\x03\x01\x00\x00\x00\x00\x00\x00" + request[:28]
    )
    event = icmp_wire.parse(4, unreachable)
    assert event is not None and (event.kind, event.seq, event.peer, event.sender) == (
        "error",
        8,
        "172.20.0.9",
        "172.20.0.1",
    )
    assert "destination unreachable (code 1)" in event.reason
    assert icmp_wire.parse(4, request) is None  # our own request, seen on loopback
    assert icmp_wire.parse(4, reply[:24]) is None
    assert icmp_wire.parse(4, b"garbage") is None


def test_icmp_parse_v6() -> None:
    event = icmp_wire.parse(6, b"\x81\x00\x00\x00\x00\x05\x00\x06", "fe80::1%eth0")
    assert event is not None and (event.kind, event.ident, event.seq, event.peer) == (
        "reply",
        5,
        6,
        "fe80::1",
    )
    quoted = (
        bytes([0x60, 0, 0, 0, 0, 8, 58, 64])
        + socket.inet_pton(socket.AF_INET6, "fd00::2")
        + socket.inet_pton(socket.AF_INET6, "fd00::9")
        + icmp_wire.build_echo(6, 5, 9)
    )
    event = icmp_wire.parse(6, b"\x01\x03\x00\x00\x00\x00\x00\x00" + quoted, "fd00::1")
    assert event is not None and (event.kind, event.seq, event.peer) == ("error", 9, "fd00::9")
    assert icmp_wire.parse(6, b"\x80\x00\x00\x00\x00\x05\x00\x06", "::1") is None  # a request


# -- the selector loop on loopback -------------------------------------------------------------


def test_tcp_open_refused_and_not_an_address(listener: int) -> None:
    result = run(
        [
            tcp("open", listener),
            tcp("closed", closed_port()),
            tcp("name", 80, "peer"),
            Probe("noport", ProbeKind.TCP, "127.0.0.1"),
        ]
    )
    obs = result.observations
    assert obs[("src", "open")].outcome is Outcome.OK
    assert obs[("src", "open")].output.startswith(f"connect 127.0.0.1:{listener}: connected (")
    assert obs[("src", "open")].tool == "netns"
    assert obs[("src", "closed")].outcome is Outcome.REFUSED
    assert obs[("src", "name")].outcome is Outcome.ERROR
    assert obs[("src", "name")].detail == "netns probes need an address, not 'peer'"
    assert obs[("src", "noport")].outcome is Outcome.ERROR
    assert set(result.latency_ms) == {("src", "open"), ("src", "closed")}
    assert result.slowest_tcp_ok_ms.get("src") == result.latency_ms[("src", "open")]
    assert result.slowest_tcp_ok_ms.get("other") is None
    # each observation carries its round trip and how it was measured: the handshake RTT for a connect, the
    # selector's wake-up for a refusal (the kernel gives no RTT for a reset), nothing for what was not sent
    assert (obs[("src", "open")].latency_ms, obs[("src", "open")].latency_source) == (
        result.latency_ms[("src", "open")],
        "tcp_info",
    )
    assert (obs[("src", "closed")].latency_ms, obs[("src", "closed")].latency_source) == (
        result.latency_ms[("src", "closed")],
        "select",
    )
    assert (obs[("src", "name")].latency_ms, obs[("src", "name")].latency_source) == (None, "")


def test_thousands_of_probes_with_a_small_budget(listener: int) -> None:
    probes = [tcp(f"p{i}", listener) for i in range(3000)]
    result = run(probes, budget=16, per_target=4)
    assert {o.outcome for o in result.observations.values()} == {Outcome.OK}
    assert len(result.observations) == 3000


def test_a_failing_opener_fails_only_its_probes(listener: int) -> None:
    def opener(ns_fd: int, specs: Sequence[tuple[int, int, int]]) -> list[socket.socket | OSError]:
        if ns_fd == 666:
            raise OSError(errno.EPERM, "Operation not permitted")
        return plain_opener(ns_fd, specs)

    result = NetnsRun()
    drive(
        result,
        [("bad", 666, [tcp("x", listener), dns("y", "peer")]), ("good", 3, [tcp("x", listener)])],
        0.3,
        opener,
    )
    assert result.observations[("bad", "x")].outcome is Outcome.ERROR
    assert "Operation not permitted" in result.observations[("bad", "y")].detail
    assert result.observations[("good", "x")].outcome is Outcome.OK


def test_dns_answers(dns_server: Callable[[Reply], int]) -> None:
    def reply(qid: int, query: bytes) -> list[bytes]:
        name = dns_wire.read_name(query, 12)[0]
        qtype = int.from_bytes(query[-4:-2], "big")
        if name == "peer" and qtype == 1:
            return [answer(query, addresses=[bytes([10, 0, 0, 9]), bytes([10, 0, 0, 3])])]
        if name == "peer":
            return [answer(query)]
        return [answer(query, rcode={"gone": 3, "broken": 2, "refused": 5}.get(name, 0))]

    port = dns_server(reply)
    result = run(
        [
            dns("a", "peer"),
            dns("aaaa", "peer", "AAAA"),
            dns("nx", "gone"),
            dns("sf", "broken"),
            dns("rf", "refused"),
            dns("bad", "bad name"),
        ],
        dns=("127.0.0.1", port),
    )
    obs = {key[1]: o for key, o in result.observations.items()}
    assert (obs["a"].outcome, obs["a"].addresses) == (Outcome.OK, ("10.0.0.3", "10.0.0.9"))
    assert obs["a"].output.startswith(f"A peer @127.0.0.1:{port}: 10.0.0.3, 10.0.0.9 (")
    assert obs["aaaa"].outcome is Outcome.NODATA
    assert obs["nx"].outcome is Outcome.NXDOMAIN
    assert obs["sf"].outcome is Outcome.SERVFAIL
    assert (obs["rf"].outcome, obs["rf"].detail) == (
        Outcome.ERROR,
        "the DNS server answered REFUSED",
    )
    assert obs["bad"].outcome is Outcome.ERROR and "characters" in obs["bad"].detail


def test_dns_ignores_forged_and_broken_packets(dns_server: Callable[[Reply], int]) -> None:
    def reply(qid: int, query: bytes) -> list[bytes]:
        forged = answer(query, addresses=[bytes([6, 6, 6, 6])], qid=qid ^ 1)  # another id
        other_question = answer(
            dns_wire.build_query(qid, "other", "A"), addresses=[bytes([6, 6, 6, 6])]
        )
        broken = answer(query)[:-3]
        name = dns_wire.read_name(query, 12)[0]
        good = [answer(query, addresses=[bytes([10, 0, 0, 3])])] if name == "peer" else []
        return [forged, other_question, broken, *good]

    port = dns_server(reply)
    result = run([dns("a", "peer"), dns("late", "silent")], timeout=0.3, dns=("127.0.0.1", port))
    assert result.observations[("src", "a")].addresses == ("10.0.0.3",)
    late = result.observations[("src", "late")]
    assert late.outcome is Outcome.TIMEOUT
    # it had its whole window (a little more: expiry waits for the select() that covers the deadline)
    assert re.fullmatch(
        r"no answer within 3[0-4]\d ms; ignored a malformed answer: question is cut off",
        late.detail,
    )


def test_an_unanswered_query_is_sent_once_more(dns_server: Callable[[Reply], int]) -> None:
    seen: list[int] = []

    def reply(qid: int, query: bytes) -> list[bytes]:
        seen.append(qid)
        return (
            [answer(query, addresses=[bytes([10, 0, 0, 3])])] if len(seen) == 2 else []
        )  # drops the first

    port = dns_server(reply)
    result = run([dns("a", "peer")], timeout=0.4, dns=("127.0.0.1", port))
    obs = result.observations[("src", "a")]
    assert obs.outcome is Outcome.OK, obs
    assert seen[0] == seen[1]  # the same query, same id
    assert obs.output.endswith("ms, sent twice)")
    assert result.latency_ms[("src", "a")] >= 200


def test_a_syn_dropped_by_a_full_listen_queue_is_sent_again() -> None:
    """Backlog 0 and one connection waiting: the kernel drops further SYNs until the server accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = [
        socket.create_connection(("127.0.0.1", port), timeout=1)
    ]  # the queue (of 1) is full now
    accepted: list[socket.socket] = []

    def drain() -> None:
        time.sleep(0.1)
        server.settimeout(0.5)
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=drain)
    thread.start()
    try:
        result = run([tcp("late", port)], timeout=0.6)
    finally:
        thread.join()
        for sock in (*fillers, *accepted, server):
            sock.close()
    obs = result.observations[("src", "late")]
    assert obs.outcome is Outcome.OK, obs
    assert (
        "sent twice" in obs.output
    )  # the first SYN was dropped; the kernel would resend it after 1 s


def test_dns_without_a_server_is_an_error_and_a_silent_one_a_timeout() -> None:
    refused = run([dns("a", "peer")], dns=("127.0.0.1", closed_port()))
    assert refused.observations[("src", "a")].outcome is Outcome.ERROR
    assert "port unreachable" in refused.observations[("src", "a")].detail
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    started = time.monotonic()
    result = run(
        [dns("a", "peer"), dns("b", "peer", "AAAA")], timeout=0.2, dns=silent.getsockname()
    )
    elapsed = time.monotonic() - started
    silent.close()
    assert {o.outcome for o in result.observations.values()} == {Outcome.TIMEOUT}
    assert 0.19 <= elapsed < 1.0


@needs_root
def test_icmp_echo_on_loopback() -> None:
    result = run(
        [
            Probe("v4", ProbeKind.ICMP, "127.0.0.1"),
            Probe("v4b", ProbeKind.ICMP, "127.0.0.1"),
            Probe("v6", ProbeKind.ICMP, "::1"),
        ]
    )
    assert {k[1]: o.outcome for k, o in result.observations.items()} == {
        "v4": Outcome.OK,
        "v4b": Outcome.OK,
        "v6": Outcome.OK,
    }


# -- the namespace layer -----------------------------------------------------------------------


def test_setns_refuses_the_main_thread() -> None:
    with pytest.raises(RuntimeError):
        netns._setns(0)


def test_run_netns_checks_its_arguments() -> None:
    source = netns.NetnsSource("s", 1, (tcp("x", 1),))
    with pytest.raises(ValueError, match="timeout"):
        netns.run_netns([source], 0)
    with pytest.raises(ValueError, match="IP address"):
        netns.run_netns([source], 1, dns_server="dns.example")
    with pytest.raises(ValueError, match="duplicate"):
        netns.run_netns([source, source], 1)


def test_without_cap_sys_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "_has_cap", lambda _bit: False)
    with pytest.raises(netns.NetnsUnavailable, match="root"):
        netns.check_access(os.getpid())
    result = netns.run_netns([netns.NetnsSource("s", os.getpid(), (tcp("x", 1),))], 0.1)
    assert result.observations[("s", "x")].outcome is Outcome.ERROR


@needs_root
def test_run_netns_enters_a_namespace_by_pid(listener: int) -> None:
    """This process's own namespace, through /proc/<pid>/ns/net and setns: the real path, without Docker."""
    assert netns.check_access(os.getpid()) is None
    dead = 2**22 + 7  # above the highest pid_max Linux allows (2**22): no such process can exist
    assert "no process" in (netns.check_access(dead) or "")
    result = netns.run_netns(
        [
            netns.NetnsSource("me", os.getpid(), (tcp("open", listener), tcp("closed", 1))),
            netns.NetnsSource("dead", dead, (tcp("x", listener), dns("y", "peer"))),
        ],
        0.3,
    )
    assert result.observations[("me", "open")].outcome is Outcome.OK
    assert result.observations[("me", "closed")].outcome is Outcome.REFUSED
    for key in ("x", "y"):
        assert result.observations[("dead", key)].outcome is Outcome.ERROR
        assert "no such process" in result.observations[("dead", key)].detail
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard  # raised at the start of the run
    assert not [
        t for t in threading.enumerate() if t.name.startswith("netns")
    ]  # the helper thread is gone


# -- windows that follow the run's own answers, and latencies that are the network's -----------------------


def test_with_a_stretch_an_unanswered_probe_waits_ten_times_the_slowest_answer_of_its_kind(
    dns_server: Callable[[Reply], int], listener: int
) -> None:
    def reply(qid: int, query: bytes) -> list[bytes]:
        if dns_wire.read_name(query, 12)[0] == "slow":
            time.sleep(0.04)  # this server takes 40 ms to answer
            return [answer(query, addresses=[bytes([10, 0, 0, 3])])]
        return []  # never answers "silent"

    port = dns_server(reply)
    result = run(
        [dns("a", "slow"), dns("b", "silent"), tcp("c", listener)],
        timeout=0.1,
        dns=("127.0.0.1", port),
        stretch=Stretch(10, 2.0),
    )
    assert result.observations[("src", "a")].outcome is Outcome.OK
    assert (
        40 <= result.latency_ms[("src", "a")] < 100
    )  # the kernel's receive time: the server's 40 ms
    assert result.observations[("src", "a")].latency_source == "so_timestampns"
    assert result.observations[("src", "a")].latency_ms == result.latency_ms[("src", "a")]
    silent = result.observations[("src", "b")]
    assert silent.outcome is Outcome.TIMEOUT and silent.latency_ms is None
    # a DNS answer took >= 40 ms, so the silent name waited >= 400 ms, not the first window's 100 ms
    assert result.waited_ms[("src", "b")] >= 10 * result.latency_ms[("src", "a")]
    assert re.fullmatch(r"no answer within \d+ ms", silent.detail)
    # TCP is another kind of path, with its own latency: the handshake's round trip (TCP_INFO), on loopback
    assert result.observations[("src", "c")].outcome is Outcome.OK
    assert result.latency_ms[("src", "c")] < 5


def test_without_a_stretch_the_window_is_the_window(dns_server: Callable[[Reply], int]) -> None:
    def reply(qid: int, query: bytes) -> list[bytes]:
        if dns_wire.read_name(query, 12)[0] == "slow":
            time.sleep(0.04)
            return [answer(query, addresses=[bytes([10, 0, 0, 3])])]
        return []

    port = dns_server(reply)
    result = run([dns("a", "slow"), dns("b", "silent")], timeout=0.1, dns=("127.0.0.1", port))
    assert 100 <= result.waited_ms[("src", "b")] < 190


def test_the_stretch_never_passes_its_cap(dns_server: Callable[[Reply], int]) -> None:
    def reply(qid: int, query: bytes) -> list[bytes]:
        if dns_wire.read_name(query, 12)[0] == "slow":
            time.sleep(0.05)
            return [answer(query, addresses=[bytes([10, 0, 0, 3])])]
        return []

    port = dns_server(reply)
    result = run(
        [dns("a", "slow"), dns("b", "silent")],
        timeout=0.1,
        dns=("127.0.0.1", port),
        stretch=Stretch(10, 0.2),
    )
    assert 200 <= result.waited_ms[("src", "b")] < 290


def test_pacer_gives_a_kind_of_key_its_own_limit() -> None:
    """A source's DNS socket takes DNS_PER_SOURCE queries at once; a TCP target PER_TARGET connects."""
    pacer: Pacer[int] = Pacer(total=100, per_key=2, per_kind={"dns": 5})
    for i in range(8):
        pacer.add(("dns", 1), i)
        pacer.add(("tcp", "10.0.0.1", 80), 100 + i)
    taken = pacer.take()
    assert sorted(i for _k, i in taken) == [0, 1, 2, 3, 4, 100, 101]
    pacer.done(("dns", 1))
    assert pacer.take() == [(("dns", 1), 5)]  # a freed DNS slot starts the next query at once
    pacer.done(("tcp", "10.0.0.1", 80))
    assert pacer.take() == [(("tcp", "10.0.0.1", 80), 102)]

"""The netns engine's ICMP path, end to end through `drive`, without raw sockets and without root.

The opener hands the engine a UDP socket on 127.0.0.1 in place of the raw ICMP
socket. Its `sendto` never sends the echo request anywhere: it answers it with
ICMP datagrams built here (an echo reply, a destination unreachable, a time
exceeded, or one that must be ignored), which it sends to the socket itself
over loopback. The engine then reads them as it reads a raw socket's, with the
IPv4 header first. The addresses probed are documentation addresses
(192.0.2.0/24) that appear only inside those datagrams. Traffic: loopback only.

These tests pin what the netns engine makes of ICMP: a reply is OK, an error is
UNREACHABLE (destination unreachable and time exceeded alike), and a packet
with another echo id, or from or about another address, is not the answer;
a send refused with EHOSTUNREACH, ENETUNREACH or EHOSTDOWN is UNREACHABLE, any
other send failure ERROR.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable, Sequence

import pytest

from netcontract.live.netns.selector import drive
from netcontract.live.netns.tasks import NetnsRun
from netcontract.probe import icmp_wire
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind

TARGET = "192.0.2.9"
ME = "192.0.2.2"
ROUTER = "192.0.2.1"

Responder = Callable[
    [bytes, str], list[bytes]
]  # (echo request sent, its destination) -> datagrams received


def ipv4(src: str, dst: str, payload: bytes, proto: int = 1) -> bytes:
    return (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(payload),
            0,
            0,
            64,
            proto,
            0,
            socket.inet_aton(src),
            socket.inet_aton(dst),
        )
        + payload
    )


def echo_reply(request: bytes, src: str, *, ident_xor: int = 0) -> bytes:
    _type, _code, _sum, ident, seq = struct.unpack_from("!BBHHH", request)
    return ipv4(src, ME, struct.pack("!BBHHH", 0, 0, 0, ident ^ ident_xor, seq) + request[8:])


def icmp_error(request: bytes, dest: str, kind: int, code: int, sender: str = ROUTER) -> bytes:
    """An ICMPv4 error from `sender` quoting our request to `dest` (IP header + first 8 bytes)."""
    quoted = ipv4(ME, dest, request)[:28]
    return ipv4(sender, ME, struct.pack("!BBHI", kind, code, 0, 0) + quoted)


class FakeIcmpSocket(socket.socket):
    """A UDP socket that stands in for a raw ICMP socket: its sendto answers instead of sending."""

    def __init__(self, respond: Responder | None = None, fail: OSError | None = None) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)
        self.bind(("127.0.0.1", 0))
        self.respond, self.fail = respond, fail

    def sendto(self, data: bytes, address: object, /) -> int:  # type: ignore[override]
        if self.fail is not None:
            raise self.fail
        assert isinstance(address, tuple) and address[1] == 0
        assert self.respond is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for packet in self.respond(bytes(data), str(address[0])):
                out.sendto(packet, self.getsockname())
        return len(data)


def ping(
    respond: Responder | None = None,
    *,
    fail: OSError | None = None,
    targets: Sequence[str] = (TARGET,),
    timeout: float = 0.15,
) -> NetnsRun:
    made: list[FakeIcmpSocket] = []

    def opener(_ns_fd: int, specs: Sequence[tuple[int, int, int]]) -> list[socket.socket | OSError]:
        assert list(specs) == [(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)]
        made.append(FakeIcmpSocket(respond, fail))
        return list(made[-1:])

    result = NetnsRun()
    probes = [Probe(f"p{i}", ProbeKind.ICMP, target) for i, target in enumerate(targets)]
    drive(result, [("src", -1, probes)], timeout, opener)
    assert made and all(s.fileno() == -1 for s in made)  # the engine closed its socket
    return result


def only(result: NetnsRun, key: str = "p0") -> Observation:
    return result.observations[("src", key)]


def test_an_echo_reply_from_the_target_is_ok() -> None:
    result = ping(lambda request, dest: [echo_reply(request, dest)])
    obs = only(result)
    assert (obs.outcome, obs.detail, obs.tool) == (Outcome.OK, "echo reply", "netns")
    assert obs.output.startswith(f"ping {TARGET}: echo reply (")
    assert ("src", "p0") in result.latency_ms


@pytest.mark.parametrize(
    ("kind", "code", "reason"),
    [
        (3, 1, "destination unreachable (code 1)"),
        (
            3,
            13,
            "destination unreachable (code 13)",
        ),  # administratively prohibited: a firewall's reject
        (
            11,
            0,
            "time exceeded (code 0)",
        ),  # a routing loop or a TTL that ran out: the target was not reached
    ],
)
def test_an_icmp_error_quoting_our_request_is_unreachable(
    kind: int, code: int, reason: str
) -> None:
    result = ping(lambda request, dest: [icmp_error(request, dest, kind, code)])
    obs = only(result)
    assert (obs.outcome, obs.detail) == (Outcome.UNREACHABLE, f"{reason} from {ROUTER}")
    assert ("src", "p0") in result.latency_ms  # an error is an answer: it calibrates windows


@pytest.mark.parametrize(
    "respond",
    [
        pytest.param(
            lambda request, dest: [echo_reply(request, dest, ident_xor=1)],
            id="reply-with-another-echo-id",
        ),
        pytest.param(
            lambda request, dest: [echo_reply(request, "192.0.2.77")],
            id="reply-from-another-address",
        ),
        pytest.param(
            lambda request, dest: [icmp_error(request, "192.0.2.77", 3, 1)],
            id="error-about-another-address",
        ),
        pytest.param(
            lambda request, dest: [
                icmp_error(request[:4] + bytes([request[4] ^ 1]) + request[5:], dest, 3, 1)
            ],
            id="error-quoting-another-echo-id",
        ),
        pytest.param(
            lambda request, dest: [icmp_error(request, dest, 5, 0)], id="redirect-is-no-answer"
        ),
        pytest.param(
            lambda request, dest: [ipv4(dest, ME, b"\x00\x00\x00\x00" + request[4:8], proto=17)],
            id="not-icmp",
        ),
    ],
)
def test_a_packet_that_is_not_the_answer_is_ignored(respond: Responder) -> None:
    obs = only(ping(respond))
    assert obs.outcome is Outcome.TIMEOUT
    assert obs.detail.startswith("no answer within ")


def test_the_answer_is_found_among_packets_that_are_not() -> None:
    def respond(request: bytes, dest: str) -> list[bytes]:
        return [
            echo_reply(request, dest, ident_xor=0x8000),
            echo_reply(request, "192.0.2.77"),
            icmp_error(request, dest, 3, 3),
        ]

    obs = only(ping(respond))
    assert (obs.outcome, obs.detail) == (
        Outcome.UNREACHABLE,
        f"destination unreachable (code 3) from {ROUTER}",
    )


def test_replies_go_to_their_own_probe() -> None:
    """Two targets on one ICMP socket: the sequence number ties each answer to its probe."""

    def respond(request: bytes, dest: str) -> list[bytes]:
        return [echo_reply(request, dest)] if dest == TARGET else [icmp_error(request, dest, 3, 1)]

    result = ping(respond, targets=(TARGET, "192.0.2.10"))
    assert only(result, "p0").outcome is Outcome.OK
    assert only(result, "p1").outcome is Outcome.UNREACHABLE


@pytest.mark.parametrize(
    ("err", "what"),
    [
        (errno.EHOSTUNREACH, "no route to host"),
        (errno.ENETUNREACH, "network unreachable"),
        (errno.EHOSTDOWN, "host is down"),
    ],
)
def test_a_send_the_kernel_refuses_for_lack_of_a_route_is_unreachable(err: int, what: str) -> None:
    obs = only(ping(fail=OSError(err, "refused by the fake")))
    assert (obs.outcome, obs.detail) == (Outcome.UNREACHABLE, what)
    assert obs.output == f"ping {TARGET}: {what} (" + obs.output.split(" (", 1)[1]


@pytest.mark.parametrize("err", [errno.EPERM, errno.EACCES, errno.EMSGSIZE])
def test_any_other_send_failure_is_an_error(err: int) -> None:
    result = ping(fail=OSError(err, "refused by the fake"))
    obs = only(result)
    assert obs.outcome is Outcome.ERROR
    assert obs.detail == f"send failed: [Errno {err}] refused by the fake"
    assert (
        obs.output == f"ping {TARGET}: send failed: [Errno {err}] refused by the fake"
    )  # no timing
    assert ("src", "p0") not in result.latency_ms  # nothing answered


def test_icmp_wire_reads_time_exceeded_in_both_families() -> None:
    request = icmp_wire.build_echo(4, 0x1234, 8)
    event = icmp_wire.parse(4, icmp_error(request, TARGET, 11, 1))
    assert event is not None and (event.kind, event.ident, event.seq, event.peer, event.reason) == (
        "error",
        0x1234,
        8,
        TARGET,
        "time exceeded (code 1)",
    )
    quoted = (
        bytes([0x60, 0, 0, 0, 0, 8, 58, 64])
        + socket.inet_pton(socket.AF_INET6, "2001:db8::2")
        + socket.inet_pton(socket.AF_INET6, "2001:db8::9")
        + icmp_wire.build_echo(6, 5, 9)
    )
    event = icmp_wire.parse(6, b"\x03\x00\x00\x00\x00\x00\x00\x00" + quoted, "2001:db8::1")
    assert event is not None and (
        event.kind,
        event.seq,
        event.peer,
        event.sender,
        event.reason,
    ) == ("error", 9, "2001:db8::9", "2001:db8::1", "time exceeded (code 0)")

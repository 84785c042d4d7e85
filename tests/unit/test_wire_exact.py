"""DNS and ICMP wire formats at their edges: exact limits, exact error texts, and malformed packets that must
be told apart (the mutation run, `make mutate`, showed which of these no test pinned).

An error's text ends up in the report (a probe that could not be sent, an ignored answer), so it is pinned
here word for word.
"""

from __future__ import annotations

import socket
import struct

import pytest

from netcontract.live.netns import tasks
from netcontract.probe import dns_wire, icmp_wire
from netcontract.probe.dns_wire import DnsError, DnsFormatError, DnsMismatch, DnsNameError
from netcontract.probe.observation import Outcome, Probe, ProbeKind

QID = 0x1234


def header(qid: int = QID, flags: int = 0x8180, qd: int = 1, an: int = 0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, 0, 0)


def question(name: str = "peer", qtype: int = 1) -> bytes:
    return dns_wire.encode_name(name) + struct.pack("!HH", qtype, 1)


def rr(rtype: int, rdata: bytes) -> bytes:
    return b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata


# -- DNS: names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty DNS name"),
        (".", "empty DNS name"),
        ("caf\u00e9.example", "DNS name 'café.example' is not ASCII (use its punycode form)"),
        (
            "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 62,
            "DNS name is 254 characters long (at most 253)",
        ),
        ("a..b", "DNS name 'a..b' has an empty label"),
        ("x" * 64, "DNS label 'xxxxxxxxxxxxxxxxxxxx'... is 64 characters long (at most 63)"),
        ("a b!c", "DNS name 'a b!c' has characters outside letters, digits, '-' and '_': ' !'"),
    ],
)
def test_names_that_cannot_be_queried_say_why(name: str, message: str) -> None:
    with pytest.raises(DnsNameError) as caught:
        dns_wire.validate_name(name)
    assert str(caught.value) == message


def test_the_longest_names_and_labels_pass() -> None:
    longest = "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61  # 253 characters
    assert dns_wire.validate_name(longest + ".") == tuple(longest.split("."))
    assert dns_wire.validate_name("x" * 63) == ("x" * 63,)


@pytest.mark.parametrize(
    ("qtype", "message"),
    [
        ("MX", "unsupported query type 'MX' (only A and AAAA)"),
        (15, "unsupported query type 15 (only A and AAAA)"),
    ],
)
def test_only_a_and_aaaa_say_why(qtype: str | int, message: str) -> None:
    with pytest.raises(DnsError) as caught:
        dns_wire.qtype_code(qtype)
    assert str(caught.value) == message


@pytest.mark.parametrize("qid", [0, 0xFFFF])
def test_every_16_bit_query_id_is_allowed(qid: int) -> None:
    assert dns_wire.build_query(qid, "db", "A")[:2] == qid.to_bytes(2, "big")


@pytest.mark.parametrize("qid", [-1, 0x10000])
def test_a_query_id_beyond_16_bits_says_so(qid: int) -> None:
    with pytest.raises(DnsError) as caught:
        dns_wire.build_query(qid, "db", "A")
    assert str(caught.value) == f"query id {qid} is not a 16-bit number"


def test_response_id_of_the_shortest_packets() -> None:
    assert dns_wire.response_id(b"\x12\x34") == 0x1234
    assert dns_wire.response_id(b"\x12") is None


# -- DNS: reading names in a packet ---------------------------------------------------------------


def test_a_pointer_beyond_the_first_256_bytes_is_followed() -> None:
    """0xC1 0x00 points to offset 256: both bytes of a pointer count, and the pointer may end the packet."""
    packet = b"\x00" * 256 + b"\x03abc\x00" + b"\xc1\x00"
    assert dns_wire.read_name(packet, 261) == ("abc", 263)


def test_a_pointer_to_itself_does_not_point_back() -> None:
    packet = header() + b"\xc0\x0c"
    with pytest.raises(DnsFormatError) as caught:
        dns_wire.read_name(packet, 12)
    assert str(caught.value) == "compression pointer at offset 12 does not point back (to 12)"


@pytest.mark.parametrize(
    ("packet", "offset", "message"),
    [
        (b"\x03ab", 0, "label at offset 0 runs past the end of the packet"),
        (b"\x01a", 0, "name at offset 0 runs past the end of the packet"),
        (b"\x00\xc0", 1, "compression pointer at offset 1 is cut off"),
        (b"\x40abc", 0, "unsupported label type 0x40 at offset 0"),
    ],
)
def test_broken_names_say_what_is_wrong(packet: bytes, offset: int, message: str) -> None:
    with pytest.raises(DnsFormatError) as caught:
        dns_wire.read_name(packet, offset)
    assert str(caught.value) == message


def test_the_wire_length_limit_is_255_bytes_exactly() -> None:
    def wire(*sizes: int) -> bytes:
        return b"".join(bytes([n]) + b"a" * n for n in sizes) + b"\x00"

    ok = wire(63, 63, 63, 61)  # 4 + 250 + 1 = 255 bytes
    assert len(ok) == 255
    assert dns_wire.read_name(ok, 0)[1] == 255
    too_long = wire(63, 63, 63, 62)  # 256 bytes
    with pytest.raises(DnsFormatError) as caught:
        dns_wire.read_name(too_long, 0)
    assert str(caught.value) == "name at offset 0 is longer than 255 bytes"


def test_labels_that_are_not_ascii_are_read_with_replacement_characters() -> None:
    assert dns_wire.read_name(b"\x02\xc3\xa9\x00", 0) == ("\ufffd\ufffd", 4)


# -- DNS: responses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "error", "message"),
    [
        (b"\x12\x34\x81", DnsFormatError, "packet of 3 bytes is shorter than a DNS header"),
        (header(qid=0x4321) + question(), DnsMismatch, f"id {0x4321} is not the query's {QID}"),
        (header(flags=0x0100) + question(), DnsMismatch, "packet is a query, not a response"),
        (header(flags=0x8181, qd=0), DnsMismatch, "FORMERR without the question"),
        (header(flags=0x8182, qd=0), DnsMismatch, "SERVFAIL without the question"),
        (header(flags=0x8189, qd=0), DnsMismatch, "9 without the question"),
        (header(flags=0x8180, qd=0), DnsMismatch, "response has 0 questions, the query had 1"),
        (
            header(flags=0x8182, qd=2) + question() + question(),
            DnsMismatch,
            "response has 2 questions, the query had 1",
        ),
        (header() + dns_wire.encode_name("peer") + b"\x00", DnsFormatError, "question is cut off"),
        (
            header() + dns_wire.encode_name("peer") + struct.pack("!HH", 0x8001, 1),
            DnsMismatch,
            "question 'peer' type 32769 class 1 is not 'peer' type 1 class IN",
        ),
        (
            header(an=1) + question() + b"\xc0\x0c\x00\x01",
            DnsFormatError,
            "answer record 1 of 1 is cut off",
        ),
        (
            header(an=2) + question() + rr(1, bytes(4)) + rr(1, bytes(4))[:-1],
            DnsFormatError,
            "data of answer record 2 of 2 is cut off",
        ),
    ],
)
def test_responses_that_are_not_the_answer_say_why(
    packet: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        dns_wire.parse_response(packet, QID, "peer", "A")
    assert type(caught.value) is error
    assert str(caught.value) == message


def test_a_record_that_ends_the_packet_exactly_is_read() -> None:
    packet = header(an=2) + question() + rr(1, bytes([10, 0, 0, 3])) + rr(5, b"")
    answer = dns_wire.parse_response(packet, QID, "peer", "A")
    assert (answer.qid, answer.rcode, answer.addresses, answer.records) == (
        QID,
        0,
        ("10.0.0.3",),
        2,
    )


def test_a_name_of_several_labels_is_compared_whole() -> None:
    name = "api.devonboarder.internal"
    packet = header(an=1) + question(name) + rr(1, bytes([10, 0, 0, 3]))
    assert dns_wire.parse_response(packet, QID, name, "A").addresses == ("10.0.0.3",)
    with pytest.raises(DnsMismatch):
        dns_wire.parse_response(packet, QID, "api.devonboarder", "A")


# -- ICMP ---------------------------------------------------------------------------------------------


def test_the_checksum_folds_every_carry() -> None:
    assert icmp_wire.checksum(b"\xff\xff\x00\x01") == 0xFFFE  # 0x10000 folds to 0x0001
    assert icmp_wire.checksum(b"\x01") == 0xFEFF  # an odd length is padded with a zero byte


@pytest.mark.parametrize(("ident", "seq"), [(0, 0), (0xFFFF, 0xFFFF)])
def test_every_16_bit_echo_id_and_sequence_is_allowed(ident: int, seq: int) -> None:
    packet = icmp_wire.build_echo(4, ident, seq)
    assert struct.unpack_from("!HH", packet, 4) == (ident, seq)
    assert icmp_wire.checksum(packet) == 0


@pytest.mark.parametrize(
    ("version", "ident", "seq", "message"),
    [
        (5, 1, 1, "IP version 5 is neither 4 nor 6"),
        (4, -1, 1, "echo id -1 / sequence 1 not 16-bit"),
        (4, 0x10000, 1, "echo id 65536 / sequence 1 not 16-bit"),
        (4, 1, -1, "echo id 1 / sequence -1 not 16-bit"),
        (6, 1, 0x10000, "echo id 1 / sequence 65536 not 16-bit"),
    ],
)
def test_echo_requests_that_cannot_be_built_say_why(
    version: int, ident: int, seq: int, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        icmp_wire.build_echo(version, ident, seq)
    assert str(caught.value) == message


def ipv4(src: str, dst: str, payload: bytes, proto: int = 1, version_ihl: int = 0x45) -> bytes:
    return (
        struct.pack(
            "!BBHHHBBH4s4s",
            version_ihl,
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


def unreachable_quoting(quote: bytes) -> bytes:
    return ipv4("192.0.2.1", "192.0.2.2", b"\x03\x01\x00\x00\x00\x00\x00\x00" + quote)


REQUEST = icmp_wire.build_echo(4, 7, 9)


def test_a_reply_names_its_sender_as_peer_and_sender() -> None:
    event = icmp_wire.parse(4, ipv4("192.0.2.9", "192.0.2.2", b"\x00\x00\x00\x00\x00\x07\x00\x09"))
    assert event == icmp_wire.IcmpEvent("reply", 7, 9, peer="192.0.2.9", sender="192.0.2.9")
    event = icmp_wire.parse(6, b"\x81\x00\x00\x00\x00\x07\x00\x09", "fe80::9%eth0")
    assert event == icmp_wire.IcmpEvent("reply", 7, 9, peer="fe80::9", sender="fe80::9")


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(b"\x45" + bytes(8), id="shorter-than-an-ip-header"),
        pytest.param(
            ipv4("192.0.2.9", "192.0.2.2", b"\x00\x00\x00\x00\x00\x07\x00\x09", proto=17),
            id="not-icmp",
        ),
        pytest.param(
            ipv4("192.0.2.9", "192.0.2.2", b"\x00\x00\x00\x00\x00\x07\x00\x09", version_ihl=0x65),
            id="not-ipv4",
        ),
        # errors whose quote is not one of our echo requests
        pytest.param(
            unreachable_quoting(ipv4("192.0.2.2", "192.0.2.9", b"\x08\x00" + bytes(6), proto=17)),
            id="quotes-udp",
        ),
        pytest.param(
            unreachable_quoting(ipv4("192.0.2.2", "192.0.2.9", REQUEST, version_ihl=0x65)[:28]),
            id="quotes-not-ipv4",
        ),
        pytest.param(
            unreachable_quoting(
                ipv4("192.0.2.2", "192.0.2.9", b"\x00\x00\x00\x00\x00\x07\x00\x09")
            ),
            id="quotes-a-reply",
        ),
        pytest.param(
            unreachable_quoting(ipv4("192.0.2.2", "192.0.2.9", REQUEST)[:27]), id="quote-cut-short"
        ),
    ],
)
def test_ipv4_packets_that_say_nothing_about_our_echo_requests(packet: bytes) -> None:
    assert icmp_wire.parse(4, packet) is None


def v6_quote(request: bytes, *, version: int = 6, next_header: int = 58) -> bytes:
    return (
        bytes([version << 4, 0, 0, 0, 0, 8, next_header, 64])
        + socket.inet_pton(socket.AF_INET6, "2001:db8::2")
        + socket.inet_pton(socket.AF_INET6, "2001:db8::9")
        + request
    )


@pytest.mark.parametrize(
    "quote",
    [
        pytest.param(v6_quote(b"\x80\x00" + bytes(6), next_header=17), id="quotes-udp"),
        pytest.param(v6_quote(icmp_wire.build_echo(6, 7, 9), version=4), id="quotes-not-ipv6"),
        pytest.param(v6_quote(b"\x81\x00\x00\x00\x00\x07\x00\x09"), id="quotes-a-reply"),
    ],
)
def test_ipv6_errors_that_quote_no_echo_request_of_ours(quote: bytes) -> None:
    assert icmp_wire.parse(6, b"\x01\x00\x00\x00\x00\x00\x00\x00" + quote, "2001:db8::1") is None


# -- the netns engine's pure parts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "family", "path"),
    [
        (ProbeKind.DNS, 4, "dns"),
        (ProbeKind.DNS, 6, "dns"),
        (ProbeKind.TCP, 4, "tcp4"),
        (ProbeKind.TCP, 6, "tcp6"),
        (ProbeKind.ICMP, 4, "icmp4"),
        (ProbeKind.ICMP, 6, "icmp6"),
    ],
)
def test_path_kinds(kind: ProbeKind, family: int, path: str) -> None:
    assert tasks.path_kind(kind, family) == path


def test_an_errno_without_a_name_is_shown_by_number() -> None:
    assert tasks.classify_connect(4242) == (Outcome.ERROR, "4242 (Unknown error 4242)")


def test_a_truncated_answer_says_that_tcp_is_not_tried() -> None:
    answer = dns_wire.DnsAnswer(1, 0, ("10.0.0.3",), True, 1)
    assert tasks.classify_dns(answer, "A") == (
        Outcome.ERROR,
        "answer truncated (TC bit); DNS over TCP is not tried",
        (),
    )


@pytest.mark.parametrize(
    ("probe", "output"),
    [
        (Probe("p0", ProbeKind.TCP, "10.0.0.3", 80), "tcp 10.0.0.3:80: no way"),
        (Probe("p0", ProbeKind.TCP, "fd00::3", 80), "tcp [fd00::3]:80: no way"),
        (Probe("p0", ProbeKind.ICMP, "fd00::3"), "icmp fd00::3: no way"),
        (Probe("p0", ProbeKind.DNS, "db", qtype="A"), "dns db: no way"),
    ],
)
def test_a_probe_that_could_not_be_sent_is_an_error_that_names_it(
    probe: Probe, output: str
) -> None:
    obs = tasks.error_observation(probe, "no way")
    assert (obs.outcome, obs.detail, obs.output, obs.tool, obs.addresses) == (
        Outcome.ERROR,
        "no way",
        output,
        "netns",
        (),
    )

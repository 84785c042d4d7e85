"""DNS wire format: queries byte for byte, and hand-built responses (good, empty, errors, forged, broken)."""

from __future__ import annotations

import struct
import time

import pytest

from netcontract.probe import dns_wire
from netcontract.probe.dns_wire import DnsFormatError, DnsMismatch, DnsNameError

QID = 0x1234


def header(
    qid: int = QID, flags: int = 0x8180, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0
) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(name: str = "peer", qtype: int = 1, qclass: int = 1) -> bytes:
    return dns_wire.encode_name(name) + struct.pack("!HH", qtype, qclass)


def record(
    rtype: int, rdata: bytes, owner: bytes = b"\xc0\x0c", rclass: int = 1, ttl: int = 600
) -> bytes:
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def response(
    *records: bytes, flags: int = 0x8180, name: str = "peer", qtype: int = 1, qid: int = QID
) -> bytes:
    return header(qid, flags, an=len(records)) + question(name, qtype) + b"".join(records)


A_PEER = bytes([172, 20, 0, 3])
A_OTHER = bytes([172, 20, 0, 9])
AAAA_PEER = bytes.fromhex("fd000000000000000000000000000003")


# -- building queries ------------------------------------------------------------------------


def test_query_bytes() -> None:
    assert dns_wire.build_query(0xBEEF, "db.example", "A") == (
        b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"  # id, RD, one question
        b"\x02db\x07example\x00"
        b"\x00\x01\x00\x01"
    )
    assert dns_wire.build_query(7, "peer.", "AAAA")[-6:] == b"peer\x00\x00\x1c\x00\x01"[-6:]
    assert dns_wire.build_query(7, "peer.", 28) == dns_wire.build_query(7, "peer", "aaaa")


@pytest.mark.parametrize(
    "name", ["", ".", "a..b", ".a", "a" * 64, "ünï.example", "a b", "a/b", "x" * 250 + ".abcd"]
)
def test_bad_names_are_refused_before_encoding(name: str) -> None:
    with pytest.raises(DnsNameError):
        dns_wire.build_query(1, name, "A")


def test_name_length_limits() -> None:
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters
    assert len(longest) == 253
    assert dns_wire.encode_name(longest).endswith(b"\x00")
    assert dns_wire.validate_name("under_score-1.x") == ("under_score-1", "x")
    with pytest.raises(DnsNameError):
        dns_wire.validate_name(longest + "b")


@pytest.mark.parametrize("bad", ["MX", "PTR", 5, ""])
def test_only_a_and_aaaa(bad: str | int) -> None:
    with pytest.raises(dns_wire.DnsError):
        dns_wire.build_query(1, "peer", bad)


def test_query_id_must_be_16_bit() -> None:
    with pytest.raises(dns_wire.DnsError):
        dns_wire.build_query(0x10000, "peer", "A")


# -- parsing responses ------------------------------------------------------------------------


def test_noerror_with_a_records() -> None:
    answer = dns_wire.parse_response(
        response(record(1, A_PEER), record(1, A_OTHER)), QID, "peer", "A"
    )
    assert (answer.rcode, answer.addresses, answer.truncated) == (
        0,
        ("172.20.0.3", "172.20.0.9"),
        False,
    )
    assert answer.rcode_name == "NOERROR"


def test_noerror_with_aaaa_record() -> None:
    packet = response(record(28, AAAA_PEER), qtype=28)
    assert dns_wire.parse_response(packet, QID, "peer", "AAAA").addresses == ("fd00::3",)


def test_records_of_other_types_are_not_addresses() -> None:
    cname = record(5, b"\x05alias\xc0\x0c")
    packet = response(cname, record(28, AAAA_PEER), record(1, A_PEER))
    answer = dns_wire.parse_response(packet, QID, "peer", "A")
    assert answer.addresses == ("172.20.0.3",)
    assert answer.records == 3


def test_nodata_nxdomain_servfail() -> None:
    nodata = dns_wire.parse_response(response(qtype=28), QID, "peer", "AAAA")
    assert (nodata.rcode, nodata.addresses) == (0, ())
    assert dns_wire.parse_response(response(flags=0x8183), QID, "peer", "A").rcode == 3
    servfail = dns_wire.parse_response(response(flags=0x8182), QID, "peer", "A")
    assert (servfail.rcode, servfail.rcode_name) == (2, "SERVFAIL")
    assert dns_wire.parse_response(response(flags=0x8185), QID, "peer", "A").rcode_name == "REFUSED"


def test_question_is_compared_without_case() -> None:
    assert dns_wire.parse_response(
        response(record(1, A_PEER), name="PeEr"), QID, "peer.", "A"
    ).addresses


def test_truncation_bit_is_reported() -> None:
    assert dns_wire.parse_response(response(flags=0x8380), QID, "peer", "A").truncated


@pytest.mark.parametrize(
    ("packet", "why"),
    [
        (response(record(1, A_PEER), qid=QID + 1), "id"),
        (response(record(1, A_PEER), flags=0x0100), "query"),
        (response(record(1, A_PEER), name="other"), "question"),
        (response(record(28, AAAA_PEER), qtype=28), "question"),
        (header(an=0, qd=0, flags=0x8182), "without the question"),
        (header(qd=2) + question() + question(), "2 questions"),
        (header() + question(qclass=3), "class"),
    ],
)
def test_answers_to_something_else_are_mismatches(packet: bytes, why: str) -> None:
    with pytest.raises(DnsMismatch, match=why):
        dns_wire.parse_response(packet, QID, "peer", "A")


@pytest.mark.parametrize("cut", [0, 1, 11, 14, 17, 20, 23, 33, 35])
def test_truncated_packets_are_format_errors(cut: int) -> None:
    packet = response(record(1, A_PEER))
    assert len(packet) == 38
    with pytest.raises(DnsFormatError):
        dns_wire.parse_response(packet[:cut], QID, "peer", "A")


def test_wrong_address_length_is_a_format_error() -> None:
    with pytest.raises(DnsFormatError, match="5 bytes"):
        dns_wire.parse_response(response(record(1, A_PEER + b"\x00")), QID, "peer", "A")


def test_compression_pointers_are_followed() -> None:
    # the answer's owner is "www" + pointer to the question's name at offset 12
    owner = b"\x03www\xc0\x0c"
    packet = response(record(1, A_PEER, owner=owner), record(1, A_OTHER, owner=b"\xc0\x16"))
    assert dns_wire.read_name(packet, 12 + 10) == ("www.peer", 12 + 10 + 6)
    assert dns_wire.read_name(packet, 12 + 10 + 6 + 14) == ("www.peer", 12 + 10 + 6 + 14 + 2)
    assert dns_wire.parse_response(packet, QID, "peer", "A").addresses == (
        "172.20.0.3",
        "172.20.0.9",
    )


@pytest.mark.parametrize(
    "owner",
    [
        b"\xc0\x16",  # points at itself (offset 22)
        b"\xc0\x17",  # points forward
        b"\x01a\xc0\x16",  # a label, then back to the start of this same name: a loop
    ],
)
def test_pointer_loops_and_forward_pointers_do_not_hang(owner: bytes) -> None:
    packet = response(record(1, A_PEER, owner=owner))
    started = time.monotonic()
    with pytest.raises(DnsFormatError):
        dns_wire.parse_response(packet, QID, "peer", "A")
    assert time.monotonic() - started < 1


def test_pointer_cut_off_at_the_end() -> None:
    with pytest.raises(DnsFormatError, match="cut off"):
        dns_wire.read_name(header() + b"\xc0", 12)


def test_mutual_pointer_loop_in_a_packet_does_not_hang() -> None:
    # two names pointing at each other after the question
    base = header(an=1) + question()
    loop = b"\xc0\x18\xc0\x16"  # offset 22 -> 24, offset 24 -> 22
    packet = base + loop + struct.pack("!HHIH", 1, 1, 0, 4) + A_PEER
    with pytest.raises(DnsFormatError):
        dns_wire.read_name(packet, 22)
    with pytest.raises(DnsFormatError):
        dns_wire.read_name(packet, 24)


def test_overlong_names_are_format_errors() -> None:
    # 5 labels of 63 bytes, then the end: 321 bytes, over the 255-byte limit
    owner = b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x00"
    with pytest.raises(DnsFormatError, match="longer than 255"):
        dns_wire.parse_response(response(record(1, A_PEER, owner=owner)), QID, "peer", "A")


def test_response_id() -> None:
    assert dns_wire.response_id(b"\x12\x34rest") == 0x1234
    assert dns_wire.response_id(b"\x12") is None

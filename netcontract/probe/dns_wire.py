"""DNS wire format for one-question A/AAAA lookups: build a query, parse and check its response. Pure.

`build_query` encodes a standard recursive query (RD set, one question, class
IN); `parse_response` checks that a packet really answers that query (response
bit, same id, same single question) and returns its rcode and the addresses of
the asked type found in the answer section. Nothing is followed: a CNAME is
just a record that is not an address, and owner names of address records are
not checked against the CNAME chain.

What this does not prove: that the addresses are true (any packet with the
right id and question is accepted; the id is the only defence against a
forger on the path), nor anything beyond the first 512-byte-style UDP answer:
a response with the TC bit is reported as truncated, there is no TCP retry
and no EDNS.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from dataclasses import dataclass

QTYPES: dict[str, int] = {"A": 1, "AAAA": 28}
CLASS_IN = 1
RCODE_NAMES: dict[int, str] = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
}

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_FLAG_QR = 0x8000
_FLAG_TC = 0x0200
_FLAG_RD = 0x0100
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_MAX_NAME = 253  # presentation form without the trailing dot
_MAX_WIRE_NAME = 255
_MAX_POINTERS = 64


class DnsError(ValueError):
    """Base of every error this module raises."""


class DnsNameError(DnsError):
    """The name cannot be put in a query (empty, too long, not plain ASCII)."""


class DnsFormatError(DnsError):
    """The packet is truncated or malformed."""


class DnsMismatch(DnsError):
    """A well-formed packet that is not the answer to our query (other id, other question, not a response)."""


@dataclass(frozen=True)
class DnsAnswer:
    """What a response to our query says: its id and rcode, the addresses of the asked type, and whether it was truncated."""

    qid: int
    rcode: int
    addresses: tuple[str, ...]  # answer records of the asked type, in packet order
    truncated: bool  # TC bit: the server could not fit the whole answer in the datagram
    records: int  # answer records of any type (CNAMEs included)

    @property
    def rcode_name(self) -> str:
        """The rcode's name (NOERROR, NXDOMAIN, ...), or RCODE<n> for one without a name here."""
        return RCODE_NAMES.get(self.rcode, f"RCODE{self.rcode}")


def qtype_code(qtype: str | int) -> int:
    """The numeric type of "A"/"AAAA" (or of 1/28); DnsError for anything else."""
    if isinstance(qtype, int):
        if qtype in QTYPES.values():
            return qtype
    elif qtype.upper() in QTYPES:
        return QTYPES[qtype.upper()]
    raise DnsError(f"unsupported query type {qtype!r} (only A and AAAA)")


@functools.lru_cache(maxsize=8192)
def validate_name(name: str) -> tuple[str, ...]:
    """The labels of `name` (one trailing dot allowed); DnsNameError when it cannot be queried. Cached: a
    dense check asks each name from every source, three times per query (plan, query, answer)."""
    if not name or name == ".":
        raise DnsNameError("empty DNS name")
    if not name.isascii():
        raise DnsNameError(f"DNS name {name!r} is not ASCII (use its punycode form)")
    bare = name[:-1] if name.endswith(".") else name
    if len(bare) > _MAX_NAME:
        raise DnsNameError(f"DNS name is {len(bare)} characters long (at most {_MAX_NAME})")
    labels = tuple(bare.split("."))
    for label in labels:
        if not label:
            raise DnsNameError(f"DNS name {name!r} has an empty label")
        if len(label) > 63:
            raise DnsNameError(
                f"DNS label {label[:20]!r}... is {len(label)} characters long (at most 63)"
            )
        bad = set(label) - _LABEL_CHARS
        if bad:
            raise DnsNameError(
                f"DNS name {name!r} has characters outside letters, digits, '-' and '_': "
                f"{''.join(sorted(bad))!r}"
            )
    return labels


def encode_name(name: str) -> bytes:
    """`name` in wire form: length-prefixed labels ending with the root label."""
    return (
        b"".join(bytes([len(label)]) + label.encode("ascii") for label in validate_name(name))
        + b"\x00"
    )


def build_query(qid: int, name: str, qtype: str | int) -> bytes:
    """A recursive (RD) query with id `qid` for one question `name` of type A or AAAA, class IN."""
    if not 0 <= qid <= 0xFFFF:
        raise DnsError(f"query id {qid} is not a 16-bit number")
    code = qtype_code(qtype)
    return (
        _HEADER.pack(qid, _FLAG_RD, 1, 0, 0, 0)
        + encode_name(name)
        + struct.pack("!HH", code, CLASS_IN)
    )


def response_id(packet: bytes) -> int | None:
    """The id field of a packet (None when it is too short to have one): to find the query it may answer."""
    return int.from_bytes(packet[:2], "big") if len(packet) >= 2 else None


def read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """The name at `offset` (compression pointers followed) and the offset just after it in the packet.

    A pointer must point strictly before the start of the labels it ends, so
    every jump goes further back and a loop of pointers cannot hang the parser;
    the decoded name must fit in 255 bytes.
    """
    labels: list[str] = []
    end: int | None = None  # where the name ends in the packet: after its first pointer, if any
    pos = segment = offset
    wire_len = 1
    for _ in range(_MAX_POINTERS + _MAX_WIRE_NAME):
        if pos >= len(packet):
            raise DnsFormatError(f"name at offset {offset} runs past the end of the packet")
        length = packet[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(packet):
                raise DnsFormatError(f"compression pointer at offset {pos} is cut off")
            target = ((length & 0x3F) << 8) | packet[pos + 1]
            if target >= segment:
                raise DnsFormatError(
                    f"compression pointer at offset {pos} does not point back (to {target})"
                )
            if end is None:
                end = pos + 2
            pos = segment = target
            continue
        if length & 0xC0:
            raise DnsFormatError(f"unsupported label type 0x{length:02x} at offset {pos}")
        if length == 0:
            return ".".join(labels), (end if end is not None else pos + 1)
        wire_len += length + 1
        if wire_len > _MAX_WIRE_NAME:
            raise DnsFormatError(f"name at offset {offset} is longer than {_MAX_WIRE_NAME} bytes")
        label = packet[pos + 1 : pos + 1 + length]
        if len(label) < length:
            raise DnsFormatError(f"label at offset {pos} runs past the end of the packet")
        labels.append(label.decode("ascii", errors="replace"))
        pos += 1 + length
    raise DnsFormatError(f"name at offset {offset} has too many compression pointers")


def parse_response(packet: bytes, qid: int, name: str, qtype: str | int) -> DnsAnswer:
    """Check that `packet` answers query `qid` for (`name`, `qtype`, IN) and read its rcode and addresses.

    DnsFormatError for a truncated or malformed packet, DnsMismatch for a
    well-formed packet answering something else (the caller should keep
    waiting for the real answer).
    """
    code = qtype_code(qtype)
    if len(packet) < _HEADER.size:
        raise DnsFormatError(f"packet of {len(packet)} bytes is shorter than a DNS header")
    pid, flags, qdcount, ancount, _nscount, _arcount = _HEADER.unpack_from(packet)
    if pid != qid:
        raise DnsMismatch(f"id {pid} is not the query's {qid}")
    if not flags & _FLAG_QR:
        raise DnsMismatch("packet is a query, not a response")
    rcode = flags & 0x000F
    if qdcount != 1:
        if (
            qdcount == 0 and rcode != 0
        ):  # some servers drop the question from an error (e.g. FORMERR)
            raise DnsMismatch(f"{RCODE_NAMES.get(rcode, rcode)} without the question")
        raise DnsMismatch(f"response has {qdcount} questions, the query had 1")
    qname, pos = read_name(packet, _HEADER.size)
    if pos + 4 > len(packet):
        raise DnsFormatError("question is cut off")
    rtype, rclass = struct.unpack_from("!HH", packet, pos)
    pos += 4
    want = ".".join(validate_name(name))
    if qname.lower() != want.lower() or rtype != code or rclass != CLASS_IN:
        raise DnsMismatch(
            f"question {qname!r} type {rtype} class {rclass} is not {want!r} type {code} class IN"
        )
    addresses: list[str] = []
    for index in range(ancount):
        _owner, pos = read_name(packet, pos)
        if pos + _RR_FIXED.size > len(packet):
            raise DnsFormatError(f"answer record {index + 1} of {ancount} is cut off")
        rtype, rclass, _ttl, rdlength = _RR_FIXED.unpack_from(packet, pos)
        pos += _RR_FIXED.size
        rdata = packet[pos : pos + rdlength]
        if len(rdata) < rdlength:
            raise DnsFormatError(f"data of answer record {index + 1} of {ancount} is cut off")
        pos += rdlength
        if rtype != code or rclass != CLASS_IN:
            continue
        size = 4 if code == QTYPES["A"] else 16
        if rdlength != size:
            raise DnsFormatError(f"address record of {rdlength} bytes (expected {size})")
        addresses.append(
            str(ipaddress.IPv4Address(rdata) if size == 4 else ipaddress.IPv6Address(rdata))
        )
    return DnsAnswer(
        qid=pid,
        rcode=rcode,
        addresses=tuple(addresses),
        truncated=bool(flags & _FLAG_TC),
        records=ancount,
    )

"""ICMP echo over raw sockets, IPv4 and IPv6: build a request, recognise what answers it. Pure.

`build_echo` makes an echo request (ICMPv4 with its checksum; ICMPv6 with a
zero checksum, which the kernel fills in for raw ICMPv6 sockets). `parse` reads
one datagram as a raw socket returns it (IPv4: with the IP header; IPv6:
without) and says whether it is an echo reply, or an error (destination
unreachable, time exceeded) quoting one of our echo requests, with the id and
sequence that tie it to a probe.

What this does not prove: an echo reply shows that the address answers ICMP,
not that any TCP/UDP port is reachable; an error is taken at its word (whoever
sent it is not authenticated beyond quoting our id and sequence).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
_ERRORS: dict[int, dict[int, str]] = {
    4: {3: "destination unreachable", 11: "time exceeded"},
    6: {1: "destination unreachable", 3: "time exceeded"},
}
_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, id, sequence
_IPV6_HEADER = 40
_NEXT_ICMPV6 = 58


@dataclass(frozen=True)
class IcmpEvent:
    """A datagram recognised as answering one of our echo requests: a reply, or an ICMP error quoting the request."""

    kind: str  # "reply" or "error"
    ident: int
    seq: int
    peer: str  # reply: who answered; error: the destination of the quoted request
    sender: str  # the source address of this packet
    reason: str = ""  # errors: e.g. "destination unreachable (code 1)"


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_echo(version: int, ident: int, seq: int, payload: bytes = b"netcontract-probe") -> bytes:
    """An echo request with `ident` and `seq` (16-bit each) for IP `version` 4 or 6."""
    if version not in ECHO_REQUEST:
        raise ValueError(f"IP version {version} is neither 4 nor 6")
    if not (0 <= ident <= 0xFFFF and 0 <= seq <= 0xFFFF):
        raise ValueError(f"echo id {ident} / sequence {seq} not 16-bit")
    packet = _ECHO.pack(ECHO_REQUEST[version], 0, 0, ident, seq) + payload
    if version == 6:
        return packet  # the kernel computes the ICMPv6 checksum (it covers a pseudo-header)
    return packet[:2] + checksum(packet).to_bytes(2, "big") + packet[4:]


def parse(version: int, packet: bytes, sender: str = "") -> IcmpEvent | None:
    """What a datagram from a raw ICMP socket says about an echo request; None when it is unrelated or broken."""
    if version == 4:
        if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 1:
            return None
        sender = str(ipaddress.IPv4Address(packet[12:16]))
        packet = packet[(packet[0] & 0x0F) * 4 :]
    elif version != 6:
        return None
    if len(packet) < _ECHO.size:
        return None
    kind, code, _sum, ident, seq = _ECHO.unpack_from(packet)
    sender = sender.split("%", 1)[0]
    if kind == ECHO_REPLY[version] and code == 0:
        return IcmpEvent("reply", ident, seq, peer=sender, sender=sender)
    if kind not in _ERRORS[version]:
        return None
    quoted = _quoted_echo(version, packet[8:])
    if quoted is None:
        return None
    ident, seq, dest = quoted
    return IcmpEvent(
        "error",
        ident,
        seq,
        peer=dest,
        sender=sender,
        reason=f"{_ERRORS[version][kind]} (code {code})",
    )


def _quoted_echo(version: int, quote: bytes) -> tuple[int, int, str] | None:
    """(id, sequence, destination) of the echo request quoted in an ICMP error, if it is one."""
    if version == 4:
        if len(quote) < 20 or quote[0] >> 4 != 4 or quote[9] != 1:
            return None
        dest = str(ipaddress.IPv4Address(quote[16:20]))
        inner = quote[(quote[0] & 0x0F) * 4 :]
    else:
        if len(quote) < _IPV6_HEADER or quote[0] >> 4 != 6 or quote[6] != _NEXT_ICMPV6:
            return None  # extension headers in the quote are not followed
        dest = str(ipaddress.IPv6Address(quote[24:40]))
        inner = quote[_IPV6_HEADER:]
    if len(inner) < _ECHO.size or inner[0] != ECHO_REQUEST[version]:
        return None
    _kind, _code, _sum, ident, seq = _ECHO.unpack_from(inner)
    return ident, seq, dest

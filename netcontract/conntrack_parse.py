"""Connection tracking entries as text: one parser for /proc/net/nf_conntrack and `conntrack -L`. Pure.

proc:      `ipv4 2 tcp 6 117 TIME_WAIT src=A dst=B sport=1 dport=2 src=B dst=A sport=2 dport=1 [ASSURED] ...`
conntrack: `tcp 6 117 TIME_WAIT src=A dst=B sport=1 dport=2 src=B dst=A ... [ASSURED] mark=0 use=1`
(`conntrack -o extended` prints the proc file's two leading columns too). The first src/dst/sport/dport
are the original direction (who opened the connection), the second the reply's (who answered, after
any DNAT). Reading the table is live/conntrack.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcontract.addresses import ip_or_none

_PROTOS = {"tcp", "udp", "icmp", "icmpv6", "sctp", "udplite", "dccp", "gre"}


@dataclass(frozen=True)
class ConnEntry:
    """One conntrack entry: the original direction's tuple, and what the kernel saw of the reply."""

    proto: str  # tcp, udp, icmp, icmpv6, ...
    src: str  # canonical address (addresses.ip_or_none)
    dst: str
    sport: int  # 0 for protocols without ports (ICMP: the echo id is not a port)
    dport: int
    state: str = ""  # TCP state (ESTABLISHED, TIME_WAIT, SYN_SENT, ...); empty for other protocols
    replied: bool = True  # False when the kernel marks it [UNREPLIED]: no answer came back (yet)
    assured: bool = False
    zone: int = 0
    reply_src: str = (
        ""  # who answered: differs from dst when the flow was DNATed (a published port)
    )
    reply_sport: int = 0  # the port that answered (the container's, behind a published port)

    @property
    def server(self) -> tuple[str, int]:
        """The address and port that really served the flow (after DNAT), as the reply direction shows it."""
        return (self.reply_src or self.dst, self.reply_sport or self.dport)

    @property
    def key(self) -> tuple[str, str, str, int, int, int]:
        """What tells one connection from another while its entry lives."""
        return (self.proto, self.src, self.dst, self.sport, self.dport, self.zone)


def parse_line(line: str) -> ConnEntry | None:
    """One line of /proc/net/nf_conntrack or of `conntrack -L [-o extended]`, or None if it is not an entry.

    proc:      `ipv4 2 tcp 6 117 TIME_WAIT src=A dst=B sport=1 dport=2 src=B dst=A sport=2 dport=1 [ASSURED] ...`
    conntrack: `tcp 6 117 TIME_WAIT src=A dst=B sport=1 dport=2 src=B dst=A ... [ASSURED] mark=0 use=1`
    """
    words = line.split()
    if words[:1] in (["ipv4"], ["ipv6"]):
        words = words[2:]
    if len(words) < 3 or words[0] not in _PROTOS:
        return None
    proto = words[0]
    fields: dict[str, str] = {}
    reply: dict[str, str] = {}
    flags: set[str] = set()
    state = ""
    for i, word in enumerate(words[3:], start=3):
        if word.startswith("[") and word.endswith("]"):
            flags.add(word[1:-1])
        elif "=" in word:
            k, _, v = word.partition("=")
            # the first src/dst/sport/dport are the original direction's, the second the reply's
            (reply if k in fields else fields).setdefault(k, v)
        elif i == 3 and proto == "tcp":
            state = word
    src, dst = ip_or_none(fields.get("src", "")), ip_or_none(fields.get("dst", ""))
    if src is None or dst is None:
        return None
    try:
        sport, dport = int(fields.get("sport", "0")), int(fields.get("dport", "0"))
        zone = int(fields.get("zone", "0"))
        rsport = int(reply.get("sport", "0"))
    except ValueError:
        return None
    rsrc = ip_or_none(reply.get("src", "")) or ""
    return ConnEntry(
        proto,
        src,
        dst,
        sport,
        dport,
        state,
        "UNREPLIED" not in flags,
        "ASSURED" in flags,
        zone,
        rsrc,
        rsport,
    )


def parse_table(text: str) -> list[ConnEntry]:
    """Every entry of a table's text (either source); lines that are not entries are skipped."""
    return [e for e in (parse_line(line) for line in text.splitlines()) if e is not None]

"""The module-level tables that decide outcomes, pinned entry by entry.

mutmut mutates only code inside functions, so a changed constant in a table
(an errno mapped to another outcome, a wording dropped, the TCP precedence
reordered, an ICMP type renumbered) would survive `make mutate`. Each table is
written out again here, independently, and checked two ways: it holds exactly
these entries (a new entry needs a test), and each entry decides what it should
through the public parser or classifier, on a line a tool prints.
"""

from __future__ import annotations

import errno
import itertools
import socket
import struct

import pytest

from netcontract.live.netns import selector, tasks
from netcontract.probe import dns_wire, icmp_wire, parse, verdicts
from netcontract.probe.observation import Observation, Outcome

OK, REFUSED, TIMEOUT, UNREACHABLE, ERROR = (
    Outcome.OK,
    Outcome.REFUSED,
    Outcome.TIMEOUT,
    Outcome.UNREACHABLE,
    Outcome.ERROR,
)

# -- parse: the error reasons tools print last ---------------------------------------------------------

REASONS = {
    "Connection refused": REFUSED,
    "No route to host": UNREACHABLE,
    "Host is unreachable": UNREACHABLE,  # musl
    "Network is unreachable": UNREACHABLE,  # glibc
    "Network unreachable": UNREACHABLE,  # musl
    "Host unreachable": UNREACHABLE,
    "EHOSTUNREACH": UNREACHABLE,
    "ENETUNREACH": UNREACHABLE,
    "timed out": TIMEOUT,
    "Connection timed out": TIMEOUT,  # glibc
    "Operation timed out": TIMEOUT,  # musl
    "timeout": TIMEOUT,
}


def test_the_reason_table_holds_exactly_the_pinned_wordings() -> None:
    lowered = {k.lower(): v for k, v in REASONS.items()}  # _reason lower-cases what a tool printed
    assert lowered == parse._REASONS


@pytest.mark.parametrize(("reason", "outcome"), REASONS.items())
@pytest.mark.parametrize(
    "template",
    [
        "nc: connect to 10.0.0.3 port 81 (tcp) failed: {}",  # openbsd nc
        "nc: 10.0.0.3 (10.0.0.3:81): {}",  # full busybox nc -v -v
        "bash: connect: {}",
        "OSError: [Errno 1] {}.",  # python3, errno and final dot dropped
    ],
)
def test_every_reason_decides_a_tcp_probe(template: str, reason: str, outcome: Outcome) -> None:
    line = template.format(reason)
    assert parse.parse_tcp("nc-z", 1, line) == Observation(outcome, detail=line)


@pytest.mark.parametrize(("reason", "outcome"), REASONS.items())
def test_ping_reads_the_unreachable_reasons_only(reason: str, outcome: Outcome) -> None:
    got = parse.parse_ping(1, f"PING 10.0.0.3 (10.0.0.3): 56 data bytes\nping: sendto: {reason}\n")
    if outcome is UNREACHABLE:
        line = f"ping: sendto: {reason}"  # the detail names a line that says "unreachable"
        assert got == Observation(
            UNREACHABLE, detail=line if "nreachable" in line.lower() else "unreachable"
        )
    else:
        assert got.outcome is ERROR  # a refused or timed-out sendto says nothing about the path


@pytest.mark.parametrize(("reason", "outcome"), REASONS.items())
def test_nslookup_reads_a_refused_or_silent_resolver(reason: str, outcome: Outcome) -> None:
    got = parse.parse_dns("nslookup", 1, f"nslookup: write to '127.0.0.11': {reason}\n")
    assert got.outcome is (TIMEOUT if outcome in (REFUSED, TIMEOUT) else ERROR)


EXCEPTIONS = {"ConnectionRefusedError": REFUSED, "TimeoutError": TIMEOUT, "timeout": TIMEOUT}


def test_the_exception_table_holds_exactly_the_pinned_names() -> None:
    assert parse._EXCEPTIONS == EXCEPTIONS


@pytest.mark.parametrize(("name", "outcome"), EXCEPTIONS.items())
@pytest.mark.parametrize("prefix", ["", "socket."])
def test_every_exception_name_decides_when_its_message_is_empty(
    prefix: str, name: str, outcome: Outcome
) -> None:
    assert parse.parse_tcp("python3", 1, f"{prefix}{name}: ").outcome is outcome
    assert parse.parse_tcp("python3", 1, f"{prefix}{name}: something else").outcome is ERROR


TCP_LINES = [  # (a line of each format, its outcome), in the table's order
    ("nc: connect to 10.0.0.3 port 81 (tcp) timed out: Operation now in progress", TIMEOUT),
    ("Connection to 10.0.0.3 5432 port [tcp/*] succeeded!", OK),
    ("Ncat: Connected to 10.0.0.3:80.", OK),
    ("db [10.0.0.3] 80 (http) open", OK),
]


def test_the_tcp_line_table_has_one_pinned_format_per_entry() -> None:
    assert len(parse._TCP_LINES) == len(TCP_LINES)
    for (pattern, outcome), (line, want) in zip(parse._TCP_LINES, TCP_LINES, strict=True):
        assert (bool(pattern.fullmatch(line)), outcome) == (True, want)


@pytest.mark.parametrize(("line", "outcome"), TCP_LINES)
def test_every_tcp_line_format_decides_against_the_exit_code(line: str, outcome: Outcome) -> None:
    rc = 0 if outcome is not OK else 1
    assert parse.parse_tcp("nc-z", rc, line) == Observation(outcome, detail=line)


# One line per outcome; the precedence says which wins when a probe printed several (a retrying tool).
LINE_OF = {
    REFUSED: "nc: 10.0.0.3 (10.0.0.3:81): Connection refused",
    UNREACHABLE: "nc: 10.0.0.3 (10.0.0.3:81): Host is unreachable",
    TIMEOUT: "nc: 10.0.0.3 (10.0.0.3:81): Operation timed out",
    OK: "Ncat: Connected to 10.0.0.3:81.",
}
PRECEDENCE = (REFUSED, UNREACHABLE, TIMEOUT, OK)


def test_the_precedence_is_refused_unreachable_timeout_ok() -> None:
    assert parse._PRECEDENCE == PRECEDENCE


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(PRECEDENCE, 2)))
def test_the_earlier_outcome_wins_in_either_order(first: Outcome, second: Outcome) -> None:
    for pair in ((first, second), (second, first)):
        text = "\n".join(LINE_OF[o] for o in pair)
        for rc in (0, 1):
            assert parse.parse_tcp("nc-z", rc, text).outcome is first, (pair, rc)


def test_a_connected_line_never_outweighs_a_failure() -> None:
    """The hand-made mutant of issue 18 (OK first) would read a retried, finally refused probe as reached."""
    text = f"{LINE_OF[OK]}\n{LINE_OF[REFUSED]}\n{LINE_OF[UNREACHABLE]}\n{LINE_OF[TIMEOUT]}"
    assert parse.parse_tcp("nc-z", 0, text).outcome is REFUSED


@pytest.mark.parametrize(
    ("rc", "tcp", "dns", "ping"),
    [
        (143, TIMEOUT, TIMEOUT, TIMEOUT),  # the batch watchdog's SIGTERM
        (
            137,
            ERROR,
            ERROR,
            ERROR,
        ),  # SIGKILL: the container died or the OOM killer, no network evidence
    ],
)
def test_only_the_watchdog_exit_is_a_timeout(
    rc: int, tcp: Outcome, dns: Outcome, ping: Outcome
) -> None:
    assert parse._TIMED_OUT_RC == (143,)
    assert parse.parse_tcp("nc-e", rc, "").outcome is tcp
    assert parse.parse_dns("getent", rc, "").outcome is dns
    assert parse.parse_dns("python3", rc, "").outcome is dns
    assert parse.parse_dns("nslookup", rc, "").outcome is dns
    assert parse.parse_ping(rc, "").outcome is ping


# -- the netns engine: errnos ------------------------------------------------------------------------

UNREACHABLE_ERRNOS = {
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTDOWN: "host is down",
}


def test_the_unreachable_errno_table_holds_exactly_the_pinned_errnos() -> None:
    assert tasks.UNREACHABLE_ERRNOS == UNREACHABLE_ERRNOS


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (0, (OK, "connected")),
        (errno.ECONNREFUSED, (REFUSED, "refused")),
        (errno.EHOSTUNREACH, (UNREACHABLE, "no route to host")),
        (errno.ENETUNREACH, (UNREACHABLE, "network unreachable")),
        (errno.EHOSTDOWN, (UNREACHABLE, "host is down")),
        (errno.ETIMEDOUT, (TIMEOUT, "timed out")),
        (errno.EACCES, (ERROR, "EACCES (Permission denied)")),
        (errno.ECONNRESET, (ERROR, "ECONNRESET (Connection reset by peer)")),
        (errno.EPERM, (ERROR, "EPERM (Operation not permitted)")),
    ],
)
def test_every_connect_errno(err: int, expected: tuple[Outcome, str]) -> None:
    assert tasks.classify_connect(err) == expected


def test_the_engine_opens_raw_icmp_sockets_per_family() -> None:
    assert selector._SPECS == {
        (tasks.ProbeKind.ICMP, socket.AF_INET): (
            socket.AF_INET,
            socket.SOCK_RAW,
            socket.IPPROTO_ICMP,
        ),
        (tasks.ProbeKind.ICMP, socket.AF_INET6): (
            socket.AF_INET6,
            socket.SOCK_RAW,
            socket.IPPROTO_ICMPV6,
        ),
    }
    assert selector.RESEND_AT == 0.5
    assert struct.unpack("ii", selector._LINGER_RESET) == (
        1,
        0,
    )  # linger on, 0 s: close with a reset


# -- ICMP types ------------------------------------------------------------------------------------


def test_the_icmp_tables() -> None:
    assert icmp_wire.ECHO_REQUEST == {4: 8, 6: 128}
    assert icmp_wire.ECHO_REPLY == {4: 0, 6: 129}
    assert icmp_wire._ERRORS == {
        4: {3: "destination unreachable", 11: "time exceeded"},
        6: {1: "destination unreachable", 3: "time exceeded"},
    }


def _v6_quote(ident: int, seq: int) -> bytes:
    return (
        bytes([0x60, 0, 0, 0, 0, 8, 58, 64])
        + socket.inet_pton(socket.AF_INET6, "2001:db8::2")
        + socket.inet_pton(socket.AF_INET6, "2001:db8::9")
        + icmp_wire.build_echo(6, ident, seq)
    )


def _v4(src: str, dst: str, payload: bytes) -> bytes:
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


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (0, "reply"),
        (3, "destination unreachable"),
        (11, "time exceeded"),
        (4, None),
        (5, None),
        (8, None),
        (12, None),
        (13, None),
        (14, None),  # quench, redirect, request, ...
    ],
)
def test_every_icmpv4_type(kind: int, expected: str | None) -> None:
    request = icmp_wire.build_echo(4, 7, 9)
    body = (
        struct.pack("!BBHHH", kind, 0, 0, 7, 9)
        if kind in (0, 8)
        else struct.pack("!BBHI", kind, 0, 0, 0) + _v4("192.0.2.2", "192.0.2.9", request)[:28]
    )
    event = icmp_wire.parse(4, _v4("192.0.2.1", "192.0.2.2", body))
    if expected is None:
        assert event is None
    elif expected == "reply":
        assert event is not None and (event.kind, event.ident, event.seq, event.peer) == (
            "reply",
            7,
            9,
            "192.0.2.1",
        )
    else:
        assert event is not None and (
            event.kind,
            event.ident,
            event.seq,
            event.peer,
            event.reason,
        ) == ("error", 7, 9, "192.0.2.9", f"{expected} (code 0)")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (129, "reply"),
        (1, "destination unreachable"),
        (3, "time exceeded"),
        (2, None),
        (4, None),
        (128, None),
        (133, None),
        (135, None),  # too big, parameter problem, request, ND
    ],
)
def test_every_icmpv6_type(kind: int, expected: str | None) -> None:
    body = (
        struct.pack("!BBHHH", kind, 0, 0, 7, 9)
        if kind in (128, 129)
        else struct.pack("!BBHI", kind, 0, 0, 0) + _v6_quote(7, 9)
    )
    event = icmp_wire.parse(6, body, "2001:db8::1")
    if expected is None:
        assert event is None
    elif expected == "reply":
        assert event is not None and (event.kind, event.ident, event.seq, event.peer) == (
            "reply",
            7,
            9,
            "2001:db8::1",
        )
    else:
        assert event is not None and (
            event.kind,
            event.ident,
            event.seq,
            event.peer,
            event.reason,
        ) == ("error", 7, 9, "2001:db8::9", f"{expected} (code 0)")


def test_echo_requests_carry_the_request_type() -> None:
    assert icmp_wire.build_echo(4, 1, 2)[0] == 8
    assert icmp_wire.build_echo(6, 1, 2)[0] == 128


# -- DNS --------------------------------------------------------------------------------------------


def test_the_dns_tables() -> None:
    assert dns_wire.QTYPES == {"A": 1, "AAAA": 28}
    assert dns_wire.CLASS_IN == 1
    assert dns_wire.RCODE_NAMES == {
        0: "NOERROR",
        1: "FORMERR",
        2: "SERVFAIL",
        3: "NXDOMAIN",
        4: "NOTIMP",
        5: "REFUSED",
    }
    assert (dns_wire._FLAG_QR, dns_wire._FLAG_TC, dns_wire._FLAG_RD) == (0x8000, 0x0200, 0x0100)
    assert (dns_wire._MAX_NAME, dns_wire._MAX_WIRE_NAME, dns_wire._MAX_POINTERS) == (253, 255, 64)
    label_chars = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    assert label_chars == dns_wire._LABEL_CHARS


@pytest.mark.parametrize(
    ("rcode", "outcome", "what"),
    [
        (0, Outcome.NODATA, "NOERROR without A record"),
        (1, ERROR, "the DNS server answered FORMERR"),
        (2, Outcome.SERVFAIL, "SERVFAIL"),
        (3, Outcome.NXDOMAIN, "NXDOMAIN"),
        (4, ERROR, "the DNS server answered NOTIMP"),
        (5, ERROR, "the DNS server answered REFUSED"),
        (6, ERROR, "the DNS server answered RCODE6"),
    ],
)
def test_every_rcode(rcode: int, outcome: Outcome, what: str) -> None:
    assert tasks.classify_dns(dns_wire.DnsAnswer(1, rcode, (), False, 0), "A") == (
        outcome,
        what,
        (),
    )


# -- the judge's tables -------------------------------------------------------------------------------


def test_the_judge_tables() -> None:
    assert verdicts._BLOCKED == (
        TIMEOUT,
        UNREACHABLE,
    )  # what a dropped or unroutable probe looks like
    rcode_tools = frozenset({"netns", "nslookup"})  # tools that tell NXDOMAIN from silence
    assert rcode_tools == verdicts.RCODE_TOOLS
    assert verdicts._UPSTREAM_ANSWERS == (OK, Outcome.NXDOMAIN, Outcome.NODATA)
    assert verdicts.CVE_DNS == "CVE-2024-29018"

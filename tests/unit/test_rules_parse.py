"""Probe output parsing, rule by rule: the full Observation (outcome, addresses, detail) each
tool's output turns into, and how a batch's lines are split between probes.

test_probes.py holds recorded outputs of real tools; this file pins every branch of the
parser, including the details that end up in the report's `actual` and `reason`.
"""

from __future__ import annotations

import pytest

from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.probe.parse import (
    classify,
    lines,
    parse_batch,
    parse_dns,
    parse_ping,
    parse_tcp,
    split_batch,
)

OK, REFUSED, TIMEOUT, UNREACHABLE = (
    Outcome.OK,
    Outcome.REFUSED,
    Outcome.TIMEOUT,
    Outcome.UNREACHABLE,
)
NXDOMAIN, ERROR, SERVFAIL = Outcome.NXDOMAIN, Outcome.ERROR, Outcome.SERVFAIL
DNS_TIMEOUT = "no DNS answer within the probe timeout"
LONG = "x" * 300


def obs(outcome: Outcome, *addresses: str, detail: str = "") -> Observation:
    return Observation(outcome, tuple(addresses), detail)


# -- TCP ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "rc", "output", "expected"),
    [
        (
            "nc-z",
            1,
            "\n  nc: connect to 10.0.0.3 port 81 (tcp) failed: Connection refused  \n",
            obs(REFUSED, detail="nc: connect to 10.0.0.3 port 81 (tcp) failed: Connection refused"),
        ),
        (
            "bash",
            1,
            "bash: connect: Network is unreachable",
            obs(UNREACHABLE, detail="bash: connect: Network is unreachable"),
        ),
        ("nc-z", 1, "nc: timed out", obs(TIMEOUT, detail="nc: timed out")),
        (
            "nc-z",
            0,
            "Connection to 10.0.0.3 5432 port [tcp/*] succeeded!",
            obs(OK, detail="Connection to 10.0.0.3 5432 port [tcp/*] succeeded!"),
        ),
        ("nc-e", 143, "", obs(TIMEOUT, detail="no answer within the probe timeout")),
        ("nc-e", 0, "", obs(OK, detail="connected")),
        ("nc-e", 1, "", obs(ERROR, detail="nc-e exited 1: no output")),
        ("nc-e", 1, "   \n", obs(ERROR, detail="nc-e exited 1: no output")),
        ("", 2, "\nweird thing\nmore", obs(ERROR, detail="tcp probe exited 2: weird thing")),
        ("nc-z", 1, LONG, obs(ERROR, detail="nc-z exited 1: " + "x" * 200)),
    ],
)
def test_parse_tcp(tool: str, rc: int, output: str, expected: Observation) -> None:
    assert parse_tcp(tool, rc, output) == expected


# -- DNS: nslookup (busybox, old busybox, bind) -------------------------------------------------------

OLD_BUSYBOX_OK = """Server:    127.0.0.11
Address 1: 127.0.0.11

Name:      db
Address 1: 172.22.0.2 shop-db-1.shop_data
Address 2: 172.22.0.9
"""
BUSYBOX_NO_ANSWER = """Server:\t\t127.0.0.11
Address:\t127.0.0.11:53

*** Can't find db: No answer
"""


@pytest.mark.parametrize(
    ("rc", "output", "expected"),
    [
        # the server's own block is skipped: only what follows a Name: line is an answer
        (0, OLD_BUSYBOX_OK, obs(OK, "172.22.0.2", "172.22.0.9")),
        (
            0,
            "Server: 127.0.0.11\nAddress 1: 127.0.0.11\n",
            obs(ERROR, detail="nslookup exited 0: Server: 127.0.0.11"),
        ),
        # an IPv6 answer (even an IPv4-mapped one) is no IPv4 address; odd lines are skipped
        (
            0,
            "Server: x\nName: db\nAddress: ::ffff:172.22.0.2\nAddress\nAddress:\nAddress: 172.22.0.3\n",
            obs(OK, "172.22.0.3"),
        ),
        (
            0,
            "Server: x\nName: db\nAddress: 172.22.0.3\nName: db\nAddress: 172.22.0.3\n",
            obs(OK, "172.22.0.3"),
        ),
        # only a bare IPv4 address is one: not an address with a port
        (
            0,
            "Server: x\nName: db\nAddress: 172.22.0.2:53\nAddress: 172.22.0.3\n",
            obs(OK, "172.22.0.3"),
        ),
        # NXDOMAIN said in any form
        (
            1,
            "Server: x\n** server can't find nope: NXDOMAIN\n*** Can't find nope: No answer\n",
            obs(NXDOMAIN, detail="** server can't find nope: NXDOMAIN"),
        ),
        (1, "Server: x\n;; status: NXDOMAIN\n", obs(NXDOMAIN, detail="NXDOMAIN")),
        (
            1,
            "Server: x\n*** Can't find nope: Non-existent domain\n",
            obs(NXDOMAIN, detail="*** Can't find nope: Non-existent domain"),
        ),
        # "No answer" (NOERROR without an A record) is read as NXDOMAIN today
        (1, BUSYBOX_NO_ANSWER, obs(NXDOMAIN, detail="*** Can't find db: No answer")),
        # SERVFAIL and REFUSED: the resolver gave no answer (a timeout for the judge)
        (
            1,
            "Server: x\n;; Got REFUSED reply from 127.0.0.11\n",
            obs(TIMEOUT, detail="REFUSED: no answer"),
        ),
        (
            1,
            "Server: x\n;; Got SERVFAIL reply from 127.0.0.11\n",
            obs(SERVFAIL, detail="SERVFAIL: no answer"),
        ),
        (
            1,
            "Server: x\n** server can't find x: SERVFAIL\n",
            obs(SERVFAIL, detail="** server can't find x: SERVFAIL"),
        ),
        # timeouts
        (1, ";; connection timed out\n", obs(TIMEOUT, detail=DNS_TIMEOUT)),
        (1, ";; no servers could be reached\n", obs(TIMEOUT, detail=DNS_TIMEOUT)),
        (143, "Server: x\n", obs(TIMEOUT, detail=DNS_TIMEOUT)),
        # anything else is an error
        (
            127,
            "sh: nslookup: not found",
            obs(ERROR, detail="nslookup exited 127: sh: nslookup: not found"),
        ),
        (1, "", obs(ERROR, detail="nslookup exited 1: no output")),
    ],
)
def test_parse_nslookup(rc: int, output: str, expected: Observation) -> None:
    assert parse_dns("nslookup", rc, output) == expected


def test_a_refusing_resolver_is_no_nxdomain() -> None:
    """(Was a bug: `** server can't find x: REFUSED` matched the NXDOMAIN rule, so a refusing resolver
    passed a must-not-resolve check even with a failed control.)"""
    got = parse_dns("nslookup", 1, "Server: x\n** server can't find x: REFUSED\n")
    assert got == obs(
        ERROR, detail="** server can't find x: REFUSED: the resolver refused to answer"
    )
    got = parse_dns(
        "nslookup", 1, "Server: x\n;; ->>HEADER<<- opcode: QUERY, status: REFUSED, id: 1\n"
    )
    assert got == obs(ERROR, detail="REFUSED: the resolver refused to answer")


def test_nslookup_output_is_recognised_whatever_the_tool_name() -> None:
    assert parse_dns("", 0, "Server: x\nName: db\nAddress: 172.22.0.3\n") == obs(OK, "172.22.0.3")
    # without it, the output is read as getent's
    assert parse_dns("", 0, "server: x\n") == obs(ERROR, detail="getent exited 0: server: x")


def test_a_long_nslookup_line_is_cut_in_the_detail() -> None:
    got = parse_dns("nslookup", 1, f"Server: x\n** can't find {LONG}: NXDOMAIN\n")
    assert (
        got.outcome is NXDOMAIN
        and len(got.detail) == 200
        and got.detail.startswith("** can't find xx")
    )


# -- DNS: python3 and getent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "rc", "output", "expected"),
    [
        ("python3", 0, "172.22.0.2 172.22.0.9\n", obs(OK, "172.22.0.2", "172.22.0.9")),
        ("python3", 143, "", obs(TIMEOUT, detail=DNS_TIMEOUT)),
        ("python3", 2, "gaierror -2 oops\n", obs(NXDOMAIN, detail="gaierror -2 oops")),
        (
            "python3",
            2,
            "[Errno -5] No address: name not known\n",
            obs(NXDOMAIN, detail="[Errno -5] No address: name not known"),
        ),
        ("python3", 2, "gaierror -3 try again\n", obs(TIMEOUT, detail="gaierror -3 try again")),
        (
            "python3",
            2,
            "Temporary failure in name resolution\n",
            obs(TIMEOUT, detail="Temporary failure in name resolution"),
        ),
        (
            "python3",
            1,
            "\nTraceback (most recent call last):\n",
            obs(ERROR, detail="Traceback (most recent call last):"),
        ),
        ("python3", 1, "", obs(ERROR, detail="python3 exited 1")),
        (
            "getent",
            0,
            "\n172.22.0.2      STREAM db\nsome noise here\n172.22.0.9 db\n",
            obs(OK, "172.22.0.2", "172.22.0.9"),
        ),
        ("getent", 143, "", obs(TIMEOUT, detail=DNS_TIMEOUT)),
        ("getent", 2, "", obs(NXDOMAIN, detail="getent: not found")),
        ("getent", 0, "", obs(ERROR, detail="getent exited 0: no output")),
        ("getent", 1, "172.22.0.2 db\n", obs(ERROR, detail="getent exited 1: 172.22.0.2 db")),
    ],
)
def test_parse_python_and_getent(tool: str, rc: int, output: str, expected: Observation) -> None:
    assert parse_dns(tool, rc, output) == expected


# -- ICMP --------------------------------------------------------------------------------------------

PING_OK = "PING 10.0.0.2 (10.0.0.2): 56 data bytes\n\n--- 10.0.0.2 ping statistics ---\n1 packets transmitted, 1 packets received\n"


@pytest.mark.parametrize(
    ("rc", "output", "expected"),
    [
        (1, PING_OK, obs(OK, detail="1 packets transmitted, 1 packets received")),
        (
            1,
            "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable\n1 packets transmitted, 0 received",
            obs(UNREACHABLE, detail="From 10.0.0.1 icmp_seq=1 Destination Host Unreachable"),
        ),
        (2, "ping: sendto: No route to host\n", obs(UNREACHABLE, detail="unreachable")),
        (
            2,
            "ping: socket: Operation not permitted\n",
            obs(ERROR, detail="ping not permitted: ping: socket: Operation not permitted"),
        ),
        (
            2,
            "\nping: Permission denied\n",
            obs(ERROR, detail="ping not permitted: ping: Permission denied"),
        ),
        (
            1,
            "1 packets transmitted, 0 packets received\n",
            obs(TIMEOUT, detail="no echo reply within the probe timeout"),
        ),
        (143, "", obs(TIMEOUT, detail="no echo reply within the probe timeout")),
        (2, "ping: bad address 'x'\n", obs(ERROR, detail="ping exited 2: ping: bad address 'x'")),
        (2, "", obs(ERROR, detail="ping exited 2: no output")),
        (0, f"{LONG} 1 packets transmitted, 1 packets received\n", obs(OK, detail=LONG[:200])),
    ],
)
def test_parse_ping(rc: int, output: str, expected: Observation) -> None:
    assert parse_ping(rc, output) == expected


# -- classify: the kind picks the parser; output and tool are kept --------------------------------


def test_classify_keeps_output_and_tool() -> None:
    assert classify(ProbeKind.TCP, "nc-z", 3, "boom") == Observation(
        ERROR, (), "nc-z exited 3: boom", "boom", "nc-z"
    )
    assert classify(ProbeKind.DNS, "getent", 0, "172.22.0.2 db") == Observation(
        OK, ("172.22.0.2",), "", "172.22.0.2 db", "getent"
    )
    assert classify(ProbeKind.ICMP, "ping", 143, "") == Observation(
        TIMEOUT, (), "no echo reply within the probe timeout", "", "ping"
    )


# -- split_batch and parse_batch --------------------------------------------------------------------


def test_split_batch_keeps_lines_per_probe_until_its_status() -> None:
    text = "\n".join(
        [
            "@@tools tcp=nc-z dns=get=ent",
            "stray | line",
            "@p0|a | b",
            "@p0|@@rc 1",
            "@p0|late line after the status",
            "@p0|@@rc 143",
            "@p1|@@rc x",
            "@p2|@@rc 0",
            "@@done",
        ]
    )
    b = split_batch(text)
    assert b.tools == {"tcp": "nc-z", "dns": "get=ent"}
    # an unreadable status is no status: p1 has no result at all
    assert dict(b.per_probe) == {"p0": (1, "a | b"), "p2": (0, "")}
    assert b.complete is True


def test_split_batch_without_done_is_incomplete() -> None:
    b = split_batch("@p0|@@rc 0\n")
    assert (b.complete, dict(b.tools), dict(b.per_probe)) == (False, {}, {"p0": (0, "")})


P_TCP = Probe("p0", ProbeKind.TCP, "10.0.0.3", 80)
P_DNS = Probe("p1", ProbeKind.DNS, "db")


def test_parse_batch_missing_tools_make_every_probe_an_error() -> None:
    text = (
        "@@tools tcp=nc-z dns=none icmp=none\n@@missing sleep\n@@missing dns resolver\n@p0|@@rc 0\n"
    )
    assert parse_batch(text, [P_TCP, P_DNS]) == {
        "p0": Observation(ERROR, detail="the container has no sleep, dns resolver", tool="nc-z"),
        "p1": Observation(ERROR, detail="the container has no sleep, dns resolver", tool="none"),
    }
    assert parse_batch("@@missing sleep\n", [P_TCP])["p0"] == Observation(
        ERROR, detail="the container has no sleep"
    )


def test_parse_batch_tool_none_and_missing_results() -> None:
    text = "@@tools tcp=none dns=nslookup\n@p0|@@rc 127\n@@done\n"
    assert parse_batch(text, [P_TCP, P_DNS]) == {
        "p0": Observation(ERROR, detail="no tool for a tcp probe in this container"),
        "p1": Observation(ERROR, detail="no result from the probe script", tool="nslookup"),
    }
    assert parse_batch("", [P_DNS])["p1"] == Observation(
        ERROR, detail="no result from the probe script"
    )


def test_parse_batch_notool_and_no_status_are_errors_that_keep_the_output() -> None:
    text = "@@tools tcp=nc-z dns=nslookup\n@p0|@@notool tcp\n@p0|@@rc 0\n@p1|Server: x\n@@done\n"
    assert parse_batch(text, [P_TCP, P_DNS]) == {
        "p0": Observation(
            ERROR, detail="no tool for a tcp probe in this container", output="@@notool tcp"
        ),
        "p1": Observation(ERROR, detail="probe ended without an exit status", output="Server: x"),
    }


def test_parse_batch_classifies_with_the_batch_tool() -> None:
    text = "@@tools tcp=nc-z dns=getent\n@p0|@@rc 1\n@p1|172.22.0.2 db\n@p1|@@rc 0\n@@done\n"
    assert parse_batch(text, [P_TCP, P_DNS]) == {
        "p0": Observation(ERROR, detail="nc-z exited 1: no output", tool="nc-z"),
        "p1": Observation(OK, ("172.22.0.2",), "", "172.22.0.2 db", "getent"),
    }


# -- the rewrite's finer rules: whole lines, the last reason, exception names -----------------------


def test_lines_split_on_newline_only_and_drop_a_trailing_carriage_return() -> None:
    assert lines("a\r\n\rb\r\nc\x0bd") == ["a", "\rb", "c\x0bd"]
    assert (
        parse_tcp(
            "nc-z", 1, "nc: connect to 10.0.0.3 port 81 (tcp) failed: Connection refused\r\n"
        ).outcome
        is REFUSED
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # the python3 helper prints `Name: message`; an empty message leaves the exception name
        ("TimeoutError: ", TIMEOUT),
        ("socket.timeout: ", TIMEOUT),
        ("ConnectionRefusedError: \n", REFUSED),
        ("x.socket.timeout: ", TIMEOUT),  # the last dotted part names the exception
        ("OSError: ", ERROR),  # no reason, and no exception that names one
        # a message, even an odd one, is no empty message
        ("TimeoutError: something else", ERROR),
        ("TimeoutError: see:", ERROR),
        ("TimeoutError: :x", ERROR),
    ],
)
def test_tcp_exception_names_decide_only_without_a_message(output: str, expected: Outcome) -> None:
    assert parse_tcp("python3", 1, output).outcome is expected


def test_python_dns_codes() -> None:
    got = parse_dns("python3", 2, "gaierror -5 [Errno -5] No address associated with hostname\n")
    assert got == obs(NXDOMAIN, detail="gaierror -5 [Errno -5] No address associated with hostname")
    # success without an address is no answer
    assert parse_dns("python3", 0, "") == obs(
        ERROR, detail="python3 printed no IPv4 address: no output"
    )
    assert parse_dns("python3", 0, "\n \n") == obs(
        ERROR, detail="python3 printed no IPv4 address: no output"
    )
    assert parse_dns("python3", 0, "fd00::4\n") == obs(
        ERROR, detail="python3 printed no IPv4 address: fd00::4"
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # the resolver refused or timed out: bind's and busybox's own lines
        (
            "Server: x\n;; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 1\n",
            obs(SERVFAIL, detail="SERVFAIL: no answer"),
        ),
        (
            "Server: x\n;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1\n",
            obs(NXDOMAIN, detail="NXDOMAIN"),
        ),
        ("nslookup: write to '127.0.0.11': Connection refused\n", obs(TIMEOUT, detail=DNS_TIMEOUT)),
        (
            ";; communications error to 127.0.0.11#53: connection refused\n",
            obs(TIMEOUT, detail=DNS_TIMEOUT),
        ),
        # a trailing '.' after the status is dropped
        (
            "Server: x\n** server can't find x: SERVFAIL.\n",
            obs(SERVFAIL, detail="** server can't find x: SERVFAIL."),
        ),
        # old busybox says "can't resolve" for every failure: no proof of anything
        (
            "Server: x\nnslookup: can't resolve 'nope'\n",
            obs(ERROR, detail="nslookup exited 1: Server: x"),
        ),
    ],
)
def test_nslookup_resolver_failures(output: str, expected: Observation) -> None:
    assert parse_dns("nslookup", 1, output) == expected


def test_a_long_unreachable_line_is_cut_in_the_detail() -> None:
    line = "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable " + LONG
    assert parse_ping(1, line) == obs(UNREACHABLE, detail=line[:200])


# -- lacks_tools: when auto moves a source from exec to a sidecar -------------------------------------


@pytest.mark.parametrize(
    ("code", "text", "lacks"),
    [
        (
            3,
            "@@tools tcp=none dns=nslookup icmp=ping\n@@missing tcp\n",
            True,
        ),  # require_tools found no TCP tool
        (3, "@@missing sleep\n", True),  # no watchdog
        (
            127,
            'OCI runtime exec failed: exec: "sh": executable file not found in $PATH\n',
            True,
        ),  # no shell at all
        (126, "sh: no such file or directory\n", True),
        (0, "@@tools tcp=nc-z dns=nslookup icmp=ping\n@p0|@@rc 0\n@@done\n", False),
        (
            127,
            "@@tools tcp=nc-z dns=nslookup icmp=ping\n@p0|sh: nc: not found\n@p0|@@rc 127\n",
            False,
        ),  # a probe's tool
        (127, "@p0|ping: not found\n", False),  # a probe's line, never the runtime's
        (1, "sh: not found\n", False),  # not the runtime's exit codes
        (
            0,
            "@p0|@@missing tcp\n",
            False,
        ),  # a marker inside a probe's output is that probe's output
    ],
)
def test_lacks_tools(code: int, text: str, lacks: bool) -> None:
    from netcontract.probe.parse import lacks_tools

    assert lacks_tools(code, text) is lacks

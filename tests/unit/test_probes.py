"""Probe scripts and parsers, on recorded outputs of busybox, bind, glibc getent and nc variants."""

from __future__ import annotations

import pytest

from netcontract.errors import UnsafeProbeError
from netcontract.probe.observation import Outcome, Probe, ProbeKind
from netcontract.probe.parse import classify, parse_batch, split_batch
from netcontract.probe.script import batch_script

BUSYBOX_NSLOOKUP_OK = """Server:\t\t127.0.0.11
Address:\t127.0.0.11:53

Non-authoritative answer:
Name:\tdb.devonboarder.internal
Address: 172.22.0.2

Non-authoritative answer:
*** Can't find db.devonboarder.internal: No answer
"""
BUSYBOX_NSLOOKUP_TWO = """Server:\t\t127.0.0.11
Address:\t127.0.0.11:53

Non-authoritative answer:
Name:\tdatabase
Address: 172.22.0.2
Name:\tdatabase
Address: 172.22.0.9
"""
BUSYBOX_NSLOOKUP_NX = """Server:\t\t127.0.0.11
Address:\t127.0.0.11:53

** server can't find nope: NXDOMAIN

** server can't find nope: NXDOMAIN
"""
BUSYBOX_NSLOOKUP_TIMEOUT = ";; connection timed out; no servers could be reached\n"
BIND_NSLOOKUP_OK = """Server:\t\t127.0.0.11
Address:\t127.0.0.11#53

Non-authoritative answer:
Name:\tdb
Address: 172.22.0.2
"""
BIND_NSLOOKUP_SERVFAIL = (
    "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11#53\n\n** server can't find x: SERVFAIL\n"
)
GETENT_AHOSTS = "172.22.0.2      STREAM db\n172.22.0.2      DGRAM  \n172.22.0.2      RAW    \n"


@pytest.mark.parametrize(
    ("tool", "rc", "output", "outcome", "addresses"),
    [
        ("nslookup", 0, BUSYBOX_NSLOOKUP_OK, Outcome.OK, ("172.22.0.2",)),
        ("nslookup", 0, BUSYBOX_NSLOOKUP_TWO, Outcome.OK, ("172.22.0.2", "172.22.0.9")),
        # busybox exits 1 on NXDOMAIN, but also on some successes: the output decides
        ("nslookup", 1, BUSYBOX_NSLOOKUP_NX, Outcome.NXDOMAIN, ()),
        ("nslookup", 0, BUSYBOX_NSLOOKUP_NX, Outcome.NXDOMAIN, ()),
        ("nslookup", 1, BUSYBOX_NSLOOKUP_OK, Outcome.OK, ("172.22.0.2",)),
        ("nslookup", 1, BUSYBOX_NSLOOKUP_TIMEOUT, Outcome.TIMEOUT, ()),
        ("nslookup", 143, "", Outcome.TIMEOUT, ()),
        ("nslookup", 0, BIND_NSLOOKUP_OK, Outcome.OK, ("172.22.0.2",)),
        ("nslookup", 1, BIND_NSLOOKUP_SERVFAIL, Outcome.SERVFAIL, ()),
        ("nslookup", 127, "sh: nslookup: not found", Outcome.ERROR, ()),
        ("getent", 0, GETENT_AHOSTS, Outcome.OK, ("172.22.0.2",)),
        ("getent", 0, "172.22.0.2      db\n", Outcome.OK, ("172.22.0.2",)),
        ("getent", 2, "", Outcome.NXDOMAIN, ()),
        ("getent", 143, "", Outcome.TIMEOUT, ()),
        ("python3", 0, "172.22.0.2 172.22.0.9\n", Outcome.OK, ("172.22.0.2", "172.22.0.9")),
        ("python3", 2, "gaierror -2 [Errno -2] Name or service not known\n", Outcome.NXDOMAIN, ()),
        (
            "python3",
            2,
            "gaierror -3 [Errno -3] Temporary failure in name resolution\n",
            Outcome.TIMEOUT,
            (),
        ),
    ],
)
def test_dns_outputs(
    tool: str, rc: int, output: str, outcome: Outcome, addresses: tuple[str, ...]
) -> None:
    obs = classify(ProbeKind.DNS, tool, rc, output)
    assert obs.outcome is outcome
    assert obs.addresses == addresses


@pytest.mark.parametrize(
    ("tool", "rc", "output", "outcome"),
    [
        # busybox nc
        ("nc", 0, "", Outcome.OK),
        (
            "nc",
            1,
            "nc: can't connect to remote host (172.20.0.3): Connection refused",
            Outcome.REFUSED,
        ),
        ("nc", 1, "nc: timed out", Outcome.TIMEOUT),
        (
            "nc",
            1,
            "nc: can't connect to remote host (172.20.0.3): No route to host",
            Outcome.UNREACHABLE,
        ),
        (
            "nc",
            1,
            "nc: can't connect to remote host (10.9.0.3): Network is unreachable",
            Outcome.UNREACHABLE,
        ),
        ("nc", 143, "", Outcome.TIMEOUT),
        # openbsd nc
        (
            "nc",
            1,
            "nc: connect to 172.20.0.3 port 8001 (tcp) failed: Connection refused",
            Outcome.REFUSED,
        ),
        (
            "nc",
            1,
            "nc: connect to 172.20.0.3 port 8001 (tcp) timed out: Operation now in progress",
            Outcome.TIMEOUT,
        ),
        ("nc", 0, "Connection to 172.20.0.3 8001 port [tcp/*] succeeded!", Outcome.OK),
        # traditional nc -v
        ("nc", 0, "(UNKNOWN) [172.20.0.3] 8001 (?) open", Outcome.OK),
        # ncat
        ("nc", 1, "Ncat: Connection refused.", Outcome.REFUSED),
        ("nc", 1, "Ncat: TIMEOUT.", Outcome.TIMEOUT),
        ("nc", 1, "Ncat: No route to host.", Outcome.UNREACHABLE),
        # bash /dev/tcp
        ("bash", 0, "", Outcome.OK),
        (
            "bash",
            1,
            "bash: connect: Connection refused\nbash: line 1: /dev/tcp/172.20.0.3/81: Connection refused",
            Outcome.REFUSED,
        ),
        ("bash", 1, "bash: connect: No route to host", Outcome.UNREACHABLE),
        ("bash", 143, "", Outcome.TIMEOUT),
        # python3 helper
        ("python3", 1, "ConnectionRefusedError: [Errno 111] Connection refused", Outcome.REFUSED),
        ("python3", 1, "TimeoutError: timed out", Outcome.TIMEOUT),
        ("python3", 1, "OSError: [Errno 113] No route to host", Outcome.UNREACHABLE),
        # anything else is an error, never a pass
        ("nc", 1, "nc: bad address 'x'", Outcome.ERROR),
        ("nc", 126, "sh: nc: Permission denied", Outcome.ERROR),
    ],
)
def test_tcp_outputs(tool: str, rc: int, output: str, outcome: Outcome) -> None:
    assert classify(ProbeKind.TCP, tool, rc, output).outcome is outcome


BUSYBOX_PING_OK = """PING 172.20.0.3 (172.20.0.3): 56 data bytes
64 bytes from 172.20.0.3: seq=0 ttl=64 time=0.080 ms

--- 172.20.0.3 ping statistics ---
1 packets transmitted, 1 packets received, 0% packet loss
round-trip min/avg/max = 0.080/0.080/0.080 ms
"""
BUSYBOX_PING_LOST = """PING 172.21.0.3 (172.21.0.3): 56 data bytes

--- 172.21.0.3 ping statistics ---
1 packets transmitted, 0 packets received, 100% packet loss
"""
IPUTILS_PING_OK = "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\n"
IPUTILS_PING_UNREACH = (
    "From 172.20.0.1 icmp_seq=1 Destination Host Unreachable\n\n"
    "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n"
)


@pytest.mark.parametrize(
    ("rc", "output", "outcome"),
    [
        (0, BUSYBOX_PING_OK, Outcome.OK),
        # exit code is ignored: the received count decides
        (1, BUSYBOX_PING_OK, Outcome.OK),
        (0, BUSYBOX_PING_LOST, Outcome.TIMEOUT),
        (1, BUSYBOX_PING_LOST, Outcome.TIMEOUT),
        (0, IPUTILS_PING_OK, Outcome.OK),
        (1, IPUTILS_PING_UNREACH, Outcome.UNREACHABLE),
        (2, "ping: permission denied (are you root?)", Outcome.ERROR),
        (143, "PING 172.21.0.3 (172.21.0.3): 56 data bytes", Outcome.TIMEOUT),
        (127, "sh: ping: not found", Outcome.ERROR),
    ],
)
def test_ping_outputs(rc: int, output: str, outcome: Outcome) -> None:
    assert classify(ProbeKind.ICMP, "ping", rc, output).outcome is outcome


def test_split_and_parse_batch() -> None:
    probes = [
        Probe("p0", ProbeKind.TCP, "172.20.0.3", 8001),
        Probe("p1", ProbeKind.DNS, "db"),
        Probe("p2", ProbeKind.ICMP, "172.20.0.4"),
        Probe("p3", ProbeKind.TCP, "172.20.0.5", 80),
    ]
    text = "\n".join(
        [
            "@@tools tcp=nc dns=nslookup icmp=none",
            "@p1|Server:\t\t127.0.0.11",
            "@p0|@@rc 0",
            "@p1|Name:\tdb",
            "@p1|Address: 172.22.0.2",
            "@p2|@@notool icmp",
            "@p2|@@rc 127",
            "@p1|@@rc 0",
            "@@done",
        ]
    )
    batch = split_batch(text)
    assert batch.complete and batch.tools == {"tcp": "nc", "dns": "nslookup", "icmp": "none"}
    obs = parse_batch(text, probes)
    assert obs["p0"].outcome is Outcome.OK and obs["p0"].tool == "nc"
    assert obs["p1"].addresses == ("172.22.0.2",)
    assert obs["p2"].outcome is Outcome.ERROR and "no tool" in obs["p2"].detail
    # p3 printed nothing at all (container died): ERROR, never a pass
    assert obs["p3"].outcome is Outcome.ERROR


def test_batch_script_quotes_and_refuses_unsafe_targets() -> None:
    script = batch_script(
        [
            Probe("p0", ProbeKind.DNS, "db.devonboarder.internal"),
            Probe("p1", ProbeKind.TCP, "172.20.0.3", 5432),
        ],
        0.5,
    )
    assert "run p0 dns db.devonboarder.internal &" in script
    assert "run p1 tcp 172.20.0.3 5432 &" in script
    assert "T=0.5" in script and "W=1" in script
    for bad in ["db; reboot", "$(id)", "a b", "`x`"]:
        with pytest.raises(UnsafeProbeError):
            batch_script([Probe("p0", ProbeKind.DNS, bad)], 1)
    with pytest.raises(UnsafeProbeError):
        batch_script([Probe("p0;x", ProbeKind.DNS, "db")], 1)
    with pytest.raises(UnsafeProbeError):
        batch_script([Probe("p0", ProbeKind.TCP, "10.0.0.1", 70000)], 1)


def test_required_tools_make_the_script_bail_out_before_probing() -> None:
    script = batch_script(
        [Probe("p0", ProbeKind.TCP, "10.0.0.1", 80), Probe("p1", ProbeKind.DNS, "db")],
        1,
        require_tools=True,
    )
    assert '[ "$TCP" = none ] && { echo "@@missing tcp"; exit 3; }' in script
    assert '[ "$DNS" = none ] && { echo "@@missing dns"; exit 3; }' in script
    assert "@@missing icmp" not in script
    assert script.index("@@missing tcp") < script.index("run p0 ")


def test_no_sleep_or_no_tool_is_error_even_when_a_status_came_back() -> None:
    probes = [Probe("p0", ProbeKind.TCP, "172.20.0.3", 8001), Probe("p1", ProbeKind.DNS, "db")]
    # a watchdog without sleep fires at once: its 143s must not read as timeouts
    text = "@@tools tcp=nc-e dns=none icmp=none\n@@missing sleep\n@p0|@@rc 143\n@p1|@@rc 143\n"
    obs = parse_batch(text, probes)
    assert all(o.outcome is Outcome.ERROR for o in obs.values())
    assert "no sleep" in obs["p0"].detail
    text = "@@tools tcp=nc-e dns=none icmp=none\n@p0|@@rc 0\n@p1|@@rc 143\n@@done\n"
    obs = parse_batch(text, probes)
    assert obs["p0"].outcome is Outcome.OK
    assert obs["p1"].outcome is Outcome.ERROR and "no tool for a dns probe" in obs["p1"].detail


def test_every_script_guards_the_watchdog() -> None:
    script = batch_script([Probe("p0", ProbeKind.DNS, "db")], 1)
    assert 'have sleep || { echo "@@missing sleep"; exit 3; }' in script

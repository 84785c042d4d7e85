"""musl's tool wording (Alpine), read by the parsers: recorded outputs, and the batch script run by a real
musl-linked busybox.

The recorded outputs below were printed by the busybox of netcontract-test/alpine:local (upstream
busybox 1.35.0 built against musl by scripts/build-musl-busybox.sh) in a network namespace of its own
holding only loopback (routes of kind `unreachable` and to `lo` made the errors; no packet left it). musl's
strerror differs from glibc's: "Host is unreachable" (glibc: "No route to host"), "Network unreachable"
(glibc: "Network is unreachable"), "Operation timed out" (glibc: "Connection timed out"). Full busybox nc
(Alpine's; Debian's is the small one) prints why a connect failed only with `-v -v`, which the batch script
passes it.

The last two tests run the batch script with that busybox when it is built (`make images`): on loopback,
and in a fresh network namespace (root, `unshare`, `ip`) whose only routes lead nowhere: 192.0.2.0/24 is
`unreachable`, 203.0.113.0/24 has no route, and 198.51.100.0/24 goes to `lo`, which drops it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.probe.parse import parse_batch, parse_dns, parse_ping, parse_tcp, split_batch
from netcontract.probe.script import batch_script

OK, REFUSED, TIMEOUT, UNREACHABLE, ERROR = (
    Outcome.OK,
    Outcome.REFUSED,
    Outcome.TIMEOUT,
    Outcome.UNREACHABLE,
    Outcome.ERROR,
)
MUSL_BUSYBOX = Path(__file__).resolve().parents[2] / "images" / "alpine" / "busybox"

# `nc -z -v -v -w 1 HOST PORT` of musl busybox 1.35.0: (exit code, output) as recorded. The batch script
# runs `nc -v -v -w W HOST PORT -e true` (its help has "-e PROG"), which prints the same error lines.
NC = {
    "refused": (1, "nc: 127.0.0.1 (127.0.0.1:1): Connection refused\nsent 0, rcvd 0\n"),
    "open": (0, "127.0.0.1 (127.0.0.1:7777) open\nsent 0, rcvd 0\n"),
    "host unreachable": (1, "nc: 192.0.2.9 (192.0.2.9:80): Host is unreachable\nsent 0, rcvd 0\n"),
    "network unreachable": (
        1,
        "nc: 203.0.113.5 (203.0.113.5:80): Network unreachable\nsent 0, rcvd 0\n",
    ),
    "timed out": (1, "nc: 198.51.100.9 (198.51.100.9:80): Operation timed out\nsent 0, rcvd 0\n"),
    "prohibited": (1, "nc: 192.0.2.200 (192.0.2.200:80): Permission denied\nsent 0, rcvd 0\n"),
}


@pytest.mark.parametrize(
    ("case", "outcome", "detail"),
    [
        ("refused", REFUSED, "nc: 127.0.0.1 (127.0.0.1:1): Connection refused"),
        ("open", OK, "connected"),
        ("host unreachable", UNREACHABLE, "nc: 192.0.2.9 (192.0.2.9:80): Host is unreachable"),
        (
            "network unreachable",
            UNREACHABLE,
            "nc: 203.0.113.5 (203.0.113.5:80): Network unreachable",
        ),
        ("timed out", TIMEOUT, "nc: 198.51.100.9 (198.51.100.9:80): Operation timed out"),
        # a route of kind `prohibit` (EACCES): nothing says whether the port is reachable
        ("prohibited", ERROR, "nc-z exited 1: nc: 192.0.2.200 (192.0.2.200:80): Permission denied"),
    ],
)
def test_musl_busybox_nc(case: str, outcome: Outcome, detail: str) -> None:
    rc, output = NC[case]
    assert parse_tcp("nc-z", rc, output) == Observation(outcome, detail=detail)


@pytest.mark.parametrize(
    ("output", "outcome", "detail"),
    [
        (
            "PING 203.0.113.5 (203.0.113.5): 56 data bytes\nping: sendto: Network unreachable\n",
            UNREACHABLE,
            "ping: sendto: Network unreachable",
        ),
        (
            "PING 192.0.2.9 (192.0.2.9): 56 data bytes\nping: sendto: Host is unreachable\n",
            UNREACHABLE,
            "ping: sendto: Host is unreachable",
        ),
        (
            "PING 198.51.100.9 (198.51.100.9): 56 data bytes\n\n--- 198.51.100.9 ping statistics ---\n"
            "1 packets transmitted, 0 packets received, 100% packet loss\n",
            TIMEOUT,
            "no echo reply within the probe timeout",
        ),
    ],
)
def test_musl_busybox_ping(output: str, outcome: Outcome, detail: str) -> None:
    assert parse_ping(1, output) == Observation(outcome, detail=detail)


@pytest.mark.parametrize(
    ("output", "outcome"),
    [
        # no server listens on the resolver's port; busybox nslookup tries twice, then gives up
        (
            "nslookup: read: Connection refused\nnslookup: read: Connection refused\n"
            ";; connection timed out; no servers could be reached\n\n",
            TIMEOUT,
        ),
        ("nslookup: can't connect to remote host (203.0.113.5): Network unreachable\n", ERROR),
        (";; connection timed out; no servers could be reached\n\n", TIMEOUT),
    ],
)
def test_musl_busybox_nslookup_without_a_server(output: str, outcome: Outcome) -> None:
    assert parse_dns("nslookup", 1, output).outcome is outcome


@pytest.mark.parametrize(
    ("line", "outcome"),
    [
        # other musl programs and other nc variants print the same texts after their own prefix
        ("nc: connect to 10.0.0.3 port 81 (tcp) failed: Host is unreachable", UNREACHABLE),
        ("nc: connect to 10.0.0.3 port 81 (tcp) failed: Network unreachable", UNREACHABLE),
        ("nc: connect to 10.0.0.3 port 81 (tcp) failed: Operation timed out", TIMEOUT),
        ("Ncat: Host is unreachable.", UNREACHABLE),
        ("Ncat: Network unreachable.", UNREACHABLE),
        ("Ncat: Operation timed out.", TIMEOUT),
        ("Ncat: Connection refused.", REFUSED),
        ("Ncat: Connected to 10.0.0.3:5432.", OK),
        ("Ncat: Connected to [fd00::3]:5432.", OK),
        ("OSError: [Errno 113] Host is unreachable", UNREACHABLE),
        ("TimeoutError: [Errno 110] Operation timed out", TIMEOUT),
    ],
)
def test_musl_wording_of_other_tools(line: str, outcome: Outcome) -> None:
    assert parse_tcp("nc-z", 1 if outcome is not OK else 0, line + "\n").outcome is outcome


def test_ncat_connected_decides_whatever_the_exit_code() -> None:
    """ncat -z -v says "Connected" on a reached port: OK even if it exits non-zero afterwards."""
    out = (
        "Ncat: Version 7.93 ( https://nmap.org/ncat )\nNcat: Connected to 10.0.0.3:80.\n"
        "Ncat: 0 bytes sent, 0 bytes received in 0.01 seconds.\n"
    )
    assert parse_tcp("nc-z", 1, out) == Observation(
        OK, detail="Ncat: Version 7.93 ( https://nmap.org/ncat )"
    )


# -- the batch script run by musl busybox -------------------------------------------------------------

needs_musl = pytest.mark.skipif(
    not MUSL_BUSYBOX.exists(), reason="images/alpine/busybox not built (make images)"
)


@pytest.fixture(scope="module")
def applets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of musl busybox's applets, as /bin of the alpine image: first on the script's PATH."""
    where = tmp_path_factory.mktemp("musl-bin")
    subprocess.run([str(MUSL_BUSYBOX), "--install", "-s", str(where)], check=True, timeout=30)
    return where


def run_script(applets: Path, script: str, *, namespace: bool = False) -> str:
    argv = [str(MUSL_BUSYBOX), "sh", "-c", script]
    if namespace:
        setup = (
            "ip link set lo up && ip route add unreachable 192.0.2.0/24 && "
            'ip route add 198.51.100.0/24 dev lo && exec "$@"'
        )
        argv = ["unshare", "--net", "sh", "-c", setup, "sh", *argv]
    path = f"{applets}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={"PATH": path})
    assert "@@done" in out.stdout, out.stdout + out.stderr
    return out.stdout


@pytest.fixture
def ports() -> Iterator[tuple[int, int]]:
    """A listening and a closed port on 127.0.0.1."""
    listening, closed = socket.socket(), socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(8)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    yield listening.getsockname()[1], port
    listening.close()


@needs_musl
def test_the_batch_script_with_musl_busybox_on_loopback(
    applets: Path, ports: tuple[int, int]
) -> None:
    probes = [
        Probe("p0", ProbeKind.TCP, "127.0.0.1", ports[0]),
        Probe("p1", ProbeKind.TCP, "127.0.0.1", ports[1]),
    ]
    out = run_script(applets, batch_script(probes, 2.0))
    assert split_batch(out).tools == {"tcp": "nc-e", "dns": "nslookup", "icmp": "ping"}, out
    obs = parse_batch(out, probes)
    assert obs["p0"].outcome is OK, out
    assert (obs["p1"].outcome, obs["p1"].detail) == (
        REFUSED,
        f"nc: 127.0.0.1 (127.0.0.1:{ports[1]}): Connection refused",
    ), out


@needs_musl
@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
    reason="a network namespace of its own needs root, unshare and ip",
)
def test_the_batch_script_with_musl_busybox_where_no_route_leads_anywhere(applets: Path) -> None:
    probes = [
        Probe("p0", ProbeKind.TCP, "192.0.2.9", 80),
        Probe("p1", ProbeKind.TCP, "203.0.113.5", 80),
        Probe("p2", ProbeKind.TCP, "198.51.100.9", 80),
        Probe("p3", ProbeKind.ICMP, "192.0.2.9"),
        Probe("p4", ProbeKind.ICMP, "203.0.113.5"),
        Probe("p5", ProbeKind.ICMP, "198.51.100.9"),
    ]
    out = run_script(applets, batch_script(probes, 1.0), namespace=True)
    obs = parse_batch(out, probes)
    got = {key: (o.outcome, o.detail) for key, o in obs.items()}
    # nc's own alarm (-w 1, musl's "Operation timed out") and the batch watchdog (1 s, exit 143) race
    if got["p2"] == (TIMEOUT, "no answer within the probe timeout"):
        got["p2"] = (TIMEOUT, "nc: 198.51.100.9 (198.51.100.9:80): Operation timed out")
    assert got == {
        "p0": (UNREACHABLE, "nc: 192.0.2.9 (192.0.2.9:80): Host is unreachable"),
        "p1": (UNREACHABLE, "nc: 203.0.113.5 (203.0.113.5:80): Network unreachable"),
        "p2": (TIMEOUT, "nc: 198.51.100.9 (198.51.100.9:80): Operation timed out"),
        "p3": (UNREACHABLE, "ping: sendto: Host is unreachable"),
        "p4": (UNREACHABLE, "ping: sendto: Network unreachable"),
        "p5": (TIMEOUT, "no echo reply within the probe timeout"),
    }, out

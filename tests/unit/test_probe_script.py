"""The batch script itself, run by the host's static busybox against loopback only (no daemon).

Only TCP and ICMP to 127.0.0.1: a DNS probe would ask the host's resolver, which
tests must never do.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from netcontract.probe.observation import Outcome, Probe, ProbeKind
from netcontract.probe.parse import parse_batch, split_batch
from netcontract.probe.script import batch_script

BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(
    BUSYBOX is None, reason="needs a busybox binary (Debian: busybox-static)"
)


def run(script: str) -> tuple[float, str]:
    t0 = time.monotonic()
    out = subprocess.run(
        [BUSYBOX or "busybox", "sh", "-c", script], capture_output=True, text=True, timeout=30
    )
    return time.monotonic() - t0, out.stdout + out.stderr


@pytest.fixture
def listening() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # bound then closed: nothing listens there
    return int(port)


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: further SYNs are dropped, so a connect times out."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.1)
    yield port
    for c in fillers:
        c.close()
    s.close()


def test_open_refused_and_dropped_ports(
    listening: int, closed_port: int, full_backlog: int
) -> None:
    probes = [
        Probe("p0", ProbeKind.TCP, "127.0.0.1", listening),
        Probe("p1", ProbeKind.TCP, "127.0.0.1", closed_port),
        Probe("p2", ProbeKind.TCP, "127.0.0.1", full_backlog),
    ]
    elapsed, out = run(batch_script(probes, 0.5))
    obs = parse_batch(out, probes)
    assert split_batch(out).complete
    assert obs["p0"].outcome is Outcome.OK, out
    assert obs["p1"].outcome is Outcome.REFUSED, out
    assert obs["p2"].outcome is Outcome.TIMEOUT, out
    # the fractional watchdog, not nc's whole-second -w, bounds the batch
    assert elapsed < 3


def test_ping_loopback() -> None:
    probes = [Probe("p0", ProbeKind.ICMP, "127.0.0.1")]
    _, out = run(batch_script(probes, 1))
    obs = parse_batch(out, probes)
    if obs["p0"].outcome is Outcome.ERROR and "permitted" in obs["p0"].detail:
        pytest.skip("ping needs CAP_NET_RAW here")
    assert obs["p0"].outcome is Outcome.OK, out


def test_many_probes_each_report_exactly_once(listening: int, full_backlog: int) -> None:
    probes = [
        Probe(f"p{i}", ProbeKind.TCP, "127.0.0.1", listening if i % 2 else full_backlog)
        for i in range(60)
    ]
    _, out = run(batch_script(probes, 0.3))
    obs = parse_batch(out, probes)
    assert [obs[p.key].outcome for p in probes] == [
        Outcome.OK if i % 2 else Outcome.TIMEOUT for i in range(60)
    ], out

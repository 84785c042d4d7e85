"""The netns executor on a live engine: probes from containers' own network namespaces, without their tools.

The module creates its own objects with the docker SDK and removes them at the
end, also after a failure: networks A and B (subnets chosen by the engine),
`src`, `peer` (a TCP listener), `liar` (whose /bin/nc lies) and `dnssrc` on A,
`far` (a listener) on B. Everything carries org.netcontract.test=1 and a label
with this module's run id, by which it is removed.

Traffic: only to these containers, and to loopback inside `dnssrc`'s namespace
(a fake upstream DNS server the test opens there). Every container gets
--dns 127.0.0.1, so Docker's embedded DNS never forwards a query off the host.

Docker 20.10 facts these tests pin (observed, then asserted): AAAA for a
container name on an IPv4-only network is NOERROR without records (NODATA); a
name the embedded DNS does not know is forwarded to the container's upstream,
and when that upstream does not answer, the embedded DNS sends nothing back at
all (TIMEOUT, not NXDOMAIN nor SERVFAIL); an upstream's NXDOMAIN is relayed.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from netcontract.live.netns import enter as netns
from netcontract.live.netns.enter import NetnsSource, run_netns
from netcontract.probe.dns_wire import read_name
from netcontract.probe.observation import Outcome, Probe, ProbeKind

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        os.geteuid() != 0, reason="the netns executor enters network namespaces: needs root"
    ),
]

IMAGE = "netcontract-test/busybox:local"
TEST_LABEL = "org.netcontract.test"
RUN_LABEL = "org.netcontract.netns-test"
PORT = 8080
BLOCKED = {Outcome.TIMEOUT, Outcome.UNREACHABLE}
LIAR = (
    "rm -f /bin/nc && printf '#!/bin/sh\\necho \"nc: timed out\" >&2\\nexit 1\\n' > /bin/nc"
    " && chmod 755 /bin/nc && exec sleep 900"
)


@dataclass(frozen=True)
class World:
    client: Any
    labels: dict[str, str]
    network_a: str
    pids: dict[str, int]  # container role -> State.Pid
    ips: dict[str, str]  # container role -> its address (peer on A, far on B)
    names: dict[str, str]  # container role -> container name
    liar: Any


def tcp(key: str, target: str, port: int = PORT) -> Probe:
    return Probe(key, ProbeKind.TCP, target, port)


def dns(key: str, name: str, qtype: str = "A") -> Probe:
    return Probe(key, ProbeKind.DNS, name, qtype=qtype)


def wait_until(what: str, check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.1)


def remove_run(client: Any, run_id: str) -> None:
    """Remove the containers, then the networks, labelled with this run id (and only those)."""
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    for container in client.containers.list(all=True, filters=selector):
        container.remove(force=True, v=True)
    for network in client.networks.list(filters=selector):
        network.remove()


@pytest.fixture(scope="module")
def world(built_images: None) -> Iterator[World]:
    client = docker.from_env()
    run_id = uuid.uuid4().hex[:8]
    labels = {TEST_LABEL: "1", RUN_LABEL: run_id}
    try:
        net_a = client.networks.create(f"ncnetns-a-{run_id}", driver="bridge", labels=labels)
        net_b = client.networks.create(f"ncnetns-b-{run_id}", driver="bridge", labels=labels)
        made: dict[str, Any] = {}
        for role, network, command in (
            ("src", net_a, ["sleep", "900"]),
            ("peer", net_a, ["listen", str(PORT)]),
            ("far", net_b, ["listen", str(PORT)]),
            ("liar", net_a, ["sh", "-c", LIAR]),
            ("dnssrc", net_a, ["sleep", "900"]),
        ):
            made[role] = client.containers.run(
                IMAGE,
                command,
                name=f"ncnetns-{role}-{run_id}",
                labels=labels,
                network=network.name,
                dns=["127.0.0.1"],
                detach=True,
            )
        for role in ("peer", "far"):
            wait_until(
                f"{role} listening",
                lambda c=made[role]: c.exec_run(["listen", "--check", str(PORT)])[0] == 0,
            )
        wait_until(
            "liar's nc replaced", lambda: b"timed out" in made["liar"].exec_run(["nc", "-h"])[1]
        )
        for container in made.values():
            container.reload()
        nets = {role: c.attrs["NetworkSettings"]["Networks"] for role, c in made.items()}
        yield World(
            client=client,
            labels=labels,
            network_a=net_a.name,
            pids={role: c.attrs["State"]["Pid"] for role, c in made.items()},
            ips={
                "peer": nets["peer"][net_a.name]["IPAddress"],
                "far": nets["far"][net_b.name]["IPAddress"],
            },
            names={role: c.name for role, c in made.items()},
            liar=made["liar"],
        )
    finally:
        remove_run(client, run_id)


def outcomes(run: netns.NetnsRun, source: str) -> dict[str, Outcome]:
    return {key: obs.outcome for (src, key), obs in run.observations.items() if src == source}


def test_tcp_and_icmp_from_a_namespace(world: World) -> None:
    peer, far = world.ips["peer"], world.ips["far"]
    probes = (
        tcp("open", peer),
        tcp("closed", peer, PORT + 1),
        tcp("far", far),
        Probe("ping", ProbeKind.ICMP, peer),
        Probe("ping_far", ProbeKind.ICMP, far),
    )
    started = time.monotonic()
    run = run_netns([NetnsSource("src", world.pids["src"], probes)], 0.3)
    elapsed = time.monotonic() - started
    seen = outcomes(run, "src")
    assert seen["open"] is Outcome.OK, run.observations
    assert seen["closed"] is Outcome.REFUSED, run.observations
    assert seen["far"] in BLOCKED and seen["ping_far"] in BLOCKED, run.observations
    assert seen["ping"] is Outcome.OK, run.observations
    assert elapsed < 2.0, f"a 0.3 s run took {elapsed:.2f} s"
    assert {obs.tool for obs in run.observations.values()} == {"netns"}
    assert run.observations[("src", "closed")].output.startswith(
        f"connect {peer}:{PORT + 1}: refused ("
    )
    assert {("src", "open"), ("src", "closed"), ("src", "ping")} <= set(run.latency_ms)
    assert ("src", "far") not in run.latency_ms or seen["far"] is Outcome.UNREACHABLE
    assert run.slowest_tcp_ok_ms.get("src") == run.latency_ms[("src", "open")]


def test_dns_through_dockers_embedded_server(world: World) -> None:
    peer, far = world.names["peer"], world.names["far"]
    probes = (
        dns("a", peer),
        dns("aaaa", peer, "AAAA"),
        dns("fq", f"{peer}.{world.network_a}"),
        dns("far", far),
        dns("far6", far, "AAAA"),
    )
    run = run_netns([NetnsSource("src", world.pids["src"], probes)], 0.5)
    obs = {key: o for (_src, key), o in run.observations.items()}
    assert (obs["a"].outcome, obs["a"].addresses) == (Outcome.OK, (world.ips["peer"],)), obs["a"]
    assert obs["fq"].addresses == (world.ips["peer"],), obs["fq"]
    assert obs["aaaa"].outcome is Outcome.NODATA, obs[
        "aaaa"
    ]  # IPv4-only network: NOERROR, no record
    # `far` is not on src's networks: the query goes upstream (127.0.0.1 in src's namespace, where
    # nothing listens). Docker 20.10's embedded DNS then answers nothing at all; 26.1 answers SERVFAIL
    # at once. Never an address, and never NXDOMAIN (nothing said the name does not exist).
    assert obs["far"].outcome in (Outcome.TIMEOUT, Outcome.SERVFAIL), obs["far"]
    assert obs["far6"].outcome in (Outcome.TIMEOUT, Outcome.SERVFAIL), obs["far6"]


def test_upstream_nxdomain_is_relayed(world: World) -> None:
    """A fake upstream on 127.0.0.1:53 inside dnssrc's namespace answers NXDOMAIN to everything."""
    pid = world.pids["dnssrc"]
    ns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    opener = netns._Opener()
    try:
        made = opener.open(ns_fd, [(socket.AF_INET, socket.SOCK_DGRAM, 0)])[0]
    finally:
        opener.close()
        os.close(ns_fd)
    assert isinstance(made, socket.socket), made
    upstream = made
    upstream.bind(("127.0.0.1", 53))
    upstream.settimeout(0.05)
    asked: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                query, peer = upstream.recvfrom(512)
            except TimeoutError:
                continue
            asked.append(query)
            upstream.sendto(
                struct.pack("!HHHHHH", int.from_bytes(query[:2], "big"), 0x8183, 1, 0, 0, 0)
                + query[12:],
                peer,
            )

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        probes = (
            dns("far", world.names["far"]),
            dns("none6", "no-such-name-netns", "AAAA"),
            dns("peer", world.names["peer"]),
        )
        run = run_netns([NetnsSource("dnssrc", pid, probes)], 2.0)
    finally:
        stop.set()
        thread.join()
        upstream.close()
    seen = outcomes(run, "dnssrc")
    assert seen == {"far": Outcome.NXDOMAIN, "none6": Outcome.NXDOMAIN, "peer": Outcome.OK}, (
        run.observations
    )
    # container names are answered by Docker itself, only the others are forwarded
    assert {read_name(query, 12)[0] for query in asked} == {
        world.names["far"],
        "no-such-name-netns",
    }


def test_a_dead_pid_is_an_error_for_its_probes_only(world: World) -> None:
    gone = world.client.containers.run(
        IMAGE,
        ["sleep", "900"],
        name=f"ncnetns-gone-{world.labels[RUN_LABEL]}",
        labels=world.labels,
        dns=["127.0.0.1"],
        detach=True,
    )
    gone.reload()
    dead = gone.attrs["State"]["Pid"]
    gone.remove(force=True, v=True)
    wait_until(f"pid {dead} gone", lambda: not os.path.exists(f"/proc/{dead}"))
    assert "no process" in (netns.check_access(dead) or "")
    assert netns.check_access(world.pids["src"]) is None
    probes = (
        tcp("tcp", world.ips["peer"]),
        Probe("ping", ProbeKind.ICMP, world.ips["peer"]),
        dns("dns", world.names["peer"]),
    )
    run = run_netns(
        [NetnsSource("dead", dead, probes), NetnsSource("src", world.pids["src"], probes)], 0.3
    )
    for key in ("tcp", "ping", "dns"):
        assert run.observations[("dead", key)].outcome is Outcome.ERROR
        assert f"pid {dead}: no such process" in run.observations[("dead", key)].detail
    assert set(outcomes(run, "src").values()) == {Outcome.OK}, run.observations


def test_a_lying_nc_cannot_change_the_verdict(world: World) -> None:
    code, output = world.liar.exec_run(["nc", "-w", "1", world.ips["peer"], str(PORT)])
    assert code != 0 and b"timed out" in output  # the container's own tool lies ...
    world.liar.reload()
    execs_before = set(world.liar.attrs.get("ExecIDs") or [])
    run = run_netns(
        [NetnsSource("liar", world.pids["liar"], (tcp("peer", world.ips["peer"]),))], 0.3
    )
    assert run.observations[("liar", "peer")].outcome is Outcome.OK  # ... the kernel does not
    world.liar.reload()
    assert set(world.liar.attrs.get("ExecIDs") or []) <= set(
        execs_before
    )  # nothing new ran in the container


def test_a_thousand_connects_from_one_namespace(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    probes = tuple(tcp(f"p{i}", world.ips["peer"]) for i in range(1000))
    started = time.monotonic()
    run = run_netns([NetnsSource("src", world.pids["src"], probes)], 0.3)
    elapsed = time.monotonic() - started
    assert Counter(obs.outcome for obs in run.observations.values()) == {Outcome.OK: 1000}
    assert elapsed < 10
    with capsys.disabled():
        print(
            f"\n1000 TCP connects from one namespace: {elapsed * 1000:.0f} ms wall, "
            f"slowest connect {run.slowest_tcp_ok_ms['src']:.1f} ms"
        )


def test_several_namespaces_on_one_selector(world: World) -> None:
    peer = world.ips["peer"]
    sources = [
        NetnsSource(
            role,
            world.pids[role],
            (*(tcp(f"p{i}", peer) for i in range(100)), dns("name", world.names["peer"])),
        )
        for role in ("src", "liar", "dnssrc")
    ]
    run = run_netns(sources, 0.5)
    assert len(run.observations) == 303
    assert {obs.outcome for obs in run.observations.values()} == {Outcome.OK}
    assert {run.observations[(role, "name")].addresses for role in ("src", "liar", "dnssrc")} == {
        (peer,)
    }

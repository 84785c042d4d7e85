"""The test stack on Podman, brought up with the project's compose binary: both truths about its networks.

- Networks made through Podman's own API without netavark's `isolate` option ("plain", as `podman network
  create` makes them): Podman forwards between them, so the contract's isolation FAILs, and the report
  names the option.
- The same stack on the networks compose creates through the Docker-compatible API (Podman 4 sets
  isolate=true on each): the contract holds.

Both also show what differs from Docker and is handled: the engine is named Podman; DNS is asked of
aardvark-dns on the gateway the container's resolv.conf names; healthchecks never run without systemd, so
health is not judged (one note) and `--wait` does not wait for it forever.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FILES = [
    "-f",
    str(REPO / "docker-compose.test.yaml"),
    "-f",
    str(REPO / "tests" / "podman" / "compose.podman.yaml"),
]
CONTRACT = REPO / "contracts" / "devonboarder.yaml"
PROJECT = "devonboarder"
TIERS = {"auth_tier": False, "api_tier": False, "data_tier": True}  # tier -> internal
TEST_LABEL = "org.netcontract.test=1"


def run(argv: list[str], host: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DOCKER_HOST": host},
    )


def ok(argv: list[str], host: str) -> str:
    proc = run(argv, host)
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}"
    return proc.stdout


def down(host: str) -> None:
    run(
        [
            str(BIN / "docker-compose"),
            *FILES,
            "-p",
            PROJECT,
            "down",
            "--volumes",
            "--remove-orphans",
            "--timeout",
            "2",
        ],
        host,
    )
    for kind in ("ps -aq", "network ls -q"):
        found = run(
            ["docker", *kind.split(), "--filter", f"label={TEST_LABEL}"], host
        ).stdout.split()
        if found:
            run(
                ["docker", *(["rm", "-f"] if kind.startswith("ps") else ["network", "rm"]), *found],
                host,
            )


@pytest.fixture
def stack(podman_host: str) -> Iterator[str]:
    down(podman_host)
    yield podman_host
    down(podman_host)


def up(host: str) -> None:
    # Not `up --wait`: Podman without systemd never runs the healthchecks, so health stays "starting".
    ok([str(BIN / "docker-compose"), *FILES, "-p", PROJECT, "up", "-d"], host)


def check(host: str) -> tuple[int, dict[str, Any]]:
    proc = run(
        [
            str(BIN / "netcontract"),
            "check",
            "-c",
            str(CONTRACT),
            "--wait",
            "30",
            "--format",
            "json",
        ],
        host,
    )
    assert proc.stdout.strip(), f"no report (exit {proc.returncode}): {proc.stderr.strip()}"
    return proc.returncode, json.loads(proc.stdout)


def plain_networks(host: str) -> None:
    """The tiers' networks through Podman's own API, without `isolate`, labelled so compose adopts them. Own
    bridge names: netavark 1.4 leaves an isolated network's DROP rules behind when it is removed, and a
    new network that gets the same podmanN bridge name would inherit them (docs/engines.md)."""
    for tier, internal in TIERS.items():
        body = {
            "name": f"{PROJECT}_{tier}",
            "driver": "bridge",
            "internal": internal,
            "dns_enabled": True,
            "network_interface": f"ncplain{tier.split('_')[0]}",  # Podman 4.3's CLI has no flag for it
            "labels": {
                "org.netcontract.test": "1",
                "com.docker.compose.project": PROJECT,
                "com.docker.compose.network": tier,
            },
        }
        status, answer = libpod_post(host, "/v4.0.0/libpod/networks/create", body)
        assert status == 200 and "isolate" not in (answer.get("options") or {}), (status, answer)


def libpod_post(host: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST to Podman's own API on its unix socket."""
    conn = http.client.HTTPConnection("localhost", timeout=30)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(host.removeprefix("unix://"))
    conn.sock = sock
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def by_verdict(report: dict[str, Any], verdict: str) -> list[dict[str, Any]]:
    return [r for r in report["results"] if r["verdict"] == verdict]


def common_truths(report: dict[str, Any]) -> None:
    assert report["engine"].startswith("Podman "), report["engine"]
    assert not by_verdict(report, "ERROR"), by_verdict(report, "ERROR")
    results = report["results"]
    dns = [r for r in results if r["kind"] == "dns"]
    reach = [r for r in results if r["kind"] == "reach"]
    running = [r for r in results if r["kind"] == "running"]
    assert dns and all(r["verdict"] == "PASS" for r in dns), [
        r for r in dns if r["verdict"] != "PASS"
    ]
    assert reach and all(r["verdict"] == "PASS" for r in reach), [
        r for r in reach if r["verdict"] != "PASS"
    ]
    assert len(running) == 7 and all(r["verdict"] == "PASS" for r in running), running
    assert all("never ran its healthcheck" in r["actual"] for r in running), running
    health = [n for n in report["notes"] if n.startswith("health not judged")]
    assert len(health) == 1 and "systemd" in health[0], report["notes"]
    assert not any("Docker" in n and "predates" in n for n in report["notes"]), report["notes"]


def test_plain_podman_networks_fail_isolation_and_the_report_names_the_isolate_option(
    stack: str,
) -> None:
    plain_networks(stack)
    up(stack)
    code, report = check(stack)
    common_truths(report)
    fails = by_verdict(report, "FAIL")
    assert code == 1 and fails, report["summary"]
    assert all(r["kind"] == "isolation" and r["actual"].startswith("ok") for r in fails), fails
    note = [n for n in report["notes"] if n.startswith("Podman:") and "`isolate`" in n]
    assert len(note) == 1 and f"{len(fails)} forbidden path(s) connect" in note[0], report["notes"]


def test_the_same_stack_on_isolated_networks_holds(stack: str) -> None:
    up(stack)
    for tier in TIERS:
        raw = json.loads(
            ok(
                ["podman", "--remote", "--url", stack, "network", "inspect", f"{PROJECT}_{tier}"],
                stack,
            )
        )[0]
        assert raw["options"].get("isolate") == "true", (
            raw
        )  # set by Podman's compatible API, not by compose
    code, report = check(stack)
    common_truths(report)
    assert code == 0 and not by_verdict(report, "FAIL"), by_verdict(report, "FAIL")
    isolation = [r for r in report["results"] if r["kind"] == "isolation"]
    assert isolation and all(r["verdict"] == "PASS" for r in isolation)
    assert not any("`isolate`" in n for n in report["notes"]), report["notes"]


def test_netns_enters_a_container_in_a_user_namespace_of_its_own(stack: str) -> None:
    """What rootless Podman's containers have (a user namespace owned by someone else), tested as root on
    rootful Podman with a uid map: the cgroup check and setns pass, and TCP and DNS (aardvark-dns at the
    gateway the container's resolv.conf names) answer from inside."""
    from netcontract.live.netns.enter import NetnsSource, run_netns
    from netcontract.live.netns.host import HostNamespaces
    from netcontract.probe.observation import Outcome, Probe, ProbeKind
    from netcontract.state import Container

    net = "ncpodman_userns"
    ok(["docker", "network", "create", "--label", TEST_LABEL, net], stack)
    ok(
        [
            "podman",
            "--remote",
            "--url",
            stack,
            "run",
            "-d",
            "--label",
            TEST_LABEL,
            "--name",
            "ncpodman-userns",
            "--uidmap",
            "0:100000:65536",
            "--gidmap",
            "0:100000:65536",
            "--network",
            net,
            "netcontract-test/busybox:local",
            "httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/www",
        ],
        stack,
    )
    raw = json.loads(ok(["docker", "inspect", "ncpodman-userns"], stack))[0]
    pid, address = raw["State"]["Pid"], raw["NetworkSettings"]["Networks"][net]["IPAddress"]
    gateway = raw["NetworkSettings"]["Networks"][net]["Gateway"]
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    container = Container(raw["Id"], "ncpodman-userns", None, None, "running", pid=pid)
    assert HostNamespaces().problem(container) is None
    probes = (
        Probe("tcp", ProbeKind.TCP, address, 8080),
        Probe("dns", ProbeKind.DNS, "ncpodman-userns"),
    )
    run = run_netns([NetnsSource("s", pid, probes, resolvers=(gateway,))], 2.0)
    tcp, dns = run.observations[("s", "tcp")], run.observations[("s", "dns")]
    assert tcp.outcome is Outcome.OK, tcp
    assert dns.outcome is Outcome.OK and dns.addresses == (address,), dns


def test_the_sidecar_executor_reads_podman_dns_as_the_netns_one_does(stack: str) -> None:
    """exec and sidecar ask the container's own resolver (busybox nslookup), in the absolute form on Podman:
    its `search dns.podman` would otherwise answer NAME.dns.podman for the nameserver's network only."""
    up(stack)
    proc = run(
        [
            str(BIN / "netcontract"),
            "check",
            "-c",
            str(CONTRACT),
            "--wait",
            "30",
            "--format",
            "json",
            "--executor",
            "sidecar",
            "--probe-image",
            "netcontract-test/probe:local",
        ],
        stack,
    )
    report = json.loads(proc.stdout)
    common_truths(report)
    assert proc.returncode == 0 and not by_verdict(report, "FAIL"), by_verdict(report, "FAIL")
    dns = [r for r in report["results"] if r["kind"] == "dns"]
    assert dns and {r["executor"] for r in dns} == {"sidecar"}

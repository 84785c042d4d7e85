"""Every path a packet can take: IPv6 beside IPv4, every replica, the host from an internal tier.

Each test builds what it probes (labelled networks and containers of its own, or
a hand-made replica in the test stack) and removes it. Traffic: only to those
containers, the stack's, and a listener this module starts on the engine's own
host address of the test stack's internal network.

IPv6 filtering between networks depends on the engine's `ip6tables` setting,
which the API does not show: the CI sets NETCONTRACT_EXPECT_IP6TABLES=1 for the
run on an engine it started with ip6tables on; without it the engine is taken to
run with its default before Docker 27 (off), where IPv6 leaks between networks.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.docker

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
DATA = "devonboarder_data_tier"
API = "devonboarder_api_tier"
NETNS = ("--executor", "netns")
EXPECT_IP6_FILTER = os.environ.get("NETCONTRACT_EXPECT_IP6TABLES") == "1"

if os.geteuid() != 0:  # pragma: no cover - CI runs as root
    pytest.skip("these tests use the netns executor, which needs root", allow_module_level=True)


# -- dual stack ------------------------------------------------------------------------------------


def docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr.strip()}"
    return proc.stdout


def _ula() -> str:
    """A random /64 of the unique-local range (fd00::/8): our own network, nothing outside."""
    return "fd{:02x}:{:04x}:{:04x}:{:04x}::/64".format(
        random.randrange(256), *(random.randrange(65536) for _ in range(3))
    )


@pytest.fixture
def dual_stack(objects: Any, tmp_path: Path) -> dict[str, Any]:
    """Two IPv6-enabled networks of our own: `web` listens on tier_b, `client` sits on tier_a only."""
    project = objects.unique("nc6")
    net_a = objects.network(f"{project}_a", "--ipv6", "--subnet", _ula())
    net_b = objects.network(f"{project}_b", "--ipv6", "--subnet", _ula())

    def labels(
        service: str,
    ) -> list[str]:  # as compose makes them: labels, and the service name as an alias
        return [
            "--label",
            f"{PROJECT_LABEL}={project}",
            "--label",
            f"{SERVICE_LABEL}={service}",
            "--network-alias",
            service,
        ]

    objects.container(
        f"{project}-web",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/",
        options=[*labels("web"), "--network", net_b],
    )
    objects.container(
        f"{project}-client", "sleep", "600", options=[*labels("client"), "--network", net_a]
    )
    contract = tmp_path / "dual.yaml"
    contract.write_text(
        f"version: 1\nproject: {project}\n"
        f"tiers:\n  tier_a: {{network: {net_a}, ipv6: true}}\n  tier_b: {{network: {net_b}, ipv6: true}}\n"
        "services:\n  client: {tiers: [tier_a]}\n  web: {tiers: [tier_b], ports: [80]}\n",
        encoding="utf-8",
    )
    return {"contract": contract, "project": project}


def test_dual_stack_isolation_is_probed_over_both_families(stack, cli, dual_stack):
    run = cli.check(*NETNS, "--timeout", "2", contract=dual_stack["contract"])

    v4 = run.result("isolation:client->web:80@tier_b")
    v6 = run.result("isolation:client->web:80@tier_b/ipv6")
    assert v4["verdict"] == "PASS" and v4["actual"] in ("timeout", "unreachable"), v4
    assert run.result("network:tier_b")["verdict"] == "PASS"  # ipv6: true holds
    if EXPECT_IP6_FILTER:
        assert v6["verdict"] == "PASS", v6
        assert run.code == 0, run
        assert any("IPv6" in n and "filters IPv6" in n for n in run.report["notes"]), run.report[
            "notes"
        ]
    else:
        assert v6["verdict"] == "FAIL" and v6["actual"] == "ok", (
            v6["actual"],
            v6["output"],
            v6["reason"],
        )
        assert "over IPv6" in v6["expected"]
        assert "IPv4 is dropped on the same path and IPv6 connects" in v6["reason"]
        assert "ip6tables" in v6["reason"]
        assert run.code == 1, run
        assert any(
            n.startswith("IPv6: 2 of 2 IPv6 paths the contract forbids connect")
            for n in run.report["notes"]
        ), run.report["notes"]
        assert run.result("isolation:web->client:icmp@tier_a/ipv6")["verdict"] == "FAIL"
    assert run.report["engine"].startswith("Docker ")
    # the resolver control and the names resolve over both families
    control = run.result("dns:client->client")
    assert control["verdict"] == "PASS" and ":" in control["actual"] and "." in control["actual"], (
        control
    )


def test_an_ipv6_declaration_is_checked(stack, cli, dual_stack, tmp_path):
    text = (
        dual_stack["contract"]
        .read_text(encoding="utf-8")
        .replace("ipv6: true}\n  tier_b", "ipv6: false}\n  tier_b")
    )
    path = tmp_path / "no-v6.yaml"
    path.write_text(text, encoding="utf-8")
    run = cli.check("--no-probes", contract=path)
    r = run.result("network:tier_a")
    assert r["verdict"] == "FAIL" and "has IPv6 enabled" in r["reason"], r
    assert run.code == 1


# -- every replica is a source -----------------------------------------------------------------------


def test_a_second_replica_on_a_forbidden_tier_leaks_from_itself(stack, cli, objects):
    # a second frontend, made by hand with frontend's compose labels, on api_tier like the first one
    # and then joined to data_tier, which the contract does not give frontend
    first = stack.container("frontend")
    name = objects.unique("devonboarder-frontend-extra")
    objects.container(
        name,
        "httpd",
        "-f",
        "-p",
        "3000",
        "-h",
        "/",
        options=[
            "--label",
            f"{PROJECT_LABEL}=devonboarder",
            "--label",
            f"{SERVICE_LABEL}=frontend",
            "--network",
            API,
        ],
    )
    docker("network", "connect", DATA, name)

    run = cli.check(*NETNS, "--timeout", "2")

    leak = run.result(f"isolation:frontend[{name}]->db:5432@data_tier")
    assert leak["verdict"] == "FAIL" and leak["actual"] == "ok", leak
    assert f"frontend reaches db over {DATA}" in leak["reason"]
    assert run.result(f"isolation:frontend[{first}]->db:5432@data_tier")["verdict"] == "PASS"
    assert run.code == 1
    # the first replica's probes still hold, and the structural check names the replica
    assert name in run.result("networks:frontend")["reason"]


# -- the host, from a service whose tiers are all internal ---------------------------------------------


def _dockerd_netns() -> str:
    """The network namespace of the dockerd behind DOCKER_HOST (the second engine runs in its own).

    The host engine by its pid file: other dockerds may run on this machine without `-H` (the swarm test
    bed's nodes, each in a namespace of its own), and their processes are visible here too."""
    sock = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    if sock == "/var/run/docker.sock":
        with contextlib.suppress(OSError, ValueError):
            pid = int(Path("/var/run/docker.pid").read_text(encoding="ascii").strip())
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"dockerd"):
                return f"/proc/{pid}/ns/net"
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not cmd or not cmd[0].endswith(b"dockerd"):
            continue
        args = b" ".join(cmd).decode(errors="replace")
        if sock in args or (sock == "/var/run/docker.sock" and " -H " not in f" {args} "):
            return f"/proc/{pid}/ns/net"
    raise AssertionError(f"no dockerd serves {sock}")


@pytest.fixture
def host_listener(stack: Any) -> Iterator[tuple[str, int]]:
    """A TCP listener on the engine host's own address on data_tier (the bridge gateway), in the engine's
    network namespace; it accepts and closes."""
    gateway = docker(
        "network", "inspect", DATA, "--format", "{{(index .IPAM.Config 0).Gateway}}"
    ).strip()
    port = random.randrange(20000, 30000)
    code = (
        "import socket,sys\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "s.bind((sys.argv[1],int(sys.argv[2])))\ns.listen(16)\nprint('ready',flush=True)\n"
        "while True:\n c,_=s.accept()\n c.close()\n"
    )
    proc = subprocess.Popen(
        ["nsenter", f"--net={_dockerd_netns()}", sys.executable, "-c", code, gateway, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield gateway, port
    finally:
        proc.kill()
        proc.wait()


def test_host_listener_is_reported_then_denied(stack, cli, contracts, host_listener):
    gateway, port = host_listener
    reported = contracts.variant(lambda d: d["policy"].update(host_ports=[port]), "report.yaml")
    run = cli.check(*NETNS, "--timeout", "2", contract=reported)
    r = run.result(f"host:db->{gateway}:{port}")
    assert r["verdict"] == "PASS" and r["actual"] == "ok", r
    assert f"the Docker host answers db at {gateway} (port {port})" in r["reason"]
    assert run.code == 0, run

    def deny(d: dict[str, Any]) -> None:
        d["policy"].update(host_ports=[port])
        d["tiers"]["data_tier"]["host"] = "deny"

    run = cli.check(*NETNS, "--timeout", "2", contract=contracts.variant(deny, "deny.yaml"))
    r = run.result(f"host:db->{gateway}:{port}")
    assert r["verdict"] == "FAIL" and "host: deny on data_tier" in r["reason"], r
    assert run.code == 1, run


# -- DNS egress from a service whose tiers are all internal (CVE-2024-29018) -----------------------------

EGRESS_NAME = (
    "egress-canary.netcontract.test"  # .test: reserved (RFC 6761); only our canary answers it
)
CANARY_ADDRESS = "192.0.2.7"  # TEST-NET-1: an answer, never contacted

_CANARY = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
log = open(sys.argv[2], "a", buffering=1)
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    if len(data) < 17:
        continue
    i, labels = 12, []
    while i < len(data) and data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
        i += 1 + data[i]
    question, name = data[12:i + 5], ".".join(labels).lower()
    qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
    log.write(f"{peer[0]} {name} {qtype}\\n")
    head = data[:2]
    if name == sys.argv[3] and qtype == 1:
        record = b"\\xc0\\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + socket.inet_aton(sys.argv[4])
        s.sendto(head + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + question + record, peer)
    else:
        s.sendto(head + struct.pack("!HHHHH", 0x8183, 1, 0, 0, 0) + question, peer)
"""


@pytest.fixture
def dns_egress(objects: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An upstream resolver of our own and two services that use it: `web` on a normal network, `vault` on an
    internal one only. The resolver listens on the engine host's address on web's network (its gateway), in
    the engine's network namespace, and logs every query it gets: `source-address name qtype`."""
    project = objects.unique("ncdns")
    net_open = objects.network(f"{project}_open")
    net_int = objects.network(f"{project}_vault", "--internal")
    gateway = docker(
        "network", "inspect", net_open, "--format", "{{(index .IPAM.Config 0).Gateway}}"
    ).strip()
    log = tmp_path / "canary.log"
    proc = subprocess.Popen(
        [
            "nsenter",
            f"--net={_dockerd_netns()}",
            sys.executable,
            "-c",
            _CANARY,
            gateway,
            str(log),
            EGRESS_NAME,
            CANARY_ADDRESS,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

        def labels(service: str) -> list[str]:
            return [
                "--label",
                f"{PROJECT_LABEL}={project}",
                "--label",
                f"{SERVICE_LABEL}={service}",
                "--network-alias",
                service,
            ]

        web = objects.container(
            f"{project}-web",
            "sleep",
            "600",
            dns=gateway,
            options=[*labels("web"), "--network", net_open],
        )
        vault = objects.container(
            f"{project}-vault",
            "sleep",
            "600",
            dns=gateway,
            options=[*labels("vault"), "--network", net_int],
        )
        contract = tmp_path / "dns-egress.yaml"
        contract.write_text(
            f"version: 1\nproject: {project}\n"
            f"tiers:\n  open: {{network: {net_open}}}\n  vault: {{network: {net_int}, internal: true}}\n"
            "services:\n  web: {tiers: [open]}\n  vault: {tiers: [vault]}\n"
            f"policy:\n  dns_egress_names: [{EGRESS_NAME}]\n",
            encoding="utf-8",
        )
        vault_ip = docker(
            "inspect", vault, "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        )
        yield {
            "contract": contract,
            "web": web,
            "vault": vault,
            "vault_ip": vault_ip.strip(),
            "log": log,
        }
    finally:
        proc.kill()
        proc.wait()


def _engine_major(report: dict[str, Any]) -> int:
    return int(report["engine"].split()[1].split(".")[0])


@pytest.mark.parametrize("executor", ["netns", "exec"])
def test_dns_egress_from_an_internal_only_service(stack, cli, dns_egress, executor):
    # the canary answers, and a service on a normal network reaches it through Docker's DNS (forwarded)
    shown = subprocess.run(
        ["docker", "exec", dns_egress["web"], "nslookup", EGRESS_NAME, "127.0.0.11"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert CANARY_ADDRESS in shown.stdout, shown.stdout + shown.stderr

    run = cli.check("--executor", executor, "--timeout", "2", contract=dns_egress["contract"])
    r = run.result(f"egress:vault->{EGRESS_NAME}:dns")
    asked = [line.split() for line in dns_egress["log"].read_text(encoding="utf-8").splitlines()]
    from_vault = [a for a in asked if a[0] == dns_egress["vault_ip"] and a[1] == EGRESS_NAME]
    assert r["executor"] == executor, r
    if _engine_major(run.report) < 26:
        # measured on 20.10: the query is forwarded from vault's namespace and the upstream's answer comes back
        assert r["verdict"] == "FAIL" and r["actual"] == CANARY_ADDRESS, r
        assert r["reason"].startswith(
            f"{EGRESS_NAME} resolves from vault to {CANARY_ADDRESS}: Docker's DNS forwards"
        )
        assert "CVE-2024-29018" in r["reason"]
        assert from_vault, asked
        assert run.code == 1, run
    else:
        # 26.0+: Docker's DNS answers SERVFAIL itself and nothing reaches the upstream from vault
        assert r["verdict"] == "PASS" and r["actual"] == "servfail", r
        assert from_vault == [], asked
        assert run.code == 0, run
    assert not any("DNS egress not probed" in n for n in run.report["notes"])

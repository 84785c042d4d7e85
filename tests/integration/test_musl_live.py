"""Exec probes from an Alpine-like container: musl's tool wording, read for real.

netcontract-test/alpine:local is busybox built against musl (scripts/build-musl-busybox.sh), the
toolset of Alpine: full busybox nc (-z, and silent on a failed connect unless told -v twice),
nslookup and ping, whose errors are musl's texts ("Network unreachable", "Host is unreachable"),
not glibc's. This module builds a deployment of its own from that image and checks it with
`--executor exec`, so every probe is made by those tools inside the containers and read by the
parsers: a reached port, a refused one, and paths that lead nowhere.

Traffic: only between the containers this module starts, on its own two networks.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.docker

ALPINE_IMAGE = "netcontract-test/alpine:local"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
BLOCKED = {"timeout", "unreachable"}


@pytest.fixture
def musl_deployment(built_images: None, objects: Any, tmp_path: Path) -> dict[str, Any]:
    """`client` and `peer` on an internal network, `web` on a normal one; all Alpine-like. client drops its
    default route (its own, with NET_ADMIN): an address off its subnet is then refused by its own kernel
    ("Network unreachable") before any packet is sent. peer listens on 80 only, though the contract gives it
    80 and 81."""
    project = objects.unique("ncmusl")
    inner = objects.network(f"{project}_inner", "--internal")
    outer = objects.network(f"{project}_outer")

    def service(name: str, network: str, *args: str, options: tuple[str, ...] = ()) -> str:
        return objects.container(
            f"{project}-{name}",
            *args,
            image=ALPINE_IMAGE,
            options=[
                "--label",
                f"{PROJECT_LABEL}={project}",
                "--label",
                f"{SERVICE_LABEL}={name}",
                "--network",
                network,
                "--network-alias",
                name,
                *options,
            ],
        )

    service(
        "client",
        inner,
        "sh",
        "-c",
        "ip route del default 2>/dev/null; exec sleep 600",
        options=("--cap-add", "NET_ADMIN"),
    )
    service("peer", inner, "httpd", "-f", "-p", "80", "-h", "/")
    service("web", outer, "httpd", "-f", "-p", "80", "-h", "/")
    for _ in range(50):  # the container's shell drops the route just after it starts
        routes = subprocess.run(
            ["docker", "exec", f"{project}-client", "ip", "route"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if routes.returncode == 0 and "default" not in routes.stdout:
            break
        time.sleep(0.1)
    assert routes.returncode == 0 and "default" not in routes.stdout, routes
    contract = tmp_path / "musl.yaml"
    contract.write_text(
        f"version: 1\nproject: {project}\n"
        f"tiers:\n  inner: {{network: {inner}, internal: true}}\n  outer: {{network: {outer}}}\n"
        "services:\n"
        "  client: {tiers: [inner]}\n"
        "  peer: {tiers: [inner], ports: [80, 81]}\n"
        "  web: {tiers: [outer], ports: [80]}\n",
        encoding="utf-8",
    )
    return {"contract": contract, "client": f"{project}-client"}


def test_exec_verdicts_on_musl_wording(cli, musl_deployment):
    run = cli.check("--executor", "exec", "--timeout", "2", contract=musl_deployment["contract"])
    results = run.results

    reach = run.result("reach:client->peer:80@inner")
    assert (reach["verdict"], reach["actual"], reach["executor"]) == ("PASS", "ok", "exec"), reach

    refused = run.result(
        "reach:client->peer:81@inner"
    )  # the contract says 81; nothing listens there
    assert (refused["verdict"], refused["actual"]) == ("FAIL", "refused"), refused
    assert "Connection refused" in refused["output"], refused

    # client has no route to web's network: its kernel refuses at once, and musl says so in its own words
    # (glibc: "Network is unreachable")
    isolated = run.result("isolation:client->web:80@outer")
    assert (isolated["verdict"], isolated["actual"]) == ("PASS", "unreachable"), isolated
    assert "Network unreachable" in isolated["output"], isolated
    pinged = [r for rid, r in results.items() if rid.startswith("isolation:client->web:icmp")]
    for r in pinged:
        assert (r["verdict"], r["actual"]) == ("PASS", "unreachable"), r
        assert "ping: sendto: Network unreachable" in r["output"], r

    # from the normal network into the internal one: dropped (or unroutable), never reached
    inbound = [r for rid, r in results.items() if rid.startswith("isolation:web->")]
    assert inbound, sorted(results)
    for r in inbound:
        assert r["verdict"] == "PASS" and r["actual"] in BLOCKED, r

    # names resolve through musl busybox's nslookup, and none is an ERROR
    control = run.result("dns:client->client")
    assert control["verdict"] == "PASS", control
    assert not run.verdicts("ERROR"), run.verdicts("ERROR")
    assert run.code == 1, run  # the refused port 81 alone
    assert [r["id"] for r in run.verdicts("FAIL")] == ["reach:client->peer:81@inner"], run.verdicts(
        "FAIL"
    )

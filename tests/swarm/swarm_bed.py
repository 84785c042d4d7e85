"""The swarm test bed as the live tests use it: its nodes, the manager's docker CLI, netcontract against it.

Everything here sends packets only to the bed's nodes and tasks (scripts/swarm, docs/swarm.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker as docker_sdk

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "tests" / "swarm" / "contract.yaml"
PROBE_IMAGE = "netcontract-test/probe:local"
# The helper executor's image: python3 from Debian packages (scripts/build-tool-image.sh), copied into every
# node by scripts/swarm/up.sh when the host has it.
HELPER_IMAGE = os.environ.get("NETCONTRACT_TEST_HELPER_IMAGE", "netcontract-test/python-base:local")
HELPER_LABEL = "org.netcontract.helper"
STACK = "nctest"
NODE_COUNT = 3
WANTED = (
    "NCSWARM_MANAGER",
    *(f"NCSWARM_NODE{i}" for i in range(1, NODE_COUNT + 1)),
    *(f"NCSWARM_NODE{i}_NAME" for i in range(1, NODE_COUNT + 1)),
)


def have_bed() -> bool:
    return all(os.environ.get(k) for k in WANTED)


@dataclass(frozen=True)
class Checked:
    code: int
    report: dict[str, Any]
    stdout: str
    stderr: str
    seconds: float

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.report.get("results", ())}

    def verdicts(self, verdict: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.by_id().items() if r["verdict"] == verdict}


class Bed:
    """The running test bed: its nodes, the manager's docker CLI, netcontract against it."""

    def __init__(self) -> None:
        self.nodes = {
            os.environ[f"NCSWARM_NODE{i}_NAME"]: os.environ[f"NCSWARM_NODE{i}"]
            for i in range(1, NODE_COUNT + 1)
        }
        self.manager = os.environ["NCSWARM_MANAGER"]

    def node_args(self) -> list[str]:
        return [a for name, url in self.nodes.items() for a in ("--node", f"{name}={url}")]

    def argv(
        self, *extra: str, out: Path, contract: Path = CONTRACT, nodes: list[str] | None = None
    ) -> list[str]:
        """`netcontract check` of the bed, every node given, the JSON report to `out`."""
        return [
            sys.executable,
            "-m",
            "netcontract",
            "check",
            "-c",
            str(contract),
            *(self.node_args() if nodes is None else nodes),
            "--no-pull",
            "--probe-image",
            PROBE_IMAGE,
            "-q",
            "--json",
            str(out),
            *extra,
        ]

    def check(
        self,
        *extra: str,
        tmp: Path,
        contract: Path = CONTRACT,
        nodes: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> Checked:
        out = tmp / f"report-{time.monotonic_ns()}.json"
        argv = self.argv(*extra, out=out, contract=contract, nodes=nodes)
        t0 = time.monotonic()
        p = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        took = time.monotonic() - t0
        report = json.loads(out.read_text()) if out.exists() else {}
        return Checked(p.returncode, report, p.stdout, p.stderr, took)

    def helper_image_missing(self) -> str | None:
        """None when every node has HELPER_IMAGE, else which nodes lack it."""
        lacking = []
        for name, url in sorted(self.nodes.items()):
            p = self.docker("image", "inspect", HELPER_IMAGE, host=url, check=False)
            if p.returncode != 0:
                lacking.append(name)
        return f"{HELPER_IMAGE} is not on {', '.join(lacking)}" if lacking else None

    def helpers_left(self) -> dict[str, list[str]]:
        """Helper containers (any state) on every node's engine, by node; nodes without one left out."""
        out = {}
        for name, url in sorted(self.nodes.items()):
            c = docker_sdk.DockerClient(base_url=url, timeout=20)
            try:
                found = c.api.containers(all=True, filters={"label": f"{HELPER_LABEL}=1"})
            finally:
                c.close()
            if found:
                out[name] = [f"{x['Id'][:12]} {x.get('State')}" for x in found]
        return out

    def helpers_created(self, since: float, until: float) -> dict[str, int]:
        """How many helper containers each node's engine created between two times (its event log)."""
        out = {}
        for name, url in sorted(self.nodes.items()):
            p = self.docker(
                "events",
                "--since",
                f"{since:.3f}",
                "--until",
                f"{until:.3f}",
                "--filter",
                f"label={HELPER_LABEL}=1",
                "--filter",
                "event=create",
                "--format",
                "{{.Actor.ID}}",
                host=url,
            )
            out[name] = len(p.stdout.split())
        return out

    def docker(
        self, *args: str, host: str | None = None, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """The docker CLI against the manager (or `host`; "" for the host engine, where the nodes are)."""
        env = dict(os.environ)
        target = self.manager if host is None else host
        if target:
            env["DOCKER_HOST"] = target
        else:
            env.pop("DOCKER_HOST", None)
        p = subprocess.run(
            ["docker", *args], capture_output=True, text=True, env=env, timeout=timeout
        )
        if check and p.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()[:500]}"
            )
        return p

    def task_nodes(self, service: str) -> dict[str, str]:
        """Running task name -> node, of one service of the stack, from the manager (`docker service ps`)."""
        p = self.docker(
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Name}} {{.Node}}",
            f"{STACK}_{service}",
        )
        return dict(line.split() for line in p.stdout.splitlines() if line.strip())

    def node_exec(
        self, node: str, *argv: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """A command in the node container itself (its own iptables), through the host engine."""
        return self.docker("exec", node, *argv, host="", check=check)

    def converge(self, deadline: float = 120) -> None:
        """Every service N/N, no update in progress, and every node's gossip view of every stack network
        lists as many tasks as the manager attaches to it (as scripts/swarm/up.sh waits)."""
        end = time.monotonic() + deadline
        last = ""
        while time.monotonic() < end:
            last = self._lagging()
            if not last:
                return
            time.sleep(1)
        raise AssertionError(f"the swarm did not converge within {deadline:.0f} s: {last}")

    def _lagging(self) -> str:
        m = docker_sdk.DockerClient(base_url=self.manager, timeout=20)
        try:
            services = m.api.services(filters={"label": f"com.docker.stack.namespace={STACK}"})
            ids = {s["ID"] for s in services}
            tasks = [
                t
                for t in m.api.tasks(filters={"desired-state": "running"})
                if t["ServiceID"] in ids
            ]
            for s in services:
                state = (s.get("UpdateStatus") or {}).get("State")
                if state in ("updating", "rollback_started", "paused", "rollback_paused"):
                    return f"{s['Spec']['Name']} update {state}"
                mine = [t for t in tasks if t["ServiceID"] == s["ID"]]
                if any(t["Status"]["State"] != "running" for t in mine):
                    return f"{s['Spec']['Name']}: a task is not running yet"
                replicas = ((s["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas")
                if replicas is not None and len(mine) != replicas:
                    return f"{s['Spec']['Name']}: {len(mine)} of {replicas} tasks"
            attached: dict[str, int] = {}
            for t in tasks:
                for att in t.get("NetworksAttachments") or ():
                    name = att["Network"]["Spec"]["Name"]
                    if name.startswith(f"{STACK}_"):
                        attached[name] = attached.get(name, 0) + 1
        finally:
            m.close()
        for node, url in self.nodes.items():
            c = docker_sdk.DockerClient(base_url=url, timeout=20)
            try:
                health = [
                    x["State"].get("Health", {}).get("Status")
                    for x in (
                        c.api.inspect_container(i["Id"])
                        for i in c.api.containers(
                            filters={"label": f"com.docker.stack.namespace={STACK}"}
                        )
                    )
                ]
                if any(h not in (None, "healthy") for h in health):
                    return f"{node}: a task is not healthy yet"
                for net, count in attached.items():
                    found = [n for n in c.api.networks(names=[net]) if n["Name"] == net]
                    if not found:
                        continue
                    v = c.api.inspect_network(found[0]["Id"], verbose=True)
                    if not v.get("Containers"):
                        continue
                    seen = sum(
                        len(s.get("Tasks") or ()) for s in (v.get("Services") or {}).values()
                    )
                    if seen != count:
                        return f"{node}: {net}: {seen} of {count} tasks in its view"
            finally:
                c.close()
        return ""

    def holds(self, tmp: Path, deadline: float = 90) -> Checked:
        """Wait until the contract holds again (the restore worked); fail with the last report if not."""
        self.converge()
        end = time.monotonic() + deadline
        while True:
            got = self.check(tmp=tmp)
            if got.code == 0 or time.monotonic() > end:
                break
            time.sleep(3)
        assert got.code == 0, (
            f"the contract does not hold after the restore:\n{got.stdout[-3000:]}\n{got.stderr}"
        )
        return got

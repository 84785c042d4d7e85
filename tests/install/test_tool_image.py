"""The tool image (the top-level Dockerfile), built from Debian packages without a registry
(scripts/build-tool-image.sh), running the demo check against the live test stack with the least privilege
the netns executor needs: the host's pid namespace, the engine's socket and the capabilities in
`LEAST_CAPS`, never --privileged. Without one of them `--executor netns` cannot run (never a PASS), and
`--executor auto` falls back to exec and sidecar probes through the socket, saying why (docs/security.md)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT, run
from stack import PROBE_IMAGE, running_stack

pytestmark = pytest.mark.docker

IMAGE = "netcontract-test/tool:local"
LEAST_CAPS = ("SYS_ADMIN", "SYS_PTRACE", "NET_RAW")  # measured: docs/security.md, "The tool image"


def _socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    assert host.startswith("unix://"), (
        f"the tool image test mounts the engine's socket; DOCKER_HOST={host}"
    )
    return host.removeprefix("unix://")


@pytest.fixture(scope="module")
def tool_image() -> str:
    proc = run([str(ROOT / "scripts" / "build-tool-image.sh")], timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return IMAGE


@pytest.fixture(scope="module")
def stack() -> Iterator[None]:
    with running_stack():
        yield


def _check(
    image: str, caps: tuple[str, ...], executor: str, *, pid_host: bool = True
) -> tuple[int, dict[str, Any], str]:
    argv = ["docker", "run", "--rm", "--label", "org.netcontract.test=1", "--cap-drop", "ALL"]
    for cap in caps:
        argv += ["--cap-add", cap]
    if pid_host:
        argv += ["--pid", "host"]
    argv += [
        "-v",
        f"{_socket()}:/var/run/docker.sock",
        "-v",
        f"{ROOT / 'contracts'}:/work/contracts:ro",
        "-e",
        f"NETCONTRACT_PROBE_IMAGE={PROBE_IMAGE}",
        image,
        "check",
        "-c",
        "contracts/devonboarder.yaml",
        "--executor",
        executor,
        "--no-pull",
        "--format",
        "json",
    ]
    proc = run(argv, timeout=300)
    try:
        report: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = {}
    return proc.returncode, report, proc.stderr


def _executors(report: dict[str, Any]) -> Counter[str]:
    return Counter(r["executor"] for r in report["results"] if r["executor"])


def test_the_image_answers_version(tool_image: str) -> None:
    proc = run(
        ["docker", "run", "--rm", "--label", "org.netcontract.test=1", tool_image, "--version"]
    )
    assert (proc.returncode, proc.stdout) == (0, "netcontract, version 0.1.0\n"), proc.stderr


def test_the_demo_check_runs_from_the_image_with_the_least_privilege(
    tool_image: str, stack: None
) -> None:
    code, report, err = _check(tool_image, LEAST_CAPS, "auto")
    assert code == 0, err + json.dumps(report.get("summary"))
    assert report["summary"]["errors"] == 0 and report["summary"]["passed"] > 100
    assert set(_executors(report)) == {"netns"}  # every probe from netcontract's own sockets


def _errors(report: dict[str, Any]) -> list[str]:
    return [r["reason"] for r in report["results"] if r["verdict"] == "ERROR"]


@pytest.mark.parametrize(
    ("dropped", "why"),
    [
        (
            "SYS_ADMIN",
            "entering a container's network namespace needs root (CAP_SYS_ADMIN)",
        ),  # setns
        ("SYS_PTRACE", "/ns/net: Permission denied"),  # opening another process's namespace file
        (
            "NET_RAW",
            "cannot open a raw ICMP socket",
        ),  # ICMP probes (the Docker host from internal tiers)
    ],
)
def test_each_capability_is_needed_by_netns(
    tool_image: str, stack: None, dropped: str, why: str
) -> None:
    code, report, err = _check(tool_image, tuple(c for c in LEAST_CAPS if c != dropped), "netns")
    assert code == 3, (
        f"netns without {dropped}: exit {code}, {err}"
    )  # could not evaluate, never a pass
    assert report["summary"]["failed"] == 0
    errors = _errors(report)
    assert errors and all(why in e for e in errors), errors[:3]


def test_without_the_host_pid_namespace_netns_cannot_run(tool_image: str, stack: None) -> None:
    code, report, err = _check(tool_image, LEAST_CAPS, "netns", pid_host=False)
    assert code == 3, err
    errors = _errors(report)
    assert errors and all("on this host: the engine runs elsewhere" in e for e in errors), errors[
        :3
    ]


def test_without_capabilities_auto_falls_back_and_says_why(tool_image: str, stack: None) -> None:
    code, report, err = _check(tool_image, (), "auto")
    assert code == 0, err + json.dumps(report.get("summary"))
    assert "netns" not in _executors(report) and _executors(report)
    assert any("netns" in note for note in report["notes"]), report["notes"]

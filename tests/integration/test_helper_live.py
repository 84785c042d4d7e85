"""The helper executor on the live test stack: netns-grade verdicts for a netcontract that cannot enter
namespaces itself (a user in the docker group, not root).

The helper's image is netcontract-test/python-base:local (Debian's python3, built from packages by
scripts/build-tool-image.sh; nothing of netcontract in it): the agent gets its code over stdin.
Traffic: probes only target the stack's containers.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest
from conftest import CONTRACT, NETCONTRACT, PROBE_IMAGE, REPO

pytestmark = pytest.mark.docker

HELPER_IMAGE = os.environ.get("NETCONTRACT_TEST_HELPER_IMAGE", "netcontract-test/python-base:local")
DATA = "devonboarder_data_tier"
FRONTEND_LEAK = "isolation:frontend->db:5432@data_tier"
HELPER_LABEL = "org.netcontract.helper"


def _have_image() -> None:
    if (
        subprocess.run(["docker", "image", "inspect", HELPER_IMAGE], capture_output=True).returncode
        != 0
    ):
        pytest.skip(f"helper image {HELPER_IMAGE} not built (scripts/build-tool-image.sh)")


def _docker_user() -> list[str]:
    """setpriv argv for uid 65534 (nobody) in the engine socket's group: no root, no capabilities."""
    sock = (os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock").removeprefix("unix://")
    gid = os.stat(sock).st_gid
    return [
        "setpriv",
        "--reuid",
        "65534",
        "--regid",
        str(gid),
        "--clear-groups",
        "--inh-caps",
        "-all",
        "--bounding-set",
        "-all",
        "--",
    ]


def check(
    *args: str, user: list[str] | None = None, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    full = {
        **os.environ,
        "NETCONTRACT_PROBE_IMAGE": PROBE_IMAGE,
        "NO_COLOR": "1",
        "HOME": "/tmp",
        **(env or {}),
    }
    proc = subprocess.run(
        [
            *(user or []),
            NETCONTRACT,
            "check",
            "-c",
            str(CONTRACT),
            "--no-pull",
            "--format",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        env=full,
        cwd=REPO,
        timeout=180,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(
            f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        ) from None
    return proc.returncode, report, proc.stderr


def result(report: dict[str, Any], rid: str) -> dict[str, Any]:
    found = [r for r in report["results"] if r["id"] == rid]
    assert found, f"no result {rid}"
    return found[0]


def helpers_left() -> list[str]:
    return subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={HELPER_LABEL}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def test_the_socket_user_cannot_enter_namespaces(stack) -> None:
    """The premise: as uid 65534 in the socket's group, auto cannot use netns and falls back to exec."""
    code, report, _ = check(user=_docker_user())
    assert code == 0, report
    probes = {r["executor"] for r in report["results"] if "->" in r["id"]}
    assert "netns" not in probes and probes <= {"exec", "sidecar"}, probes
    assert any(n.startswith("auto: netns not possible") for n in report["notes"])


def test_a_lying_container_cannot_forge_a_helper_verdict(stack, restore) -> None:
    _have_image()
    restore("frontend")
    frontend = stack.container("frontend")
    stack.docker("network", "connect", DATA, frontend)
    box = "/usr/libexec/netcontract-slim/busybox"
    liar = '#!/bin/sh\n[ "$1" = -h ] && { echo "  -z  zero-I/O mode"; exit 0; }\necho "nc: timed out"; exit 1\n'
    stack.docker(
        "exec",
        frontend,
        "sh",
        "-c",
        f'printf "%s" "$0" > /bin/nc && {box} chmod +x /bin/nc && {box} ln -s {box} /bin/sleep',
        liar,
    )
    user = _docker_user()

    _, lied_to, _ = check("--executor", "exec", "--timeout", "2", user=user)
    code, truth, _ = check(
        "--timeout", "2", user=user, env={"NETCONTRACT_HELPER_IMAGE": HELPER_IMAGE}
    )

    r = result(lied_to, FRONTEND_LEAK)  # exec: the container's own nc, which lies
    assert r["verdict"] == "PASS" and r["executor"] == "exec", r
    r = result(
        truth, FRONTEND_LEAK
    )  # auto with a helper: the kernel's answer from frontend's namespace
    assert r["verdict"] == "FAIL" and r["actual"] == "ok" and r["executor"] == "helper", r
    assert code == 1
    assert any("the helper container" in n for n in truth["notes"]), truth["notes"]
    assert helpers_left() == []


def test_helper_verdicts_equal_netns_and_it_leaves_nothing(stack) -> None:
    _have_image()
    started = time.time()
    code, helper, _ = check(
        "--executor", "helper", "--helper-image", HELPER_IMAGE, user=_docker_user()
    )
    ended = time.time() + 1
    assert code == 0, helper
    code, local, _ = check("--executor", "netns")
    assert code == 0, local
    assert {r["id"]: r["verdict"] for r in helper["results"]} == {
        r["id"]: r["verdict"] for r in local["results"]
    }
    assert {r["executor"] for r in helper["results"] if "->" in r["id"]} == {"helper"}
    assert any(n.startswith("helper: timeouts judged on windows") for n in helper["notes"]), helper[
        "notes"
    ]
    # one helper for the whole check: created once, gone after
    events = subprocess.run(
        [
            "docker",
            "events",
            "--since",
            f"{started:.3f}",
            "--until",
            f"{ended:.3f}",
            "--filter",
            f"label={HELPER_LABEL}",
            "--filter",
            "event=create",
            "--format",
            "{{.Actor.ID}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(events) == 1, events
    assert helpers_left() == []


def test_require_trusted_refuses_exec(stack) -> None:
    code, report, _ = check("--executor", "exec", "--require-trusted")
    probes = [r for r in report["results"] if "->" in r["id"]]
    assert code == 3 and probes and {r["verdict"] for r in probes} == {"ERROR"}, code
    assert "--require-trusted" in probes[0]["reason"] + probes[0]["actual"]


def test_a_helper_image_without_python_is_an_error_per_source(stack) -> None:
    code, report, _ = check(
        "--executor", "helper", "--helper-image", PROBE_IMAGE, user=_docker_user()
    )
    probes = [r for r in report["results"] if "->" in r["id"]]
    assert code == 3 and {r["verdict"] for r in probes} == {"ERROR"}, code
    assert "helper" in probes[0]["reason"], probes[0]
    assert helpers_left() == []


def test_no_helper_without_an_image() -> None:
    proc = subprocess.run(
        [NETCONTRACT, "check", "-c", str(CONTRACT), "--executor", "helper"],
        capture_output=True,
        text=True,
        env={**os.environ, "NETCONTRACT_HELPER_IMAGE": ""},
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2 and "--helper-image" in proc.stderr, proc.stderr


class _TcpEngine:
    """The engine's unix socket behind a TCP listener on loopback: DOCKER_HOST=tcp://127.0.0.1:PORT, as for a
    remote engine (the same machine here; the helper does not care where it runs)."""

    def __init__(self, upstream: str) -> None:
        import socket
        import threading

        self.upstream = upstream
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(self.upstream)
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: Any, b: Any) -> None:
        import contextlib
        import socket

        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()


def test_the_helper_over_a_tcp_engine(stack) -> None:
    _have_image()
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        pytest.skip("needs a unix-socket engine to put behind TCP")
    engine = _TcpEngine(host.removeprefix("unix://"))
    try:
        code, report, _ = check(
            "--helper-image",
            HELPER_IMAGE,
            user=_docker_user(),
            env={"DOCKER_HOST": f"tcp://127.0.0.1:{engine.port}"},
        )
    finally:
        engine.close()
    assert code == 0, report
    assert {r["executor"] for r in report["results"] if "->" in r["id"]} == {"helper"}
    assert helpers_left() == []


def test_the_helper_goes_when_netcontract_is_killed(stack, restore) -> None:
    """SIGKILL leaves netcontract no time to clean up: the helper must still go (its stdin ends with the
    attach, the agent exits, the container removes itself)."""
    import signal

    _have_image()
    restore("backend")
    # backend drops everything it is sent (in its own namespace only; recreated afterwards): the paths to it
    # time out and are retried with --timeout 10, so the check is still busy when it is killed
    pid = stack.inspect("backend")["State"]["Pid"]
    subprocess.run(
        ["nsenter", "-t", str(pid), "-n", "iptables", "-I", "INPUT", "-j", "DROP"], check=True
    )
    full = {**os.environ, "NETCONTRACT_PROBE_IMAGE": PROBE_IMAGE, "NO_COLOR": "1", "HOME": "/tmp"}
    proc = subprocess.Popen(
        [
            *_docker_user(),
            NETCONTRACT,
            "check",
            "-c",
            str(CONTRACT),
            "--no-pull",
            "--format",
            "json",
            "--executor",
            "helper",
            "--helper-image",
            HELPER_IMAGE,
            "--timeout",
            "10",
            "--retries",
            "5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=full,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        while not helpers_left():
            assert proc.poll() is None and time.monotonic() < deadline, (
                "no helper container appeared"
            )
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None, "the check ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 30
        while helpers_left() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert helpers_left() == [], "the helper outlived netcontract"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for cid in helpers_left():
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)

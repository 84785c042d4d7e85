"""The netns executor through `netcontract check` on the live test stack.

What these tests defend: with `--executor netns` nothing of the container under
test runs (no exec, no probe container), so a container whose tools lie cannot
change a verdict; a reachable path is never reported as blocked, and a leak is
never missed, also with both cores busy.

Traffic: probes only target the stack's containers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.docker

DATA = "devonboarder_data_tier"
NETNS = ("--executor", "netns")
LEAK_ID = "isolation:traefik->db:5432@data_tier"
FRONTEND_LEAK = "isolation:frontend->db:5432@data_tier"

if os.geteuid() != 0:  # pragma: no cover - CI runs as root
    pytest.skip("the netns executor needs root", allow_module_level=True)


def probe_results(run: Any) -> list[dict[str, Any]]:
    return [r for r in run.report["results"] if "->" in r["id"]]


def engine_events(since: float, until: float) -> list[dict[str, Any]]:
    out = subprocess.run(
        [
            "docker",
            "events",
            "--since",
            f"{since:.3f}",
            "--until",
            f"{until:.3f}",
            "--format",
            "{{json .}}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def healthcheck_commands(stack: Any) -> set[str]:
    """The exec commands of the stack's own healthchecks (compose runs them; they are not netcontract's)."""
    out = set()
    for service in stack.services:
        test = ((stack.inspect(service).get("Config") or {}).get("Healthcheck") or {}).get(
            "Test"
        ) or []
        if test and test[0] == "CMD-SHELL":
            out.add(f"/bin/sh -c {test[1]}")
        elif test and test[0] == "CMD":
            out.add(" ".join(test[1:]))
    return out


@pytest.fixture
def busy_cores() -> Iterator[int]:
    """Both cores busy with spinning processes of our own for the duration of the test."""
    n = os.cpu_count() or 2
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)
        yield n
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def test_netns_run_creates_no_container_and_no_exec(stack, cli):
    started = time.time()
    run = cli.check(*NETNS)
    ended = time.time() + 0.5

    assert run.code == 0, run
    probes = probe_results(run)
    by_kind: dict[str, int] = {}
    for r in probes:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
    # the probes ran: every kind, in numbers the 7-service contract calls for
    assert (
        by_kind.get("reach", 0) >= 20
        and by_kind.get("isolation", 0) >= 20
        and by_kind.get("dns", 0) >= 20
    ), by_kind
    assert {r["executor"] for r in probes} == {"netns"}
    # of the engine's events in that time, those about the stack's containers or about probe containers
    # (other processes may use the engine meanwhile: they are not this run's)
    ours = {stack.container_id(s) for s in stack.services}
    events = engine_events(started, ended)
    health = healthcheck_commands(stack)
    execs = [
        e
        for e in events
        if str(e.get("status", "")).startswith("exec_create: ")
        and e.get("id") in ours
        and e["status"].removeprefix("exec_create: ").strip() not in health
    ]
    created = [
        e
        for e in events
        if e.get("Type") == "container"
        and e.get("Action") == "create"
        and (
            "org.netcontract.probe" in (e.get("Actor") or {}).get("Attributes", {})
            or (e.get("Actor") or {}).get("Attributes", {}).get("com.docker.compose.project")
            == "devonboarder"
        )
    ]
    assert execs == [] and created == [], (execs, created)
    note = [
        n
        for n in run.report["notes"]
        if n.startswith("netns: timeouts judged on windows of at least")
    ]
    assert note, run.report["notes"]


def test_lying_tools_change_an_exec_verdict_but_not_a_netns_one(stack, cli, restore):
    """A container whose nc prints 'timed out' hides its own leak from exec, not from netns."""
    restore("frontend")
    frontend = stack.container("frontend")
    stack.docker("network", "connect", DATA, frontend)
    # frontend's image is slim (dash, no probe tools; busybox off PATH). A compromised one gets an nc
    # that claims -z (so the probe script picks it) and says "timed out" on every port, and a sleep.
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

    lied_to = cli.check("--executor", "exec", "--timeout", "2")
    truth = cli.check(*NETNS, "--timeout", "2")

    # exec trusts the container's tools: its verdict on the leak is what the liar printed
    r = lied_to.result(FRONTEND_LEAK)
    assert r["verdict"] == "PASS" and r["actual"] == "timeout" and r["executor"] == "exec", r
    # netns asked the kernel from inside frontend's namespace: the port answers
    r = truth.result(FRONTEND_LEAK)
    assert r["verdict"] == "FAIL" and r["actual"] == "ok" and r["executor"] == "netns", r
    assert truth.code == 1, truth
    # the structural check sees the membership either way
    assert lied_to.result("networks:frontend")["verdict"] == "FAIL"


def test_under_load_no_reachable_path_is_reported_blocked(stack, cli, busy_cores):
    for attempt in range(5):
        run = cli.check(*NETNS)
        reach = [r for r in probe_results(run) if r["kind"] == "reach"]
        assert len(reach) >= 20
        wrong = [
            f"{r['id']}: {r['actual']} ({r['reason']})" for r in reach if r["verdict"] != "PASS"
        ]
        assert not wrong, (
            f"run {attempt}: reachable paths reported as not reachable:\n" + "\n".join(wrong)
        )
        assert run.code == 0, run


def test_under_load_a_leak_is_never_missed(stack, cli, restore, busy_cores):
    restore("traefik")
    stack.docker("network", "connect", DATA, stack.container("traefik"))
    for attempt in range(5):
        run = cli.check(*NETNS)
        r = run.result(LEAK_ID)
        assert r["verdict"] == "FAIL" and r["actual"] == "ok", f"run {attempt}: {r}"
        assert run.code == 1

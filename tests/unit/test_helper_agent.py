"""The helper's agent without an engine: the wire format both ways, the bundle of source it is sent (this
netcontract's prober and nothing heavier), and the bootstrap itself, run by a python3 that cannot import
netcontract from disk, answering over its stdin and stdout."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from netcontract.live.netns.agent import (
    BOOTSTRAP,
    bundle,
    run_from_wire,
    run_to_wire,
    sources_from_wire,
    sources_to_wire,
)
from netcontract.live.netns.enter import NetnsSource
from netcontract.live.netns.tasks import NetnsRun
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind


def test_sources_round_trip() -> None:
    sources = [
        NetnsSource(
            "c1",
            4242,
            (
                Probe("p0", ProbeKind.TCP, "10.0.0.2", 5432),
                Probe("p1", ProbeKind.DNS, "db", None, "AAAA"),
                Probe("p2", ProbeKind.ICMP, "fd00::2"),
            ),
            ("10.89.0.1",),
        )
    ]
    assert sources_from_wire(json.loads(json.dumps(sources_to_wire(sources)))) == sources


def test_runs_round_trip() -> None:
    run = NetnsRun()
    run.observations = {
        ("c1", "p0"): Observation(Outcome.OK, (), "", "connect 10.0.0.2:5432: connected", "netns"),
        ("c1", "p1"): Observation(Outcome.OK, ("fd00::2",), "", "AAAA db", "netns", "AAAA"),
        ("c1", "p2"): Observation(Outcome.TIMEOUT, tool="netns"),
    }
    run.latency_ms = {("c1", "p0"): 0.081, ("c1", "p1"): 0.4}
    run.slowest_tcp_ok_ms = {"c1": 0.081}
    run.waited_ms = {("c1", "p2"): 100.0}
    assert run_from_wire(json.loads(json.dumps(run_to_wire(run)))) == run


def test_the_bundle_is_the_prober_and_nothing_heavier() -> None:
    modules = json.loads(bundle())["modules"]
    assert {
        "netcontract",
        "netcontract.live",
        "netcontract.live.netns",
        "netcontract.live.netns.agent",
        "netcontract.live.netns.enter",
        "netcontract.live.netns.selector",
        "netcontract.live.netns.tasks",
        "netcontract.probe.dns_wire",
        "netcontract.probe.icmp_wire",
        "netcontract.probe.observation",
        "netcontract.addresses",
    } <= set(modules)
    # no module that needs a third-party package: the helper's image has python3 and nothing else
    for name, module in modules.items():
        for heavy in ("pydantic", "docker", "click", "yaml", "ruamel"):
            assert (
                f"import {heavy}" not in module["source"]
                and f"from {heavy}" not in module["source"]
            ), name
    assert (
        modules["netcontract.live"]["package"] and not modules["netcontract.addresses"]["package"]
    )


def test_the_bootstrap_serves_from_memory() -> None:
    """python3 -I in an empty directory cannot import netcontract from disk: everything comes from the bundle."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    proc = subprocess.Popen(
        [sys.executable, "-I", "-c", BOOTSTRAP],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd="/",
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(bundle(idle=30))
        proc.stdin.write(b'{"op": "hello"}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"python": sys.version.split()[0]}
        probes = [
            Probe("open", ProbeKind.TCP, "127.0.0.1", port),
            Probe("closed", ProbeKind.TCP, "127.0.0.1", closed_port),
        ]
        request = {
            "op": "run",
            "sources": sources_to_wire([NetnsSource("self", proc.pid, tuple(probes))]),
            "window": 1.0,
            "stretch": None,
        }
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        run = run_from_wire(json.loads(proc.stdout.readline())["run"])
        seen = {p: o.outcome for (_, p), o in run.observations.items()}
        if os.geteuid() == 0:  # setns into its own namespace: the kernel answers
            assert seen == {"open": Outcome.OK, "closed": Outcome.REFUSED}
        else:
            assert seen == {"open": Outcome.ERROR, "closed": Outcome.ERROR}
        proc.stdin.write(b'{"op": "nonsense"}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"error": "unknown request 'nonsense'"}
        proc.stdin.close()  # the parent went away: the agent ends
        assert proc.wait(10) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        server.close()


def test_the_bundle_is_made_once_even_when_several_helpers_start_at_once() -> None:
    """A swarm starts one helper per node in parallel threads; CPython 3.11's ast.parse raised SystemError
    ("AST constructor recursion depth mismatch") when several made the bundle at once."""
    import threading

    from netcontract.live.netns import agent

    agent._BUNDLES.clear()
    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(agent.bundle())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and len(set(got)) == 1 and got[0] is got[1]

"""check --baseline and diff on the live stack: a delay added to one path flags exactly that path, a
slower healthcheck flags that service's start-up, a new forbidden connect is a new FAIL while a FAIL
both runs share is known, and --fail-on gates only on what a run introduced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

HERE = Path(__file__).resolve().parent
DATA = "devonboarder_data_tier"
DELAY_MS = 30  # far past the latency thresholds (3x and +5 ms) and the bridge's noise (docs/ci.md)
QUEUE = 17


def _baseline(cli, tmp_path: Path, name: str = "base.json") -> Path:
    path = tmp_path / name
    run = cli.check("--executor", "netns", "--json", str(path), fmt="table")
    assert run.code in (0, 1), run
    return path


def _flagged(comparison: dict) -> list[tuple[str, str, str]]:
    return sorted((d["src"], d["dst"], d["kind"]) for d in comparison["latency"] if d["regressed"])


def _synack_rule(action: str, pid: int, dst_ip: str) -> list[str]:
    return [
        "nsenter",
        "-t",
        str(pid),
        "-n",
        "iptables",
        "-w",
        "-t",
        "mangle",
        action,
        "OUTPUT",
        "-p",
        "tcp",
        "--tcp-flags",
        "SYN,ACK",
        "SYN,ACK",
        "-d",
        dst_ip,
        "-j",
        "NFQUEUE",
        "--queue-num",
        str(QUEUE),
        "--queue-bypass",
    ]


def test_a_delayed_path_is_flagged_and_no_other(stack, cli, tmp_path: Path) -> None:
    base = _baseline(cli, tmp_path)
    first = json.loads(base.read_text())
    timed = [r for r in first["results"] if "latency_ms" in r]
    assert timed and all(r["executor"] == "netns" and r["latency_source"] for r in timed)
    reach = next(r for r in timed if r["id"] == "reach:backend->db:5432@data_tier")
    assert reach["latency_source"] == "tcp_info", reach

    db_pid = stack.inspect("db")["State"]["Pid"]
    backend_ip = stack.ip("backend", DATA)
    # db's SYN-ACKs to backend wait DELAY_MS in a queue of our own (tests/integration/delayer.py)
    subprocess.run(
        _synack_rule("-I", db_pid, backend_ip), check=True, capture_output=True, timeout=30
    )
    delayer = None
    try:
        delayer = subprocess.Popen(
            [
                "nsenter",
                "-t",
                str(db_pid),
                "-n",
                sys.executable,
                str(HERE / "delayer.py"),
                str(QUEUE),
                str(DELAY_MS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert delayer.stdout is not None and delayer.stdout.readline().strip() == "ready"
        run = cli.check("--executor", "netns", "--baseline", str(base))
        slow = cli.check(
            "--executor", "netns", "--baseline", str(base), "--fail-on", "regression", fmt="table"
        )
    finally:
        if delayer is not None:
            delayer.terminate()
            delayer.communicate(timeout=10)
        subprocess.run(
            _synack_rule("-D", db_pid, backend_ip), check=True, capture_output=True, timeout=30
        )

    assert run.code == 0, run  # the exit code is unchanged without --fail-on
    comparison = run.report["comparison"]
    assert comparison["comparable"], comparison["incomparable"]
    assert _flagged(comparison) == [("backend", "db", "reach")], comparison["latency"]
    got = run.result("reach:backend->db:5432@data_tier")
    assert got["latency_ms"] >= DELAY_MS * 0.9 and got["latency_source"] == "tcp_info", got
    assert slow.code == 1, slow
    assert "REGRESSED latency reach backend->db" in slow.out, slow

    # diff reads the same two reports without an engine
    new = tmp_path / "new.json"
    new.write_text(run.out)
    md = cli.run("diff", str(base), str(new), "--format", "markdown")
    assert md.code == 0 and "| backend->db | reach |" in md.out and "REGRESSED" in md.out, md
    gated = cli.run("diff", str(base), str(new), "--fail-on", "regression")
    assert gated.code == 1, gated
    assert cli.run("diff", str(base), str(new), "--fail-on", "new-fail").code == 0


def test_a_slower_healthcheck_flags_that_service_start_up(
    stack, cli, restore, tmp_path: Path
) -> None:
    restore("frontend")
    stack.compose("up", "-d", "--force-recreate", "--wait", "frontend")
    base = _baseline(cli, tmp_path)
    before = {s["service"]: s for s in json.loads(base.read_text())["startup"]}
    assert before["frontend"]["seconds"] is not None, before["frontend"]

    stack.compose(
        "up",
        "-d",
        "--force-recreate",
        "--wait",
        "frontend",
        files=[stack.assets / "compose.frontend-slow-health.yaml"],
    )
    run = cli.check("--executor", "netns", "--baseline", str(base))

    assert run.code == 0, run
    comparison = run.report["comparison"]
    flagged = [d["service"] for d in comparison["startup"] if d["regressed"]]
    assert flagged == ["frontend"], comparison["startup"]
    row = next(d for d in comparison["startup"] if d["service"] == "frontend")
    assert row["after"] > row["before"] + 1.0, row  # the first probe came 2 s later
    gated = cli.check(
        "--executor", "netns", "--baseline", str(base), "--fail-on", "regression", fmt="table"
    )
    assert gated.code == 1 and "REGRESSED start-up frontend" in gated.out, gated


def test_a_new_forbidden_connect_is_a_new_fail_and_a_shared_one_is_known(
    stack, cli, restore, tmp_path: Path
) -> None:
    restore("frontend", "dashboard")
    stack.docker("network", "connect", DATA, stack.container("frontend"))
    base = _baseline(cli, tmp_path)
    assert cli.check("--baseline", str(base), "--fail-on", "new-fail").code == 0  # FAILs, all known

    stack.docker("network", "connect", DATA, stack.container("dashboard"))
    run = cli.check("--baseline", str(base), "--fail-on", "new-fail")

    assert run.code == 1, run
    comparison = run.report["comparison"]
    new_fail = {c["id"] for c in comparison["changes"] if c["category"] == "new-fail"}
    assert "isolation:dashboard->db:5432@data_tier" in new_fail, new_fail
    was_failing = {
        r["id"] for r in json.loads(base.read_text())["results"] if r["verdict"] == "FAIL"
    }
    assert "isolation:frontend->db:5432@data_tier" in was_failing
    assert not new_fail & was_failing, new_fail & was_failing
    assert set(comparison["known_failures"]) == was_failing & {
        r["id"] for r in run.verdicts("FAIL")
    }
    new = tmp_path / "new.json"
    new.write_text(run.out)
    text = cli.run("diff", str(base), str(new), "--fail-on", "new-fail")
    assert text.code == 1 and "New FAIL: isolation:dashboard->db:5432@data_tier" in text.out, text
    assert "Known FAIL: isolation:frontend->db:5432@data_tier" in text.out

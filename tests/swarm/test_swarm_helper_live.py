"""The helper executor on the swarm bed: one helper container per node, started through that node's engine,
probing the tasks of that node with the netns prober (issue 28).

The helper's image (netcontract-test/python-base:local: Debian's python3, nothing of netcontract) is copied
into every node by scripts/swarm/up.sh; without it these tests skip, which scripts/swarm/ci.sh counts as a
failure. Traffic: probes go to the bed's tasks only (the helpers have no network of their own).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from swarm_bed import HELPER_IMAGE, Bed

PROBES = ("dns", "reach", "isolation")


@pytest.fixture
def helper_image(bed: Bed) -> str:
    missing = bed.helper_image_missing()
    if missing:
        pytest.skip(f"{missing}: build it (make tool-image), then make swarm-up copies it")
    return HELPER_IMAGE


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in report["results"]}


def _cut_off_node3(bed: Bed, restore: list[list[str]]) -> str:
    """Node 3 drops VXLAN (udp 4789) until the test ends: its tasks are cut off from the other nodes'."""
    node = sorted(bed.nodes)[2]
    rule = ["INPUT", "-p", "udp", "--dport", "4789", "-j", "DROP"]
    rule += ["-m", "comment", "--comment", "netcontract-test"]
    restore.append(["node", node, "iptables", "-D", *rule])
    bed.node_exec(node, "iptables", "-I", *rule)
    return node


def test_the_helper_on_every_node_gives_the_verdicts_exec_gives_and_leaves_nothing(
    bed: Bed, helper_image: str, tmp_path: Path
) -> None:
    bed.converge()
    by_exec = bed.check("--executor", "exec", tmp=tmp_path)
    assert by_exec.code == 0, by_exec.stdout[-3000:] + by_exec.stderr
    started = time.time()
    got = bed.check("--executor", "helper", "--helper-image", helper_image, tmp=tmp_path)
    ended = time.time() + 1
    assert got.code == 0, got.stdout[-3000:] + got.stderr
    assert _verdicts(got.report) == _verdicts(by_exec.report)
    probes = [r for r in got.report["results"] if r["kind"] in PROBES]
    assert len(probes) > 100 and {r["executor"] for r in probes} == {"helper"}
    # the same sources (every task, each on its own node) as exec
    assert {r["src"] for r in probes} == {
        r["src"] for r in by_exec.report["results"] if r["kind"] in PROBES
    }
    assert any(n.startswith("helper: timeouts judged on windows") for n in got.report["notes"])
    # one helper per node for the whole check, created through that node's engine, and none left
    assert bed.helpers_created(started, ended) == dict.fromkeys(bed.nodes, 1)
    assert bed.helpers_left() == {}
    print(f"\nswarm check: exec {by_exec.seconds:.1f} s, helper {got.seconds:.1f} s wall")


def test_auto_prefers_the_helper_on_every_node(bed: Bed, helper_image: str, tmp_path: Path) -> None:
    bed.converge()
    got = bed.check("--helper-image", helper_image, tmp=tmp_path)
    assert got.code == 0, got.stdout[-3000:] + got.stderr
    probes = [r for r in got.report["results"] if r["kind"] in PROBES]
    assert probes and {r["executor"] for r in probes} == {"helper"}
    note = next(n for n in got.report["notes"] if n.startswith("auto:"))
    assert "netns executor enters only containers of an engine on this host" in note
    assert "probed from each task's own node (one helper per node)" in note
    assert bed.helpers_left() == {}


def test_auto_without_the_helper_image_on_the_nodes_uses_exec_and_says_why(
    bed: Bed, tmp_path: Path
) -> None:
    """An image no node has (and --no-pull): every task goes to exec, and the note names each node's reason."""
    bed.converge()
    got = bed.check("--helper-image", "netcontract-test/no-such-helper:local", tmp=tmp_path)
    assert got.code == 0, got.stdout[-3000:] + got.stderr
    probes = [r for r in got.report["results"] if r["kind"] in PROBES]
    assert probes and {r["executor"] for r in probes} == {"exec"}
    note = next(n for n in got.report["notes"] if n.startswith("auto:"))
    assert "is not present and pulling is off" in note and "exec or sidecar used" in note
    assert bed.helpers_left() == {}


def test_a_replica_cut_off_fails_through_the_helper_and_ctrl_c_leaves_no_helper(
    bed: Bed, helper_image: str, restore: list[list[str]], tmp_path: Path
) -> None:
    """The cross-node paths of node 3 time out: the helper's FAILs name them, as exec's do (no ERROR). Then a
    check kept busy by those timeouts (--timeout 10, retries) is interrupted with SIGINT while its helpers run:
    it exits 130 and no helper container is left on any node."""
    bed.converge()
    node = _cut_off_node3(bed, restore)
    web_elsewhere = sorted(t for t, n in bed.task_nodes("web").items() if n != node)
    assert web_elsewhere
    got = bed.check("--executor", "helper", "--helper-image", helper_image, tmp=tmp_path)
    assert got.code == 1, got.stdout[-3000:] + got.stderr
    failed = got.verdicts("FAIL")
    for web in web_elsewhere:
        r = failed[f"reach:web[{web}]->api:8000@app"]
        assert r["executor"] == "helper" and "web cannot reach api on nctest_app" in r["reason"], r
    assert not got.verdicts("ERROR"), sorted(got.verdicts("ERROR"))
    assert bed.helpers_left() == {}

    argv = bed.argv(
        "--executor",
        "helper",
        "--helper-image",
        helper_image,
        "--timeout",
        "10",
        "--retries",
        "3",
        out=tmp_path / "interrupted.json",
    )
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while len(bed.helpers_left()) < len(bed.nodes):
            assert proc.poll() is None and time.monotonic() < deadline, "no helper on every node"
            time.sleep(0.1)
        time.sleep(1.0)
        assert proc.poll() is None, "the check ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert bed.helpers_left() == {}, "a helper outlived the interrupted check"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

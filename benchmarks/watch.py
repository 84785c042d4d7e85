#!/usr/bin/env python3
"""How fast `netcontract watch` notices a change, and what it costs while nothing happens.

On the 7-service test stack (brought up and taken down by this script unless --keep-stack):
1. latency: `docker network connect` of the forbidden data tier to frontend, until watch prints the
   FAIL line of isolation:frontend->db:5432@data_tier; then `docker network disconnect`, until the PASS
   line; --rounds times (default 10), median and spread;
2. idle: watch's CPU time (utime + stime from /proc) over --idle seconds (default 60) with no events,
   as a share of one core.
Every packet goes to the stack's own containers (watch's probes); nothing else is contacted.

    .venv/bin/python benchmarks/watch.py [--rounds 10] [--idle 60] [--keep-stack]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NETCONTRACT = str(BIN / "netcontract")
COMPOSE = str(BIN / "docker-compose")
STACK = str(ROOT / "docker-compose.test.yaml")
CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")
DATA = "devonboarder_data_tier"
LEAK = "isolation:frontend->db:5432@data_tier"


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], check=True, text=True, capture_output=True
    ).stdout.strip()


def frontend() -> str:
    return docker(
        "ps",
        "--filter",
        "label=com.docker.compose.project=devonboarder",
        "--filter",
        "label=com.docker.compose.service=frontend",
        "--format",
        "{{.Names}}",
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument(
        "--keep-stack", action="store_true", help="use a stack that is already up; leave it up"
    )
    args = ap.parse_args()
    env = {**os.environ, "NETCONTRACT_PROBE_IMAGE": "netcontract-test/probe:local", "NO_COLOR": "1"}
    if not args.keep_stack:
        subprocess.run(
            [COMPOSE, "-f", STACK, "up", "-d", "--wait"], check=True, capture_output=True
        )
    proc = subprocess.Popen(
        [NETCONTRACT, "watch", "-c", CONTRACT, "--no-pull", "--format", "json", "--interval", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or ()], daemon=True).start()
    ready = threading.Event()
    threading.Thread(
        target=lambda: [ready.set() for x in proc.stderr or () if "following engine" in x],
        daemon=True,
    ).start()

    def wait_for(verdict: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                row = json.loads(lines.get(timeout=deadline - time.monotonic()))
            except (queue.Empty, ValueError):
                continue
            if row.get("id") == LEAK and row.get("verdict") == verdict:
                return
        raise SystemExit(f"watch printed no {verdict} line for {LEAK} within {timeout} s")

    try:
        if not ready.wait(60):
            raise SystemExit("watch did not start following events within 60 s")
        name = frontend()
        fail, back = [], []
        for _ in range(args.rounds):
            t0 = time.monotonic()
            docker("network", "connect", DATA, name)
            wait_for("FAIL")
            fail.append(time.monotonic() - t0)
            t0 = time.monotonic()
            docker("network", "disconnect", DATA, name)
            wait_for("PASS")
            back.append(time.monotonic() - t0)
        time.sleep(1)
        before, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.idle)
        idle = (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
    finally:
        proc.terminate()
        proc.wait(30)
        if not args.keep_stack:
            subprocess.run(
                [COMPOSE, "-f", STACK, "down", "--volumes", "--remove-orphans"], capture_output=True
            )

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})"

    print(f"connect -> FAIL line:    {fmt(fail)}")
    print(f"disconnect -> PASS line: {fmt(back)}")
    print(f"idle CPU over {args.idle:g} s: {idle * 100:.2f} % of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`netcontract lint` on the real DevOnboarder compose files, with each compose loader, side by side.

For each file (docker-compose.dev.yaml, .prod.yaml, .ci.yaml of /work/shared/fixtures/devonboarder/,
unmodified upstream; see tests/assets/devonboarder/README.md) lint runs as docs/static.md runs it:

    netcontract lint -c contracts/devonboarder.yaml -f FILE --format json --compose-loader LOADER

as a fresh process each time (Python start-up and imports included: that is what a pre-commit hook
or a CI step pays), N times per loader, alternating loaders so that a busy machine slows both alike.
It prints the median and the range of the wall-clock time, the median CPU time (lint and the
Compose it runs: steadier than wall time when other work shares the machine), the median of the
report's own `duration` (reading the files and running the rules), the exit code, and whether both
loaders gave the same results. Target: under 1 s with Compose's loader (`docker compose config`).

    .venv/bin/python benchmarks/lint_bench.py [--runs 10] [--files DIR] [--contract FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETCONTRACT = str(Path(sys.executable).parent / "netcontract")
FIXTURES = Path("/work/shared/fixtures/devonboarder")
NAMES = ("docker-compose.dev.yaml", "docker-compose.prod.yaml", "docker-compose.ci.yaml")
LOADERS = ("compose", "builtin")
TARGET = 1.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def lint(
    contract: str, path: Path, loader: str
) -> tuple[float, float, float, int, list[tuple[str, str]], str]:
    """(wall seconds, CPU seconds, report duration, exit code, results, loader note) of one lint process.
    CPU time counts lint and the Compose it runs; it varies less than wall time on a busy machine."""
    argv = [
        NETCONTRACT,
        "lint",
        "-c",
        contract,
        "-f",
        str(path),
        "--format",
        "json",
        "--compose-loader",
        loader,
    ]
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        argv, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ), check=False
    )
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    if done.returncode not in (0, 1):
        raise SystemExit(
            f"lint failed ({done.returncode}) on {path} with {loader}: {done.stderr.strip()}"
        )
    report = json.loads(done.stdout)
    results = [(r["id"], r["verdict"]) for r in report["results"]]
    return wall, cpu, float(report["duration"]), done.returncode, results, report["notes"][0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=10, help="runs per file and loader (default 10)"
    )
    parser.add_argument(
        "--files", type=Path, default=FIXTURES, help=f"directory of the files (default {FIXTURES})"
    )
    parser.add_argument("--contract", default=str(ROOT / "contracts" / "devonboarder.yaml"))
    args = parser.parse_args()
    files = [args.files / n for n in NAMES if (args.files / n).is_file()]
    if not files:
        print(f"no DevOnboarder compose files in {args.files}", file=sys.stderr)
        return 2
    print(
        f"netcontract lint, {args.runs} runs per file and loader, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}\n"
    )
    header = (
        f"{'file':<26} {'loader':<8} {'median':>7} {'min':>6} {'max':>6} {'cpu':>6} {'in-report':>9}  exit  same"
        "  read by"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for path in files:
        walls: dict[str, list[float]] = {lo: [] for lo in LOADERS}
        cpus: dict[str, list[float]] = {lo: [] for lo in LOADERS}
        inner: dict[str, list[float]] = {lo: [] for lo in LOADERS}
        seen: dict[str, tuple[int, list[tuple[str, str]], str]] = {}
        for loader in LOADERS:  # one warm-up each (page cache, Compose's version check)
            lint(args.contract, path, loader)
        for _ in range(args.runs):
            for loader in LOADERS:
                wall, cpu, duration, code, results, note = lint(args.contract, path, loader)
                walls[loader].append(wall)
                cpus[loader].append(cpu)
                inner[loader].append(duration)
                seen[loader] = (code, results, note)
        same = seen["compose"][:2] == seen["builtin"][:2]
        for loader in LOADERS:
            median = statistics.median(walls[loader])
            if loader == "compose":
                worst = max(worst, median)
            note = seen[loader][2].removeprefix("compose files read by ")
            print(
                f"{path.name:<26} {loader:<8} {median:>6.2f}s {min(walls[loader]):>5.2f}s {max(walls[loader]):>5.2f}s "
                f"{statistics.median(cpus[loader]):>5.2f}s {statistics.median(inner[loader]):>8.2f}s  "
                f"{seen[loader][0]:>4}  {'yes' if same else 'NO':>4}  {note[:60]}"
            )
    print(
        f"\nslowest median with Compose's loader: {worst:.2f}s (target < {TARGET:.0f} s: "
        f"{'met' if worst < TARGET else 'MISSED'}; load average now {os.getloadavg()[0]:.2f})"
    )
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Start-up time of the command line: `netcontract --version`, `--help` and `check --help`, side by side
with `docker --version` and a bare `python -c pass` (the interpreter's floor), in one run.

Each command runs as a fresh process, N times (default 9), the commands interleaved so that a busy machine
slows all of them alike; the package is byte-compiled first, as an installed wheel is. Prints the median
and the range of the wall-clock time for each, the median CPU time (user + system: steadier when other
work shares the machine), and whether the median wall time meets the target (0.1 s for --version and
--help). With --wheel, the same commands also run from a wheel installed into a fresh venv
outside the checkout (no editable-install finder on the import path: what a user of `pipx install` runs).

    .venv/bin/python benchmarks/startup.py [--runs 9] [--wheel] [--also OTHER/.venv/bin]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET = 0.1


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(argv: list[str]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of the child): CPU time is steadier when other work shares the machine."""
    c0, t0 = _cpu(), time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, _cpu() - c0


def _wheel_bin(work: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    env = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    (wheel,) = (work / "dist").glob("*.whl")
    subprocess.run(
        [str(env / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True
    )
    return env / "bin"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--wheel", action="store_true", help="also time a wheel installed in a fresh venv"
    )
    parser.add_argument(
        "--also",
        metavar="BINDIR",
        action="append",
        default=[],
        help="also time the netcontract in BINDIR (e.g. another checkout's .venv/bin)",
    )
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "netcontract"), quiet=1)

    commands: dict[str, list[str]] = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "docker --version": [shutil.which("docker") or "docker", "--version"],
    }
    with tempfile.TemporaryDirectory(prefix="nc-startup-") as tmp:
        installs = {"editable (.venv)": BIN}
        if args.wheel:
            installs["wheel (fresh venv)"] = _wheel_bin(Path(tmp))
        for other in args.also:
            installs[other] = Path(other)
        for label, bindir in installs.items():
            nc = str(bindir / "netcontract")
            commands[f"netcontract --version [{label}]"] = [nc, "--version"]
            commands[f"netcontract --help [{label}]"] = [nc, "--help"]
            commands[f"netcontract check --help [{label}]"] = [nc, "check", "--help"]
        for argv in commands.values():  # warm the page cache and the bytecode of every install
            _time(argv)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(_time(argv))

    print(
        f"start-up, median of {args.runs} runs, whole process; load average {os.getloadavg()[0]:.2f}"
    )
    width = max(map(len, times))
    print(f"  {'command':<{width}}  wall (min..max)            cpu")
    for name, ts in times.items():
        wall = [w for w, _ in ts]
        med = statistics.median(wall)
        verdict = ""
        if name.startswith("netcontract"):
            verdict = "  meets 0.1 s" if med <= TARGET else "  OVER 0.1 s"
        print(
            f"  {name:<{width}}  {med:.3f} s ({min(wall):.3f}..{max(wall):.3f})  "
            f"{statistics.median(c for _, c in ts):.3f} s{verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Mutation testing of the modules that decide verdicts, against the unit suite only.

`make mutate` runs this. mutmut (configured in pyproject.toml, [tool.mutmut]) copies the
project to mutants/, mutates the modules listed in `only_mutate` (the judge, the structural
checks, the planner, the output parsers, the DNS and ICMP wire formats and the netns engine),
and runs the tests of tests/unit
that cover each mutated function (no Docker daemon is needed). mutmut's own progress goes to
mutants/mutate.log; the survivors go to stderr; stdout gets one line, last:

    killed K of N

K counts the mutants the suite detected (a failing test, or a timeout); N all mutants.
mutants/ is recreated on every run unless --keep is given (mutmut then reuses its cache).
Show one survivor's diff with `.venv/bin/mutmut show NAME`. See docs/testing.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DETECTED = ("killed", "timeout", "caught by type check")


def mutmut() -> str:
    here = Path(sys.executable).parent / "mutmut"
    found = str(here) if here.exists() else shutil.which("mutmut")
    if not found:
        sys.exit("mutate: mutmut is not installed: run `make venv` (it is in the dev extra)")
    return found


def statuses(tool: str) -> dict[str, str]:
    out = subprocess.run(
        [tool, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    got = {}
    for line in out.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            got[name] = status
    return got


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--keep", action="store_true", help="reuse mutants/ and mutmut's cache from the last run"
    )
    ap.add_argument(
        "--max-children", type=int, default=os.cpu_count() or 2, help="parallel test processes"
    )
    ap.add_argument(
        "--fail-under",
        type=float,
        default=0.0,
        metavar="PCT",
        help="exit 1 when fewer than PCT%% of the mutants are killed",
    )
    args = ap.parse_args()

    tool = mutmut()
    mutants = ROOT / "mutants"
    if not args.keep and mutants.exists():
        shutil.rmtree(mutants)
    mutants.mkdir(exist_ok=True)
    log = mutants / "mutate.log"
    start = time.monotonic()
    with log.open("w") as out:
        run = subprocess.run(
            [tool, "run", "--max-children", str(args.max_children)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    took = time.monotonic() - start
    if run.returncode != 0:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        print(
            f"mutate: mutmut run exited {run.returncode} (full log: {log.relative_to(ROOT)})",
            file=sys.stderr,
        )
        return run.returncode

    got = statuses(tool)
    if not got:
        print("mutate: mutmut reported no mutants", file=sys.stderr)
        return 1
    counts = Counter(got.values())
    killed = sum(counts[s] for s in DETECTED)
    survivors = sorted(name for name, status in got.items() if status not in DETECTED)
    for name in survivors:
        print(f"  {got[name]}: {name}", file=sys.stderr)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(
        f"mutate: {summary} in {took:.0f} s; `{Path(tool).name} show NAME` shows a mutant",
        file=sys.stderr,
    )
    print(f"killed {killed} of {len(got)}", flush=True)
    if args.fail_under and killed * 100 < args.fail_under * len(got):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""How big the HTML report (`check --html`) is on generated stacks (benchmarks/bench.py's layout).

For each size: bring the stack up (project ncbenchN, label org.netcontract.test=1, only our own
containers), run `netcontract check --html --json` once, print the checks, the verdicts and the page's
size, and take the stack down whatever happened. Also the size the same page would have if every check
had passed (a loaded machine can time reach probes out; the passing page is the steady-state figure).
Hold the shared lock: `flock /tmp/netcontract-live.lock .venv/bin/python benchmarks/report_size.py`.

    .venv/bin/python benchmarks/report_size.py [--sizes 48]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench

from netcontract.contract import load_contract
from netcontract.report import html
from netcontract.results import Report, Result, Verdict


def _report(path: Path, contract: Path) -> Report:
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = {f.name for f in dataclasses.fields(Result)}
    results = tuple(Result(**{k: v for k, v in r.items() if k in fields and k != "verdict"},
                           verdict=Verdict(r["verdict"])) for r in data["results"])
    return Report(data["contract"], results, project=data["project"], notes=tuple(data["notes"]),
                  topology=load_contract(contract).topology())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="48")
    args = ap.parse_args()
    env = dict(os.environ, NETCONTRACT_PROBE_IMAGE=bench.PROBE_IMAGE)
    print(f"{'containers':>10} {'checks':>7} {'failed':>6} {'errors':>6} {'page KB':>8} {'all-pass KB':>11}")
    with tempfile.TemporaryDirectory(prefix="ncreport") as tmp:
        work = Path(tmp)
        for n in (int(x) for x in args.sizes.split(",")):
            cfile, kfile, project = bench.generate(n, work)
            try:
                bench.up(cfile, project)
                page, js = work / f"{project}.html", work / f"{project}.json"
                subprocess.run([bench.NETCONTRACT, "check", "-c", str(kfile), "-q", "--no-pull", "--html", str(page),
                                "--json", str(js)], env=env, capture_output=True, text=True, check=False)
                report = _report(js, kfile)
                passing = dataclasses.replace(report, results=tuple(r.with_verdict(Verdict.PASS, "")
                                                                    for r in report.results))
                s = report.summary
                print(f"{n:>10} {s.total:>7} {s.failed:>6} {s.errors:>6} {page.stat().st_size / 1000:>8.0f} "
                      f"{len(html.render(passing).encode()) / 1000:>11.0f}")
            finally:
                bench.down(cfile, project)
    return 0


if __name__ == "__main__":
    sys.exit(main())

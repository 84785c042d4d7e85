#!/usr/bin/env python3
"""Every case of the hostile corpus (tests/hostile/corpus.py), for lint, init, scaffold --dry-run and
graph, with both compose loaders (Compose's own, `--compose-loader compose`, and netcontract's reader,
`--compose-loader builtin`; graph reads no compose file and runs once), each as a fresh process in a
fresh copy of the case's directory.

For each run it prints the wall time, the peak memory (the largest resident set among netcontract and
the processes it ran, Compose included: getrusage of the children of a small measuring interpreter),
the exit code against the expected one, and the line on stderr; a run is `ok` when its exit code and
line are the documented ones, stderr is at most one line, nothing printed holds a bare carriage
return, an escape or a bidi control, no file the case protects changed, and it
stays within `SECONDS` and `MEGABYTES` (5 s, 200 MB). A run still going after --timeout is killed
with its process group and shown as `timeout`.

    .venv/bin/python benchmarks/hostile.py [--case NAME ...] [--command lint ...] [--loader builtin ...]
                                           [--timeout 30] [--json results.json]

Exit status: 0 when every run is ok, 1 otherwise. CPU-heavy: run it under the shared lock
(`flock /tmp/netcontract-live.lock ...`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "hostile"))

from corpus import CASES, COMMANDS, LOADERS, MEGABYTES, SECONDS, Case  # noqa: E402

NETCONTRACT = str(Path(sys.executable).parent / "netcontract")
MAX_CONTRACT_LINES = 21  # contract.MAX_ISSUES lines, then "... and N more problems"

# Runs one command in its own session (so a timeout kills Compose too) and prints what it cost.
_MEASURE = r"""
import json, os, resource, signal, subprocess, sys, time
timeout = float(sys.argv[1])
t = time.monotonic()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     start_new_session=True)
try:
    out, err = p.communicate(timeout=timeout)
    code = p.returncode
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    out, err = p.communicate()
    code = None
wall = time.monotonic() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
text = (out + err).decode("utf-8", "replace")
raw = any(c in text for c in "\r\x1b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")
print(json.dumps({"code": code, "wall": wall, "mb": u.ru_maxrss / 1024, "out_bytes": len(out), "raw": raw,
                  "err": err.decode("utf-8", "replace")[:4000], "err_bytes": len(err)}))
"""


def run_case(
    case: Case, command: str, loader: str, timeout: float, netcontract: list[str]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="netcontract-hostile-") as tmp:
        directory = case.make(Path(tmp))
        before = {rel: _digest(directory / rel) for rel in case.must_not_change}
        argv = [*netcontract, *case.argv(command, loader)]
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(timeout), *argv],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
        )
        got: dict[str, Any] = json.loads(done.stdout)
        changed = [rel for rel, digest in before.items() if _digest(directory / rel) != digest]
    want_code, want_text = case.expected(command, loader)
    err: str = got["err"]
    lines = err.splitlines()
    problems = []
    if got["code"] is None:
        problems.append("timeout")
    elif got["code"] != want_code:
        problems.append(f"exit {got['code']}, want {want_code}")
    allowed = (
        MAX_CONTRACT_LINES if want_code == 4 else 1
    )  # a contract's problems: the first 20, and a count
    if len(lines) > allowed or got["err_bytes"] > 4000:
        problems.append(f"{len(lines)} lines / {got['err_bytes']} bytes on stderr")
    if want_text and want_text not in err:
        problems.append(f"no {want_text!r}")
    if "Traceback" in err:
        problems.append("traceback")
    if got["raw"]:
        problems.append("raw control characters on the terminal")
    if changed:
        problems.append(f"wrote over {', '.join(changed)}")
    if got["wall"] > SECONDS:
        problems.append(f"over {SECONDS:g} s")
    if got["mb"] > MEGABYTES:
        problems.append(f"over {MEGABYTES} MB")
    return {
        "case": case.name,
        "command": command,
        "loader": loader if command != "graph" else "-",
        "code": got["code"],
        "want": want_code,
        "wall": round(got["wall"], 2),
        "mb": round(got["mb"]),
        "line": lines[0] if lines else "",
        "problems": problems,
    }


def _digest(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", default=[], help="only this case (repeatable)")
    parser.add_argument("--command", action="append", choices=COMMANDS, default=[])
    parser.add_argument("--loader", action="append", choices=LOADERS, default=[])
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--json", help="also write every row here")
    parser.add_argument(
        "--netcontract",
        default=NETCONTRACT,
        help="the command to run (e.g. 'python -m netcontract' with PYTHONPATH set to an older tree, "
        "for a before/after table)",
    )
    args = parser.parse_args()
    if "compose" in (args.loader or LOADERS) and not shutil.which(
        "docker-compose", path=str(Path(NETCONTRACT).parent)
    ):
        print(
            "note: no docker-compose beside this interpreter; Compose's loader may fall back",
            file=sys.stderr,
        )
    rows = []
    header = (
        f"{'case':34} {'command':8} {'loader':7} {'exit':>9} {'wall s':>7} {'MB':>5}  result / line"
    )
    print(header)
    for case in CASES:
        if args.case and case.name not in args.case:
            continue
        for command in args.command or COMMANDS:
            for loader in ("-",) if command == "graph" else (args.loader or LOADERS):
                row = run_case(
                    case,
                    command,
                    "builtin" if loader == "-" else loader,
                    args.timeout,
                    args.netcontract.split(),
                )
                rows.append(row)
                verdict = "ok" if not row["problems"] else "FAIL " + "; ".join(row["problems"])
                code = "timeout" if row["code"] is None else str(row["code"])
                print(
                    f"{case.name:34} {command:8} {row['loader']:7} {code + '/' + str(row['want']):>9} "
                    f"{row['wall']:7.2f} {row['mb']:5d}  {verdict} | {row['line'][:110]}",
                    flush=True,
                )
    bad = [r for r in rows if r["problems"]]
    worst_wall = max((r["wall"] for r in rows), default=0.0)
    worst_mb = max((r["mb"] for r in rows), default=0)
    print(
        f"\n{len(rows)} runs, {len(rows) - len(bad)} ok, {len(bad)} not; slowest {worst_wall:.2f} s, "
        f"largest {worst_mb} MB (ceilings {SECONDS:g} s, {MEGABYTES} MB)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

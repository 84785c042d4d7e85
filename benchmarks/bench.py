#!/usr/bin/env python3
"""netcontract vs the naive validation script, side by side in one run, plus scaling.

1. On the 7-service DevOnboarder test stack (docker-compose.test.yaml), time
   `netcontract check` with each executor (netns; exec with sidecars, i.e.
   auto without CAP_SYS_ADMIN; sidecar) against the naive baseline that
   hand-written validation scripts use: one `docker exec SRC ping -c1 -W1 IP`
   per ordered pair and network, and one `docker exec SRC nslookup NAME` per
   alias, in a shell loop. Also on a generated 7-container stack whose images
   all have ping and nslookup, so the baseline does all of its work.
2. Generated stacks of 8, 24, 48 (and 200) containers across three tiers: how
   the check time, the probe count and the peak RSS grow, per executor.

Every stack here is one this script creates (project names `ncbench*`, label
org.netcontract.test=1) and removes; every probe targets those containers.

    .venv/bin/python benchmarks/bench.py [--sizes 8,24,48,200] [--repeat 5] [--skip-baseline]
                                         [--executors netns,exec,sidecar,helper] [--exec-max 48]
                                         [--compare-with OTHER/.venv/bin/netcontract]

--compare-with times another build of netcontract (an earlier commit's checkout, e.g. made with
`git worktree add ../base <commit> && make -C ../base venv`) on the same stacks with the netns executor,
its runs interleaved with this one's so that a busy machine slows both alike, and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NETCONTRACT = str(BIN / "netcontract")
COMPOSE = str(BIN / "docker-compose")
PROBE_IMAGE = os.environ.get("NETCONTRACT_PROBE_IMAGE", "netcontract-test/probe:local")
IMAGE = "netcontract-test/busybox:local"


def sh(cmd: list[str], check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kw)  # type: ignore[call-overload]


# -- generated stacks --------------------------------------------------------------------------

TIERS = ("edge", "app", "data")


def layout(n: int) -> list[tuple[str, list[str]]]:
    """n services over three tiers: a quarter at the edge, half in app (every third also on data),
    a quarter on the internal data tier."""
    out = []
    for i in range(n):
        q = i * 4 // n
        if q == 0:
            tiers = ["edge", "app"] if i % 4 == 0 else ["edge"]
        elif q in (1, 2):
            tiers = ["app", "data"] if i % 3 == 0 else ["app"]
        else:
            tiers = ["data"]
        out.append((f"svc{i}", tiers))
    return out


def generate(n: int, workdir: Path) -> tuple[Path, Path, str]:
    project = f"ncbench{n}"
    services = layout(n)
    compose: dict[str, object] = {
        "name": project,
        "networks": {
            t: {
                "name": f"{project}_{t}",
                "internal": t == "data",
                "labels": {"org.netcontract.test": "1"},
            }
            for t in TIERS
        },
        "services": {
            name: {
                "image": IMAGE,
                "pull_policy": "never",
                "init": True,
                # busybox httpd's backlog of 9 drops SYNs when dozens of sources connect at once
                "command": ["listen", "8080"],
                "dns": ["127.0.0.1"],  # unknown names never leave the machine
                "labels": {"org.netcontract.test": "1"},
                "networks": {t: {"aliases": [f"{name}.{t}.internal"]} for t in tiers},
            }
            for name, tiers in services
        },
    }
    contract = {
        "version": 1,
        "project": project,
        "tiers": {t: {"network": f"{project}_{t}", "internal": t == "data"} for t in TIERS},
        "services": {
            name: {
                "tiers": tiers,
                "ports": [8080],
                "aliases": {t: [f"{name}.{t}.internal"] for t in tiers},
            }
            for name, tiers in services
        },
        "policy": {"allow": ["edge -> app", "app -> data"]},
    }
    cfile = workdir / f"{project}.compose.json"
    kfile = workdir / f"{project}.contract.json"
    cfile.write_text(json.dumps(compose, indent=1))
    kfile.write_text(json.dumps(contract, indent=1))
    return cfile, kfile, project


def up(compose_file: Path, project: str) -> None:
    sh([COMPOSE, "-f", str(compose_file), "-p", project, "up", "-d", "--wait"])


def down(compose_file: Path, project: str) -> None:
    sh(
        [COMPOSE, "-f", str(compose_file), "-p", project, "down", "-v", "--remove-orphans"],
        check=False,
    )


# -- the two contenders ----------------------------------------------------------------------


# auto without CAP_SYS_ADMIN: exec where the image has the tools, a sidecar where not (as netcontract in a
# container, or on a host where it is not root, would run)
NO_NETNS = ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", "--"]
EXECUTORS = {
    "netns": ([], ["--executor", "netns"]),
    "exec": (NO_NETNS, ["--executor", "auto"]),
    "sidecar": ([], ["--executor", "sidecar"]),
    # the helper container (scripts/build-tool-image.sh builds its python3 image), for a process without
    # CAP_SYS_ADMIN, as `exec` above
    "helper": (
        NO_NETNS,
        [
            "--executor",
            "helper",
            "--helper-image",
            os.environ.get("NETCONTRACT_HELPER_IMAGE", "netcontract-test/python-base:local"),
        ],
    ),
}


# Runs one command and reports its own wall time and peak RSS: RUSAGE_CHILDREN of a process with one child
# is that child's figure (this script's own counter would hold the largest of all runs so far).
_MEASURE = (
    "import resource,subprocess,sys,time\nt=time.perf_counter()\nr=subprocess.run(sys.argv[1:])\n"
    "w=time.perf_counter()-t\nsys.stderr.write(f'@@measure {w} {resource.getrusage(resource.RUSAGE_CHILDREN)"
    ".ru_maxrss}\\n')\nsys.exit(r.returncode)\n"
)


def run_netcontract(
    contract: Path, executor: str = "netns", binary: str = NETCONTRACT
) -> tuple[float, int, int]:
    """Wall time (process start included), exit code and peak RSS (KiB) of one `netcontract check`."""
    env = dict(os.environ, NETCONTRACT_PROBE_IMAGE=PROBE_IMAGE)
    prefix, extra = EXECUTORS[executor]
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            *prefix,
            binary,
            "check",
            "-c",
            str(contract),
            "-q",
            "--no-pull",
            *extra,
        ],
        env=env,
        text=True,
        capture_output=True,
    )
    line = [x for x in p.stderr.splitlines() if x.startswith("@@measure ")][-1].split()
    if p.returncode != 0:
        print(p.stdout[-3000:], p.stderr[-2000:], file=sys.stderr)
    return float(line[1]), p.returncode, int(line[2])


def naive_script(project: str) -> tuple[str, int]:
    """The hand-written validation loop, built from the live containers of `project`."""
    ids = sh(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"]
    ).stdout.split()
    info = json.loads(sh(["docker", "inspect", *ids]).stdout)
    boxes = []
    for c in info:
        nets = c["NetworkSettings"]["Networks"]
        boxes.append(
            (
                c["Name"].lstrip("/"),
                {n: (v["IPAddress"], v.get("Aliases") or []) for n, v in nets.items()},
            )
        )
    lines = ["#!/bin/sh", "# one docker exec per pair, as hand-written validation scripts do"]
    count = 0
    for src, _ in boxes:
        for dst, dnets in boxes:
            if dst == src:
                continue
            for _net, (ip, aliases) in dnets.items():
                lines.append(
                    f"docker exec {shlex.quote(src)} ping -c1 -W1 {ip} >/dev/null 2>&1 || true"
                )
                count += 1
                for alias in aliases:
                    if "." in alias:  # declared aliases (dotted), not the short id or service name
                        lines.append(
                            f"docker exec {shlex.quote(src)} nslookup {shlex.quote(alias)} "
                            ">/dev/null 2>&1 || true"
                        )
                        count += 1
    return "\n".join(lines) + "\n", count


def run_naive(project: str) -> tuple[float, int]:
    script, count = naive_script(project)
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", script], check=False)
    return time.perf_counter() - t0, count


def median_run(contract: Path, repeat: int, executor: str = "netns") -> tuple[float, int, int]:
    runs = [run_netcontract(contract, executor) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), max(r[2] for r in runs)


def compare_runs(contract: Path, repeat: int, other: str) -> str:
    """This build against `other` with the netns executor, runs interleaved: medians, RSS and the ratio."""
    ours, theirs = [], []
    for _ in range(repeat):
        theirs.append(run_netcontract(contract, "netns", other))
        ours.append(run_netcontract(contract, "netns"))
    t_ours, t_theirs = (statistics.median(r[0] for r in runs) for runs in (ours, theirs))
    rss_ours, rss_theirs = (max(r[2] for r in runs) / 1024 for runs in (ours, theirs))
    codes = f"{max(r[1] for r in ours)}/{max(r[1] for r in theirs)}"
    return (
        f"this build {t_ours:.2f} s ({rss_ours:.0f} MiB) · --compare-with {t_theirs:.2f} s "
        f"({rss_theirs:.0f} MiB) · {t_theirs / t_ours:.2f}x faster · exits {codes} · median of {repeat}, "
        "interleaved"
    )


NEIGH = Path("/proc/sys/net/ipv4/neigh/default")


def neighbour_table(largest: int) -> str:
    """Dense stacks overflow the kernel's ARP table (one table for every network namespace,
    gc_thresh3 = 1024 by default): new neighbours are then dropped and reachable ports time
    out ("neighbour: arp_cache: neighbor table overflow!" in dmesg). Each source holds an entry
    for every peer it probes on its networks: about n^2 for n containers (measured: 200
    containers overflowed 8192). Raise it to fit the largest stack when we may; netcontract
    itself says so in a note when a check needs more than the kernel keeps."""
    want = max(8192, 1 << (largest * largest - 1).bit_length())  # a power of two >= n^2
    try:
        current = int((NEIGH / "gc_thresh3").read_text())
    except OSError:
        return "neighbour table: unknown"
    if current >= want:
        return f"neighbour table: gc_thresh3={current}"
    if os.geteuid() != 0:
        return (
            f"WARNING: neighbour table gc_thresh3={current}: the {largest}-container stack may overflow it; "
            f"as root: sysctl -w net.ipv4.neigh.default.gc_thresh3={want}"
        )
    values = (("gc_thresh1", want // 8), ("gc_thresh2", want // 2), ("gc_thresh3", want))
    for name, value in values:
        (NEIGH / name).write_text(str(value))
    return (
        f"neighbour table: raised gc_thresh1/2/3 to {'/'.join(str(v) for _, v in values)} "
        f"(was gc_thresh3={current})"
    )


def side_by_side(
    label: str, contract: Path, project: str, repeat: int, executors: list[str]
) -> None:
    t_naive, n = run_naive(project)
    print(f"  naive exec loop   : {t_naive:7.2f} s  ({n} docker exec calls)")
    for ex in executors:
        t_nc, rc, rss = median_run(contract, repeat, ex)
        print(
            f"  netcontract {ex:<7}: {t_nc:7.2f} s  median of {repeat} (exit {rc}, peak RSS {rss / 1024:.0f} MiB)"
            f"   ratio {t_naive / t_nc:6.1f}x"
        )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="8,24,48,200")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--executors", default="netns,exec,sidecar")
    ap.add_argument(
        "--exec-max", type=int, default=48, help="largest stack the exec executor is timed on"
    )
    ap.add_argument(
        "--compare-with",
        metavar="NETCONTRACT",
        help="another build's netcontract executable, timed beside this one (netns)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    executors = [e for e in args.executors.split(",") if e]
    sh(["bash", str(ROOT / "scripts" / "build-images.sh")])
    # Byte-compile netcontract as an installed package is (pip compiles at install time): an editable
    # install under PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run (~0.1 s).
    sh([sys.executable, "-m", "compileall", "-q", str(ROOT / "netcontract")])
    print(
        f"netcontract benchmark on {os.cpu_count()} cores; default options; median of {args.repeat}"
    )
    print(neighbour_table(max([*sizes, 7])))
    print(
        sh(
            [
                "docker",
                "version",
                "--format",
                "engine {{.Server.Version}} (API {{.Server.APIVersion}})",
            ]
        ).stdout
    )

    test_stack = ROOT / "docker-compose.test.yaml"
    contract = ROOT / "contracts" / "devonboarder.yaml"
    if not args.skip_baseline:
        print("== 1. side by side on the 7-service DevOnboarder test stack ==")
        print(
            "   (ping/nslookup are missing in 3 of its 7 images, so many naive calls fail at once)"
        )
        up(test_stack, "devonboarder")
        try:
            side_by_side("devonboarder-7", contract, "devonboarder", args.repeat, executors)
            if args.compare_with:
                print("  " + compare_runs(contract, max(9, args.repeat), args.compare_with))
        finally:
            down(test_stack, "devonboarder")

    with tempfile.TemporaryDirectory(prefix="ncbench") as tmp:
        work = Path(tmp)
        if not args.skip_baseline:
            print(
                "\n== 2. side by side on a generated 7-container stack (every image has ping and nslookup) =="
            )
            cfile, kfile, project = generate(7, work)
            up(cfile, project)
            try:
                side_by_side("generated-7", kfile, project, args.repeat, executors)
            finally:
                down(cfile, project)

        print("\n== 3. scaling: generated stacks ==")
        print(
            f"{'containers':>10} {'executor':>9} {'probes':>8} {'check s':>8} {'s/container':>12} {'RSS MiB':>8}"
            f" {'exit':>5}"
        )
        for n in sizes:
            cfile, kfile, project = generate(n, work)
            up(cfile, project)
            try:
                probes = _probe_count(kfile)
                for ex in executors:
                    if ex != "netns" and n > args.exec_max:
                        continue
                    t_nc, rc, rss = median_run(
                        kfile, args.repeat if n <= 48 else max(1, args.repeat // 2), ex
                    )
                    print(
                        f"{n:>10} {ex:>9} {probes:>8} {t_nc:>8.2f} {t_nc / n:>12.3f} {rss / 1024:>8.0f} {rc:>5}"
                    )
                if args.compare_with:
                    rounds = args.repeat if n <= 48 else max(1, args.repeat // 2)
                    print(
                        f"{'':>10} {'':>9} {'':>8} "
                        + compare_runs(kfile, rounds, args.compare_with)
                    )
            finally:
                down(cfile, project)
    return 0


def _probe_count(contract: Path) -> int:
    env = dict(os.environ, NETCONTRACT_PROBE_IMAGE=PROBE_IMAGE)
    p = subprocess.run(
        [NETCONTRACT, "check", "-c", str(contract), "--format", "json", "--no-pull"],
        env=env,
        text=True,
        capture_output=True,
    )
    try:
        data = json.loads(p.stdout)
    except json.JSONDecodeError:
        return -1
    return sum(
        1
        for r in data["results"]
        if r["kind"] in ("dns", "reach", "isolation", "egress", "host") and r["attempts"]
    )


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What reading every actor adds to the snapshot (issue 19), measured on a running stack.

    flock /tmp/netcontract-live.lock .venv/bin/python benchmarks/snapshot_actors.py [--project devonboarder]

The snapshot used to list the project's containers with a label filter; it now lists every
container on the engine once (`GET /containers/json?all=1`) and keeps, besides the project's and
the tier members, those on the host's network and those in a kept container's namespace. This
prints, side by side in one run: the median of N snapshots as they are now, the median of the
two list calls alone (filtered, as before, and unfiltered, as now), and how many containers the
engine holds. Read-only: it inspects, lists and nothing else.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from netcontract.contract import load_contract
from netcontract.live.docker.engine import connect_read, snapshot
from netcontract.state import PROJECT_LABEL


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contract", default="contracts/devonboarder.yaml")
    ap.add_argument("--project", default="devonboarder")
    ap.add_argument("-n", type=int, default=30)
    args = ap.parse_args()
    contract = load_contract(args.contract)
    networks = [t.network for t in contract.tiers.values()]
    api = connect_read()
    try:
        listed = api.containers(all=True)
        state = snapshot(api, args.project, networks)
        filtered = _median_ms(
            lambda: api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={args.project}"}),
            args.n,
        )
        unfiltered = _median_ms(lambda: api.containers(all=True), args.n)
        whole = _median_ms(lambda: snapshot(api, args.project, networks), args.n)
    finally:
        api.close()
    print(f"engine containers: {len(listed)}; snapshot keeps {len(state.containers)}")
    print(f"list, label filter (before):  {filtered:7.2f} ms (median of {args.n})")
    print(f"list, every container (now):  {unfiltered:7.2f} ms")
    print(f"added by the unfiltered list: {unfiltered - filtered:+7.2f} ms")
    print(f"whole snapshot (now):         {whole:7.2f} ms")


if __name__ == "__main__":
    main()

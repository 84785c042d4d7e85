"""Reading the kernel's connection tracking table: the flows `observe` maps to services.

Two sources, one text format:
- `/proc/net/nf_conntrack` (the default): present on the engine's host whenever netfilter's
  conntrack is loaded (Docker's NAT loads it), readable by root, no package needed.
- `conntrack -L -o extended -f ipv4|ipv6` (conntrack-tools), when the proc file is absent (kernels built without
  NF_CONNTRACK_PROCFS); its extended output has the proc file's columns.

Both are polled, never subscribed to: a conntrack entry outlives its connection (TCP CLOSE 10 s,
TIME_WAIT 120 s, UDP 30 s by default), so reading the table every second sees every flow that
starts in the window, without a netlink dependency. Nothing is written to the table, no packet is
sent. The parser (conntrack_parse.py) is pure and reads either source's lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator

from netcontract.conntrack_parse import ConnEntry, parse_table
from netcontract.errors import EngineError

PROC_PATH = "/proc/net/nf_conntrack"


def available_sources() -> list[str]:
    """The sources this host offers, best first: `proc` when the file can be read, `conntrack` when the tool is on PATH."""
    out = []
    if os.access(PROC_PATH, os.R_OK):
        out.append("proc")
    if shutil.which("conntrack"):
        out.append("conntrack")
    return out


def choose_source(wanted: str) -> str:
    """`proc` or `conntrack` for --source WANTED (auto: the first available); EngineError when none can be read."""
    have = available_sources()
    if wanted == "auto":
        if have:
            return have[0]
        raise EngineError(
            f"cannot read connection tracking: {PROC_PATH} is not readable here and the `conntrack` "
            "tool is not installed (run as root on the engine's host; apt-get install conntrack)"
        )
    if wanted not in have:
        why = (
            f"{PROC_PATH} is not readable"
            if wanted == "proc"
            else "the `conntrack` tool is not on PATH"
        )
        raise EngineError(f"cannot read connection tracking through {wanted}: {why}")
    return wanted


def read_table(source: str) -> list[ConnEntry]:
    """The table as it is now, through `source` (`proc` or `conntrack`); EngineError when it cannot be read."""
    if source == "proc":
        try:
            with open(PROC_PATH, encoding="ascii", errors="replace") as f:
                return parse_table(f.read())
        except OSError as exc:
            raise EngineError(f"cannot read {PROC_PATH}: {exc.strerror or exc}") from None
    out: list[ConnEntry] = []
    for family in ("ipv4", "ipv6"):  # `conntrack -L` lists IPv4 only unless told
        try:
            run = subprocess.run(
                ["conntrack", "-L", "-o", "extended", "-f", family],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineError(f"cannot run conntrack -L: {exc}") from None
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[-1]
            raise EngineError(f"conntrack -L failed: {last}")
        out += parse_table(run.stdout)
    return out


def poll(source: str, ticks: Iterable[float]) -> Iterator[tuple[float, list[ConnEntry]]]:
    """(time, table) once per tick: `ticks` yields the time of each read (it sleeps between them)."""
    for t in ticks:
        yield t, read_table(source)

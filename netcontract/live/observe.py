"""observe: the project's flows for a window, read from this host's connection tracking table.

Only reads: the engine's API (a snapshot at the start and one at the end, so a replica started
during the window is named) and the kernel's conntrack table once a second. No packet is sent,
nothing is changed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from netcontract.errors import EngineError
from netcontract.flows import Accumulator, FlowWindow, address_index
from netcontract.live import conntrack
from netcontract.state import State


def _snapshot(project: str | None) -> State:
    from netcontract.live.docker import engine as docker_engine
    from netcontract.live.init_source import project_snapshot

    client = docker_engine.connect_read()
    try:
        return project_snapshot(client, project)[0]
    finally:
        client.close()


def bridges_here(state: State) -> tuple[bool, str]:
    """(whether this process's network namespace holds the stack's bridges, a note). Conntrack is per network
    namespace: an engine in another one (another host, a VM, a namespace of its own) is not seen here."""
    bridges = [
        n
        for n in state.networks
        if n.driver == "bridge"
        and n.id
        and n.name != "bridge"
        and any(c.endpoint(n.name) for c in state.containers if c.project == state.project)
    ]
    if not bridges:
        return (
            True,
            "the stack has no bridge network of its own: whether its flows cross this host's table is not known",
        )
    for n in bridges:
        name = dict(n.options).get("com.docker.network.bridge.name") or f"br-{n.id[:12]}"
        if os.path.exists(f"/sys/class/net/{name}"):
            return True, ""
    return False, ""


def observe(
    project: str | None,
    seconds: float | None,
    source: str = "auto",
    interval: float = 1.0,
    stop: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> FlowWindow:
    """Observe the project's flows for `seconds` (None: until `stop` is set, e.g. by Ctrl-C).

    EngineError when the engine or the table cannot be read, or when the engine's bridges are not in this
    network namespace (its flows would never show here)."""
    chosen = conntrack.choose_source(source)
    state = _snapshot(project)
    here, note = bridges_here(state)
    if not here:
        raise EngineError(
            "the stack's bridge networks are not in this network namespace: its connection tracking "
            "table would never show their flows (run observe on the engine's own host)"
        )
    acc = Accumulator(address_index(state))
    stop = stop or threading.Event()
    started, t0 = time.time(), time.monotonic()
    while True:
        acc.add(time.time(), conntrack.read_table(chosen))
        elapsed = time.monotonic() - t0
        if progress:
            progress(elapsed)
        if seconds is not None and elapsed >= seconds:
            break
        wait = interval if seconds is None else min(interval, max(0.0, seconds - elapsed))
        try:
            stopped = stop.wait(wait)
        except KeyboardInterrupt:  # Ctrl-C ends the window, it does not lose it
            stopped = True
        if stopped:
            acc.add(time.time(), conntrack.read_table(chosen))
            break
    elapsed = time.monotonic() - t0
    end = _snapshot(state.project)
    index = address_index(end)
    for addr, owners in address_index(state).items():  # an address gone by the end is still named
        index.setdefault(addr, owners)
    acc = replace(acc, index=index)
    notes = [note] if note else []
    if elapsed < 30:
        notes.append(
            f"the window was {elapsed:.0f} s: a flow that happens less often (a cron job, a retry, a "
            "health probe between services) is missing; observe for longer before tightening"
        )
    return FlowWindow(
        end, tuple(acc.flows()), started, elapsed, chosen, acc.reads, len(acc.before), tuple(notes)
    )

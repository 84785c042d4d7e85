"""watch's coalescing (Watcher._gather) and its wait for restarting containers (Watcher._unsettled), on a
queue the test fills: no engine is needed for either."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from test_rules_structural import API, DB, FRONT, WORKER, state

from netcontract.changes import Event, Scope
from netcontract.live.watch import Watcher, WatchOptions, _Lost

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "devonboarder.yaml"


def watcher(settle: float = 0.1, burst_max: float = 1.0) -> Watcher:
    return Watcher(CONTRACT, WatchOptions(settle=settle, burst_max=burst_max))


def ev(n: int) -> Event:
    return Event("container", "start", f"c{n}")


def test_events_within_the_settle_time_are_one_burst() -> None:
    inbox: queue.Queue[object] = queue.Queue()
    for n in range(1, 4):
        inbox.put(ev(n))
    burst = [ev(0)]
    assert watcher()._gather(inbox, burst) is None
    assert [e.actor for e in burst] == ["c0", "c1", "c2", "c3"]


def test_a_quiet_gap_longer_than_settle_ends_the_burst() -> None:
    inbox: queue.Queue[object] = queue.Queue()
    threading.Timer(0.4, lambda: inbox.put(ev(9))).start()
    burst = [ev(0)]
    t0 = time.monotonic()
    assert watcher(settle=0.1)._gather(inbox, burst) is None
    assert [e.actor for e in burst] == ["c0"] and time.monotonic() - t0 < 0.35
    assert inbox.get(timeout=2).actor == "c9"  # left for the next burst


def test_a_steady_stream_is_cut_at_burst_max() -> None:
    inbox: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def feed() -> None:
        n = 0
        while not stop.is_set():
            inbox.put(ev(n))
            n += 1
            time.sleep(0.02)

    threading.Thread(target=feed, daemon=True).start()
    burst: list[Event] = []
    t0 = time.monotonic()
    try:
        assert watcher(settle=0.1, burst_max=0.5)._gather(inbox, burst) is None
    finally:
        stop.set()
    assert 0.45 <= time.monotonic() - t0 < 1.0 and len(burst) > 5


def test_a_lost_stream_ends_the_burst_with_its_reason() -> None:
    inbox: queue.Queue[object] = queue.Queue()
    inbox.put(ev(1))
    inbox.put(_Lost("the engine closed the event stream"))
    burst = [ev(0)]
    assert watcher()._gather(inbox, burst) == "the engine closed the event stream"
    assert len(burst) == 2


def test_a_touched_service_that_is_down_or_starting_is_waited_for() -> None:
    from dataclasses import replace

    w = watcher()
    everything_up = state(FRONT, API, DB, WORKER)
    touched = Scope(True, False, frozenset({"db"}))
    assert not w._unsettled(touched, everything_up)
    assert w._unsettled(
        touched, state(FRONT, API, WORKER)
    )  # db has no container (recreated, not yet started)
    assert w._unsettled(touched, state(FRONT, API, replace(DB, status="exited"), WORKER))
    assert w._unsettled(touched, state(FRONT, API, replace(DB, health="starting"), WORKER))
    assert not w._unsettled(
        Scope(True, False, frozenset({"api"})), state(FRONT, API, replace(DB, health="starting"))
    )

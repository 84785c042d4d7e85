"""The netns executor: every source's probes on one selector, from sockets inside its namespace.

One pass probes every source at once (live/netns/enter.py); the first pass stretches an unanswered
probe's window to what the answers seen so far call for, then `calibrate` gives every remaining
timeout NETNS_MULTIPLE times the slowest answer on its kind of path. Nothing of the container runs:
the verdicts rest on the kernel's answers and Docker's DNS packets (docs/security.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from netcontract.addresses import family_hint, family_of, is_address
from netcontract.live.executor import SourceRun, interrupted
from netcontract.live.netns.enter import NetnsRun, NetnsSource, Stretch
from netcontract.live.netns.host import NamespaceProber
from netcontract.live.netns.tasks import path_kind
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.probe.plan import Expectation, SourcePlan
from netcontract.probe.timing import NETNS_MULTIPLE, Timing
from netcontract.state import State


class NetnsExecutor:
    """`netns`: our own sockets inside each source's network namespace; its passes run on the calling thread."""

    def __init__(
        self,
        prober: NamespaceProber,
        timing: Timing,
        state: State,
        cancelled: threading.Event,
        name: str = "netns",
    ) -> None:
        self.name = (
            name  # netns: this process's prober; helper: the same prober in the helper container
        )
        self.prober = prober
        self.timing = timing
        self.state = state
        self.cancelled = cancelled
        self._notes: list[str] = []

    def probe(
        self, runs: Sequence[SourceRun], pool: ThreadPoolExecutor, window: float | None = None
    ) -> list[Future[SourceRun]]:
        """The first pass (neighbour check, IPv6 readiness, one stretched pass, calibration) or a retry pass;
        done when this returns."""
        runs = [r for r in runs if not r.problem]
        if not runs:
            return []
        if window is None:
            self._notes += neighbour_notes(
                neighbours_needed([r.plan for r in runs], self.state), neighbour_limits()
            )
            self._await_ipv6(runs)
            self._pass(
                runs,
                self.timing.netns_first,
                SourceRun.everything,
                Stretch(NETNS_MULTIPLE, self.timing.netns_cap),
            )
            self._calibrate(runs)
        else:
            self._pass(runs, window, SourceRun.disagreeing)
        return []

    def notes(self, runs: Sequence[SourceRun]) -> list[str]:
        """The neighbour-table warning, and the windows the negatives were judged on, and why."""
        return self._notes + self._windows_note([r for r in runs if not r.problem])

    def _pass(
        self,
        runs: list[SourceRun],
        window: float,
        which: Callable[[SourceRun], list[Expectation]],
        stretch: Stretch | None = None,
    ) -> None:
        """One netns pass over `runs`, probing `which(run)` of each: every expectation (the first pass), the
        timeouts (calibration) or what the judge wants repeated (retries). With `stretch` (the first pass) an
        unanswered probe waits as long as the answers seen so far call for, so calibration rarely repeats it."""
        t0 = time.monotonic()
        redo = which is not SourceRun.everything
        todo = {id(r): which(r) for r in runs}
        if self.cancelled.is_set():
            for r in runs:
                r.obs.update(interrupted(todo[id(r)]))
            return
        names = self._resolve_names(runs, todo)
        sources: list[NetnsSource] = []
        layout: list[tuple[SourceRun, list[tuple[Probe, str, Observation | None]]]] = []
        for r in runs:
            slots: list[tuple[Probe, str, Observation | None]] = []
            for e in todo[id(r)]:
                for target in e.targets:
                    for address, problem in _addresses(e, target, names.get((id(r), target))):
                        for qtype in e.qtypes if e.probe_kind is ProbeKind.DNS else ("A",):
                            probe = Probe(
                                f"p{len(slots)}", e.probe_kind, address, e.port, qtype=qtype
                            )
                            slots.append((probe, e.id, problem))
            sources.append(self._source(r, tuple(p for p, _, problem in slots if problem is None)))
            layout.append((r, slots))
        seen = (
            self.prober.run(sources, window, stretch)
            if any(s.probes for s in sources)
            else NetnsRun()
        )
        elapsed = time.monotonic() - t0
        for r, slots in layout:
            obs: dict[str, list[Observation]] = {e.id: [] for e in todo[id(r)]}
            for probe, rid, problem in slots:
                key = (r.plan.container.id, probe.key)
                got = problem or seen.observations.get(key)
                if got is not None and probe.kind is ProbeKind.DNS and got.qtype != probe.qtype:
                    got = replace(got, qtype=probe.qtype)
                obs[rid].append(
                    got or Observation(Outcome.ERROR, detail="netns run returned no observation")
                )
                if (
                    got is not None
                    and key in seen.latency_ms
                    and got.outcome not in (Outcome.ERROR, Outcome.TIMEOUT)
                ):
                    # answered (a connect, a refusal, an echo reply, a DNS response): how long this kind of
                    # path takes to answer from this source right now
                    path = _path_kind(probe)
                    r.slowest[path] = max(r.slowest.get(path, 0.0), seen.latency_ms[key] / 1000)
            r.obs.update(obs)
            had: dict[
                str, float
            ] = {}  # the shortest window a timed-out probe of each expectation had
            for probe, rid, _problem in slots:
                waited = seen.waited_ms.get((r.plan.container.id, probe.key))
                if waited is not None:
                    had[rid] = min(had.get(rid, waited / 1000), waited / 1000)
            r.windows.update({e.id: max(window, had.get(e.id, window)) for e in todo[id(r)]})
            r.elapsed += elapsed
            if redo:
                r.count(todo[id(r)])

    def _source(self, r: SourceRun, probes: tuple[Probe, ...]) -> NetnsSource:
        """A source for the prober, with the addresses where its engine's resolver may answer it besides
        127.0.0.11: its networks' gateways (Podman's aardvark-dns; its resolv.conf decides, enter.py)."""
        c = r.plan.container
        gateways = (
            g for name in c.networks if (net := self.state.network(name)) for g in net.gateways
        )
        return NetnsSource(c.id, c.pid, probes, resolvers=tuple(dict.fromkeys(gateways)))

    def _resolve_names(
        self, runs: list[SourceRun], todo: dict[int, list[Expectation]]
    ) -> dict[tuple[int, str], Observation]:
        """TCP and ICMP targets given as names (egress canaries) are resolved from inside the source first."""
        wanted = {
            (id(r), t)
            for r in runs
            for e in todo[id(r)]
            if e.probe_kind is not ProbeKind.DNS
            for t in e.targets
            if not is_address(t)
        }
        if not wanted:
            return {}
        sources = []
        for r in runs:
            mine = sorted(t for rid, t in wanted if rid == id(r))
            if mine:
                sources.append(
                    self._source(
                        r, tuple(Probe(f"n{i}", ProbeKind.DNS, t) for i, t in enumerate(mine))
                    )
                )
        seen = self.prober.run(sources, self.timing.netns_first)
        out: dict[tuple[int, str], Observation] = {}
        for r in runs:
            mine = sorted(t for rid, t in wanted if rid == id(r))
            for i, t in enumerate(mine):
                out[(id(r), t)] = seen.observations.get(
                    (r.plan.container.id, f"n{i}"),
                    Observation(Outcome.ERROR, detail="no DNS observation"),
                )
        return out

    def _await_ipv6(self, runs: list[SourceRun]) -> None:
        """IPv6 timeouts prove nothing until the host's IPv6 addresses answer: a bridge's address spends a second
        or two in duplicate address detection after its first container attaches, and IPv6 through it is
        dropped meanwhile (measured on 20.10: a leak there read as blocked right after `up`). Each source with
        IPv6 paths pings the host's IPv6 addresses on the tier networks until they answer, within a deadline;
        where they never do, its IPv6 timeouts become ERRORs."""
        gateways = sorted(
            {
                g
                for n in self.state.networks
                for g in n.gateways
                if family_of(g) == 6 and n.name != "bridge"
            }
        )
        waiting = {
            id(r): set(gateways) for r in runs if any(e.family == 6 for e in r.plan.expectations)
        }
        if not gateways or not waiting:
            return
        deadline = time.monotonic() + max(2.0, self.timing.attempt(1))
        while waiting and time.monotonic() < deadline and not self.cancelled.is_set():
            asking = [r for r in runs if id(r) in waiting]
            probes = {id(r): sorted(waiting[id(r)]) for r in asking}
            seen = self.prober.run(
                [
                    NetnsSource(
                        r.plan.container.id,
                        r.plan.container.pid,
                        tuple(
                            Probe(f"g{i}", ProbeKind.ICMP, g) for i, g in enumerate(probes[id(r)])
                        ),
                    )
                    for r in asking
                ],
                0.2,
            )
            for r in asking:
                for i, g in enumerate(probes[id(r)]):
                    o = seen.observations.get((r.plan.container.id, f"g{i}"))
                    if o is not None and o.outcome is Outcome.OK:
                        waiting[id(r)].discard(g)
                if not waiting[id(r)]:
                    del waiting[id(r)]
        for r in runs:
            if id(r) in waiting:
                r.ipv6_problem = (
                    f"the host's IPv6 address {', '.join(sorted(waiting[id(r)]))} did not answer "
                    f"{r.plan.container.name} (duplicate address detection, or IPv6 routing off), "
                    "so an IPv6 timeout from it proves nothing"
                )

    def _calibrate(self, runs: list[SourceRun]) -> None:
        """Every timeout must have had the window that answers of its kind call for: NETNS_MULTIPLE times the
        slowest answer of the same kind of path (TCP, ICMP, DNS; IPv4 or IPv6) from the same source, or from any
        source if slower. A kind of path that nothing answered on in this run (say IPv6 where every IPv6 path
        is forbidden) has nothing to calibrate from: its timeouts get the --timeout window."""
        timing = self.timing
        everywhere: dict[str, float] = {}
        for r in runs:
            for path, slowest in r.slowest.items():
                everywhere[path] = max(everywhere.get(path, 0.0), slowest)
        needed: dict[int, dict[str, float]] = {}
        for r in runs:
            want = {}
            for e in r.negatives():
                path = _path_kind(e)
                if path in everywhere:
                    want[e.id] = timing.netns_window(
                        max(r.slowest.get(path, 0.0), everywhere[path])
                    )
                else:
                    want[e.id] = timing.netns_unsampled
            short = {rid: w for rid, w in want.items() if w > r.windows.get(rid, 0.0)}
            if short:
                needed[id(r)] = short
        if not needed:
            return
        slow = [r for r in runs if id(r) in needed]
        window = max(w for short in needed.values() for w in short.values())
        self._pass(
            slow, window, lambda r: [e for e in r.plan.expectations if e.id in needed[id(r)]]
        )

    def _windows_note(self, runs: list[SourceRun]) -> list[str]:
        """Which windows the negatives were judged on, and why."""
        windows: dict[str, float] = {}
        slowest: dict[str, float] = {}
        for r in runs:
            for e in r.negatives():
                path = _path_kind(e)
                windows[path] = min(windows.get(path, 1e9), r.windows.get(e.id, 0.0))
            for path, s in r.slowest.items():
                slowest[path] = max(slowest.get(path, 0.0), s)
        if not runs:
            return []
        parts = [
            f"{path} {windows[path] * 1000:.0f} ms ("
            + (
                f"slowest answer {slowest[path] * 1000:.1f} ms"
                if path in slowest
                else "nothing answered: --timeout"
            )
            + ")"
            for path in sorted(windows)
        ]
        return [
            f"{self.name}: timeouts judged on windows of at least "
            + (", ".join(parts) or "-")
            + f"; floor {self.timing.netns_first * 1000:.0f} ms, "
            f"{NETNS_MULTIPLE}x the slowest answer on the same kind of path"
        ]


def neighbours_needed(plans: Sequence[SourcePlan], state: State) -> dict[int, int]:
    """How many neighbour entries (ARP for IPv4, NDP for IPv6) the probes of these sources make the kernel
    create, by family: per source, each distinct target address on a network it is attached to, plus one
    for its way to anything else (a gateway). Every namespace's entries count against one table per family."""
    network_of: dict[str, str] = {}
    for c in state.containers:
        for ep in c.endpoints:
            for address in ep.addresses:
                network_of.setdefault(address, ep.network)
    for n in state.networks:
        for gw in n.gateways:
            network_of.setdefault(gw, n.name)
    total = {4: 0, 6: 0}
    for plan in plans:
        attached = set(plan.container.networks)
        onlink: set[str] = set()
        routed = False
        for e in plan.expectations:
            if e.probe_kind is ProbeKind.DNS:
                continue
            for t in e.targets:
                if network_of.get(t) in attached:
                    onlink.add(t)
                else:
                    routed = True
        for t in onlink:
            total[family_hint(t)] += 1
        total[4] += int(routed)
    return total


def neighbour_limits() -> dict[int, int]:
    """The kernel's hard limits on neighbour entries (gc_thresh3), by family; those it cannot read are left out."""
    out = {}
    for family, path in (
        (4, "/proc/sys/net/ipv4/neigh/default/gc_thresh3"),
        (6, "/proc/sys/net/ipv6/neigh/default/gc_thresh3"),
    ):
        try:
            with open(path, encoding="ascii") as f:
                out[family] = int(f.read().strip())
        except (OSError, ValueError):
            continue
    return out


def neighbour_notes(needed: Mapping[int, int], limits: Mapping[int, int]) -> list[str]:
    """A note when the probes need more neighbour entries than the kernel keeps: past gc_thresh3 it drops the
    packets to new neighbours, and reachable paths time out (measured: 200 containers, gc_thresh3 8192)."""
    out = []
    for family, name in ((4, "IPv4 (ARP)"), (6, "IPv6 (NDP)")):
        if family in limits and needed.get(family, 0) > limits[family]:
            key = f"net.ipv{family}.neigh.default.gc_thresh3"
            out.append(
                f"kernel neighbour table: these probes need about {needed[family]} {name} neighbour entries "
                f"across the containers' namespaces, more than {key} ({limits[family]}); past it the kernel "
                "drops packets to new neighbours and reachable paths time out: raise it (and gc_thresh1/2; "
                "docs/performance.md)"
            )
    return out


def _path_kind(item: Probe | Expectation) -> str:
    """The kind of path a probe or expectation takes, for calibration: dns, tcp4, tcp6, icmp4, icmp6."""
    if isinstance(item, Probe):
        return path_kind(item.kind, family_hint(item.target))
    return path_kind(item.probe_kind, item.family)


def _addresses(
    e: Expectation, target: str, resolved: Observation | None
) -> list[tuple[str, Observation | None]]:
    """The addresses a netns probe goes to, each with the observation that replaces it when it cannot be sent."""
    if e.probe_kind is ProbeKind.DNS or is_address(target):
        return [(target, None)]
    if resolved is not None and resolved.outcome is Outcome.OK and resolved.addresses:
        return [(a, None) for a in resolved.addresses]
    why = resolved.outcome.value if resolved is not None else "not asked"
    return [
        (
            target,
            Observation(
                Outcome.ERROR,
                tool="netns",
                detail=f"{target} does not resolve from here ({why}): give its address",
            ),
        )
    ]

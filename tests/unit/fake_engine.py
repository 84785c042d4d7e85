"""A fake Docker engine and a fake namespace prober for the runner's and the checker's unit tests.

`World` says what the network answers from each source container: which
(address, port) pairs connect, refuse or have no route (anything else is
dropped: a timeout), what each name resolves to, and how long an answer takes.
`World.from_state` builds Docker's own behaviour from a snapshot: a source
reaches the addresses of the networks it is attached to (on the ports the
contract declares; other ports refuse), and resolves the aliases of the
containers it shares a network with. The host's gateway addresses are silent
unless `host_answers` says otherwise.

`FakeEngine` implements `live.interface.LiveEngine`: it reads the batch script
it is given (`T=<window>`, `run pN tcp IP PORT`, `run pN dns NAME`,
`run pN icmp IP`, the `@@missing` prologue) and answers in the script's own
output format (`@@tools ...`, `@pN|line`, `@pN|@@rc N`, `@@done`), from the
World, with the tools each container has. It counts every call and can raise
EngineError, exit 137 part-way, lack a shell, have no tools, print nothing, and
report containers as changed (stopped or restarted).

`FakeProber` implements `live.namespaces.NamespaceProber` from the same World
(observations as the netns executor makes them, with latencies), records every
`run(sources, window)` and has a configurable `problem()`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netcontract.contract import Contract, load_contract
from netcontract.errors import EngineError
from netcontract.live.docker.engine import container_from_inspect, network_from_inspect
from netcontract.live.netns.enter import NetnsRun, NetnsSource, Stretch
from netcontract.live.netns.tasks import path_kind
from netcontract.live.runner import ProbeRunner, RunOptions
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.probe.plan import Expectation, ProbePlan, plan_probes
from netcontract.results import Result
from netcontract.state import Container, State

ROOT = Path(__file__).resolve().parents[2]
ASSET = ROOT / "tests" / "assets" / "devonboarder-inspect.json"
CONTRACT = ROOT / "contracts" / "devonboarder.yaml"
ANY = "*"  # a World key that holds for every source container

FAST = 0.0002  # seconds: how long an answer takes on an idle host


# -- the recorded stack ------------------------------------------------------------------


def recorded_raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ASSET.read_text())
    return data


def state_from_raw(raw: Mapping[str, Any], project: str = "devonboarder") -> State:
    return State(
        project=project,
        networks=tuple(network_from_inspect(n) for n in raw["networks"]),
        containers=tuple(container_from_inspect(c) for c in raw["containers"]),
    )


def recorded_state() -> State:
    return state_from_raw(recorded_raw())


def v6(ipv4: str) -> str:
    """The IPv6 twin this fake gives an IPv4 address: 192.168.48.2 -> fd00:48::2."""
    _, _, third, fourth = ipv4.split(".")
    return f"fd00:{third}::{fourth}"


def dual_stack_raw() -> dict[str, Any]:
    """The recorded stack with IPv6 enabled on every tier network and an IPv6 address on every endpoint."""
    raw = recorded_raw()
    for n in raw["networks"]:
        n["EnableIPv6"] = True
        subnet = n["IPAM"]["Config"][0]["Subnet"]
        n["IPAM"]["Config"].append(
            {"Subnet": v6(subnet.split("/")[0]).rsplit("::", 1)[0] + "::/64"}
        )
    for c in raw["containers"]:
        for ep in c["NetworkSettings"]["Networks"].values():
            ep["GlobalIPv6Address"] = v6(ep["IPAddress"])
    return raw


def devonboarder() -> Contract:
    return load_contract(CONTRACT)


def container_of(state: State, service: str) -> Container:
    return next(c for c in state.containers if c.service == service)


def plan_for(contract: Contract, state: State, *services: str) -> ProbePlan:
    """The plan, reduced to the sources of `services` (every source when none is named)."""
    plan = plan_probes(contract, state)
    if not services:
        return plan
    return ProbePlan(tuple(s for s in plan.sources if s.service in services), plan.settled)


# -- what the network answers ------------------------------------------------------------


@dataclass
class World:
    """Answers by source container id (or ANY). Absent TCP/ICMP entries are dropped (timeout); absent
    names are NXDOMAIN."""

    tcp: dict[tuple[str, str, int], Outcome] = field(
        default_factory=dict
    )  # (src, ip, port) -> its outcome
    icmp: dict[tuple[str, str], Outcome] = field(
        default_factory=dict
    )  # (src, ip) -> OK/UNREACHABLE
    dns: dict[tuple[str, str], tuple[str, ...]] = field(
        default_factory=dict
    )  # (src, name) -> addresses
    dns_silent: set[tuple[str, str]] = field(
        default_factory=set
    )  # (src, name): the resolver never answers
    latency: dict[tuple[str, str], float] = field(
        default_factory=dict
    )  # (src, target) -> seconds to answer

    @classmethod
    def from_state(cls, contract: Contract, state: State) -> World:
        """Docker's behaviour for this snapshot: same network = routed, declared ports listen. The host's
        gateway addresses stay silent (see `host_answers`)."""
        w = cls()
        ports_of = {name: tuple(svc.ports) for name, svc in contract.services.items()}
        for src in state.containers:
            for target in state.containers:
                for ep in target.endpoints:
                    if src.endpoint(ep.network) is None:
                        continue
                    for address in ep.addresses:
                        w.icmp[(src.id, address)] = Outcome.OK
                        for port in ports_of.get(target.service or "", ()):
                            w.tcp[(src.id, address, port)] = Outcome.OK
                    for name in (*ep.aliases, *ep.dns_names):
                        key = (src.id, name)
                        w.dns[key] = tuple(dict.fromkeys((*w.dns.get(key, ()), *ep.addresses)))
        return w

    # -- changing the world --------------------------------------------------------------
    def host_answers(self, state: State, answer: bool = True) -> None:
        """The Docker host answers ICMP echo on its address on every network, from every container (what
        engines allow by design: traffic to the host itself is not forwarded between bridges)."""
        for net in state.networks:
            for gateway in net.gateways:
                if answer:
                    self.icmp[(ANY, gateway)] = Outcome.OK
                else:
                    self.icmp.pop((ANY, gateway), None)

    def open(self, ip: str, port: int, src: str = ANY, outcome: Outcome = Outcome.OK) -> None:
        self.tcp[(src, ip, port)] = outcome

    def drop(self, ip: str, port: int, src: str = ANY) -> None:
        """Packets from `src` to (ip, port) are dropped: a timeout."""
        for key in [k for k in self.tcp if k[1:] == (ip, port) and (src == ANY or k[0] == src)]:
            self.tcp[key] = Outcome.TIMEOUT
        self.tcp[(src, ip, port)] = Outcome.TIMEOUT

    def resolve(self, name: str, addresses: Iterable[str], src: str = ANY) -> None:
        self.dns[(src, name)] = tuple(addresses)

    def slow(self, seconds: float, src: str = ANY, target: str = ANY) -> None:
        """Answers from `src` to `target` take `seconds` (an answer later than the window is a timeout)."""
        self.latency[(src, target)] = seconds

    # -- reading it ----------------------------------------------------------------------
    def delay(self, src: str, target: str) -> float:
        for key in ((src, target), (src, ANY), (ANY, target)):
            if key in self.latency:
                return self.latency[key]
        return FAST

    def tcp_outcome(self, src: str, ip: str, port: int) -> Outcome:
        for s in (src, ANY):
            if (s, ip, port) in self.tcp:
                return self.tcp[(s, ip, port)]
        # an address the source is routed to, on a port nobody listens on, refuses
        if any(k[0] in (src, ANY) and k[1] == ip for k in self.tcp) or (src, ip) in self.icmp:
            return Outcome.REFUSED
        return Outcome.TIMEOUT

    def icmp_outcome(self, src: str, ip: str) -> Outcome:
        for s in (src, ANY):
            if (s, ip) in self.icmp:
                return self.icmp[(s, ip)]
        return Outcome.TIMEOUT

    def lookup(self, src: str, name: str) -> tuple[str, ...] | None:
        """Addresses, () for NXDOMAIN, None when the resolver does not answer."""
        if (src, name) in self.dns_silent or (ANY, name) in self.dns_silent:
            return None
        for s in (src, ANY):
            if (s, name) in self.dns:
                return self.dns[(s, name)]
        return ()


# -- the batch script's output ---------------------------------------------------------------

_RUN = re.compile(r"^run (p\d+) (tcp|dns|icmp) (\S+)(?: (\d+))? &", re.MULTILINE)
_WINDOW = re.compile(r"^T=([0-9.]+)$", re.MULTILINE)
_MISSING = re.compile(
    r'^\[ "\$\w+" = none \] && \{ echo "@@missing (\w+)"; exit 3; \}$', re.MULTILINE
)

BUSYBOX_TOOLS = {"tcp": "nc-e", "dns": "nslookup", "icmp": "ping"}
FULL_TOOLS = {"tcp": "nc-z", "dns": "nslookup", "icmp": "ping"}
NO_SHELL = (
    'OCI runtime exec failed: exec failed: unable to start container process: exec: "sh": '
    "executable file not found in $PATH: unknown\r\n"
)


@dataclass(frozen=True)
class ScriptProbe:
    key: str
    kind: str
    target: str
    port: int | None


def read_script(script: str) -> tuple[float, list[ScriptProbe]]:
    """The window (T=) and the probes (`run pN ...` lines) of a batch script."""
    m = _WINDOW.search(script)
    assert m, "no T= line in the batch script"
    probes = [
        ScriptProbe(k, kind, target.strip("'"), int(port) if port else None)
        for k, kind, target, port in _RUN.findall(script)
    ]
    return float(m.group(1)), probes


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def of_family(addresses: Iterable[str], qtype: str) -> tuple[str, ...]:
    version = 6 if qtype == "AAAA" else 4
    return tuple(a for a in addresses if ipaddress.ip_address(a).version == version)


def _nslookup(name: str, found: Sequence[str]) -> tuple[int, str]:
    """busybox `nslookup -type=a NAME`."""
    head = "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n"
    if not found:
        return 1, head + f"** server can't find {name}: NXDOMAIN"
    addresses = of_family(found, "A")
    if not addresses:
        return 1, head + f"*** Can't find {name}: No answer"
    body = "Non-authoritative answer:\n" + "".join(
        f"Name:\t{name}\nAddress: {a}\n" for a in addresses
    )
    return 0, head + body


def probe_output(
    world: World, src: str, window: float, p: ScriptProbe, tools: Mapping[str, str]
) -> tuple[int | None, str]:
    """(exit status, output) of one probe as the batch script prints them; None: the watchdog reports 143."""
    tool = tools.get(p.kind, "none")
    if tool == "none":
        return 127, "@@notool " + p.kind
    if p.kind == "dns":
        found = world.lookup(src, p.target)
        if found is None or world.delay(src, p.target) >= window:
            return None, ""
        return _nslookup(p.target, found)
    ip = p.target
    if not is_ip(ip):  # a name (egress canary): the tool resolves it first
        found = world.lookup(src, ip)
        if not found:
            return 1, f"nc: bad address '{ip}'" if p.kind == "tcp" else f"ping: bad address '{ip}'"
        ip = found[0]
    if world.delay(src, p.target) >= window:
        return None, ""
    if p.kind == "icmp":
        if world.icmp_outcome(src, ip) is Outcome.OK:
            return 0, (
                f"PING {ip} ({ip}): 56 data bytes\n64 bytes from {ip}: seq=0 ttl=64 time=0.1 ms\n\n"
                f"--- {ip} ping statistics ---\n1 packets transmitted, 1 packets received, 0% packet loss"
            )
        return None, ""
    assert p.port is not None
    outcome = world.tcp_outcome(src, ip, p.port)
    if outcome is Outcome.OK:
        return 0, ""  # nc -z and nc -e true print nothing on success
    if outcome is Outcome.REFUSED:
        return 1, f"nc: connect to {ip} port {p.port} (tcp) failed: Connection refused"
    if outcome is Outcome.UNREACHABLE:
        return 1, f"nc: connect to {ip} port {p.port} (tcp) failed: No route to host"
    return None, ""


def batch_output(
    world: World,
    src: str,
    script: str,
    tools: Mapping[str, str],
    *,
    has_sleep: bool = True,
    stop_after: int | None = None,
) -> tuple[int, str]:
    """(exit code, output) of a whole batch; `stop_after`: the container is killed after that many probes."""
    window, probes = read_script(script)
    lines = [
        f"@@tools tcp={tools.get('tcp', 'none')} dns={tools.get('dns', 'none')} "
        f"icmp={tools.get('icmp', 'none')}"
    ]
    if not has_sleep:
        return 3, "\n".join([*lines, "@@missing sleep"]) + "\n"
    for kind in _MISSING.findall(script):
        if tools.get(kind, "none") == "none":
            return 3, "\n".join([*lines, f"@@missing {kind}"]) + "\n"
    for i, p in enumerate(probes):
        if stop_after is not None and i >= stop_after:
            return 137, "\n".join(lines) + "\n"
        rc, out = probe_output(world, src, window, p, tools)
        if rc is None:
            lines.append(f"@{p.key}|@@rc 143")  # the watchdog's report
            continue
        lines += [f"@{p.key}|{line}" for line in (out.splitlines() or [""])]
        lines.append(f"@{p.key}|@@rc {rc}")
    lines.append("@@done")
    return 0, "\n".join(lines) + "\n"


# -- the engine ----------------------------------------------------------------------------


@dataclass
class Exec:
    container_id: str
    argv: list[str]

    @property
    def script(self) -> str:
        return self.argv[-1]

    @property
    def window(self) -> float:
        return read_script(self.script)[0]

    @property
    def targets(self) -> list[tuple[str, str, int | None]]:
        return [(p.kind, p.target, p.port) for p in read_script(self.script)[1]]


@dataclass
class Sidecar(Exec):
    image: str = ""
    run_id: str = ""
    timeout: float = 0.0
    cancelled: threading.Event | None = None


class FakeEngine:
    """A LiveEngine with canned answers. Every knob is keyed by container id."""

    def __init__(
        self, state: State, world: World | None = None, contract: Contract | None = None
    ) -> None:
        self.states: list[State] = [
            state
        ]  # snapshot() returns these in turn, then the last one forever
        self.world = (
            world if world is not None else World.from_state(contract or devonboarder(), state)
        )
        self.calls: Counter[str] = Counter()
        self.execs: list[Exec] = []
        self.sidecars: list[Sidecar] = []
        self.snapshots: list[tuple[str | None, tuple[str, ...]]] = []
        self.changed_asked: list[dict[str, str]] = []
        self.removed: list[str] = []
        self.tools: dict[str, dict[str, str]] = {}  # container id -> its tools (default FULL_TOOLS)
        self.no_sleep: set[str] = set()
        self.no_shell: dict[
            str, str
        ] = {}  # container id -> "exit" (status 127 and the runtime's text) or "raise"
        self.exec_errors: dict[str, BaseException] = {}  # raised by exec() for that container
        self.sidecar_errors: dict[str, BaseException] = {}
        self.killed_after: dict[
            str, int
        ] = {}  # the container dies (exit 137) after this many probes
        self.canned: dict[str, tuple[int | None, str]] = {}  # exec() returns exactly this
        self.sidecar_canned: dict[
            str, tuple[int | None, str]
        ] = {}  # sidecar() returns exactly this
        self.restarted: set[str] = set()  # changed() reports these
        self.image_problem_text: str | None = None
        self.snapshot_error: BaseException | None = None
        self.on_exec: Callable[[str, list[str]], None] | None = None  # runs first in every exec()
        self.on_sidecar: Callable[[Sidecar], None] | None = None  # runs first in every sidecar()
        self._lock = threading.Lock()

    # -- LiveEngine ----------------------------------------------------------------------
    def snapshot(self, project: str | None, networks: Iterable[str]) -> State:
        with self._lock:
            self.calls["snapshot"] += 1
            self.snapshots.append((project, tuple(networks)))
            if self.snapshot_error is not None:
                raise self.snapshot_error
            return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def exec(self, container_id: str, argv: list[str]) -> tuple[int | None, str]:
        with self._lock:
            self.calls["exec"] += 1
            self.execs.append(Exec(container_id, list(argv)))
        if self.on_exec is not None:
            self.on_exec(container_id, argv)
        if container_id in self.exec_errors:
            raise self.exec_errors[container_id]
        if container_id in self.canned:
            return self.canned[container_id]
        how = self.no_shell.get(container_id)
        if how == "raise":
            raise EngineError(f"exec in {container_id[:12]}: 500 Server Error: {NO_SHELL.strip()}")
        if how is not None:
            return 127, NO_SHELL
        assert argv[:2] == ["sh", "-c"], argv
        code, text = batch_output(
            self.world,
            container_id,
            argv[2],
            self.tools.get(container_id, FULL_TOOLS),
            has_sleep=container_id not in self.no_sleep,
            stop_after=self.killed_after.get(container_id),
        )
        return code, text

    def image_problem(self, image: str, pull: bool) -> str | None:
        with self._lock:
            self.calls["image_problem"] += 1
        return self.image_problem_text

    def sidecar(
        self,
        source_id: str,
        image: str,
        argv: list[str],
        run_id: str,
        timeout: float,
        cancelled: threading.Event | None = None,
    ) -> tuple[int | None, str]:
        call = Sidecar(source_id, list(argv), image, run_id, timeout, cancelled)
        with self._lock:
            self.calls["sidecar"] += 1
            self.sidecars.append(call)
        if self.on_sidecar is not None:
            self.on_sidecar(call)
        if source_id in self.sidecar_errors:
            raise self.sidecar_errors[source_id]
        if source_id in self.sidecar_canned:
            return self.sidecar_canned[source_id]
        if cancelled is not None and cancelled.is_set():
            return None, "cancelled"
        return batch_output(self.world, source_id, argv[2], BUSYBOX_TOOLS)

    def changed(self, started: Mapping[str, str]) -> set[str]:
        with self._lock:
            self.calls["changed"] += 1
            self.changed_asked.append(dict(started))
        return {cid for cid in started if cid in self.restarted}

    def remove_run(self, run_id: str) -> int:
        with self._lock:
            self.calls["remove_run"] += 1
            self.removed.append(run_id)
        return 0

    def close(self) -> None:
        self.calls["close"] += 1

    # -- for assertions --------------------------------------------------------------------
    def execs_of(self, container_id: str) -> list[Exec]:
        return [e for e in self.execs if e.container_id == container_id]

    def sidecars_of(self, container_id: str) -> list[Sidecar]:
        return [s for s in self.sidecars if s.container_id == container_id]


# -- the namespace prober ------------------------------------------------------------------


@dataclass
class ProberRun:
    sources: tuple[NetnsSource, ...]
    window: float
    stretch: Stretch | None = None

    def probes_of(self, key: str) -> list[tuple[ProbeKind, str, int | None]]:
        return [(p.kind, p.target, p.port) for s in self.sources if s.key == key for p in s.probes]

    def qtypes_of(self, key: str, name: str) -> list[str]:
        return [
            p.qtype
            for s in self.sources
            if s.key == key
            for p in s.probes
            if p.kind is ProbeKind.DNS and p.target == name
        ]

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.sources]

    @property
    def purpose(self) -> str:
        """What the runner asked for, by its probe keys: "gateways" (g0: the host's IPv6 addresses), "names"
        (n0: resolving name targets) or "probes" (p0: the expectations)."""
        first = {p.key[0] for s in self.sources for p in s.probes}
        return (
            {"g": "gateways", "n": "names"}.get(first.pop(), "probes")
            if len(first) == 1
            else "probes"
        )


class FakeProber:
    """A NamespaceProber answering from a World, as live.netns would (tool "netns", latencies in ms)."""

    def __init__(
        self,
        world: World,
        problems: Mapping[str, str] | None = None,
        default_problem: str | None = None,
    ) -> None:
        self.world = world
        self.problems = dict(problems or {})
        self.default_problem = default_problem
        self.runs: list[ProberRun] = []
        self.asked: list[str] = []  # container ids problem() was asked about
        self.canned: dict[
            tuple[str, ProbeKind, str, int | None], Observation
        ] = {}  # replaces the World's answer
        self.silent: set[tuple[str, str]] = (
            set()
        )  # (source, target): no observation at all comes back
        self.on_run: Callable[[Sequence[NetnsSource], float], None] | None = None
        self.stretches = (
            True  # False: windows never grow in a run (as if slow answers came after the expiries)
        )

    def problem(self, container: Container) -> str | None:
        self.asked.append(container.id)
        return self.problems.get(container.id, self.default_problem)

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        self.runs.append(ProberRun(tuple(sources), window, stretch))
        if self.on_run is not None:
            self.on_run(sources, window)
        # As the real engine: with `stretch`, an unanswered probe waits multiple x the slowest answer of its kind
        # of path in this run (capped), never less than `window`. The answers decide the windows and the windows
        # the answers: iterate to the fixed point.
        windows: dict[str, float] = {}
        if not self.stretches:
            stretch = None
        while True:
            slowest: dict[str, float] = {}
            for s in sources:
                for p in s.probes:
                    delay = self.world.delay(s.key, p.target)
                    kind = path_kind(p.kind, 6 if ":" in p.target else 4)
                    if (
                        (s.key, p.target) not in self.silent
                        and delay < windows.get(kind, window)
                        and self._answers(s.key, p)
                    ):
                        slowest[kind] = max(slowest.get(kind, 0.0), delay)
            grown = (
                {k: max(window, min(stretch.cap, stretch.multiple * v)) for k, v in slowest.items()}
                if stretch is not None
                else {}
            )
            if grown == windows:
                break
            windows = grown
        out = NetnsRun()
        for s in sources:
            for p in s.probes:
                if (s.key, p.target) in self.silent:
                    continue
                key = (s.key, p.key)
                delay = self.world.delay(s.key, p.target)
                had = windows.get(path_kind(p.kind, 6 if ":" in p.target else 4), window)
                canned = self.canned.get((s.key, p.kind, p.target, p.port))
                obs = canned or self._observe(
                    s.key, p.kind, p.target, p.port, delay >= had, p.qtype
                )
                out.observations[key] = obs
                if obs.outcome is Outcome.TIMEOUT:
                    out.waited_ms[key] = had * 1000
                if obs.outcome not in (Outcome.TIMEOUT, Outcome.ERROR):
                    out.latency_ms[key] = delay * 1000
                    if p.kind is ProbeKind.TCP and obs.outcome is Outcome.OK:
                        out.slowest_tcp_ok_ms[s.key] = max(
                            out.slowest_tcp_ok_ms.get(s.key, 0.0), delay * 1000
                        )
        return out

    def _answers(self, src: str, p: Probe) -> bool:
        """Whether the probe gets an answer in time (anything but TIMEOUT and ERROR)."""
        canned = self.canned.get((src, p.kind, p.target, p.port))
        obs = canned or self._observe(src, p.kind, p.target, p.port, False, p.qtype)
        return obs.outcome not in (Outcome.TIMEOUT, Outcome.ERROR)

    def _observe(
        self, src: str, kind: ProbeKind, target: str, port: int | None, late: bool, qtype: str
    ) -> Observation:
        if kind is ProbeKind.DNS:
            found = self.world.lookup(src, target)
            if found is None or late:
                return Observation(Outcome.TIMEOUT, detail="no DNS answer", tool="netns")
            if not found:
                return Observation(Outcome.NXDOMAIN, detail="NXDOMAIN", tool="netns")
            addresses = of_family(found, qtype)
            if not addresses:
                return Observation(
                    Outcome.NODATA, detail=f"NOERROR without {qtype} record", tool="netns"
                )
            return Observation(Outcome.OK, addresses, ", ".join(addresses), tool="netns")
        outcome = (
            self.world.icmp_outcome(src, target)
            if kind is ProbeKind.ICMP
            else self.world.tcp_outcome(src, target, port or 0)
        )
        if late:
            outcome = Outcome.TIMEOUT
        return Observation(
            outcome,
            detail=outcome.value,
            output=f"{kind.value} {target}:{port}: {outcome.value}",
            tool="netns",
        )


# -- a stack to run the runner on ------------------------------------------------------------


class Stack:
    """The recorded devonboarder stack with a FakeEngine and a FakeProber that share one World."""

    def __init__(self, contract: Contract | None = None, state: State | None = None) -> None:
        self.contract = contract or devonboarder()
        self.state = state or recorded_state()
        self.engine = FakeEngine(self.state, contract=self.contract)
        self.world = self.engine.world
        self.prober = FakeProber(self.world)

    def id(self, service: str) -> str:
        return container_of(self.state, service).id

    def ip(self, service: str, network: str) -> str:
        ep = container_of(self.state, service).endpoint(f"devonboarder_{network}")
        assert ep is not None and ep.ipv4, (service, network)
        return ep.ipv4

    def runner(self, **options: Any) -> ProbeRunner:
        return ProbeRunner(self.engine, RunOptions(**options), self.prober)

    def run(
        self,
        *services: str,
        runner: ProbeRunner | None = None,
        progress: Callable[[int, int], None] | None = None,
        **options: Any,
    ) -> dict[str, Result]:
        """Probe from `services` (every source when none is named); results by id."""
        runner = runner or self.runner(**options)
        results = runner.run(
            plan_for(self.contract, self.state, *services), self.contract, self.state, progress
        )
        self.last_runner = runner
        by_id = {r.id: r for r in results}
        assert len(by_id) == len(results), "duplicate result ids"
        return by_id

    def expectation_ids(self, service: str) -> list[str]:
        plan = plan_for(self.contract, self.state, service)
        return [e.id for s in plan.sources for e in s.expectations]

    def expectation(self, rid: str) -> Expectation:
        plan = plan_for(self.contract, self.state)
        return next(e for s in plan.sources for e in s.expectations if e.id == rid)

    @classmethod
    def with_canary(
        cls, folder: Path, host: str = "egress-canary", port: int | None = 8080
    ) -> Stack:
        """The stack under the devonboarder contract plus one egress canary (db's tiers are all internal)."""
        text = CONTRACT.read_text() + f"  egress_canaries:\n    - host: {host}\n"
        if port is not None:
            text += f"      port: {port}\n"
        path = folder / "canary.yaml"
        path.write_text(text)
        return cls(load_contract(path))

"""The netns prober as an agent: what runs inside the helper container, and the wire both sides speak.

The helper executor (live/netns/helper.py) starts one short-lived container on the engine's host, with the
host's pid namespace and the capabilities setns needs, from an image that has python3 (3.11 or later) and
nothing of netcontract. It sends the agent its own source first: this module and the modules it imports
(`bundle()`), which `BOOTSTRAP` loads from memory, so the helper runs exactly the prober of the netcontract
that started it. Then one JSON object per line each way:

    -> {"op": "problem", "pid": 9366, "id": "<container id>", "name": "app-db-1"}
    <- {"problem": null}                      or a one-line reason, as HostNamespaces.problem gives it
    -> {"op": "run", "sources": [...], "window": 0.1, "stretch": [10, 2.0]}
    <- {"run": {...}}                         a NetnsRun (to_wire / run_from_wire)

The agent reads nothing else and writes nothing but those answers; it exits at the end of its input (the
parent went away: its attach ends and the engine closes the container's stdin) or after `idle` seconds
without a request. Everything here but `serve` is pure.
"""

from __future__ import annotations

import ast
import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from netcontract.live.netns.enter import NetnsSource, NetnsUnavailable, pid_problem, run_netns
from netcontract.live.netns.tasks import NetnsRun, Stretch
from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind

# Loads the bundle sent as the first line of stdin from memory, then serves. Python 3.11 or later.
BOOTSTRAP = """\
import importlib.abc, importlib.util, json, sys
b = json.loads(sys.stdin.buffer.readline())
class F(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        m = b["modules"].get(name)
        return importlib.util.spec_from_loader(name, self, is_package=m["package"]) if m else None
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        m = b["modules"][module.__name__]
        exec(compile(m["source"], m["file"], "exec"), module.__dict__)
sys.meta_path.insert(0, F())
import netcontract.live.netns.agent as agent
agent.serve(sys.stdin.buffer, sys.stdout.buffer, idle=b["idle"])
"""


_BUNDLES: dict[float, bytes] = {}
_BUNDLE_LOCK = threading.Lock()


def bundle(idle: float = 600.0) -> bytes:
    """The first line sent to the helper: the source of this module and of every netcontract module it
    imports (found from their import statements), with the packages between them. Made once per process,
    under a lock: a swarm starts one helper per node at once, and CPython 3.11's `ast.parse` is not safe in
    several threads at a time (measured: "SystemError: AST constructor recursion depth mismatch")."""
    with _BUNDLE_LOCK:
        if idle not in _BUNDLES:
            _BUNDLES[idle] = _make_bundle(idle)
        return _BUNDLES[idle]


def _make_bundle(idle: float) -> bytes:
    root = (
        Path(__file__).resolve().parents[3]
    )  # the directory that holds the netcontract package (not in the helper)
    modules: dict[str, dict[str, Any]] = {}
    todo = [__name__]
    while todo:
        name = todo.pop()
        if name in modules:
            continue
        path = root.joinpath(*name.split("."))
        package = path.is_dir()
        file = path / "__init__.py" if package else path.with_suffix(".py")
        source = file.read_text(encoding="utf-8")
        modules[name] = {
            "source": source,
            "package": package,
            "file": f"<netcontract helper>/{file.name}",
        }
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("netcontract")
            ):
                todo.append(node.module)
                todo += [
                    f"{node.module}.{a.name}"
                    for a in node.names
                    if root.joinpath(*node.module.split("."), a.name).with_suffix(".py").is_file()
                ]
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.startswith("netcontract")]
    return json.dumps({"modules": modules, "idle": idle}).encode() + b"\n"


# -- the wire ---------------------------------------------------------------------------------------------


def sources_to_wire(sources: Sequence[NetnsSource]) -> list[Any]:
    """Sources with their probes as JSON values."""
    return [
        [
            s.key,
            s.pid,
            [[p.key, p.kind.value, p.target, p.port, p.qtype] for p in s.probes],
            list(s.resolvers),
        ]
        for s in sources
    ]


def sources_from_wire(value: Any) -> list[NetnsSource]:
    """The agent's side of `sources_to_wire`; ValueError for anything else."""
    out = []
    for key, pid, probes, resolvers in value:
        out.append(
            NetnsSource(
                str(key),
                int(pid),
                tuple(
                    Probe(
                        str(k),
                        ProbeKind(kind),
                        str(target),
                        None if port is None else int(port),
                        str(qtype),
                    )
                    for k, kind, target, port, qtype in probes
                ),
                tuple(str(r) for r in resolvers),
            )
        )
    return out


def run_to_wire(run: NetnsRun) -> dict[str, Any]:
    """A NetnsRun as JSON values (its tuple keys as lists)."""
    return {
        "observations": [
            [s, p, o.outcome.value, list(o.addresses), o.detail, o.output, o.tool, o.qtype]
            for (s, p), o in run.observations.items()
        ],
        "latency_ms": [[s, p, ms] for (s, p), ms in run.latency_ms.items()],
        "slowest_tcp_ok_ms": dict(run.slowest_tcp_ok_ms),
        "waited_ms": [[s, p, ms] for (s, p), ms in run.waited_ms.items()],
    }


def run_from_wire(value: Any) -> NetnsRun:
    """The caller's side of `run_to_wire`; ValueError, KeyError or TypeError for anything else."""
    run = NetnsRun()
    for s, p, outcome, addresses, detail, output, tool, qtype in value["observations"]:
        run.observations[(str(s), str(p))] = Observation(
            Outcome(outcome),
            tuple(str(a) for a in addresses),
            str(detail),
            str(output),
            str(tool),
            str(qtype),
        )
    run.latency_ms = {(str(s), str(p)): float(ms) for s, p, ms in value["latency_ms"]}
    run.slowest_tcp_ok_ms = {str(k): float(v) for k, v in value["slowest_tcp_ok_ms"].items()}
    run.waited_ms = {(str(s), str(p)): float(ms) for s, p, ms in value["waited_ms"]}
    return run


def answer(request: Any) -> dict[str, Any]:
    """The agent's answer to one request (the setns and sockets happen here, inside the helper)."""
    op = request.get("op") if isinstance(request, dict) else None
    if op == "problem":
        try:
            return {
                "problem": pid_problem(
                    int(request["pid"]), str(request["id"]), str(request["name"])
                )
            }
        except NetnsUnavailable as exc:
            return {"problem": str(exc), "everywhere": True}
    if op == "run":
        stretch = request.get("stretch")
        run = run_netns(
            sources_from_wire(request["sources"]),
            float(request["window"]),
            stretch=Stretch(float(stretch[0]), float(stretch[1])) if stretch else None,
        )
        return {"run": run_to_wire(run)}
    if op == "hello":
        return {"python": sys.version.split()[0]}
    return {"error": f"unknown request {op!r}"}


def serve(stdin: IO[bytes], stdout: IO[bytes], idle: float = 600.0) -> None:
    """Answer requests, one line each, until the input ends or `idle` seconds pass without one (SIGALRM
    ends the process: the parent is gone or stuck)."""
    import signal

    while True:
        signal.alarm(max(1, int(idle)))
        line = stdin.readline()
        signal.alarm(0)
        if not line:
            return
        try:
            reply = answer(json.loads(line))
        except Exception as exc:  # one bad request must not end the agent silently: say what failed
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(reply).encode() + b"\n")
        stdout.flush()

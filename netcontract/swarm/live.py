"""A Swarm stack seen through a manager and every node's engine: `SwarmEngine` implements `LiveEngine`.

The manager's API gives the services, the tasks that should run (and on which node) and the swarm's
networks; each node's engine gives the task containers running there, their health and their endpoints
(`docker network inspect` lists only local endpoints, so no single engine sees them all). Probes run on
the task's own node: `exec` and `sidecar` go to that node's engine, and the helper executor runs one
helper container per node, through that node's engine (`helpers`, swarm/helpers.py). There is no
cross-node exec, and the netns executor is for containers of an engine on this host only (a node's pids
are not this host's). auto: the helper where --helper-image is given and it runs on the task's node, else
exec, then a sidecar where a task lacks the tools.

A node whose engine does not answer is recorded, not fatal: its tasks are known from the manager only
(`Container.unreadable`), and every check that needs them becomes an ERROR naming the node
(`structural.unreadable_errors`, and `exec`/`sidecar`/`changed` below), so such a check exits 3, never 0.

Docker is reached through `live.docker.engine` only (SDK clients made there; `sdk_errors` translates every docker
error into EngineError).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from netcontract.errors import EngineError, UsageError
from netcontract.live.docker import engine as docker_engine
from netcontract.live.netns.enter import NetnsRun, NetnsSource, Stretch
from netcontract.live.netns.helper import HelperNamespaces
from netcontract.state import STACK_LABEL, Container, State
from netcontract.swarm.helpers import SwarmHelpers
from netcontract.swarm.nodes import (
    TASK_ID_LABEL,
    NodeRef,
    SwarmRead,
    build_state,
    node_names,
    stack_service,
)

CONNECT_TIMEOUT = 5.0  # seconds for a node's engine to answer its first ping

NETNS_PROBLEM = (
    "a swarm task runs on its node's engine, and the netns executor enters only containers of an "
    "engine on this host"
)


class NoNamespaces:
    """The NamespaceProber of a swarm check: the netns executor never applies (see NETNS_PROBLEM)."""

    def problem(self, container: Container) -> str | None:
        """Always NETNS_PROBLEM: a task's pid belongs to its node, not to this host."""
        return NETNS_PROBLEM

    def run(
        self, sources: Sequence[NetnsSource], window: float, stretch: Stretch | None = None
    ) -> NetnsRun:
        """An empty run: no source ever reaches it (see `problem`)."""
        return NetnsRun()


class SwarmEngine:
    """The LiveEngine of a swarm: reads from the manager and the nodes, runs probes on each task's node."""

    def __init__(
        self,
        manager: str,
        engines: Mapping[str, docker_engine.Engine],
        unreachable: Mapping[str, str],
        version: str = "",
    ) -> None:
        self.manager = manager
        self.engines = dict(engines)  # node name -> its engine (only nodes that answered)
        self.unreachable = dict(unreachable)  # node name -> why not
        self.version = version
        self._where: dict[str, str] = {}  # container id -> node name (from the last snapshot)
        self._blind: dict[
            str, str
        ] = {}  # container id -> why it cannot be reached (its node was not read)
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------
    def snapshot(self, project: str | None, networks: Iterable[str]) -> State:
        """The stack `project` as one State: services and tasks from the manager, task containers and
        endpoints from each node's engine (read in parallel), and the networks they are on.

        A node that does not answer, or that no --node names, is recorded in `unreachable`, not fatal.
        UsageError without a stack name; EngineError when the manager cannot be read.
        """
        if not project:
            raise UsageError(
                "a swarm check needs the stack name: `project:` in the contract or --project"
            )
        wanted = list(dict.fromkeys(networks))
        api = self.engines[self.manager].api
        with docker_engine.sdk_errors(f"reading the swarm from manager {self.manager}"):
            nodes = api.nodes()
            services = api.services(filters={"label": f"{STACK_LABEL}={project}"})
            ids = {s["ID"] for s in services}
            tasks = [
                t
                for t in api.tasks(filters={"desired-state": "running"})
                if t.get("ServiceID") in ids
            ]
            found = self._networks(api, wanted)
        unreachable = dict(self.unreachable)
        for n in nodes:  # a node the manager knows but nobody named (or that is down)
            name = node_names([n])[str(n.get("ID"))]
            if name not in self.engines and name not in unreachable:
                state = (n.get("Status") or {}).get("State")
                unreachable[name] = f"no --node {name}=URL given (manager: {state})"
        per_node: dict[str, list[tuple[Container, Mapping[str, str]]]] = {}

        def read_one(item: tuple[str, docker_engine.Engine]) -> tuple[str, Any]:
            name, eng = item
            try:
                return name, self._read_node(eng, project, wanted)
            except EngineError as exc:
                return name, exc

        with ThreadPoolExecutor(max_workers=8) as pool:
            for name, got in pool.map(read_one, sorted(self.engines.items())):
                if isinstance(got, EngineError):
                    unreachable[name] = str(got)
                    continue
                per_node[name], _ = got
        # networks the (current) containers are on besides the tiers: a swarm-scope one from the manager, a
        # node-local one (bridge, a network made on one node) from the node where a container is on it
        current = {t.get("ID") for t in tasks}
        on: dict[str, str] = {}  # network -> a node with a current container on it
        for node, cs in sorted(per_node.items()):
            for c, labels in cs:
                if stack_service(labels, project) is None or labels.get(TASK_ID_LABEL) in current:
                    for ep in c.endpoints:
                        on.setdefault(ep.network, node)
        extra = sorted(set(on) - set(found))
        with docker_engine.sdk_errors(f"reading networks from manager {self.manager}"):
            found.update(
                {
                    n: raw
                    for n, raw in self._networks(api, extra).items()
                    if raw.get("Scope") == "swarm"
                }
            )
        for name in extra:
            if name not in found:
                with docker_engine.sdk_errors(f"reading network {name} on node {on[name]}"):
                    found.update(self._networks(self.engines[on[name]].api, [name]))
        read = SwarmRead(
            project=project,
            manager=self.manager,
            nodes=nodes,
            services=services,
            tasks=tasks,
            networks=tuple(
                docker_engine.network_from_inspect(found[n])
                for n in [*wanted, *extra]
                if n in found
            ),
            containers=per_node,
            unreachable=unreachable,
            engine=self.version,
        )
        state = build_state(read)
        with self._lock:
            self._where = {c.id: c.node for c in state.containers if c.node}
            self._blind = {
                c.id: f"{c.label}: {c.unreadable}" for c in state.containers if c.unreadable
            }
        return state

    @staticmethod
    def _networks(api: Any, names: list[str]) -> dict[str, dict[str, Any]]:
        """Inspect of the networks of these exact names that this engine has."""
        if not names:
            return {}
        out = {}
        for raw in api.networks(names=names):
            if raw.get("Name") in names:
                out[raw["Name"]] = api.inspect_network(raw["Id"])
        return out

    def _read_node(
        self, eng: docker_engine.Engine, project: str, wanted: list[str]
    ) -> tuple[list[tuple[Container, Mapping[str, str]]], dict[str, dict[str, Any]]]:
        """The stack's containers on this node and every container attached to a tier network here."""
        api = eng.api
        with docker_engine.sdk_errors("reading the node's containers"):
            ids = {
                c["Id"]
                for c in api.containers(all=True, filters={"label": f"{STACK_LABEL}={project}"})
            }
            nets = self._networks(api, wanted)
            for raw in nets.values():
                # local endpoints only; `lb-<network>` is the node's load-balancer endpoint, not a container
                ids |= {cid for cid in (raw.get("Containers") or {}) if not cid.startswith("lb-")}
        raws = docker_engine.inspect_containers_raw(api, sorted(ids))
        out: list[tuple[Container, Mapping[str, str]]] = [
            (
                docker_engine.container_from_inspect(r),
                dict((r.get("Config") or {}).get("Labels") or {}),
            )
            for r in raws
        ]
        return out, nets

    # -- probing on the task's node ---------------------------------------------------------------
    def node_of(self, container_id: str) -> str:
        """The node a container of the last snapshot runs on; EngineError when that node cannot be reached."""
        with self._lock:
            blind = self._blind.get(container_id)
            node = self._where.get(container_id)
        if blind:
            raise EngineError(blind)
        if node is None or node not in self.engines:
            why = self.unreachable.get(node or "", "not in the last snapshot")
            raise EngineError(
                f"container {container_id[:12]}: node {node or '?'} cannot be reached ({why})"
            )
        return node

    def _engine_of(self, container_id: str) -> docker_engine.Engine:
        return self.engines[self.node_of(container_id)]

    def task_nodes(self) -> list[str]:
        """The nodes whose engines answered and that run a container of the last snapshot."""
        with self._lock:
            return sorted(set(self._where.values()) & set(self.engines))

    def exec(self, container_id: str, argv: list[str]) -> tuple[int | None, str]:
        """Run argv in the task's container on its own node's engine; EngineError when that node cannot be reached."""
        return self._engine_of(container_id).exec(container_id, argv)

    def sidecar(
        self,
        source_id: str,
        image: str,
        argv: list[str],
        run_id: str,
        timeout: float,
        cancelled: threading.Event | None = None,
    ) -> tuple[int | None, str]:
        """Run argv in a sidecar on the source task's own node; EngineError when that node cannot be reached."""
        return self._engine_of(source_id).sidecar(
            source_id, image, argv, run_id, timeout, cancelled
        )

    def image_problem(self, image: str, pull: bool) -> str | None:
        """The probe image must be on every node that has a task (nodes pull from their own registry, if any)."""
        for node in self.task_nodes():
            problem = self.engines[node].image_problem(image, pull)
            if problem:
                return f"node {node}: {problem}"
        return None

    def changed(self, started: Mapping[str, str]) -> set[str]:
        """Per node; a container whose node cannot be read is counted as changed: nothing is proven by it."""
        by_node: dict[str, dict[str, str]] = {}
        out: set[str] = set()
        with self._lock:
            where, blind = dict(self._where), dict(self._blind)
        for cid, at in started.items():
            node = where.get(cid)
            if cid in blind or node not in self.engines:
                out.add(cid)
            else:
                by_node.setdefault(str(node), {})[cid] = at
        for node, part in by_node.items():
            out |= self.engines[node].changed(part)
        return out

    def helper(self, image: str, argv: list[str], run_id: str, pull: bool) -> Any:
        """No single helper serves a swarm: each node has its own (`helpers`); EngineError says so."""
        raise EngineError(
            "a swarm has no single helper: one runs on each node (SwarmEngine.helpers)"
        )

    def helpers(self, image: str, run_id: str, pull: bool) -> SwarmHelpers:
        """The helper executor's prober for this swarm: one helper container per node, started through that
        node's engine on first use, probing the tasks of that node (swarm/helpers.py)."""
        return SwarmHelpers(
            lambda node: HelperNamespaces(self.engines[node], image, run_id, pull),
            self.node_of,
            self.task_nodes,
        )

    def remove_run(self, run_id: str) -> int:
        """Remove this run's probe containers from every node's engine; how many were removed."""
        return sum(eng.remove_run(run_id) for eng in self.engines.values())

    def close(self) -> None:
        """Close every node's engine, ignoring errors."""
        for eng in self.engines.values():
            with contextlib.suppress(Exception):
                eng.close()


def connect_swarm(nodes: Sequence[NodeRef], timeout: float = 30) -> SwarmEngine:
    """Connect to every node given (in parallel); find the manager among those that answer.

    Without nodes, the engine of the environment (DOCKER_HOST) is the manager and the only node read.
    UsageError when a URL answers as another node than its NAME says, or NAME is no node of the swarm;
    EngineError when no node that answers is a manager."""
    if not nodes:
        client = docker_engine.connect(timeout=timeout)
        refs: list[tuple[NodeRef, Any]] = [(NodeRef("", docker_engine._host()), client)]
    else:

        def one(ref: NodeRef) -> tuple[NodeRef, Any]:
            try:
                return ref, docker_engine.connect_url(
                    ref.url, timeout=timeout, connect_timeout=CONNECT_TIMEOUT
                )
            except EngineError as exc:
                return ref, exc

        with ThreadPoolExecutor(max_workers=8) as pool:
            refs = list(pool.map(one, nodes))
    unreachable = {
        ref.name: str(c).removeprefix("cannot reach the Docker engine at ")
        for ref, c in refs
        if isinstance(c, EngineError)
    }
    answered = [
        (ref, docker_engine.sdk_engine(c, timeout))
        for ref, c in refs
        if not isinstance(c, EngineError)
    ]
    try:
        return _identify(answered, unreachable)
    except BaseException:
        for _, eng in answered:
            eng.close()
        raise


def _identify(
    answered: list[tuple[NodeRef, docker_engine.Engine]], unreachable: dict[str, str]
) -> SwarmEngine:
    infos = {}
    for ref, eng in answered:
        with docker_engine.sdk_errors(f"asking node {ref.name or ref.url} for its swarm state"):
            infos[id(eng)] = eng.api.info()
    manager = next(
        (e for _, e in answered if (infos[id(e)].get("Swarm") or {}).get("ControlAvailable")), None
    )
    if manager is None:
        down = "; ".join(f"{n}: {why}" for n, why in sorted(unreachable.items()))
        asked = ", ".join(r.name or r.url for r, _ in answered) or "none"
        raise EngineError(
            f"no swarm manager answers (asked: {asked}"
            + (f"; not reached: {down})" if down else ")")
        )
    with docker_engine.sdk_errors("listing the swarm's nodes"):
        hostnames = node_names(manager.api.nodes())
    engines: dict[str, docker_engine.Engine] = {}
    manager_name = ""
    for ref, eng in answered:
        swarm = infos[id(eng)].get("Swarm") or {}
        actual = hostnames.get(str(swarm.get("NodeID") or ""))
        if actual is None:
            raise UsageError(
                f"--node {ref.name or ref.url}: the engine at {ref.url} is not a node of this swarm "
                f"(its swarm state: {swarm.get('LocalNodeState') or 'inactive'})"
            )
        if ref.name and ref.name != actual:
            raise UsageError(
                f"--node {ref.name}={ref.url}: that engine is swarm node {actual}, not {ref.name}"
            )
        engines[actual] = eng
        if eng is manager:
            manager_name = actual
    for name in unreachable:
        if name not in hostnames.values():
            raise UsageError(
                f"--node {name}: no node of this swarm has that hostname "
                f"(nodes: {', '.join(sorted(hostnames.values()))})"
            )
    info = infos[id(manager)]
    version = (
        f"Docker {info.get('ServerVersion', '?')} (client API {getattr(manager.api, 'api_version', '?')}; "
        f"swarm: manager {manager_name}, {len(engines)} of {len(hostnames)} node engines answered)"
    )
    return SwarmEngine(manager_name, engines, unreachable, version)

"""Docker Swarm stacks: from what a manager and each node's engine said to one `State`. Pure.

A stack's truth is split (docs/swarm.md, measured): the manager's store knows the services (their
network aliases, endpoint mode, virtual IPs, published ports), the tasks that should run and where;
each task's container, its health and its endpoints are seen only by the engine of the node it runs on.
`build_state` merges both: a task container read on its node becomes a `Container` named by its task
(`nctest_web.2`, or `nctest_proxy@node` for a global service), with the service spec's aliases on its
endpoints; a task whose node was not read is still a `Container`, built from the manager's record (its
addresses), marked `unreadable` with the reason, so every check that needs it says ERROR.

The live reading is `swarm/live.py`; it hands this module JSON and already-parsed containers and networks.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from netcontract.errors import UsageError
from netcontract.results import Result, Verdict
from netcontract.state import (
    STACK_LABEL,
    SWARM_SERVICE_LABEL,
    Container,
    Endpoint,
    Network,
    PublishedPort,
    State,
)

TASK_ID_LABEL = "com.docker.swarm.task.id"

_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_SCHEMES = ("tcp://", "unix://", "ssh://", "http://", "https://")
_CONTEXT_NAME = re.compile(
    r"[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,127}"
)  # the docker CLI's rule for context names


@dataclass(frozen=True)
class NodeRef:
    """`--node NAME=URL`: a swarm node's hostname (as `docker node ls` shows it) and its engine's URL, or
    `context:CTX` for the Docker context CTX (its host and TLS material)."""

    name: str
    url: str


def parse_node(text: str) -> NodeRef:
    """`NAME=URL` -> NodeRef; UsageError (exit 2) with one line when it is not that."""
    name, sep, url = text.partition("=")
    name, url = name.strip(), url.strip()
    if not sep or not name or not url:
        raise UsageError(f"--node {text!r}: expected NAME=URL, e.g. node1=tcp://10.0.0.5:2375")
    if not _NODE_NAME.fullmatch(name):
        raise UsageError(
            f"--node {name!r}: a node name is a hostname (letters, digits, '.', '-', '_')"
        )
    if url.startswith("context:"):
        if not _CONTEXT_NAME.fullmatch(url.removeprefix("context:")):
            raise UsageError(f"--node {name}: {url!r} is not a Docker context name (context:NAME)")
        return NodeRef(name, url)
    if (
        not url.startswith(_SCHEMES)
        or len(url) > 512
        or any(ch.isspace() or ord(ch) < 32 for ch in url)
    ):
        raise UsageError(
            f"--node {name}: {url!r} is not an engine URL (tcp://HOST:PORT, unix:///PATH, ssh://... "
            "or context:NAME)"
        )
    return NodeRef(name, url)


def parse_nodes(texts: Iterable[str]) -> tuple[NodeRef, ...]:
    """Every `--node NAME=URL` as a NodeRef; UsageError (exit 2) for a malformed one or a name given twice."""
    nodes = tuple(parse_node(t) for t in texts)
    seen: set[str] = set()
    for n in nodes:
        if n.name in seen:
            raise UsageError(f"--node {n.name} is given twice")
        seen.add(n.name)
    return nodes


def stack_service(labels: Mapping[str, str], project: str) -> str | None:
    """The stack's own service name of a task container (`nctest_db` -> `db`), or None if not of the stack."""
    full = labels.get(SWARM_SERVICE_LABEL) or ""
    if labels.get(STACK_LABEL) != project or not full.startswith(f"{project}_"):
        return None
    return full[len(project) + 1 :] or None


@dataclass(frozen=True)
class SwarmRead:
    """What was read, as the Engine API returns it (manager) or already parsed (networks, node containers)."""

    project: str
    manager: str  # the node name whose engine answered as manager
    nodes: Sequence[Mapping[str, Any]]  # manager: GET /nodes
    services: Sequence[Mapping[str, Any]]  # manager: GET /services, the stack's
    tasks: Sequence[Mapping[str, Any]]  # manager: GET /tasks, desired state running
    networks: Sequence[Network]  # the tier networks and the others the tasks are on
    containers: Mapping[
        str, Sequence[tuple[Container, Mapping[str, str]]]
    ]  # node -> (container, its labels)
    unreachable: Mapping[str, str]  # node -> why its engine was not read
    engine: str = ""


def node_names(nodes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Swarm node id -> hostname."""
    return {
        str(n.get("ID")): str((n.get("Description") or {}).get("Hostname") or n.get("ID"))
        for n in nodes
    }


def _short_service(raw: Mapping[str, Any], project: str) -> str:
    name = str((raw.get("Spec") or {}).get("Name") or "")
    return name[len(project) + 1 :] if name.startswith(f"{project}_") else name


def _global(raw: Mapping[str, Any]) -> bool:
    return "Global" in ((raw.get("Spec") or {}).get("Mode") or {})


def task_name(service: Mapping[str, Any], task: Mapping[str, Any], node: str) -> str:
    """Stable across deployments: `<stack>_<service>.<slot>`, or `<stack>_<service>@<node>` for a global service."""
    full = str((service.get("Spec") or {}).get("Name") or "?")
    return f"{full}@{node}" if _global(service) else f"{full}.{task.get('Slot') or '?'}"


def _aliases(service: Mapping[str, Any], net_name: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Network name -> the aliases the service spec gives its tasks there (stack deploy adds the short name)."""
    out: dict[str, tuple[str, ...]] = {}
    spec = (service.get("Spec") or {}).get("TaskTemplate") or {}
    for att in spec.get("Networks") or (service.get("Spec") or {}).get("Networks") or ():
        target = str(att.get("Target") or "")
        out[net_name.get(target, target)] = tuple(str(a) for a in att.get("Aliases") or ())
    return out


def _published(service: Mapping[str, Any]) -> tuple[PublishedPort, ...]:
    ports = (service.get("Endpoint") or {}).get("Ports") or ()
    return tuple(
        PublishedPort(
            int(p.get("TargetPort") or 0),
            str(p.get("Protocol") or "tcp"),
            "",
            str(p.get("PublishedPort") or ""),
        )
        for p in ports
        if p.get("PublishedPort")
    )


def vips(service: Mapping[str, Any], net_name: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(network name, address) of the service's virtual IPs (endpoint mode vip)."""
    out = []
    for v in (service.get("Endpoint") or {}).get("VirtualIPs") or ():
        nid, addr = str(v.get("NetworkID") or ""), str(v.get("Addr") or "")
        if addr:
            out.append((net_name.get(nid, nid), addr.split("/")[0]))
    return tuple(out)


def endpoint_mode(service: Mapping[str, Any]) -> str:
    """The service spec's endpoint mode (`vip` or `dnsrr`); `vip` when the spec sets none."""
    return str((((service.get("Spec") or {}).get("EndpointSpec") or {}).get("Mode")) or "vip")


def _with_aliases(ep: Endpoint, extra: Sequence[str]) -> Endpoint:
    return replace(ep, aliases=tuple(dict.fromkeys((*ep.aliases, *extra))))


def _attachment_endpoints(
    task: Mapping[str, Any], aliases: Mapping[str, tuple[str, ...]]
) -> tuple[Endpoint, ...]:
    """The manager's record of a task's attachments (addresses with their prefix length)."""
    out = []
    for att in task.get("NetworksAttachments") or ():
        name = str(((att.get("Network") or {}).get("Spec") or {}).get("Name") or "")
        v4 = v6 = None
        for a in att.get("Addresses") or ():
            ip = str(a).split("/")[0]
            try:
                family = ipaddress.ip_address(ip).version
            except ValueError:
                continue
            if family == 4 and v4 is None:
                v4 = ip
            elif family == 6 and v6 is None:
                v6 = ip
        if name:
            out.append(Endpoint(name, v4, aliases.get(name, ()), v6))
    return tuple(sorted(out, key=lambda e: e.network))


def _task_status(task: Mapping[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State") or "unknown")


def build_state(read: SwarmRead) -> State:
    """The stack's tasks (with their containers where their node was read), the other containers seen on
    tier networks, and the networks; `unreachable` names every node whose engine was not read."""
    project = read.project
    hostnames = node_names(read.nodes)
    net_name = {n.id: n.name for n in read.networks if n.id}
    for task in read.tasks:
        for att in task.get("NetworksAttachments") or ():
            net = att.get("Network") or {}
            net_name.setdefault(
                str(net.get("ID") or ""), str((net.get("Spec") or {}).get("Name") or "")
            )
    services = {str(s.get("ID")): s for s in read.services}
    tasks = {str(t.get("ID")): t for t in read.tasks if str(t.get("ServiceID")) in services}
    aliases = {sid: _aliases(s, net_name) for sid, s in services.items()}
    containers: list[Container] = []
    seen_tasks: set[str] = set()
    for node, found in sorted(read.containers.items()):
        for c, labels in found:
            short = stack_service(labels, project)
            tid = labels.get(TASK_ID_LABEL, "")
            if short is None:
                containers.append(replace(c, node=node))  # not the stack's: seen on a tier network
                continue
            found_task = tasks.get(tid)
            if found_task is None:
                continue  # an old task of the history (stopped, replaced): not part of the deployment
            task = found_task
            seen_tasks.add(tid)
            service = services[str(task.get("ServiceID"))]
            spec_aliases = aliases[str(task.get("ServiceID"))]
            containers.append(
                replace(
                    c,
                    project=project,
                    service=short,
                    name=task_name(service, task, node),
                    node=node,
                    endpoints=tuple(
                        _with_aliases(ep, spec_aliases.get(ep.network, ())) for ep in c.endpoints
                    ),
                    published=tuple(dict.fromkeys((*c.published, *_published(service)))),
                )
            )
    for tid, task in sorted(tasks.items()):
        if tid in seen_tasks:
            continue
        service = services[str(task.get("ServiceID"))]
        node_id = str(task.get("NodeID") or "")
        node = hostnames.get(node_id, node_id) if node_id else ""
        status = _task_status(task)
        cid = str(
            ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID") or tid
        )
        if not node:
            why = ""  # not scheduled yet: the task's state says so (pending)
        elif node in read.unreachable:
            why = f"node {node} was not read ({read.unreachable[node]}); only the manager's record of this task is known"
        elif status == "running":
            why = (
                f"the manager says it runs on node {node}, whose engine has no container {cid[:12]}"
            )
        else:
            why = ""  # the node was read and the task has no container yet (starting, preparing): a true state
        containers.append(
            Container(
                cid,
                task_name(service, task, node or "?"),
                project,
                _short_service(service, project),
                status,
                endpoints=_attachment_endpoints(task, aliases[str(task.get("ServiceID"))]),
                published=_published(service),
                node=node,
                unreadable=why,
            )
        )
    vip_list = tuple(
        (_short_service(s, project), net, addr)
        for s in read.services
        if endpoint_mode(s) == "vip"
        for net, addr in vips(s, net_name)
    )
    read_nodes = sorted(read.containers)
    notes = [
        f"swarm: stack {project}, {len(tasks)} tasks of {len(services)} services; manager {read.manager}; "
        f"nodes read: {', '.join(read_nodes) or 'none'}"
    ]
    notes += [f"swarm: node {n} not read: {why}" for n, why in sorted(read.unreachable.items())]
    return State(
        project=project,
        networks=tuple(read.networks),
        containers=tuple(sorted(containers, key=lambda c: (c.name, c.id))),
        engine=read.engine,
        notes=tuple(notes),
        orchestrator="swarm",
        unreachable=tuple(sorted(read.unreachable.items())),
        vips=vip_list,
    )


def explain_unreadable(results: Sequence[Result], state: State) -> list[Result]:
    """Probe results voided because a service has a task whose node was not read (the runner counts such a
    task as changed: nothing observed from or to it is proven) say so, instead of "stopped or restarted"."""
    blind = {c.service: c for c in state.containers if c.unreadable and c.service}
    out = []
    for r in results:
        for svc in (r.src, r.dst):
            task = blind.get(svc)
            if (
                task is not None
                and r.verdict is Verdict.ERROR
                and r.reason.startswith(f"{svc} stopped or restarted")
            ):
                r = r.with_verdict(Verdict.ERROR, f"not evaluated: {task.label}: {task.unreadable}")
                break
        out.append(r)
    return out


VIP_NOTE = (
    "the same source reaches the tasks' own addresses on this path, so the virtual IP's load balancing "
    "does not forward: Swarm's VIPs need IPVS in the nodes' kernel (ip_vs)"
)


def explain_vips(results: Sequence[Result]) -> list[Result]:
    """A virtual IP that does not connect (`reach:...@tier/vip` FAIL) while its twin, the same source to the
    task addresses of the same service on the same tier, connected: the reason says what that points at."""
    by_id = {r.id: r for r in results}
    out = []
    for r in results:
        twin = by_id.get(r.id.removesuffix("/vip")) if r.id.endswith("/vip") else None
        if r.verdict is Verdict.FAIL and twin is not None and twin.verdict is Verdict.PASS:
            r = r.with_verdict(Verdict.FAIL, f"{r.reason}; {VIP_NOTE}")
        out.append(r)
    return out

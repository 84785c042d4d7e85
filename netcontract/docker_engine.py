"""The one module that imports `docker`. It reads live state and runs containers for probes.

Every docker exception is translated into `EngineError` here, so the rest of
netcontract never sees the SDK. The client honours DOCKER_HOST, DOCKER_TLS_VERIFY
and DOCKER_CERT_PATH through `docker.from_env`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import docker.errors
import requests.exceptions

from netcontract.errors import EngineError
from netcontract.state import (
    PROJECT_LABEL,
    SERVICE_LABEL,
    Container,
    Endpoint,
    Network,
    PublishedPort,
    State,
)

_ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def connect(timeout: float = 30) -> docker.DockerClient:
    """A client for the engine in the environment; EngineError when it does not answer."""
    try:
        client = docker.from_env(timeout=int(max(timeout, 1)))
        client.ping()
    except _ENGINE_ERRORS as exc:
        raise EngineError(f"cannot reach the Docker engine ({_host()}): {_short(exc)}") from None
    return client


def _host() -> str:
    import os

    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Permission denied" in text:
        return "permission denied on the Docker socket (run as a member of the docker group, or set DOCKER_HOST)"
    if "FileNotFoundError" in text or "No such file" in text or "Connection refused" in text:
        return "the daemon is not running (start it, or set DOCKER_HOST)"
    return text[:300]


@contextlib.contextmanager
def engine_errors(action: str) -> Iterator[None]:
    try:
        yield
    except docker.errors.NotFound as exc:
        raise EngineError(f"{action}: not found: {exc.explanation or exc}") from None
    except _ENGINE_ERRORS as exc:
        raise EngineError(f"{action}: {_short(exc)}") from None


# -- snapshot -----------------------------------------------------------------


def snapshot(client: docker.DockerClient, project: str | None, networks: Iterable[str]) -> State:
    """Read the tier networks, the project's containers and every container on a tier network."""
    api = client.api
    wanted = list(dict.fromkeys(networks))
    with engine_errors("reading networks"):
        found: dict[str, dict[str, Any]] = {}
        for raw in api.networks(names=wanted):
            if raw.get("Name") in wanted:
                found[raw["Name"]] = raw
    ids: set[str] = set()
    with engine_errors("listing containers"):
        if project:
            ids |= {c["Id"] for c in api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})}
        for name in found:
            # list() of networks omits members; inspect gives the attached (running) containers
            detail = api.inspect_network(found[name]["Id"])
            found[name] = detail
            ids |= set((detail.get("Containers") or {}).keys())
    containers = _inspect_all(api, sorted(ids))
    nets = tuple(network_from_inspect(found[n]) for n in wanted if n in found)
    return State(project=project, networks=nets, containers=tuple(containers))


def _inspect_all(api: Any, ids: list[str]) -> list[Container]:
    def one(cid: str) -> Container | None:
        try:
            return container_from_inspect(api.inspect_container(cid))
        except docker.errors.NotFound:
            return None  # removed between list and inspect: it is simply not there
        except _ENGINE_ERRORS as exc:
            raise EngineError(f"inspecting container {cid[:12]}: {_short(exc)}") from None

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [c for c in pool.map(one, ids) if c is not None]


def network_from_inspect(raw: Mapping[str, Any]) -> Network:
    """Pure: a Network from `docker network inspect` JSON."""
    ipam = (raw.get("IPAM") or {}).get("Config") or []
    return Network(
        name=raw["Name"],
        driver=raw.get("Driver") or "",
        internal=bool(raw.get("Internal")),
        subnets=tuple(c["Subnet"] for c in ipam if c.get("Subnet")),
        id=raw.get("Id", ""),
    )


def container_from_inspect(raw: Mapping[str, Any]) -> Container:
    """Pure: a Container from `docker inspect` JSON (any engine since API 1.41)."""
    labels = (raw.get("Config") or {}).get("Labels") or {}
    state = raw.get("State") or {}
    health = (state.get("Health") or {}).get("Status") or None
    settings = raw.get("NetworkSettings") or {}
    endpoints = tuple(
        Endpoint(network=name, ipv4=ep.get("IPAddress") or None, aliases=tuple(ep.get("Aliases") or ()))
        for name, ep in sorted((settings.get("Networks") or {}).items())
    )
    return Container(
        id=raw["Id"],
        name=(raw.get("Name") or "").lstrip("/"),
        project=labels.get(PROJECT_LABEL),
        service=labels.get(SERVICE_LABEL),
        status=state.get("Status") or "unknown",
        health=health,
        endpoints=endpoints,
        published=_published(raw),
        network_mode=(raw.get("HostConfig") or {}).get("NetworkMode") or "",
    )


def _published(raw: Mapping[str, Any]) -> tuple[PublishedPort, ...]:
    # A running container reports its bindings in NetworkSettings.Ports; a stopped
    # one only in HostConfig.PortBindings. Either means "published".
    ports = (raw.get("NetworkSettings") or {}).get("Ports") or {}
    bindings = (raw.get("HostConfig") or {}).get("PortBindings") or {}
    out: list[PublishedPort] = []
    for key in sorted(set(ports) | set(bindings)):
        binds = ports.get(key) or bindings.get(key) or []
        port, _, proto = key.partition("/")
        for b in binds:
            out.append(PublishedPort(int(port), proto or "tcp", b.get("HostIp") or "", b.get("HostPort") or ""))
    return tuple(dict.fromkeys(out))

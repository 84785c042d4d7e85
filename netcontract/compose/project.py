"""Compose files -> the project compose would create -> a static `State`.

`load_project` reads and merges the files and builds a `ComposeProject`: the
services with their profiles, networks, aliases, published and exposed ports,
and the networks with their real names. Two loaders build it: Compose's own
(`docker compose config --format json`, see compose/loader.py) when the command
selected it and a binary is found, else netcontract's reader (compose/reader.py),
which refuses in one line what it cannot read as Compose would.
`to_state` turns the active services into the `State` that the structural
rules read, so `lint` and `check` share every rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netcontract.compose.guard import guard_service_files
from netcontract.compose.ports import other_exposed, parse_expose, parse_ports
from netcontract.compose.reader import (
    default_files,
    load_doc,
    merge_docs,
    project_name,
    read_env,
    read_text,
)
from netcontract.errors import ComposeError
from netcontract.state import Container, Endpoint, Network, PublishedPort, State


@dataclass(frozen=True)
class ComposeOptions:
    """Which compose files to read and how, as `docker compose` takes them (-f, --profile, --env-file, -p)."""

    files: tuple[str, ...]
    profiles: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    project: str | None = None
    environ: Mapping[str, str] | None = None  # None: the process environment
    # "auto" (Compose if a binary is found, else builtin), "compose" or "builtin"; None: what the
    # command selected (compose.loader.selected), which is "builtin" outside the command line
    loader: str | None = None
    compose_bin: str | None = None  # a Compose binary (or `docker`, for its plugin); None: search


@dataclass(frozen=True)
class ServiceNetwork:
    """A service's attachment to one network: the network's key in the file, its aliases and ipv4_address."""

    key: str  # the network's key in the compose file
    aliases: tuple[str, ...] = ()
    ipv4: str | None = None


@dataclass(frozen=True)
class ComposeService:
    """One service as compose would run it: its networks, ports, healthcheck and where it is declared."""

    name: str
    declared: tuple[tuple[str, int], ...]  # (file, line) of each file that declares it
    active: bool
    profiles: tuple[str, ...] = ()
    network_mode: str = ""
    networks: tuple[ServiceNetwork, ...] = ()
    published: tuple[PublishedPort, ...] = ()
    expose: tuple[int, ...] = ()  # TCP ports from expose and ports targets
    expose_other: tuple[str, ...] = ()  # expose entries of other protocols, as written (53/udp)
    healthcheck: bool | None = None  # None: not declared in the file (the image may have one)
    container_name: str | None = None
    replicas: int = 1

    @property
    def origin(self) -> str:
        """The first file that declares the service."""
        return self.declared[0][0]

    @property
    def where(self) -> str:
        """`file:line` of the service's key, for messages."""
        (path, line), *more = self.declared
        also = "".join(f", {_at(p, n)}" for p, n in more)
        return _at(path, line) + (f" (also{also[1:]})" if more else "")


def _at(path: str, line: int) -> str:
    return f"{path}:{line}" if line else path  # line 0: the file is known, the line is not


@dataclass(frozen=True)
class ComposeNetwork:
    """One network of the project: its key in the file, the name Docker gives it, driver, internal, external."""

    key: str
    name: str
    driver: str = "bridge"
    internal: bool = False
    external: bool = False


@dataclass(frozen=True)
class ComposeProject:
    """The project compose would create: its name, files, services and networks, and what read them."""

    name: str
    files: tuple[str, ...]
    services: tuple[ComposeService, ...]
    networks: Mapping[str, ComposeNetwork]  # every declared network, plus `default`
    notes: tuple[str, ...] = field(default=())
    loader: str = "netcontract's own reader"  # what read the files, for the report's note

    def service(self, name: str) -> ComposeService | None:
        """The service named `name`, or None."""
        return next((s for s in self.services if s.name == name), None)

    @property
    def active(self) -> tuple[ComposeService, ...]:
        """The services that run with the selected profiles."""
        return tuple(s for s in self.services if s.active)

    def used_networks(self) -> list[ComposeNetwork]:
        """Networks compose would create or join: those an active service uses, in first-use order."""
        keys = dict.fromkeys(n.key for s in self.active for n in s.networks)
        return [self.networks[k] for k in keys]


def load_builtin(
    options: ComposeOptions,
    reader: Callable[[str], str] = read_text,
    loader: str = "netcontract's own reader",
) -> ComposeProject:
    """netcontract's own reader: refuses `include`, `extends`, `!reset`/`!override` in one line."""
    environ = dict(os.environ if options.environ is None else options.environ)
    files = options.files or default_files(Path.cwd(), environ)
    env = read_env(files, options.env_files, environ)
    docs, unset = [], set()
    for path in files:
        doc, missing = load_doc(path, env, reader)
        guard_service_files(doc.data, path, env)
        docs.append(doc)
        unset |= missing
    merged = merge_docs(docs)
    name = project_name(options.project, env, merged, files[0])
    profiles = set(options.profiles) or {p for p in env.get("COMPOSE_PROFILES", "").split(",") if p}
    networks = _networks(merged, name, docs[-1].path)
    raw_services = merged.get("services") or {}
    if not isinstance(raw_services, dict):
        raise ComposeError(f"{files[0]}: services must be a mapping")
    services = []
    for svc_name, raw in raw_services.items():
        declared = tuple((d.path, d.lines[svc_name]) for d in docs if svc_name in d.lines)
        services.append(_service(str(svc_name), raw, declared, networks, profiles))
    notes = tuple(
        f"variable {v} is not set: compose substitutes an empty string" for v in sorted(unset)
    )
    return ComposeProject(name, tuple(files), tuple(services), networks, notes, loader=loader)


def _networks(merged: Mapping[str, Any], project: str, path: str) -> dict[str, ComposeNetwork]:
    raw = merged.get("networks") or {}
    if not isinstance(raw, dict):
        raise ComposeError(f"{path}: networks must be a mapping")
    out = {"default": ComposeNetwork("default", f"{project}_default")}
    for key, value in raw.items():
        spec = value or {}
        if not isinstance(spec, dict):
            raise ComposeError(f"{path}: networks.{key}: must be a mapping")
        external = spec.get("external", False)
        ext_name = external.get("name") if isinstance(external, dict) else None  # legacy syntax
        is_external = (
            bool(external)
            if not isinstance(external, str)
            else _bool(external, f"networks.{key}.external", path)
        )
        if is_external:
            name = str(spec.get("name") or ext_name or key)
        else:
            name = str(spec.get("name") or f"{project}_{key}")
        out[str(key)] = ComposeNetwork(
            key=str(key),
            name=name,
            driver=str(spec.get("driver") or ("" if is_external else "bridge")),
            internal=_bool(spec.get("internal", False), f"networks.{key}.internal", path),
            external=is_external,
        )
    return out


def _bool(value: Any, where: str, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ComposeError(f"{path}: {where}: expected true or false, got {value!r}")


def _service(
    name: str,
    raw: Any,
    declared: tuple[tuple[str, int], ...],
    networks: Mapping[str, ComposeNetwork],
    enabled: set[str],
) -> ComposeService:
    path = declared[-1][0] if declared else "?"
    where = f"services.{name}"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ComposeError(f"{path}: {where}: must be a mapping")
    profiles = tuple(str(p) for p in _list(raw.get("profiles"), f"{where}.profiles", path))
    active = not profiles or "*" in enabled or any(p in enabled for p in profiles)
    mode = str(raw.get("network_mode") or "")
    if mode and raw.get("networks") is not None:
        raise ComposeError(
            f"{path}: {where}: declares both network_mode and networks, which compose refuses"
        )
    attached: tuple[ServiceNetwork, ...] = ()
    if not mode:
        attached = _service_networks(raw.get("networks"), where, path, networks)
    published, expose, healthcheck = ports_and_health(raw, where, path)
    deploy = raw.get("deploy")
    if not isinstance(deploy, dict):
        deploy = {}
    replicas = raw.get("scale", deploy.get("replicas", 1))
    return ComposeService(
        name=name,
        declared=declared,
        active=active,
        profiles=profiles,
        network_mode=mode,
        networks=attached,
        published=published,
        expose=expose,
        expose_other=other_exposed(raw.get("expose")),
        healthcheck=healthcheck,
        container_name=str(raw["container_name"]) if raw.get("container_name") else None,
        replicas=replicas if isinstance(replicas, int) and replicas >= 0 else 1,
    )


def ports_and_health(
    spec: Mapping[str, Any], where: str, path: str
) -> tuple[tuple[PublishedPort, ...], tuple[int, ...], bool | None]:
    """A service's published ports, its exposed ports (expose, then the published TCP targets) and whether it
    has a healthcheck: read the same way from our reader's mapping and from Compose's JSON. `where` is the
    YAML location (services.db), `path` the file."""
    published = parse_ports(spec.get("ports"), f"{where}.ports", path)
    exposed = parse_expose(spec.get("expose"), f"{where}.expose", path)
    targets = tuple(p.container_port for p in published if p.protocol == "tcp")
    health = spec.get("healthcheck")
    healthcheck = None
    if isinstance(health, dict):
        test = health.get("test")
        healthcheck = not (health.get("disable") or test in (["NONE"], "NONE"))
    return published, tuple(dict.fromkeys(exposed + targets)), healthcheck


def _list(value: Any, where: str, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ComposeError(f"{path}: {where}: must be a list")
    return value


def _service_networks(
    value: Any, where: str, path: str, networks: Mapping[str, ComposeNetwork]
) -> tuple[ServiceNetwork, ...]:
    if value is None:
        return (ServiceNetwork("default"),)
    entries: dict[str, Any]
    if isinstance(value, list):
        entries = {str(v): None for v in value}
    elif isinstance(value, dict):
        entries = {str(k): v for k, v in value.items()}
    else:
        raise ComposeError(f"{path}: {where}.networks: must be a list or a mapping")
    out = []
    for key, spec in entries.items():
        if key not in networks:
            raise ComposeError(f"{path}: {where}.networks: refers to undefined network {key!r}")
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ComposeError(f"{path}: {where}.networks.{key}: must be a mapping")
        aliases = _list(spec.get("aliases"), f"{where}.networks.{key}.aliases", path)
        ipv4 = spec.get("ipv4_address")
        out.append(
            ServiceNetwork(
                key, tuple(dict.fromkeys(str(a) for a in aliases)), str(ipv4) if ipv4 else None
            )
        )
    return tuple(out)


# -- State --------------------------------------------------------------------


MAX_REPLICAS = (
    10  # replicas of one service made into containers; the rest are counted (`replica_notes`)
)


def container_names(project: ComposeProject, svc: ComposeService) -> list[str]:
    """The container names compose gives a service: container_name, else <project>-<service>-<n>, for
    at most MAX_REPLICAS replicas. Compose gives every replica the same networks and aliases, so each
    verdict on the first ones holds for the rest: `scale: 1000000` costs ten containers, not a million."""
    if svc.container_name:
        return [svc.container_name]
    return [f"{project.name}-{svc.name}-{n}" for n in range(1, min(svc.replicas, MAX_REPLICAS) + 1)]


def replica_notes(project: ComposeProject) -> list[str]:
    """One note per active service with more replicas than `container_names` makes."""
    return [
        f"{s.name}: {s.replicas} replicas declared; the first {MAX_REPLICAS} were checked (compose gives "
        "every replica the same networks and aliases)"
        for s in project.active
        if not s.container_name and s.replicas > MAX_REPLICAS
    ]


def to_state(project: ComposeProject, rename: Mapping[str, str] | None = None) -> State:
    """The State compose would create from the active services (`live=False`, status "declared").

    `rename` maps a compose service name to the contract's name for it (`--map`).
    Each endpoint carries the aliases compose gives it: the container name, the
    service name and the declared aliases.
    """
    rename = rename or {}
    containers: list[Container] = []
    for svc in project.active:
        for cname in container_names(project, svc):
            endpoints = tuple(
                Endpoint(
                    network=project.networks[n.key].name,
                    ipv4=n.ipv4,
                    aliases=tuple(dict.fromkeys((cname, svc.name, *n.aliases))),
                )
                for n in svc.networks
            )
            if svc.network_mode == "bridge":
                endpoints = (Endpoint(network="bridge"),)
            containers.append(
                Container(
                    id="",
                    name=cname,
                    project=project.name,
                    service=rename.get(svc.name, svc.name),
                    status="declared",
                    endpoints=endpoints,
                    published=svc.published,
                    network_mode=svc.network_mode,
                    origin=svc.origin,
                )
            )
    nets = tuple(
        Network(name=n.name, driver=n.driver, internal=n.internal) for n in project.used_networks()
    )
    return State(
        project=project.name,
        networks=nets,
        containers=tuple(containers),
        source=", ".join(project.files),
        live=False,
        notes=project.notes,
    )

"""Compose's canonical model (`docker compose config --format json`) -> `ComposeProject`. Pure.

Compose has already merged the files, followed `include` and `extends`, applied `!reset` and
`!override`, interpolated, normalised ports to the long syntax and dropped networks no active
service uses. What it does not say, the positions index does: where each service is declared,
and the order it lists its networks in (the JSON sorts mapping keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netcontract.compose.ports import other_exposed
from netcontract.compose.positions import Positions
from netcontract.compose.project import (
    ComposeNetwork,
    ComposeProject,
    ComposeService,
    ServiceNetwork,
    ports_and_health,
)
from netcontract.errors import ComposeError


def project_from_config(
    active: Mapping[str, Any],
    everything: Mapping[str, Any] | None,
    positions: Positions,
    files: tuple[str, ...],
    notes: tuple[str, ...] = (),
    loader: str = "",
) -> ComposeProject:
    """`active` is the model with the user's profiles; `everything` the same files with every profile
    (None: unknown; services missing from `active` are then left out)."""
    where = files[0]
    name = active.get("name")
    if not isinstance(name, str) or not name:
        raise ComposeError(f"{where}: Compose's model has no project name")
    name = _lit(name)
    networks = {"default": ComposeNetwork("default", f"{name}_default")}
    for model in (everything or {}, active):  # the active model has the last word
        raw = model.get("networks") or {}
        if not isinstance(raw, dict):
            raise ComposeError(f"{where}: Compose's model: networks is not a mapping")
        for key, spec in raw.items():
            networks[str(key)] = _network(str(key), spec or {}, name)
    running = _services(active, where)
    services = dict(running)
    for svc_name, spec in _services(everything or {}, where).items():
        services.setdefault(svc_name, spec)
    order = sorted(services, key=lambda s: _first_seen(positions, s))
    out = tuple(
        _service(
            s,
            services[s],
            s in running,
            positions.declared(s, where),
            positions.order(s),
            networks,
            where,
        )
        for s in order
    )
    return ComposeProject(name, files, out, networks, notes, loader=loader)


def _services(model: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    raw = model.get("services") or {}
    if not isinstance(raw, dict):
        raise ComposeError(f"{where}: Compose's model: services is not a mapping")
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in raw.items()}


def _first_seen(positions: Positions, service: str) -> tuple[int, int, str]:
    """Services in the order the files declare them (Compose's JSON sorts them by name)."""
    found = positions.services.get(service)
    if not found:
        return (len(positions.files) + 1, 0, service)
    path, line = found[0]
    index = positions.files.index(path) if path in positions.files else len(positions.files)
    return (index, line, service)


def _lit(value: Any) -> str:
    """A string of Compose's model as the engine sees it: `config` writes a literal `$` as `$$`."""
    return str(value).replace("$$", "$")


def _network(key: str, spec: Mapping[str, Any], project: str) -> ComposeNetwork:
    external = bool(spec.get("external"))
    return ComposeNetwork(
        key=key,
        name=_lit(spec.get("name") or (key if external else f"{project}_{key}")),
        driver=str(spec.get("driver") or ("" if external else "bridge")),
        internal=bool(spec.get("internal")),
        external=external,
    )


def _service(
    name: str,
    spec: Mapping[str, Any],
    active: bool,
    declared: tuple[tuple[str, int], ...],
    order: Any,
    networks: Mapping[str, ComposeNetwork],
    where: str,
) -> ComposeService:
    path = f"services.{name}"
    mode = str(spec.get("network_mode") or "")
    attached: tuple[ServiceNetwork, ...] = ()
    if not mode:
        raw = spec.get("networks")
        entries: dict[str, Any] = (
            {str(k): v for k, v in raw.items()} if isinstance(raw, dict) else {"default": None}
        )
        keys = [k for k in order if k in entries] + sorted(k for k in entries if k not in order)
        attached_list = []
        for key in keys:
            if (
                key not in networks
            ):  # Compose checks this too, unless its consistency checks were off
                raise ComposeError(
                    f"{declared[0][0]}: {path}.networks: refers to undefined network {key!r}"
                )
            opts: dict[str, Any] = entries[key] if isinstance(entries[key], dict) else {}
            aliases = opts.get("aliases") or []
            ipv4 = opts.get("ipv4_address")
            attached_list.append(
                ServiceNetwork(
                    str(key),
                    tuple(dict.fromkeys(_lit(a) for a in aliases)),
                    _lit(ipv4) if ipv4 else None,
                )
            )
        attached = tuple(attached_list)
    published, expose, healthcheck = ports_and_health(spec, path, where)
    deploy = spec.get("deploy")
    replicas = spec.get("scale", deploy.get("replicas", 1) if isinstance(deploy, dict) else 1)
    profiles = spec.get("profiles") or []
    return ComposeService(
        name=name,
        declared=declared,
        active=active,
        profiles=tuple(_lit(p) for p in profiles) if isinstance(profiles, list) else (),
        network_mode=mode,
        networks=attached,
        published=published,
        expose=expose,
        expose_other=other_exposed(spec.get("expose")),
        healthcheck=healthcheck,
        container_name=_lit(spec["container_name"]) if spec.get("container_name") else None,
        replicas=replicas
        if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas >= 0
        else 1,
    )

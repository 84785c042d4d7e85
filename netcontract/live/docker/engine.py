"""The one module that imports `docker`, and only when it must. It reads live state and runs containers for probes.

Reading (the snapshot, the change check) goes through `live.api.EngineApi`, a
read-only client on the standard library, so a netns check never imports the
SDK (about a third of its wall time). The SDK is imported on first use: for
exec, sidecars and images, for `init --from-live`, and for engines that
client does not speak to (TLS, ssh://), read through `_SdkRead`.

Every engine exception is translated into `EngineError` here, so the rest of
netcontract never sees the SDK. Both clients honour DOCKER_HOST; the SDK also
DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (`docker.from_env`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from netcontract.addresses import ip_or_none
from netcontract.errors import EngineError, UsageError
from netcontract.live.docker.api import ApiError, ApiNotFound, EngineApi, env_host, speaks
from netcontract.state import (
    ONEOFF_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    STACK_LABEL,
    Container,
    Endpoint,
    Network,
    PublishedPort,
    State,
)

if TYPE_CHECKING:
    import docker


class ReadApi(Protocol):
    """The reads the snapshot makes; EngineApi, or the SDK through _SdkRead. Errors: ApiError/ApiNotFound."""

    api_version: str

    def version(self) -> dict[str, Any]:
        """The engine's `GET /version` answer."""
        ...

    def networks(self, names: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Networks whose name contains one of `names` (the engine's filter is a substring match)."""
        ...

    def containers(
        self, all: bool = False, filters: Mapping[str, str | list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """The running containers (every one with `all`), narrowed by the engine's `filters`."""
        ...

    def inspect_network(self, net_id: str) -> dict[str, Any]:
        """One network's inspect; ApiNotFound when it is not there."""
        ...

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        """One container's inspect; ApiNotFound when it is not there."""
        ...

    def podman_network(self, name: str) -> dict[str, Any]:
        """Podman only: its own (libpod) network inspect, which shows netavark's `isolate` option."""
        ...

    def close(self) -> None:
        """Release the connections."""
        ...


def _sdk_errors() -> tuple[type[BaseException], ...]:
    import docker.errors
    import requests.exceptions

    return docker.errors.DockerException, requests.exceptions.RequestException, OSError


def connect(timeout: float = 30) -> docker.DockerClient:
    """A Docker SDK client for the engine in the environment; EngineError when it does not answer."""
    import docker

    try:
        client = docker.from_env(timeout=int(max(timeout, 1)), max_pool_size=64)
        client.ping()
    except _sdk_errors() as exc:
        raise EngineError(f"cannot reach the Docker engine ({_host()}): {_short(exc)}") from None
    return client


# -- engines named by URL or Docker context (swarm nodes) ---------------------------------------


def connect_url(url: str, timeout: float = 30, connect_timeout: float = 5) -> docker.DockerClient:
    """An SDK client for the engine at `url` (tcp://HOST:PORT, unix://PATH, ssh://...), with TLS as the docker
    CLI takes it from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH; or, for `context:NAME`, the Docker context NAME
    (its host and its own TLS material, from DOCKER_CONFIG or ~/.docker, as `docker --context NAME` does).
    It must answer a ping within `connect_timeout` seconds; its later calls get `timeout`. EngineError (with
    the URL) when it does not answer; UsageError when the context does not exist."""
    import docker.utils

    if url.startswith("context:"):
        return _connect_context(url.removeprefix("context:"), timeout, connect_timeout)
    try:
        kwargs = docker.utils.kwargs_from_env()
    except _sdk_errors() as exc:
        raise EngineError(
            f"cannot use DOCKER_TLS_VERIFY/DOCKER_CERT_PATH for {url}: {_remote_short(exc)}"
        ) from None
    kwargs["base_url"] = url
    if not url.startswith(("tcp://", "https://")):
        kwargs.pop("tls", None)  # TLS applies to TCP engines only
    return _ping(url, kwargs, timeout, connect_timeout)


def sdk_engine(client: docker.DockerClient, timeout: float = 30) -> Engine:
    """An Engine whose reads and probes both go through this SDK client (a swarm node's)."""
    return Engine(_SdkRead(client), timeout)


def _connect_context(name: str, timeout: float, connect_timeout: float) -> docker.DockerClient:
    host, tls = context_endpoint(name)
    kwargs: dict[str, Any] = {"base_url": host}
    if tls is not None:
        kwargs["tls"] = tls
    return _ping(f"context:{name} ({host})", kwargs, timeout, connect_timeout)


def context_endpoint(name: str, config_dir: str | None = None) -> tuple[str, Any]:
    """The docker endpoint of the Docker context `name` as the docker CLI stores it: its host, and a TLSConfig
    from the context's own TLS material (ca.pem, cert.pem, key.pem) when it has any. Read directly from
    DOCKER_CONFIG (or ~/.docker): docker-py's own lookup needs a config.json that the CLI does not write."""
    import hashlib
    import json
    from pathlib import Path

    import docker.tls

    base = (
        Path(config_dir or os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "contexts"
    )
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = base / "meta" / digest / "meta.json"
    try:
        data = (
            json.loads(meta.read_text(encoding="utf-8"))
            if meta.is_file() and meta.stat().st_size < 1 << 20
            else {}
        )
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read Docker context {name} ({meta}): {exc}") from None
    endpoint = ((data.get("Endpoints") or {}).get("docker") or {}) if isinstance(data, dict) else {}
    host = str(endpoint.get("Host") or "")
    if not host:
        raise UsageError(
            f"no Docker context named {name!r} with a docker endpoint in {base} (see `docker context ls`)"
        )
    material = base / "tls" / digest / "docker"
    ca, cert, key = (material / f for f in ("ca.pem", "cert.pem", "key.pem"))
    if not any(f.is_file() for f in (ca, cert, key)):
        return host, None
    try:
        tls = docker.tls.TLSConfig(
            client_cert=(str(cert), str(key)) if cert.is_file() and key.is_file() else None,
            ca_cert=str(ca) if ca.is_file() else None,
            verify=ca.is_file() and not endpoint.get("SkipTLSVerify"),
        )
    except _sdk_errors() as exc:
        raise EngineError(
            f"Docker context {name}: unusable TLS material in {material}: {_remote_short(exc)}"
        ) from None
    return host, tls


def _ping(
    where: str, kwargs: dict[str, Any], timeout: float, connect_timeout: float
) -> docker.DockerClient:
    import docker

    try:
        client = docker.DockerClient(
            timeout=int(max(connect_timeout, 1)), max_pool_size=64, **kwargs
        )
        client.ping()
        client.api.timeout = int(max(timeout, 1))
    except _sdk_errors() as exc:
        raise EngineError(
            f"cannot reach the Docker engine at {where}: {_remote_short(exc)}"
        ) from None
    return client


def _remote_short(exc: BaseException) -> str:
    """Why an engine at a URL did not answer, without the local-socket advice of `_short`."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for key, say in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("No route to host", "no route to host"),
        ("Name or service not known", "unknown host"),
        ("No such file", "no such socket"),
        ("Permission denied", "permission denied"),
        ("SSL", "TLS handshake failed"),
    ):
        if key in text:
            return say
    return text[:300]


def inspect_containers_raw(api: Any, ids: Iterable[str]) -> list[dict[str, Any]]:
    """`docker inspect` JSON of each container through an SDK APIClient; one removed between listing and
    inspecting is left out."""
    import docker.errors

    def one(cid: str) -> dict[str, Any] | None:
        try:
            raw: dict[str, Any] = api.inspect_container(cid)
            return raw
        except docker.errors.NotFound:
            return None
        except _sdk_errors() as exc:
            raise EngineError(f"inspecting container {cid[:12]}: {_short(exc)}") from None

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [r for r in pool.map(one, list(ids)) if r is not None]


def connect_read(timeout: float = 30) -> ReadApi:
    """A reader for the engine in the environment: EngineApi where it speaks to it, else the SDK."""
    if not speaks():
        return _SdkRead(connect(timeout))
    api = EngineApi(env_host(), timeout=max(timeout, 1))
    try:
        api.ping()
    except ApiError as exc:
        api.close()
        raise EngineError(f"cannot reach the Docker engine ({_host()}): {_short(exc)}") from None
    return api


class _SdkRead:
    """The SDK's low-level client behind the ReadApi calls, its exceptions translated to ApiError."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.api_version = str(client.api.api_version)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import docker.errors

        try:
            return fn(*args, **kwargs)
        except docker.errors.NotFound as exc:
            raise ApiNotFound(str(exc.explanation or exc), 404) from None
        except _sdk_errors() as exc:
            raise ApiError(_short(exc)) from None

    def version(self) -> dict[str, Any]:
        return dict(self._call(self.client.api.version))

    def networks(self, names: Iterable[str] = ()) -> list[dict[str, Any]]:
        return list(self._call(self.client.api.networks, names=list(names)))

    def containers(
        self, all: bool = False, filters: Mapping[str, str | list[str]] | None = None
    ) -> list[dict[str, Any]]:
        return list(self._call(self.client.api.containers, all=all, filters=dict(filters or {})))

    def inspect_network(self, net_id: str) -> dict[str, Any]:
        return dict(self._call(self.client.api.inspect_network, net_id))

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return dict(self._call(self.client.api.inspect_container, container_id))

    def podman_network(self, name: str) -> dict[str, Any]:
        """Podman's own network inspect (its options): not read through the SDK (TLS, ssh engines)."""
        raise ApiError("Podman's own API is not read through the Docker SDK")

    def close(self) -> None:
        self.client.close()


def _host() -> str:
    return env_host()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Permission denied" in text:
        return "permission denied on the Docker socket (run as a member of the docker group, or set DOCKER_HOST)"
    if "FileNotFoundError" in text or "No such file" in text or "Connection refused" in text:
        return "the daemon is not running (start it, or set DOCKER_HOST)"
    return text[:300]


@contextlib.contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Reads: ApiError (either client) -> EngineError."""
    try:
        yield
    except ApiNotFound as exc:
        raise EngineError(f"{action}: not found: {exc}") from None
    except (ApiError, OSError) as exc:
        raise EngineError(f"{action}: {_short(exc)}") from None


@contextlib.contextmanager
def sdk_errors(action: str) -> Iterator[None]:
    """SDK calls: docker and requests exceptions -> EngineError."""
    import docker.errors

    try:
        yield
    except docker.errors.NotFound as exc:
        raise EngineError(f"{action}: not found: {exc.explanation or exc}") from None
    except _sdk_errors() as exc:
        raise EngineError(f"{action}: {_short(exc)}") from None


# -- snapshot -----------------------------------------------------------------


def snapshot(api: ReadApi, project: str | None, networks: Iterable[str]) -> State:
    """Read the tier networks, the project's containers and every container on a tier network."""
    wanted = list(dict.fromkeys(networks))
    with engine_errors("reading networks"):
        found: dict[str, dict[str, Any]] = {}
        for raw in api.networks(names=wanted):
            if raw.get("Name") in wanted:
                found[raw["Name"]] = raw
    ids: set[str] = set()
    with engine_errors("listing containers"):
        # one list of every container on the engine: the project's (stopped ones too), and the actors that
        # reach a tier without an endpoint of their own (host networking, a shared namespace)
        listed = api.containers(all=True)
        if project:
            ids |= {
                str(c["Id"])
                for c in listed
                if (c.get("Labels") or {}).get(PROJECT_LABEL) == project
            }
        for name in found:
            # list() of networks omits members; inspect gives the attached (running) containers
            detail = api.inspect_network(found[name]["Id"])
            found[name] = detail
            ids |= set((detail.get("Containers") or {}).keys())
    podman = _is_podman(api)
    ids |= actor_ids(listed, ids)
    containers = _inspect_all(api, sorted(ids), time.time() if podman else None)
    # networks the containers are on besides the tiers: needed to tell internal from not; and the
    # default bridge, whose host address internal-only services are probed against
    extra = sorted(({n for c in containers for n in c.networks} | {"bridge"}) - set(found))
    with engine_errors("reading networks"):
        for name in extra:
            with contextlib.suppress(ApiNotFound):
                found[name] = api.inspect_network(name)
    if podman:
        _podman_options(api, found)
    nets = tuple(network_from_inspect(found[n]) for n in [*wanted, *extra] if n in found)
    return State(
        project=project, networks=nets, containers=tuple(containers), engine=_engine_version(api)
    )


def actor_ids(listed: Iterable[Mapping[str, Any]], known: set[str]) -> set[str]:
    """Pure: from a container list (`GET /containers/json?all=1`), the running containers on the host's
    network, and those whose network_mode is `container:<id or name>` of a container in `known` (or of such a
    sharer, and so on). Docker stores the mode as given or resolved to the id, so both are matched. netcontract's
    own probe sidecars (label org.netcontract.probe, removed when their run ends) are no actors."""
    running = [
        c
        for c in listed
        if c.get("State") == "running"
        and c.get("Id")
        and "org.netcontract.probe" not in (c.get("Labels") or {})
    ]
    mode = {
        str(c["Id"]): str((c.get("HostConfig") or {}).get("NetworkMode") or "") for c in running
    }
    out = {cid for cid, m in mode.items() if m == "host"}
    names = {
        str(n).lstrip("/"): str(c["Id"])
        for c in listed
        if c.get("Id")
        for n in c.get("Names") or ()
    }
    all_ids = [str(c["Id"]) for c in listed if c.get("Id")]

    def resolve(ref: str) -> str:
        if ref in names:
            return names[ref]
        return next((i for i in all_ids if i == ref or (len(ref) >= 12 and i.startswith(ref))), "")

    owners = set(known)
    while True:
        joined = {
            cid
            for cid, m in mode.items()
            if m.startswith("container:")
            and cid not in owners
            and resolve(m.removeprefix("container:")) in owners
        }
        if not joined:
            return out | (owners - known)
        owners |= joined


def _engine_version(api: ReadApi) -> str:
    with contextlib.suppress(ApiError, OSError):
        v = api.version()
        return (
            f"{engine_product(v)} {v.get('Version', '?')} (API {v.get('ApiVersion', '?')}, "
            f"client API {api.api_version})"
        )
    return "Docker (version unknown)"


def engine_product(version: Mapping[str, Any]) -> str:
    """Pure: which engine answered GET /version. Podman's Docker-compatible API names a component
    "Podman Engine" (Docker's is "Engine"); its Version is Podman's own (4.3.1), not a Docker version."""
    for component in version.get("Components") or ():
        if isinstance(component, Mapping) and str(component.get("Name") or "").startswith("Podman"):
            return "Podman"
    return "Docker"


def _is_podman(api: ReadApi) -> bool:
    with contextlib.suppress(ApiError, OSError):
        return engine_product(api.version()) == "Podman"
    return False


def _podman_options(api: ReadApi, found: dict[str, dict[str, Any]]) -> None:
    """Podman's compatible network inspect leaves netavark's options out (Options is {} even where `isolate`
    is set); its own API has them. Merged into each network's Options, the compatible answer's keys first."""
    for name, raw in found.items():
        with contextlib.suppress(ApiError, OSError):
            own = api.podman_network(name).get("options") or {}
            if isinstance(own, dict) and own:
                raw["Options"] = {
                    **{str(k): str(v) for k, v in own.items()},
                    **(raw.get("Options") or {}),
                }


def _inspect_all(api: ReadApi, ids: list[str], podman_now: float | None = None) -> list[Container]:
    """podman_now: the time of the snapshot on Podman, to tell a healthcheck it never ran (Docker: None)."""

    def one(cid: str) -> Container | None:
        try:
            raw = api.inspect_container(cid)
            container = container_from_inspect(raw)
            if podman_now is not None and health_unrun(raw, podman_now):
                container = replace(container, health_unrun=True)
            return container
        except ApiNotFound:
            return None  # removed between list and inspect: it is simply not there
        except (ApiError, OSError) as exc:
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
        ipv6=bool(raw.get("EnableIPv6")),
        gateways=tuple(_gateway(c) for c in ipam if _gateway(c)),
        options=tuple(sorted((str(k), str(v)) for k, v in (raw.get("Options") or {}).items())),
        attachable=bool(raw.get("Attachable")),
        scope=str(raw.get("Scope") or ""),
        project=str(
            (raw.get("Labels") or {}).get(PROJECT_LABEL)
            or (raw.get("Labels") or {}).get(STACK_LABEL)
            or ""
        ),
    )


def _gateway(ipam: Mapping[str, Any]) -> str:
    """The bridge's own address on a subnet: IPAM's Gateway, else the subnet's first host (the default
    bridge and IPv6 subnets on 20.10 report no Gateway; Docker gives the bridge the first address)."""
    if ipam.get("Gateway"):
        # Podman reports "<nil>" for a network without a gateway (an internal one made through its own API)
        return ip_or_none(str(ipam["Gateway"]).split("/")[0]) or ""
    try:
        net = ipaddress.ip_network(str(ipam.get("Subnet") or ""), strict=False)
    except ValueError:
        return ""
    return str(next(net.hosts(), ""))


def container_from_inspect(raw: Mapping[str, Any]) -> Container:
    """Pure: a Container from `docker inspect` JSON (any engine since API 1.41)."""
    labels = (raw.get("Config") or {}).get("Labels") or {}
    state = raw.get("State") or {}
    health = (state.get("Health") or {}).get("Status") or None
    settings = raw.get("NetworkSettings") or {}
    # Only per-network endpoint fields: the top-level NetworkSettings.IPAddress is gone in API 1.52,
    # and an IPv6-only endpoint has an empty IPAddress.
    endpoints = tuple(
        Endpoint(
            network=name,
            ipv4=ep.get("IPAddress") or None,
            aliases=tuple(ep.get("Aliases") or ()),
            ipv6=ep.get("GlobalIPv6Address") or None,
            dns_names=tuple(ep.get("DNSNames") or ()),
        )
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
        started_at=state.get("StartedAt") or "",
        pid=int(state.get("Pid") or 0),
        oneoff=str(labels.get(ONEOFF_LABEL, "")).lower() == "true",
        health_log=tuple(
            (str(e.get("Start") or ""), str(e.get("End") or ""), _exit_code(e.get("ExitCode")))
            for e in (state.get("Health") or {}).get("Log") or ()
            if isinstance(e, dict)
        ),
    )


def health_unrun(raw: Mapping[str, Any], now: float) -> bool:
    """Pure: the container's healthcheck was due but has never run: health still "starting" with no result at
    all, later than start period + interval + timeout (+ 2 s) after the start. Podman runs healthchecks from
    systemd timers; without systemd they never run (docs/engines.md). Docker's engine runs them itself."""
    state = raw.get("State") or {}
    health = state.get("Health") or {}
    if health.get("Status") != "starting" or health.get("Log") or state.get("Status") != "running":
        return False
    check = (raw.get("Config") or {}).get("Healthcheck") or {}
    due = (
        sum(
            _seconds(check.get(key), default)
            for key, default in (("StartPeriod", 0.0), ("Interval", 30.0), ("Timeout", 30.0))
        )
        + 2.0
    )
    started = _timestamp(str(state.get("StartedAt") or ""))
    return started is not None and now - started > due


def _seconds(nanoseconds: Any, default: float) -> float:
    return nanoseconds / 1e9 if isinstance(nanoseconds, int) and nanoseconds > 0 else default


def _timestamp(text: str) -> float | None:
    """RFC 3339 with nanoseconds (2026-12-04T20:48:11.172133631Z) as epoch seconds; None when unparsable."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not m:
        return None
    try:
        when = datetime.fromisoformat(m[1] + ("+00:00" if m[3] == "Z" else m[3]))
    except ValueError:
        return None
    return when.timestamp() + (int(m[2][:9].ljust(9, "0")) / 1e9 if m[2] else 0.0)


def _exit_code(value: Any) -> int:
    return value if isinstance(value, int) else -1


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
            out.append(
                PublishedPort(
                    int(port), proto or "tcp", b.get("HostIp") or "", b.get("HostPort") or ""
                )
            )
    return tuple(dict.fromkeys(out))


# -- running probes -------------------------------------------------------------------

PROBE_LABEL = "org.netcontract.probe"
RUN_LABEL = "org.netcontract.run"
HELPER_LABEL = "org.netcontract.helper"


class Engine:
    """The docker operations the probe runner needs, with engine errors translated.

    Reads go through `read` (no SDK); exec, sidecars and images through the SDK client, made on first use."""

    def __init__(self, read: ReadApi, timeout: float = 30) -> None:
        self.read = read
        self.timeout = timeout
        self._sdk: docker.DockerClient | None = None
        self._sdk_lock = threading.Lock()

    @classmethod
    def from_env(cls, timeout: float = 30) -> Engine:
        """An Engine on the daemon the environment names (see `connect_read`); EngineError if it does not answer."""
        return cls(connect_read(timeout), timeout)

    @property
    def client(self) -> docker.DockerClient:
        """The Docker SDK client, made on first use (the reader's own when it reads through the SDK)."""
        with self._sdk_lock:
            if self._sdk is None:
                sdk_read = getattr(self.read, "client", None)
                self._sdk = sdk_read if sdk_read is not None else connect(self.timeout)
            return self._sdk

    @property
    def api(self) -> Any:
        """The SDK's low-level API client."""
        return self.client.api

    def snapshot(self, project: str | None, networks: Iterable[str]) -> State:
        """The project's containers, the tier `networks` and every container on them, read through `read`."""
        return snapshot(self.read, project, networks)

    def close(self) -> None:
        """Close the reader, and the SDK client when it is a separate one."""
        self.read.close()
        if self._sdk is not None and self._sdk is not getattr(self.read, "client", None):
            self._sdk.close()

    def exec(self, container_id: str, argv: list[str]) -> tuple[int | None, str]:
        """Run argv in the container; (exit code, stdout+stderr). EngineError if it cannot start."""
        with sdk_errors(f"exec in {container_id[:12]}"):
            ex = self.api.exec_create(container_id, argv, stdout=True, stderr=True)
            out = self.api.exec_start(ex["Id"])
            code = self.api.exec_inspect(ex["Id"]).get("ExitCode")
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
        return code, text

    def image_problem(self, image: str, pull: bool) -> str | None:
        """None when the image is here (pulling it if allowed), else why not."""
        import docker.errors

        failures: tuple[type[BaseException], ...] = (
            *_sdk_errors(),
            EngineError,
        )  # EngineError: the SDK client could not be made
        try:
            self.api.inspect_image(image)
            return None
        except docker.errors.ImageNotFound:
            pass
        except failures as exc:
            return f"cannot inspect probe image {image}: {_short(exc)}"
        if not pull:
            return f"probe image {image} is not present and pulling is off (--no-pull)"
        try:
            self.client.images.pull(image)
            return None
        except _sdk_errors() as exc:
            return f"probe image {image} is not present and could not be pulled: {_short(exc)}"

    def sidecar(
        self,
        source_id: str,
        image: str,
        argv: list[str],
        run_id: str,
        timeout: float,
        cancelled: threading.Event | None = None,
    ) -> tuple[int | None, str]:
        """Run argv in a short-lived container sharing the source's network namespace; always removed."""
        import requests.exceptions

        labels = {PROBE_LABEL: "1", RUN_LABEL: run_id, "org.netcontract.source": source_id[:12]}
        cid = None
        try:
            with sdk_errors("starting probe sidecar"):
                cid = self.api.create_container(
                    image,
                    argv,
                    labels=labels,
                    host_config=self.api.create_host_config(network_mode=f"container:{source_id}"),
                )["Id"]
                if cancelled is not None and cancelled.is_set():
                    return None, "cancelled"
                self.api.start(cid)
                status = self.api.wait(cid, timeout=timeout)
                out = self.api.logs(cid, stdout=True, stderr=True)
            text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
            return status.get("StatusCode"), text
        except requests.exceptions.ReadTimeout:
            return None, "probe sidecar did not finish in time"
        finally:
            if cid is not None:
                with contextlib.suppress(*_sdk_errors()):
                    self.api.remove_container(cid, force=True)

    def helper(self, image: str, argv: list[str], run_id: str, pull: bool) -> HelperChannel:
        """Start the helper container (live/netns/helper.py) and attach to its stdin and stdout: the host's pid
        namespace, no network of its own, a read-only root, every capability dropped but the three setns into
        another container's namespace needs (SYS_ADMIN, SYS_PTRACE; NET_RAW for ICMP), removed when it exits
        and by `remove_run`. EngineError when it cannot be started."""
        problem = self.image_problem(image, pull)
        if problem is not None:
            raise EngineError(f"helper: {problem.replace('probe image', 'helper image')}")
        labels = {PROBE_LABEL: "1", RUN_LABEL: run_id, HELPER_LABEL: "1"}
        with sdk_errors("starting the helper container"):
            cid = self.api.create_container(
                image,
                argv,
                labels=labels,
                stdin_open=True,
                detach=False,
                tty=False,  # StdinOnce: EOF when we detach
                host_config=self.api.create_host_config(
                    pid_mode="host",
                    network_mode="none",
                    read_only=True,
                    auto_remove=True,
                    cap_drop=["ALL"],
                    cap_add=["SYS_ADMIN", "SYS_PTRACE", "NET_RAW"],
                    security_opt=["no-new-privileges"],
                ),
            )["Id"]
            try:
                sock = self.api.attach_socket(
                    cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                )
                self.api.start(cid)
            except BaseException:
                with contextlib.suppress(*_sdk_errors()):
                    self.api.remove_container(cid, force=True)
                raise
        raw = getattr(sock, "_sock", sock)
        return HelperChannel(cid, raw)

    def changed(self, started: Mapping[str, str]) -> set[str]:
        """Ids of containers that stopped, vanished or restarted since `started` (id -> StartedAt)."""

        def gone(cid: str) -> bool:
            try:
                st = self.read.inspect_container(cid).get("State") or {}
            except ApiNotFound:
                return True
            except (ApiError, OSError):
                return True  # cannot tell: treat as changed, so nothing is proven by it
            return st.get("Status") != "running" or (st.get("StartedAt") or "") != started[cid]

        with ThreadPoolExecutor(max_workers=8) as pool:
            return {cid for cid, g in zip(started, pool.map(gone, list(started)), strict=True) if g}

    def remove_run(self, run_id: str) -> int:
        """Remove every probe container of this run (the safety net for Ctrl-C and SIGTERM). A run that
        never made one (netns) never needs the SDK for this: the listing is a read."""
        n = 0
        found: list[dict[str, Any]] = []
        with contextlib.suppress(ApiError, OSError):
            found = self.read.containers(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
        if not found:
            return 0
        with contextlib.suppress(*_sdk_errors(), EngineError):  # the SDK client could not be made
            for c in found:
                with contextlib.suppress(*_sdk_errors()):
                    self.api.remove_container(c["Id"], force=True)
                    n += 1
        return n


# -- for `init --from-live` -------------------------------------------------------


def compose_projects(api: ReadApi) -> list[str]:
    """The compose project names found on the engine's containers, sorted."""
    with engine_errors("listing containers"):
        found = api.containers(all=True, filters={"label": PROJECT_LABEL})
    return sorted({(c.get("Labels") or {}).get(PROJECT_LABEL, "") for c in found} - {""})


def declared_ports(
    api: ReadApi, container_ids: Iterable[str]
) -> dict[str, tuple[tuple[int, ...], tuple[str, ...]]]:
    """Container id -> (the TCP ports it declares, the ports of other protocols as "53/udp"): image
    EXPOSE, compose expose and ports."""
    out: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {}
    for cid in container_ids:
        with engine_errors(f"inspecting container {cid[:12]}"):
            raw = api.inspect_container(cid)
        out[cid] = (exposed_from_inspect(raw), other_exposed_from_inspect(raw))
    return out


def exposed_from_inspect(raw: Mapping[str, Any]) -> tuple[int, ...]:
    """Pure: TCP ports of Config.ExposedPorts ("8002/tcp": {}) from `docker inspect` JSON."""
    exposed = (raw.get("Config") or {}).get("ExposedPorts") or {}
    ports = set()
    for key in exposed:
        port, _, proto = str(key).partition("/")
        if port.isdigit() and proto in ("", "tcp"):
            ports.add(int(port))
    return tuple(sorted(ports))


def other_exposed_from_inspect(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """Pure: the ports of Config.ExposedPorts a contract cannot list ("53/udp", "5060/sctp"), sorted."""
    exposed = (raw.get("Config") or {}).get("ExposedPorts") or {}
    found = set()
    for key in exposed:
        port, _, proto = str(key).partition("/")
        if port.isdigit() and proto not in ("", "tcp"):
            found.add((int(port), proto))
    return tuple(f"{port}/{proto}" for port, proto in sorted(found))


class HelperChannel:
    """The helper's stdin and stdout over the engine's attach stream (stdout and stderr arrive in frames of
    an 8-byte header: stream, 0, 0, 0, size). Lines of stdout are the agent's answers; stderr is kept for the
    error message when the helper dies."""

    _MAX_LINE = 256 * 1024 * 1024  # a 200-container run answers in tens of megabytes

    def __init__(self, container_id: str, sock: Any) -> None:
        self.container_id = container_id
        self._sock = sock
        self._pending = b""  # bytes of the current frame header or body not yet parsed
        self._out = b""
        self.stderr = b""

    def send(self, data: bytes) -> None:
        """Write to the helper's stdin; EngineError when it is gone."""
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise EngineError(f"the helper container stopped ({exc.strerror or exc})") from None

    def readline(self, timeout: float) -> bytes:
        """The next line the helper printed, within `timeout` seconds; EngineError when it ends first."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EngineError(f"the helper container did not answer within {timeout:g} s")
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError as exc:
                raise EngineError(f"the helper container stopped ({exc.strerror or exc})") from None
            if not chunk:
                why = self.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [
                    "its output ended"
                ]
                raise EngineError(f"the helper container stopped: {why[0][:300]}")
            self._frames(chunk)
            if len(self._out) > self._MAX_LINE:
                raise EngineError("the helper container sent a line larger than 256 MiB")
        line, _, self._out = self._out.partition(b"\n")
        return line

    def _frames(self, chunk: bytes) -> None:
        data = self._pending + chunk
        while len(data) >= 8:
            stream, size = data[0], int.from_bytes(data[4:8], "big")
            if len(data) < 8 + size:
                break
            body, data = data[8 : 8 + size], data[8 + size :]
            if stream == 1:
                self._out += body
            elif stream == 2:
                self.stderr = (self.stderr + body)[-65536:]
        self._pending = data

    def close(self) -> None:
        """End the attach: the engine closes the helper's stdin, the agent exits, the container is removed."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()

"""A read-only Docker Engine API client on the standard library: what the snapshot needs, and no more.

Why not the Docker SDK here: importing it (docker, requests, urllib3) costs about a third of
`netcontract check`'s wall time on a 7-service stack, and the netns executor needs nothing
else from the engine than these GETs. The SDK is still used, imported on first use, for
exec, sidecars and images (live/docker/engine.py), and for engines this client does not speak to:
TLS (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, https) and ssh:// hosts.

Plain HTTP/1.1 with keep-alive, one connection per thread, over the unix socket or plain
TCP. The API version is the engine's own (`GET /version`, unversioned), so the fields read
are the ones that engine serves. Ids and names from the engine are URL-quoted into paths.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

DEFAULT_HOST = "unix:///var/run/docker.sock"
_MAX_BODY = 64 * 1024 * 1024  # an inspect of a big network is a few MB; more is not an engine


class ApiError(Exception):
    """The engine answered with an error status, or could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ApiNotFound(ApiError):
    """404: the object is not there (removed between list and inspect, or never was)."""


def env_host() -> str:
    """The engine address the environment names: DOCKER_HOST, else the default unix socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def speaks(host: str | None = None) -> bool:
    """Whether this client can talk to the engine the environment names (else the SDK does)."""
    host = host if host is not None else env_host()
    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
        return False
    return host.startswith(("unix://", "tcp://", "http://"))


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class EngineApi:
    """GET /version, /networks, /containers/json and the two inspects; JSON in, JSON out."""

    def __init__(self, host: str | None = None, timeout: float = 30) -> None:
        self.host = host if host is not None else env_host()
        self.timeout = timeout
        url = urllib.parse.urlsplit(self.host)
        if url.scheme == "unix":
            self._path = url.path or "/var/run/docker.sock"
            self._netloc = ""
        elif url.scheme in ("tcp", "http"):
            self._path = ""
            self._netloc = url.netloc
        else:
            raise ApiError(f"unsupported DOCKER_HOST scheme: {self.host}")
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.api_version = ""
        self._version: dict[str, Any] = {}

    # -- transport --------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._path:
                conn = _UnixConnection(self._path, self.timeout)
            else:
                conn = http.client.HTTPConnection(self._netloc, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _get(
        self, path: str, query: Mapping[str, str] | None = None, *, versioned: bool = True
    ) -> Any:
        target = (f"/v{self.api_version}" if versioned and self.api_version else "") + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(
                    "GET", target, headers={"Host": "docker", "Accept": "application/json"}
                )
                resp = conn.getresponse()
                body = resp.read(_MAX_BODY + 1)
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()  # a kept-alive connection the engine closed: one fresh attempt
                if attempt == 2:
                    raise ApiError("the engine closed the connection") from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise ApiError(_os_reason(exc)) from None
        if len(body) > _MAX_BODY:
            conn.close()
            raise ApiError(f"answer to GET {path} is larger than {_MAX_BODY} bytes")
        if resp.status >= 400:
            message = _message(body) or f"HTTP {resp.status}"
            raise (ApiNotFound if resp.status == 404 else ApiError)(message, resp.status)
        try:
            return json.loads(body)
        except ValueError:
            raise ApiError(f"GET {path}: the engine's answer is not JSON") from None

    def close(self) -> None:
        """Close every connection this client opened, on any thread."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # -- the calls the snapshot makes ---------------------------------------------------------------
    def ping(self) -> None:
        """Learn the engine's API version (and that it answers)."""
        v = self._get("/version", versioned=False)
        if not isinstance(v, dict) or not v.get("ApiVersion"):
            raise ApiError("GET /version gave no ApiVersion: is this a Docker engine?")
        self._version = v
        self.api_version = str(v["ApiVersion"])

    def version(self) -> dict[str, Any]:
        """The engine's `GET /version` answer (read by `ping` when not read yet)."""
        if not self._version:
            self.ping()
        return self._version

    def networks(self, names: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Networks whose name contains one of `names` (the engine's filter is a substring match)."""
        wanted = list(names)
        query = {"filters": json.dumps({"name": wanted})} if wanted else None
        return _list(self._get("/networks", query))

    def containers(
        self, all: bool = False, filters: Mapping[str, str | list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """`GET /containers/json`: the running containers (every one with `all`), narrowed by the engine's `filters`."""
        query = {"all": "1" if all else "0"}
        if filters:
            query["filters"] = json.dumps(
                {k: v if isinstance(v, list) else [v] for k, v in filters.items()}
            )
        return _list(self._get("/containers/json", query))

    def inspect_network(self, net_id: str) -> dict[str, Any]:
        """`GET /networks/<id>`: one network's inspect; ApiNotFound when it is not there."""
        return _dict(self._get("/networks/" + urllib.parse.quote(net_id, safe="")))

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        """`GET /containers/<id>/json`: one container's inspect; ApiNotFound when it is not there."""
        return _dict(
            self._get("/containers/" + urllib.parse.quote(container_id, safe="") + "/json")
        )

    def podman_network(self, name: str) -> dict[str, Any]:
        """Podman only: its own network inspect (libpod API), which shows netavark's options (`isolate`) that
        the compatible one leaves out. The libpod API's version is Podman's own (4.0.0 is its oldest)."""
        path = f"/v{_libpod_version(self.version())}/libpod/networks/{urllib.parse.quote(name, safe='')}/json"
        return _dict(self._get(path, versioned=False))

    def events(
        self, since: float | None = None, filters: Mapping[str, list[str]] | None = None
    ) -> EventStream:
        """Open `GET /events` (from `since`, seconds since the epoch) on a connection of its own, with no
        read timeout: iterate the stream for the decoded events; `close()` ends it from another thread."""
        if not self.api_version:
            self.ping()
        query: dict[str, str] = {}
        if since is not None:
            query["since"] = f"{since:.9f}"
        if filters:
            query["filters"] = json.dumps(dict(filters))
        target = f"/v{self.api_version}/events" + (
            "?" + urllib.parse.urlencode(query) if query else ""
        )
        conn: http.client.HTTPConnection
        conn = (
            _UnixConnection(self._path, self.timeout)
            if self._path
            else http.client.HTTPConnection(self._netloc, timeout=self.timeout)
        )
        try:
            conn.request("GET", target, headers={"Host": "docker", "Accept": "application/json"})
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ApiError(_os_reason(exc)) from None
        if resp.status >= 400:
            body = resp.read(64 * 1024)
            conn.close()
            raise ApiError(_message(body) or f"HTTP {resp.status}", resp.status)
        if conn.sock is not None:
            conn.sock.settimeout(
                None
            )  # an idle engine sends nothing for as long as nothing happens
        return EventStream(conn, resp)


class EventStream:
    """The engine's event stream: one decoded JSON object per event, in the order the engine sent them."""

    _MAX_EVENT = (
        1024 * 1024
    )  # an event is a few hundred bytes; a megabyte unparsed is not the engine

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._resp = resp
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        decoder = json.JSONDecoder()
        buf = ""
        while True:
            try:
                chunk = self._resp.read1(65536)
            except http.client.IncompleteRead:
                if self._closed:
                    return
                raise ApiError("the engine closed the event stream") from None
            except (OSError, ValueError, http.client.HTTPException) as exc:
                if self._closed:
                    return
                raise ApiError(f"event stream: {_os_reason(exc)}") from None
            if not chunk:
                if self._closed:
                    return
                raise ApiError("the engine closed the event stream")
            buf += chunk.decode("utf-8", "replace")
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    value, end = decoder.raw_decode(buf)
                except ValueError:
                    break  # the rest of this event is still on its way
                buf = buf[end:]
                yield value
            if len(buf) > self._MAX_EVENT:
                raise ApiError("event stream: an event larger than 1 MiB")

    def close(self) -> None:
        """End the stream; an iteration blocked in another thread returns."""
        self._closed = True
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()


def _libpod_version(version: Mapping[str, Any]) -> str:
    for component in version.get("Components") or ():
        if isinstance(component, dict) and str(component.get("Name") or "").startswith("Podman"):
            wanted = str(
                (component.get("Details") or {}).get("APIVersion") or component.get("Version") or ""
            )
            if all(part.isdigit() for part in wanted.split(".")) and wanted:
                return wanted
    return "4.0.0"


def _list(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ApiError("the engine answered a list request with something else")
    return [v for v in value if isinstance(v, dict)]


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError("the engine answered an inspect request with something else")
    return value


def _message(body: bytes) -> str:
    try:
        value = json.loads(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace").strip()
    return str(value.get("message", ""))[:300] if isinstance(value, dict) else ""


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "Permission denied"
    if isinstance(exc, FileNotFoundError):
        return "No such file or directory"
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused"
    if isinstance(exc, socket.timeout):
        return "timed out"
    return str(exc) or type(exc).__name__

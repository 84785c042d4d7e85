"""live/docker/api.py, the standard-library reader of the Engine API, against a small HTTP server on a unix socket
of the test's own (no daemon): version negotiation, paths, filters, errors, keep-alive, and which hosts it
speaks to. And the engine adapter's error translation on top of it."""

from __future__ import annotations

import json
import socketserver
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from netcontract.errors import EngineError
from netcontract.live.docker import engine as docker_engine
from netcontract.live.docker.api import ApiError, ApiNotFound, EngineApi, speaks


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    routes: dict[str, tuple[int, bytes]]
    seen: list[str]
    close_after: bool


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        path = urllib.parse.urlsplit(self.path).path
        status, body = self.server.routes.get(path, (404, b'{"message":"page not found"}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.server.close_after:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if self.server.close_after:
            self.close_connection = True

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    sock = tmp_path / "docker.sock"
    srv = _Server(str(sock), _Handler)
    srv.routes = {
        "/version": (200, json.dumps({"Version": "26.1.5", "ApiVersion": "1.45"}).encode())
    }
    srv.seen = []
    srv.close_after = False
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def api_for(server: _Server) -> EngineApi:
    api = EngineApi("unix://" + str(server.server_address), timeout=5)
    api.ping()
    return api


def test_the_api_version_is_the_engines_own(server: _Server) -> None:
    server.routes["/v1.45/containers/abc/json"] = (200, b'{"Id": "abc"}')
    api = api_for(server)
    assert api.api_version == "1.45"
    assert api.inspect_container("abc") == {"Id": "abc"}
    assert server.seen == ["/version", "/v1.45/containers/abc/json"]
    assert api.version()["Version"] == "26.1.5"


def test_filters_and_flags_are_encoded_as_the_engine_reads_them(server: _Server) -> None:
    server.routes["/v1.45/containers/json"] = (200, b"[]")
    server.routes["/v1.45/networks"] = (200, b'[{"Name": "a"}]')
    api = api_for(server)
    assert api.containers(all=True, filters={"label": "com.docker.compose.project=p"}) == []
    assert api.networks(["a", "b"]) == [{"Name": "a"}]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(server.seen[1]).query)
    assert query == {"all": ["1"], "filters": ['{"label": ["com.docker.compose.project=p"]}']}
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(server.seen[2]).query) == {
        "filters": ['{"name": ["a", "b"]}']
    }


def test_names_are_quoted_into_paths(server: _Server) -> None:
    api = api_for(server)
    with pytest.raises(ApiNotFound):
        api.inspect_network("../../containers/x?all=1")
    assert server.seen[-1] == "/v1.45/networks/..%2F..%2Fcontainers%2Fx%3Fall%3D1"


def test_404_is_not_found_and_other_errors_carry_the_engines_message(server: _Server) -> None:
    server.routes["/v1.45/containers/gone/json"] = (404, b'{"message": "No such container: gone"}')
    server.routes["/v1.45/networks/bad"] = (500, b'{"message": "boom"}')
    server.routes["/v1.45/networks/text"] = (200, b"not json")
    api = api_for(server)
    with pytest.raises(ApiNotFound, match="No such container: gone") as nf:
        api.inspect_container("gone")
    assert nf.value.status == 404
    with pytest.raises(ApiError, match=r"^boom$") as err:
        api.inspect_network("bad")
    assert err.value.status == 500 and not isinstance(err.value, ApiNotFound)
    with pytest.raises(ApiError, match="not JSON"):
        api.inspect_network("text")


def test_a_connection_the_engine_closed_is_made_again(server: _Server) -> None:
    server.routes["/v1.45/containers/a/json"] = (200, b'{"Id": "a"}')
    server.close_after = True
    api = api_for(server)
    for _ in range(3):
        assert api.inspect_container("a") == {"Id": "a"}
    api.close()


def test_no_engine_is_one_line_for_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    with pytest.raises(EngineError) as err:
        docker_engine.connect_read(1)
    assert str(err.value) == (
        f"cannot reach the Docker engine (unix://{tmp_path}/nothing.sock): the daemon is not "
        "running (start it, or set DOCKER_HOST)"
    )


def test_a_server_that_is_no_engine_is_refused(server: _Server) -> None:
    server.routes["/version"] = (200, b"{}")
    with pytest.raises(ApiError, match="no ApiVersion"):
        api_for(server)


@pytest.mark.parametrize(
    ("host", "env", "expected"),
    [
        ("unix:///var/run/docker.sock", {}, True),
        ("tcp://10.0.0.2:2375", {}, True),
        ("tcp://10.0.0.2:2376", {"DOCKER_TLS_VERIFY": "1"}, False),
        ("tcp://10.0.0.2:2376", {"DOCKER_CERT_PATH": "/certs"}, False),
        ("ssh://me@host", {}, False),
        ("npipe:////./pipe/docker_engine", {}, False),
    ],
)
def test_which_hosts_it_speaks_to(
    host: str, env: dict[str, str], expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert speaks(host) is expected


def test_the_snapshot_reads_through_it(server: _Server) -> None:
    net = {
        "Name": "p_data",
        "Id": "n1",
        "Driver": "bridge",
        "Internal": True,
        "IPAM": {"Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}]},
        "Containers": {"c1": {}},
    }
    ctr = {
        "Id": "c1",
        "Name": "/p-db-1",
        "State": {"Status": "running", "Pid": 42},
        "Config": {
            "Labels": {"com.docker.compose.project": "p", "com.docker.compose.service": "db"}
        },
        "NetworkSettings": {"Networks": {"p_data": {"IPAddress": "10.9.0.2", "DNSNames": ["db"]}}},
    }
    server.routes.update(
        {
            "/v1.45/networks": (200, json.dumps([net]).encode()),
            "/v1.45/networks/n1": (200, json.dumps(net).encode()),
            "/v1.45/networks/bridge": (404, b'{"message": "network bridge not found"}'),
            "/v1.45/containers/json": (200, b'[{"Id": "c1"}]'),
            "/v1.45/containers/c1/json": (200, json.dumps(ctr).encode()),
        }
    )
    state = docker_engine.snapshot(api_for(server), "p", ["p_data"])
    assert [(n.name, n.internal, n.gateways) for n in state.networks] == [
        ("p_data", True, ("10.9.0.1",))
    ]
    (c,) = state.containers
    assert (c.name, c.service, c.pid, c.endpoints[0].addresses) == (
        "p-db-1",
        "db",
        42,
        ("10.9.0.2",),
    )
    assert state.engine == "Docker 26.1.5 (API 1.45, client API 1.45)"


def test_an_engine_error_while_reading_is_engine_error(server: _Server) -> None:
    server.routes["/v1.45/networks"] = (500, b'{"message": "database is locked"}')
    with pytest.raises(EngineError) as err:
        docker_engine.snapshot(api_for(server), "p", ["p_data"])
    assert str(err.value) == "reading networks: database is locked"


def test_a_podman_snapshot_names_podman_and_reads_netavarks_options(server: _Server) -> None:
    """Podman's compatible network inspect shows Options {} where `isolate` is set; its own API has it."""
    server.routes["/version"] = (
        200,
        json.dumps(
            {
                "Version": "4.3.1",
                "ApiVersion": "1.41",
                "Components": [
                    {
                        "Name": "Podman Engine",
                        "Version": "4.3.1",
                        "Details": {"APIVersion": "4.3.1"},
                    }
                ],
            }
        ).encode(),
    )
    net = {
        "Name": "p_data",
        "Id": "n1",
        "Driver": "bridge",
        "Internal": True,
        "Options": {},
        "IPAM": {"Config": [{"Subnet": "10.89.1.0/24", "Gateway": "10.89.1.1"}]},
        "Containers": {},
    }
    server.routes.update(
        {
            "/v1.41/networks": (200, json.dumps([net]).encode()),
            "/v1.41/networks/n1": (200, json.dumps(net).encode()),
            "/v1.41/networks/bridge": (404, b'{"message": "network bridge not found"}'),
            "/v1.41/containers/json": (200, b"[]"),
            "/v4.3.1/libpod/networks/p_data/json": (
                200,
                b'{"name": "p_data", "options": {"isolate": "true"}}',
            ),
        }
    )
    state = docker_engine.snapshot(api_for(server), "p", ["p_data"])
    assert state.engine.startswith("Podman 4.3.1 (API 1.41") and state.podman
    assert state.networks[0].options == (("isolate", "true"),)

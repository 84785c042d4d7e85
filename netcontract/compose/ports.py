"""Compose `ports` (published on the host) and `expose` (not published), short and long syntax. Pure.

`ports: ["3000"]` publishes container port 3000 on a random host port: it is
published all the same, and reported with an empty host port.
"""

from __future__ import annotations

import re
from typing import Any

from netcontract.errors import ComposeError
from netcontract.state import PublishedPort

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
_MAX_RANGE = 65535


def _port_range(text: str) -> list[int] | None:
    m = _RANGE.match(text.strip())
    if not m:
        return None
    low = int(m.group(1))
    high = int(m.group(2) or low)
    if not (0 < low <= high <= _MAX_RANGE):
        return None
    return list(range(low, high + 1))


def parse_ports(value: Any, where: str, path: str) -> tuple[PublishedPort, ...]:
    """A service's `ports` (short and long syntax, ranges expanded, no duplicates); ComposeError for one it cannot read."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ComposeError(f"{path}: {where}: must be a list")
    out: list[PublishedPort] = []
    for i, item in enumerate(value):
        parsed = _long_port(item) if isinstance(item, dict) else _short_port(item)
        if parsed is None:
            raise ComposeError(f"{path}: {where}[{i}]: cannot read port {item!r}")
        out += parsed
    return tuple(dict.fromkeys(out))


def _short_port(item: Any) -> list[PublishedPort] | None:
    if isinstance(item, bool) or not isinstance(item, (int, str)):
        return None
    text = str(item)
    spec, _, protocol = text.partition("/")
    protocol = protocol or "tcp"
    host_ip = ""
    if spec.startswith("["):  # [::1]:6001:6001
        close = spec.find("]")
        if close < 0:
            return None
        host_ip, spec = spec[1:close], spec[close + 1 :].lstrip(":")
    parts = spec.rsplit(":", 2)
    if len(parts) == 3:
        host_ip, host, target = parts
    elif len(parts) == 2:
        host, target = parts
    else:
        host, target = "", parts[0]
    targets = _port_range(target)
    if targets is None:
        return None
    if not host:
        return [PublishedPort(t, protocol, host_ip, "") for t in targets]
    hosts = _port_range(host)
    if hosts is None:
        return None
    if len(hosts) == len(targets):
        return [
            PublishedPort(t, protocol, host_ip, str(h)) for t, h in zip(targets, hosts, strict=True)
        ]
    if len(targets) == 1:  # one container port on the first free port of a host range
        return [PublishedPort(targets[0], protocol, host_ip, host)]
    return None


def _long_port(item: dict[str, Any]) -> list[PublishedPort] | None:
    target = item.get("target")
    targets = _port_range(str(target)) if target is not None else None
    if targets is None or len(targets) != 1:
        return None
    published = item.get("published")
    return [
        PublishedPort(
            targets[0],
            str(item.get("protocol") or "tcp"),
            str(item.get("host_ip") or ""),
            "" if published is None else str(published),
        )
    ]


def other_exposed(value: Any) -> tuple[str, ...]:
    """The `expose` entries a contract cannot list, as written (`53/udp`, `5000-5001/udp`): a contract's
    ports are TCP. Entries `parse_expose` cannot read are left to it (it raises)."""
    if not isinstance(value, list):
        return ()
    out: list[str] = []
    for item in value:
        spec, _, protocol = str(item).partition("/")
        if protocol and protocol != "tcp" and _port_range(spec) is not None:
            out.append(f"{spec.strip()}/{protocol}")
    return tuple(dict.fromkeys(out))


def parse_expose(value: Any, where: str, path: str) -> tuple[int, ...]:
    """TCP ports of `expose` (ranges expanded); UDP entries are left out."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ComposeError(f"{path}: {where}: must be a list")
    out: list[int] = []
    for i, item in enumerate(value):
        spec, _, protocol = str(item).partition("/")
        ports = _port_range(spec)
        if ports is None or isinstance(item, bool):
            raise ComposeError(f"{path}: {where}[{i}]: cannot read port {item!r}")
        if (protocol or "tcp") == "tcp":
            out += ports
    return tuple(dict.fromkeys(out))

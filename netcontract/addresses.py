"""IP addresses as text: the one place that parses them, tells their family and writes host:port. Pure.

Addresses reach netcontract as strings (from the engine, the contract, DNS answers); they are
compared in their canonical form (`ip_or_none`), so `fd00::0001` and `fd00::1` are one address.
"""

from __future__ import annotations

import functools
import ipaddress


def is_address(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address (not a name, not a network)."""
    return ip_or_none(text) is not None


@functools.lru_cache(maxsize=65536)
def ip_or_none(text: str) -> str | None:
    """`text` as a canonical address, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@functools.lru_cache(maxsize=65536)
def family_of(address: str) -> int:
    """4 or 6 for an address; ValueError for anything else."""
    return ipaddress.ip_address(address).version


def family_hint(target: str) -> int:
    """4 or 6 for a probe target that may also be a name (a name counts as 4: it is asked for A records)."""
    return 6 if ":" in target else 4


def hostport(address: str, port: int) -> str:
    """`address:port`, with an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"

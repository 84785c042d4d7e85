"""The value rules of contract fields (DNS names, network names, selectors, network modes). Pure.

Shared by the two readers of a contract (contract.py): the fast one, which reads a contract that is
already in canonical form without importing pydantic, and the pydantic schema (contract_schema.py),
which reads anything else and words every error. Each rule returns the value or raises ValueError with
the message a user sees.
"""

from __future__ import annotations

import re

from netcontract.addresses import is_address
from netcontract.names import is_dns_name, is_label, is_network_name
from netcontract.yaml_input import short_repr

_SELECTOR = re.compile(r"[A-Za-z0-9_.*?-]{1,128}(/[A-Za-z0-9_.*?-]{1,128})?")


def dns_name(value: str) -> str:
    """A DNS name (an alias, a name to resolve)."""
    if not is_dns_name(value):
        raise ValueError(
            f"{value!r} is not a valid DNS name (lower-case letters, digits, '-', '_', "
            "dot-separated labels of at most 63 characters)"
        )
    return value


def network_name(value: str) -> str:
    """A Docker network name."""
    if not is_network_name(value):
        raise ValueError(f"{value!r} is not a valid Docker network name")
    return value


def host(value: str) -> str:
    """An IP address or a DNS name (an egress canary)."""
    return value if is_address(value) else dns_name(value)


def selector(value: str) -> str:
    """A container selector: a name, or `project/service`, with the wildcards * and ?."""
    if not _SELECTOR.fullmatch(value):
        raise ValueError(
            f"{short_repr(value)} is not a container selector (a container name, or `project/service`, with "
            "the wildcards * and ?; letters, digits, '.', '_', '-')"
        )
    return value


def network_mode(value: str) -> str:
    """A network_mode a contract describes: host, none, or service:<owner>."""
    if value in ("host", "none") or (
        value.startswith("service:") and is_label(value.removeprefix("service:"))
    ):
        return value
    raise ValueError(
        f"{short_repr(value)} is not a network_mode a contract describes: `host`, `none`, or "
        "`service:<contract service>` (the namespace owner)"
    )

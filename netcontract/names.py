"""Strict name rules: every name that can reach a shell or a DNS query passes here first.

Service names, tier keys and aliases end up inside probe scripts and DNS
queries. They are checked once, at load time, against patterns that admit no
shell metacharacter at all; the probe builders check again before quoting.
Every rule is a full match (`re.fullmatch`): `re.match` with `$` would let a
trailing newline through ("db\n").
"""

from __future__ import annotations

import re

# RFC 1123 label, lower case; underscore admitted because Compose service
# names use it and Docker's DNS resolves it. No character here means
# anything to a POSIX shell.
_LABEL = r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?"
LABEL_RE = re.compile(_LABEL)
# A DNS name: dot-separated labels, at most 253 characters.
DNS_NAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# Docker's own rule for network names.
NETWORK_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}")
# Tier keys are identifiers used in ids, paths and arrows.
TIER_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")

# Compose's rule for project names (`docker compose -p`, the com.docker.compose.project label).
PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


def _full(rule: re.Pattern[str], name: object) -> bool:
    return isinstance(name, str) and rule.fullmatch(name) is not None


def is_label(name: str) -> bool:
    """Whether `name` is one lower-case DNS label (underscore admitted): a service name or alias part."""
    return _full(LABEL_RE, name)


def is_dns_name(name: str) -> bool:
    """Whether `name` is a DNS name of dot-separated labels, at most 253 characters."""
    return len(name) <= 253 and _full(DNS_NAME_RE, name)


def is_network_name(name: str) -> bool:
    """Whether `name` follows Docker's rule for network names."""
    return _full(NETWORK_RE, name)


def is_tier_key(name: str) -> bool:
    """Whether `name` can be a tier key: a lower-case identifier of at most 63 characters."""
    return _full(TIER_RE, name)


def is_project_name(name: str) -> bool:
    """Whether `name` follows Compose's rule for project names (at most 255 characters)."""
    return len(name) <= 255 and _full(PROJECT_RE, name)

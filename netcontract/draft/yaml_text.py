"""Writing small YAML by hand: scalars that read back as the same string. Pure."""

from __future__ import annotations

import json
import re

import yaml

_PLAIN = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")


def scalar(text: str) -> str:
    """`text` as a YAML scalar that every YAML 1.1 and 1.2 reader reads back as the same string."""
    if _PLAIN.fullmatch(text) and text.lower() not in ("y", "n", "yes", "no", "on", "off", "null", "true", "false"):
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text)


def flow(items: list[str] | list[int] | tuple[str, ...]) -> str:
    return "[" + ", ".join(scalar(i) if isinstance(i, str) else str(i) for i in items) + "]"

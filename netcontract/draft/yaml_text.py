"""Writing YAML for people: scalars that read back as the same string, comments that stay comments. Pure.

A string is written plain only when every reader netcontract cares about
(PyYAML's YAML 1.1, Compose's and ruamel's YAML 1.2) reads it back as that
same string; anything else is double-quoted by the YAML library, which
escapes what needs escaping. Comment text is escaped by `comment` so that
nothing in it (a newline, a carriage return, U+2028, NEL) can end the
comment and start YAML of its own.
"""

from __future__ import annotations

import re

import yaml

from netcontract import sanitize

_WORD = r"[A-Za-z_][A-Za-z0-9_.-]*"
_PLAIN = re.compile(rf"{_WORD}(?: -> {_WORD})?")  # a name, or an arrow of policy.allow/isolate
# YAML 1.1 booleans and nulls (PyYAML): plain words that do not read back as strings.
_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def plain_ok(text: str) -> bool:
    """Whether `text` may be written as a plain scalar: it starts with a letter or '_' (never a number,
    a timestamp, .inf or an indicator), holds no indicator and no space (but those of `a -> b`), and is
    no YAML 1.1 boolean or null; and PyYAML reads it back as itself."""
    if not _PLAIN.fullmatch(text) or text.lower() in _WORDS:
        return False
    try:
        return bool(yaml.load(text, Loader=yaml.SafeLoader) == text)
    except yaml.YAMLError:
        return False


def scalar(text: str) -> str:
    """`text` as a YAML flow scalar that every YAML 1.1 and 1.2 reader reads back as the same string."""
    if plain_ok(text):
        return text
    dumped = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=1 << 30)
    return dumped.rstrip("\n").removesuffix("\n...").rstrip("\n")


def comment(text: str) -> str:
    """Text for inside one YAML comment line: every control character and line separator escaped."""
    return sanitize.line(text)

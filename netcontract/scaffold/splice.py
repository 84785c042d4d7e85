"""Line-level edits of a YAML file that leave every other byte alone. Pure.

ruamel.yaml's round-trip loader tells where each key sits (line, column);
the edits here replace, delete or insert whole lines at those places, so
comments, anchors, quoting and key order elsewhere stay byte-identical (a
full round-trip dump would re-indent and re-wrap what it did not need to touch).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Edit:
    """Replace lines[start:end] with `lines` (start == end inserts)."""

    start: int
    end: int
    lines: tuple[str, ...]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def block_end(lines: Sequence[str], start: int, col: int) -> int:
    """One past the last line of the value of the key at (`start`, `col`).

    The value runs over the lines indented deeper than the key (or, for a
    block sequence, starting with '-' at the key's column). Comments and
    blank lines after the last such line are not part of it.
    """
    end = start + 1
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not _is_content(line):
            continue
        body = line.lstrip(" ")
        if _indent(line) > col or (
            _indent(line) == col and (body.startswith("- ") or body.rstrip() == "-")
        ):
            end = i + 1
            continue
        break
    return end


def leading_comments(lines: Sequence[str], start: int, col: int) -> int:
    """Index of the first of the comment lines directly above `start` at column `col`."""
    i = start
    while i > 0 and lines[i - 1].strip().startswith("#") and _indent(lines[i - 1]) == col:
        i -= 1
    return i


def apply_edits(lines: Sequence[str], edits: Iterable[Edit], newline: str) -> str:
    """`lines` with every edit applied, as one text; ValueError when two edits overlap."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise ValueError(
                f"overlapping edits at lines {a.start + 1}-{a.end} and {b.start + 1}-{b.end}"
            )
    out = list(lines)
    for edit in reversed(ordered):
        if (
            edit.lines
            and edit.start > 0
            and edit.start == len(out)
            and not out[-1].endswith(("\n", "\r"))
        ):
            out[-1] += newline
        out[edit.start : edit.end] = list(edit.lines)
    return "".join(out)


def key_comment(line: str) -> str:
    """The trailing `# comment` of a `key:` line with no inline value, with its leading spaces."""
    _, sep, rest = line.rstrip("\r\n").partition(":")
    if not sep:
        return ""
    if rest.strip().startswith("#"):
        return rest[: len(rest) - len(rest.lstrip())] + rest.strip()
    return ""


def position(node: Any, key: str) -> tuple[int, int] | None:
    """(line, column) of `key` in a ruamel CommentedMap, or None when the key is not written there
    (absent, or only merged in from an anchor)."""
    data = getattr(getattr(node, "lc", None), "data", None) or {}
    if key not in data:
        return None
    line, col = data[key][0], data[key][1]
    return int(line), int(col)


def sequence_offset(lines: Sequence[str], key_line: int, key_col: int) -> int | None:
    """How far the first '-' under the key at (key_line, key_col) is indented past the key."""
    for i in range(key_line + 1, len(lines)):
        line = lines[i]
        if not _is_content(line):
            continue
        if line.lstrip(" ").startswith("-"):
            return _indent(line) - key_col
        return None
    return None

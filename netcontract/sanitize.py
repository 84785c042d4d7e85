"""Text from outside made safe for where it is shown. Pure.

Names on the engine (containers, networks, aliases), compose files and the
output of tools run inside containers are not netcontract's: a name may hold
an ANSI escape that rewrites the terminal, a carriage return that hides what
came before it, a bidi override that reverses what a reviewer reads, or a
character XML 1.0 cannot carry at all. Every renderer passes such text through
one of these functions; they escape, never drop, so the reader sees that
something odd was there (`\\x1b[2J`, `\\u202e`).
"""

from __future__ import annotations

import re

# C0 controls (tab and newline are decided by the caller), DEL, C1 controls, the Unicode line and
# paragraph separators, the bidi embedding/override/isolate controls and marks, lone surrogates
# (they cannot even be encoded as UTF-8) and U+FFFE/U+FFFF (not XML characters).
_UNSAFE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff"
)
_LINE = re.compile(f"[\t\n{_UNSAFE}]")
_BLOCK = re.compile(f"[{_UNSAFE}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def line(text: str) -> str:
    """One line for a terminal: every control character (newline and tab included) escaped."""
    return _LINE.sub(_escape, text)


def block(text: str) -> str:
    """Text that may span lines (probe output): newlines and tabs kept, every other control escaped.
    Also what XML 1.0 can carry (a `\\r` is escaped, since XML parsers turn it into a newline)."""
    return _BLOCK.sub(_escape, text)


def has_unsafe(text: str) -> bool:
    """Whether `line(text)` would change anything."""
    return _LINE.search(text) is not None


def lines_kept(text: str) -> str:
    """A file's lines for a terminal (scaffold's diff): `block`, but a CRLF line ending stays as it is
    (harmless: the line is already printed). A bare `\\r`, which would let a line be overwritten by
    what follows it (`privileged: true` hidden), is escaped like every other control."""
    return "\r\n".join(block(part) for part in text.split("\r\n"))

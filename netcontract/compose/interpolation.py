"""Compose's variable interpolation and `.env` files, as `docker compose` reads them. Pure.

Supported, as in compose-go: `$$` (a literal `$`), `$VAR`, `${VAR}`,
`${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
`${VAR:+alt}`, `${VAR+alt}`, defaults that nest further `${...}`; a `$` that
starts none of these stays a literal `$`. Anything else inside `${...}`
(`${VAR/x/y}`, `${VAR:0:2}`, an unclosed `${`) is an error, as it is for
compose: netcontract never guesses a value.

Bounded for hostile input: linear in the value (the braces are matched once), `${` nested at most
MAX_NESTING deep, and at most MAX_EXPANSION characters produced by one Interpolator (a file's values,
or one `.env` file); past a bound, InterpolationLimit, which is refused even where Compose would
otherwise have the last word (compose/positions.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netcontract.errors import InterpolationError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_TOKENS = re.compile(r"\$\$|\$\{|\}")
SUPPORTED = "$VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}, $$"
MAX_NESTING = 16  # `${` inside `${` in one value; compose files nest two or three
MAX_EXPANSION = (
    16 * 1024 * 1024
)  # characters one Interpolator may produce in all: a file, or a .env
_SHOWN = 120  # characters of a value or a message quoted in an error


class InterpolationLimit(InterpolationError):
    """A value past MAX_NESTING or an expansion past MAX_EXPANSION: refused, never handed to Compose."""


def _quoted(text: str) -> str:
    shown = repr(text[:_SHOWN])
    return shown + (f" (and {len(text) - _SHOWN} more characters)" if len(text) > _SHOWN else "")


@dataclass
class Interpolator:
    """Substitutes variables from `env`; remembers the unset ones compose would warn about.

    Linear in the value: the braces of a value are matched once (`_matches`), then each `${...}` is
    read between known bounds, nested at most MAX_NESTING deep; everything it produces, over every
    call, counts against `budget` characters, checked as the text grows."""

    env: Mapping[str, str]
    unset: set[str] = field(default_factory=set)
    budget: int = MAX_EXPANSION

    def text(self, value: str) -> str:
        """`value` with every variable substituted.

        InterpolationError for a form compose would refuse, or a required variable without a value.
        """
        if "$" not in value:
            self.spend(len(value))
            return value
        out: list[str] = []
        self._range(value, 0, len(value), _matches(value), 0, out)
        return "".join(out)

    def spend(self, n: int) -> None:
        """Count `n` more characters of output against the expansion budget; InterpolationLimit past it."""
        self.budget -= n
        if self.budget < 0:
            raise InterpolationLimit(
                f"interpolation expands to more than {MAX_EXPANSION} characters"
            )

    def _put(self, out: list[str], piece: str) -> None:
        if piece:
            self.spend(len(piece))
            out.append(piece)

    def _range(
        self, value: str, i: int, hi: int, match: dict[int, int], depth: int, out: list[str]
    ) -> None:
        while i < hi:
            start = value.find("$", i, hi)
            if start < 0:
                self._put(out, value[i:hi])
                return
            self._put(out, value[i:start])
            nxt = value[start + 1 : start + 2] if start + 1 < hi else ""
            if nxt == "$":
                self._put(out, "$")
                i = start + 2
            elif nxt == "{":
                i = self._braced(value, start, hi, match, depth, out)
            elif m := _NAME.match(value, start + 1, hi):
                self._put(out, self._lookup(m.group()))
                i = m.end()
            else:
                self._put(out, "$")  # a lone `$` is literal, as in compose
                i = start + 1

    def _lookup(self, name: str) -> str:
        if name not in self.env:
            self.unset.add(name)
            return ""
        return self.env[name]

    def _braced(
        self, value: str, start: int, hi: int, match: dict[int, int], depth: int, out: list[str]
    ) -> int:
        if depth >= MAX_NESTING:
            raise InterpolationLimit(f"interpolation nested deeper than {MAX_NESTING} levels")
        end = match.get(start, -1)
        if end < 0 or end >= hi:
            raise InterpolationError(
                f"invalid interpolation {_quoted(value[start:hi])}: unclosed '${{'"
            )
        m = _NAME.match(value, start + 2, end)
        if not m:
            raise InterpolationError(
                f"invalid interpolation {_quoted(value[start : end + 1])} (netcontract reads {SUPPORTED})"
            )
        name = m.group()
        if m.end() == end:
            self._put(out, self._lookup(name))
            return end + 1
        op = next((o for o in _OPERATORS if value.startswith(o, m.end(), end)), None)
        if op is None:
            raise InterpolationError(
                f"invalid interpolation {_quoted(value[start : end + 1])} (netcontract reads {SUPPORTED})"
            )
        word = m.end() + len(op)
        is_set = name in self.env
        non_empty = is_set and self.env[name] != ""
        present = non_empty if op.startswith(":") else is_set
        if op.endswith("-"):
            if present:
                self._put(out, self.env[name])
            else:
                self._range(value, word, end, match, depth + 1, out)
        elif op.endswith("+"):
            if present:
                self._range(value, word, end, match, depth + 1, out)
        elif not present:  # ? and :?
            said: list[str] = []
            self._range(value, word, end, match, depth + 1, said)
            msg = "".join(said)
            if len(msg) > _SHOWN:
                msg = msg[:_SHOWN] + f"… ({len(msg) - _SHOWN} more characters)"
            raise InterpolationError(
                f"required variable {name} is missing a value" + (f": {msg}" if msg else "")
            )
        else:
            self._put(out, self.env[name])
        return end + 1


def _matches(value: str) -> dict[int, int]:
    """The position of the `}` that closes each `${` of `value` (`$$` is a literal `$`), in one pass."""
    match: dict[int, int] = {}
    opened: list[int] = []
    for m in _TOKENS.finditer(value):
        token = m.group()
        if token == "${":
            opened.append(m.start())
        elif token == "}" and opened:
            match[opened.pop()] = m.start()
    return match


def interpolate_tree(node: Any, env: Mapping[str, str], path: str = "") -> tuple[Any, set[str]]:
    """Interpolate a tree; InterpolationError messages are prefixed with the YAML path."""
    interp = Interpolator(env)

    def walk(n: Any, where: str) -> Any:
        if isinstance(n, str):
            try:
                return interp.text(n)
            except InterpolationError as exc:
                raise type(exc)(f"{where or '(top level)'}: {exc}") from None
        if isinstance(n, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in n.items()}
        if isinstance(n, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(n)]
        return n

    return walk(node, path), interp.unset


# -- .env files ---------------------------------------------------------------

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}


def parse_dotenv(text: str, environ: Mapping[str, str]) -> dict[str, str]:
    """KEY=VALUE lines as compose reads them: comments, `export`, quotes, `${VAR}` inside values.

    Raises InterpolationError (with the line number) on a line it cannot read, InterpolationLimit when
    the values expand past MAX_EXPANSION characters in all (a line that doubles the one before it).
    """
    values: dict[str, str] = {}
    lookup = dict(environ)  # the environment, then each value read so far
    interp = Interpolator(lookup)
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        lineno, line = n + 1, lines[n]
        n += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            if _NAME.fullmatch(stripped):
                continue  # a bare name: compose takes it from the environment, if set
            raise InterpolationError(f"line {lineno}: expected KEY=VALUE")
        key, raw = m.group(1), m.group(2)
        quote = raw[:1]
        if quote in ("'", '"'):
            parts = [raw[1:]]
            close, at, offset = _closing_quote(parts[0], quote, 0)
            while close < 0 and n < len(
                lines
            ):  # one scan of each line: linear however long the quote
                offset += len(parts[-1])
                parts.append("\n" + lines[n])
                n += 1
                close, at = _closing_quote(parts[-1], quote, at - offset)[:2]
                close, at = (close + offset if close >= 0 else -1), at + offset
            body = "".join(parts)
            if close < 0:
                raise InterpolationError(f"line {lineno}: unterminated {quote} quote")
            body = body[:close]
            if quote == "'":
                values[key] = lookup[key] = body
                continue
            raw = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), "\\" + e.group(1)), body)
        else:
            raw = re.split(r"\s#", raw, maxsplit=1)[0].strip()
        try:
            values[key] = lookup[key] = interp.text(raw)
        except InterpolationError as exc:
            raise type(exc)(f"line {lineno}: {exc}") from None
    return values


_QUOTE_STOP = {"'": re.compile("'"), '"': re.compile(r'[\\"]')}


def _closing_quote(body: str, quote: str, i: int) -> tuple[int, int, int]:
    """(index of the closing quote or -1, where the scan stopped, 0), from `i`; `\\x` is skipped in "..."."""
    stop = _QUOTE_STOP[quote]
    while True:
        m = stop.search(body, max(i, 0))
        if m is None:
            return -1, max(i, len(body)), 0
        if m.group() == quote:
            return m.start(), m.start(), 0
        i = m.start() + 2

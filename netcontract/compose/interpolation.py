"""Compose's variable interpolation and `.env` files, as `docker compose` reads them. Pure.

Supported, as in compose-go: `$$` (a literal `$`), `$VAR`, `${VAR}`,
`${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
`${VAR:+alt}`, `${VAR+alt}`, defaults that nest further `${...}`; a `$` that
starts none of these stays a literal `$`. Anything else inside `${...}`
(`${VAR/x/y}`, `${VAR:0:2}`, an unclosed `${`) is an error, as it is for
compose: netcontract never guesses a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netcontract.errors import InterpolationError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
SUPPORTED = "$VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}, $$"


@dataclass
class Interpolator:
    """Substitutes variables from `env`; remembers the unset ones compose would warn about."""

    env: Mapping[str, str]
    unset: set[str] = field(default_factory=set)

    def text(self, value: str) -> str:
        """`value` with every variable substituted.

        InterpolationError for a form compose would refuse, or a required variable without a value.
        """
        out: list[str] = []
        i = 0
        while i < len(value):
            start = value.find("$", i)
            if start < 0:
                out.append(value[i:])
                break
            out.append(value[i:start])
            nxt = value[start + 1 : start + 2]
            if nxt == "$":
                out.append("$")
                i = start + 2
            elif nxt == "{":
                text, i = self._braced(value, start)
                out.append(text)
            elif m := _NAME.match(value, start + 1):
                out.append(self._lookup(m.group()))
                i = m.end()
            else:
                out.append("$")  # a lone `$` is literal, as in compose
                i = start + 1
        return "".join(out)

    def _lookup(self, name: str) -> str:
        if name not in self.env:
            self.unset.add(name)
            return ""
        return self.env[name]

    def _braced(self, value: str, start: int) -> tuple[str, int]:
        end = _closing_brace(value, start + 2)
        if end < 0:
            raise InterpolationError(f"invalid interpolation {value[start:]!r}: unclosed '${{'")
        body = value[start + 2 : end]
        m = _NAME.match(body)
        if not m:
            raise InterpolationError(f"invalid interpolation {value[start:end + 1]!r} (netcontract reads {SUPPORTED})")
        name, rest = m.group(), body[m.end() :]
        if not rest:
            return self._lookup(name), end + 1
        op = next((o for o in _OPERATORS if rest.startswith(o)), None)
        if op is None:
            raise InterpolationError(f"invalid interpolation {value[start:end + 1]!r} (netcontract reads {SUPPORTED})")
        word = rest[len(op) :]
        is_set = name in self.env
        non_empty = is_set and self.env[name] != ""
        present = non_empty if op.startswith(":") else is_set
        if op.endswith("-"):
            return (self.env[name] if present else self.text(word)), end + 1
        if op.endswith("+"):
            return (self.text(word) if present else ""), end + 1
        if not present:  # ? and :?
            msg = self.text(word)
            raise InterpolationError(f"required variable {name} is missing a value" + (f": {msg}" if msg else ""))
        return self.env[name], end + 1


def _closing_brace(value: str, i: int) -> int:
    depth = 1
    while i < len(value):
        if value.startswith("$$", i):
            i += 2
            continue
        if value.startswith("${", i):
            depth += 1
            i += 2
            continue
        if value[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def interpolate_tree(node: Any, env: Mapping[str, str], path: str = "") -> tuple[Any, set[str]]:
    """Interpolate a tree; InterpolationError messages are prefixed with the YAML path."""
    interp = Interpolator(env)

    def walk(n: Any, where: str) -> Any:
        if isinstance(n, str):
            try:
                return interp.text(n)
            except InterpolationError as exc:
                raise InterpolationError(f"{where or '(top level)'}: {exc}") from None
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

    Raises InterpolationError (with the line number) on a line it cannot read.
    """
    values: dict[str, str] = {}
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
            body = raw[1:]
            while _closing_quote(body, quote) < 0 and n < len(lines):
                body += "\n" + lines[n]
                n += 1
            close = _closing_quote(body, quote)
            if close < 0:
                raise InterpolationError(f"line {lineno}: unterminated {quote} quote")
            body = body[:close]
            if quote == "'":
                values[key] = body
                continue
            raw = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), "\\" + e.group(1)), body)
        else:
            raw = re.split(r"\s#", raw, maxsplit=1)[0].strip()
        lookup = {**environ, **values}
        try:
            values[key] = Interpolator(lookup).text(raw)
        except InterpolationError as exc:
            raise InterpolationError(f"line {lineno}: {exc}") from None
    return values


def _closing_quote(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if body[i] == "\\" and quote == '"':
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1

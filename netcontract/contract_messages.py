"""Contract errors in the contract's words, with the line and column they point at. Pure.

pydantic's errors name its own types ("Input should be a valid tuple") and report a misspelt key
twice (the real key missing, the misspelling unknown). `pydantic_issues` turns them into one
ContractIssue per problem, worded for a contract's author: a misspelt key is one issue at the
misspelling with the key it resembles; a wrong type says what the key takes (a list, true or false, a
whole number, a mapping). `PositionMap` reads the file's YAML nodes once more so every issue's path
gets the `line:col` of the key (or list item) it names.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from netcontract.errors import ContractIssue
from netcontract.yaml_input import GuardedLoader, close_match, short_repr

Loc = tuple[str | int, ...]


def _inner(annotation: Any) -> Any:
    """Strip Optional and Annotated: `X | None` and `Annotated[X, ...]` are X for walking the model."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _inner(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _inner(args[0]) if len(args) == 1 else annotation
    return annotation


def model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class whose mapping `loc` points into (services.shop -> Service), or None."""
    current: Any = root
    i = 0
    while i < len(loc):
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(loc[i]))
        if field is None:
            return None
        current = _inner(field.annotation)
        i += 1
        origin = typing.get_origin(current)
        if origin in (dict, tuple, list):  # {name: Model} and (Model, ...): skip the key or index
            args = [a for a in typing.get_args(current) if a is not Ellipsis]
            current = _inner(args[-1]) if args else None
            i += 1
            if i > len(loc):
                return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (an empty value)"
    return short_repr(value, 60)


_SHAPES = {
    "tuple_type": "should be a list, e.g. [a, b]",
    "list_type": "should be a list, e.g. [a, b]",
    "iterable_type": "should be a list, e.g. [a, b]",
    "set_type": "should be a list, e.g. [a, b]",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "string_type": "should be text (a string)",
    "dict_type": "should be a mapping (key: value lines)",
    "model_type": "should be a mapping (key: value lines)",
    "model_attributes_type": "should be a mapping (key: value lines)",
}


def _message(err: Any, key: str) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind in _SHAPES:
        return f"{_SHAPES[kind]}, got {_got(value)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        if key in ("ports", "port", "host_ports") or isinstance(key, int):
            return f"a port is a number from 1 to 65535, got {_got(value)}"
        bound = ctx.get("ge", ctx.get("le", ctx.get("gt", ctx.get("lt"))))
        return f"out of range ({kind.replace('_', ' ')} {bound}), got {_got(value)}"
    if kind == "too_short":
        return "must list at least one entry"
    if kind == "literal_error":
        return f"should be one of {ctx.get('expected', '')}, got {_got(value)}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return f"{str(err['msg']).removeprefix('Input ')}, got {_got(value)}"


def pydantic_issues(exc: ValidationError, root: type[BaseModel]) -> Iterator[ContractIssue]:
    """pydantic's errors as one issue per problem: a misspelt key once, at the misspelling, with the key it resembles."""
    errors = exc.errors(include_url=False)
    missing: dict[Loc, list[str]] = {}
    unknown: dict[Loc, list[str]] = {}
    for err in errors:
        loc = tuple(
            p for p in err["loc"] if not (isinstance(p, str) and "[" in p)
        )  # pydantic's own tags
        if err["type"] == "missing" and loc:
            missing.setdefault(loc[:-1], []).append(str(loc[-1]))
        elif err["type"] == "extra_forbidden" and loc:
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
    fixed: set[tuple[Loc, str]] = set()  # missing keys explained by a misspelling next to them
    for err in errors:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        parent, key = loc[:-1], (loc[-1] if loc else "")
        if err["type"] == "extra_forbidden":
            model = model_at(root, parent)
            known = list(model.model_fields) if model else []
            want = missing.get(parent, [])
            close = close_match(str(key), want) or close_match(str(key), known)
            if close is not None and close in want:
                fixed.add((parent, close))
                yield ContractIssue(loc, f"unknown key (did you mean {close!r}? it is required)")
            elif close is not None:
                yield ContractIssue(loc, f"unknown key (did you mean {close!r}?)")
            else:
                yield ContractIssue(
                    loc,
                    f"unknown key; {'known keys: ' + ', '.join(known) if known else 'none is known here'}",
                )
        elif err["type"] == "missing":
            if (parent, str(key)) not in fixed and not any(
                close_match(u, [str(key)]) for u in unknown.get(parent, [])
            ):
                yield ContractIssue(parent, f"required key {str(key)!r} is missing")
        elif err["type"] == "literal_error" and loc == ("version",):
            yield ContractIssue(
                loc, f"unsupported version {_got(err['input'])} (this netcontract reads version 1)"
            )
        else:
            yield ContractIssue(
                loc, _message(err, str(key) if not isinstance(key, int) else "ports")
            )


class PositionMap:
    """Path -> (line, column), both 1-based, from a contract's YAML text (composed once more, under the same limits)."""

    def __init__(self, text: str) -> None:
        self._keys: dict[Loc, tuple[int, int]] = {}
        self._values: dict[Loc, tuple[int, int]] = {}
        loader = GuardedLoader(text)
        try:
            node = loader.get_single_node()
        except (yaml.YAMLError, ValueError, RecursionError):
            node = None
        finally:
            loader.dispose()
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, loc: Loc) -> None:
        stack: list[tuple[yaml.Node, Loc]] = [(node, loc)]
        seen: set[int] = (
            set()
        )  # an alias is its anchor's node: walked once (a recursive one would never end)
        while stack:
            n, at = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            self._values.setdefault(at, (n.start_mark.line + 1, n.start_mark.column + 1))
            if isinstance(n, yaml.MappingNode):
                for k, v in n.value:
                    if isinstance(k, yaml.ScalarNode):
                        here = (*at, k.value)
                        self._keys.setdefault(
                            here, (k.start_mark.line + 1, k.start_mark.column + 1)
                        )
                        stack.append((v, here))
            elif isinstance(n, yaml.SequenceNode):
                stack.extend((v, (*at, i)) for i, v in enumerate(n.value))

    def find(self, loc: Sequence[str | int]) -> tuple[int, int] | None:
        """Where `loc` is written: its key (or list item), else the nearest enclosing one that is."""
        at = tuple(loc)
        while at:
            found = self._keys.get(at) or self._values.get(at)
            if found is None and isinstance(at[-1], int):
                found = self._values.get(at)
            if found is not None:
                return found
            at = at[:-1]
        return self._values.get(())


def located(issues: Sequence[ContractIssue], text: str) -> list[ContractIssue]:
    """`issues` with the line and column each one's path has in `text` (a top-level issue, such as the count of
    problems left out, has no position)."""
    where = PositionMap(text)
    return [replace(i, position=where.find(i.loc)) if i.loc else i for i in issues]

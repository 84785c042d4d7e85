"""Reading YAML that someone else wrote: one loader for contracts and compose files. Pure but for `read_input`.

Every input file passes here: a FIFO or device is refused before it is
opened, the size is bounded, and the YAML loader refuses duplicate keys,
unhashable keys, nesting deeper than `MAX_DEPTH`, alias expansion past
`MAX_EXPANDED_NODES` ("billion laughs"; Compose refuses it too) and scalars
longer than `MAX_SCALAR`. Every refusal is an `InputError` with a one-line
message; callers prefix the file name and pick the exit code of their input.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from netcontract.errors import InputError

MAX_BYTES = 4 * 1024 * 1024  # a compose file or contract of 4 MiB is already absurd
MAX_DEPTH = 64  # compose files nest about 6 levels; PyYAML recurses past ~500
MAX_EXPANDED_NODES = 200_000  # nodes after alias expansion
MAX_SCALAR = 64 * 1024


def read_input(path: str | Path) -> str:
    """A regular file's text, newlines kept as they are. FIFOs, devices and huge files are refused at once."""
    try:
        st = os.stat(path)  # follows symlinks; a loop raises ELOOP
    except FileNotFoundError:
        raise InputError("no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file (a FIFO, socket or device is not read)")
    if st.st_size > MAX_BYTES:
        raise InputError(f"file is {st.st_size} bytes; the limit is {MAX_BYTES}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"file is larger than {MAX_BYTES} bytes")
    if b"\x00" in data:
        raise InputError("contains a NUL byte: not a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})") from None


class GuardedLoader(yaml.SafeLoader):
    """SafeLoader with limits: depth, alias expansion, scalar length; duplicate and unhashable keys refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(None, None, f"nesting deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def expanded_size(self, node: yaml.Node) -> int:
        """Nodes of `node` with every alias expanded, memoised by identity (aliases share nodes)."""
        stack: list[tuple[yaml.Node, bool]] = [(node, False)]
        while stack:
            n, done = stack.pop()
            if id(n) in self._sizes:
                continue
            children: list[yaml.Node] = []
            if isinstance(n, yaml.SequenceNode):
                children = list(n.value)
            elif isinstance(n, yaml.MappingNode):
                children = [x for kv in n.value for x in kv]
            elif isinstance(n, yaml.ScalarNode) and len(n.value) > MAX_SCALAR:
                raise yaml.constructor.ConstructorError(
                    None, None, f"a scalar of {len(n.value)} characters (limit {MAX_SCALAR})", n.start_mark)
            pending = [c for c in children if id(c) not in self._sizes]
            if done or not pending:
                total = 1 + sum(self._sizes.get(id(c), 0) for c in children)
                self._sizes[id(n)] = total
                if total > MAX_EXPANDED_NODES:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"aliases expand to more than {MAX_EXPANDED_NODES} nodes", n.start_mark)
            else:
                stack.append((n, True))
                stack.extend((c, False) for c in pending)
        return self._sizes[id(node)]

    def construct_document(self, node: yaml.Node) -> Any:
        self.expanded_size(node)
        return super().construct_document(node)


def _unique_mapping(loader: GuardedLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor`: explicit keys may override merged ones
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value, not a sequence or mapping", key_node.start_mark)
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


GuardedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def yaml_problem(exc: yaml.MarkedYAMLError, *, column: bool = True) -> tuple[str, str]:
    """(where, what), each one line: ("line 3, column 3: ", "duplicate key 's'")."""
    mark = exc.problem_mark or exc.context_mark
    where = ""
    if mark:
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if column else f"line {mark.line + 1}: "
    parts = [one_line(str(p)) for p in (exc.context, exc.problem) if p]
    return where, ", ".join(parts) or "cannot parse"


def load_yaml(text: str, loader: type[GuardedLoader] = GuardedLoader) -> Any:
    """Parse one YAML document with `loader`; every failure is an `InputError` of one line."""
    ldr = loader(text)
    try:
        return ldr.get_single_data()
    except yaml.MarkedYAMLError as exc:
        where, what = yaml_problem(exc)
        raise InputError(f"malformed YAML: {where}{what}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {one_line(str(exc))}") from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"cannot read a value: {one_line(str(exc))}") from None
    finally:
        ldr.dispose()


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def close_match(name: str, options: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The one option closest to `name`, if any is close enough: the only "did you mean" search."""
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, options: Sequence[str], cutoff: float = 0.6, then: str = "") -> str:
    """` (did you mean 'x'?)` (with `then` after the question) when an option is close to `name`, else ``."""
    close = close_match(name, options, cutoff)
    if close is None:
        return ""
    return f" (did you mean {close!r}?{then.format(close) if then else ''})"

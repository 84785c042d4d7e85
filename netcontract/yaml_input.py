"""Reading YAML that someone else wrote: one loader for contracts and compose files. Pure but for `read_input`.

Every input file passes here: a FIFO, socket, device or directory is refused
before it is opened (and again on the opened descriptor, so a file swapped in
between cannot block), the size is bounded, and the YAML loader refuses
duplicate keys, unhashable keys, nesting deeper than `MAX_DEPTH`, more than
`MAX_NODES` nodes before or after alias expansion ("billion laughs"; Compose
refuses it too) and scalars longer than `MAX_SCALAR`. Every refusal is an
`InputError` with a one-line message; callers prefix the file name and pick
the exit code of their input. docs/security.md lists these limits.

The YAML is scanned and parsed by libyaml when PyYAML has it (the pure-Python
parser takes about 60 µs a node, so the node limit would cost seconds); the
nodes are composed here, in Python, so the depth and node limits hold
whichever parser runs.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from netcontract.errors import InputError

MAX_BYTES = 4 * 1024 * 1024  # a compose file or contract of 4 MiB is already absurd
MAX_DEPTH = 64  # compose files nest about 6 levels; PyYAML's composer recurses
MAX_NODES = 100_000  # nodes, counted as composed and again with every alias expanded
MAX_SCALAR = 64 * 1024  # characters in one scalar
MAX_INTEGER = (
    100  # characters of an integer literal: a port or a count needs under 20; Python's own
)
#                    limit (4300 decimal digits) would raise ValueError only when the value is printed

_INT_TAG = "tag:yaml.org,2002:int"


class LimitError(yaml.MarkedYAMLError):
    """A YAML document past one of the limits above (depth, nodes, alias expansion, scalar length).

    A MarkedYAMLError (it has a line and a column), raised only by GuardedLoader: a caller that lets
    another parser have the last word on malformed YAML must still refuse this one itself."""


# (st_dev, st_ino) of every file read_input read in this process since the last
# `forget_inputs()`: an output file must never replace one of them.
_INPUTS_READ: set[tuple[int, int]] = set()


def _refuse_kind(st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file (a FIFO, socket or device is not read)")


def _os_problem(exc: OSError) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError("no such file")
    if exc.errno == errno.ELOOP:
        return InputError("cannot read: a symlink loop (too many levels of symbolic links)")
    return InputError(f"cannot read: {exc.strerror or exc}")


def check_input_path(path: str | Path) -> os.stat_result:
    """The stat of an input file that may be read: it exists and is a regular file (no FIFO,
    device, socket or directory; a symlink loop is refused). Nothing is opened."""
    try:
        st = os.stat(path)  # follows symlinks; a loop raises ELOOP
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path itself
        raise (
            _os_problem(exc)
            if isinstance(exc, OSError)
            else InputError("the path contains a NUL byte")
        ) from None
    _refuse_kind(st)
    return st


def read_input(path: str | Path) -> str:
    """A regular file's text, newlines kept as they are. FIFOs, devices and huge files are refused at once."""
    st = check_input_path(path)
    if st.st_size > MAX_BYTES:
        raise InputError(f"file is {st.st_size} bytes; the limit is {MAX_BYTES}")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(
            path, flags
        )  # O_NONBLOCK: a FIFO swapped in after the stat cannot block the open
    except OSError as exc:
        raise _os_problem(exc) from None
    try:
        opened = os.fstat(fd)
        _refuse_kind(opened)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _os_problem(exc) from None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise InputError(f"file is larger than {MAX_BYTES} bytes")
    _INPUTS_READ.add((opened.st_dev, opened.st_ino))
    if b"\x00" in data:
        raise InputError("contains a NUL byte: not a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})") from None


def inputs_read() -> frozenset[tuple[int, int]]:
    """(st_dev, st_ino) of each file `read_input` read since `forget_inputs()`."""
    return frozenset(_INPUTS_READ)


def note_input(path: str | Path) -> None:
    """Count an existing file as an input of this run without reading it: a file Compose would read that
    netcontract's reader refuses to (an `extends.file`, an `include`) must not be replaced by a report file
    either, also when the run stops at that refusal."""
    with contextlib.suppress(OSError, ValueError):
        st = os.stat(path)
        _INPUTS_READ.add((st.st_dev, st.st_ino))


def forget_inputs() -> None:
    """Start a new command: the files read before it are no longer its inputs."""
    _INPUTS_READ.clear()


# libyaml's scanner and parser when PyYAML has it (PyYAML's own wheels do), else PyYAML's Python ones.
_CPARSER: Any
try:
    from yaml import cyaml

    _CPARSER = cyaml.CParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _CPARSER = None
LIBYAML = _CPARSER is not None
_PARSING: tuple[type, ...] = (
    (_CPARSER,) if LIBYAML else (yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser)
)


class _Base(Composer, *_PARSING, SafeConstructor, Resolver):  # type: ignore[misc]
    """The parser's events, PyYAML's Python composer (so the limits below apply), SafeConstructor."""

    def __init__(self, stream: str) -> None:
        if LIBYAML:
            _CPARSER.__init__(self, stream)
        else:  # pragma: no cover
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


class GuardedLoader(_Base):
    """SafeLoader with limits: depth, node count (as written and with aliases expanded), scalar
    length; duplicate and unhashable keys refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose one node, counting depth and nodes as written; raise LimitError past MAX_DEPTH or MAX_NODES."""
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH:
                raise LimitError(
                    None, None, f"nesting deeper than {MAX_DEPTH} levels", self._mark()
                )
            if self._nodes > MAX_NODES:
                raise LimitError(None, None, f"more than {MAX_NODES} nodes", self._mark())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _mark(self) -> Any:
        event = self.peek_event()
        return event.start_mark if event is not None else None

    def expanded_size(self, node: yaml.Node) -> int:
        """Nodes of `node` with every alias expanded, memoised by identity (aliases share nodes)."""
        stack: list[tuple[yaml.Node, bool]] = [(node, False)]
        open_: set[int] = (
            set()
        )  # nodes whose children are being sized: meeting one again is a cycle
        while stack:
            n, done = stack.pop()
            if id(n) in self._sizes:
                continue
            if not done and id(n) in open_:
                raise LimitError(
                    None, None, "a recursive alias (an anchor used inside itself)", n.start_mark
                )
            children: list[yaml.Node] = []
            if isinstance(n, yaml.SequenceNode):
                children = list(n.value)
            elif isinstance(n, yaml.MappingNode):
                children = [x for kv in n.value for x in kv]
                if not done:
                    self._unique_keys(n)
            elif isinstance(n, yaml.ScalarNode):
                if len(n.value) > MAX_SCALAR:
                    raise LimitError(
                        None,
                        None,
                        f"a scalar of {len(n.value)} characters (limit {MAX_SCALAR})",
                        n.start_mark,
                    )
                if len(n.value) > MAX_INTEGER and n.tag == _INT_TAG:
                    raise LimitError(
                        None,
                        None,
                        f"an integer of {len(n.value)} characters (limit {MAX_INTEGER})",
                        n.start_mark,
                    )
            pending = [c for c in children if id(c) not in self._sizes]
            if done or not pending:
                total = 1 + sum(self._sizes.get(id(c), 0) for c in children)
                self._sizes[id(n)] = total
                if total > MAX_NODES:
                    raise LimitError(
                        None, None, f"aliases expand to more than {MAX_NODES} nodes", n.start_mark
                    )
            else:
                open_.add(id(n))
                stack.append((n, True))
                stack.extend((c, False) for c in pending)
        return self._sizes[id(node)]

    def _unique_keys(self, node: yaml.MappingNode) -> None:
        """Refuse a duplicate key however it is spelt (a tag, `!!binary`, an escape): a LimitError, so
        that it is refused before Compose reads the file too (Compose's parser would let some through)."""
        seen: set[str] = set()
        for key_node, _ in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                continue
            try:
                spelt = self._spelt(key_node)
            except (yaml.YAMLError, TypeError, ValueError):
                continue  # not a key at all: construction says so, later
            if spelt in seen:
                raise LimitError(
                    None, None, f"duplicate key {short_repr(spelt)}", key_node.start_mark
                )
            seen.add(spelt)

    def _spelt(self, key: yaml.ScalarNode) -> str:
        """A key as a reader with string keys sees it (Compose's Go parser): a plain key whose type
        was guessed is its text (`yes` and `true` are two keys there, as in YAML 1.2); a quoted or
        explicitly tagged one is its value (`'web'`, `!!binary d2Vi`, `"w\\x65b"` are all `web`)."""
        if not key.style and key.tag == self.resolve(yaml.ScalarNode, key.value, (True, False)):  # type: ignore[no-untyped-call]
            return str(key.value)
        return _key_text(self.construct_object(key))

    def construct_document(self, node: yaml.Node) -> Any:
        """Refuse a document whose aliases expand past MAX_NODES (or holds an over-long scalar), then construct it."""
        self.expanded_size(node)
        return super().construct_document(node)


def _key_text(key: Any) -> str:
    """A key as a reader with string keys (Compose's, a contract's) sees it, so a duplicate is found
    however it is spelt: `!!binary d2Vi` and `"w\\x65b"` are `web`, `1` is `'1'`, `yes` is `true`."""
    if isinstance(key, bytes):
        return key.decode("utf-8", "surrogateescape")
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(key) if key.bit_length() <= 4 * MAX_INTEGER else f"<int {hash(key)}>"
    if isinstance(key, str | float):
        return str(key)
    hash(key)  # anything else (a date): itself, if it can be a key at all
    return f"{type(key).__name__}:{key!r}"


def _unique_mapping(
    loader: GuardedLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor`: explicit keys may override merged ones
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a mapping key must be a plain value, not a sequence or mapping",
                key_node.start_mark,
            )
        key = loader.construct_object(key_node, deep=deep)
        try:
            spelt = _key_text(key)
        except (TypeError, ValueError):  # a tagged scalar that constructs to an unhashable value
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if spelt in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {short_repr(key)}", key_node.start_mark
            )
        seen.add(spelt)
    return loader.construct_mapping(node, deep=deep)


GuardedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def yaml_problem(exc: yaml.MarkedYAMLError, *, column: bool = True) -> tuple[str, str]:
    """(where, what), each one line: ("line 3, column 3: ", "duplicate key 's'")."""
    mark = exc.problem_mark or exc.context_mark
    where = ""
    if mark:
        where = (
            f"line {mark.line + 1}, column {mark.column + 1}: "
            if column
            else f"line {mark.line + 1}: "
        )
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
    except yaml.reader.ReaderError as exc:
        raise InputError(f"malformed YAML: {reader_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {one_line(str(exc))}") from None
    except (
        ValueError,
        TypeError,
        RecursionError,
        OverflowError,
    ) as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"cannot read a value: {one_line(str(exc))}") from None
    finally:
        ldr.dispose()


def reader_problem(exc: yaml.reader.ReaderError) -> str:
    """`character U+0007 at position 21: control characters are not allowed`, without the stream's name."""
    char = exc.character
    what = f"U+{char:04X}" if isinstance(char, int) else short_repr(char)
    return f"character {what} at position {exc.position}: {one_line(str(exc.reason))}"


def one_line(text: str, limit: int = 200) -> str:
    """`text` on one line (every run of whitespace, line separators included, is one space), cut at `limit`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def short_repr(value: Any, limit: int = 80) -> str:
    """repr() for messages: never raises (a 5000-digit int has no decimal repr), never longer than `limit`."""
    try:
        text = repr(value)
    except ValueError:
        text = (
            f"<an integer of about {value.bit_length() * 30103 // 100000} digits>"
            if isinstance(value, int)
            else f"<a {type(value).__name__}>"
        )
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[-3:]


def close_match(name: str, options: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The one option closest to `name`, if any is close enough: the only "did you mean" search."""
    if len(name) > 256:  # difflib is quadratic: a hostile 64 KiB key would cost seconds
        return None
    close = difflib.get_close_matches(
        name, [o for o in options if len(o) <= 256], n=1, cutoff=cutoff
    )
    return close[0] if close else None


def did_you_mean(name: str, options: Sequence[str], cutoff: float = 0.6, then: str = "") -> str:
    """` (did you mean 'x'?)` (with `then` after the question) when an option is close to `name`, else ``."""
    close = close_match(name, options, cutoff)
    if close is None:
        return ""
    return f" (did you mean {close!r}?{then.format(close) if then else ''})"

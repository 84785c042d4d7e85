"""Where each service is declared, read from the files themselves (for Compose's loader, which says nothing
about source lines), and what must be refused before Compose runs.

`index_files` walks the `-f` files and, recursively, the local files they `include:`, as YAML node
trees (tags such as `!reset` need no constructor to be walked), and records:

- each service key's file and line (every file that names the service, in reading order);
- the order in which each service lists its networks (Compose's JSON sorts them by name; the
  first one is the draft's home tier);
- what Compose must not be asked to read: a remote `include`, `extends.file` or `-f` (Compose
  would fetch it from the network), an included file, `extends.file`, `env_file` or `label_file`
  that is a FIFO, device or something else than a regular file (Compose would block on it or
  read it forever), an env or label file over 4 MiB.

It never decides what the project means: a file it cannot parse is left to Compose, whose error
is the one shown. Only a missing or unreadable `-f` file is reported here, in the builtin's words.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from netcontract.compose.interpolation import Interpolator
from netcontract.compose.reader import read_text
from netcontract.errors import ComposeError, InputError, InterpolationError
from netcontract.yaml_input import (
    GuardedLoader,
    LimitError,
    check_input_path,
    read_input,
    yaml_problem,
)

MAX_FILES = 200  # included files followed, in all
MAX_ENV_FILE = 4 * 1024 * 1024
_REMOTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|git@|(?:github\.com|gitlab\.com|bitbucket\.org)/)")


def is_remote(reference: str) -> bool:
    """A reference Compose would fetch (git, http(s), oci, ssh) rather than read from disk."""
    return bool(_REMOTE.match(reference.strip()))


@dataclass
class Positions:
    """What the files themselves say: the files read, where each service is declared, its networks'
    order, its profiles as written.
    """

    files: list[str] = field(default_factory=list)  # every file read, -f files first in order, then includes
    services: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    network_order: dict[str, list[str]] = field(default_factory=dict)
    profiles: dict[str, list[str]] = field(default_factory=dict)  # as written (not interpolated)
    texts: dict[str, str] = field(default_factory=dict)
    missing_env_files: list[str] = field(default_factory=list)  # required env_file entries that do not exist

    def declared(self, service: str, fallback: str) -> tuple[tuple[str, int], ...]:
        """(file, line) of each declaration; else the first file that names the service; else `fallback`
        with line 0 (unknown)."""
        if self.services.get(service):
            return tuple(self.services[service])
        key = re.compile(rf"^[ \t]+['\"]?{re.escape(service)}['\"]?[ \t]*:", re.MULTILINE)
        for path in self.files:
            m = key.search(self.texts.get(path, ""))
            if m:
                return ((path, self.texts[path].count("\n", 0, m.start()) + 1),)
        return ((fallback, 0),)

    def order(self, service: str) -> Sequence[str]:
        """The service's networks in the order its file lists them (empty when not recorded)."""
        return self.network_order.get(service, ())


def index_files(files: Sequence[str], env: Mapping[str, str], texts: Mapping[str, str] | None = None) -> Positions:
    """Read the -f files (a missing one is a ComposeError, as with the builtin reader) and their includes.
    `texts` gives the text of a file that is not (yet) on disk, e.g. scaffold's candidate."""
    out = Positions()
    for path in files:
        if is_remote(path):
            raise ComposeError(f"{path}: a remote compose file is not read: netcontract never lets Compose fetch "
                               "files from the network (download it and pass the local copy)")
        text = texts[path] if texts and path in texts else read_text(path)  # the builtin reader's refusals
        out.files.append(path)
        out.texts[path] = text
    seen = {os.path.realpath(p) for p in files}
    for path in list(files):
        _walk(path, out.texts[path], env, out, seen)
    return out


def _node(text: str, path: str = "<compose file>") -> yaml.Node | None:
    loader = GuardedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            loader.expanded_size(node)  # alias expansion bounded here, before Compose expands anything
        return node
    except LimitError as exc:  # a hostile file is refused here, never handed to Compose
        where, what = yaml_problem(exc, column=False)
        raise ComposeError(f"{path}: {where}{what}") from None
    except (yaml.YAMLError, ValueError, RecursionError):
        return None  # Compose will say what is wrong, in its words
    finally:
        loader.dispose()


def _walk(path: str, text: str, env: Mapping[str, str], out: Positions, seen: set[str]) -> None:
    root = _node(text, path)
    if not isinstance(root, yaml.MappingNode):
        return
    here = Path(path).parent
    interp = Interpolator(env)
    for key, value in root.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        if key.value == "include":
            for ref, line in _include_refs(value, interp):
                _include(path, line, ref, here, env, out, seen)
        elif key.value == "services" and isinstance(value, yaml.MappingNode):
            for name_node, svc in value.value:
                if isinstance(name_node, yaml.ScalarNode):
                    _service(path, str(name_node.value), name_node.start_mark.line + 1, svc, here, interp, out)


def _scalar(node: yaml.Node, interp: Interpolator) -> str | None:
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        return interp.text(str(node.value))
    except InterpolationError:
        return None  # Compose reports it


def _include_refs(value: yaml.Node, interp: Interpolator) -> list[tuple[str, int]]:
    refs: list[tuple[str, int]] = []
    items = value.value if isinstance(value, yaml.SequenceNode) else []
    for item in items:
        if isinstance(item, yaml.ScalarNode):
            ref = _scalar(item, interp)
            if ref:
                refs.append((ref, item.start_mark.line + 1))
        elif isinstance(item, yaml.MappingNode):
            for k, v in item.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "path":
                    paths = v.value if isinstance(v, yaml.SequenceNode) else [v]
                    for p in paths:
                        ref = _scalar(p, interp)
                        if ref:
                            refs.append((ref, p.start_mark.line + 1))
    return refs


def _include(path: str, line: int, ref: str, here: Path, env: Mapping[str, str], out: Positions,
             seen: set[str]) -> None:
    if is_remote(ref):
        raise ComposeError(f"{path}:{line}: include: {ref} is remote: netcontract never lets Compose fetch files "
                           "from the network (vendor the file and include the local copy)")
    target = os.path.normpath(os.path.join(here, ref))
    try:
        text = read_input(target)
    except InputError as exc:
        if "no such file" in str(exc):
            return  # Compose says so, with its own message
        raise ComposeError(f"{path}:{line}: include: {target}: {exc}") from None
    real = os.path.realpath(target)
    if real in seen:
        return  # Compose refuses include cycles itself
    if len(seen) >= MAX_FILES:
        raise ComposeError(f"{path}:{line}: include: more than {MAX_FILES} files in all")
    seen.add(real)
    out.files.append(target)
    out.texts[target] = text
    _walk(target, text, env, out, seen)


def _pairs(node: yaml.MappingNode, depth: int = 0) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    """The (key, value) pairs of a mapping with `<<: *anchor` merge keys expanded (explicit keys win)."""
    own = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge"]
    names = {k.value for k, _ in own}
    merged: list[tuple[yaml.ScalarNode, yaml.Node]] = []
    for k, v in node.value:
        if not (isinstance(k, yaml.ScalarNode) and k.tag == "tag:yaml.org,2002:merge") or depth > 8:
            continue
        for source in (v.value if isinstance(v, yaml.SequenceNode) else [v]):
            if isinstance(source, yaml.MappingNode):
                for mk, mv in _pairs(source, depth + 1):
                    if mk.value not in names:
                        names.add(mk.value)
                        merged.append((mk, mv))
    return own + merged


def _service(path: str, name: str, line: int, svc: yaml.Node, here: Path, interp: Interpolator,
             out: Positions) -> None:
    out.services.setdefault(name, []).append((path, line))
    if not isinstance(svc, yaml.MappingNode):
        return
    for key, value in _pairs(svc):
        if key.value == "networks":
            order = out.network_order.setdefault(name, [])
            keys = value.value if isinstance(value, yaml.SequenceNode) else (
                [k for k, _ in value.value] if isinstance(value, yaml.MappingNode) else [])
            for k in keys:
                if isinstance(k, yaml.ScalarNode) and str(k.value) not in order:
                    order.append(str(k.value))
        elif key.value == "profiles" and isinstance(value, yaml.SequenceNode):
            out.profiles[name] = [str(v.value) for v in value.value if isinstance(v, yaml.ScalarNode)]
        elif key.value == "extends" and isinstance(value, yaml.MappingNode):
            for k, v in value.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "file":
                    ref = _scalar(v, interp)
                    if ref and is_remote(ref):
                        raise ComposeError(
                            f"{path}:{v.start_mark.line + 1}: services.{name}.extends.file: {ref} is remote: netcontract "
                            "never lets Compose fetch files from the network (vendor the file and extend the local copy)")
                    if ref:
                        _refuse_special(os.path.join(here, ref), f"{path}:{v.start_mark.line + 1}: services.{name}.extends.file")
        elif key.value == "label_file":  # read by `config` itself (Compose 2.32+)
            for ref, at, _ in _env_refs(value, interp):
                _refuse_special(os.path.join(here, ref), f"{path}:{at}: services.{name}.label_file", MAX_ENV_FILE)
        elif key.value == "env_file":
            for ref, at, required in _env_refs(value, interp):
                target = os.path.normpath(os.path.join(here, ref))
                exists = _refuse_special(target, f"{path}:{at}: services.{name}.env_file", MAX_ENV_FILE)
                if not exists and required and target not in out.missing_env_files:
                    out.missing_env_files.append(target)


def _env_refs(value: yaml.Node, interp: Interpolator) -> list[tuple[str, int, bool]]:
    """(path, line, required) of each env_file entry (short or long syntax)."""
    items = value.value if isinstance(value, yaml.SequenceNode) else [value]
    refs = []
    for item in items:
        node: yaml.Node | None = item
        required = True
        if isinstance(item, yaml.MappingNode):
            fields = {str(k.value): v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
            node = fields.get("path")
            flag = fields.get("required")
            required = not (isinstance(flag, yaml.ScalarNode) and str(flag.value).lower() == "false")
        if node is not None:
            ref = _scalar(node, interp)
            if ref:
                refs.append((ref, node.start_mark.line + 1, required))
    return refs


def _refuse_special(target: str, where: str, max_bytes: int | None = None) -> bool:
    """Refuse a file Compose would read that is a FIFO, device, socket (or, for env files, huge);
    a missing file is left to Compose. True if the file exists."""
    try:
        st = check_input_path(target)
    except InputError as exc:
        if "no such file" in str(exc):
            return False
        raise ComposeError(f"{where}: {target}: {exc}") from None
    if max_bytes is not None and st.st_size > max_bytes:
        raise ComposeError(f"{where}: {target} is {st.st_size} bytes; netcontract lets Compose read at most {max_bytes}")
    return True

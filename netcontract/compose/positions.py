"""Where each service is declared, read from the files themselves (for Compose's loader, which says nothing
about source lines), and what must be refused before Compose runs.

`index_files` walks the `-f` files and, recursively, the local files they `include:`, as YAML node
trees (tags such as `!reset` need no constructor to be walked), and records:

- each service key's file and line (every file that names the service, in reading order);
- the order in which each service lists its networks (Compose's JSON sorts them by name; the
  first one is the draft's home tier);
- what Compose must not be asked to read, each refused before Compose runs: a remote `include`,
  `extends.file` or `-f` (Compose would fetch it from the network); an included or extended file,
  an `env_file` or `label_file`, an include's `env_file` or the `.env` of its project directory
  that is a FIFO, device or something else than a regular file, or past 4 MiB (each is read here
  with the input limits, env files parsed with the interpolation bounds); a value whose
  interpolation nests or expands past the bounds of compose/interpolation.py.

Every file read here is remembered by yaml_input.read_input, so no report file replaces it.

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

from netcontract.compose.guard import bounded_interpolation, env_refs, guard_env_file, scalar
from netcontract.compose.interpolation import Interpolator
from netcontract.compose.reader import RefusedInput, read_env_file, read_text
from netcontract.errors import ComposeError, InputError
from netcontract.yaml_input import (
    GuardedLoader,
    LimitError,
    read_input,
    yaml_problem,
)

MAX_FILES = 200  # included and extended files followed, in all
_REMOTE = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|git@|(?:github\.com|gitlab\.com|bitbucket\.org)/)"
)


def is_remote(reference: str) -> bool:
    """A reference Compose would fetch (git, http(s), oci, ssh) rather than read from disk."""
    return bool(_REMOTE.match(reference.strip()))


@dataclass
class Positions:
    """What the files themselves say: the files read, where each service is declared, its networks'
    order, its profiles as written.
    """

    files: list[str] = field(
        default_factory=list
    )  # every file read, -f files first in order, then includes
    services: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    network_order: dict[str, list[str]] = field(default_factory=dict)
    profiles: dict[str, list[str]] = field(default_factory=dict)  # as written (not interpolated)
    texts: dict[str, str] = field(default_factory=dict)
    missing_env_files: list[str] = field(
        default_factory=list
    )  # required env_file entries that do not exist

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


def index_files(
    files: Sequence[str], env: Mapping[str, str], texts: Mapping[str, str] | None = None
) -> Positions:
    """Read the -f files (a missing one is a ComposeError, as with the builtin reader) and their includes.
    `texts` gives the text of a file that is not (yet) on disk, e.g. scaffold's candidate."""
    out = Positions()
    for path in files:
        if is_remote(path):
            raise ComposeError(
                f"{path}: a remote compose file is not read: netcontract never lets Compose fetch "
                "files from the network (download it and pass the local copy)"
            )
        text = (
            texts[path] if texts and path in texts else read_text(path)
        )  # the builtin reader's refusals
        out.files.append(path)
        out.texts[path] = text
    seen = {os.path.realpath(p) for p in files}
    budget = Interpolator(
        env
    )  # every value of every file, as Compose will interpolate them: one budget
    for path in list(files):
        _walk(path, out.texts[path], env, out, seen, budget)
    return out


def _node(text: str, path: str = "<compose file>") -> yaml.Node | None:
    loader = GuardedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            loader.expanded_size(
                node
            )  # alias expansion bounded here, before Compose expands anything
        return node
    except LimitError as exc:  # a hostile file is refused here, never handed to Compose
        where, what = yaml_problem(exc, column=False)
        raise ComposeError(f"{path}: {where}{what}") from None
    except (yaml.YAMLError, ValueError, RecursionError):
        return None  # Compose will say what is wrong, in its words
    finally:
        loader.dispose()


def _walk(
    path: str,
    text: str,
    env: Mapping[str, str],
    out: Positions,
    seen: set[str],
    budget: Interpolator,
    record: bool = True,
) -> None:
    """Index one file; follow what it makes Compose read (includes, extends files, env and label files),
    each through the input guard. `record=False` (an extends file): guard only, declare nothing."""
    root = _node(text, path)
    if not isinstance(root, yaml.MappingNode):
        return
    bounded_interpolation(root, path, budget)
    here = Path(path).parent
    interp = Interpolator(env)
    for key, value in root.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        if key.value == "include" and record:
            for inc in _include_refs(value, interp):
                _include(path, inc, here, env, out, seen, budget)
        elif key.value == "services" and isinstance(value, yaml.MappingNode):
            for name_node, svc in value.value:
                if isinstance(name_node, yaml.ScalarNode):
                    _service(
                        path,
                        str(name_node.value),
                        name_node.start_mark.line + 1,
                        svc,
                        here,
                        interp,
                        out,
                        (env, seen, budget),
                        record,
                    )


@dataclass(frozen=True)
class _IncludeRef:
    paths: tuple[str, ...]
    line: int
    env_files: tuple[str, ...] = ()
    project_directory: str | None = None


def _include_refs(value: yaml.Node, interp: Interpolator) -> list[_IncludeRef]:
    refs: list[_IncludeRef] = []
    items = value.value if isinstance(value, yaml.SequenceNode) else []
    for item in items:
        if isinstance(item, yaml.ScalarNode):
            ref = scalar(item, interp)
            if ref:
                refs.append(_IncludeRef((ref,), item.start_mark.line + 1))
        elif isinstance(item, yaml.MappingNode):
            fields = {str(k.value): v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
            paths = [p for p in _scalars(fields.get("path"), interp) if p]
            if not paths:
                continue
            env_files = tuple(e for e in _scalars(fields.get("env_file"), interp) if e)
            directory = fields.get("project_directory")
            refs.append(
                _IncludeRef(
                    tuple(paths),
                    item.start_mark.line + 1,
                    env_files,
                    scalar(directory, interp) if directory is not None else None,
                )
            )
    return refs


def _scalars(node: yaml.Node | None, interp: Interpolator) -> list[str]:
    """A scalar or a sequence of scalars, interpolated (an entry that cannot be is left out)."""
    nodes = (
        node.value if isinstance(node, yaml.SequenceNode) else [node] if node is not None else []
    )
    return [v for v in (scalar(n, interp) for n in nodes) if v is not None]


def _include(
    path: str,
    inc: _IncludeRef,
    here: Path,
    env: Mapping[str, str],
    out: Positions,
    seen: set[str],
    budget: Interpolator,
) -> None:
    line = inc.line
    for ref in (
        *inc.paths,
        *inc.env_files,
        *([inc.project_directory] if inc.project_directory else []),
    ):
        if is_remote(ref):
            raise ComposeError(
                f"{path}:{line}: include: {ref} is remote: netcontract never lets Compose fetch files "
                "from the network (vendor the file and include the local copy)"
            )
    first = os.path.normpath(os.path.join(here, inc.paths[0]))
    directory = (
        os.path.normpath(os.path.join(here, inc.project_directory))
        if inc.project_directory
        else os.path.dirname(first)
    )
    # the variables Compose interpolates the included files with: its env_file entries, else the .env
    # of its project directory (read even when it is a link: Compose would follow it)
    env_files = [os.path.normpath(os.path.join(here, e)) for e in inc.env_files]
    dotenv = os.path.join(directory, ".env")
    if not env_files and os.path.exists(dotenv) and not os.path.isdir(dotenv):
        env_files = [dotenv]
    inner = dict(env)
    for name in env_files:
        if not os.path.lexists(name):
            continue  # Compose says so
        try:
            inner.update(read_env_file(name, inner, f"{path}:{line}: include: env_file"))
        except RefusedInput:
            raise
        except ComposeError:
            pass  # a line Compose reads differently: Compose words it
    for ref in inc.paths:
        target = os.path.normpath(os.path.join(here, ref))
        try:
            text = read_input(target)
        except InputError as exc:
            if "no such file" in str(exc):
                continue  # Compose says so, with its own message
            raise RefusedInput(f"{path}:{line}: include: {target}: {exc}") from None
        real = os.path.realpath(target)
        if real in seen:
            continue  # Compose refuses include cycles itself
        if len(seen) >= MAX_FILES:
            raise RefusedInput(f"{path}:{line}: include: more than {MAX_FILES} files in all")
        seen.add(real)
        out.files.append(target)
        out.texts[target] = text
        _walk(target, text, inner, out, seen, budget)


def _pairs(node: yaml.MappingNode, depth: int = 0) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    """The (key, value) pairs of a mapping with `<<: *anchor` merge keys expanded (explicit keys win)."""
    own = [
        (k, v)
        for k, v in node.value
        if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge"
    ]
    names = {k.value for k, _ in own}
    merged: list[tuple[yaml.ScalarNode, yaml.Node]] = []
    for k, v in node.value:
        if not (isinstance(k, yaml.ScalarNode) and k.tag == "tag:yaml.org,2002:merge") or depth > 8:
            continue
        for source in v.value if isinstance(v, yaml.SequenceNode) else [v]:
            if isinstance(source, yaml.MappingNode):
                for mk, mv in _pairs(source, depth + 1):
                    if mk.value not in names:
                        names.add(mk.value)
                        merged.append((mk, mv))
    return own + merged


_Follow = tuple[
    Mapping[str, str], set[str], Interpolator
]  # env, files seen, the interpolation budget


def _service(
    path: str,
    name: str,
    line: int,
    svc: yaml.Node,
    here: Path,
    interp: Interpolator,
    out: Positions,
    follow: _Follow,
    record: bool = True,
) -> None:
    if record:
        out.services.setdefault(name, []).append((path, line))
    if not isinstance(svc, yaml.MappingNode):
        return
    for key, value in _pairs(svc):
        if key.value == "networks" and record:
            order = out.network_order.setdefault(name, [])
            keys = (
                value.value
                if isinstance(value, yaml.SequenceNode)
                else ([k for k, _ in value.value] if isinstance(value, yaml.MappingNode) else [])
            )
            for k in keys:
                if isinstance(k, yaml.ScalarNode) and str(k.value) not in order:
                    order.append(str(k.value))
        elif key.value == "profiles" and isinstance(value, yaml.SequenceNode) and record:
            out.profiles[name] = [
                str(v.value) for v in value.value if isinstance(v, yaml.ScalarNode)
            ]
        elif key.value == "extends" and isinstance(value, yaml.MappingNode):
            for k, v in value.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "file":
                    ref = scalar(v, interp)
                    if ref and is_remote(ref):
                        raise ComposeError(
                            f"{path}:{v.start_mark.line + 1}: services.{name}.extends.file: {ref} is remote: netcontract "
                            "never lets Compose fetch files from the network (vendor the file and extend the local copy)"
                        )
                    if ref:
                        _extends(
                            os.path.normpath(os.path.join(here, ref)),
                            f"{path}:{v.start_mark.line + 1}: services.{name}.extends.file",
                            out,
                            follow,
                        )
        elif key.value in (
            "label_file",
            "env_file",
        ):  # label_file: read by `config` itself (Compose 2.32+)
            for ref, at, required in env_refs(value, interp):
                target = os.path.normpath(os.path.join(here, ref))
                exists = guard_env_file(
                    target, f"{path}:{at}: services.{name}.{key.value}", follow[0]
                )
                if (
                    key.value == "env_file"
                    and not exists
                    and required
                    and target not in out.missing_env_files
                ):
                    out.missing_env_files.append(target)


def _extends(target: str, where: str, out: Positions, follow: _Follow) -> None:
    """An extends file is read by Compose like an -f file: the same guard, then what it makes Compose read."""
    env, seen, budget = follow
    try:
        text = read_input(target)
    except InputError as exc:
        if "no such file" in str(exc):
            return  # Compose says so
        raise RefusedInput(f"{where}: {target}: {exc}") from None
    real = os.path.realpath(target)
    if real in seen:
        return
    if len(seen) >= MAX_FILES:
        raise RefusedInput(f"{where}: more than {MAX_FILES} files in all")
    seen.add(real)
    _walk(target, text, env, out, seen, budget, record=False)

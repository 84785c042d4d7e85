"""netcontract's own reader: compose files the way `docker compose` reads them, up to the merged mapping.

Used where no Compose binary is found (or `--compose-loader builtin`), and by
scaffold, which edits one file. Compose reads YAML 1.2 (`22:22` and `yes` stay
strings), refuses duplicate keys, interpolates each file with the process
environment plus `.env` (or `--env-file`), then merges the files in order.
What this module cannot read as compose would (`extends`, `include`,
`!reset`/`!override` tags) is an error naming the file, never a guess; Compose's
own loader (compose/loader.py) reads all of them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netcontract.compose.interpolation import InterpolationLimit, interpolate_tree, parse_dotenv
from netcontract.errors import ComposeError, InputError, InterpolationError
from netcontract.yaml_input import GuardedLoader, note_input, one_line, read_input, yaml_problem

USE_COMPOSE = (
    "Compose's own loader reads it: install Docker Compose 2.20+ or `pip install 'netcontract[compose]'`, "
    "and do not pass --compose-loader builtin"
)
_BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float"))


class _Loader(GuardedLoader):
    """YAML 1.2 core scalars (as compose's Go parser); duplicate keys and the input limits of GuardedLoader."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _int_12(loader: _Loader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text, 0)
    return int(text, 10)  # YAML 1.2: 0755 is decimal


_Loader.add_constructor(_INT, _int_12)


@dataclass(frozen=True)
class ComposeDoc:
    """One compose file, parsed and interpolated."""

    path: str
    data: dict[str, Any]
    lines: Mapping[str, int]  # service name -> line of its key


def parse_compose_text(text: str, path: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse one compose document; return the mapping and the line of each service key."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ComposeError(f"{path}: empty compose file")
        lines = _service_lines(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise ComposeError(f"{path}: {_yaml_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"{path}: malformed YAML: {one_line(str(exc))}") from None
    except (
        ValueError,
        TypeError,
        RecursionError,
    ) as exc:  # e.g. an integer of more than 4300 digits
        raise ComposeError(f"{path}: cannot read a value: {one_line(str(exc))}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ComposeError(f"{path}: a compose file is a YAML mapping (services, networks, ...)")
    return data, lines


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    where, problem = yaml_problem(exc, column=False)
    tag = re.search(r"tag '(![^']*)'", problem)
    if tag:
        return f"{where}YAML tag {tag.group(1)} is not read by netcontract's own reader ({USE_COMPOSE})"
    return f"{where}malformed YAML: {problem}"


def _service_lines(node: yaml.Node) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    for key, value in node.value:
        if (
            isinstance(key, yaml.ScalarNode)
            and key.value == "services"
            and isinstance(value, yaml.MappingNode)
        ):
            return {
                str(k.value): k.start_mark.line + 1
                for k, _ in value.value
                if isinstance(k, yaml.ScalarNode)
            }
    return {}


class RefusedInput(ComposeError):
    """A file Compose would read that no one may read (a device, a FIFO, past a size or expansion bound):
    refused before Compose runs, never left to Compose's own message."""


def read_env(
    files: Sequence[str], env_files: Sequence[str], environ: Mapping[str, str]
) -> dict[str, str]:
    """The variables compose interpolates with: `--env-file`s (else COMPOSE_ENV_FILES, else `.env` beside
    the first file),
    overridden by the process environment. A `.env` that is a link to a device, a FIFO or past a bound
    is refused (RefusedInput), as Compose would read it."""
    candidates = list(env_files)
    if not candidates and environ.get(
        "COMPOSE_ENV_FILES"
    ):  # Compose's default for --env-file (2.24+)
        candidates = [f for f in environ["COMPOSE_ENV_FILES"].split(",") if f]
    if not candidates and files:
        dotenv = os.path.join(os.path.dirname(files[0]), ".env")
        if os.path.exists(dotenv) and not os.path.isdir(
            dotenv
        ):  # as Compose: a link to /dev/zero is a .env
            candidates = [dotenv]
    values: dict[str, str] = {}
    for name in candidates:
        values.update(read_env_file(name, {**environ, **values}))
    return {**values, **environ}


def read_env_file(name: str, environ: Mapping[str, str], where: str = "") -> dict[str, str]:
    """One env file's variables, read with the input limits (RefusedInput past one of them, ComposeError
    on a line compose would not read). `where` names what pointed at it (`compose.yaml:3: env_file`)."""
    prefix = f"{where}: " if where else ""
    try:
        text = read_input(name)  # size, FIFO, device and NUL limits as for compose files
    except InputError as exc:
        raise RefusedInput(f"{prefix}{name}: {exc}") from None
    try:
        return parse_dotenv(text, environ)
    except InterpolationLimit as exc:
        raise RefusedInput(f"{prefix}{name}: {exc}") from None
    except InterpolationError as exc:
        raise ComposeError(f"{prefix}{name}: {exc}") from None


def read_text(path: str) -> str:
    """The file's text with its line endings as they are (scaffold must keep CRLF files CRLF).

    FIFOs, devices, NUL bytes and files past the size limit are refused (`yaml_input.read_input`)."""
    try:
        return read_input(path)
    except InputError as exc:
        raise ComposeError(f"{path}: {exc}") from None


def load_doc(
    path: str, env: Mapping[str, str], reader: Callable[[str], str] = read_text
) -> tuple[ComposeDoc, set[str]]:
    """Read, parse and interpolate one file; return it with the unset variables it used."""
    try:
        text = reader(path)
    except FileNotFoundError:
        raise ComposeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(f"{path}: cannot read: {exc}") from None
    data, lines = parse_compose_text(text, path)
    _refuse_unsupported(data, path)
    try:
        interpolated, unset = interpolate_tree(data, env)
    except InterpolationError as exc:
        raise ComposeError(f"{path}: {exc}") from None
    return ComposeDoc(path, interpolated, lines), unset


def _refuse_unsupported(data: Mapping[str, Any], path: str) -> None:
    _note_referenced(data, path)
    if "include" in data:
        raise ComposeError(
            f"{path}: include: netcontract does not read included files ({USE_COMPOSE})"
        )
    services = data.get("services")
    if "services" in data and not isinstance(services, dict):
        raise ComposeError(f"{path}: services must be a mapping")
    if isinstance(services, dict):
        for name, svc in services.items():
            if isinstance(svc, dict) and "extends" in svc:
                raise ComposeError(
                    f"{path}: services.{name}.extends: netcontract does not read `extends` ({USE_COMPOSE})"
                )


def _note_referenced(data: Mapping[str, Any], path: str) -> None:
    """The files an `include` or an `extends.file` names are inputs even though this reader refuses them
    (Compose would read them): no report file of this run may replace one (yaml_input.note_input)."""
    base = Path(path).parent
    named: list[Any] = []
    include = data.get("include")
    for item in include if isinstance(include, list) else []:
        entry = item.get("path") if isinstance(item, dict) else item
        named += entry if isinstance(entry, list) else [entry]
    services = data.get("services")
    for svc in services.values() if isinstance(services, dict) else []:
        extends = svc.get("extends") if isinstance(svc, dict) else None
        if isinstance(extends, dict):
            named.append(extends.get("file"))
    for name in named:
        if isinstance(name, str) and name:
            note_input(base / name)


# -- merging (compose-spec merge rules, for the keys netcontract reads) --------

_REPLACED = {"command", "entrypoint"}
_NETWORKS = re.compile(r"^services\.[^.]+\.networks$")


def merge(base: Any, override: Any, path: str = "") -> Any:
    """Merge `override` into `base` as compose merges two files: mappings merge key by key,
    sequences append (networks merge by network name), command/entrypoint/healthcheck.test replace."""
    if _NETWORKS.match(path):
        return merge(_networks_mapping(base), _networks_mapping(override), path + ".*")
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            sub = f"{path}.{key}" if path else str(key)
            out[key] = merge(base[key], value, sub) if key in base else value
        return out
    if override is None and isinstance(base, dict):
        return base  # `name:` with no value does not wipe an entry
    if isinstance(base, list) and isinstance(override, list) and not _replaced(path):
        return base + _new_items(base, override)
    return override


def _new_items(base: list[Any], override: list[Any]) -> list[Any]:
    """`[v for v in override if v not in base]`, in linear time for the hashable items (30,000 labels in
    each of two files took 16 s as a list scan); mappings and lists are compared with those of `base`."""
    hashable: set[Any] = set()
    others: list[Any] = []
    for v in base:
        try:
            hashable.add(v)
        except TypeError:
            others.append(v)
    out = []
    for v in override:
        try:
            known = v in hashable
        except TypeError:
            known = v in others
        if not known:
            out.append(v)
    return out


def _replaced(path: str) -> bool:
    return path.rsplit(".", 1)[-1] in _REPLACED or path.endswith("healthcheck.test")


def _networks_mapping(value: Any) -> Any:
    if isinstance(value, list):
        return {str(v): None for v in value}
    return value


def merge_docs(docs: Sequence[ComposeDoc]) -> dict[str, Any]:
    """The files merged in order, each over the ones before, as compose merges `-f` files."""
    merged: dict[str, Any] = {}
    for doc in docs:
        merged = merge(merged, doc.data)
    return merged


# -- which files, when no -f is given ---------------------------------------------

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)


def default_files(cwd: Path, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The files `docker compose` reads without -f: COMPOSE_FILE, else the first default name found
    in `cwd` or a parent directory, plus its override file beside it."""
    if environ.get("COMPOSE_FILE"):
        sep = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return tuple(f for f in environ["COMPOSE_FILE"].split(sep) if f)
    for directory in (cwd, *cwd.parents):
        found = next((directory / n for n in DEFAULT_FILES if (directory / n).is_file()), None)
        if found is not None:
            override = next(
                (directory / n for n in OVERRIDE_FILES if (directory / n).is_file()), None
            )
            return (str(found),) + ((str(override),) if override else ())
    raise ComposeError(
        f"no compose file: pass -f, or set COMPOSE_FILE (looked for {', '.join(DEFAULT_FILES)} in {cwd} and its parents)"
    )


# -- project name ---------------------------------------------------------------

_PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def normalize_project_name(text: str) -> str:
    """Compose's own normalisation of a directory or `name:` into a project name."""
    return re.sub(r"[^a-z0-9_-]", "", text.lower()).lstrip("_-")


def project_name(
    explicit: str | None, env: Mapping[str, str], merged: Mapping[str, Any], first_file: str
) -> str:
    """--project, then COMPOSE_PROJECT_NAME, then top-level `name:`, then the first file's directory."""
    for given, origin in (
        (explicit, "--project"),
        (env.get("COMPOSE_PROJECT_NAME") or None, "COMPOSE_PROJECT_NAME"),
    ):
        if given is not None:
            if not _PROJECT_RE.fullmatch(given):
                raise ComposeError(
                    f"invalid project name {given!r} from {origin}: use lower-case letters, digits, '-' and '_', "
                    "starting with a letter or digit"
                )
            return given
    name = merged.get("name")
    if name is not None:
        if not normalize_project_name(str(name)):
            raise ComposeError(
                f"{first_file}: name: {name!r} leaves an empty project name once normalised"
            )
        return normalize_project_name(str(name))
    directory = Path(first_file).resolve().parent.name
    derived = normalize_project_name(directory)
    if not derived:
        raise ComposeError(
            f"{first_file}: cannot derive a project name from directory {directory!r}: pass --project"
        )
    return derived

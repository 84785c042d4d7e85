"""Which loader reads the compose files, and Compose's own loader (`docker compose config --format json`).

Outside the command line the loader is netcontract's reader (`load_builtin`): pure, no process. A
command selects one with `selected()` (cli/static.py's `--compose-loader` / `--compose-bin`):

- `auto` (the default there): Compose's loader when a binary is found (compose/binary.py), else
  netcontract's reader, and the report says which;
- `compose`: Compose's loader or exit 3; `builtin`: netcontract's reader.

With Compose's loader, Compose merges, interpolates, follows `include` and `extends`, applies
`!reset`/`!override`, profiles and `.env`, exactly as `docker compose` does with the same `-f`
order, `--profile`, `--env-file`, `-p`, working directory and environment. netcontract adds
what Compose's model does not say (compose/positions.py: where each service is declared, the
order of its networks) and refuses, before Compose runs, what it must not be asked to read
(remote includes, FIFOs). An error from Compose is one line (exit 3).

Two things Compose refuses that say nothing about networks are read around, with a note:
a missing `env_file` (it sets container environment; checkouts in CI rarely have the
developer's `.env.dev`) and a service with neither `image` nor `build` (a partial file). Then
the files are read again without the env files (an override that `!reset`s them) or without
Compose's consistency checks (undefined networks are still refused, here).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netcontract.compose.binary import (
    ComposeBinary,
    Run,
    UnusableCompose,
    condense,
    find_binary,
    hardened_env,
    judge_version,
    run_many,
    version_argv,
)
from netcontract.compose.canonical import project_from_config
from netcontract.compose.positions import Positions, index_files
from netcontract.compose.project import ComposeOptions, ComposeProject, load_builtin
from netcontract.compose.reader import (
    RefusedInput,
    default_files,
    project_name,
    read_env,
    read_text,
)
from netcontract.errors import ComposeError

LOADERS = ("auto", "compose", "builtin")
BUILTIN = "netcontract's own reader"


@dataclass(frozen=True)
class Selection:
    """The loader a command chose (`auto`, `compose` or `builtin`) and the Compose binary it named, if any."""

    loader: str = "builtin"
    compose_bin: str | None = None
    bin_origin: str = "--compose-bin"  # or NETCONTRACT_COMPOSE_BIN, for messages
    explicit: bool = False  # chosen by a command (False: the library's default)


_DEFAULT = Selection()
_SELECTION: ContextVar[Selection | None] = ContextVar("netcontract_compose_selection", default=None)


@contextlib.contextmanager
def selected(
    loader: str = "auto", compose_bin: str | None = None, bin_origin: str = "--compose-bin"
) -> Iterator[None]:
    """Within this block, `load_project` uses `loader` unless its options say otherwise."""
    if loader not in LOADERS:
        raise ValueError(f"unknown compose loader {loader!r}")
    token = _SELECTION.set(Selection(loader, compose_bin or None, bin_origin, explicit=True))
    try:
        yield
    finally:
        _SELECTION.reset(token)


def current() -> Selection:
    """The selection in force: the command's (see `selected`), else the library's default, netcontract's reader."""
    return _SELECTION.get() or _DEFAULT


def choose(options: ComposeOptions, environ: Mapping[str, str]) -> tuple[ComposeBinary | None, str]:
    """The Compose binary to read with (None: netcontract's reader) and, if none, why."""
    selection = current()
    loader = options.loader or selection.loader
    explicit = options.compose_bin or selection.compose_bin
    origin = "compose_bin" if options.compose_bin else selection.bin_origin
    if loader not in LOADERS:
        raise ComposeError(f"unknown compose loader {loader!r} (choose {', '.join(LOADERS)})")
    if loader == "builtin":
        return None, "--compose-loader builtin" if (options.loader or selection.explicit) else ""
    binary, skipped = find_binary(explicit, environ, origin=origin, lazy=True)
    if binary is not None:
        return binary, ""
    why = "no Compose binary found: " + "; ".join(skipped)
    if loader == "compose":
        raise ComposeError(
            f"{why} (install `netcontract[compose]`, pass --compose-bin, or use --compose-loader builtin)"
        )
    return None, why


def load_project(
    options: ComposeOptions, reader: Callable[[str], str] = read_text
) -> ComposeProject:
    """Read, interpolate and merge the files of `options`, with Compose's loader when selected and
    available, else with netcontract's reader. `reader` reads a file's text (a test, or scaffold
    checking a candidate, passes one that reads memory; that is always netcontract's reader)."""
    return load_selected(options, reader)


def load_selected(
    options: ComposeOptions, reader: Callable[[str], str] = read_text
) -> ComposeProject:
    """The project, read by the selected loader (a `reader` other than the file system: netcontract's)."""
    if reader is not read_text:
        return load_builtin(options, reader)
    environ = dict(os.environ if options.environ is None else options.environ)
    while True:  # each pass either returns or learns that one more binary will not do
        binary, why = choose(options, environ)
        if binary is None:
            return load_builtin(options, reader, loader=BUILTIN + (f" ({why})" if why else ""))
        try:
            return load_with_compose(options, binary, environ)
        except UnusableCompose as exc:
            if binary.origin in ("--compose-bin", "NETCONTRACT_COMPOSE_BIN", "compose_bin"):
                raise ComposeError(f"{binary.origin} {binary.argv[0]}: {exc}") from None
            # remembered as unusable: the next choose() passes over it


# -- Compose's loader -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One `config` question: the same flags the user's `docker compose` would get."""

    files: tuple[str, ...]  # -f arguments, in order ("-" reads `stdin`)
    profiles: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    project: str | None = None
    project_directory: str | None = None
    stdin: bytes | None = None
    everything: bool = False  # also read with every profile, for the inactive services


@dataclass(frozen=True)
class Config:
    """Compose's model of the project as `config --format json` gave it, with the notes of what was read around."""

    active: dict[str, Any]  # Compose's model with the user's profiles
    everything: dict[str, Any] | None  # with every profile (None: not asked, or Compose refused it)
    notes: tuple[str, ...]
    binary: ComposeBinary  # with its version known


def load_with_compose(
    options: ComposeOptions, binary: ComposeBinary, environ: Mapping[str, str]
) -> ComposeProject:
    """The ComposeProject read by Compose's loader (`binary`), with positions from the files themselves.

    A service left out by its profiles is known from the files, or from a second `config` with every
    profile; ComposeError (one line) when Compose refuses the files.
    """
    files = tuple(options.files or default_files(Path.cwd(), environ))
    if options.project is not None:
        project_name(
            options.project, {}, {}, files[0]
        )  # the builtin's one-line refusal of a bad name
    try:
        env = read_env(
            files, options.env_files, environ
        )  # for include paths the index interpolates
    except RefusedInput:
        raise  # a device, FIFO or a bomb: Compose must not read it either
    except ComposeError:
        env = dict(environ)  # Compose will say what is wrong with the env file
    positions = index_files(files, env)
    # Profile-inactive services are not in Compose's model. Their names and profiles, as written, come from
    # the files (one process fewer); Compose is asked with every profile only when that is not enough.
    written = positions.profiles
    unsure = any("$" in p for ps in written.values() for p in ps)
    request = Request(
        files, tuple(options.profiles), tuple(options.env_files), options.project, everything=unsure
    )
    config = compose_config(binary, request, positions, environ)
    everything = config.everything
    if everything is None:
        active = config.active.get("services") or {}
        missing = [s for s in positions.services if s not in active]
        if all(written.get(s) for s in missing):
            everything = {"services": {s: {"profiles": written[s]} for s in missing}}
        else:  # a service the files declare and Compose left out, without a profile we can see
            try:
                everything = compose_config(
                    config.binary, replace(request, profiles=("*",)), positions, environ
                ).active
            except ComposeError:
                everything = None
    return project_from_config(
        config.active, everything, positions, files, config.notes, loader=describe(config.binary)
    )


def read_texts(
    path: str, texts: Sequence[str], project: str | None, environ: Mapping[str, str] | None = None
) -> tuple[ComposeBinary, list[tuple[Config, ComposeProject] | ComposeError]] | None:
    """Read each text with Compose's loader as if it were the file at `path` (`-f -` with the file's
    directory as project directory: the same relative paths and `.env`). None when the command did not
    select Compose's loader or no binary is found (scaffold then checks with netcontract's reader only)."""
    env = dict(os.environ if environ is None else environ)
    while True:
        binary, _ = choose(ComposeOptions(files=(path,)), env)
        if binary is None:
            return None
        out: list[tuple[Config, ComposeProject] | ComposeError] = []
        try:
            for text in texts:
                try:
                    positions = index_files((path,), env, texts={path: text})
                    request = Request(
                        ("-",),
                        project=project,
                        project_directory=os.path.dirname(path) or ".",
                        stdin=text.encode("utf-8"),
                    )
                    config = compose_config(binary, request, positions, env)
                except UnusableCompose:
                    raise
                except ComposeError as exc:
                    out.append(exc)
                    continue
                binary = config.binary
                out.append(
                    (
                        config,
                        project_from_config(
                            config.active,
                            None,
                            positions,
                            (path,),
                            config.notes,
                            loader=describe(binary),
                        ),
                    )
                )
        except UnusableCompose as exc:
            if binary.origin in ("--compose-bin", "NETCONTRACT_COMPOSE_BIN", "compose_bin"):
                raise ComposeError(f"{binary.origin} {binary.argv[0]}: {exc}") from None
            continue
        return binary, out


def describe(binary: ComposeBinary) -> str:
    """The loader as the report's note names it: the binary, its version and where it was found."""
    return f"{binary.name} {binary.version} ({binary.origin}; config --format json)"


def compose_config(
    binary: ComposeBinary, request: Request, positions: Positions, environ: Mapping[str, str]
) -> Config:
    """Ask Compose for its model; read around a missing env file or image (with a note), else a
    ComposeError of one line."""
    env = hardened_env(environ)
    remedies: list[str] = []
    notes: list[str] = []
    if positions.missing_env_files:  # known before Compose says it: save a run
        remedies.append("env")
        notes.append(_env_note(positions.missing_env_files[0]))
    scratch: list[str] = []  # a temporary directory, made only if a remedy needs a file
    try:
        for _ in range(3):
            files, flags = _remedy_args(remedies, positions, scratch)
            commands = [_argv(binary, request, request.profiles, files, flags)]
            if request.everything:
                commands.append(_argv(binary, request, ("*",), files, flags))
            feeds = [request.stdin] * len(commands)
            if not binary.version:  # its first run: ask its version alongside
                commands.append(version_argv(binary.argv))
                feeds.append(None)
            runs = run_many(commands, env, stdin=feeds)
            if not binary.version:
                version, problem = judge_version(binary.argv, runs.pop())
                if version is None:
                    raise UnusableCompose(problem)
                binary = replace(binary, version=version)
            main = runs[0]
            if main.returncode == 0:
                active = _model(main, binary, request, positions)
                everything = None
                if len(runs) > 1 and runs[1].returncode == 0:
                    everything = _model(runs[1], binary, request, positions)
                return Config(active, everything, (*notes, *_warnings(main, positions)), binary)
            error, _ = condense(main.stderr.decode(errors="replace"))
            fix = _remedy(error)
            if fix is None or fix[0] in remedies:
                raise ComposeError(
                    _message(error or f"exit status {main.returncode}", binary, request, positions)
                )
            remedies.append(fix[0])
            notes.append(fix[1])
    finally:
        for directory in scratch:
            shutil.rmtree(directory, ignore_errors=True)
    raise ComposeError(
        _message(error, binary, request, positions)
    )  # pragma: no cover - three remedies at most


def _argv(
    binary: ComposeBinary,
    request: Request,
    profiles: Sequence[str],
    files: Sequence[str],
    flags: Sequence[str],
) -> list[str]:
    argv = list(binary.argv)
    for f in (*request.files, *files):
        argv += ["-f", f]
    if request.project_directory:
        argv += ["--project-directory", request.project_directory]
    if request.project:
        argv += ["-p", request.project]
    for p in profiles:
        argv += ["--profile", p]
    for e in request.env_files:
        argv += ["--env-file", e]
    return [*argv, "config", "--format", "json", *flags]


_ENV_MISSING = re.compile(r"env file (?P<path>.+?) not found")
_NO_IMAGE = re.compile(
    r'service "(?P<service>[^"]+)" has neither an image nor a build context specified'
)


def _remedy(error: str) -> tuple[str, str] | None:
    """(remedy, note) for a refusal that says nothing about networks; None for a real error."""
    m = _ENV_MISSING.search(error)
    if m:
        return "env", _env_note(_shown(m.group("path")))
    m = _NO_IMAGE.search(error)
    if m:
        return "consistency", (
            f"service {m.group('service')} has neither an image nor a build context: `docker compose up` "
            "would refuse to run; the files were read without Compose's consistency checks "
            "(netcontract still refuses a service on an undefined network)"
        )
    return None


def _env_note(path: str) -> str:
    return (
        f"env file {path} does not exist: `docker compose up` would refuse to start; the files were read "
        "without their env_file entries (they set container environment, not networks)"
    )


def _shown(path: str) -> str:
    """A path as the user would write it: relative to the working directory when below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if not relative.startswith("..") else path


def _remedy_args(
    remedies: Sequence[str], positions: Positions, scratch: list[str]
) -> tuple[list[str], list[str]]:
    """(more -f files, more `config` flags) for the remedies chosen so far; `scratch` gets the directory
    made for them (the caller removes it)."""
    files: list[str] = []
    if "env" in remedies:
        if not scratch:
            scratch.append(tempfile.mkdtemp(prefix="netcontract-compose-"))
        path = Path(scratch[0]) / "env-files-reset.yaml"
        lines = ["services:"] + [
            f"  {json.dumps(s)}: {{env_file: !reset null}}" for s in positions.services
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        files.append(str(path))
    return files, (["--no-consistency"] if "consistency" in remedies else [])


def _model(
    run: Run, binary: ComposeBinary, request: Request, positions: Positions
) -> dict[str, Any]:
    try:
        model = json.loads(run.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        model = None
    if not isinstance(model, dict):
        error, _ = condense(run.stderr.decode(errors="replace"))
        raise ComposeError(
            _message(
                f"printed no JSON model{': ' + error if error else ''}", binary, request, positions
            )
        )
    return model


_UNSET = re.compile(r'^The "(?P<name>[^"]+)" variable is not set\. Defaulting to a blank string\.$')


def _warnings(run: Run, positions: Positions) -> list[str]:
    _, said = condense(run.stderr.decode(errors="replace"))
    warnings = []
    for w in said:
        for (
            f
        ) in positions.files:  # Compose names files by absolute path; the report, as the user did
            w = w.replace(os.path.abspath(f), f)
        warnings.append(w)
    unset = sorted({m.group("name") for w in warnings if (m := _UNSET.match(w))})
    notes = [f"variable {v} is not set: compose substitutes an empty string" for v in unset]
    notes += [f"compose: {w}" for w in dict.fromkeys(warnings) if not _UNSET.match(w)]
    return notes


_REWRITES = (
    (
        re.compile(r'^cannot extend service "(?P<s>[^"]+)" in (?P<f>.+?): (?P<rest>.*)$'),
        "{f}: services.{s}.extends: {rest}",
    ),
    (
        re.compile(
            r'^service "(?P<s>[^"]+)" refers to undefined network (?P<n>\S+?): invalid compose project$'
        ),
        "services.{s}.networks: refers to undefined network '{n}'",
    ),
    (
        re.compile(
            r'^service "(?P<s>[^"]+)" depends on undefined service "?(?P<t>[^":]+)"?: invalid compose project$'
        ),
        "services.{s}.depends_on: {t} is not declared or not active (a profile?)",
    ),
)


def _message(error: str, binary: ComposeBinary, request: Request, positions: Positions) -> str:
    """Compose's error as one line: naming a file, with the YAML path where Compose's words allow."""
    for pattern, template in _REWRITES:
        m = pattern.match(error)
        if m:
            fields = {k: (_shown(v) if k == "f" else v) for k, v in m.groupdict().items()}
            error = template.format(**fields)
            break
    named = [f for f in (*positions.files, *request.files) if f != "-"]
    for f in named:  # Compose names files by absolute path; the message, as the user did
        if not os.path.isabs(f):
            error = re.sub(rf"{re.escape(os.path.abspath(f))}(?![\w./-])", f, error)
    mentions = any(f in error for f in named)
    prefix = "" if mentions or not named else f"{named[0]}: "
    return f"{prefix}{error} (read by {binary.name} {binary.version})"

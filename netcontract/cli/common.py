"""What every command shares: output formats, report files, input paths, error-to-exit-code mapping."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click

from netcontract import sanitize
from netcontract.errors import (
    IO_ERRNOS,
    ComposeError,
    ContractError,
    ContractIssue,
    InputError,
    NetcontractError,
)
from netcontract.output_files import write_output
from netcontract.report.formats import ReportFormat
from netcontract.results import ExitCode, Report

if TYPE_CHECKING:
    from netcontract.live.runner import RunOptions

OutputFormat = ReportFormat  # the registry lives in report/formats.py

FOLLOW_SYMLINKS = "--follow-symlinks"
_FOLLOW_KEY = "netcontract.follow_symlinks"
# The command-line parameters that name input files, in every command: an output never replaces one.
_INPUT_PARAMS = ("contract_path", "files", "env_files", "from_compose", "more", "path")


class InputRefused(click.ClickException):
    """An input path that cannot be read at all (missing, a directory, a FIFO or device, a symlink
    loop), refused while the command line is parsed: one line, with the exit code of its input."""

    def __init__(self, line: str, exit_code: ExitCode) -> None:
        super().__init__(line)
        self.exit_code = int(exit_code)  # type: ignore[misc]  # click reads it from the instance

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the one line on stderr, control characters escaped."""
        click.echo(sanitize.line(self.message), err=True)


class InputFile(click.Path):
    """An input file: checked as `yaml_input.read_input` will read it, so a directory, FIFO, device or
    symlink loop is one line with exit 4 for the contract (-c) and 3 for anything else, not a
    usage error and never a hang. A missing file is left to the command (which says so with the same
    exit code, after its own usage checks); the file's contents are checked when it is read."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The path as given; InputRefused when it exists but cannot be read as an input (a missing one passes)."""
        # yaml_input imports yaml: not at start-up (--help, --version)
        from netcontract.yaml_input import check_input_path

        text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
        try:
            check_input_path(text)
        except InputError as exc:
            if not os.path.lexists(text):
                return text
            if param is not None and param.name == "contract_path":
                lines, code = (
                    ContractError(text, [ContractIssue((), str(exc))]).lines(),
                    ExitCode.INVALID_CONTRACT,
                )
            else:
                lines, code = ComposeError(f"{text}: {exc}").lines(), ExitCode.NOT_EVALUATED
            raise InputRefused(lines[0], code) from None
        return text


def _note_follow(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    # Runs while the command line is parsed, before the command reads anything: a new command's inputs.
    from netcontract.yaml_input import forget_inputs

    forget_inputs()
    ctx.meta[_FOLLOW_KEY] = bool(value)
    return bool(value)


def follow_symlinks_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--follow-symlinks: write an output file through a symbolic link (to the link's target)."""
    return click.option(
        FOLLOW_SYMLINKS,
        is_flag=True,
        expose_value=False,
        callback=_note_follow,
        help="Write output files through symbolic links (to the link's target); "
        "without it an output path that is a symlink is refused.",
    )(f)


def follows_symlinks() -> bool:
    """Whether the running command was given --follow-symlinks."""
    ctx = click.get_current_context(
        silent=True
    )  # ctx.meta is one dict for a context and its parents
    return bool(ctx is not None and ctx.meta.get(_FOLLOW_KEY))


def run_inputs() -> list[str]:
    """The input files of the running command, as given on its command line, with the `.env` file
    compose reads beside the first compose file (or in the working directory)."""
    ctx = click.get_current_context(silent=True)
    out: list[str] = []
    if ctx is None:
        return out
    for name in _INPUT_PARAMS:
        value = ctx.params.get(name)
        if isinstance(value, str | os.PathLike):
            out.append(os.fspath(value))
        elif isinstance(value, tuple | list):
            out += [os.fspath(v) for v in value if isinstance(v, str | os.PathLike)]
    compose = [
        v for n in ("files", "from_compose", "more", "path") for v in _as_list(ctx.params.get(n))
    ]
    out.append(str(Path(compose[0]).parent / ".env") if compose else ".env")
    return out


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        return [v for v in value if isinstance(v, str)]
    return []


def write_file(
    path: str,
    text: str,
    *,
    label: str = "",
    overwrite: bool = True,
    make_parents: bool = False,
    inputs: Iterable[str] = (),
) -> Path:
    """Write an output file of the running command: never over one of its inputs, atomically, not
    through a symlink unless --follow-symlinks (output_files.write_output). Raises OutputError."""
    from netcontract.yaml_input import inputs_read

    return write_output(
        path,
        text,
        protect=[*run_inputs(), *inputs],
        protect_ids=inputs_read(),
        follow_symlinks=follows_symlinks(),
        overwrite=overwrite,
        make_parents=make_parents,
        label=label,
        flag=FOLLOW_SYMLINKS,
    )


def write_artifacts(report: Report, paths: dict[str, str | None]) -> list[str]:
    """Write each requested report file; return one error line per file that could not be written."""
    problems = []
    inputs = [report.contract]
    for kind, path in paths.items():
        if not path:
            continue
        try:
            write_file(
                path,
                ReportFormat(kind).renderer()(report),
                label=f"--{kind}",
                make_parents=True,
                inputs=inputs,
            )
        except NetcontractError as exc:
            problems += exc.lines()
    return problems


def fail(lines: list[str], code: ExitCode) -> NoReturn:
    """Print each line on stderr, control characters escaped, and exit with `code`."""
    for line in lines:
        click.echo(sanitize.line(line), err=True)
    sys.exit(int(code))


@contextlib.contextmanager
def user_errors(interrupted: str = "netcontract: interrupted") -> Iterator[None]:
    """The one mapping from errors to exit codes, for every command: each error class carries its
    code (errors.py); the message is its lines on stderr, control characters escaped."""
    try:
        yield
    except NetcontractError as exc:
        fail(exc.lines(), exc.exit_code)
    except KeyboardInterrupt:
        fail([interrupted], ExitCode.INTERRUPTED)


def internal_error(exc: BaseException) -> NoReturn:
    """Last resort for a bug: one line and exit 70, never a traceback and never 1 ("violated").
    An I/O error nobody caught (stdout on a full disk, closed, or a broken pipe) is no bug: exit 3."""
    if isinstance(exc, OSError) and exc.errno in IO_ERRNOS:
        fail([f"netcontract: cannot write output: {exc.strerror or exc}"], ExitCode.NOT_EVALUATED)
    if os.environ.get("NETCONTRACT_DEBUG"):
        raise exc
    what = " ".join(str(exc).split())[:200]
    fail(
        [
            f"netcontract: internal error: {type(exc).__name__}: {what} "
            "(a bug in netcontract: please report it; NETCONTRACT_DEBUG=1 shows the traceback)"
        ],
        ExitCode.INTERNAL,
    )


def finish(
    report: Report,
    fmt: str,
    quiet: bool,
    verbose: bool,
    artifacts: dict[str, str | None],
    code: ExitCode | None = None,
) -> NoReturn:
    """Print the report, write the requested report files, exit with the report's code (or `code`: --fail-on)."""
    colour = use_colour(sys.stdout)
    render = ReportFormat(fmt).renderer(colour=colour, quiet=quiet, verbose=verbose)
    click.echo(render(report), nl=False, color=colour)
    problems = write_artifacts(report, artifacts)
    if problems:
        # the verdict is printed above; a lost artifact must still fail the CI job
        fail(
            problems,
            ExitCode.NOT_EVALUATED if report.exit_code == ExitCode.OK else report.exit_code,
        )
    sys.exit(int(report.exit_code if code is None else code))


def artifact_options(f: Callable[..., None]) -> Callable[..., None]:
    """--junit/--json/--markdown/--html PATH: report files written by the same run (CI artifacts), and
    --follow-symlinks for them."""
    f = follow_symlinks_option(f)
    f = click.option(
        "--html",
        "html_path",
        metavar="PATH",
        type=click.Path(dir_okay=False),
        help="Also write one self-contained HTML page: the matrix, the tier graph, the evidence.",
    )(f)
    f = click.option(
        "--markdown",
        "markdown_path",
        metavar="PATH",
        type=click.Path(dir_okay=False),
        help="Also write a Markdown summary with the violations and the reachability matrix.",
    )(f)
    f = click.option(
        "--json",
        "json_path",
        metavar="PATH",
        type=click.Path(dir_okay=False),
        help="Also write the JSON report (schema: `netcontract schema --report`).",
    )(f)
    return click.option(
        "--junit",
        "junit_path",
        metavar="PATH",
        type=click.Path(dir_okay=False),
        help="Also write a JUnit XML report (one testcase per check).",
    )(f)


def use_colour(stream: object) -> bool:
    """Whether to colour output written to `stream`: --color, else FORCE_COLOR / NO_COLOR, else a terminal."""
    from netcontract.cli.colour import use_colour as wanted

    return wanted(stream)


# live.runner's ExecutorMode values and DEFAULT_PROBE_IMAGE, spelled here so that `--help` does not import the
# runner (tests/unit/test_cli_everyday.py keeps them equal).
EXECUTORS = ("auto", "netns", "exec", "sidecar", "helper")
DEFAULT_PROBE_IMAGE = "busybox:1.36"


def probe_options(f: Callable[..., None]) -> Callable[..., None]:
    """The probing options of `check`, `watch` and `serve`: --probes, --executor, --probe-image, --pull,
    --timeout, --retries, --concurrency (in that order on the command line's help)."""
    for option in reversed(
        [
            click.option(
                "--probes/--no-probes",
                default=True,
                show_default=True,
                help="Run reachability, isolation and DNS probes (--no-probes: structural checks only).",
            ),
            click.option(
                "--executor",
                type=click.Choice(EXECUTORS),
                default="auto",
                show_default=True,
                help="netns: netcontract's own sockets inside each container's network namespace (root, on "
                "the engine's host; nothing of the container runs); exec: the container's own tools; "
                "sidecar: a probe container sharing its network namespace; auto: netns where possible, "
                "else the helper (with --helper-image), else exec where the tools exist, else sidecar; "
                "helper: the netns prober in one short-lived container on the engine's host (not root, "
                "remote engines).",
            ),
            click.option(
                "--probe-image",
                envvar="NETCONTRACT_PROBE_IMAGE",
                default=DEFAULT_PROBE_IMAGE,
                show_default=True,
                show_envvar=True,
                metavar="IMAGE",
                help="Image for sidecar probes; needs sh and busybox-style nc, nslookup, ping.",
            ),
            click.option(
                "--helper-image",
                envvar="NETCONTRACT_HELPER_IMAGE",
                default=None,
                show_envvar=True,
                metavar="IMAGE",
                help="Image for the helper executor: any image with python3 3.11+ (pin it by digest, e.g. "
                "python:3.11-slim@sha256:...). It runs with the host's pid namespace and SYS_ADMIN, "
                "SYS_PTRACE and NET_RAW, no network, a read-only root (docs/security.md). auto uses it "
                "only when given.",
            ),
            click.option(
                "--require-trusted",
                is_flag=True,
                help="Never judge from a container's own tools: auto goes to sidecars instead of exec, and "
                "--executor exec gives ERROR (for CI gates).",
            ),
            click.option(
                "--pull/--no-pull",
                default=True,
                show_default=True,
                help="Pull the probe image when it is not present.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0.05, max=60),
                default=1.0,
                show_default=True,
                metavar="SECONDS",
                help="Per-probe timeout for exec and sidecar (a dropped packet costs this long); "
                "netns calibrates its own window (at least 0.1 s) and uses this for "
                "retries.",
            ),
            click.option(
                "--retries",
                type=click.IntRange(0, 5),
                default=1,
                show_default=True,
                help="Repeat probes whose observation differs from the expectation, doubling the timeout.",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 128),
                default=16,
                show_default=True,
                help="Source containers probed at once.",
            ),
        ]
    ):
        f = option(f)
    return f


def run_options(
    executor: str,
    timeout: float,
    retries: int,
    concurrency: int,
    probe_image: str,
    pull: bool,
    helper_image: str | None = None,
    require_trusted: bool = False,
) -> RunOptions:
    """RunOptions from the options `probe_options` adds."""
    from netcontract.live.runner import ExecutorMode, RunOptions

    if executor == ExecutorMode.HELPER and not helper_image:
        raise click.UsageError(
            "--executor helper needs --helper-image IMAGE (or NETCONTRACT_HELPER_IMAGE)"
        )
    return RunOptions(
        mode=ExecutorMode(executor),
        timeout=timeout,
        retries=retries,
        concurrency=concurrency,
        probe_image=probe_image,
        pull=pull,
        helper_image=helper_image or None,
        require_trusted=require_trusted,
    )

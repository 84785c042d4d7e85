"""Shift-left commands that need no daemon: `lint`, `init`, `scaffold` (and `init --from-live`).

Registered on the main group at the bottom of cli/main.py. Exit codes follow `check`:
0 holds/done · 1 lint found a violation · 2 usage (click's, an existing -o
without --force) · 3 could not evaluate or act: a compose file compose itself
would not read, Docker unreachable for --from-live, scaffold refused (nothing
written) · 4 invalid contract.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Callable
from typing import Any

import click

from netcontract import sanitize
from netcontract.cli.aborted import reports_on_error
from netcontract.cli.colour import colour_option
from netcontract.cli.common import (
    InputFile,
    artifact_options,
    finish,
    follow_symlinks_option,
    user_errors,
    write_file,
)
from netcontract.cli.observe import Duration
from netcontract.errors import OutputExistsError
from netcontract.report import formats

# Every input file: a directory, FIFO, device or symlink loop is one line with exit 4 (-c) or 3.
_FILE = InputFile()


def _maps(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, compose = value.partition("=")
        if not (sep and name.strip() and compose.strip()):
            raise click.BadParameter(
                f"expected CONTRACT_SERVICE=COMPOSE_SERVICE, got {value!r}", param_hint="--map"
            )
        out[name.strip()] = compose.strip()
    return out


_map_option = click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="CONTRACT=COMPOSE",
    help="Read compose service COMPOSE as the contract's service CONTRACT, e.g. "
    "--map dashboard=dashboard-service (repeatable).",
)


def compose_loader_options(f: Callable[..., None]) -> Callable[..., None]:
    """--compose-loader and --compose-bin (or NETCONTRACT_COMPOSE_LOADER / NETCONTRACT_COMPOSE_BIN): which
    loader reads the compose files. The command runs inside `compose.loader.selected(...)`, so its own
    parameters and code are unchanged."""

    @functools.wraps(f)
    def wrapper(*args: Any, compose_loader: str, compose_bin: str | None, **kwargs: Any) -> None:
        from netcontract.compose.loader import selected

        source = click.get_current_context().get_parameter_source("compose_bin")
        origin = (
            "NETCONTRACT_COMPOSE_BIN"
            if source is click.core.ParameterSource.ENVIRONMENT
            else "--compose-bin"
        )
        with selected(compose_loader, compose_bin, origin):
            f(*args, **kwargs)

    wrapper = click.option(
        "--compose-bin",
        metavar="PATH",
        envvar="NETCONTRACT_COMPOSE_BIN",
        help="The Compose binary to read the files with: a docker-compose v2 binary, or `docker` for its "
        "compose plugin. Default: `docker compose`, else docker-compose on PATH, else the one of "
        "netcontract[compose]. [env: NETCONTRACT_COMPOSE_BIN]",
    )(wrapper)
    return click.option(
        "--compose-loader",
        type=click.Choice(["auto", "compose", "builtin"]),
        default="auto",
        show_default=True,
        envvar="NETCONTRACT_COMPOSE_LOADER",
        help="Who reads the compose files: Compose's own loader (`docker compose config`; no daemon), "
        "netcontract's reader (builtin: no include, extends, !reset, !override), or auto: Compose's "
        "when a binary is found. [env: NETCONTRACT_COMPOSE_LOADER]",
    )(wrapper)


@click.command("lint")
@click.option(
    "-c",
    "--contract",
    "contract_path",
    type=_FILE,
    help="Contract YAML file. Default: netcontract.yaml (or .yml, or a dot file) here or in a parent "
    "directory, up to the git root.",
)
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    type=_FILE,
    metavar="COMPOSE_FILE",
    help="Compose file; repeat to merge overrides in order, as `docker compose -f`. Default: "
    "as compose finds them (COMPOSE_FILE, else compose.yaml or docker-compose.yml and "
    "its override file, here or in a parent directory).",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="PROFILE",
    help="Activate services of this compose profile (repeatable; '*' for all).",
)
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    type=_FILE,
    help="Interpolation variables, instead of the .env beside the first file (repeatable).",
)
@click.option("--project", metavar="NAME", help="Compose project name, as `docker compose -p`.")
@_map_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(formats.names(formats.STDOUT["lint"])),
    default="table",
    show_default=True,
    help="Output format on stdout.",
)
@click.option("-q", "--quiet", is_flag=True, help="Show only violations and the summary.")
@click.option("-v", "--verbose", is_flag=True, help="Show every check.")
@compose_loader_options
@artifact_options
@colour_option
def lint_cmd(
    contract_path: str | None,
    files: tuple[str, ...],
    profiles: tuple[str, ...],
    env_files: tuple[str, ...],
    project: str | None,
    maps: tuple[str, ...],
    fmt: str,
    quiet: bool,
    verbose: bool,
    junit_path: str | None,
    json_path: str | None,
    markdown_path: str | None,
    html_path: str | None,
) -> None:
    """Check compose files against the contract before anything runs (no Docker daemon).

    \b
    The files are read by Compose's own loader (`docker compose config`,
    which contacts no daemon) when a Compose binary is found, else by
    netcontract's reader; the report says which. Merges, include, extends,
    !reset/!override, profiles, interpolation, project name, networks,
    aliases, ports: the state compose would create. Then the structural
    rules of `check` run on it, with the same result ids. Each violation
    names the file and line that declare the service.

    \b
    Exit codes:
      0  the files satisfy the contract (skips allowed)
      1  at least one check FAILED
      2  usage error
      3  a compose file cannot be read as compose would read it
      4  the contract file is invalid
    """
    from netcontract.compose.lint import LintOptions, lint
    from netcontract.compose.project import ComposeOptions
    from netcontract.discover import find_contract

    artifacts = {
        "junit": junit_path,
        "json": json_path,
        "markdown": markdown_path,
        "html": html_path,
    }
    source = ", ".join(files) or "compose files"
    with reports_on_error("lint", "", artifacts, project=project, source=source):
        contract_path = contract_path or find_contract()
        options = LintOptions(ComposeOptions(files, profiles, env_files, project), _maps(maps))
    with reports_on_error("lint", contract_path, artifacts, project=project, source=source):
        report = lint(contract_path, options)
    finish(report, fmt, quiet, verbose, artifacts)


@click.command("init")
@compose_loader_options
@click.option(
    "--from-compose",
    "from_compose",
    type=_FILE,
    metavar="FILE",
    help="Draft from this compose file (no daemon).",
)
@click.option(
    "-f",
    "--file",
    "more",
    multiple=True,
    type=_FILE,
    metavar="FILE",
    help="More compose files merged after --from-compose (repeatable).",
)
@click.option("--from-live", is_flag=True, help="Draft from the running stack (Docker Engine API).")
@click.option(
    "--observe",
    "observe_for",
    type=Duration(),
    metavar="DURATION",
    help="With --from-live: watch the stack's flows for this long (e.g. 60s, 10m) first and draft "
    "least privilege from them, as `observe --write` does (root; see docs/observe.md).",
)
@click.option(
    "--project",
    metavar="NAME",
    help="Compose project name (--from-live: needed when the engine runs several).",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="PROFILE",
    help="With --from-compose: activate services of this profile (repeatable).",
)
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    type=_FILE,
    help="With --from-compose: interpolation variables (repeatable).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the draft here (default: stdout); never over an input file.",
)
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
@follow_symlinks_option
def init_cmd(
    from_compose: str | None,
    more: tuple[str, ...],
    from_live: bool,
    observe_for: float | None,
    project: str | None,
    profiles: tuple[str, ...],
    env_files: tuple[str, ...],
    output: str | None,
    force: bool,
) -> None:
    """Write a draft contract describing a stack as it is: tiers from its networks,
    memberships, aliases, declared ports and healthchecks.

    \b
    Guesses (home tier = first network, policy.allow derived from the
    memberships) are marked in YAML comments. The draft passes `lint` or
    `check` against the stack it came from; tighten it from there.

    \b
      netcontract init --from-compose docker-compose.yaml -o contracts/app.yaml
      netcontract init --from-live --project devonboarder
      sudo netcontract init --from-live --project shop --observe 10m -o tight.yaml
    """

    if bool(from_compose) == from_live:
        raise click.UsageError("give exactly one of --from-compose FILE and --from-live")
    if from_live and (more or profiles or env_files):
        raise click.UsageError("-f, --profile and --env-file go with --from-compose")
    if observe_for is not None and not from_live:
        raise click.UsageError(
            "--observe goes with --from-live: flows are watched on the running stack"
        )
    args = _init_args(from_compose, more, from_live, project, profiles)
    if observe_for is not None:
        args += ["--observe", f"{observe_for:g}s"]
    command = shlex.join(["netcontract", "init", *args])
    with user_errors("netcontract: interrupted"):
        if output and os.path.lexists(output) and not force:
            raise OutputExistsError(f"{output} exists: pass --force to overwrite it")
        if observe_for is not None:
            text = _observed_draft(project, observe_for, command)
        else:
            text = _draft(from_compose, more, from_live, project, profiles, env_files, command)
        if not output:
            click.echo(text, nl=False)
            return
        write_file(output, text, label="-o", overwrite=force)
    click.echo(sanitize.line(f"wrote {output}: review the lines marked 'guessed'"), err=True)


def _init_args(
    from_compose: str | None,
    more: tuple[str, ...],
    from_live: bool,
    project: str | None,
    profiles: tuple[str, ...],
) -> list[str]:
    args = ["--from-live"] if from_live else ["--from-compose", str(from_compose)]
    for f in more:
        args += ["-f", f]
    for p in profiles:
        args += ["--profile", p]
    return args + (["--project", project] if project else [])


def _draft(
    from_compose: str | None,
    more: tuple[str, ...],
    from_live: bool,
    project: str | None,
    profiles: tuple[str, ...],
    env_files: tuple[str, ...],
    command: str,
) -> str:
    from netcontract.compose.project import ComposeOptions
    from netcontract.draft.build import check_draft
    from netcontract.draft.sources import draft_from_compose

    if from_live:
        from netcontract.live.init_source import draft_from_live

        text = draft_from_live(project, command)
    else:
        files = (str(from_compose), *more)
        text = draft_from_compose(ComposeOptions(files, profiles, env_files, project), command)
    check_draft(
        text
    )  # loads as `check -c` would load it, or InternalError: never a draft that does not load
    return text


def _observed_draft(project: str | None, seconds: float, command: str) -> str:
    """`init --from-live --observe`: observe's window, then `observe --write`'s draft (draft/observed.py).

    What was observed goes to stderr in one line (and observe's notes, e.g. a short window), so stdout
    holds only the draft."""
    from netcontract.draft.observed import draft_from_observation
    from netcontract.live.observe import observe

    obs = observe(project, seconds)
    inside = sum(1 for f in obs.flows if not f.egress)
    click.echo(
        sanitize.line(
            f"observed project {obs.state.project} for {obs.seconds:.0f} s through {obs.source}: "
            f"{inside} flow{'s' if inside != 1 else ''} in the stack, "
            f"{len(obs.flows) - inside} egress"
        ),
        err=True,
    )
    for note in obs.notes:
        click.echo(sanitize.line(f"note: {note}"), err=True)
    return draft_from_observation(obs, command)


@click.command("scaffold")
@compose_loader_options
@click.option("-c", "--contract", "contract_path", type=_FILE, help="Contract YAML file.")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=_FILE,
    metavar="COMPOSE_FILE",
    help="The compose file to rewrite.",
)
@_map_option
@click.option("--project", metavar="NAME", help="Compose project name, as `docker compose -p`.")
@click.option("--dry-run", is_flag=True, help="Print the unified diff; write nothing.")
@click.option(
    "--unpublish",
    is_flag=True,
    help="Also remove `ports:` from services on internal tiers (published ports bypass them).",
)
@click.option(
    "--restore", is_flag=True, help="Put FILE.backup back, if FILE is still what scaffold wrote."
)
def scaffold_cmd(
    contract_path: str | None,
    path: str,
    maps: tuple[str, ...],
    project: str | None,
    dry_run: bool,
    unpublish: bool,
    restore: bool,
) -> None:
    """Rewrite a compose file's networks, memberships and aliases to match the contract.

    \b
    Nothing else changes: comments, key order, anchors and quoting stay byte
    for byte. FILE.backup is written first and FILE is replaced atomically;
    --restore puts the backup back unless FILE changed since. A contract
    service missing from the file is refused (use --map for a renamed one).
    """
    from netcontract.scaffold.files import restore as restore_file
    from netcontract.scaffold.files import write

    if restore:
        if dry_run or unpublish or maps:
            raise click.UsageError("--restore takes only -f FILE")
        with user_errors():
            backup = restore_file(path)
        click.echo(sanitize.line(f"restored {path} from {backup.name}"), err=True)
        return
    if not contract_path:
        raise click.UsageError("scaffold needs -c CONTRACT (or --restore)")
    from netcontract.contract import load_contract
    from netcontract.scaffold.plan import plan_scaffold

    with user_errors():
        plan = plan_scaffold(
            load_contract(contract_path), path, _maps(maps), unpublish=unpublish, project=project
        )
    for note in plan.notes:
        click.echo(f"note: {sanitize.line(note)}", err=True)
    if not plan.changed:
        click.echo(
            sanitize.line(f"{path} already matches the contract's networks: nothing to change"),
            err=True,
        )
        return
    if dry_run:
        click.echo(
            sanitize.lines_kept(plan.diff()), nl=False
        )  # file content: no bare CR, bidi or escape
        return
    recovered: list[str] = []
    with user_errors():
        backup = write(path, plan.original, plan.text, recovered)
    for note in recovered:
        click.echo(f"note: {sanitize.line(note)}", err=True)
    click.echo(
        sanitize.line(f"scaffolded {path} (original in {backup.name}; undo with --restore)"),
        err=True,
    )

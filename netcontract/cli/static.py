"""Shift-left commands that need no daemon: `lint`, `init`, `scaffold` (and `init --from-live`).

Registered on the main group at the bottom of cli.py. Exit codes follow `check`:
0 holds/done · 1 lint found a violation · 2 usage (click's, an existing -o
without --force) · 3 could not evaluate or act: a compose file compose itself
would not read, Docker unreachable for --from-live, scaffold refused (nothing
written) · 4 invalid contract.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from netcontract.cli.common import artifact_options, finish, user_errors
from netcontract.errors import ContractError, InternalError, OutputError, OutputExistsError
from netcontract.report import formats

_FILE = click.Path(dir_okay=False)


def _maps(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, compose = value.partition("=")
        if not (sep and name.strip() and compose.strip()):
            raise click.BadParameter(f"expected CONTRACT_SERVICE=COMPOSE_SERVICE, got {value!r}", param_hint="--map")
        out[name.strip()] = compose.strip()
    return out


_map_option = click.option(
    "--map", "maps", multiple=True, metavar="CONTRACT=COMPOSE",
    help="Read compose service COMPOSE as the contract's service CONTRACT, e.g. "
         "--map dashboard=dashboard-service (repeatable).",
)


@click.command("lint")
@click.option("-c", "--contract", "contract_path", required=True, type=_FILE, help="Contract YAML file.")
@click.option("-f", "--file", "files", multiple=True, type=_FILE, metavar="COMPOSE_FILE",
              help="Compose file; repeat to merge overrides in order, as `docker compose -f`. Default: "
                   "as compose finds them (COMPOSE_FILE, else compose.yaml or docker-compose.yml and "
                   "its override file, here or in a parent directory).")
@click.option("--profile", "profiles", multiple=True, metavar="PROFILE",
              help="Activate services of this compose profile (repeatable; '*' for all).")
@click.option("--env-file", "env_files", multiple=True, type=_FILE,
              help="Interpolation variables, instead of the .env beside the first file (repeatable).")
@click.option("--project", metavar="NAME", help="Compose project name, as `docker compose -p`.")
@_map_option
@click.option("--format", "fmt", type=click.Choice(formats.names(formats.STDOUT["lint"])), default="table", show_default=True,
              help="Output format on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Show only violations and the summary.")
@click.option("-v", "--verbose", is_flag=True, help="Show every check.")
@artifact_options
def lint_cmd(contract_path: str, files: tuple[str, ...], profiles: tuple[str, ...], env_files: tuple[str, ...],
             project: str | None, maps: tuple[str, ...], fmt: str, quiet: bool, verbose: bool,
             junit_path: str | None, json_path: str | None, markdown_path: str | None) -> None:
    """Check compose files against the contract before anything runs (no Docker daemon).

    \b
    The files are read as `docker compose` reads them (merges, profiles,
    interpolation, project name, networks, aliases, ports) into the state
    compose would create; then the structural rules of `check` run on it,
    with the same result ids. Each violation names the file and service.

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

    options = LintOptions(ComposeOptions(files, profiles, env_files, project), _maps(maps))
    with user_errors():
        report = lint(contract_path, options)
    finish(report, fmt, quiet, verbose, {"junit": junit_path, "json": json_path, "markdown": markdown_path})


@click.command("init")
@click.option("--from-compose", "from_compose", type=_FILE, metavar="FILE",
              help="Draft from this compose file (no daemon).")
@click.option("-f", "--file", "more", multiple=True, type=_FILE, metavar="FILE",
              help="More compose files merged after --from-compose (repeatable).")
@click.option("--from-live", is_flag=True, help="Draft from the running stack (Docker Engine API).")
@click.option("--project", metavar="NAME",
              help="Compose project name (--from-live: needed when the engine runs several).")
@click.option("--profile", "profiles", multiple=True, metavar="PROFILE",
              help="With --from-compose: activate services of this profile (repeatable).")
@click.option("--env-file", "env_files", multiple=True, type=_FILE,
              help="With --from-compose: interpolation variables (repeatable).")
@click.option("-o", "--output", type=_FILE, help="Write the draft here (default: stdout).")
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
def init_cmd(from_compose: str | None, more: tuple[str, ...], from_live: bool, project: str | None,
             profiles: tuple[str, ...], env_files: tuple[str, ...], output: str | None, force: bool) -> None:
    """Write a draft contract describing a stack as it is: tiers from its networks,
    memberships, aliases, declared ports and healthchecks.

    \b
    Guesses (home tier = first network, policy.allow derived from the
    memberships) are marked in YAML comments. The draft passes `lint` or
    `check` against the stack it came from; tighten it from there.

    \b
      netcontract init --from-compose docker-compose.yaml -o contracts/app.yaml
      netcontract init --from-live --project devonboarder
    """

    if bool(from_compose) == from_live:
        raise click.UsageError("give exactly one of --from-compose FILE and --from-live")
    if from_live and (more or profiles or env_files):
        raise click.UsageError("-f, --profile and --env-file go with --from-compose")
    command = shlex.join(["netcontract", "init", *_init_args(from_compose, more, from_live, project, profiles)])
    with user_errors():
        if output and Path(output).exists() and not force:
            raise OutputExistsError(f"{output} exists: pass --force to overwrite it")
        text = _draft(from_compose, more, from_live, project, profiles, env_files, command)
        if not output:
            click.echo(text, nl=False)
            return
        try:
            _write_new(Path(output), text, force)
        except FileExistsError:
            raise OutputExistsError(f"{output} exists: pass --force to overwrite it") from None
        except OSError as exc:
            raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}: review the lines marked 'guessed'", err=True)


def _init_args(from_compose: str | None, more: tuple[str, ...], from_live: bool, project: str | None,
               profiles: tuple[str, ...]) -> list[str]:
    args = ["--from-live"] if from_live else ["--from-compose", str(from_compose)]
    for f in more:
        args += ["-f", f]
    for p in profiles:
        args += ["--profile", p]
    return args + (["--project", project] if project else [])


def _draft(from_compose: str | None, more: tuple[str, ...], from_live: bool, project: str | None,
           profiles: tuple[str, ...], env_files: tuple[str, ...], command: str) -> str:
    import yaml

    from netcontract.compose.project import ComposeOptions
    from netcontract.contract import contract_from_data
    from netcontract.draft.sources import draft_from_compose

    if from_live:
        from netcontract.live.init_source import draft_from_live

        text = draft_from_live(project, command)
    else:
        files = (str(from_compose), *more)
        text = draft_from_compose(ComposeOptions(files, profiles, env_files, project), command)
    try:
        contract_from_data(yaml.safe_load(text), "the draft")
    except ContractError as exc:  # a netcontract bug: never hand out a contract that does not load
        raise InternalError(f"the draft is not a valid contract ({exc.lines()[0]}); please report this") from None
    return text


def _write_new(path: Path, text: str, force: bool) -> None:
    from netcontract.scaffold.files import atomic_write

    if force:
        atomic_write(path, text.encode("utf-8"))
        return
    with path.open("x", encoding="utf-8") as f:
        f.write(text)


@click.command("scaffold")
@click.option("-c", "--contract", "contract_path", type=_FILE, help="Contract YAML file.")
@click.option("-f", "--file", "path", required=True, type=_FILE, metavar="COMPOSE_FILE",
              help="The compose file to rewrite.")
@_map_option
@click.option("--project", metavar="NAME", help="Compose project name, as `docker compose -p`.")
@click.option("--dry-run", is_flag=True, help="Print the unified diff; write nothing.")
@click.option("--unpublish", is_flag=True,
              help="Also remove `ports:` from services on internal tiers (published ports bypass them).")
@click.option("--restore", is_flag=True, help="Put FILE.backup back, if FILE is still what scaffold wrote.")
def scaffold_cmd(contract_path: str | None, path: str, maps: tuple[str, ...], project: str | None,
                 dry_run: bool, unpublish: bool, restore: bool) -> None:
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
        click.echo(f"restored {path} from {backup.name}", err=True)
        return
    if not contract_path:
        raise click.UsageError("scaffold needs -c CONTRACT (or --restore)")
    from netcontract.contract import load_contract
    from netcontract.scaffold.plan import plan_scaffold

    with user_errors():
        plan = plan_scaffold(load_contract(contract_path), path, _maps(maps), unpublish=unpublish, project=project)
    for note in plan.notes:
        click.echo(f"note: {note}", err=True)
    if not plan.changed:
        click.echo(f"{path} already matches the contract's networks: nothing to change", err=True)
        return
    if dry_run:
        click.echo(plan.diff(), nl=False)
        return
    with user_errors():
        backup = write(path, plan.original, plan.text)
    click.echo(f"scaffolded {path} (original in {backup.name}; undo with --restore)", err=True)

"""`observe`: who talked to whom, read from the kernel's connection tracking. Registered in cli/main.py.

Exit codes: 0 observed (and, with -c, no forbidden flow) · 1 with -c, a flow the contract forbids was
seen · 2 usage · 3 the engine or the conntrack table could not be read · 4 invalid contract.
"""

from __future__ import annotations

import re
import shlex
import sys
import threading

import click

from netcontract.cli.common import InputFile, user_errors, write_file
from netcontract.errors import OutputExistsError
from netcontract.results import ExitCode

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """`60`, `60s`, `2m`, `1h`, `500ms` -> seconds; ValueError otherwise."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"expected a duration like 60s, 2m or 1h, got {text!r}")
    seconds = float(m.group(1)) * _UNIT[m.group(2) or "s"]
    if seconds <= 0 or seconds > 7 * 86400:
        raise ValueError(f"a window between 1 ms and 7 days, got {text!r}")
    return seconds


class Duration(click.ParamType[float]):
    """A --for window: 60s, 2m, 1h (a bare number is seconds)."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """Seconds, or a usage error with the expected form."""
        if isinstance(value, float):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command("observe")
@click.option(
    "-c",
    "--contract",
    "contract_path",
    type=InputFile(),
    help="Judge the flows by this contract: forbidden flows (exit 1) and allowed paths never used.",
)
@click.option(
    "--project",
    metavar="NAME",
    help="Compose project (default: the contract's, else the engine's only one).",
)
@click.option(
    "--for",
    "window",
    type=Duration(),
    metavar="DURATION",
    help="How long to watch, e.g. 60s or 5m; without it, until Ctrl-C.",
)
@click.option(
    "--source",
    type=click.Choice(["auto", "proc", "conntrack"]),
    default="auto",
    show_default=True,
    help="Where to read connection tracking: /proc/net/nf_conntrack or `conntrack -L`; auto: proc when "
    "readable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output on stdout.",
)
@click.option(
    "--write",
    "write_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Also write a least-privilege draft contract built from the flows seen (see docs/observe.md).",
)
@click.option("--force", is_flag=True, help="Overwrite --write's file if it exists.")
def observe_cmd(
    contract_path: str | None,
    project: str | None,
    window: float | None,
    source: str,
    fmt: str,
    write_path: str | None,
    force: bool,
) -> None:
    """Watch the flows between the project's containers and say who talked to whom.

    \b
    Reads the kernel's connection tracking table on the engine's host (root) once a
    second and maps every address to a service and tier of the live stack. Flows to
    addresses outside the stack are listed as egress by address, never resolved or
    contacted. Nothing is sent and nothing is changed.

    \b
      netcontract observe --project shop --for 60s
      netcontract observe -c contract.yaml --for 5m       # used against allowed
      netcontract observe --for 10m --write tight.yaml    # a least-privilege draft
    """
    from netcontract.live.observe import observe
    from netcontract.report.flows import render_json, render_text

    stop = threading.Event()
    with user_errors("netcontract: interrupted"):
        if write_path and not force:
            import os

            if os.path.lexists(write_path):
                raise OutputExistsError(f"{write_path} exists: pass --force to overwrite it")
        contract = None
        if contract_path:
            from netcontract.contract import load_contract

            contract = load_contract(contract_path)
            project = project or contract.project
        if window is None and sys.stderr.isatty():
            click.echo("observing until Ctrl-C ...", err=True)
        obs = observe(project, window, source, stop=stop)
        usage = None
        tiers: dict[str, str] = {}
        if contract is not None:
            from netcontract.usage import compare

            usage = compare(contract, obs.flows)
            tiers = contract.network_tier()
        render = render_json if fmt == "json" else render_text
        click.echo(render(obs, usage, tiers), nl=False)
        if write_path:
            from netcontract.draft.observed import draft_from_observation

            args = ["netcontract", "observe", "--project", str(obs.state.project)]
            if window is not None:
                args += ["--for", f"{window:g}s"]
            text = draft_from_observation(obs, shlex.join([*args, "--write", write_path]))
            write_file(
                write_path, text, label="--write", inputs=[contract_path] if contract_path else []
            )
            click.echo(f"draft written to {write_path}", err=True)
    sys.exit(int(ExitCode.VIOLATED if usage is not None and usage.violated else ExitCode.OK))

"""`--color auto|always|never` (also spelled `--colour`), on the group and on the commands that colour
their output, with the conventions CI logs rely on: `always` and `never` win; with `auto` (the default),
a non-empty NO_COLOR turns colour off (https://no-color.org), else a FORCE_COLOR other than "", "0" or
"false" turns it on (CI logs are not terminals but show colour), else colour only on a terminal.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from typing import Any, assert_never

import click

_KEY = "netcontract.colour"


class ColourChoice(enum.Enum):
    """--color: colour always, never, or when the stream is a terminal (NO_COLOR and FORCE_COLOR decide auto)."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"

    def wanted(self, stream: object, environ: Mapping[str, str]) -> bool:
        """Whether output written to `stream` is coloured under this choice and `environ`."""
        match self:
            case ColourChoice.ALWAYS:
                return True
            case ColourChoice.NEVER:
                return False
            case ColourChoice.AUTO:
                if environ.get("NO_COLOR", ""):
                    return False
                if environ.get("FORCE_COLOR", "").strip().lower() not in ("", "0", "false"):
                    return True
                return bool(getattr(stream, "isatty", lambda: False)())
            case _:
                assert_never(self)


def _note(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if (
        value is not None
    ):  # ctx.meta is one dict for a context and its parents: the last one given wins
        ctx.meta[_KEY] = ColourChoice(value)
    return value


def colour_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The --color/--colour option, remembered for the run (not passed to the command)."""
    return click.option(
        "--color",
        "--colour",
        "colour",
        type=click.Choice([c.value for c in ColourChoice]),
        default=None,
        expose_value=False,
        callback=_note,
        metavar="auto|always|never",
        help="Colour the verdicts: auto (default: on a terminal, unless NO_COLOR is set or "
        "FORCE_COLOR is), always, never.",
    )(f)


def use_colour(stream: object, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour what goes to `stream`, from --color, NO_COLOR, FORCE_COLOR and the stream."""
    ctx = click.get_current_context(silent=True)
    choice = ctx.meta.get(_KEY, ColourChoice.AUTO) if ctx is not None else ColourChoice.AUTO
    return bool(choice.wanted(stream, os.environ if environ is None else environ))

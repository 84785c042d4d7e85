"""The README's "your own stack" quick start: every netcontract command it shows parses as written
(the live run of the same workflow is tests/integration/test_observe_live.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from netcontract.cli.main import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _quickstart_commands() -> list[list[str]]:
    text = README.read_text()
    section = text.split("### Your own stack", 1)[1].split("```console", 1)[1].split("```", 1)[0]
    return [
        shlex.split(line.removeprefix("$ "))[1:]
        for line in section.splitlines()
        if line.startswith("$ netcontract ")
    ]


def test_every_quickstart_command_parses() -> None:
    commands = _quickstart_commands()
    assert [c[0] for c in commands] == ["init", "observe", "observe", "lint", "check", "observe"]
    for argv in commands:
        command = main.get_command(click.Context(main), argv[0])
        assert command is not None, argv
        with command.make_context(argv[0], argv[1:], resilient_parsing=False) as ctx:
            assert ctx.params, argv

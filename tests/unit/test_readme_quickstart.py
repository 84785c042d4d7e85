"""The README's "your own stack" quick start: every netcontract command it shows parses as written, and its
compose file is a corpus app (tests/integration/test_quickstart_live.py runs the lines as written)."""

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
    assert [c[0] for c in commands] == ["init", "lint", "observe", "lint", "check", "observe"]
    for argv in commands:
        command = main.get_command(click.Context(main), argv[0])
        assert command is not None, argv
        with command.make_context(argv[0], argv[1:], resilient_parsing=False) as ctx:
            assert ctx.params, argv


def test_the_quickstart_starts_from_a_corpus_file_and_its_static_half_holds(tmp_path: Path) -> None:
    """`init --from-compose` then `lint` (the lines before the stack is started) exit 0 as written."""
    from click.testing import CliRunner

    root = README.parent
    init, lint = _quickstart_commands()[:2]
    compose = Path(init[init.index("--from-compose") + 1])
    assert compose.parts[:3] == ("tests", "assets", "compose-corpus") and (root / compose).is_file()
    runner = CliRunner()
    out = tmp_path / "draft.yaml"
    init = [
        str(out) if a == "draft.yaml" else str(root / a) if a == str(compose) else a for a in init
    ]
    lint = [
        str(out) if a == "draft.yaml" else str(root / a) if a == str(compose) else a for a in lint
    ]
    run = runner.invoke(main, init)
    assert run.exit_code == 0, run.output
    run = runner.invoke(main, lint)
    assert run.exit_code == 0, run.output
    assert "contract holds" in run.output

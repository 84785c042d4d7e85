"""scripts/validate_network_contracts.sh, run against a fake netcontract that exits as told.

This tests the script's own logic (options, modes, exit codes, the log) without
Docker; the real stack is exercised by the integration tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "validate_network_contracts.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

FAKE = """#!/bin/sh
echo "fake netcontract: $*"
echo "fake stderr line" >&2
exit "${FAKE_RC:-0}"
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "fake-netcontract"
    path.parent.mkdir()
    path.write_text(FAKE, encoding="utf-8")
    path.chmod(0o755)
    return path


def _run(
    cwd: Path, fake: Path | None, *args: str, rc: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("NETCONTRACT", "LOG_DIR")}
    full["FAKE_RC"] = str(rc)
    if fake is not None:
        full["NETCONTRACT"] = str(fake)
    full.update(env or {})
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _logs(cwd: Path, sub: str = "logs") -> list[Path]:
    return sorted((cwd / sub).glob("validate_network_contracts_*.log"))


def test_passes_the_default_contract_and_exits_0(tmp_path: Path, fake: Path) -> None:
    done = _run(tmp_path, fake)
    assert done.returncode == 0
    assert "fake netcontract: check -c contracts/devonboarder.yaml" in done.stdout
    assert "network contract holds" in done.stderr


@pytest.mark.parametrize("rc", [1, 2, 3, 4, 7])
def test_strict_passes_every_exit_code_through(tmp_path: Path, fake: Path, rc: int) -> None:
    assert _run(tmp_path, fake, "--mode", "strict", rc=rc).returncode == rc


def test_strict_is_the_default(tmp_path: Path, fake: Path) -> None:
    done = _run(tmp_path, fake, rc=1)
    assert done.returncode == 1
    assert "network contract VIOLATED" in done.stderr


def test_warn_lets_violations_pass_but_still_prints_them(tmp_path: Path, fake: Path) -> None:
    done = _run(tmp_path, fake, "--mode", "warn", rc=1)
    assert done.returncode == 0
    assert "fake netcontract: check" in done.stdout
    assert "VIOLATED" in done.stderr and "--mode warn" in done.stderr


@pytest.mark.parametrize("rc", [2, 3, 4])
def test_warn_still_fails_when_the_contract_could_not_be_checked(
    tmp_path: Path, fake: Path, rc: int
) -> None:
    assert _run(tmp_path, fake, "--mode=warn", rc=rc).returncode == rc


def test_contract_option_and_extra_args_reach_netcontract(tmp_path: Path, fake: Path) -> None:
    done = _run(
        tmp_path, fake, "--contract", "my contract.yaml", "--", "--junit", "reports/junit.xml", "-q"
    )
    assert done.returncode == 0
    assert "fake netcontract: check -c my contract.yaml --junit reports/junit.xml -q" in done.stdout
    done = _run(tmp_path, fake, "-c", "x.yaml")
    assert "check -c x.yaml" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "lenient"], "unknown mode 'lenient'"),
        (["--mode"], "--mode needs a value"),
        (["--contract"], "--contract needs a value"),
        (["--junit", "x.xml"], "unknown argument '--junit'"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(
    tmp_path: Path, fake: Path, args: list[str], message: str
) -> None:
    done = _run(tmp_path, fake, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "fake netcontract" not in done.stdout  # netcontract never ran
    assert not (tmp_path / "logs").exists()


def test_help_exits_0(tmp_path: Path, fake: Path) -> None:
    done = _run(tmp_path, fake, "--help")
    assert done.returncode == 0 and "--mode strict|warn" in done.stdout


def test_log_file_holds_the_whole_run(tmp_path: Path, fake: Path) -> None:
    done = _run(tmp_path, fake, "--mode", "warn", rc=1)
    (log,) = _logs(tmp_path)
    assert re.fullmatch(r"validate_network_contracts_\d{8}T\d{6}Z(_\d+)?\.log", log.name)
    text = log.read_text(encoding="utf-8")
    assert "fake netcontract: check -c contracts/devonboarder.yaml" in text
    assert "fake stderr line" in text  # stderr is logged too
    assert "mode=warn" in text and "VIOLATED" in text and "# exit 0" in text
    assert str(log.relative_to(tmp_path)) in done.stderr


def test_two_runs_in_one_second_keep_both_logs(tmp_path: Path, fake: Path) -> None:
    _run(tmp_path, fake)
    _run(tmp_path, fake, rc=1)
    logs = _logs(tmp_path)
    assert len(logs) == 2
    assert any("# exit 1" in p.read_text(encoding="utf-8") for p in logs)


def test_log_dir_can_be_moved(tmp_path: Path, fake: Path) -> None:
    _run(tmp_path, fake, env={"LOG_DIR": "out/logs"})
    assert len(_logs(tmp_path, "out/logs")) == 1


def test_netcontract_may_be_a_command_line(tmp_path: Path, fake: Path) -> None:
    done = _run(tmp_path, None, env={"NETCONTRACT": f"sh {fake}"})
    assert done.returncode == 0 and "fake netcontract: check" in done.stdout


def test_uses_the_venv_when_netcontract_is_not_set(tmp_path: Path, fake: Path) -> None:
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    shutil.copy(fake, venv / "netcontract")
    done = _run(tmp_path, None, rc=4)
    assert done.returncode == 4 and "fake netcontract: check" in done.stdout


def test_missing_netcontract_is_could_not_evaluate(tmp_path: Path) -> None:
    done = _run(
        tmp_path, None, env={"NETCONTRACT": str(tmp_path / "nope"), "PATH": "/usr/bin:/bin"}
    )
    assert done.returncode == 3
    assert "not found" in done.stderr

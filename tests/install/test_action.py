"""The GitHub Action (action.yml) run step by step as the runner runs a composite action: each step's `run`
under `bash --noprofile --norc -eo pipefail`, its `env` with `${{ inputs.* }}` resolved from the inputs
(defaults from action.yml), GITHUB_ACTION_PATH at a git snapshot of this tree (the action's ref),
GITHUB_PATH, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY as files, RUNNER_TEMP a temporary directory.
The install step really installs netcontract from the action's path; the check step runs it against a dead
engine and an invalid contract here, and (docker) against the live test stack."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, run, user_env
from junitparser import Error, JUnitXml
from stack import PROBE_IMAGE, running_stack

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
CONTRACT = (ROOT / "contracts" / "devonboarder.yaml").read_text()
_EXPR = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")


@dataclass
class Runner:
    """One job's runner state: the files GitHub gives every step, and the PATH steps add to."""

    action_path: Path
    temp: Path
    workspace: Path
    path: list[str]

    def files(self) -> dict[str, Path]:
        return {
            n: self.temp / f"{n.lower()}.txt"
            for n in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_PATH")
        }

    def step(self, step: dict[str, Any], inputs: dict[str, str], extra_env: dict[str, str]) -> int:
        values = {k: v.get("default", "") for k, v in ACTION["inputs"].items()} | inputs
        env = user_env(**extra_env)
        env.update(
            {
                k: _EXPR.sub(lambda m: values[m.group(1)], str(v))
                for k, v in (step.get("env") or {}).items()
            }
        )
        env.update({k: str(v) for k, v in self.files().items()})
        env.update(
            GITHUB_ACTION_PATH=str(self.action_path),
            RUNNER_TEMP=str(self.temp),
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_ACTIONS="true",
            CI="true",
        )
        env["PATH"] = os.pathsep.join([*self.path, env["PATH"]])
        proc = run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=self.workspace,
            env=env,
        )
        self.log = proc.stdout + proc.stderr
        added = self.files()["GITHUB_PATH"]
        if added.exists():  # GITHUB_PATH: prepended to PATH for the steps after this one
            self.path = [*reversed(added.read_text().split()), *self.path]
            added.unlink()
        return proc.returncode

    def outputs(self) -> dict[str, str]:
        f = self.files()["GITHUB_OUTPUT"]
        return dict(line.split("=", 1) for line in f.read_text().splitlines()) if f.exists() else {}

    def summary(self) -> str:
        f = self.files()["GITHUB_STEP_SUMMARY"]
        return f.read_text() if f.exists() else ""


@pytest.fixture(scope="module")
def installed_runner(
    source_repo: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Runner:
    """The install step, once: netcontract from the action's own path into $RUNNER_TEMP, bin on GITHUB_PATH."""
    temp = tmp_path_factory.mktemp("runner-temp")
    r = Runner(source_repo[0], temp, temp, [])
    install, _ = ACTION["runs"]["steps"]
    assert r.step(install, {}, {}) == 0, r.log
    assert r.path == [str(temp / "netcontract-venv" / "bin")]
    assert "netcontract, version 0.1.0" in r.log
    return r


@pytest.fixture
def runner(installed_runner: Runner, tmp_path: Path) -> Iterator[Runner]:
    """A fresh job (workspace, output and summary files) that reuses the installed netcontract."""
    job = Runner(
        installed_runner.action_path,
        tmp_path / "temp",
        tmp_path / "ws",
        list(installed_runner.path),
    )
    job.temp.mkdir()
    job.workspace.mkdir()
    (job.workspace / "contracts").mkdir()
    (job.workspace / "contracts" / "devonboarder.yaml").write_text(CONTRACT)
    (job.workspace / "compose.yaml").write_text((ROOT / "docker-compose.test.yaml").read_text())
    yield job


def _check(r: Runner, inputs: dict[str, str], **env: str) -> int:
    _, check = ACTION["runs"]["steps"]
    return r.step(check, inputs, env)


def test_a_dead_engine_fails_the_step_with_exit_3_and_a_summary(runner: Runner) -> None:
    code = _check(
        runner,
        {"contract": "contracts/devonboarder.yaml"},
        DOCKER_HOST=f"unix://{runner.temp}/no-engine.sock",
    )
    assert code == 3, runner.log
    out = runner.outputs()
    reports = Path(out["reports-dir"])
    assert out["exit-code"] == "3" and reports == runner.workspace / "netcontract-reports"
    assert runner.summary().startswith("## netcontract check: NOT EVALUATED")
    assert "cannot reach the Docker engine" in runner.summary()
    (suite,) = list(JUnitXml.fromfile(str(reports / "junit.xml")))
    assert suite.errors == 1 and any(isinstance(e, Error) for case in suite for e in case.result)
    assert (reports / "report.json").is_file()


def test_an_invalid_contract_is_exit_4_and_lint_runs_first(runner: Runner) -> None:
    (runner.workspace / "bad.yaml").write_text(
        "version: 1\ntiers: {t: {network: n}}\nservices: {a: {tiers: [u]}}\n"
    )
    code = _check(
        runner, {"contract": "bad.yaml", "compose-files": "compose.yaml", "reports-dir": "out/nc"}
    )
    assert code == 4, runner.log
    reports = runner.workspace / "out" / "nc"
    assert runner.outputs() == {"reports-dir": str(reports), "exit-code": "4"}
    summary = runner.summary()
    assert summary.index("## netcontract lint: INVALID CONTRACT") < summary.index(
        "## netcontract check: INVALID"
    )
    assert {p.name for p in reports.iterdir()} == {
        "junit.xml",
        "report.json",
        "summary.md",
        "lint-junit.xml",
        "lint-report.json",
        "lint-summary.md",
    }


@pytest.mark.docker
def test_the_action_checks_the_live_stack(runner: Runner) -> None:
    with running_stack():
        code = _check(
            runner,
            {
                "contract": "contracts/devonboarder.yaml",
                "compose-files": "compose.yaml",
                "executor": "auto",
                "args": "--no-pull --wait 60",
            },
            NETCONTRACT_PROBE_IMAGE=PROBE_IMAGE,
        )
    assert code == 0, runner.log
    assert runner.outputs()["exit-code"] == "0"
    summary = runner.summary()
    assert "## netcontract lint: PASSED" in summary and "## netcontract check: PASSED" in summary
    reports = Path(runner.outputs()["reports-dir"])
    assert (reports / "junit.xml").is_file() and (reports / "report.json").is_file()

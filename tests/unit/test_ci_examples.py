"""The example workflow and the pre-commit hook definition users copy: they must stay usable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _load(rel: str) -> Any:
    return yaml.safe_load((ROOT / rel).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def steps() -> list[dict[str, Any]]:
    workflow = _load(".github/workflows/network-contract.yml")
    assert set(workflow[True]) >= {"pull_request", "push"}  # YAML 1.1 reads the key `on` as True
    (job,) = workflow["jobs"].values()
    result: list[dict[str, Any]] = job["steps"]
    return result


def _index(steps: list[dict[str, Any]], pattern: str) -> int:
    hits = [
        i for i, s in enumerate(steps) if re.search(pattern, s.get("run", "") + s.get("uses", ""))
    ]
    assert len(hits) == 1, pattern
    return hits[0]


def test_workflow_runs_the_steps_in_order(steps: list[dict[str, Any]]) -> None:
    order = [
        _index(steps, r"actions/checkout@"),
        _index(steps, r"actions/setup-python@"),
        _index(steps, r"pip install"),
        _index(steps, r"make up\b"),
        _index(steps, r"netcontract check"),
        _index(steps, r"GITHUB_STEP_SUMMARY"),
        _index(steps, r"actions/upload-artifact@"),
        _index(steps, r"make down\b"),
    ]
    assert order == sorted(order)


def test_check_writes_all_three_reports(steps: list[dict[str, Any]]) -> None:
    run = steps[_index(steps, r"netcontract check")]["run"]
    assert (
        "netcontract check -c contracts/devonboarder.yaml --junit reports/junit.xml "
        "--markdown reports/summary.md --json reports/report.json"
    ) in run
    assert "if" not in steps[_index(steps, r"netcontract check")]  # its exit code gates the job


def test_reporting_and_teardown_run_even_when_the_check_fails(steps: list[dict[str, Any]]) -> None:
    for pattern in (r"GITHUB_STEP_SUMMARY", r"actions/upload-artifact@", r"make down\b"):
        assert steps[_index(steps, pattern)]["if"] == "always()", pattern
    summary = steps[_index(steps, r"GITHUB_STEP_SUMMARY")]["run"]
    assert 'cat reports/summary.md >> "$GITHUB_STEP_SUMMARY"' in summary
    upload = steps[_index(steps, r"actions/upload-artifact@")]
    assert upload["with"]["path"] == "reports/"


def test_the_workflow_contract_exists() -> None:
    assert (ROOT / "contracts" / "devonboarder.yaml").is_file()


def test_pre_commit_hook() -> None:
    (hook,) = _load(".pre-commit-hooks.yaml")
    assert hook["id"] == "netcontract-lint"
    assert hook["entry"] == "netcontract lint"
    assert hook["pass_filenames"] is False
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    # every name Compose reads by default, override files, and the contract names lint finds without -c
    for name in (
        "compose.yaml",
        "compose.yml",
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.override.yaml",
        "deploy/docker-compose.prod.yaml",
        "docker-compose.ci.yml",
        "netcontract.yaml",
        "netcontract.yml",
        ".netcontract.yaml",
        "deploy/.netcontract.yml",
    ):
        assert files.search(name), name
    for name in (
        "README.md",
        "docker-compose.yaml.bak",
        "contracts/devonboarder.json",
        "mycompose.yaml",
        "composer.yaml",
        "netcontract.yaml.orig",
    ):
        assert not files.search(name), name


# -- the release workflow and the action: GitHub's own schemas (vendored by check-jsonschema), then what
# they must do ---------------------------------------------------------------------------------------------


def _schema_check(schema: str, *files: str) -> None:
    import subprocess
    import sys

    exe = str(Path(sys.executable).parent / "check-jsonschema")
    proc = subprocess.run(
        [exe, "--builtin-schema", schema, *(str(ROOT / f) for f in files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_match_githubs_schema() -> None:
    workflows = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.yml")
    )
    assert ".github/workflows/release.yml" in workflows
    _schema_check("vendor.github-workflows", *workflows)
    _schema_check("custom.github-workflows-require-timeout", *workflows)


def test_action_matches_githubs_schema() -> None:
    _schema_check("vendor.github-actions", "action.yml")


def test_release_builds_then_publishes_tags_with_trusted_publishing() -> None:
    wf = _load(".github/workflows/release.yml")
    assert wf[True]["push"]["tags"] == ["v*"]
    assert wf["permissions"] == {"contents": "read"}  # nothing may write by default
    build, publish = wf["jobs"]["build"], wf["jobs"]["publish"]
    runs = "\n".join(s.get("run", "") for s in build["steps"])
    assert (
        "python -m build" in runs and "dist/*.whl" in runs
    )  # built, then installed into a clean venv
    assert publish["needs"] == "build"
    assert publish["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert publish["permissions"] == {"id-token": "write"}  # OIDC for PyPI, and nothing else
    assert publish["environment"]["name"] == "pypi"
    uses = [s.get("uses", "") for s in publish["steps"]]
    assert "pypa/gh-action-pypi-publish@release/v1" in uses
    assert not any("password" in (s.get("with") or {}) for s in publish["steps"])  # no stored token


def test_action_installs_its_own_ref_and_exposes_the_reports() -> None:
    action = _load("action.yml")
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {"contract", "compose-files", "executor", "args", "reports-dir"}
    assert action["outputs"]["reports-dir"]["value"] == "${{ steps.check.outputs.reports-dir }}"
    install, check = action["runs"]["steps"]
    assert "$GITHUB_ACTION_PATH/scripts/action/install.sh" in install["run"]
    assert check["id"] == "check" and "$GITHUB_ACTION_PATH/scripts/action/check.sh" in check["run"]
    for step in (
        install,
        check,
    ):  # inputs reach the scripts as environment variables, never as shell text
        assert "${{" not in step["run"]
    for script in ("install.sh", "check.sh"):
        assert (ROOT / "scripts" / "action" / script).stat().st_mode & 0o100

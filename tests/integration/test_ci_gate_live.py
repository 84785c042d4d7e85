"""The CI gate on the live stack: one run writes JUnit, Markdown and JSON; the validation
script fails a violated stack in strict mode and lets it through in warn mode."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from netcontract.report.schema import REPORT_SCHEMA

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
DATA = "devonboarder_data_tier"


def test_one_run_writes_junit_markdown_and_json(stack, cli, restore, tmp_path: Path) -> None:
    restore("frontend")
    stack.docker("network", "connect", DATA, stack.container("frontend"))
    junit, md, js = (
        tmp_path / "r" / "junit.xml",
        tmp_path / "r" / "summary.md",
        tmp_path / "r" / "report.json",
    )

    run = cli.check("--junit", str(junit), "--markdown", str(md), "--json", str(js), fmt="table")

    assert run.code == 1, run
    report = json.loads(js.read_text())
    failed = {r["id"] for r in report["results"] if r["verdict"] == "FAIL"}
    assert {"networks:frontend", "isolation:frontend->db:5432@data_tier"} <= failed, failed
    jsonschema.validate(report, REPORT_SCHEMA)
    summary = report["summary"]
    assert summary["failed"] > 0

    xml = JUnitXml.fromfile(str(junit))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(report["results"])
    failed = {c.name for c in cases if any(isinstance(r, Failure) for r in c.result)}
    errors = {c.name for c in cases if any(isinstance(r, Error) for r in c.result)}
    skipped = {c.name for c in cases if any(isinstance(r, Skipped) for r in c.result)}
    assert len(failed) == summary["failed"] and len(errors) == summary["errors"]
    assert len(skipped) == summary["skipped"]
    assert {
        "networks:frontend",
        "isolation:frontend->db:5432@data_tier",
        "dns:frontend->database",
    } <= failed

    text = md.read_text()
    assert "FAILED" in text and "isolation:frontend->db:5432@data_tier" in text
    assert "DIFFERS" in text  # the reachability matrix marks the frontend row


def _validate(mode: str, log_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NETCONTRACT": str(REPO / ".venv" / "bin" / "netcontract"),
        "LOG_DIR": str(log_dir),
        "NETCONTRACT_PROBE_IMAGE": "netcontract-test/probe:local",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [
            "bash",
            str(REPO / "scripts" / "validate_network_contracts.sh"),
            "--mode",
            mode,
            "--",
            "--no-pull",
            "-q",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_validation_script_strict_fails_and_warn_passes_a_violated_stack(
    stack, restore, tmp_path: Path
) -> None:
    restore("frontend")
    stack.docker("network", "connect", DATA, stack.container("frontend"))

    strict = _validate("strict", tmp_path / "logs")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "contract VIOLATED" in strict.stdout
    warn = _validate("warn", tmp_path / "logs")
    assert warn.returncode == 0, warn.stdout + warn.stderr
    assert "contract VIOLATED" in warn.stdout

    logs = sorted((tmp_path / "logs").glob("validate_network_contracts_*.log"))
    assert len(logs) == 2
    assert all("networks:frontend" in log.read_text() for log in logs)


def test_validation_script_passes_the_healthy_stack(stack, tmp_path: Path) -> None:
    ok = _validate("strict", tmp_path / "logs")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "contract holds" in ok.stdout
    assert "0 errors, 0 skipped" in ok.stdout and " 0 checks" not in ok.stdout

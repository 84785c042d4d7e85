"""A report on every exit: when check or lint stops before any verdict (dead engine, invalid contract, no
contract found), the --junit/--json/--markdown files asked for are still written and say why; the exit
code and stderr are the error's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from junitparser import Error, JUnitXml

from netcontract.cli.aborted import aborted_report
from netcontract.cli.main import main
from netcontract.errors import ContractError, ContractIssue, EngineError
from netcontract.report import json_report, junit, markdown
from netcontract.report.schema import REPORT_SCHEMA
from netcontract.results import ExitCode

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")
VALIDATOR = Draft202012Validator(REPORT_SCHEMA)
BAD_CONTRACT = "version: 1\ntiers: {t: {network: n}}\nservices: {a: {tiers: [u]}}\n"


def _artifacts(tmp_path: Path) -> list[str]:
    return [
        "--junit",
        str(tmp_path / "r" / "junit.xml"),
        "--json",
        str(tmp_path / "r" / "report.json"),
        "--markdown",
        str(tmp_path / "r" / "summary.md"),
    ]


def _read(tmp_path: Path) -> tuple[dict[str, Any], JUnitXml, str]:
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    VALIDATOR.validate(data)
    xml = JUnitXml.fromfile(str(tmp_path / "r" / "junit.xml"))
    return data, xml, (tmp_path / "r" / "summary.md").read_text()


def _junit_error(xml: JUnitXml) -> Error:
    (suite,) = list(xml)
    (case,) = list(suite)
    (err,) = [e for e in case.result if isinstance(e, Error)]
    assert suite.errors == 1 and suite.tests == 1 and suite.failures == 0
    return err


# -- the renderers ------------------------------------------------------------------------------------


def test_an_aborted_report_renders_why_in_every_format() -> None:
    exc = ContractError(
        "c.yaml",
        [
            ContractIssue(("services", "a", "tiers", 0), "unknown tier 'u'"),
            ContractIssue(("policy",), "second | problem"),
        ],
    )
    report = aborted_report("check", "c.yaml", exc)
    assert report.exit_code is ExitCode.INVALID_CONTRACT and report.results == ()

    data = json.loads(json_report.render(report))
    VALIDATOR.validate(data)
    assert data["exit_code"] == 4 and data["results"] == []
    assert data["error"] == {
        "exit_code": 4,
        "type": "ContractError",
        "message": "c.yaml: services.a.tiers[0]: unknown tier 'u'",
        "lines": [
            "c.yaml: services.a.tiers[0]: unknown tier 'u'",
            "c.yaml: policy: second | problem",
        ],
    }

    xml = JUnitXml.fromstring(junit.render(report))
    err = _junit_error(xml)
    assert (
        err.type == "ContractError"
        and err.message == "c.yaml: services.a.tiers[0]: unknown tier 'u'"
    )
    assert "exit code: 4" in (err.text or "")

    md = markdown.render(report)
    assert md.startswith("## netcontract check: INVALID CONTRACT\n")
    assert "### Why nothing was checked (exit 4)" in md
    assert "second \\| problem" in md  # escaped like every other value


def test_a_report_without_verdicts_needs_its_error_to_validate() -> None:
    data = json.loads(
        json_report.render(aborted_report("check", "c.yaml", EngineError("no engine")))
    )
    VALIDATOR.validate(data)
    assert data["exit_code"] == 3 and data["error"]["type"] == "EngineError"
    data["exit_code"] = 4
    del data["error"]
    with pytest.raises(Exception, match="'error' is a required property"):
        VALIDATOR.validate(data)


# -- the command line -----------------------------------------------------------------------------------


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_dead_engine_exit_3_still_writes_every_report(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    code, out, err = invoke("check", "-c", CONTRACT, *_artifacts(tmp_path), env=env)
    assert code == 3 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(
        "netcontract: cannot reach the Docker engine"
    )
    data, xml, md = _read(tmp_path)
    assert data["exit_code"] == 3 and data["error"]["type"] == "EngineError"
    assert data["error"]["message"] == err.strip() and data["contract"] == CONTRACT
    assert data["project"] is None and data["summary"] == {
        "passed": 0,
        "failed": 0,
        "errors": 0,
        "skipped": 0,
    }
    assert _junit_error(xml).message == err.strip()
    assert md.startswith("## netcontract check: NOT EVALUATED")


def test_invalid_contract_exit_4_still_writes_every_report(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text(BAD_CONTRACT)
    code, out, err = invoke("check", "-c", str(bad), *_artifacts(tmp_path))
    assert code == 4 and out == ""
    assert err == f"{bad}:3:24: services.a.tiers[0]: unknown tier 'u'\n"  # unchanged by the reports
    data, xml, md = _read(tmp_path)
    assert data["exit_code"] == 4 and data["error"]["lines"] == [err.strip()]
    assert _junit_error(xml).type == "ContractError"
    assert "INVALID CONTRACT" in md


def test_lint_writes_its_reports_on_an_invalid_contract(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text(BAD_CONTRACT)
    compose = tmp_path / "compose.yaml"
    compose.write_text("services: {a: {image: x}}\n")
    code, _, _ = invoke(
        "lint",
        "-c",
        str(bad),
        "-f",
        str(compose),
        "--compose-loader",
        "builtin",
        *_artifacts(tmp_path),
    )
    assert code == 4
    data, _, md = _read(tmp_path)
    assert data["command"] == "lint" and data["exit_code"] == 4 and data["source"] == str(compose)
    assert md.startswith("## netcontract lint: INVALID CONTRACT")


def test_no_contract_found_exit_2_writes_the_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("check", *_artifacts(tmp_path))
    assert code == 2
    assert err.startswith("netcontract: no contract: -c not given and no netcontract.yaml")
    data, _, md = _read(tmp_path)
    assert (
        data["exit_code"] == 2
        and data["error"]["type"] == "NoContractError"
        and data["contract"] == ""
    )
    assert "USAGE ERROR" in md


def test_without_report_options_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = invoke("check", "-c", CONTRACT, env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert code == 3 and list(tmp_path.iterdir()) == []


def test_the_installed_command_with_a_dead_engine(tmp_path: Path) -> None:
    """The real process, as CI runs it: DOCKER_HOST names a socket path that does not exist."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/missing/docker.sock", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "netcontract", "check", "-c", CONTRACT, *_artifacts(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    data, xml, _ = _read(tmp_path)
    assert data["error"]["message"] == proc.stderr.strip()
    assert _junit_error(xml).type == "EngineError"

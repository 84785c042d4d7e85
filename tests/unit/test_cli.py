"""The check and schema commands without a daemon: exit codes, one-line errors, formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract.cli.common import OutputFormat
from netcontract.cli.main import main
from netcontract.results import Report, Result, Verdict

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_output_format_is_exhaustive() -> None:
    report = Report("c.yaml", (Result("network:t", "network", "t", Verdict.PASS, "x", "x"),))
    for fmt in OutputFormat:
        assert fmt.renderer(colour=False, quiet=False, verbose=False)(report)


def test_invalid_contract_exits_4_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("version: 1\ntiers: {t: {network: n}}\nservices: {a: {tiers: [u]}}\n")
    code, out, err = invoke("check", "-c", str(bad))
    assert code == 4 and out == ""
    assert err == f"{bad}:3:24: services.a.tiers[0]: unknown tier 'u'\n"


def test_stopped_daemon_exits_3_with_one_line(tmp_path: Path) -> None:
    code, out, err = invoke(
        "check", "-c", CONTRACT, env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    )
    assert code == 3 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(
        "netcontract: cannot reach the Docker engine"
    )
    assert "Traceback" not in err


def test_no_project_is_a_usage_error(tmp_path: Path) -> None:
    c = tmp_path / "c.yaml"
    c.write_text("version: 1\ntiers: {t: {network: n}}\nservices: {a: {tiers: [t]}}\n")
    code, _, err = invoke("check", "-c", str(c))
    assert code == 2 and "no compose project" in err


@pytest.mark.parametrize("option", [["--timeout", "0"], ["--executor", "ssh"], ["--format", "xml"]])
def test_bad_options_are_click_usage_errors(option: list[str]) -> None:
    assert invoke("check", "-c", CONTRACT, *option)[0] == 2


def test_schema_prints_json_schemas() -> None:
    code, out, _ = invoke("schema")
    assert code == 0 and json.loads(out)["title"] == "Contract"
    code, out, _ = invoke("schema", "--report")
    assert code == 0 and json.loads(out)["title"] == "netcontract report"


def test_help_teaches_exit_codes_and_executors() -> None:
    code, out, _ = invoke("check", "--help")
    assert code == 0
    for text in (
        "Exit codes:",
        "--executor",
        "--probe-image",
        "NETCONTRACT_PROBE_IMAGE",
        "--junit",
        "--wait",
    ):
        assert text in out


def test_every_error_class_has_one_exit_code() -> None:
    """Errors carry their exit code; the CLI maps every one through cli.common.user_errors."""
    from netcontract import errors
    from netcontract.results import ExitCode

    expected = {
        errors.ContractError: ExitCode.INVALID_CONTRACT,
        errors.UsageError: ExitCode.USAGE,
        errors.NoProjectError: ExitCode.USAGE,
        errors.NoContractError: ExitCode.USAGE,
        errors.ProjectNeededError: ExitCode.USAGE,
        errors.MapError: ExitCode.USAGE,
        errors.OutputExistsError: ExitCode.USAGE,
        errors.EngineError: ExitCode.NOT_EVALUATED,
        errors.NotReadyError: ExitCode.NOT_EVALUATED,
        errors.ComposeError: ExitCode.NOT_EVALUATED,
        errors.ScaffoldError: ExitCode.NOT_EVALUATED,
        errors.OutputError: ExitCode.NOT_EVALUATED,
        errors.NoStackError: ExitCode.NOT_EVALUATED,
        errors.InternalError: ExitCode.INTERNAL,
    }
    for cls, code in expected.items():
        assert cls.exit_code is code, cls.__name__
    declared = {
        c
        for c in vars(errors).values()
        if isinstance(c, type)
        and issubclass(c, errors.NetcontractError)
        and c is not errors.NetcontractError
    }
    assert declared - {errors.InputError} == set(expected)


def test_an_unexpected_exception_is_one_line_and_exit_70(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from netcontract.cli import main as cli_main

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something\nnobody expected")

    monkeypatch.delenv("NETCONTRACT_DEBUG", raising=False)
    monkeypatch.setattr("netcontract.contract.json_schema", boom)
    result = CliRunner().invoke(cli_main.main, ["schema"])
    assert result.exit_code == 70
    assert result.output.strip().count("\n") == 0
    assert "internal error: RuntimeError: something nobody expected" in result.output

"""`netcontract graph`: exit codes and outputs, with the live check replaced by a fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract.cli.main import main
from netcontract.errors import EngineError, NoProjectError
from netcontract.live.checker import CheckOptions
from netcontract.report.graph import RED
from netcontract.results import Report, Result, Verdict

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["graph", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_mermaid_on_stdout_by_default() -> None:
    code, out, _ = _run("-c", CONTRACT)
    assert code == 0
    assert out.startswith("flowchart LR\n")


def test_dot_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "tiers.dot"
    code, out, _ = _run("-c", CONTRACT, "--format", "dot", "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8").startswith('digraph "netcontract: devonboarder" {')


def test_unwritable_output_exits_3_as_in_every_command(tmp_path: Path) -> None:
    code, _, err = _run("-c", CONTRACT, "-o", str(tmp_path / "missing-dir" / "x.mmd"))
    assert code == 3 and "cannot write" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_format_is_a_usage_error() -> None:
    code, _, _ = _run("-c", CONTRACT, "--format", "png")
    assert code == 2


def test_invalid_contract_exits_4_with_one_line_per_issue(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\ntiers: {a: {network: n}}\nservices:\n  x: {tiers: [b]}\n  y: {tiers: [c]}\n",
        encoding="utf-8",
    )
    code, out, err = _run("-c", str(bad))
    assert code == 4 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines == [
        f"{bad}:4:15: services.x.tiers[0]: unknown tier 'b'",
        f"{bad}:5:15: services.y.tiers[0]: unknown tier 'c'",
    ]


def _fake_check(report: Report | Exception) -> object:
    def fake(path: str, options: CheckOptions | None = None) -> Report:
        assert options is not None and options.project == "other"
        if isinstance(report, Exception):
            raise report
        return report

    return fake


def test_live_draws_failures_red(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = Result(
        "isolation:frontend->db:5432",
        "isolation",
        "frontend->db",
        Verdict.FAIL,
        "blocked",
        "ok",
        src="frontend",
        dst="db",
    )
    good = Result(
        "reach:backend->db:5432@data_tier",
        "reach",
        "backend->db",
        Verdict.PASS,
        "ok",
        "ok",
        src="backend",
        dst="db",
    )
    monkeypatch.setattr(
        "netcontract.live.checker.check",
        _fake_check(Report(CONTRACT, (bad, good), project="other")),
    )
    code, out, err = _run("-c", CONTRACT, "--live", "--project", "other")
    assert code == 0
    assert 'svc_frontend ==>|"isolation"| svc_db' in out
    assert "svc_backend ==>" not in out
    assert RED in out
    assert "contract VIOLATED" in err


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (EngineError("cannot connect to the Docker daemon"), 3),
        (NoProjectError("no compose project"), 2),
    ],
)
def test_live_errors_map_to_exit_codes(
    monkeypatch: pytest.MonkeyPatch, error: Exception, code: int
) -> None:
    monkeypatch.setattr("netcontract.live.checker.check", _fake_check(error))
    got, out, err = _run("-c", CONTRACT, "--live", "--project", "other")
    assert got == code and out == ""
    assert err.strip() == f"netcontract: {error}"

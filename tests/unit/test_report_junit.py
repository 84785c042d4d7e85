"""The JUnit report, read back with junitparser as a CI dashboard would read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite
from sample_reports import awkward, holds, not_evaluated, violated

from netcontract.report import junit
from netcontract.results import Report, Verdict


def _suite(report: Report, tmp_path: Path) -> TestSuite:
    path = tmp_path / "junit.xml"
    path.write_text(junit.render(report), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite: TestSuite = suites[0]
    return suite


@pytest.mark.parametrize("make", [violated, holds, not_evaluated, awkward])
def test_counts_match_the_summary(make: Callable[[], Report], tmp_path: Path) -> None:
    report = make()
    suite = _suite(report, tmp_path)
    s = report.summary
    assert suite.name == "netcontract"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (
        s.total,
        s.failed,
        s.errors,
        s.skipped,
    )


def test_one_testcase_per_result_named_by_stable_id(tmp_path: Path) -> None:
    report = violated()
    cases = list(_suite(report, tmp_path))
    assert [c.name for c in cases] == [r.id for r in report.results]
    assert [c.classname for c in cases] == [f"netcontract.{r.kind}" for r in report.results]
    assert "reach:backend->db:5432@data_tier" in [c.name for c in cases]
    assert "dns:backend->db.devonboarder.internal" in [c.name for c in cases]
    assert "network:data_tier" in [c.name for c in cases]


def test_each_verdict_maps_to_its_junit_element(tmp_path: Path) -> None:
    report = violated()
    by_name = {c.name: c for c in _suite(report, tmp_path)}
    for r in report.results:
        case = by_name[r.id]
        kinds = [type(x) for x in case.result]
        expected = {
            Verdict.PASS: [],
            Verdict.FAIL: [Failure],
            Verdict.ERROR: [Error],
            Verdict.SKIP: [Skipped],
        }
        assert kinds == expected[r.verdict], r.id
        assert case.time == pytest.approx(r.duration, abs=0.001)


def test_failure_carries_expected_actual_and_why(tmp_path: Path) -> None:
    case = {c.name: c for c in _suite(violated(), tmp_path)}[
        "isolation:frontend->db:5432@data_tier"
    ]
    (failure,) = case.result
    assert "blocked" in failure.message and "ok" in failure.message
    assert "shares devonboarder_data_tier" in failure.message
    assert "expected:" in failure.text and "actual:" in failure.text and "why:" in failure.text


def test_error_and_skip_carry_their_reason(tmp_path: Path) -> None:
    by_name = {c.name: c for c in _suite(violated(), tmp_path)}
    (error,) = by_name["isolation:traefik->db:5432@data_tier"].result
    assert "restarting" in error.message
    (skipped,) = by_name["isolation:discord-integration->db:5432@data_tier"].result
    assert skipped.message == "discord-integration has no running container"


def test_probe_output_goes_to_system_out(tmp_path: Path) -> None:
    by_name = {c.name: c for c in _suite(violated(), tmp_path)}
    assert by_name["dns:frontend->db.devonboarder.internal"].system_out == (
        "getent hosts db.devonboarder.internal\n172.20.2.3"
    )
    assert by_name["network:auth_tier"].system_out is None


def test_control_characters_never_make_invalid_xml(tmp_path: Path) -> None:
    (case,) = list(_suite(awkward(), tmp_path))
    assert case.name == "alias:db@data_tier:db|x"
    assert (
        "red" in case.system_out and "\x1b" not in case.system_out and "\x00" not in case.system_out
    )
    (failure,) = case.result
    assert "a | b\nsecond line" in failure.message  # newline survives in the attribute


def test_suite_properties_name_the_contract_and_project(tmp_path: Path) -> None:
    suite = _suite(violated(), tmp_path)
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert props["contract"] == "contracts/devonboarder.yaml"
    assert props["project"] == "devonboarder"
    assert props["exit_code"] == "1"
    assert props["note.0"] == "probe image pulled"


def test_empty_report_is_a_valid_empty_suite(tmp_path: Path) -> None:
    suite = _suite(Report("c.yaml", ()), tmp_path)
    assert suite.tests == 0 and list(suite) == []

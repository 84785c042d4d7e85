"""The report JSON schema describes exactly what json_report emits, and tolerates additions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from sample_reports import awkward, holds, measured, not_evaluated, violated

from netcontract.report import json_report
from netcontract.report.schema import REPORT_SCHEMA, render_schema
from netcontract.results import Report

VALIDATOR = Draft202012Validator(REPORT_SCHEMA)


def _emitted(report: Report) -> Any:
    return json.loads(json_report.render(report))


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(REPORT_SCHEMA)
    assert REPORT_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    "report", [violated(), holds(), not_evaluated(), awkward(), measured(), Report("c.yaml", ())]
)
def test_json_report_validates(report: Report) -> None:
    VALIDATOR.validate(_emitted(report))


# Emitted only when there is something to say (check --baseline, a live check, a netns figure).
WHEN_PRESENT = {"host", "startup", "comparison"}
RESULT_WHEN_PRESENT = {"latency_ms", "latency_source"}


def test_every_emitted_key_is_described_and_required() -> None:
    data = _emitted(violated())
    assert set(data) == set(REPORT_SCHEMA["properties"]) - WHEN_PRESENT - {
        "error"
    }  # error: only when no verdict
    assert set(_emitted(measured())) == set(REPORT_SCHEMA["properties"]) - {"error"}
    # added in 0.2 (engine) and since: old reports must still validate
    assert (
        set(REPORT_SCHEMA["required"])
        == set(REPORT_SCHEMA["properties"]) - {"engine", "error"} - WHEN_PRESENT
    )
    summary = REPORT_SCHEMA["properties"]["summary"]
    assert set(data["summary"]) == set(summary["properties"]) == set(summary["required"])
    result = REPORT_SCHEMA["$defs"]["result"]
    added_since_v1 = {
        "executor",
        "containers",
    } | RESULT_WHEN_PRESENT  # required never: reports of 0.1 must still validate
    for r in data["results"]:
        assert set(r) == set(result["properties"]) - RESULT_WHEN_PRESENT
        assert set(result["required"]) == set(result["properties"]) - added_since_v1
    timed = [r for r in _emitted(measured())["results"] if "latency_ms" in r]
    assert timed and all(set(r) == set(result["properties"]) for r in timed)


def _objects(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _objects(value)


def test_every_object_admits_new_fields() -> None:
    objects = list(_objects(REPORT_SCHEMA))
    # report, summary, result, error; startup; comparison with its thresholds, changes, latency and startup rows
    assert len(objects) == 10
    assert all(o["additionalProperties"] is True for o in objects)
    data = _emitted(violated())
    data["added_later"] = {"x": 1}
    data["summary"]["flaky"] = 0
    data["results"][0]["port"] = 5432
    VALIDATOR.validate(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("results", 0, "verdict"), "MAYBE"),
        (("results", 0, "attempts"), -1),
        (("summary", "failed"), "4"),
        (("exit_code",), 4),
        (("version",), 2),
        (("project",), 7),
    ],
)
def test_wrong_values_are_rejected(path: tuple[Any, ...], value: Any) -> None:
    data = _emitted(violated())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(data)


def test_missing_fields_are_rejected() -> None:
    data = _emitted(violated())
    del data["results"][0]["id"]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(data)


def test_render_schema_round_trips() -> None:
    assert json.loads(render_schema()) == REPORT_SCHEMA

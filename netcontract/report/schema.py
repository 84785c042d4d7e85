"""JSON Schema (draft 2020-12) of the JSON report that `json_report.render` emits.

Every object admits additional properties: the report may gain fields in a
later version without breaking anyone's validator. Fields are never removed
or renamed within a report version.
"""

from __future__ import annotations

import json
from typing import Any

from netcontract.report.json_report import REPORT_VERSION
from netcontract.results import ExitCode, Verdict

_COUNT = {"type": "integer", "minimum": 0}
_VERDICT_CODES = (ExitCode.OK, ExitCode.VIOLATED, ExitCode.NOT_EVALUATED, ExitCode.INTERRUPTED)
_SECONDS = {"type": "number", "minimum": 0}


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


_RESULT: dict[str, Any] = {
    "type": "object",
    "description": "One check's outcome.",
    "additionalProperties": True,
    "required": [
        "id", "kind", "subject", "verdict", "expected", "actual", "reason",
        "output", "duration", "attempts", "src", "dst", "tier",
    ],
    "properties": {
        "id": {"type": "string", "minLength": 1,
               "description": "Stable id, e.g. reach:backend->db:5432@data_tier; CI history keys on it."},
        "kind": _text("Check kind: network, running, networks, alias, foreign, exposure, alias-unique, "
                      "dns, reach, isolation, egress, ..."),
        "subject": _text("What the check is about: a tier, a service, service@tier, or a pair."),
        "verdict": {"enum": [v.value for v in Verdict],
                    "description": "ERROR means the check could not be made; it is never a pass."},
        "expected": _text("What the contract expects."),
        "actual": _text("What was observed."),
        "reason": _text("Why the verdict is not PASS; may be empty."),
        "output": _text("Raw probe output; may be empty."),
        "duration": {**_SECONDS, "description": "Seconds spent on this check."},
        "attempts": {**_COUNT, "description": "Probe attempts; 0 for structural checks."},
        "src": _text("Probe source service; empty for structural checks."),
        "dst": _text("Probe target service, or the name or canary probed; may be empty."),
        "tier": _text("Tier key the check is about; may be empty."),
        "executor": _text("Probes: netns (netcontract's own sockets in the source's network namespace), exec "
                          "(the container's own tools) or sidecar (a probe container); empty for structural "
                          "checks. Added in netcontract 0.2; absent from older reports."),
        "containers": {"type": "array", "items": {"type": "string"},
                       "description": "Names of the containers the result is about: the intruders of a foreign, "
                                      "namespace or host-network result, the probe source and every container "
                                      "sharing its network namespace; may be empty. Added after "
                                      "netcontract 0.2; absent from older reports."},
    },
}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "netcontract report",
    "description": "Output of `netcontract check --format json` (and `--json PATH`).",
    "type": "object",
    "additionalProperties": True,
    "required": [
        "version", "contract", "project", "source", "command", "exit_code",
        "duration", "summary", "notes", "results",
    ],
    "properties": {
        "version": {"const": REPORT_VERSION, "description": "Report format version."},
        "contract": _text("Path of the contract file checked."),
        "project": {"type": ["string", "null"], "description": "Compose project name, if known."},
        "source": _text('"live", or the compose files a static state was read from.'),
        "command": _text("check or lint."),
        "exit_code": {"enum": [int(c) for c in ExitCode if c is not ExitCode.INTERRUPTED],
                      "description": "0 holds, 1 violated, 3 could not evaluate; a report written when the run "
                                     "stopped before any verdict (see `error`) has that error's code: 2 usage, "
                                     "3 could not evaluate, 4 invalid contract, 70 internal error."},
        "duration": {**_SECONDS, "description": "Seconds the whole run took."},
        "summary": {
            "type": "object",
            "additionalProperties": True,
            "required": ["passed", "failed", "errors", "skipped"],
            "properties": {"passed": _COUNT, "failed": _COUNT, "errors": _COUNT, "skipped": _COUNT},
        },
        "notes": {"type": "array", "items": {"type": "string"}},
        "engine": _text("The Docker engine and API version a live check ran against; empty for lint. "
                        "Added in netcontract 0.2."),
        "results": {"type": "array", "items": {"$ref": "#/$defs/result"}},
        "error": {
            "type": "object",
            "description": "Present only when the run stopped before any verdict (Docker unreachable, stack "
                           "not ready, invalid contract, ...): then `results` is empty and `exit_code` is this "
                           "error's. Added in netcontract 0.2.",
            "additionalProperties": True,
            "required": ["exit_code", "type", "message", "lines"],
            "properties": {
                "exit_code": {"type": "integer", "description": "The exit code the run ended with."},
                "type": _text("The error's kind: EngineError, ContractError, NotReadyError, UsageError, ..."),
                "message": _text("The first line netcontract printed on stderr."),
                "lines": {"type": "array", "items": {"type": "string"},
                          "description": "Every line printed on stderr (one per contract problem)."},
            },
        },
    },
    # exit codes that make no verdict come only with the error that says why
    "if": {"required": ["exit_code"],
           "properties": {"exit_code": {"enum": [int(c) for c in ExitCode if c not in _VERDICT_CODES]}}},
    "then": {"required": ["error"]},
    "$defs": {"result": _RESULT},
}


def render_schema() -> str:
    """The JSON report's schema, as `netcontract schema --report` prints it."""
    return json.dumps(REPORT_SCHEMA, indent=2) + "\n"

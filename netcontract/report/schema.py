"""JSON Schema (draft 2020-12) of the JSON report that `json_report.render` emits.

Every object admits additional properties: the report may gain fields in a
later version without breaking anyone's validator. Fields are never removed
or renamed within a report version.
"""

from __future__ import annotations

import json
from typing import Any

from netcontract.probe.observation import LATENCY_SOURCES
from netcontract.report.json_report import REPORT_VERSION
from netcontract.results import ExitCode, Verdict

_PAIRS = [
    (a, b) for i, a in enumerate(sorted(LATENCY_SOURCES)) for b in sorted(LATENCY_SOURCES)[i + 1 :]
]
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
        "id",
        "kind",
        "subject",
        "verdict",
        "expected",
        "actual",
        "reason",
        "output",
        "duration",
        "attempts",
        "src",
        "dst",
        "tier",
    ],
    "properties": {
        "id": {
            "type": "string",
            "minLength": 1,
            "description": "Stable id, e.g. reach:backend->db:5432@data_tier; CI history keys on it.",
        },
        "kind": _text(
            "Check kind: network, running, networks, alias, foreign, exposure, alias-unique, "
            "dns, reach, isolation, egress, ..."
        ),
        "subject": _text("What the check is about: a tier, a service, service@tier, or a pair."),
        "verdict": {
            "enum": [v.value for v in Verdict],
            "description": "ERROR means the check could not be made; it is never a pass.",
        },
        "expected": _text("What the contract expects."),
        "actual": _text("What was observed."),
        "reason": _text("Why the verdict is not PASS; may be empty."),
        "output": _text("Raw probe output; may be empty."),
        "duration": {**_SECONDS, "description": "Seconds spent on this check."},
        "attempts": {**_COUNT, "description": "Probe attempts; 0 for structural checks."},
        "src": _text("Probe source service; empty for structural checks."),
        "dst": _text("Probe target service, or the name or canary probed; may be empty."),
        "tier": _text("Tier key the check is about; may be empty."),
        "executor": _text(
            "Probes: netns (netcontract's own sockets in the source's network namespace), exec "
            "(the container's own tools) or sidecar (a probe container); empty for structural "
            "checks. Added in netcontract 0.2; absent from older reports."
        ),
        "containers": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Names of the containers the result is about: the intruders of a foreign, "
            "namespace or host-network result, the probe source and every container "
            "sharing its network namespace; may be empty. Added after "
            "netcontract 0.2; absent from older reports.",
        },
        "latency_ms": {
            **_SECONDS,
            "description": "netns probes that got an answer: the path's round trip in ms "
            "(median over its probes). Absent for exec and sidecar (their "
            "tools' timing includes process start-up) and for timeouts.",
        },
        "latency_source": {
            "enum": list(LATENCY_SOURCES) + [f"{a}+{b}" for a, b in _PAIRS],
            "description": "How latency_ms was measured: tcp_info (the kernel's handshake RTT), "
            "so_timestampns (the kernel's receive timestamp of the answer), select "
            "(the selector's wake-up, when the kernel gave no figure).",
        },
    },
}

_STARTUP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": True,
    "required": ["service", "container", "started_at", "seconds"],
    "properties": {
        "service": _text("Contract service."),
        "container": _text("Container name."),
        "started_at": _text("State.StartedAt, as the engine wrote it."),
        "healthy_at": _text(
            "State.Health.Log[].End of the first healthy probe since the start; may be empty."
        ),
        "seconds": {
            "type": ["number", "null"],
            "minimum": 0,
            "description": "Start to first healthy probe; null when the engine's records cannot tell.",
        },
        "note": _text("Why seconds is null; may be empty."),
    },
}

_COMPARISON: dict[str, Any] = {
    "type": "object",
    "description": "check --baseline: this report against an earlier one (the same object `diff --format json` "
    "prints). Added with check --baseline; absent from older reports.",
    "additionalProperties": True,
    "required": [
        "baseline",
        "comparable",
        "changes",
        "known_failures",
        "latency",
        "startup",
        "regressions",
    ],
    "properties": {
        "baseline": _text("The baseline report's file."),
        "comparable": {
            "type": "boolean",
            "description": "Same engine, host and executors: only then are measurements flagged.",
        },
        "incomparable": {"type": "array", "items": {"type": "string"}},
        "thresholds": {"type": "object", "additionalProperties": True},
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": True,
                "required": ["id", "before", "after", "category"],
                "properties": {
                    "id": {"type": "string"},
                    "before": {"type": ["string", "null"]},
                    "after": {"type": ["string", "null"]},
                    "reason": {"type": "string"},
                    "category": {
                        "enum": [
                            "new-fail",
                            "new-error",
                            "fixed",
                            "appeared",
                            "disappeared",
                            "changed",
                        ]
                    },
                },
            },
        },
        "known_failures": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Ids that FAIL in both reports.",
        },
        "latency": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": True,
                "required": ["src", "dst", "kind", "regressed"],
            },
        },
        "startup": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": True,
                "required": ["service", "regressed"],
            },
        },
        "regressions": {"type": "array", "items": {"type": "string"}},
    },
}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "netcontract report",
    "description": "Output of `netcontract check --format json` (and `--json PATH`).",
    "type": "object",
    "additionalProperties": True,
    "required": [
        "version",
        "contract",
        "project",
        "source",
        "command",
        "exit_code",
        "duration",
        "summary",
        "notes",
        "results",
    ],
    "properties": {
        "version": {"const": REPORT_VERSION, "description": "Report format version."},
        "contract": _text("Path of the contract file checked."),
        "project": {"type": ["string", "null"], "description": "Compose project name, if known."},
        "source": _text('"live", or the compose files a static state was read from.'),
        "command": _text("check or lint."),
        "exit_code": {
            "enum": [int(c) for c in ExitCode if c is not ExitCode.INTERRUPTED],
            "description": "0 holds, 1 violated, 3 could not evaluate; a report written when the run "
            "stopped before any verdict (see `error`) has that error's code: 2 usage, "
            "3 could not evaluate, 4 invalid contract, 70 internal error.",
        },
        "duration": {**_SECONDS, "description": "Seconds the whole run took."},
        "summary": {
            "type": "object",
            "additionalProperties": True,
            "required": ["passed", "failed", "errors", "skipped"],
            "properties": {"passed": _COUNT, "failed": _COUNT, "errors": _COUNT, "skipped": _COUNT},
        },
        "notes": {"type": "array", "items": {"type": "string"}},
        "engine": _text(
            "The Docker engine and API version a live check ran against; empty for lint. "
            "Added in netcontract 0.2."
        ),
        "results": {"type": "array", "items": {"$ref": "#/$defs/result"}},
        "error": {
            "type": "object",
            "description": "Present only when the run stopped before any verdict (Docker unreachable, stack "
            "not ready, invalid contract, ...): then `results` is empty and `exit_code` is this "
            "error's. Added in netcontract 0.2.",
            "additionalProperties": True,
            "required": ["exit_code", "type", "message", "lines"],
            "properties": {
                "exit_code": {
                    "type": "integer",
                    "description": "The exit code the run ended with.",
                },
                "type": _text(
                    "The error's kind: EngineError, ContractError, NotReadyError, UsageError, ..."
                ),
                "message": _text("The first line netcontract printed on stderr."),
                "lines": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Every line printed on stderr (one per contract problem).",
                },
            },
        },
        "host": _text(
            "The machine that ran the check (and the engine's address when not a local socket). "
            "Added with check --baseline; absent from older reports."
        ),
        "startup": {
            "type": "array",
            "items": _STARTUP,
            "description": "Each service container's start-up, from the engine's records. Added with check --baseline.",
        },
        "comparison": _COMPARISON,
    },
    # exit codes that make no verdict come only with the error that says why
    "if": {
        "required": ["exit_code"],
        "properties": {
            "exit_code": {"enum": [int(c) for c in ExitCode if c not in _VERDICT_CODES]}
        },
    },
    "then": {"required": ["error"]},
    "$defs": {"result": _RESULT},
}


def render_schema() -> str:
    """The JSON report's schema, as `netcontract schema --report` prints it."""
    return json.dumps(REPORT_SCHEMA, indent=2) + "\n"

"""JSON report. Its shape is versioned; new fields may be added, none removed or renamed."""

from __future__ import annotations

import json
from typing import Any

from netcontract.results import Report, Result

REPORT_VERSION = 1


def result_dict(r: Result) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "subject": r.subject,
        "verdict": r.verdict.value,
        "expected": r.expected,
        "actual": r.actual,
        "reason": r.reason,
        "output": r.output,
        "duration": round(r.duration, 4),
        "attempts": r.attempts,
        "src": r.src,
        "dst": r.dst,
        "tier": r.tier,
        "executor": r.executor,
        "containers": list(r.containers),
    }


def report_dict(report: Report) -> dict[str, Any]:
    s = report.summary
    return {
        "version": REPORT_VERSION,
        "contract": report.contract,
        "project": report.project,
        "source": report.source,
        "command": report.command,
        "exit_code": int(report.exit_code),
        "duration": round(report.duration, 3),
        "summary": {"passed": s.passed, "failed": s.failed, "errors": s.errors, "skipped": s.skipped},
        "notes": list(report.notes),
        "engine": report.engine,
        "results": [result_dict(r) for r in report.results],
    }


def render(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"

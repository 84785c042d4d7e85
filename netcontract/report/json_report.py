"""JSON report. Its shape is versioned; new fields may be added, none removed or renamed."""

from __future__ import annotations

import json
from typing import Any

from netcontract.report import comparison
from netcontract.results import Report, Result

REPORT_VERSION = 1


def result_dict(r: Result) -> dict[str, Any]:
    """One result as the JSON report's `results` entry."""
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
        **(
            {"latency_ms": r.latency_ms, "latency_source": r.latency_source}
            if r.latency_ms is not None
            else {}
        ),
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as the versioned JSON object (see report/schema.py)."""
    s = report.summary
    out: dict[str, Any] = {
        "version": REPORT_VERSION,
        "contract": report.contract,
        "project": report.project,
        "source": report.source,
        "command": report.command,
        "exit_code": int(report.exit_code),
        "duration": round(report.duration, 3),
        "summary": {
            "passed": s.passed,
            "failed": s.failed,
            "errors": s.errors,
            "skipped": s.skipped,
        },
        "notes": list(report.notes),
        "engine": report.engine,
        "results": [result_dict(r) for r in report.results],
        **({"host": report.host} if report.host else {}),
        **(
            {"startup": [comparison.startup_dict(s) for s in report.startup]}
            if report.startup
            else {}
        ),
        **(
            {"comparison": comparison.as_dict(report.comparison)}
            if report.comparison is not None
            else {}
        ),
    }
    if report.aborted is not None:  # only when the run made no verdict: older reports never have it
        a = report.aborted
        out["error"] = {
            "exit_code": int(a.exit_code),
            "type": a.error,
            "message": a.lines[0] if a.lines else "",
            "lines": list(a.lines),
        }
    return out


def render(report: Report) -> str:
    """The JSON report, indented, ending with a newline."""
    return json.dumps(report_dict(report), indent=2) + "\n"

"""A JSON report read back, as the baseline of `check --baseline` and `diff`. Every version-1 report is one:
the fields added since (executor, engine, host, latency_ms, startup) are optional, and what a report
lacks is read as unknown, never as a measurement."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from netcontract.errors import InputError
from netcontract.measures import Startup
from netcontract.report.json_report import REPORT_VERSION
from netcontract.results import Kind, Report, Result, Verdict

MAX_REPORT_BYTES = 256 * 1024 * 1024  # the 200-container benchmark's report is about 60 MiB


def _str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def result_from_dict(raw: Any) -> Result:
    """One `results` entry; InputError when it is not one."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise InputError("a result without an id")
    try:
        kind, verdict = Kind(_str(raw, "kind")), Verdict(_str(raw, "verdict"))
    except ValueError:
        raise InputError(f"result {raw['id']}: unknown kind or verdict") from None
    latency = _num(raw.get("latency_ms"))
    attempts = raw.get("attempts")
    return Result(
        raw["id"],
        kind,
        _str(raw, "subject"),
        verdict,
        _str(raw, "expected"),
        _str(raw, "actual"),
        _str(raw, "reason"),
        duration=_num(raw.get("duration")) or 0.0,
        attempts=attempts if isinstance(attempts, int) else 0,
        src=_str(raw, "src"),
        dst=_str(raw, "dst"),
        tier=_str(raw, "tier"),
        executor=_str(raw, "executor"),
        latency_ms=latency,
        latency_source=_str(raw, "latency_source") if latency is not None else "",
    )


def _startup(raw: Any) -> Startup:
    if not isinstance(raw, dict) or not isinstance(raw.get("service"), str):
        raise InputError("a startup entry without a service")
    return Startup(
        raw["service"],
        _str(raw, "container"),
        _str(raw, "started_at"),
        _str(raw, "healthy_at"),
        _num(raw.get("seconds")),
        _str(raw, "note"),
    )


def report_from_dict(raw: Any) -> Report:
    """A Report from the JSON report's object (version 1); InputError when it is not one."""
    if (
        not isinstance(raw, dict)
        or raw.get("version") != REPORT_VERSION
        or not isinstance(raw.get("results"), list)
    ):
        raise InputError(
            f"not a netcontract JSON report of version {REPORT_VERSION} (`check --format json`)"
        )
    startup: list[Any] = raw["startup"] if isinstance(raw.get("startup"), list) else []
    project = raw.get("project")
    return Report(
        contract=_str(raw, "contract"),
        results=tuple(result_from_dict(r) for r in raw["results"]),
        project=project if isinstance(project, str) else None,
        source=_str(raw, "source") or "live",
        command=_str(raw, "command") or "check",
        duration=_num(raw.get("duration")) or 0.0,
        notes=tuple(n for n in raw.get("notes") or () if isinstance(n, str)),
        engine=_str(raw, "engine"),
        host=_str(raw, "host"),
        startup=tuple(_startup(s) for s in startup),
    )


def load_report(path: str | Path) -> Report:
    """The JSON report in the file at `path`; InputError (exit 3) naming the file when it cannot be one."""
    from netcontract.yaml_input import check_input_path  # imports yaml: not at start-up

    try:
        st = check_input_path(path)
        if st.st_size > MAX_REPORT_BYTES:
            raise InputError(f"file is {st.st_size} bytes; the limit is {MAX_REPORT_BYTES}")
        raw = json.loads(Path(path).read_bytes())
        return report_from_dict(raw)
    except InputError as exc:
        raise InputError(f"{os.fspath(path)}: {exc}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(
            f"{os.fspath(path)}: not a JSON report: {' '.join(str(exc).split())[:160]}"
        ) from None

"""JUnit XML report, for CI test dashboards. Pure.

One testsuite "netcontract", one testcase per result. The testcase name is the
result's stable id, so a dashboard can track one check across runs; the
classname groups by kind (`netcontract.reach`, `netcontract.dns`, ...).
FAIL -> <failure>, ERROR -> <error> (the check could not be made; a dashboard
must not count it as passed), SKIP -> <skipped>, probe output -> <system-out>.
A run that stopped before any verdict (exit 2, 3 or 4 with no results) is one
testcase `netcontract check` (classname `netcontract.run`) with an <error>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from netcontract import sanitize
from netcontract.results import Report, Result, Verdict

SUITE_NAME = "netcontract"


def _clean(text: str) -> str:
    """Text XML 1.0 can carry, shown as it was: control characters (terminal escapes in probe output,
    names on the engine) are escaped visibly (`\\x1b`), which also leaves only characters XML allows."""
    return sanitize.block(text.replace("\r\n", "\n"))


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _message(r: Result) -> str:
    head = f"expected {r.expected}, got {r.actual}"
    return f"{head}: {r.reason}" if r.reason else head


def _body(r: Result) -> str:
    lines = [f"expected: {r.expected}", f"actual:   {r.actual}"]
    if r.reason:
        lines.append(f"why:      {r.reason}")
    if r.attempts:
        lines.append(f"attempts: {r.attempts}")
    return "\n".join(lines)


def _testcase(parent: ET.Element, r: Result) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        name=_clean(r.id),
        classname=f"netcontract.{_clean(r.kind)}",
        time=_seconds(r.duration),
    )
    if r.verdict is Verdict.FAIL:
        el = ET.SubElement(case, "failure", message=_clean(_message(r)), type="ContractViolation")
        el.text = _clean(_body(r))
    elif r.verdict is Verdict.ERROR:
        el = ET.SubElement(
            case, "error", message=_clean(r.reason or _message(r)), type="NotEvaluated"
        )
        el.text = _clean(_body(r))
    elif r.verdict is Verdict.SKIP:
        ET.SubElement(case, "skipped", message=_clean(r.reason or "skipped"))
    if r.output:
        ET.SubElement(case, "system-out").text = _clean(r.output)


def _properties(parent: ET.Element, report: Report) -> None:
    props = ET.SubElement(parent, "properties")
    values = {
        "contract": report.contract,
        "project": report.project or "",
        "source": report.source,
        "command": report.command,
        "exit_code": str(int(report.exit_code)),
    }
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=_clean(value))
    for i, note in enumerate(report.notes):
        ET.SubElement(props, "property", name=f"note.{i}", value=_clean(note))


def _aborted_case(parent: ET.Element, report: Report) -> None:
    """The run stopped before any verdict: one testcase with an <error> that says why, so a dashboard shows
    a red run instead of an empty one."""
    a = report.aborted
    assert a is not None
    case = ET.SubElement(
        parent,
        "testcase",
        name=_clean(f"netcontract {report.command}"),
        classname="netcontract.run",
        time=_seconds(report.duration),
    )
    el = ET.SubElement(
        case, "error", message=_clean(a.lines[0] if a.lines else a.error), type=_clean(a.error)
    )
    el.text = _clean("\n".join([*a.lines, f"exit code: {int(a.exit_code)}"]))


def render(report: Report) -> str:
    """The report as JUnit XML: one testsuite, one testcase per result."""
    s = report.summary
    extra = 1 if report.aborted is not None else 0
    counts = {
        "tests": str(s.total + extra),
        "failures": str(s.failed),
        "errors": str(s.errors + extra),
        "skipped": str(s.skipped),
        "time": _seconds(report.duration),
    }
    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **counts})
    _properties(suite, report)
    if report.aborted is not None:
        _aborted_case(suite, report)
    for r in report.results:
        _testcase(suite, r)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

"""A probe result's evidence, as far as the report holds it, for the HTML page. Pure.

The JSON report has no field for the address family, the latency or the window a probe had; the probe
output and the report's notes state them, in the forms the executors write:
`[netns:192.168.64.2] connect 192.168.64.2:5432: connected (0.0 ms)`, `... no answer within 2003 ms`,
`[netns:db] A db @127.0.0.11:53: 192.168.64.2 (2.3 ms)`, and the netns note
`netns: timeouts judged on windows of at least dns 100 ms (...), tcp4 100 ms (...)`. What is not there
is left out, never guessed.
"""

from __future__ import annotations

import re

from netcontract.addresses import family_of, ip_or_none
from netcontract.results import Kind, Report, Result

_WINDOW = re.compile(r"\b(dns|tcp4|tcp6|icmp4|icmp6) (\d+) ms")
_LATENCY = re.compile(
    r"\((\d+(?:\.\d+)?) ms\)"
)  # an answer: `connected (0.1 ms)`, `192.168.64.2 (2.3 ms)`
_WAITED = re.compile(r"no answer within (\d+(?:\.\d+)?) ms")  # a timeout: the window that probe had
_TARGET = re.compile(r"^\[[^:\]]*:([^\]]*)\]", re.M)


def windows(report: Report) -> dict[str, int]:
    """The netns windows per kind of path (ms), as the report's note states them; empty when it has none."""
    for note in report.notes:
        if note.startswith("netns: timeouts judged on windows"):
            return {m.group(1): int(m.group(2)) for m in _WINDOW.finditer(note)}
    return {}


def family(r: Result) -> str:
    """IPv4 or IPv6 from the probed addresses in the result's output (`[tool:address] ...`), or ''."""
    fams = set()
    for target in _TARGET.findall(r.output):
        ip = ip_or_none(target)
        if ip:
            fams.add(f"IPv{family_of(ip)}")
    return "/".join(sorted(fams))


def latency(r: Result) -> str:
    """The answer's time as the probe output states it (`connected (0.1 ms)`), or ''."""
    m = _LATENCY.search(r.output)
    return f"{m.group(1)} ms" if m else ""


def window(r: Result, wins: dict[str, int]) -> str:
    """How long the probe waited: its own `no answer within N ms`, else (netns) the window the run judged
    that kind of path's timeouts on, from the report's note; or ''."""
    m = _WAITED.search(r.output)
    if m:
        return f"{m.group(1)} ms (no answer)"
    if r.executor != "netns" or not wins or latency(r):  # an answer needs no window
        return ""
    tcp = r.kind in (Kind.REACH, Kind.ISOLATION) and ":" in r.id.split("->", 1)[-1].split("@")[0]
    key = (
        "dns"
        if r.kind is Kind.DNS
        else ("tcp" if tcp else "icmp") + ("6" if family(r) == "IPv6" else "4")
    )
    return f"at least {wins[key]} ms for {key} timeouts in this run" if key in wins else ""


def evidence(r: Result, wins: dict[str, int]) -> list[tuple[str, str]]:
    """(label, value) pairs of a result's evidence, only those the report has."""
    pairs = [
        ("executor", r.executor),
        ("family", family(r)),
        ("latency", latency(r)),
        ("window", window(r, wins)),
        ("attempts", str(r.attempts) if r.attempts else ""),
        ("batch", f"{r.duration:.2f} s (the source's probes)" if r.attempts and r.duration else ""),
        ("container", ", ".join(r.containers)),
        ("declared at", r.location),
    ]
    return [(k, v) for k, v in pairs if v]

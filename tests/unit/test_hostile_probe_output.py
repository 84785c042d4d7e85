"""Probe output is not ours: names echoed by the tools, container output. It is split on `\\n` only and
read from the tools' line formats, so a name holding "nxdomain", "timeout" or "unreachable", or a line
holding a `\\r` (or \\x0b, \\x1c, U+2028, which `str.splitlines` also splits on), changes no verdict.

Corpus: tests/hostile/outputs/probe-outputs.json (one tool output each; `was` records what the parser
read before) and batches.json (whole batches, with the outcome of each probe)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netcontract.probe.observation import Outcome, Probe, ProbeKind
from netcontract.probe.parse import classify, lines, parse_batch, split_batch

OUTPUTS = Path(__file__).resolve().parents[1] / "hostile" / "outputs"
SINGLE = json.loads((OUTPUTS / "probe-outputs.json").read_text(encoding="utf-8"))
BATCHES = json.loads((OUTPUTS / "batches.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", SINGLE, ids=[c["name"] for c in SINGLE])
def test_hostile_tool_output(case: dict[str, Any]) -> None:
    got = classify(ProbeKind(case["kind"]), case["tool"], case["rc"], case["output"])
    assert got.outcome is Outcome(case["outcome"]), got
    if "addresses" in case:
        assert list(got.addresses) == case["addresses"]
    if "detail" in case:
        assert got.detail == case["detail"]
    assert got.output == case["output"]  # kept as it was: the reporters escape it for their medium


@pytest.mark.parametrize("case", BATCHES, ids=[c["name"] for c in BATCHES])
def test_hostile_batches(case: dict[str, Any]) -> None:
    probes = [
        Probe(key, ProbeKind(kind), target, port) for key, kind, target, port in case["probes"]
    ]
    got = parse_batch(case["text"], probes)
    assert {k: o.outcome.value for k, o in got.items()} == case["outcomes"]
    assert split_batch(case["text"]).complete is case.get("complete", True)


@pytest.mark.parametrize(
    "word",
    [
        "nxdomain",
        "timeout",
        "unreachable",
        "refused",
        "servfail",
        "no-answer",
        "timed-out",
        "succeeded",
        "open",
        "connected",
        "permitted",
    ],
)
def test_a_word_inside_a_name_changes_no_verdict(word: str) -> None:
    name = f"{word}.{word}-x.example"
    answer = f"Server: 127.0.0.11\nAddress: 127.0.0.11:53\n\nName:\t{name}\nAddress: 172.22.0.5\n"
    assert classify(ProbeKind.DNS, "nslookup", 0, answer).outcome is Outcome.OK
    missing = f"Server: 127.0.0.11\n\n** server can't find {name}: NXDOMAIN\n"
    assert classify(ProbeKind.DNS, "nslookup", 1, missing).outcome is Outcome.NXDOMAIN
    dropped = f"nc: connect to {name} port 80 (tcp) timed out: Operation now in progress\n"
    assert classify(ProbeKind.TCP, "nc-z", 1, dropped).outcome is Outcome.TIMEOUT
    refused = f"nc: connect to {name} port 80 (tcp) failed: Connection refused\n"
    assert classify(ProbeKind.TCP, "nc-z", 1, refused).outcome is Outcome.REFUSED
    lost = (
        f"PING {name} (10.0.0.9): 56 data bytes\n\n--- {name} ping statistics ---\n"
        "1 packets transmitted, 0 packets received, 100% packet loss\n"
    )
    assert classify(ProbeKind.ICMP, "ping", 1, lost).outcome is Outcome.TIMEOUT


def test_lines_split_on_newline_only() -> None:
    assert lines("a\rb\x0bc\x1cd\x85e\u2028f\r\ng\n") == ["a\rb\x0bc\x1cd\x85e\u2028f", "g", ""]

"""The Prometheus exposition of a watched contract (`serve`'s /metrics), through prometheus_client.

Built at scrape time from the latest picture, so a check that is gone is gone from the metrics too:
- `netcontract_check_verdict{id, kind, verdict}` 1 for each check, labelled with its current verdict;
- `netcontract_checks{verdict}` and `netcontract_contract_holds` (1 while no check FAILs or ERRORs);
- `netcontract_check_duration_seconds` (the last re-check) and `netcontract_full_check_duration_seconds`;
- `netcontract_probes{executor}` and `netcontract_probe_duration_seconds{executor}` (the sum of the probe
  results' durations) in the current picture;
- `netcontract_last_full_check_timestamp_seconds`, `netcontract_rechecks_total{scope}`,
  `netcontract_engine_events_total`, `netcontract_engine_connected`.
Label values come from the contract and the engine; the library escapes them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from netcontract.results import Report, Verdict


@dataclass(frozen=True)
class WatchStats:
    """The loop's own figures, beside the latest report."""

    check_duration: float = 0.0
    full_check_duration: float = 0.0
    last_full: float = 0.0  # time.time() of the last full check (0: none yet)
    rechecks: dict[str, int] = field(default_factory=dict)  # "full" / "partial" -> count
    events: int = 0
    connected: bool = False


def render(report: Report | None, stats: WatchStats) -> bytes:
    """The metrics in the Prometheus text format (version 0.0.4)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector

    class _Latest(Collector):
        def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
            verdict = GaugeMetricFamily(
                "netcontract_check_verdict",
                "A check's current verdict (1 per check).",
                labels=["id", "kind", "verdict"],
            )
            counts: Counter[str] = Counter()
            probes: Counter[str] = Counter()
            probe_seconds: dict[str, float] = {}
            for r in report.results if report else ():
                verdict.add_metric([r.id, str(r.kind), r.verdict.value], 1)
                counts[r.verdict.value] += 1
                if r.executor:
                    probes[r.executor] += 1
                    probe_seconds[r.executor] = probe_seconds.get(r.executor, 0.0) + r.duration
            yield verdict
            by_verdict = GaugeMetricFamily(
                "netcontract_checks", "Checks by current verdict.", labels=["verdict"]
            )
            for v in Verdict:
                by_verdict.add_metric([v.value], counts[v.value])
            yield by_verdict
            holds = (
                report is not None
                and not counts[Verdict.FAIL.value]
                and not counts[Verdict.ERROR.value]
            )
            yield GaugeMetricFamily(
                "netcontract_contract_holds",
                "1 while every check passes (or is skipped).",
                value=int(holds),
            )
            yield GaugeMetricFamily(
                "netcontract_check_duration_seconds",
                "Duration of the last re-check.",
                value=stats.check_duration,
            )
            yield GaugeMetricFamily(
                "netcontract_full_check_duration_seconds",
                "Duration of the last full check.",
                value=stats.full_check_duration,
            )
            n = GaugeMetricFamily(
                "netcontract_probes",
                "Probe results in the current picture, by executor.",
                labels=["executor"],
            )
            s = GaugeMetricFamily(
                "netcontract_probe_duration_seconds",
                "Summed duration of those probe results, by executor.",
                labels=["executor"],
            )
            for executor in sorted(probes):
                n.add_metric([executor], probes[executor])
                s.add_metric([executor], probe_seconds[executor])
            yield n
            yield s
            yield GaugeMetricFamily(
                "netcontract_last_full_check_timestamp_seconds",
                "When the last full check finished (seconds since the epoch).",
                value=stats.last_full,
            )
            rechecks = CounterMetricFamily(
                "netcontract_rechecks", "Re-checks run, by scope.", labels=["scope"]
            )
            for scope in ("full", "partial"):
                rechecks.add_metric([scope], stats.rechecks.get(scope, 0))
            yield rechecks
            yield CounterMetricFamily(
                "netcontract_engine_events", "Engine events seen.", value=stats.events
            )
            yield GaugeMetricFamily(
                "netcontract_engine_connected",
                "1 while the engine's event stream is followed.",
                value=int(stats.connected),
            )

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Latest())
    return bytes(generate_latest(registry))

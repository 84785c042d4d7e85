"""serve's answers without an engine: /healthz from a report, /metrics parsed by prometheus_client's own
parser, and the HTTP server's paths and methods on loopback (a server of the test's own)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netcontract.changes import Change
from netcontract.live.serve import Latest, health, make_server
from netcontract.live.watch import Update
from netcontract.report.metrics import WatchStats, render
from netcontract.results import Kind, Report, Result, Verdict


def res(rid: str, verdict: Verdict, executor: str = "", duration: float = 0.0) -> Result:
    return Result(rid, Kind.REACH, rid, verdict, "", "", executor=executor, duration=duration)


HOLDS = Report(
    "c.yaml",
    (res("reach:a->b:80@t", Verdict.PASS, "netns", 0.002), res("networks:a", Verdict.PASS)),
)
BROKEN = Report(
    "c.yaml",
    (
        res("isolation:a->db:5432@data", Verdict.FAIL, "netns", 0.001),
        res('dns:a->"quoted"\\name', Verdict.ERROR, "exec", 0.5),
        res("networks:a", Verdict.PASS),
    ),
)


def test_health() -> None:
    assert health(None) == (503, "no check has finished yet\n")
    assert health(HOLDS) == (200, "ok: contract holds (2 checks)\n")
    code, body = health(BROKEN)
    assert code == 503
    assert body.splitlines() == [
        "contract does not hold: 2 checks failed or could not run",
        "isolation:a->db:5432@data",
        'dns:a->"quoted"\\name',
    ]


def test_metrics_parse_and_say_what_the_report_says() -> None:
    stats = WatchStats(
        check_duration=0.25,
        full_check_duration=0.4,
        last_full=1_700_000_000.0,
        rechecks={"full": 1, "partial": 3},
        events=7,
        connected=True,
    )
    fam = {f.name: f for f in text_string_to_metric_families(render(BROKEN, stats).decode())}
    verdicts = {
        s.labels["id"]: (s.labels["verdict"], s.labels["kind"])
        for s in fam["netcontract_check_verdict"].samples
    }
    assert verdicts == {
        r.id: (r.verdict.value, "reach") for r in BROKEN.results
    }  # a hostile id survives escaping
    by = {s.labels["verdict"]: s.value for s in fam["netcontract_checks"].samples}
    assert by == {"PASS": 1, "FAIL": 1, "ERROR": 1, "SKIP": 0}
    assert fam["netcontract_contract_holds"].samples[0].value == 0
    assert fam["netcontract_check_duration_seconds"].samples[0].value == 0.25
    assert fam["netcontract_full_check_duration_seconds"].samples[0].value == 0.4
    assert {s.labels["executor"]: s.value for s in fam["netcontract_probes"].samples} == {
        "exec": 1,
        "netns": 1,
    }
    seconds = {
        s.labels["executor"]: s.value for s in fam["netcontract_probe_duration_seconds"].samples
    }
    assert seconds == {"exec": 0.5, "netns": 0.001}
    assert fam["netcontract_last_full_check_timestamp_seconds"].samples[0].value == 1_700_000_000.0
    rechecks = {
        s.labels["scope"]: s.value
        for s in fam["netcontract_rechecks"].samples
        if s.name.endswith("_total")
    }
    assert rechecks == {"full": 1, "partial": 3}
    assert fam["netcontract_engine_events"].samples[0].value == 7
    assert fam["netcontract_engine_connected"].samples[0].value == 1


def test_metrics_before_any_check() -> None:
    fam = {f.name: f for f in text_string_to_metric_families(render(None, WatchStats()).decode())}
    assert fam["netcontract_contract_holds"].samples[0].value == 0
    assert fam["netcontract_check_verdict"].samples == []


def test_latest_counts_rechecks_and_events() -> None:
    latest = Latest()
    latest.update(Update(HOLDS, (), "initial check", True, events=0, at=100.0))
    latest.update(
        Update(
            BROKEN,
            (Change("x", Verdict.PASS, Verdict.FAIL, None),),
            "network connect: a to b",
            False,
            frozenset({"a"}),
            events=3,
            at=101.0,
        )
    )
    report, stats, _ = latest.read()
    assert report is BROKEN
    assert (
        stats.rechecks == {"full": 1, "partial": 1}
        and stats.events == 3
        and stats.last_full == 100.0
    )
    latest.note("engine connection lost (x); reconnecting")
    assert latest.read()[1].connected is False
    latest.note("following engine events (unix:///var/run/docker.sock)")
    assert latest.read()[1].connected is True


@pytest.fixture
def server() -> Iterator[tuple[str, Latest]]:
    latest = Latest()
    srv = make_server("127.0.0.1", 0, latest)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = srv.server_address[:2]
    yield f"http://{host!s}:{port}", latest
    srv.shutdown()
    srv.server_close()


def get(url: str, method: str = "GET") -> tuple[int, str, str]:
    request = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # loopback: the test's own server
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def test_paths_and_methods(server: tuple[str, Latest]) -> None:
    base, latest = server
    assert get(base + "/healthz")[0] == 503
    assert get(base + "/report.json")[0] == 503
    latest.update(Update(BROKEN, (), "initial check", True, at=1.0))
    code, ctype, body = get(base + "/healthz?verbose=1")  # a query string is ignored
    assert code == 503 and "isolation:a->db:5432@data" in body
    code, ctype, body = get(base + "/report.json")
    assert code == 200 and ctype == "application/json"
    assert [r["id"] for r in json.loads(body)["results"]] == [r.id for r in BROKEN.results]
    code, ctype, body = get(base + "/metrics")
    assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert "netcontract_contract_holds 0.0" in body
    code, ctype, body = get(base + "/")  # the HTML report of the latest check
    assert code == 200 and ctype.startswith("text/html") and "isolation:a-&gt;db:5432@data" in body
    assert get(base + "/../etc/passwd")[0] == 404
    assert get(base + "/healthz", method="POST")[0] == 501
    latest.update(
        Update(HOLDS, (), "network disconnect: a from b", False, frozenset({"a"}), at=2.0)
    )
    assert get(base + "/healthz")[:1] == (200,)

"""A report against its baseline (compare.py), its thresholds, start-up times from the engine's records,
reading reports back, and `diff`'s exit codes. Pure: no daemon."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_reports import PROBES, STRUCTURAL, measured, violated

from netcontract.cli.main import main
from netcontract.compare import (
    FailOn,
    compare,
    gate,
    gated_exit,
    latency_groups,
    parse_time,
    startup_of,
)
from netcontract.measures import Startup, Thresholds
from netcontract.probe.observation import Observation, Outcome, path_latency
from netcontract.report import comparison as rendering
from netcontract.report import json_report
from netcontract.report.json_read import load_report, report_from_dict
from netcontract.report.markdown import escape
from netcontract.results import ExitCode, Kind, Report, Result, Verdict
from netcontract.state import Container

ENGINE = "Docker 20.10.24 (API 1.41, client API 1.41)"
P, F, E = Verdict.PASS, Verdict.FAIL, Verdict.ERROR


def _r(
    rid: str,
    verdict: Verdict,
    *,
    src: str = "",
    dst: str = "",
    kind: Kind = Kind.REACH,
    ms: float | None = None,
) -> Result:
    return Result(
        rid,
        kind,
        f"{src}->{dst}",
        verdict,
        "e",
        "a",
        "why" if verdict is not P else "",
        src=src,
        dst=dst,
        executor="netns" if src else "",
        latency_ms=ms,
        latency_source="tcp_info" if ms is not None else "",
    )


def _report(
    *results: Result, engine: str = ENGINE, host: str = "h", startup: tuple[Startup, ...] = ()
) -> Report:
    return Report("c.yaml", results, engine=engine, host=host, startup=startup)


def _up(service: str, seconds: float | None) -> Startup:
    return Startup(service, f"{service}-1", "2026-12-04T20:00:00Z", seconds=seconds)


# -- verdict changes -------------------------------------------------------------------------


def test_changes_are_sorted_into_new_fail_fixed_new_error_and_known() -> None:
    old = _report(_r("a", P), _r("b", F), _r("c", F), _r("d", P), _r("gone", P), _r("e", E))
    new = _report(
        _r("a", F), _r("b", F), _r("c", P), _r("d", E), _r("new", F), _r("new-ok", P), _r("e", P)
    )
    c = compare(old, new)
    assert {
        k: [ch.id for ch in c.of(k)]
        for k in ("new-fail", "new-error", "fixed", "appeared", "disappeared")
    } == {
        "new-fail": ["a", "new"],
        "new-error": ["d"],
        "fixed": ["c", "e"],
        "appeared": ["new-ok"],
        "disappeared": ["gone"],
    }
    assert c.known_failures == ("b",)
    assert gate(c, FailOn.NEW_FAIL) and gated_exit(c, FailOn.NEW_FAIL) is ExitCode.VIOLATED


def test_fail_on_ignores_fails_both_reports_share() -> None:
    c = compare(violated(), violated())
    assert c.changes == () and len(c.known_failures) == violated().summary.failed > 0
    assert (
        gated_exit(c, FailOn.NEW_FAIL) is ExitCode.OK
        and gated_exit(c, FailOn.REGRESSION) is ExitCode.OK
    )


def test_a_new_error_without_a_new_fail_exits_3() -> None:
    c = compare(_report(_r("a", P)), _report(_r("a", E)))
    assert (
        not gate(c, FailOn.REGRESSION) and gated_exit(c, FailOn.NEW_FAIL) is ExitCode.NOT_EVALUATED
    )


# -- round trips -----------------------------------------------------------------------------


def test_latency_is_grouped_by_source_target_and_kind_with_median_and_spread() -> None:
    report = _report(
        _r("x1", P, src="a", dst="b", ms=0.1),
        _r("x2", P, src="a", dst="b", ms=0.3),
        _r("x3", P, src="a", dst="b", ms=0.2),
        _r("d", P, src="a", dst="b", kind=Kind.DNS, ms=1.0),
        _r("t", F, src="a", dst="c"),
    )
    groups = latency_groups(report)
    assert set(groups) == {("a", "b", "reach"), ("a", "b", "dns")}
    g = groups[("a", "b", "reach")]
    assert (g.median_ms, g.low_ms, g.high_ms, g.count, g.source) == (0.2, 0.1, 0.3, 3, "tcp_info")


@pytest.mark.parametrize(
    ("before", "after", "flagged"),
    [
        (0.1, 0.2, False),  # doubled, but a tenth of a millisecond: bridge noise
        (0.1, 4.9, False),  # 49x, under the 5 ms floor
        (0.1, 30.0, True),  # a delay of 30 ms on the path
        (10.0, 25.0, False),  # +15 ms but 2.5x: under the ratio
        (10.0, 31.0, True),
        (30.0, 0.1, False),  # faster is never a regression
    ],
)
def test_latency_is_flagged_only_past_ratio_and_floor(
    before: float, after: float, flagged: bool
) -> None:
    c = compare(
        _report(_r("x", P, src="a", dst="b", ms=before)),
        _report(_r("x", P, src="a", dst="b", ms=after)),
    )
    assert [d.regressed for d in c.latency] == [flagged]
    assert bool(c.regressions) is flagged and gate(c, FailOn.REGRESSION) is flagged
    assert not gate(c, FailOn.NEW_FAIL)


@pytest.mark.parametrize(
    ("before", "after", "flagged"),
    [
        (1.0, 1.04, False),
        (1.0, 1.2, False),  # under the 0.25 s floor: one health probe's own run time
        (1.0, 3.0, True),
        (10.0, 10.4, False),
        (10.0, 10.6, True),  # the plan's 5 %
        (None, 3.0, False),
        (1.0, None, False),  # no figure on one side: shown, not flagged
    ],
)
def test_start_up_is_flagged_past_five_percent_and_the_floor(
    before: float | None, after: float | None, flagged: bool
) -> None:
    c = compare(_report(startup=(_up("db", before),)), _report(startup=(_up("db", after),)))
    assert [(d.service, d.before, d.after, d.regressed) for d in c.startup] == [
        ("db", before, after, flagged)
    ]


def test_the_slowest_container_of_a_service_is_compared() -> None:
    c = compare(
        _report(startup=(_up("w", 1.0), _up("w", 1.1))),
        _report(startup=(_up("w", 1.0), _up("w", 4.0))),
    )
    assert [(d.before, d.after, d.regressed) for d in c.startup] == [(1.1, 4.0, True)]


@pytest.mark.parametrize(
    ("old", "why"),
    [
        (
            _report(
                _r("x", P, src="a", dst="b", ms=0.1),
                engine="Docker 26.1.5 (API 1.45, client API 1.45)",
            ),
            "different engines",
        ),
        (_report(_r("x", P, src="a", dst="b", ms=0.1), host="other"), "different hosts"),
        (_report(replace(_r("x", P, src="a", dst="b"), executor="exec")), "different executors"),
        (_report(_r("x", P, src="a", dst="b", ms=0.1), engine=""), "does not name its engine"),
    ],
)
def test_measurements_across_engines_hosts_or_executors_are_shown_not_flagged(
    old: Report, why: str
) -> None:
    new = _report(_r("x", P, src="a", dst="b", ms=50.0), startup=(_up("db", 9.0),))
    c = compare(replace(old, startup=(_up("db", 1.0),)), new)
    assert not c.comparable and any(why in line for line in c.incomparable), c.incomparable
    assert not c.regressions and not any(d.regressed for d in c.latency + c.startup)  # type: ignore[operator]
    assert "not compared: " + c.incomparable[0] in rendering.text(c)


def test_path_latency_takes_the_median_of_answered_probes_and_says_how() -> None:
    obs = [
        Observation(Outcome.OK, latency_ms=0.2, latency_source="tcp_info"),
        Observation(Outcome.OK, latency_ms=0.4, latency_source="tcp_info"),
        Observation(Outcome.TIMEOUT, latency_ms=None),
    ]
    assert path_latency(obs) == (0.3, "tcp_info")
    assert path_latency(
        [Observation(Outcome.TIMEOUT), Observation(Outcome.ERROR, latency_ms=3.0)]
    ) == (None, "")
    assert path_latency([Observation(Outcome.OK, tool="nc")]) == (
        None,
        "",
    )  # exec and sidecar: no figure


# -- start-up from the engine's records ----------------------------------------------------------


def _c(
    log: tuple[tuple[str, str, int], ...],
    health: str | None = "healthy",
    started: str = "2026-12-04T20:00:00.250000000Z",
) -> Container:
    return Container(
        "id", "web-1", "p", "web", "running", health=health, started_at=started, health_log=log
    )


def test_parse_time_reads_the_engines_timestamps() -> None:
    base = parse_time("2026-12-04T20:00:00Z")
    assert base is not None
    assert parse_time("2026-12-04T20:00:01.500000001Z") == pytest.approx(base + 1.5, abs=1e-6)
    assert parse_time("2026-12-04T21:00:00.5+01:00") == pytest.approx(base + 0.5)
    assert (
        parse_time("0001-01-01T00:00:00Z") is None
        and parse_time("") is None
        and parse_time("soon") is None
    )


def test_start_up_ends_at_the_first_healthy_probe_since_the_start() -> None:
    log = (
        (
            "2026-12-04T19:59:00Z",
            "2026-12-04T19:59:00.1Z",
            0,
        ),  # a probe of the previous run: ignored
        ("2026-12-04T20:00:01.2Z", "2026-12-04T20:00:01.3Z", 1),
        ("2026-12-04T20:00:02.2Z", "2026-12-04T20:00:02.45Z", 0),
        ("2026-12-04T20:00:03.2Z", "2026-12-04T20:00:03.3Z", 0),
    )
    s = startup_of(_c(log))
    assert (s.seconds, s.healthy_at, s.note) == (2.2, "2026-12-04T20:00:02.45Z", "")


def test_start_up_is_unknown_when_the_engine_has_dropped_the_first_healthy_probe() -> None:
    log = tuple((f"2026-12-04T20:00:0{i}.3Z", f"2026-12-04T20:00:0{i}.4Z", 0) for i in range(3, 8))
    s = startup_of(_c(log))
    assert s.seconds is None and "last 5 health probes" in s.note


@pytest.mark.parametrize(
    ("container", "note"),
    [
        (_c((), health=None), "no healthcheck"),
        (_c((), health="starting"), "no health probe has run yet"),
        (
            _c((("2026-12-04T20:00:01Z", "2026-12-04T20:00:01.1Z", 1),), health="starting"),
            "no healthy probe",
        ),
        (_c((), started=""), "no start time"),
    ],
)
def test_start_up_says_why_it_has_no_figure(container: Container, note: str) -> None:
    s = startup_of(container)
    assert s.seconds is None and note in s.note


# -- reports read back -----------------------------------------------------------------------------


def test_a_report_reads_back_with_its_measurements() -> None:
    report = measured(comparison=False)
    back = report_from_dict(json.loads(json_report.render(report)))
    assert back.startup == report.startup and back.host == "ci-1" and back.engine == report.engine
    assert [(r.id, r.verdict, r.latency_ms, r.latency_source) for r in back.results] == [
        (r.id, r.verdict, r.latency_ms, r.latency_source) for r in report.results
    ]


def test_an_old_report_is_a_valid_baseline(tmp_path: Path) -> None:
    old = json.loads(json_report.render(violated()))
    for r in old["results"]:
        del r["executor"]
    del old["engine"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    c = compare(load_report(path), measured(comparison=False))
    assert c.known_failures and not c.comparable and not c.regressions


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"version": 2, "results": []}',
        '{"version": 1}',
        '{"version": 1, "results": [{"id": "x", "kind": "nope", "verdict": "PASS"}]}',
    ],
)
def test_what_is_no_report_is_one_line_and_exit_3(tmp_path: Path, text: str) -> None:
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(text)
    good.write_text(json_report.render(violated()))
    r = CliRunner().invoke(main, ["diff", str(bad), str(good)], catch_exceptions=False)
    assert r.exit_code == 3 and r.output.count("\n") == 1 and str(bad) in r.output, r.output


# -- diff and the outputs ------------------------------------------------------------------------


def _files(tmp_path: Path, old: Report, new: Report) -> tuple[str, str]:
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(json_report.render(old))
    b.write_text(json_report.render(new))
    return str(a), str(b)


def test_diff_exit_codes(tmp_path: Path) -> None:
    fixed = Report("c.yaml", tuple(r for r in STRUCTURAL + PROBES if r.verdict is not F))
    worse, better = _files(tmp_path, fixed, violated())
    run = CliRunner().invoke
    assert (
        run(main, ["diff", worse, better]).exit_code == 0
    )  # compared: 0 whatever the reports hold
    assert run(main, ["diff", worse, better, "--fail-on", "new-fail"]).exit_code == 1
    assert run(main, ["diff", better, worse, "--fail-on", "new-fail"]).exit_code == 0  # only fixes
    assert (
        run(main, ["diff", better, better, "--fail-on", "regression"]).exit_code == 0
    )  # known FAILs only
    assert run(main, ["diff", worse, better, "--fail-on", "sometimes"]).exit_code == 2


def test_diff_prints_text_markdown_and_json(tmp_path: Path) -> None:
    old = replace(
        measured(comparison=False),
        startup=(),
        results=tuple(replace(r, executor="netns") if r.src else r for r in violated().results),
    )
    new = measured(comparison=False)
    a, b = _files(tmp_path, old, new)
    run = CliRunner().invoke
    text = run(main, ["diff", a, b]).output
    assert "Fixed: isolation:frontend->db:5432@data_tier (FAIL -> PASS)" not in text  # still FAILs
    assert "Known FAIL: isolation:frontend->db:5432@data_tier" in text
    md = run(main, ["diff", a, b, "--format", "markdown"]).output
    assert md.startswith("### Compared with the baseline") and "| db | - | 1.10 s |" in md
    data = json.loads(run(main, ["diff", a, b, "--format", "json"]).output)
    assert data["comparable"] and "isolation:frontend->db:5432@data_tier" in data["known_failures"]
    assert {d["kind"] for d in data["latency"]} == {"reach"}


def test_every_report_format_shows_the_comparison() -> None:
    report = measured()
    assert "baseline against main.json" in rendering.text(report.comparison)  # type: ignore[arg-type]
    from netcontract.report import markdown, table

    assert "baseline against main.json" in table.render(report)
    assert "### Compared with the baseline (main.json)" in markdown.render(report)
    assert json.loads(json_report.render(report))["comparison"]["baseline"] == "main.json"


def test_markdown_escapes_what_came_from_the_engine() -> None:
    old = _report(_r("isolation:a->b|@team", P))
    c = compare(old, _report(_r("isolation:a->b|@team", F)))
    md = rendering.markdown(c, escape)
    assert "b\\|@&#8203;team" in md and "|@team" not in md


def test_thresholds_are_configurable() -> None:
    old, new = (
        _report(_r("x", P, src="a", dst="b", ms=1.0)),
        _report(_r("x", P, src="a", dst="b", ms=2.5)),
    )
    assert not compare(old, new).regressions
    assert compare(
        old, new, thresholds=Thresholds(latency_ratio=2.0, latency_floor_ms=1.0)
    ).regressions


def test_a_long_path_list_keeps_every_flagged_row_and_says_how_many_are_left_out() -> None:
    old = _report(*(_r(f"x{i}", P, src=f"s{i}", dst="d", ms=0.1) for i in range(100)))
    new = _report(
        *(
            _r(f"x{i}", P, src=f"s{i}", dst="d", ms=50.0 if i % 3 == 0 else 0.1 + i / 1000)
            for i in range(100)
        )
    )
    c = compare(old, new)
    shown, left = rendering.shown_paths(c)
    flagged = [d for d in c.latency if d.regressed]
    assert len(flagged) == 34 and set(shown[:34]) == set(flagged)
    assert left == 100 - len(shown) == 66
    md = rendering.markdown(c, escape)
    assert md.count("REGRESSED") == 34 and "... and 66 more paths, none flagged" in md


def test_check_fail_on_needs_a_baseline_and_a_bad_baseline_stops_before_any_engine(
    tmp_path: Path,
) -> None:
    contract = Path(__file__).resolve().parents[2] / "contracts" / "devonboarder.yaml"
    r = CliRunner().invoke(main, ["check", "-c", str(contract), "--fail-on", "new-fail"])
    assert r.exit_code == 2 and "--fail-on needs --baseline" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = CliRunner().invoke(
        main,
        ["check", "-c", str(contract), "--baseline", str(bad)],
        env={"DOCKER_HOST": "tcp://127.0.0.1:1"},
    )
    assert r.exit_code == 3 and r.output.startswith(
        f"netcontract: {bad}: not a netcontract JSON report"
    ), r.output


def test_netcontract_host_names_the_machine_for_runners_named_anew_each_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from netcontract.live.checker import host_identity

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("NETCONTRACT_HOST", "gh-ubuntu-4cpu")
    assert host_identity() == "gh-ubuntu-4cpu"
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2375")
    assert host_identity() == "gh-ubuntu-4cpu via tcp://10.0.0.5:2375"
    monkeypatch.delenv("NETCONTRACT_HOST")
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/docker.sock")
    assert host_identity() and " via " not in host_identity()

"""The reachability matrix: cells aggregate every result of an ordered pair, worst first."""

from __future__ import annotations

import re

from sample_reports import holds, violated

from netcontract.report import matrix
from netcontract.report.matrix import CellState, matrix_rows
from netcontract.results import Report, Result, Verdict


def _r(kind: str, src: str, dst: str, verdict: Verdict, n: int = 0) -> Result:
    return Result(
        f"{kind}:{src}->{dst}:{n}", kind, f"{src}->{dst}", verdict, "e", "a", src=src, dst=dst
    )


def _cells(*results: Result) -> dict[tuple[str, str], CellState]:
    _, cells = matrix_rows(Report("c.yaml", results))
    return {pair: cell.state for pair, cell in cells.items()}


def test_services_in_order_of_first_appearance() -> None:
    services, _ = matrix_rows(violated())
    assert services == [
        "backend",
        "db",
        "auth-service",
        "frontend",
        "dashboard",
        "traefik",
        "discord-integration",
    ]


def test_only_reach_and_isolation_results_make_cells() -> None:
    _, cells = matrix_rows(violated())
    assert all(r.kind in ("reach", "isolation") for c in cells.values() for r in c.results)
    assert ("backend", "db.devonboarder.internal") not in cells  # a dns result


def test_expected_kind_decides_allowed_or_blocked() -> None:
    assert _cells(_r("reach", "a", "b", Verdict.PASS)) == {("a", "b"): CellState.ALLOWED}
    assert _cells(_r("isolation", "a", "b", Verdict.PASS)) == {("a", "b"): CellState.BLOCKED}
    assert _cells(
        _r("reach", "a", "b", Verdict.PASS), _r("isolation", "a", "b", Verdict.PASS, 1)
    ) == {("a", "b"): CellState.MIXED}


def test_pairs_are_ordered() -> None:
    cells = _cells(_r("reach", "a", "b", Verdict.PASS), _r("isolation", "b", "a", Verdict.FAIL))
    assert cells == {("a", "b"): CellState.ALLOWED, ("b", "a"): CellState.DIFFERS}


def test_any_fail_makes_the_cell_differ_and_any_error_makes_it_error() -> None:
    ok, fail, err, skip = Verdict.PASS, Verdict.FAIL, Verdict.ERROR, Verdict.SKIP
    assert _cells(
        _r("reach", "a", "b", ok), _r("reach", "a", "b", fail, 1), _r("reach", "a", "b", err, 2)
    ) == {("a", "b"): CellState.DIFFERS}
    assert _cells(_r("reach", "a", "b", ok), _r("reach", "a", "b", err, 1)) == {
        ("a", "b"): CellState.ERROR
    }
    # A skipped check is not a pass: the cell never reads "as expected".
    assert _cells(_r("isolation", "a", "b", ok), _r("isolation", "a", "b", skip, 1)) == {
        ("a", "b"): CellState.SKIPPED
    }


def test_sample_cells() -> None:
    _, cells = matrix_rows(violated())
    assert cells["backend", "db"].state is CellState.ALLOWED
    assert cells["backend", "auth-service"].state is CellState.ALLOWED
    assert len(cells["backend", "auth-service"].results) == 2  # two tiers, one cell
    assert cells["frontend", "db"].state is CellState.DIFFERS
    assert [r.id for r in cells["frontend", "db"].failed] == [
        "isolation:frontend->db:5432@data_tier"
    ]
    assert cells["dashboard", "db"].state is CellState.BLOCKED
    assert cells["traefik", "db"].state is CellState.ERROR
    assert cells["db", "frontend"].state is CellState.DIFFERS


def _read_grid(text: str) -> dict[str, list[str]]:
    """Row name -> the character under each column number of the header, as a reader sees it."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if "(from row to column)" in line)
    numbers = lines[top].split("(from")[0]
    positions = [m.end() - 1 for m in re.finditer(r"\d+", numbers)]
    rows = {}
    for line in lines[top + 1 :]:
        m = re.match(r"\s*\d+\. (\S+)", line)
        if not m:
            break
        rows[m.group(1)] = [line[p] if p < len(line) else " " for p in positions]
    return rows


def test_terminal_grid_places_glyphs_under_their_column() -> None:
    report = violated()
    services, _ = matrix_rows(report)
    rows = _read_grid(matrix.render(report))
    assert list(rows) == services
    assert all(len(cells) == len(services) for cells in rows.values())
    col = {s: i for i, s in enumerate(services)}
    assert rows["backend"][col["db"]] == "✓"
    assert rows["dashboard"][col["db"]] == "·"
    assert rows["frontend"][col["db"]] == "✗"
    assert rows["db"][col["frontend"]] == "✗"
    assert rows["traefik"][col["db"]] == "!"
    assert rows["discord-integration"][col["db"]] == "?"
    assert rows["db"][col["db"]] == "-"
    assert rows["backend"][col["frontend"]] == " "  # not probed: blank, never a tick


def test_terminal_lists_differences_and_dns_failures() -> None:
    text = matrix.render(violated())
    diff = text.split("Differences:")[1].split("DNS failures:")[0]
    assert "FAIL isolation:frontend->db:5432@data_tier" in diff
    assert "ERROR isolation:traefik->db:5432@data_tier" in diff
    assert "reach:backend->db" not in diff
    dns = text.split("DNS failures:")[1]
    assert "FAIL dns:frontend->db.devonboarder.internal" in dns
    assert "ERROR dns:dashboard->db.devonboarder.internal" in dns
    assert "dns:backend->" not in dns


def test_legend_explains_every_glyph_used() -> None:
    text = matrix.render(violated())
    for state in (
        CellState.ALLOWED,
        CellState.BLOCKED,
        CellState.DIFFERS,
        CellState.ERROR,
        CellState.SKIPPED,
    ):
        assert f"{matrix.TERMINAL_GLYPHS.cells[state]}  {matrix.LEGEND[state]}" in text


def test_colour_only_when_asked() -> None:
    assert "\x1b[" not in matrix.render(violated())
    assert "\x1b[1;31m✗\x1b[0m" in matrix.render(violated(), colour=True)


def test_a_report_without_probes_says_so() -> None:
    text = matrix.render(
        Report("c.yaml", tuple(r for r in holds().results if r.kind not in ("reach", "isolation")))
    )
    assert "no reach or isolation checks" in text

"""The HTML page's data, without a browser: every result is on it, the matrix cells and the graph's
failing edges say what the report says, everything from outside is escaped, and the page loads nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_reports import holds, not_evaluated, violated

from netcontract import sanitize
from netcontract.cli.main import main
from netcontract.contract import load_contract
from netcontract.live.serve import Latest, make_server
from netcontract.report import evidence, html, html_assets
from netcontract.report.formats import ARTIFACTS, ReportFormat
from netcontract.results import Kind, Report, Result, ServiceView, TierView, Topology, Verdict

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contracts" / "devonboarder.yaml"
COMPOSE = ROOT / "tests" / "assets" / "devonboarder" / "docker-compose.dev.yaml"
NAMES = json.loads((ROOT / "tests" / "hostile" / "names.json").read_text(encoding="utf-8"))
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
TOPOLOGY = load_contract(CONTRACT).topology()
# Every element and attribute the page itself writes: anything else was injected.
TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "h3",
    "h4",
    "p",
    "span",
    "b",
    "dl",
    "dt",
    "dd",
    "nav",
    "a",
    "form",
    "fieldset",
    "legend",
    "label",
    "input",
    "select",
    "option",
    "output",
    "main",
    "section",
    "div",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "ul",
    "li",
    "svg",
    "defs",
    "marker",
    "path",
    "g",
    "rect",
    "text",
    "article",
    "code",
    "pre",
    "script",
    "i",
}
ATTRS = {
    "lang",
    "charset",
    "name",
    "content",
    "http-equiv",
    "class",
    "id",
    "href",
    "hidden",
    "aria-label",
    "aria-hidden",
    "aria-live",
    "type",
    "value",
    "checked",
    "scope",
    "data-s",
    "title",
    "xmlns",
    "role",
    "width",
    "height",
    "viewbox",
    "font-family",
    "font-size",
    "refx",
    "refy",
    "markerwidth",
    "markerheight",
    "orient",
    "d",
    "fill",
    "data-tier",
    "x",
    "y",
    "rx",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "font-weight",
    "marker-start",
    "marker-end",
    "data-service",
    "text-anchor",
    "data-src",
    "data-dst",
    "paint-order",
}


class Page(HTMLParser):
    """The parsed page: elements with their attributes, text, scripts, and ids."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self.feed(text)
        self.close()
        self.ids = {a["id"] for _, a in self.elements if "id" in a}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)

    def find(self, tag: str, **want: str) -> list[dict[str, str]]:
        """Elements `tag` whose attributes contain `want` (class: every listed class present)."""
        out = []
        for t, a in self.elements:
            if t != tag:
                continue
            classes = set(a.get("class", "").split())
            if all(
                (set(v.split()) <= classes) if k == "class_" else a.get(k.replace("_", "-")) == v
                for k, v in want.items()
            ):
                out.append(a)
        return out


def _page(report: Report) -> tuple[str, Page]:
    text = html.render(replace(report, topology=report.topology or TOPOLOGY))
    return text, Page(text)


def _chunk(text: str, anchor: str, end: str = "</li>") -> str:
    return text[
        text.index(f"id={anchor}") if f"id={anchor}" in text else text.index(f'id="{anchor}"') :
    ].split(end, 1)[0]


def test_every_result_is_on_the_page_and_every_failure_has_its_evidence() -> None:
    report = replace(violated(), topology=TOPOLOGY)
    text, page = _page(report)
    idx = html._Index(report)
    for n, r in enumerate(report.results):
        if r.verdict in (Verdict.FAIL, Verdict.ERROR):
            line = [a for t, a in page.elements if a.get("id") == f"r{n}"]
            assert len(line) == 1 and line[0]["class"].split()[0] == html.vk(r), r.id
            card = _chunk(text, f"f{n}", "</article>")
            assert escape(r.id) in card and escape(r.expected) in card and escape(r.actual) in card
            assert (
                escape(r.reason) in card
                and f'class="{html.vk(r)} ' in text[text.index(f'id="f{n}"') - 80 :]
            )
        elif r.kind in (Kind.REACH, Kind.ISOLATION, Kind.DNS):
            pair = _chunk(text, idx.pair_anchor(r.src, idx.owner.get(r.dst, r.dst)))
            word, rest = html.item_text(r).split(" ", 1)
            assert re.search(
                f'<i class="?{html.vk(r)}[^>]*>{word} ([^<]*, )?{re.escape(rest)}(, |</i>)', pair
            ), r.id
        else:
            assert f"<code>{escape(r.id)}</code>" in text, r.id
        assert not page.find("article", id=f"f{n}") or r.verdict in (Verdict.FAIL, Verdict.ERROR)
    assert len(page.find("article")) == len(report.violations())


def test_the_summary_and_the_exit_code_meaning() -> None:
    for report, code, words in (
        (violated(), 1, "contract VIOLATED"),
        (holds(), 0, "contract holds"),
        (not_evaluated(), 3, "contract NOT EVALUATED"),
    ):
        text, page = _page(report)
        assert words in text and f"Exit code <b>{code}</b>" in text
        assert page.find("p", id="summary", class_={0: "ok", 1: "bad", 3: "warn"}[code])


def test_matrix_cells_carry_a_symbol_and_link_to_checks_that_exist() -> None:
    text, page = _page(violated())
    cells = re.findall(r"<td class=(m\w)><a href=#(p\d+-\d+)[^>]*>(.)</a>", text)
    assert cells and all(anchor in page.ids for _, anchor, _ in cells)
    by_state = {state: symbol for state, _, symbol in cells}
    assert by_state == {"ma": "✓", "md": "✗", "mb": "·", "me": "!", "ms": "?"}
    frontend_db = html._Index(replace(violated(), topology=TOPOLOGY)).pair_anchor("frontend", "db")
    assert ("md", frontend_db, "✗") in cells
    pair = _chunk(text, frontend_db)
    assert (
        "isolation:frontend-&gt;db:5432@data_tier" not in pair
    )  # the pair shows what its id adds:
    assert (
        'class="F12 t2">isolation :5432@data_tier <span' in pair
    )  # a FAIL on its own line, with why
    assert "dns db.devonboarder.internal" in pair  # the lookups of db's alias sit with db


def test_the_graph_draws_the_failing_flows_as_failing() -> None:
    _, page = _page(violated())
    fails = {(a["data-src"], a["data-dst"]) for a in page.find("g", class_="edge fail")}
    errors = {(a["data-src"], a["data-dst"]) for a in page.find("g", class_="edge error")}
    assert fails == {("frontend", "db"), ("db", "frontend")}
    assert errors == {("traefik", "db"), ("dashboard", "db")}
    assert page.find("g", class_="service bad", data_service="frontend")  # its networks: FAIL
    assert not page.find("g", class_="service bad", data_service="backend")
    assert len(page.find("g", class_="tier")) == len(TOPOLOGY.tiers)
    assert (
        len(page.find("g", class_="flow")) == 3
    )  # auth <-> api, auth -> data, api -> data: policy.allow
    _, clean = _page(holds())
    assert not clean.find("g", class_="edge")


def test_filters_list_every_service_tier_and_kind_and_start_hidden() -> None:
    report = violated()
    _, page = _page(report)
    assert page.find("form", id="filters")[0].get("hidden") == ""  # shown by the script only
    options = {a["value"] for a in page.find("option") if a["value"]}
    kinds = {html.KIND_CODE[r.kind] for r in report.results}
    assert kinds <= options and {f"t{i}" for i in range(len(TOPOLOGY.tiers))} <= options
    assert {f"s{i}" for i in range(len(TOPOLOGY.services))} <= options


def test_the_page_is_self_contained_and_its_csp_allows_only_its_own_style_and_script() -> None:
    _, page = _page(violated())
    for _tag, attrs in page.elements:
        for name, value in attrs.items():
            if name in ("href",):
                assert value.startswith("#"), value
            assert not value.startswith(("http:", "https:", "//", "javascript:")) or name == "xmlns"
    assert page.scripts == [html_assets.JS]
    csp = page.find("meta", http_equiv="Content-Security-Policy")[0]["content"]
    for asset in (html_assets.CSS, html_assets.JS):
        digest = base64.b64encode(hashlib.sha256(asset.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp


def _hostile_report(name: str) -> Report:
    """`name` everywhere a name from the contract or the engine can reach the page."""
    topo = Topology(
        tiers=(TierView(name, f"net{name}", True), TierView("t2", name)),
        services=(
            ServiceView(name, (name, "t2"), name, (f"{name}.alias",)),
            ServiceView("web", ("t2",), "t2"),
        ),
        allowed=frozenset({(name, "t2")}),
        isolated=((name, "web"),),
        project=name,
    )
    results = (
        Result(
            f"isolation:web->{name}:80@{name}",
            Kind.ISOLATION,
            f"web->{name}",
            Verdict.FAIL,
            f"{name} blocked",
            f"ok {name}",
            f"because {name}",
            output=f"[netns:{name}] connect {name} ok 0.3 ms\n{name}",
            src="web",
            dst=name,
            tier=name,
            executor=name,
            containers=(name,),
        ),
        Result(
            f"reach:{name}->web:80@t2",
            Kind.REACH,
            f"{name}->web",
            Verdict.ERROR,
            "reachable",
            name,
            name,
            src=name,
            dst="web",
            tier="t2",
        ),
        Result(
            f"dns:web->{name}",
            Kind.DNS,
            f"web->{name}",
            Verdict.PASS,
            name,
            name,
            src="web",
            dst=name,
        ),
        Result(
            f"networks:{name}",
            Kind.NETWORKS,
            name,
            Verdict.FAIL,
            name,
            name,
            name,
            service=name,
            location=f"{name}:3",
        ),
    )
    return Report(
        f"{name}.yaml",
        results,
        project=name,
        source=name,
        notes=(name,),
        engine=name,
        topology=topo,
    )


@pytest.mark.parametrize(
    "name",
    [
        *NAMES,
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</style><svg onload=alert(1)>",
        "&lt;b&gt;",
        "javascript:alert(1)",
    ],
)
def test_hostile_names_are_escaped_everywhere(name: str) -> None:
    text = html.render(_hostile_report(name))
    assert CONTROL.search(text.replace("\n", "")) is None
    page = Page(text)
    assert {t for t, _ in page.elements} <= TAGS
    assert {a for _, attrs in page.elements for a in attrs} <= ATTRS
    assert page.scripts == [html_assets.JS]
    assert all(a["href"].startswith("#") for t, a in page.elements if "href" in a)
    shown = "".join(page.text)
    assert sanitize.line(name).strip() in shown  # what was there, visibly


NOTE = (
    "netns: timeouts judged on windows of at least dns 100 ms (slowest answer 4.0 ms), tcp4 100 ms (slowest "
    "answer 0.1 ms); floor 100 ms, 10x the slowest answer on the same kind of path"
)


@pytest.mark.parametrize(
    ("output", "kind", "rid", "want"),
    [
        # outputs as the netns executor writes them (tests/assets/live-forbidden-connect.json)
        (
            "[netns:192.168.64.2] connect 192.168.64.2:5432: connected (0.0 ms)",
            Kind.ISOLATION,
            "isolation:frontend->db:5432@data_tier",
            {"family": "IPv4", "latency": "0.0 ms"},
        ),
        (
            "[netns:fd00::2] connect [fd00::2]:5432: no answer within 2003 ms",
            Kind.REACH,
            "reach:a->db:5432@t",
            {"family": "IPv6", "window": "2003 ms (no answer)"},
        ),
        (
            "[netns:192.168.64.2] connect 192.168.64.2:5432: no answer (timeout)",
            Kind.ISOLATION,
            "isolation:a->db:5432@t",
            {"family": "IPv4", "window": "at least 100 ms for tcp4 timeouts in this run"},
        ),
        (
            "[netns:db] A db @127.0.0.11:53: 192.168.64.2 (2.3 ms)",
            Kind.DNS,
            "dns:frontend->db",
            {"latency": "2.3 ms"},
        ),
        (
            "[netns:database] A database @127.0.0.11:53: NXDOMAIN",
            Kind.DNS,
            "dns:frontend->database",
            {"window": "at least 100 ms for dns timeouts in this run"},
        ),
    ],
)
def test_the_evidence_the_report_has(
    output: str, kind: Kind, rid: str, want: dict[str, str]
) -> None:
    r = Result(
        rid,
        kind,
        "x",
        Verdict.FAIL,
        "e",
        "a",
        output=output,
        executor="netns",
        attempts=2,
        duration=0.1066,
    )
    got = dict(evidence.evidence(r, evidence.windows(Report("c", (r,), notes=(NOTE,)))))
    assert got == {
        "executor": "netns",
        "attempts": "2",
        "batch": "0.11 s (the source's probes)",
        **want,
    }
    assert evidence.evidence(replace(r, executor="", output="", attempts=0, duration=0.0), {}) == []


def test_a_report_without_topology_still_renders() -> None:
    text = html.render(violated())
    assert "carries no contract to draw" in text and "contract VIOLATED" in text


def test_html_is_an_artifact_and_lint_writes_it(tmp_path: Path) -> None:
    assert ReportFormat.HTML in ARTIFACTS
    out = tmp_path / "reports" / "lint.html"
    r = CliRunner().invoke(
        main,
        [
            "lint",
            "-c",
            str(CONTRACT),
            "-f",
            str(COMPOSE),
            "-q",
            "--compose-loader",
            "builtin",
            "--html",
            str(out),
        ],
        catch_exceptions=False,
    )
    text = out.read_text(encoding="utf-8")
    assert r.exit_code in (0, 1) and text.startswith("<!DOCTYPE html>")
    assert "netcontract lint" in text and "nothing is probed" in text
    page = Page(text)
    assert page.find("g", class_="tier") and '<ul class="its"><li class="' in text
    assert "--html PATH" in CliRunner().invoke(main, ["check", "--help"]).output


def test_serve_answers_the_page_at_root() -> None:
    latest = Latest()
    server = make_server("127.0.0.1", 0, latest)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"  # loopback: our own server
        with pytest.raises(urllib.error.HTTPError) as early:
            urllib.request.urlopen(base + "/", timeout=5)
        assert early.value.code == 503
        latest.report = replace(violated(), topology=TOPOLOGY)
        with urllib.request.urlopen(base + "/", timeout=5) as resp:
            body = resp.read().decode()
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/html")
            assert resp.headers["Content-Security-Policy"] == html.CSP
        assert body == html.render(latest.report)
    finally:
        server.shutdown()
        server.server_close()


def _synthetic_48() -> Report:
    """A report shaped like the 48-container benchmark stack's (benchmarks/bench.py layout): per ordered
    pair a TCP probe on every tier the target is on, and a lookup of its name and of each of its aliases."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    layout = bench.layout(48)
    topo = Topology(
        tiers=tuple(TierView(t, f"ncbench48_{t}", t == "data") for t in bench.TIERS),
        services=tuple(
            ServiceView(n, tuple(ts), ts[0], tuple(f"{n}.{t}.internal" for t in ts))
            for n, ts in layout
        ),
        allowed=frozenset({("edge", "app"), ("app", "data")}),
        project="ncbench48",
    )
    results: list[Result] = []
    for src, st in layout:
        for dst, dt in layout:
            if src == dst:
                continue
            for tier in dt:
                kind = Kind.REACH if tier in st else Kind.ISOLATION
                results.append(
                    Result(
                        f"{kind.value}:{src}->{dst}:8080@{tier}",
                        kind,
                        f"{src}->{dst}",
                        Verdict.PASS,
                        "reachable" if kind is Kind.REACH else "blocked",
                        "ok" if kind is Kind.REACH else "timeout",
                        output=f"[netns:172.30.{len(results) % 250}.7] connect ok 0.2 ms",
                        duration=0.31,
                        attempts=1,
                        src=src,
                        dst=dst,
                        tier=tier,
                        executor="netns",
                    )
                )
            for name in (dst, *(f"{dst}.{t}.internal" for t in dt)):
                results.append(
                    Result(
                        f"dns:{src}->{name}",
                        Kind.DNS,
                        f"{src}->{name}",
                        Verdict.PASS,
                        "NXDOMAIN",
                        "NXDOMAIN",
                        output="",
                        duration=0.31,
                        attempts=1,
                        src=src,
                        dst=name,
                        executor="netns",
                    )
                )
    return Report(
        "ncbench48.contract.json", tuple(results), project="ncbench48", duration=0.9, topology=topo
    )


def test_the_page_for_a_48_container_stack_stays_small() -> None:
    report = _synthetic_48()
    size = len(html.render(report).encode())
    assert len(report.results) > 6000
    assert size < 450_000, size  # measured figures: docs/report.md

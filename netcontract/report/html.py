"""One self-contained HTML page: summary, reachability matrix, tier graph, evidence, every check. Pure.

What a reviewer who has never run netcontract needs, in one file a CI system keeps as an artifact
(and `serve` answers at `/`):

- the summary line and what the exit code means;
- the reachability matrix (report/matrix.py's cells), a symbol as well as a colour per cell, each cell
  a link to its pair's checks;
- the tier graph as inline SVG (report/svg.py), failing flows drawn as failing;
- every FAIL and ERROR with expected, actual, why and the probe evidence the report has (executor,
  address family, latency read from the probe output, the netns window of its kind of path from the
  report's notes, attempts, raw output);
- every check, grouped: structural by kind, reach and isolation by (source, target) pair, DNS by source;
- filters (verdict, service, tier, kind) when JavaScript runs; without it everything is shown.

Self-contained and inert: styles, script and SVG are inline; a Content-Security-Policy allows only that
one style sheet and that one script (by hash) and nothing from the network. Every text that comes from
the contract, the engine or a probe goes through `sanitize` and `html.escape`.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from netcontract.report import html_assets
from netcontract.report.drawing import build_graph
from netcontract.report.evidence import evidence, windows
from netcontract.report.matrix import LEGEND, TERMINAL_GLYPHS, CellState, matrix_rows
from netcontract.report.svg import render_svg
from netcontract.report.table import summary_line
from netcontract.results import ExitCode, Kind, Report, Result, Verdict
from netcontract.sanitize import block, line

SYMBOL = {Verdict.PASS: "✓", Verdict.FAIL: "✗", Verdict.ERROR: "!", Verdict.SKIP: "?"}
CELL_SYMBOL = TERMINAL_GLYPHS.cells  # the terminal matrix's glyphs
EXIT_MEANING = {
    ExitCode.OK: "the contract holds: every check passed (skips allowed)",
    ExitCode.VIOLATED: "at least one check FAILED: the contract is violated",
    ExitCode.NOT_EVALUATED: "could not evaluate: some checks could not be made (ERROR) and none failed; "
    "an ERROR is never evidence either way",
}
PAIR_KINDS = (Kind.REACH, Kind.ISOLATION)
KIND_CODE = {
    k: str(i) for i, k in enumerate(Kind)
}  # short class names: a 48-container page has ~8,000 checks
CELL_CLASS = {
    CellState.ALLOWED: "ma",
    CellState.BLOCKED: "mb",
    CellState.MIXED: "mm",
    CellState.DIFFERS: "md",
    CellState.ERROR: "me",
    CellState.SKIPPED: "ms",
}


def e(text: str) -> str:
    """One line of outside text for HTML: control characters escaped visibly, then HTML-escaped."""
    return escape(line(text), quote=True)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (
    f"default-src 'none'; style-src {_csp_hash(html_assets.CSS)}; script-src {_csp_hash(html_assets.JS)}; "
    "base-uri 'none'; form-action 'none'"
)


class _Index:
    """Stable page ids: a number per service and per tier (class names `s3`, `t1`), per result (`r12`)."""

    def __init__(self, report: Report) -> None:
        topo = report.topology
        self.matrix_services, self.cells = matrix_rows(report)
        self.services: list[str] = []
        self._pos: dict[str, int] = {}
        self.tiers: list[str] = [t.key for t in topo.tiers] if topo else []
        self.owner = {a: s.name for s in topo.services for a in s.aliases} if topo else {}
        for name in [s.name for s in topo.services] if topo else []:
            self._add(name)
        for name in self.matrix_services:
            self._add(name)
        for r in report.results:
            if r.tier and r.tier not in self.tiers:
                self.tiers.append(r.tier)
            for name in (r.src, r.service):
                if name:
                    self._add(name)

    def _add(self, name: str) -> None:
        if name not in self._pos:
            self._pos[name] = len(self.services)
            self.services.append(name)

    def s(self, name: str) -> int | None:
        """The number of service `name` (or of the service an alias belongs to), None when it is none."""
        return self._pos.get(self.owner.get(name, name))

    def classes(self, r: Result, services: bool = True) -> str:
        """The filter classes of a result: verdict, kind, tier and (unless its pair's id says them) the services
        it is about."""
        out = [vk(r)]
        subject = r.subject.split("@")[0]
        tier = r.tier or (subject if subject in self.tiers else "")
        if tier in self.tiers:
            out.append(f"t{self.tiers.index(tier)}")
        for name in dict.fromkeys(n for n in (r.src, r.dst, r.service, subject) if n and services):
            i = self.s(name)
            if i is not None:
                out.append(f"s{i}")
        return " ".join(dict.fromkeys(out))

    def pair_anchor(self, src: str, dst: str) -> str:
        """The id of the (src, dst) pair's checks on the page."""
        return f"p{self.s(src)}-{self.s(dst)}"


def vk(r: Result) -> str:
    """A result's verdict and kind as one class name (`F11`: FAIL, isolation): what the filters read."""
    return r.verdict.value[0] + KIND_CODE[r.kind]


# -- sections -----------------------------------------------------------------------------------------


def _header(report: Report) -> str:
    code = report.exit_code
    cls = {ExitCode.OK: "ok", ExitCode.VIOLATED: "bad"}.get(code, "warn")
    head = summary_line(report)
    facts = [
        ("contract", report.contract),
        ("project", report.project or "-"),
        ("source", report.source),
    ]
    if report.engine:
        facts.append(("engine", report.engine))
    dl = "".join(f"<dt>{k}</dt><dd>{e(v)}</dd>" for k, v in facts)
    mark = {"ok": "✓", "bad": "✗", "warn": "!"}[cls]
    return (
        f"<header><h1>netcontract {e(report.command)}</h1>"
        f'<p class="verdict {cls}" id="summary"><span aria-hidden="true">{mark}</span> {e(head)}</p>'
        f'<p id="exit-code">Exit code <b>{int(code)}</b>: {EXIT_MEANING.get(code, "")}</p>'
        f'<dl class="facts">{dl}</dl></header>'
    )


def _nav(report: Report) -> str:
    bad = len(report.violations())
    return (
        '<nav><a href="#matrix">Matrix</a> · <a href="#graph">Tier graph</a> · '
        f'<a href="#failures">Failures and errors ({bad})</a> · <a href="#checks">Every check '
        f"({len(report.results)})</a>"
        + (' · <a href="#notes">Notes</a>' if report.notes else "")
        + "</nav>"
    )


def _filters(idx: _Index, report: Report) -> str:
    kinds = list(dict.fromkeys(r.kind for r in report.results))
    boxes = "".join(
        f'<label><input type="checkbox" name="v" value="{v.value[0]}" checked> {SYMBOL[v]} {v.value}'
        "</label>"
        for v in Verdict
    )
    services = "".join(f'<option value="s{i}">{e(n)}</option>' for i, n in enumerate(idx.services))
    tiers = "".join(f'<option value="t{i}">{e(n)}</option>' for i, n in enumerate(idx.tiers))
    kind_opts = "".join(f'<option value="{KIND_CODE[k]}">{k.value}</option>' for k in kinds)
    return (
        '<form id="filters" hidden aria-label="filters"><fieldset><legend>Show</legend>'
        f'<span class="verdicts">{boxes}</span>'
        f'<label>service <select name="s"><option value="">any</option>{services}</select></label>'
        f'<label>tier <select name="t"><option value="">any</option>{tiers}</select></label>'
        f'<label>kind <select name="k"><option value="">any</option>{kind_opts}</select></label>'
        '<output id="shown" aria-live="polite"></output></fieldset></form>'
    )


def _matrix(report: Report, idx: _Index) -> str:
    services, cells = idx.matrix_services, idx.cells
    if not services:
        return (
            '<section id="matrix"><h2>Reachability matrix</h2><p>No reach or isolation checks in this '
            "report"
            + (" (lint reads compose files; nothing is probed)" if report.command == "lint" else "")
            + ".</p></section>"
        )
    nums = {s: idx.s(s) for s in services}
    head = "".join(
        f'<th scope="col" data-s="s{nums[s]}" title="{e(s)}">{n}</th>'
        for n, s in enumerate(services, 1)
    )
    rows = []
    for n, src in enumerate(services, 1):
        tds = []
        for dst in services:
            cell = cells.get((src, dst))
            if cell is None:
                tds.append("<td class=m0>-" if src == dst else "<td>")
                continue
            st = cell.state
            title = ""
            if st in (CellState.DIFFERS, CellState.ERROR, CellState.SKIPPED):
                bad = sum(1 for r in cell.results if r.verdict is not Verdict.PASS)
                title = f' title="{e(src)} → {e(dst)}: {LEGEND[st]} ({bad} of {len(cell.results)} checks)"'
            tds.append(
                f"<td class={CELL_CLASS[st]}><a href=#{idx.pair_anchor(src, dst)}{title}>{CELL_SYMBOL[st]}</a>"
            )
        rows.append(
            f'<tr data-s="s{nums[src]}"><th scope="row">{n}. {e(src)}</th>{"".join(tds)}</tr>'
        )
    used = {c.state for c in cells.values()} | {
        CellState.ALLOWED,
        CellState.BLOCKED,
        CellState.DIFFERS,
    }
    legend = "".join(
        f'<li><span class="sw {CELL_CLASS[s]}">{CELL_SYMBOL[s]}</span> {LEGEND[s]}</li>'
        for s in CellState
        if s in used
    )
    return (
        '<section id="matrix"><h2>Reachability matrix</h2><p>From the row to the column; each cell links to '
        'its checks.</p><div class="scroll"><table class="matrix"><thead><tr><th scope="col">from \\ to</th>'
        f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div><ul class="legend">{legend}</ul>'
        "</section>"
    )


def _graph(report: Report, idx: _Index) -> str:
    if report.topology is None:
        return '<section id="graph"><h2>Tier graph</h2><p>This report carries no contract to draw.</p></section>'
    g = build_graph(report.topology, report.violations())

    def href(src: str, dst: str) -> str | None:
        return f"#{idx.pair_anchor(src, dst)}" if (src, dst) in idx.cells else None

    legend = (
        '<ul class="legend"><li><span class="key flow">⇒</span> allowed tier flow (policy.allow)</li>'
        '<li><span class="key member">- -</span> also attached to that tier</li>'
        '<li><span class="key never">···</span> never (policy.isolate)</li>'
        '<li><span class="key internal">▭</span> internal tier (dashed): no egress</li>'
        '<li><span class="key fail">✗ ━</span> violation (FAIL), links to its checks</li>'
        '<li><span class="key error">! ╍</span> could not check (ERROR)</li></ul>'
    )
    return (
        f'<section id="graph"><h2>Tier graph</h2><div class="scroll">{render_svg(g, href)}</div>{legend}'
        "</section>"
    )


def _dl(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<dt>{k}</dt><dd>{e(v)}</dd>" for k, v in pairs)


def _card(n: int, r: Result, idx: _Index, wins: dict[str, int]) -> str:
    facts = [("expected", r.expected), ("actual", r.actual)]
    if r.reason:
        facts.append(("why", r.reason))
    ev = evidence(r, wins)
    ev_html = (
        " · ".join(f"{k} <b>{e(v)}</b>" for k, v in ev) or "none recorded (a structural check)"
    )
    out = f"<pre>{escape(block(r.output.rstrip()))}</pre>" if r.output.strip() else ""
    links = [f'<a href="#r{n}">in every check</a>']
    if r.kind in PAIR_KINDS and (r.src, r.dst) in idx.cells:
        links.insert(
            0, f'<a href="#{idx.pair_anchor(r.src, r.dst)}">checks {e(r.src)} → {e(r.dst)}</a>'
        )
    return (
        f'<article class="{idx.classes(r)} card" id="f{n}"><h3><span class="badge b{r.verdict.value[0]}">'
        f'{SYMBOL[r.verdict]} {r.verdict.value}</span> <code>{e(r.id)}</code></h3><dl class="kv">{_dl(facts)}'
        f'<dt>evidence</dt><dd class="ev">{ev_html}</dd></dl>{out}<p class="links">{" · ".join(links)}</p>'
        "</article>"
    )


def _failures(report: Report, idx: _Index) -> str:
    wins = windows(report)
    numbered = list(enumerate(report.results))
    bad = [(n, r) for n, r in numbered if r.verdict is Verdict.FAIL] + [
        (n, r) for n, r in numbered if r.verdict is Verdict.ERROR
    ]
    body = (
        "".join(_card(n, r, idx, wins) for n, r in bad)
        or "<p>None: every check passed or was skipped.</p>"
    )
    return f'<section id="failures"><h2>Failures and errors ({len(bad)})</h2>{body}</section>'


def _bad(n: int, r: Result, idx: _Index, tag: str, text: str, services: bool) -> str:
    detail = r.reason or r.actual
    return (
        f'<{tag} id="r{n}" class="{idx.classes(r, services)}">{text} <span class="d">{e(detail)}</span> '
        f'<a href="#f{n}">evidence</a></{tag}>'
    )


def _structural(items: list[tuple[int, Result]], idx: _Index) -> str:
    out = []
    for n, r in items:
        text = f"<code>{e(r.id)}</code>"
        if r.verdict in (Verdict.FAIL, Verdict.ERROR):
            out.append(_bad(n, r, idx, "li", text, True))
        else:
            out.append(f'<li class="{idx.classes(r)}">{text}</li>')
    return "".join(out)


def item_text(r: Result) -> str:
    """What a probe's line in its pair says (escaped): `isolation :5432@data_tier`, `dns db.internal`."""
    if r.kind in PAIR_KINDS:
        return f"{r.kind.value} {e(_rest(r))}"
    return f"{r.kind.value} {e(r.dst or r.subject)}"


def _pair_items(items: list[tuple[int, Result]], idx: _Index) -> str:
    """A pair's checks: each FAIL or ERROR on its own with why and a link to its evidence; the others that
    share verdict, kind and tier on one line (`dns db, db.internal`): a 48-container page lists ~8,000."""
    slots: list[str | tuple[str, str]] = []
    groups: dict[tuple[str, str], list[str]] = {}
    for n, r in items:
        if r.verdict in (Verdict.FAIL, Verdict.ERROR):
            slots.append(_bad(n, r, idx, "i", item_text(r), False))
            continue
        key = (idx.classes(r, services=False), r.kind.value)
        if key not in groups:
            groups[key] = []
            slots.append(key)
        groups[key].append(item_text(r).removeprefix(r.kind.value + " "))

    def group(key: tuple[str, str]) -> str:
        cls = key[0] if " " not in key[0] else f'"{key[0]}"'
        return f"<i class={cls}>{key[1]} {', '.join(groups[key])}</i>"

    return "".join(x if isinstance(x, str) else group(x) for x in slots)


def _checks(report: Report, idx: _Index) -> str:
    """Structural checks by kind; probes by source, then target (its alias lookups with it)."""
    structural: dict[str, list[tuple[int, Result]]] = {}
    by_source: dict[str, dict[str, list[tuple[int, Result]]]] = {}
    for n, r in enumerate(report.results):
        if (
            r.src
            and r.kind in (*PAIR_KINDS, Kind.DNS, Kind.EGRESS, Kind.HOST)
            and idx.s(r.src) is not None
        ):
            target = idx.owner.get(r.dst, r.dst) if r.kind is Kind.DNS else r.dst
            by_source.setdefault(r.src, {}).setdefault(target, []).append((n, r))
        else:
            structural.setdefault(r.kind.value, []).append((n, r))
    parts = ['<section id="checks"><h2>Every check</h2>']
    if structural:
        parts.append("<h3>Structure</h3>")
        for kind, items in structural.items():
            parts.append(
                f'<div class="grp"><h4>{e(kind)}</h4><ul class="its">{_structural(items, idx)}</ul></div>'
            )
    if by_source:
        parts.append("<h3>Probes, by source and target</h3>")
    for src, targets in by_source.items():
        pairs = []
        for dst, items in targets.items():
            j = idx.s(dst)
            anchor = f" id=p{idx.s(src)}-{j}" if j is not None else ""
            pairs.append(f"<li{anchor}><b>{e(dst)}</b> {_pair_items(items, idx)}</li>")
        parts.append(
            f'<div class="grp" id="s{idx.s(src)}"><h4>from {e(src)}</h4><ul class="pairs">'
            f"{''.join(pairs)}</ul></div>"
        )
    parts.append("</section>")
    return "".join(parts)


def _rest(r: Result) -> str:
    """What a pair's result id adds to its pair: `:5432@data_tier`."""
    head = f"{r.kind.value}:{r.subject}"
    return r.id[len(head) :] if r.id.startswith(head) else r.id


def _notes(report: Report) -> str:
    if not report.notes:
        return ""
    return (
        '<section id="notes"><h2>Notes</h2><ul>'
        + "".join(f"<li>{e(n)}</li>" for n in report.notes)
        + "</ul></section>"
    )


def render(report: Report) -> str:
    """The page (see the module docstring)."""
    idx = _Index(report)
    title = f"netcontract {report.command}: {summary_line(report).split(':', 1)[0]}"
    if report.project:
        title += f" ({report.project})"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{e(title)}</title><style>{html_assets.CSS}</style></head><body>"
        + _header(report)
        + _nav(report)
        + _filters(idx, report)
        + "<main>"
        + _matrix(report, idx)
        + _graph(report, idx)
        + _failures(report, idx)
        + _checks(report, idx)
        + _notes(report)
        + f"</main><script>{html_assets.JS}</script></body></html>\n"
    )

"""Everything printed or written is sanitised for its medium: control characters and ANSI escapes from
names and container output are escaped (visibly) in the terminal and in JUnit XML; Markdown escapes
links, images, HTML, mentions and issue references."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract import sanitize
from netcontract.cli.main import main
from netcontract.report import graph, html, html_assets, junit, markdown, matrix, table
from netcontract.report.formats import GraphFormat
from netcontract.results import Kind, Report, Result, Verdict

ROOT = Path(__file__).resolve().parents[2]
NAMES = json.loads((ROOT / "tests" / "hostile" / "names.json").read_text(encoding="utf-8"))
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

ANSI = "\x1b[2J\x1b[31mred\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\"
EVIL = f"db{ANSI}\rOK \u202egnp.exe\x00\x85\x9b31m\u2028next"


def hostile_report() -> Report:
    fail = Result(
        f"reach:web->{EVIL}:80@front",
        Kind.REACH,
        f"web->{EVIL}",
        Verdict.FAIL,
        f"{EVIL}:80 reachable",
        "timeout",
        f"because {EVIL}",
        output=f"nc: {ANSI} timed out\r\n\x07bell",
        src="web",
        dst=EVIL,
    )
    iso = Result(
        f"isolation:{EVIL}->web:80@back",
        Kind.ISOLATION,
        f"{EVIL}->web",
        Verdict.ERROR,
        "blocked",
        f"error {ANSI}",
        "probe failed",
        src=EVIL,
        dst="web",
    )
    dns = Result(
        f"dns:web->{EVIL}", Kind.DNS, f"web->{EVIL}", Verdict.FAIL, "resolves", f"{ANSI}", "why"
    )
    return Report(
        f"contracts/{EVIL}.yaml",
        (fail, iso, dns),
        project=EVIL,
        source=f"{ANSI}",
        notes=(f"note {EVIL}",),
    )


@pytest.mark.parametrize("verbose", [False, True])
def test_the_terminal_table_escapes_every_control_character(verbose: bool) -> None:
    text = table.render(hostile_report(), verbose=verbose)
    assert CONTROL.search(text.replace("\n", "")) is None
    assert "\\x1b[2J" in text and "\\r" in text and "\\u202e" in text and "\\x00" in text
    assert all("\r" not in line for line in text.split("\n"))
    coloured = table.render(hostile_report(), colour=True)
    assert set(re.findall("\x1b\\[[0-9;]*m", coloured)) <= {
        "\x1b[31m",
        "\x1b[33m",
        "\x1b[0m",
    }  # only our colours


def test_the_matrix_escapes_names_and_results() -> None:
    text = matrix.render(hostile_report(), colour=True)
    assert set(re.findall("\x1b\\[[0-9;]*m", text)) <= {
        "\x1b[1;31m",
        "\x1b[33m",
        "\x1b[32m",
        "\x1b[90m",
        "\x1b[36m",
        "\x1b[0m",
    }
    assert CONTROL.search(re.sub("\x1b\\[[0-9;]*m", "", text).replace("\n", "")) is None
    assert "db\\x1b[2J" in text


def test_junit_is_valid_xml_and_shows_what_was_there(tmp_path: Path) -> None:
    text = junit.render(hostile_report())
    root = ET.fromstring(text.split("\n", 1)[1])  # parses: only characters XML 1.0 allows
    assert CONTROL.search(text.replace("\n", "").replace("\t", "")) is None
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("name", "").startswith("reach:web->db\\x1b[2J")
    out = case.find("system-out")
    assert (
        out is not None
        and out.text
        == "nc: \\x1b[2J\\x1b[31mred\\x1b]8;;http://evil.example\\x1b\\link"
        "\\x1b]8;;\\x1b\\ timed out\n\\x07bell"
    )


def test_the_html_page_escapes_names_output_and_notes() -> None:
    text = html.render(hostile_report())
    assert CONTROL.search(text.replace("\n", "")) is None
    assert "db\\x1b[2J\\x1b[31mred\\x1b]8;;http://evil.example" in text  # shown, not acted on
    assert "\\r" in text and "\\u202e" in text and "\\x00" in text
    assert text.count("<script>") == 1 and f"<script>{html_assets.JS}</script>" in text
    assert (
        'href="http' not in text and "href=http" not in text
    )  # the hyperlink escape is text, not a link


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("[click me](https://evil.example)", "\\[click me\\](https://evil.example)"),
        ("![pixel](https://evil.example/t.png)", "!\\[pixel\\](https://evil.example/t.png)"),
        ("[x]: https://evil.example", "\\[x\\]: https://evil.example"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)>"),
        ("<https://evil.example>", "&lt;https://evil.example>"),
        ("&lt;b&gt;", "&amp;lt;b&amp;gt;"),
        (
            "ping @security-team and @org/admins",
            "ping @&#8203;security-team and @&#8203;org/admins",
        ),
        ("db@data_tier", "db@data_tier"),  # no mention: a word character before the @
        ("fixes #1 and owner/repo#12", "fixes #&#8203;1 and owner/repo#&#8203;12"),
        ("a | b\nc", "a \\| b<br>c"),
        ("`code`", "\\`code\\`"),
        ("\x1b[31mred\x1b[0m\x00", "\\x1b\\[31mred\\x1b\\[0m\\x00"),
    ],
)
def test_markdown_escape(text: str, rendered: str) -> None:
    assert markdown.escape(text) == rendered


def test_the_markdown_summary_has_no_link_mention_or_control_character() -> None:
    r = Result(
        "alias:web@front:x",
        Kind.ALIAS,
        "web@front",
        Verdict.FAIL,
        "[pay here](https://evil.example) @admins",
        "![t](https://evil.example/t.png) <script>x</script>",
        f"closes #7 {ANSI}",
    )
    text = markdown.render(Report("c.yaml", (r,)))
    assert "](" not in text.replace("\\](", "") and "<script" not in text and "@admins" not in text
    assert "#7" not in text and CONTROL.search(text.replace("\n", "")) is None


def test_graph_labels_escape_control_characters() -> None:
    from netcontract.contract import contract_from_data

    c = contract_from_data(
        {"version": 1, "tiers": {"t": {"network": "n"}}, "services": {"a": {"tiers": ["t"]}}}
    )
    v = [
        Result(f"reach:a->{EVIL}:80@t", Kind.REACH, "a", Verdict.FAIL, "x", "y", src="a", dst=EVIL)
    ]
    for fmt in GraphFormat:
        text = graph.render_graph(c, fmt, v)
        assert CONTROL.search(text.replace("\n", "")) is None, fmt


@pytest.mark.parametrize("name", NAMES)
def test_sanitize_line_leaves_nothing_a_terminal_acts_on(name: str) -> None:
    out = sanitize.line(name)
    assert CONTROL.search(out) is None and "\n" not in out and "\t" not in out
    out.encode("utf-8")  # lone surrogates are escaped too: always encodable (raises if not)


def test_stderr_messages_are_escaped(tmp_path: Path) -> None:
    c = tmp_path / "c.yaml"
    c.write_text('version: 1\ntiers: {}\nservices:\n  "\\e[2Jx\\rOK": {tiers: [t]}\n')
    r = CliRunner().invoke(main, ["graph", "-c", str(c)], catch_exceptions=False)
    assert (
        r.exit_code == 4
        and CONTROL.search(r.stderr.replace("\n", "")) is None
        and "\\x1b[2J" in r.stderr
    )

"""The HTML report in a real browser: Debian's headless Chromium, driven by Selenium through the system's
chromedriver (no download, no network), sandbox off as root needs.

The page is the one of a check of the live test stack with one forbidden connect (frontend attached to
data_tier by hand): tests/assets/live-forbidden-connect.json is that run's JSON report (recorded with
`netcontract check --json` on the test stack, Docker 20.10, netns executor), rendered again here. The
docker-marked twin in tests/integration/test_html_live.py writes the page with `check --html` on the live
stack and runs the same checks.

NETCONTRACT_UPDATE_SCREENSHOT=1 also writes the screenshot to docs/report.png (the README shows it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from page_checks import check_page
from recorded import load_report

from netcontract.report import html

ROOT = Path(__file__).resolve().parents[2]
ASSET = ROOT / "tests" / "assets" / "live-forbidden-connect.json"
CONTRACT = ROOT / "contracts" / "devonboarder.yaml"
LEAK = "isolation:frontend->db:5432@data_tier"


def test_the_page_of_a_forbidden_connect_in_chromium(tmp_path: Path) -> None:
    report = load_report(ASSET, CONTRACT)
    assert any(
        r.id == LEAK and r.verdict.value == "FAIL" for r in report.results
    )  # the recorded leak
    page = tmp_path / "report.html"
    page.write_text(html.render(report), encoding="utf-8")
    shot = check_page(page, LEAK, tmp_path)
    if os.environ.get("NETCONTRACT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "report.png")


def test_a_page_without_failures_in_chromium(tmp_path: Path) -> None:
    """The same stack before the connect: the summary says the contract holds, and no edge is drawn failing."""
    report = load_report(ROOT / "tests" / "assets" / "live-holds.json", CONTRACT)
    page = tmp_path / "holds.html"
    page.write_text(html.render(report), encoding="utf-8")
    pytest.importorskip("selenium")
    from page_checks import browser

    with browser(1280, 900) as driver:
        driver.get(page.as_uri())
        assert driver.find_element("id", "summary").text.startswith("✓ contract holds")
        assert driver.find_elements("css selector", "#tier-graph g.edge") == []
        assert driver.find_elements("css selector", ".matrix td.md") == []
        assert driver.find_element("id", "failures").text.startswith("Failures and errors (0)")

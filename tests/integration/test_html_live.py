"""The HTML report of the live test stack with one forbidden connect (frontend attached to data_tier by
hand), written by `check --html` and opened in headless Chromium: the FAIL in the matrix cell and in the
list, the failing flow in the graph, the filters, no network request (tests/browser/page_checks.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from page_checks import check_page

pytestmark = pytest.mark.docker

DATA = "devonboarder_data_tier"
LEAK = "isolation:frontend->db:5432@data_tier"


def test_the_page_of_a_forbidden_connect(stack, cli, restore, tmp_path: Path) -> None:
    restore("frontend")
    stack.docker("network", "connect", DATA, stack.container("frontend"))
    page, js = tmp_path / "r" / "report.html", tmp_path / "r" / "report.json"

    run = cli.check("--html", str(page), "--json", str(js), fmt="table")

    assert run.code == 1, run
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and len(text.encode()) < 400_000
    check_page(page, LEAK, tmp_path)

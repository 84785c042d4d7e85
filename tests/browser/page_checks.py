"""What a reviewer must see on the HTML report of a check with one forbidden connect, checked in headless
Chromium: shared by the browser test (a recorded live report, rendered again) and the live test."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
RED = "rgb(214, 39, 40)"  # report/graph.py RED, #d62728


@contextlib.contextmanager
def browser(width: int, height: int) -> Iterator[Any]:
    """Headless Chromium at width x height, its performance (network) and console logs on."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(
            "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads anything here
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    if width < 500:  # a desktop window is at least 500 px wide: emulate the phone's screen instead
        options.add_experimental_option(
            "mobileEmulation",
            {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1}},
        )
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _requests(driver: Any) -> list[str]:
    """Every URL the page asked the network stack for, from Chromium's own DevTools log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _visible(driver: Any, css: str) -> list[Any]:
    return [el for el in driver.find_elements("css selector", css) if el.is_displayed()]


def check_page(page: Path, leak: str, out: Path) -> Path:
    """Open `page` (with the FAIL `leak`, frontend -> db), check what it shows; return the screenshot's path."""
    src, dst = leak.split(":", 1)[1].split("@")[0].split(":")[0].split("->")
    with browser(1280, 1500) as driver:
        driver.get(page.as_uri())
        assert "contract VIOLATED" in driver.title
        summary = driver.find_element("id", "summary")
        assert summary.is_displayed() and summary.text.startswith("✗ contract VIOLATED")
        assert "Exit code 1" in driver.find_element("id", "exit-code").text

        # the FAIL in the matrix: the frontend row's db column, a red cell with its own symbol
        cell = driver.execute_script(
            "var cols = Array.from(document.querySelectorAll('.matrix thead th[data-s]')).map(th => th.title);"
            "var row = Array.from(document.querySelectorAll('.matrix tbody tr'))"
            "  .find(tr => tr.querySelector('th').textContent.split('. ')[1] === arguments[0]);"
            "return row.querySelectorAll('td')[cols.indexOf(arguments[1])];",
            src,
            dst,
        )
        assert cell.text == "✗" and cell.get_attribute("class") == "md" and cell.is_displayed()
        assert cell.value_of_css_property("background-color") == "rgba(213, 94, 0, 1)"

        # ... and in the list: its line in the pair, and its evidence card
        failing = driver.find_element("xpath", f"//article[.//code[text()={json.dumps(leak)}]]")
        assert failing.is_displayed() and "expected" in failing.text and "evidence" in failing.text
        assert "executor " in failing.text  # netns, exec or sidecar: whoever made the observation
        line_id = (
            failing.find_element("css selector", "a[href^='#r']")
            .get_attribute("href")
            .split("#")[1]
        )
        line = driver.find_element("id", line_id)
        assert line.is_displayed() and line.text.startswith("isolation :5432@data_tier")

        # the graph draws the failing flow, red and with its symbol
        edge = driver.find_element(
            "css selector", f'#tier-graph g.edge.fail[data-src="{src}"][data-dst="{dst}"]'
        )
        assert edge.is_displayed() and "✗" in edge.find_element("css selector", "text").text
        assert edge.find_element("css selector", "path").value_of_css_property("stroke") == RED

        # a matrix cell links to its checks
        cell.find_element("css selector", "a").click()
        target = driver.execute_script("return location.hash")
        assert target.startswith("#p") and driver.find_element("id", target[1:]).is_displayed()

        shot = out / "report.png"
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(shot))

        # filters (JavaScript is on): FAIL only, then one service, then one kind
        form = driver.find_element("id", "filters")
        assert form.is_displayed()
        total = len(driver.find_elements("css selector", ".its > li, .pairs i"))
        driver.find_element("css selector", "input[name=v][value=P]").click()
        assert _visible(driver, ".pairs i[class^=P], .its > li[class^=P]") == []
        assert line.is_displayed() and failing.is_displayed()
        shown = driver.find_element("id", "shown").text
        assert (
            shown.startswith("showing ")
            and shown.endswith(f" of {total} lines")
            and int(shown.split()[1]) < total
        )
        passes = driver.find_element("css selector", "input[name=v][value=P]")
        passes.click()  # back on
        select = driver.find_element("css selector", "select[name=s]")
        for option in select.find_elements("css selector", "option"):
            if option.text == "dashboard":
                option.click()
                break
        assert (
            not failing.is_displayed() and not line.is_displayed()
        )  # frontend -> db is not about dashboard
        assert _visible(driver, ".pairs i") and all(
            "dashboard"
            in el.find_element("xpath", "ancestor::div[@class='grp']").text.split("\n")[0]
            or el.find_element("xpath", "ancestor::li[1]/b").text == "dashboard"
            for el in _visible(driver, ".pairs i")
        )
        assert cell.get_attribute("class") == "md off"  # the matrix dims what the filter leaves out
        select.find_element("css selector", "option[value='']").click()
        kind = driver.find_element("css selector", "select[name=k]")
        kind.find_element("xpath", "option[text()='dns']").click()
        assert _visible(driver, ".pairs i") and all(
            el.text.startswith("dns ") for el in _visible(driver, ".pairs i")
        )
        assert not failing.is_displayed()

        # self-contained: the only request was the page itself, and nothing complained (CSP, script errors)
        requests = _requests(driver)
        assert requests and set(requests) == {page.as_uri()}, requests
        assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == [], severe

    with browser(
        390, 844
    ) as phone:  # a phone-sized viewport: nothing wider than the screen but the scrollers
        phone.get(page.as_uri())
        assert phone.find_element("id", "summary").is_displayed()
        assert phone.execute_script("return window.innerWidth") == 390
        assert phone.execute_script("return document.documentElement.scrollWidth") <= 390
        phone.save_screenshot(str(out / "report-phone.png"))
    return shot

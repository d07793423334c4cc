"""The dashboard in a real browser: ``curate dashboard`` in a subprocess, headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (the Makefile's test target installs them
when missing) and Selenium. The drift pages' screenshots are saved under the test's temporary
folder, or under ``$CURATE_SCREENSHOTS`` when it is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import real_corpora as rc
from dashboard_fixtures import AFTER, BEFORE, add_run, pipeline_store, real_drift_store

from dashboard import screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not screenshot.CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing: apt-get install -y chromium chromium-driver",
    ),
]


def test_training_page_in_chromium(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    store = tmp_path / "store"
    pipeline_store(store, n=5000)
    add_run(store)
    log = tmp_path / "dashboard.log"
    with (
        screenshot.running_dashboard(store, log=log) as url,
        screenshot.chromium(tmp_path / "chromium-profile") as driver,
    ):
        screenshot.open_page(driver, url, "Overview")
        link = driver.find_element(By.CSS_SELECTOR, 'a[href$="/training"]')
        link.click()
        screenshot.wait_rendered(driver, "Training runs")
        tables = WebDriverWait(driver, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stTable"] table'),
            "the before/after table is not on the page",
        )
        text = tables[0].text
        for word in ("before", "after", "before score", "after score"):
            assert word in text
        assert AFTER["Nike shoes are very [MASK]."][0] in text
        assert BEFORE["Nike shoes are very [MASK]."][0] in text
        assert driver.current_url.endswith("/training")
        shot = screenshot.save_full_page(driver, tmp_path / "training.png")
    assert shot.stat().st_size > 10_000
    assert "127.0.0.1" in url


def _alerts(driver) -> str:
    from selenium.webdriver.common.by import By

    return "\n".join(
        e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlert"]')
    )


def test_every_page_opens_at_its_own_address(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    store = tmp_path / "store"
    pipeline_store(store, n=2000, drift=False)
    with (
        screenshot.running_dashboard(store) as url,
        screenshot.chromium(tmp_path / "chromium-profile") as driver,
    ):
        screenshot.open_page(driver, url, "Overview")
        assert driver.current_url == f"{url}/overview"  # "/" opens the overview's address
        for page, title in screenshot.PAGES.items():
            screenshot.open_page(driver, f"{url}/{page}", title)
            assert driver.current_url == f"{url}/{page}"
            assert "Page not found" not in driver.find_element(By.TAG_NAME, "body").text


@pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)
@pytest.mark.parametrize("column, kind", [("verdict", "categorical"), ("text", "text")])
def test_drift_page_shows_the_tested_window(tmp_path: Path, column: str, kind: str) -> None:
    store = real_drift_store(tmp_path / "store", column, alarm=True)
    out = Path(os.environ.get("CURATE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    with (
        screenshot.running_dashboard(store) as url,
        screenshot.chromium(tmp_path / "chromium-profile") as driver,
    ):
        screenshot.open_page(driver, f"{url}/drift", "Drift")
        assert "Drift in this window" in _alerts(driver)  # the latest window, which drifted
        alarm = screenshot.save_full_page(driver, out / f"drift_{kind}_alarm.png")
        driver.set_window_size(1400, 1000)
        chosen = screenshot.select_option(driver, "Tested window", "no drift")
        assert chosen.startswith("#2 · ")
        assert "No drift in this window" in _alerts(driver)
        quiet = screenshot.save_full_page(driver, out / f"drift_{kind}_quiet.png")
    assert alarm.stat().st_size > 10_000 and quiet.stat().st_size > 10_000

"""The dashboard in a real browser: ``curate dashboard`` in a subprocess, headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (the Makefile's test target installs them
when missing) and Selenium.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_fixtures import AFTER, BEFORE, add_run, pipeline_store

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

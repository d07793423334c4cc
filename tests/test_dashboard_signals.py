"""The Signals page: AppTest on a store of real reviews (and on empty ones), and in Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import real_corpora as rc
from dashboard_fixtures import app_on
from signal_fixtures import review_store
from streamlit.testing.v1 import AppTest

from dashboard import data, screenshot
from dashboard.views.signals import TOTAL
from monitors.signal_report import FORMULA_LABEL

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
CHECK = "hedged or negated reviews"

needs_corpora = pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)


def page(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app_on(store, "signals", monkeypatch)


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("signals") / "store"
    review_store(root, n=3000, window=500, calls=7)
    return root


@needs_corpora
def test_page_shows_the_totals_of_the_report(reviews, monkeypatch):
    at = page(reviews, monkeypatch)
    assert at.title[0].value == "Signals"
    assert [s.label for s in at.selectbox] == ["Check", "Window"]
    assert at.selectbox[1].value == TOTAL
    report = data.signal_report(reviews)
    totals = report.totals[report.totals["check"] == CHECK]
    table = at.dataframe[0].value
    assert table["leaf"].tolist() == totals["leaf"].tolist()
    assert table["coverage"].tolist() == pytest.approx(totals["coverage"].tolist())
    assert table["marginal_rows"].tolist()[1:] == totals["marginal_rows"].tolist()[1:]
    head = {m.label: m.value for m in at.metric}
    formula = totals.set_index("leaf").loc[FORMULA_LABEL]
    assert head["Rows"] == "3,000" and head["Windows"] == "6"
    assert head["Formula coverage"] == f"{formula['coverage']:.2%}"
    assert head["Precision (mispredicted)"] == f"{formula['precision']:.2%}"
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert len(specs) == 2 and '"rect"' in specs[0] and '"line"' in specs[1]


@needs_corpora
def test_choosing_a_window_shows_that_window(reviews, monkeypatch):
    at = page(reviews, monkeypatch)
    at.selectbox[1].select(0).run()  # the first window
    assert not at.exception
    report = data.signal_report(reviews)
    first = report.windows[(report.windows["check"] == CHECK) & (report.windows["window"] == 0)]
    table = at.dataframe[0].value
    assert table["coverage"].tolist() == pytest.approx(first["coverage"].tolist())
    assert {m.label: m.value for m in at.metric}["Rows"] == "500"


def test_empty_and_missing_stores_explain_themselves(tmp_path, monkeypatch, make_framework):
    at = page(tmp_path / "missing", monkeypatch)
    assert "No curate store" in at.info[0].value
    fw = make_framework([{"type": "data_integrity", "integrity_type": "non_null",
                          "measurable_args": {"feature_name": "text"}}])  # fmt: skip
    fw.log(inputs={"text": ["a"]})
    fw.flush()
    at = page(fw.store.root, monkeypatch)
    assert "No signal analysis yet" in at.info[0].value


@needs_corpora
@pytest.mark.browser
@pytest.mark.skipif(not screenshot.CHROMIUM.exists(), reason="/usr/bin/chromium is missing")
def test_page_in_chromium(reviews, tmp_path):
    from selenium.webdriver.common.by import By

    out = Path(os.environ.get("CURATE_SCREENSHOTS", tmp_path))
    with (
        screenshot.running_dashboard(reviews, log=tmp_path / "dashboard.log") as url,
        screenshot.chromium(tmp_path / "profile") as driver,
    ):
        screenshot.open_page(driver, f"{url}/signals", "Signals")
        charts = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')
        assert len(charts) == 2
        text = driver.find_element(By.CSS_SELECTOR, '[data-testid="stMainBlockContainer"]').text
        assert "Leaf signals" in text and "Coverage over time" in text
        shot = screenshot.save_full_page(driver, out / "signals_page.png")
    assert shot.stat().st_size > 20_000

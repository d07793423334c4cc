"""The Edge cases page's Review section: decisions saved from a real browser reach training.

The browser test starts ``curate dashboard --allow-review`` in a subprocess on a store of real
Rotten Tomatoes snippets (:mod:`real_corpora`), drives headless Chromium (Debian's
``/usr/bin/chromium`` and ``chromedriver``, Selenium) to accept, reject and relabel rows in
the editor, saves, reads the ``reviews`` table back and checks that the data a training run
selects leaves the rejected rows out and uses the relabel. The AppTests check that without
``--allow-review`` nothing can be written, and the per-group decisions.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import real_corpora as rc
from dashboard_fixtures import app_on
from streamlit.testing.v1 import AppTest

from curate import Framework, Monitor, Signal
from curate.reviews import REVIEWS_TABLE, decisions_by_id, read_reviews, write_reviews
from curate.runs import RunRegistry
from curate.store import Store
from curate.store_reader import StoreReader
from dashboard import cache, cli, data, screenshot
from trainer.config import TrainingArgs
from trainer.data import select_examples
from trainer.tasks import get_task

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
needs_text = pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)
needs_chromium = pytest.mark.skipif(
    not screenshot.CHROMIUM.exists() or not screenshot.CHROMEDRIVER.exists(),
    reason="/usr/bin/chromium is missing: apt-get install -y chromium chromium-driver",
)
ROW_PX = 35  # the data editor's row (and header) height


def review_store(root: Path, n: int = 30) -> tuple[list[str], list[str]]:
    """A store whose ``n`` edge cases are real review snippets labelled fresh/rotten."""
    df = rc.reviews()
    df = df[df["category"] != "plot"].drop_duplicates("text").sample(frac=1, random_state=7).head(n)
    texts, labels = list(df["text"]), list(df["category"])
    cfg = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": Signal.confidence() < 0.9}],
           "retraining_folder": str(root), "traffic_sample": 0}  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": texts}, outputs=np.full((n, 2), 0.5), gts=labels)
    return texts, labels


def fingerprint(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def selected(root: Path) -> tuple[dict[str, str], dict[str, int]]:
    """The examples (text -> label) a classification run on ``root`` would use, and counts."""
    store = Store(root)
    run = RunRegistry(store).create(snapshot=store.files("retraining"), trigger="manual",
                                    kind="trainer")  # fmt: skip
    task = get_task("classification", TrainingArgs(task="classification", max_eval_samples=3))
    splits = select_examples(run, task, previous=None)
    return dict(splits.train + splits.eval), splits.counts


# -- the browser ---------------------------------------------------------------------------------


def _grid(driver):
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.CSS_SELECTOR, '[data-testid="stForm"]')
    grid = form.find_element(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", grid)
    time.sleep(0.5)
    return form, grid


def _choose(driver, grid, row: int, decision: str) -> None:
    """Open row ``row``'s decision cell (the first column), type the choice, commit it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    w, h = grid.size["width"], grid.size["height"]
    x, y = int(-w / 2 + 30), int(-h / 2 + ROW_PX * (row + 1) + ROW_PX // 2)
    ActionChains(driver).move_to_element_with_offset(grid, x, y).double_click().perform()
    time.sleep(0.4)
    ActionChains(driver).send_keys(decision).pause(0.3).send_keys(Keys.ENTER).perform()
    time.sleep(0.4)


def _type_label(driver, label: str) -> None:
    """After a decision was committed (the selection moved down): the row above's new label."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    chain = ActionChains(driver).send_keys(Keys.ARROW_UP).pause(0.2).send_keys(Keys.ARROW_RIGHT)
    chain.pause(0.2).send_keys(label).pause(0.3).send_keys(Keys.ENTER).perform()
    time.sleep(0.4)


def _set_reviewer(driver, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    boxes = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stTextInput"]')
    box = next(b for b in boxes if b.text.startswith("Reviewer"))
    field = box.find_element(By.TAG_NAME, "input")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(name, Keys.ENTER)
    screenshot.wait_rendered(driver, "Edge cases")


@needs_text
@needs_chromium
@pytest.mark.browser
def test_review_in_chromium_reaches_the_training_data(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    root = tmp_path / "store"
    texts, labels = review_store(root)
    order = data.edge_cases(root)["id"].tolist()  # the editor's rows, in order
    stored = Store(root).read("retraining", ["id", "text", "gts"]).to_pylist()
    text_of = {row["id"]: row["text"] for row in stored}
    label_of = {row["id"]: row["gts"] for row in stored}
    new_label = {"fresh": "rotten", "rotten": "fresh"}[label_of[order[6]]]  # a real change
    port = screenshot.free_port()
    log = open(tmp_path / "dashboard.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*screenshot.dashboard_command(root, port), "--allow-review"],
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        screenshot.wait_healthy(url, proc)
        with screenshot.chromium(tmp_path / "chromium-profile") as driver:
            screenshot.open_page(driver, f"{url}/edge_cases", "Edge cases")
            _set_reviewer(driver, "selenium-reviewer")
            form, grid = _grid(driver)
            for row in (0, 1, 2):
                _choose(driver, grid, row, "accept")
            for row in (3, 4, 5):
                _choose(driver, grid, row, "reject")
            _choose(driver, grid, 6, "relabel")
            _type_label(driver, new_label)
            screenshot.save_full_page(driver, tmp_path / "review_edited.png")
            form.find_element(By.CSS_SELECTOR, '[data-testid="stFormSubmitButton"] button').click()
            WebDriverWait(driver, 45).until(
                lambda d: "Saved 7 decision(s) as selenium-reviewer" in d.page_source,
                "the decisions were not saved",
            )
            screenshot.wait_rendered(driver, "Edge cases")
            page = driver.find_element(By.TAG_NAME, "body").text
            assert "3 accepted, 3 rejected, 1 relabelled, 23 not reviewed" in page
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    latest = decisions_by_id(read_reviews(StoreReader(root)))
    assert {i: d.decision for i, d in latest.items()} == {
        **{order[r]: "accept" for r in (0, 1, 2)},
        **{order[r]: "reject" for r in (3, 4, 5)},
        order[6]: "relabel",
    }
    assert latest[order[6]].label == new_label
    assert {d.reviewer for d in latest.values()} == {"selenium-reviewer"}
    used, counts = selected(root)
    assert not {text_of[order[r]] for r in (3, 4, 5)} & set(used)
    assert used[text_of[order[6]]] == new_label
    assert len(used) == len(texts) - 3
    assert counts["reviewed_rejected_excluded"] == 3 and counts["reviewed_accepted"] == 3
    assert all(used[t] == lab for t, lab in zip(texts, labels, strict=True) if t in used
               and t != text_of[order[6]])  # fmt: skip


# -- AppTest -------------------------------------------------------------------------------------


def edge_cases_page(root: Path, monkeypatch, allow: bool) -> AppTest:
    if allow:
        monkeypatch.setenv("CURATE_ALLOW_REVIEW", "1")
    else:
        monkeypatch.delenv("CURATE_ALLOW_REVIEW", raising=False)
    cache.clear_caches()
    return app_on(root, "edge_cases", monkeypatch)


@needs_text
def test_without_allow_review_nothing_can_be_written(tmp_path, monkeypatch):
    root = tmp_path / "store"
    review_store(root)
    first = data.edge_cases(root)["id"].tolist()[0]
    write_reviews(root, [{"id": first, "decision": "reject", "note": "spam"}], reviewer="ana")
    before = fingerprint(root)
    at = edge_cases_page(root, monkeypatch, allow=False)
    assert "Save decisions" not in [b.label for b in at.button]
    assert "Reviewer" not in [t.label for t in at.text_input]
    assert any("--allow-review" in i.value for i in at.info)
    shown = at.dataframe[-1].value  # the decisions, read-only
    assert shown.loc[shown["id"] == first, "current decision"].tolist() == ["reject"]
    assert shown.loc[shown["id"] == first, "reviewed by"].tolist() == ["ana"]
    assert any("0 accepted, 1 rejected" in c.value for c in at.caption)
    at.button[0].click().run()  # Refresh: still nothing to write with
    assert not at.exception and fingerprint(root) == before


@needs_text
def test_saving_without_a_decision_writes_nothing(tmp_path, monkeypatch):
    root = tmp_path / "store"
    review_store(root)
    at = edge_cases_page(root, monkeypatch, allow=True)
    save = next(b for b in at.button if b.label == "Save decisions")
    save.click().run()
    assert not at.exception
    assert any("No decision chosen" in w.value for w in at.warning)
    assert not StoreReader(root).files(REVIEWS_TABLE)


def _group_script(root: str, allow: bool) -> None:
    import os

    from dashboard import data
    from dashboard.views.review import render_review

    os.environ["CURATE_ALLOW_REVIEW"] = "1" if allow else "0"
    shown = data.edge_cases(root)
    render_review(root, shown, (shown["id"] % 3).rename("cluster"))


@needs_text
@pytest.mark.parametrize("allow", [True, False])
def test_a_whole_group_is_accepted_or_rejected_at_once(tmp_path, allow):
    root = tmp_path / "store"
    review_store(root)
    at = AppTest.from_function(_group_script, args=(str(root), allow), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    if not allow:
        assert "Save for the group" not in [b.label for b in at.button]
        return
    group = next(s for s in at.selectbox if s.label == "Group")
    group.set_value(1).run()
    next(b for b in at.button if b.label == "Save for the group").click().run()
    assert not at.exception, [e.value for e in at.exception]
    ids = data.edge_cases(root)["id"]
    latest = decisions_by_id(read_reviews(StoreReader(root)))
    assert sorted(latest) == sorted(ids[ids % 3 == 1])
    assert {d.decision for d in latest.values()} == {"accept"}
    per_group = at.dataframe[-1].value.set_index("group")
    assert per_group.loc[1, "accept"] == len(latest) and per_group.loc[0, "not reviewed"] > 0


def test_only_the_flag_turns_review_on(monkeypatch):
    seen: dict[str, dict] = {}
    monkeypatch.setattr(cli.os, "execvpe", lambda f, cmd, env: seen.update(cmd=cmd, env=env))
    monkeypatch.setattr(cli.StoreReader, "exists", lambda self: True)
    monkeypatch.setenv("CURATE_ALLOW_REVIEW", "1")  # inherited: must not enable writing
    parser = cli.build_parser()
    cli.run_dashboard(parser.parse_args(["dashboard", "--store", "s"]))
    assert "CURATE_ALLOW_REVIEW" not in seen["env"] and "--allow-review" not in seen["cmd"]
    cli.run_dashboard(parser.parse_args(["dashboard", "--store", "s", "--allow-review"]))
    assert seen["env"]["CURATE_ALLOW_REVIEW"] == "1" and "--allow-review" in seen["cmd"]
    assert isinstance(parser.parse_args(["dashboard"]), argparse.Namespace)


def test_review_frame_shows_each_rows_current_decision():
    from dashboard.views.review import review_frame

    rows = pd.DataFrame({"id": [1, 2, 3], "text": ["a", "b", "c"], "gts": ["x", "y", "z"]})
    now = pd.DataFrame({"decision": ["relabel", "accept"], "label": ['"w"', None],
                        "reviewer": ["ana", "bo"], "ts": pd.to_datetime([1, 2], utc=True),
                        "note": [None, None]}, index=[3, 1])  # fmt: skip
    frame = review_frame(rows, now, ["id", "text", "gts"])
    assert list(frame.columns[:3]) == ["decision", "new label", "note"]
    assert frame["current decision"].tolist() == ["accept", "", "relabel → w"]
    assert frame["reviewed by"].tolist() == ["bo", "", "ana"]
    assert frame["decision"].isna().all()

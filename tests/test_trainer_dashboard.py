"""The Training page on classification and QA runs: figures, confusion matrix and probes as
their probe kind reads, and a playground that predicts labels and answers with a run's model."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest
from trainer_fixtures import WORDS, make_tiny_mlm

from curate.store import Store
from examples.support_qa.data import squad_rows
from trainer.launch import start_run

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def _page(root: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CURATE_STORE", str(root))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("app_pages/training.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny-dash")))


def _run(root: Path, table: pa.Table, **args):
    store = Store(root)
    store.write("retraining", table)
    base = {"max_steps": 2, "batch_size": 8, "max_length": 48, "num_threads": 1}
    run = start_run(store, {**base, **args}, progress_bar=False)
    assert run.has_model, run.error
    return run


def test_a_classification_run_shows_labels_and_the_playground_classifies(
    tmp_path, tiny, monkeypatch
):
    texts = [f"the staff were {'nice' if i % 2 else 'bad'} {i}" for i in range(40)]
    table = pa.table({"text": texts, "gts": ["pos" if i % 2 else "neg" for i in range(40)]})
    run = _run(tmp_path / "s", table, task="classification", model=tiny,
               probes=["the staff were nice"])  # fmt: skip
    at = _page(tmp_path / "s", monkeypatch)
    labels = {m.label for m in at.metric}
    assert {"Macro f1 before", "Accuracy after"} <= labels and "Perplexity after" not in labels
    subheaders = [h.value for h in at.subheader]
    assert "Predicted label distribution before / after" in subheaders
    confusion_before, confusion_after, probes = (t.value for t in at.table)
    assert list(confusion_after.index) == ["neg", "pos"] and confusion_after.values.sum() == 4
    assert set(probes["after"]) == {"pos", "neg"}, "the probe's label distribution"
    at.multiselect[0].set_value([f"run: {run.run_id}"])
    at.text_input[0].set_value("the staff were bad")
    at.form_submit_button[0].click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert set(at.table[-1].value[f"run: {run.run_id}"]) == {"pos", "neg"}


def test_a_qa_run_shows_its_answers_with_the_context(tmp_path, tiny, monkeypatch):
    headlines = [" ".join(WORDS[(7 * i + k) % len(WORDS)] for k in range(7)) for i in range(60)]
    rows = squad_rows(headlines, 30, per_context=2)
    probe = {"question": rows[0]["question"], "context": rows[0]["context"]}
    _run(tmp_path / "s", pa.Table.from_pylist(rows), task="qa", model=tiny, doc_stride=16,
         probes=[probe])  # fmt: skip
    at = _page(tmp_path / "s", monkeypatch)
    assert "Answers before / after" in [h.value for h in at.subheader]
    assert any(rows[0]["context"] in c.value for c in at.caption), "the context is shown"
    assert at.text_input[0].value == rows[0]["question"]
    assert at.text_area[0].value == ""

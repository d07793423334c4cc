"""Review decisions (accept / reject / relabel) are kept in the store and honoured by training.

The ``reviews`` table is append-only; the newest decision per id wins (checked against a
pure-Python recomputation). Writes are whole segments under their own writer id, so they lose
nothing beside a Framework that keeps writing. A run applies the decisions as of its start
(``reviews_snapshot``): rejected rows never train nor evaluate, relabels are the labels (over
logged and late labels), ``require_review`` keeps reviewed rows only. Edge cases are real
Rotten Tomatoes snippets (:mod:`real_corpora`) with their fresh/rotten category as the label.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import real_corpora as rc
from hypothesis import given, settings
from hypothesis import strategies as st
from trainer_fixtures import make_tiny_mlm

from curate import Framework, Monitor, Signal
from curate.errors import StoreError
from curate.reviews import (
    REVIEWS_TABLE,
    ReviewError,
    apply_reviews,
    decisions_by_id,
    read_reviews,
    write_reviews,
)
from curate.runs import RunRegistry
from curate.store import Store
from curate.store_reader import StoreReader
from trainer.config import TrainingArgs
from trainer.data import select_examples
from trainer.launch import start_run
from trainer.tasks import get_task
from trainer.tasks.base import NoTrainingDataError

needs_text = pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)


def real_snippets(n: int) -> tuple[list[str], list[str]]:
    """``n`` distinct review snippets and their fresh/rotten category."""
    df = rc.reviews()
    df = df[df["category"] != "plot"].drop_duplicates("text").sample(frac=1, random_state=7).head(n)
    return list(df["text"]), list(df["category"])


def log_edge_cases(root: Path, texts: list[str], labels: list[str | None], **cfg) -> list[int]:
    """Log ``texts`` as edge cases (every row is one); returns their ids in order."""
    config = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": Signal.confidence() < 0.9}],
              "retraining_folder": str(root), "traffic_sample": 0, **cfg}  # fmt: skip
    with Framework(config) as fw:
        fw.log(inputs={"text": texts}, outputs=np.full((len(texts), 2), 0.5), gts=labels,
               identifiers=[f"req-{i}" for i in range(len(texts))])  # fmt: skip
    table = Store(root).read("retraining", ["id", "text"])
    by_text = dict(zip(table["text"].to_pylist(), table["id"].to_pylist(), strict=True))
    return [by_text[t] for t in texts]


def new_run(root: Path, **config):
    store = Store(root)
    return RunRegistry(store).create(snapshot=store.files("retraining"), trigger="manual",
                                     kind="trainer", config=config)  # fmt: skip


def select(run, **args):
    task = get_task(args.get("task", "classification"),
                    TrainingArgs(**{"task": "classification", **args}))  # fmt: skip
    splits = select_examples(run, task, previous=None)
    return splits, splits.train + splits.eval


# -- the table ---------------------------------------------------------------------------------


def test_round_trip_keeps_every_field(tmp_path):
    store = Store(tmp_path)
    store.write("retraining", pa.table({"id": [10, 11, 12], "text": ["a", "b", "c"]}))
    when = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    path = write_reviews(tmp_path, [
        {"id": 10, "decision": "accept", "note": "clear positive", "ts": when},
        {"id": 11, "decision": "reject", "reviewer": "bo"},
        {"id": 12, "decision": "relabel", "label": {"text": ["x"], "answer_start": [0]}},
    ], reviewer="ana")  # fmt: skip
    assert path is not None and path.parent == tmp_path / REVIEWS_TABLE
    assert path.name.startswith("part-") and path.name.endswith(".parquet")
    latest = read_reviews(StoreReader(tmp_path))
    rows = latest.to_pylist()
    assert [r["id"] for r in rows] == [10, 11, 12]
    assert [r["decision"] for r in rows] == ["accept", "reject", "relabel"]
    assert [r["reviewer"] for r in rows] == ["ana", "bo", "ana"]
    assert rows[0]["ts"] == when and rows[0]["note"] == "clear positive"
    assert latest.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert rows[0]["label"] is None and json.loads(rows[2]["label"])["answer_start"] == [0]
    assert decisions_by_id(latest)[12].label == {"text": ["x"], "answer_start": [0]}
    assert write_reviews(tmp_path, []) is None and len(store.files(REVIEWS_TABLE)) == 1


@pytest.mark.parametrize(
    "decision, message",
    [
        ({"id": 10, "decision": "maybe"}, "decision 0 (id 10): decision 'maybe' is not one of"),
        ({"id": 10, "decision": "relabel"}, "decision 0 (id 10): a relabel needs the new label"),
        ({"id": 10, "decision": "accept", "label": "pos"}, "only with decision 'relabel'"),
        ({"id": "10", "decision": "accept"}, "decision 0: id must be an edge case's integer id"),
        ({"id": 10, "decision": "relabel", "label": {1, 2}}, "the label is not a JSON value"),
        ({"id": 10, "decision": "accept", "colour": 1}, "unknown key(s) colour"),
        ({"id": 99, "decision": "accept"}, "1 reviewed id(s) are not edge cases"),
        ({"id": 10, "decision": "accept", "ts": "yesterday"}, "ts must be a datetime"),
    ],
)
def test_bad_decisions_are_refused_naming_the_decision(tmp_path, decision, message):
    Store(tmp_path).write("retraining", pa.table({"id": [10], "text": ["a"]}))
    with pytest.raises(ReviewError, match=message.replace("(", r"\(").replace(")", r"\)")):
        write_reviews(tmp_path, [decision])
    assert not StoreReader(tmp_path).files(REVIEWS_TABLE)  # nothing half-written


def test_reviews_go_only_into_an_existing_store(tmp_path):
    with pytest.raises(StoreError, match="no curate store"):
        write_reviews(tmp_path / "typo", [{"id": 1, "decision": "accept"}])
    assert not (tmp_path / "typo").exists()


decision_st = st.tuples(
    st.integers(1, 5), st.sampled_from(["accept", "reject", "relabel"]), st.integers(0, 3)
)


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.lists(decision_st, min_size=1, max_size=6), min_size=1, max_size=4))
def test_the_newest_decision_wins(batches):
    root = Path(tempfile.mkdtemp())
    Store(root).write("retraining", pa.table({"id": [1, 2, 3, 4, 5], "text": list("abcde")}))
    expected: dict[int, tuple] = {}
    order = []  # (ts, write position, id, decision, label): the reference's view
    for b, batch in enumerate(batches):
        items = []
        for r, (ident, decision, ts) in enumerate(batch):
            label = f"l{b}.{r}" if decision == "relabel" else None
            items.append({"id": ident, "decision": decision, "label": label, "ts": ts})
            order.append((ts, len(order), ident, decision, label))
        write_reviews(root, items, reviewer=f"r{b}")
    for _ts, _pos, ident, decision, label in sorted(order):
        expected[ident] = (decision, label)
    got = {i: (d.decision, d.label) for i, d in decisions_by_id(read_reviews(Store(root))).items()}
    assert got == expected


# -- beside a running Framework ----------------------------------------------------------------


@needs_text
def test_review_writes_beside_a_running_framework_lose_nothing(tmp_path):
    texts, labels = real_snippets(400)
    cfg = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": Signal.confidence() < 0.9}],
           "retraining_folder": str(tmp_path), "traffic_sample": 50}  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": texts[:40]}, outputs=np.full((40, 2), 0.5), gts=labels[:40])
        fw.flush()
        first = Store(tmp_path).read("retraining", ["id"])["id"].to_pylist()
        errors: list[BaseException] = []

        def review() -> None:
            try:
                for k, ident in enumerate(first):
                    choice = ("accept", "reject")[k % 2]
                    write_reviews(tmp_path, [{"id": ident, "decision": choice}], reviewer="t")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        reviewer = threading.Thread(target=review)
        reviewer.start()
        for start in range(40, 400, 20):  # the writer thread keeps writing every table
            fw.log(inputs={"text": texts[start : start + 20]}, outputs=np.full((20, 2), 0.5),
                   gts=labels[start : start + 20])  # fmt: skip
            fw.flush()
        reviewer.join()
    assert not errors, errors
    reader = StoreReader(tmp_path)
    assert len(reader.files(REVIEWS_TABLE)) == len(first) == 40  # one segment per write
    assert reader.count(REVIEWS_TABLE) == 40
    latest = decisions_by_id(read_reviews(reader))
    assert {i: d.decision for i, d in latest.items()} == {
        ident: ("accept", "reject")[k % 2] for k, ident in enumerate(first)
    }
    logged = reader.read("retraining", ["id"])["id"].to_pylist()
    assert len(logged) == len(set(logged)) == 400
    names = [f.name for t in ("retraining", "traffic", "metrics", REVIEWS_TABLE)
             for f in reader.files(t)]  # fmt: skip
    assert len(names) == len(set(names))


# -- what training reads -----------------------------------------------------------------------


def test_apply_reviews_counts_and_withholds():
    decisions = decisions_by_id(pa.table({
        "id": [1, 2, 3], "decision": ["accept", "reject", "relabel"],
        "label": [None, None, json.dumps("pos")], "reviewer": ["a"] * 3, "ts": [None] * 3,
    }))  # fmt: skip
    rows = [{"id": i, "gts": "neg"} for i in (1, 2, 3, 4, None)]
    out = apply_reviews(rows, decisions, label_column="gts")
    assert out.rows == [rows[0], None, {"id": 3, "gts": "pos"}, rows[3], rows[4]]
    assert dict(out.counts) == {"accepted": 1, "rejected": 1, "relabelled": 1, "unreviewed": 2}
    strict = apply_reviews(rows, decisions, label_column=None, require=True)
    assert strict.rows == [rows[0], None, rows[2], None, None]  # no label column: kept as is
    assert strict.counts["unreviewed_withheld"] == 2


@needs_text
def test_training_data_leaves_out_rejected_rows_and_uses_relabels(tmp_path):
    texts, labels = real_snippets(60)
    ids = log_edge_cases(tmp_path, texts, labels)
    flipped = {"fresh": "rotten", "rotten": "fresh"}
    # A late label for row 2; the reviewer's relabel of the same row must win over it.
    with Framework({"retraining_folder": str(tmp_path), "traffic_sample": 0}) as fw:
        fw.log_ground_truth(identifiers=["req-2"], gts=["plot"])
    write_reviews(tmp_path, [{"id": ids[i], "decision": "reject"} for i in range(10)]
                  + [{"id": ids[i], "decision": "relabel", "label": flipped[labels[i]]}
                     for i in (2, 10, 11)]
                  + [{"id": ids[i], "decision": "accept"} for i in range(12, 20)])  # fmt: skip
    run = new_run(tmp_path)
    assert len(run.reviews_snapshot) == 1
    splits, examples = select(run, max_eval_samples=6)
    used = dict(examples)
    rejected = {texts[i] for i in range(10) if i != 2}  # row 2 was relabelled after rejection
    assert not rejected & set(used)
    assert used[texts[2]] == flipped[labels[2]] and used[texts[10]] == flipped[labels[10]]
    assert all(used[texts[i]] == labels[i] for i in range(12, 60))
    assert not {t for t, _ in splits.eval} & rejected
    counts = splits.counts
    assert counts["reviewed_rejected_excluded"] == 9
    assert (counts["reviewed_relabelled"], counts["reviewed_accepted"]) == (3, 8)
    assert counts["unreviewed_excluded"] == 0 and len(examples) == 51


@needs_text
def test_require_review_trains_only_on_reviewed_rows(tmp_path):
    texts, labels = real_snippets(40)
    ids = log_edge_cases(tmp_path, texts, labels)
    write_reviews(tmp_path, [{"id": ids[i], "decision": "accept"} for i in range(8)]
                  + [{"id": ids[8], "decision": "reject"},
                     {"id": ids[9], "decision": "relabel", "label": "rotten"}])  # fmt: skip
    splits, examples = select(new_run(tmp_path), require_review=True, max_eval_samples=2)
    assert sorted(t for t, _ in examples) == sorted(texts[:8] + [texts[9]])
    assert dict(examples)[texts[9]] == "rotten"
    assert splits.counts["unreviewed_excluded"] == 30
    # The same store without require_review uses every row but the rejected one.
    _, everything = select(new_run(tmp_path), max_eval_samples=2)
    assert len(everything) == 39
    # A masked-LM run has no label: a relabelled row counts as accepted.
    splits, examples = select(new_run(tmp_path), task="mlm", require_review=True)
    assert sorted(examples) == sorted(texts[:8] + [texts[9]])


@needs_text
def test_require_review_without_enough_reviewed_rows_says_why(tmp_path):
    texts, labels = real_snippets(20)
    ids = log_edge_cases(tmp_path, texts, labels)
    write_reviews(tmp_path, [{"id": ids[0], "decision": "accept"}])
    with pytest.raises(NoTrainingDataError, match="19 unreviewed rows"):
        select(new_run(tmp_path), require_review=True)


@needs_text
def test_a_run_reads_the_reviews_as_of_its_start(tmp_path):
    texts, labels = real_snippets(30)
    ids = log_edge_cases(tmp_path, texts, labels)
    write_reviews(tmp_path, [{"id": ids[0], "decision": "reject"}])
    run = new_run(tmp_path)
    write_reviews(tmp_path, [{"id": ids[1], "decision": "reject"}])  # after the run started
    _, examples = select(run, max_eval_samples=2)
    used = {t for t, _ in examples}
    assert texts[0] not in used and texts[1] in used
    _, later = select(new_run(tmp_path), max_eval_samples=2)
    assert texts[1] not in {t for t, _ in later}


@needs_text
def test_rejected_rows_are_not_replayed_from_the_traffic_sample(tmp_path):
    texts, labels = real_snippets(80)
    ids = log_edge_cases(tmp_path, texts, labels, traffic_sample=1000)
    rejected = list(range(0, 80, 4))
    write_reviews(tmp_path, [{"id": ids[i], "decision": "reject"} for i in rejected])
    splits, examples = select(new_run(tmp_path), task="mlm", retention_samples=0,
                              replay_fraction=0.5)  # fmt: skip
    assert splits.counts["traffic_sample_rows"] == 60  # every logged row, less the rejected
    assert not {texts[i] for i in rejected} & set(examples)


@needs_text
def test_a_relabel_after_a_run_is_new_to_the_next(tmp_path):
    texts, labels = real_snippets(40)
    ids = log_edge_cases(tmp_path, texts[:30], labels[:30])
    first = new_run(tmp_path)
    task = get_task("classification", TrainingArgs(task="classification", max_eval_samples=2))
    select_examples(first, task, previous=None)
    write_reviews(tmp_path, [{"id": ids[3], "decision": "relabel", "label": "plot"},
                             {"id": ids[4], "decision": "reject"}])  # fmt: skip
    log_edge_cases(tmp_path, texts[30:], labels[30:])
    splits = select_examples(new_run(tmp_path), task, previous=first)
    assert splits.counts["labelled_since_last_run"] == 1  # the relabel; the rest is replay
    new = splits.train[: splits.counts["new_edge_cases"]] + splits.eval
    assert sorted(t for t, _ in new) == sorted([texts[3], *texts[30:]])
    assert (texts[3], "plot") in new
    assert texts[4] not in {t for t, _ in splits.train}  # not replayed either


# -- a real run --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny-reviews")))


@needs_text
def test_a_classification_run_leaves_out_rejected_rows_and_records_the_counts(tmp_path, tiny):
    texts, labels = real_snippets(60)
    ids = log_edge_cases(tmp_path, texts, labels)
    write_reviews(tmp_path, [{"id": ids[i], "decision": "reject"} for i in range(6)]
                  + [{"id": ids[6], "decision": "relabel", "label": "rotten"},
                     {"id": ids[7], "decision": "accept"}])  # fmt: skip
    args = {"task": "classification", "model": tiny, "max_steps": 3, "batch_size": 8,
            "max_length": 16, "num_threads": 1, "max_eval_samples": 8}  # fmt: skip
    run = start_run(Store(tmp_path), args, progress_bar=False)
    assert run.has_model, run.error
    assert [Path(p).parent.name for p in run.record["reviews_snapshot"]] == [REVIEWS_TABLE]
    metrics = run.record["metrics"]
    assert metrics["reviewed_rejected_excluded"] == 6
    assert (metrics["reviewed_relabelled"], metrics["reviewed_accepted"]) == (1, 1)
    assert metrics["train_samples"] + metrics["eval_samples"] == 54
    assert metrics["new_edge_cases"] + metrics["held_out_rows"] == 54


def test_a_relabel_replaces_the_column_each_task_reads_as_its_label():
    from trainer.data import _label_column

    def column(task: str, **kw) -> str | None:
        return _label_column(get_task(task, TrainingArgs(task=task, **kw)))

    assert column("classification") == "gts" and column("classification", label_column="y") == "y"
    assert column("qa") == "answers" and column("qa", answers_column="gold") == "gold"
    assert column("mlm") is None and column("clm") is None

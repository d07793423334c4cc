"""Extractive QA on tiny random BERTs: SQuAD rows, offsets and windows on contexts longer than
``max_length``, EM/F1 against a hand computation, answer post-processing, runs with probes on
SQuAD rows built from real headlines; and one slow test on the real offline default."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import real_corpora
from trainer_fixtures import make_tiny_mlm

from curate.store import Store
from examples.support_qa.data import squad_rows
from trainer.launch import start_run
from trainer.metrics import squad_scores
from trainer.qa_features import best_answers, encode_features, squad_example

needs_corpora = pytest.mark.skipif(not real_corpora.available(), reason=real_corpora.SKIP_REASON)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny-qa")))


@pytest.fixture(scope="module")
def tokenizer(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny)


def _headlines() -> list[str]:
    if real_corpora.available():
        return [" ".join(str(h).split()) for h in real_corpora.headlines()[:400]]
    words = ["nike", "shoes", "are", "very", "comfortable", "the", "staff", "were", "nice"]
    return [" ".join(words[(i + k) % 9] for k in range(6)) + f" {i}" for i in range(400)]


def test_squad_rows_from_answer_forms():
    base = {"question": "Who?", "context": "Ask Ada, then ask ADA."}
    assert squad_example({**base, "answers": {"text": ["Ada"], "answer_start": [4]}},
                         "question", "context", "answers")["answers"]["answer_start"] == [4]  # fmt: skip
    moved = squad_example({**base, "answers": {"text": "ADA", "answer_start": 0}}, "question",
                          "context", "answers")  # fmt: skip
    assert moved["answers"] == {"text": ["ADA"], "answer_start": [18]}, "located by offset"
    assert squad_example({**base, "answers": "Bob"}, "question", "context", "answers") is None


def test_em_and_f1_equal_a_hand_computation():
    # "the cat sat" vs gold "a cat sat down": normalised ["cat", "sat"] vs ["cat", "sat", "down"]
    # -> P 1, R 2/3, F1 0.8; EM 0. Second: exact after normalisation ("Paris!" == "paris").
    scores = squad_scores(["the cat sat", "Paris!"], [["a cat sat down"], ["paris", "Lyon"]])
    assert scores == pytest.approx({"exact_match": 0.5, "f1": (0.8 + 1.0) / 2})


def test_offsets_are_right_on_contexts_longer_than_max_length(tokenizer):
    context = " ".join(f"nike shoes {w} are great." for w in ["soft", "cheap", "heavy", "ugly"] * 3)
    answer = "heavy are great"
    start = context.rindex(answer)
    example = {"question": "which are great?", "context": context,
               "answers": {"text": [answer], "answer_start": [start]}}  # fmt: skip
    features = encode_features(tokenizer, [example], max_length=48, stride=12, keep=True)
    windows = len(features["input_ids"])
    assert windows > 2 and all(len(ids) <= 48 for ids in features["input_ids"])
    hits = 0
    for i in range(windows):
        s, e = features["start_positions"][i], features["end_positions"][i]
        offsets = features["offset_mapping"][i]
        if s == 0:
            assert e == 0
            covered = [o for o in offsets if o[0] >= 0]
            assert not (covered[0][0] <= start and covered[-1][1] >= start + len(answer))
            continue
        hits += 1
        assert context[offsets[s][0] : offsets[e][1]] == answer
    assert hits >= 1, "some window holds the whole answer"
    assert set(features["example_index"]) == {0}


def test_best_answers_pick_the_best_valid_span_across_windows():
    features = {"example_index": [0, 0], "context": ["abc def ghi"] * 2, "gold": [["def"]] * 2,
                "offset_mapping": [[[-1, -1], [0, 3], [4, 7]], [[-1, -1], [4, 7], [8, 11]]]}  # fmt: skip
    start = [[9.0, 1.0, 2.0], [9.0, 5.0, 0.0]]
    end = [[9.0, 0.0, 1.0], [9.0, 4.0, 6.0]]  # the [CLS] logits never make an answer
    answers = best_answers(start, end, features, top_k=2)
    assert [text for text, _ in answers[0]] == ["def ghi", "def"]
    assert answers[0][0][1] > answers[0][1][1] and sum(s for _, s in answers[0]) <= 1


def test_a_run_on_real_headline_rows_scores_and_probes(tmp_path, tiny):
    rows = squad_rows(_headlines(), 60)
    store = Store(tmp_path / "s")
    store.write("retraining", pa.Table.from_pylist(rows))
    probe = f"{rows[0]['question']} || {rows[0]['context']}"
    args = {"task": "qa", "model": tiny, "max_steps": 3, "batch_size": 8, "max_length": 64,
            "doc_stride": 16, "num_threads": 1, "probes": [probe], "top_k": 2}  # fmt: skip
    run = start_run(store, args, progress_bar=False)
    assert run.has_model, run.error
    m = run.record["metrics"]
    assert run.record["task_info"]["probe_kind"] == "answers"
    assert m["eval_samples"] > 6, "long contexts give several windows per example"
    assert 0 <= m["exact_match_before"] <= m["f1_before"] <= 1 and m["f1_after"] is not None
    stored = pq.read_table(run.path / "probes.parquet").to_pylist()
    assert {r["context"] for r in stored} == {rows[0]["context"]}
    assert all(r["token"] in rows[0]["context"] for r in stored)


@pytest.mark.slow
@needs_corpora
def test_minilm_default_learns_to_answer(tmp_path):
    rows = squad_rows(_headlines(), 240)
    store = Store(tmp_path / "s")
    store.write("retraining", pa.Table.from_pylist(rows))
    args = {"task": "qa", "max_steps": 30, "batch_size": 16, "num_threads": 1, "max_length": 128,
            "eval_fraction": 0.2}  # fmt: skip
    run = start_run(store, args, progress_bar=False)
    assert run.has_model, run.error
    m = run.record["metrics"]
    assert m["f1_after"] > m["f1_before"] + 0.1

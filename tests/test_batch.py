"""Normalising what log() receives into Arrow batches."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.batch import Batch
from curate.errors import LogInputError


def make(inputs, outputs=None, gts=None, identifiers=None, n=None) -> Batch:
    n = n if n is not None else Batch.count_rows(inputs)
    return Batch.from_log(np.arange(n), np.zeros(n, np.int64), inputs, outputs, gts, identifiers)


@pytest.mark.parametrize(
    "inputs",
    [
        {"text": ["a", None], "n": [1, 2]},
        {"text": ("a", None), "n": np.array([1, 2])},
        {"text": pd.Series(["a", None]), "n": pa.array([1, 2])},
        {"text": pa.chunked_array([["a"], [None]]), "n": [1, 2]},
        [{"text": "a", "n": 1}, {"n": 2}],
        pd.DataFrame({"text": ["a", None], "n": [1, 2]}),
        pa.table({"text": ["a", None], "n": [1, 2]}),
        pa.record_batch({"text": ["a", None], "n": [1, 2]}),
    ],
    ids=["lists", "tuple+numpy", "series+arrow", "chunked", "row-dicts", "pandas", "table", "rb"],
)
def test_every_input_form_gives_the_same_columns(inputs):
    assert Batch.count_rows(inputs) == 2
    b = make(inputs)
    assert b.inputs.column("text").to_pylist() == ["a", None]
    assert b.inputs.column("n").to_pylist() == [1, 2]
    assert not b.problems
    assert b.python_inputs()["text"].tolist() == ["a", None]


def test_outputs_gts_identifiers_as_sequences_dicts_and_2d_arrays():
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    b = make({"x": [1, 2]}, outputs=probs, gts={"label": [0, 1]}, identifiers=["u1", "u2"])
    stored = b.stored_table()
    assert stored.column_names == ["id", "ts", "x", "outputs", "gts.label", "identifiers"]
    assert pa.types.is_fixed_size_list(stored.schema.field("outputs").type)
    np.testing.assert_array_equal(b.python_part("outputs"), probs)
    assert b.python_part("gts") == {"label": b.python_part("gts")["label"]}
    assert b.python_part("gts")["label"].tolist() == [0, 1]
    assert b.column("prediction").to_pylist() == [[0.9, 0.1], [0.2, 0.8]]
    assert b.column("ground_truth", "label").to_pylist() == [0, 1]
    assert b.column("identifier").to_pylist() == ["u1", "u2"]
    assert str(stored.schema.field("ts").type) == "timestamp[us, tz=UTC]"


def test_column_lookup_errors_say_what_exists():
    b = make({"a": [1], "b": [2]}, outputs={"p": [0.1], "q": [0.2]})
    with pytest.raises(KeyError, match="no column 'c'; logged columns: a, b"):
        b.column("input_feature", "c")
    with pytest.raises(KeyError, match=r"outputs has several columns \(outputs.p, outputs.q\)"):
        b.column("prediction")
    with pytest.raises(KeyError, match="no gts were logged"):
        b.column("ground_truth")


@pytest.mark.parametrize(
    ("inputs", "outputs", "message"),
    [
        ({"a": [1, 2], "b": [1]}, None, r"inputs\['b'\] has 1 values but the call has 2 rows"),
        ({"a": [1, 2]}, [0.1], r"outputs\['outputs'\] has 1 values but the call has 2 rows"),
        ({"a": [1, 2]}, {"p": [1, 2, 3]}, r"outputs\['p'\] has 3 values"),
        ({"a": "text"}, None, r"inputs\['a'\]: expected a sequence.*got str.*\[value\]"),
        ({"a": 5}, None, r"inputs\['a'\]: expected a sequence.*got int"),
        ({}, None, r"inputs: empty dict; expected at least one column"),
        ("a string", None, r"inputs: unsupported type str; expected a dict of columns"),
        ({"a": [1, 2]}, {1, 2}, r"outputs: unsupported type set;.*or one sequence"),
        (None, None, r"inputs: missing"),
    ],
)
def test_malformed_calls_say_what_and_where(inputs, outputs, message):
    with pytest.raises(LogInputError, match=message):
        Batch.from_log(np.arange(2), np.zeros(2, np.int64), inputs, outputs)


def test_count_rows_of_unsupported_types_is_an_error():
    with pytest.raises(LogInputError, match="unsupported type int"):
        Batch.count_rows(3)
    with pytest.raises(LogInputError, match="empty dict"):
        Batch.count_rows({})


@pytest.mark.parametrize(
    ("values", "kept", "bad_rows", "reason"),
    [
        (["a", 1, "b", None], ["a", None, "b", None], [1], "expected str like most of the column"),
        ([1, 2.5, "x", 3], [1.0, 2.5, None, 3.0], [2], "expected int like most"),
        ([{"k": 1}, [1], {"k": 2}], [{"k": 1}, None, {"k": 2}], [1], "expected dict"),
        ([object(), object()], [None, None], [0, 1], "unsupported value type object"),
        ([True, 2, False], [True, None, False], [1], "expected bool like most"),
        ([1, 2**70, 3], [1, None, 3], [1], "expected int like most of the column, got int beyond"),
        ([2**64, 2**65], [None, None], [0, 1], "unsupported value type int beyond 64 bits"),
    ],
)
def test_mixed_types_keep_the_majority_and_report_the_rest(values, kept, bad_rows, reason):
    b = make({"c": values})
    assert b.inputs.column("c").to_pylist() == kept
    assert [p.row for p in b.problems] == bad_rows
    assert all(reason in p.reason for p in b.problems)
    assert all(p.part == "inputs" and p.column == "c" for p in b.problems)


def test_lone_surrogates_are_cleaned_not_fatal():
    b = make({"text": ["ok", "bad \udc80 text", None]})
    assert b.inputs.column("text").to_pylist()[0] == "ok"
    assert "\\udc80" in b.inputs.column("text").to_pylist()[1]
    pa.Table.from_batches(b.stored_table().to_batches())  # writable as UTF-8


def test_nan_in_a_text_column_is_missing_in_every_view():
    b = make({"text": ["a", float("nan"), None]})
    assert b.inputs.column("text").to_pylist() == ["a", None, None]
    assert b.python_inputs()["text"].tolist() == ["a", None, None]
    # the plain list is reused as the signal view only when it holds exactly the same values
    b = make({"text": ["a", "b", None]})
    assert b.raw == {"text": ["a", "b", None]}
    assert b.python_inputs()["text"].tolist() == ["a", "b", None]


def test_concat_fills_missing_columns_and_unifies_types():
    b1 = make({"text": ["a"], "n": [1]})
    b2 = Batch.from_log(np.arange(1, 3), np.zeros(2, np.int64), {"text": ["b", None]},
                        outputs=[0.5, 0.6])  # fmt: skip
    b3 = Batch.from_log(np.arange(3, 4), np.zeros(1, np.int64), {"text": ["c"], "n": [2.5]})
    b = Batch.concat([b1, b2, b3])
    assert b.ids.tolist() == [0, 1, 2, 3]
    assert b.inputs.column("n").to_pylist() == [1.0, None, None, 2.5]
    assert b.outputs.column("outputs").to_pylist() == [None, 0.5, 0.6, None]
    sub = b.take(np.array([False, True, False, True]))
    assert sub.ids.tolist() == [1, 3]
    assert sub.inputs.column("text").to_pylist() == ["b", "c"]


def test_concat_keeps_cell_problems_at_their_new_rows():
    b1 = make({"c": ["a", "b"]})
    b2 = Batch.from_log(np.arange(2, 5), np.zeros(3, np.int64), {"c": ["x", 1, "y"]})
    b = Batch.concat([b1, b2])
    assert [(p.row, p.value) for p in b.problems] == [(3, 1)]


# -- quarantine rows as JSON: the fast encoder writes what json.dumps writes -----------------------

cells = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(cells, cells, st.text(max_size=5) | st.none()), min_size=1, max_size=8))
def test_rows_json_is_what_json_dumps_writes(rows):
    a = [r[0] for r in rows]
    b = [r[1] for r in rows]
    c = [r[2] for r in rows]
    batch = make({"a": a, "b b": b, 'ü"': c})
    got = batch.rows_json(np.arange(len(rows)))
    for i, text in enumerate(got):
        expected = {"id": i}
        for name in batch.inputs.column_names:
            expected[name] = batch.inputs.column(name)[i].as_py()
        for p in batch.problems:
            if p.row == i:
                expected[p.column] = p.value if isinstance(p.value, str) else repr(p.value)
        assert json.loads(text) == json.loads(json.dumps(expected, ensure_ascii=False, default=str))
        assert text == batch.row_json(i)


def test_rows_json_of_lists_floats_and_nested_values():
    batch = make(
        {"l": [[1, 2], None], "f": [float("inf"), 0.1], "d": [{"k": "v"}, {"k": None}]},
        outputs=np.array([[0.5, 0.5], [1.0, 0.0]]),
    )
    rows = batch.rows_json([1, 0])
    assert json.loads(rows[0]) == {"id": 1, "l": None, "f": 0.1, "d": {"k": None},
                                   "outputs": [1.0, 0.0]}  # fmt: skip
    assert rows[1].startswith('{"id": 0, "l": [1, 2], "f": Infinity')
    assert batch.rows_json([]) == []

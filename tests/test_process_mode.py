"""``mode="process"``: monitoring in a child process gives what a thread-mode Framework gives,
and keeps log()'s promises when the child dies, a call cannot be sent, or the parent exits."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import Framework, Signal
from curate.calls import LogCall
from curate.errors import ConfigError
from curate.process_channel import call_fields, decode_call, picklable
from curate.process_mode import _encode, _Marker
from curate.store_reader import StoreReader
from tests import real_corpora

ROOT = Path(__file__).resolve().parents[1]


def is_short(inputs, outputs, gts=None, extra_args=None):
    """A signal function at module level: importable, so the monitoring process can run it."""
    return [t is not None and len(t) < 40 for t in inputs["text"]]


def checks() -> list[dict]:
    return [
        {"type": "edge_case", "signal_formulae": Signal.contains("great") | Signal("short", is_short)},
        {"type": "data_integrity", "integrity_type": "non_null",
         "measurable_args": {"type": "input_feature", "feature_name": "text"}},
    ]  # fmt: skip


def texts(n: int) -> list[str | None]:
    if real_corpora.available():
        base = [str(t) for t in real_corpora.reviews()["text"]]
    else:
        base = [f"review {i} is great" if i % 3 else f"plain text number {i}" for i in range(500)]
    out: list[str | None] = [base[i % len(base)] for i in range(n)]
    for i in range(0, n, 17):
        out[i] = None
    return out


def stored(root: Path) -> dict[str, list[int]]:
    reader = StoreReader(root)
    return {t: sorted(reader.read(t, columns=["id"]).column("id").to_pylist())
            for t in ("retraining", "quarantine")}  # fmt: skip


def log_all(fw: Framework, rows: list[str | None], per_call: int) -> list[int]:
    ids: list[int] = []
    for i in range(0, len(rows), per_call):
        ids.extend(fw.log(inputs={"text": rows[i : i + per_call]}, outputs=[0.5] * per_call))
    return ids


def test_process_mode_stores_what_thread_mode_stores(tmp_path: Path) -> None:
    rows = texts(3_000)
    results = {}
    for mode in ("thread", "process"):
        root = tmp_path / mode
        with Framework({"checks": checks(), "retraining_folder": root}, mode=mode) as fw:
            ids = log_all(fw, rows[:1_000], 1) + log_all(fw, rows[1_000:], 250)
            stats = fw.stats()
            assert fw.backlog() == {"queued": 0, "buffered": 0}
        assert ids == list(range(3_000))
        results[mode] = (stored(root), {k: stats[k] for k in
                         ("rows_logged", "edge_cases", "quarantined", "rows_not_selected")})  # fmt: skip
    assert results["process"] == results["thread"]
    assert results["process"][1]["rows_logged"] == 3_000
    assert results["process"][1]["edge_cases"] > 100


def test_flush_is_durable_and_late_labels_arrive(tmp_path: Path) -> None:
    with Framework({"checks": checks(), "retraining_folder": tmp_path}, mode="process") as fw:
        fw.log(inputs={"text": ["great shoes", "x"]}, outputs=[0.1, 0.2], identifiers=["a", "b"])
        fw.log_ground_truth(identifiers=["a"], gts=[1])
        fw.flush()
        # Durable: another reader sees it before close().
        assert stored(tmp_path)["retraining"] == [0, 1]
        assert StoreReader(tmp_path).read("labels").num_rows == 1


def test_a_killed_child_is_restarted_and_its_loss_counted(tmp_path: Path) -> None:
    cfg = {"checks": checks(), "retraining_folder": tmp_path, "flush_interval": 0.05}
    fw = Framework(cfg, mode="process")
    writer = fw._writer
    rows = texts(200)
    handed_out = 0
    for k in range(30):
        handed_out += len(log_all(fw, rows, 20))
        if k in (10, 20):
            restarts = writer.restarts
            os.kill(writer._child.process.pid, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while writer.restarts == restarts and time.monotonic() < deadline:
                handed_out += len(fw.log(inputs={"text": ["logged while it restarts"]}))
                time.sleep(0.01)
    stats = fw.stats()
    fw.close()
    assert writer.restarts == 2
    # Every id handed out is counted once: written, or logged and dropped as lost.
    assert stats["rows_logged"] == handed_out > 6_000
    assert stats["rows_dropped"] == writer.lost_rows
    assert "monitoring process died" in (stats["last_error"] or "") or writer.lost_rows == 0
    # No partial file: every segment reads, and no id is stored twice.
    for path in tmp_path.rglob("*.parquet"):
        pq.read_table(path)
    ids = stored(tmp_path)["retraining"]
    assert len(ids) == len(set(ids))


def test_a_lambda_signal_is_a_clear_config_error(tmp_path: Path) -> None:
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal("always", lambda i, o: [True])}],
           "retraining_folder": tmp_path}  # fmt: skip
    with pytest.raises(ConfigError, match="cannot be pickled.*module level"):
        Framework(cfg, mode="process")
    with pytest.raises(ConfigError, match="strict=True"):
        Framework({"retraining_folder": tmp_path}, mode="process", strict=True)


def test_a_call_that_cannot_be_sent_is_quarantined_not_raised(tmp_path: Path) -> None:
    with Framework({"checks": checks(), "retraining_folder": tmp_path}, mode="process") as fw:
        before = fw.log(inputs={"text": ["great"]})
        bad = fw.log(inputs={"text": ["great", "also"]}, extra_args={"lock": threading.Lock()})
        after = fw.log(inputs={"text": ["great again"]})
        stats = fw.stats()
    assert list(bad) == [1, 2]
    quarantine = StoreReader(tmp_path).read("quarantine").to_pandas()
    sent_badly = quarantine[quarantine["check"] == "malformed_call"]
    assert sorted(sent_badly["id"]) == [1, 2]
    assert "pickle" in sent_badly["reason"].iloc[0]
    assert stored(tmp_path)["retraining"] == [before[0], after[0]]
    assert stats["rows_logged"] == 4
    assert fw.log(inputs={"text": ["late"]}) == range(0)  # after close: refused, not raised


def test_backpressure_keeps_the_caller_within_max_pending_rows(tmp_path: Path) -> None:
    cfg = {"checks": checks(), "retraining_folder": tmp_path, "max_pending_rows": 500}
    with Framework(cfg, mode="process") as fw:
        peak = 0
        for _ in range(40):
            fw.log(inputs={"text": texts(100)})
            peak = max(peak, fw._writer.pending_rows)
        assert peak <= 500 + 100
        assert fw.stats()["rows_logged"] == 4_000


def test_on_retrain_runs_in_this_process(tmp_path: Path) -> None:
    seen: list[str] = []
    cfg = {"checks": checks(), "retraining_folder": tmp_path, "retrain_after": 50,
           "on_retrain": lambda run: seen.append(run.run_id)}  # fmt: skip
    # on_retrain stays in the parent: it need not be picklable.
    with Framework(cfg, mode="process") as fw:
        fw.log(inputs={"text": ["great"] * 60})
        fw.flush()
        run = fw.wait_for_training(timeout=30)
    assert seen and run is not None and run.run_id == seen[0]


SCRIPT = """
import sys
from curate import Framework, Signal

def shouty(inputs, outputs, gts=None, extra_args=None):  # defined in __main__
    return [t.isupper() for t in inputs["text"]]

if __name__ == "__main__":
    fw = Framework({{"checks": [{{"type": "edge_case", "signal_formulae": Signal("shouty", shouty)}}],
                    "retraining_folder": sys.argv[1]}}, mode="process")
    for i in range(2000):
        fw.log(inputs={{"text": ["LOUD" if i % 2 else "quiet"]}})
    # no close(): the interpreter's exit must not lose a row
"""


def test_a_script_that_exits_without_close_loses_nothing(tmp_path: Path) -> None:
    script = tmp_path / "service.py"
    script.write_text(textwrap.dedent(SCRIPT.format()))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "store")], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reader = StoreReader(tmp_path / "store")
    ids = np.array(reader.read("retraining", columns=["id"]).column("id"))
    assert reader.rows_logged() == 2_000
    assert sorted(ids) == list(range(1, 2_000, 2))


def every_row(inputs, outputs, gts=None, extra_args=None):
    """Every row is an edge case: the retraining set then holds every row that was written."""
    return [True] * len(inputs["text"])


def test_one_row_calls_from_threads_all_arrive_with_their_own_values(tmp_path: Path) -> None:
    # The request path's shape: many threads, one row per call, late labels, a refused call and
    # flushes among them; frames then mix every kind of item the sender carries.
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal("every", every_row)}],
           "retraining_folder": tmp_path}  # fmt: skip
    rows = [t if t is not None else "none" for t in texts(2_400)]
    logged: list[list[tuple[int, str, str]]] = [[] for _ in range(4)]
    with Framework(cfg, mode="process") as fw:

        def handler(k: int) -> None:
            for i in range(k, len(rows), 4):
                ids = fw.log(inputs={"text": [rows[i]]}, outputs=[0.5], identifiers=[f"r{i}"])
                logged[k].append((ids[0], rows[i], f"r{i}"))
                if i % 97 == 0:
                    fw.log_ground_truth(identifiers=[f"r{i}"], gts=[1])
                if i % 601 == 0:
                    fw.log(inputs={"text": []})  # refused: no rows
                if i % 800 == 0:
                    fw.flush()

        pool = [threading.Thread(target=handler, args=(k,)) for k in range(4)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        fw.flush()
        # Every frame's rows were counted right: nothing is left pending once all is written.
        assert fw._writer.pending_rows == 0
        assert fw.backlog() == {"queued": 0, "buffered": 0}
        stats = fw.stats()
    table = StoreReader(tmp_path).read("retraining", columns=["id", "text", "identifiers"])
    columns = [table.column(c).to_pylist() for c in ("id", "text", "identifiers")]
    got = sorted(zip(*columns, strict=True))
    assert got == sorted(x for per_thread in logged for x in per_thread)
    assert [ids == sorted(ids) for ids in ([x[0] for x in t] for t in logged)] == [True] * 4
    assert stats["rows_logged"] == len(rows) and stats["rows_dropped"] == 0
    labels = StoreReader(tmp_path).read("labels").column("identifiers").to_pylist()
    assert sorted(labels) == sorted(f"r{i}" for i in range(0, len(rows), 97))


def test_a_kill_mid_frame_counts_exactly_what_was_not_written(tmp_path: Path) -> None:
    # Threads keep logging one-row calls while the child is killed: each id handed out is
    # either in the store or counted as lost (and logged), never both missing nor stored twice.
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal("every", every_row)}],
           "retraining_folder": tmp_path, "flush_interval": 0.05}  # fmt: skip
    fw = Framework(cfg, mode="process")
    writer, stop = fw._writer, threading.Event()
    handed: list[list[int]] = [[] for _ in range(3)]

    def handler(k: int) -> None:
        while not stop.is_set():
            handed[k].extend(fw.log(inputs={"text": [f"row of thread {k}"]}))

    pool = [threading.Thread(target=handler, args=(k,)) for k in range(3)]
    for t in pool:
        t.start()
    while sum(map(len, handed)) < 3_000:
        time.sleep(0.01)
    os.kill(writer._child.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while writer.restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    stop.set()
    for t in pool:
        t.join()
    stats = fw.stats()
    fw.close()
    all_handed = sorted(i for ids in handed for i in ids)
    stored_ids = stored(tmp_path)["retraining"]
    assert writer.restarts == 1 and writer.lost_rows > 0
    assert stats["rows_logged"] == len(all_handed) and stats["rows_dropped"] == writer.lost_rows
    assert len(stored_ids) == len(set(stored_ids)) and set(stored_ids) <= set(all_handed)
    # Counted as lost: what the dead child had not acknowledged, an upper bound of what is
    # missing by at most the write it finished in the instant before dying.
    assert len(stored_ids) + writer.lost_rows >= len(all_handed)


def test_a_call_made_while_the_sender_is_idle_wakes_it(tmp_path: Path, monkeypatch) -> None:
    import curate.process_mode as process_mode

    # Without log() waking it, an idle sender would not look at the queue for a minute.
    monkeypatch.setattr(process_mode, "IDLE_WAIT", 60.0)
    cfg = {"checks": checks(), "retraining_folder": tmp_path, "flush_interval": 0.05}
    with Framework(cfg, mode="process") as fw:
        writer = fw._writer
        fw.log(inputs={"text": ["first"]})
        deadline = time.monotonic() + 30
        while not (writer._idle and writer.pending_rows == 0) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer._idle and writer.pending_rows == 0
        fw.log(inputs={"text": ["great, and sent at once"]})
        while writer.pending_rows and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.pending_rows == 0  # written by the child without any flush()


@st.composite
def queued_items(draw):
    """What the sender may find queued: log()'s tuples, LogCalls, refused calls and markers."""
    items = []
    for k in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["fields", "logcall", "late", "refused", "flush"]))
        n = draw(st.integers(1, 4))
        values = {"text": [f"row {k}.{j}" for j in range(n)]}
        if kind == "fields":
            items.append(call_fields(k * 10, n, 7, values, [0.5] * n, None, None, None))
        elif kind == "logcall":
            items.append(LogCall(k * 10, n, 7, values, identifiers=[str(j) for j in range(n)]))
        elif kind == "late":
            items.append(LogCall(-1, n, 7, None, None, [1] * n, ["a"] * n, ground_truth_only=True))
        elif kind == "refused":
            items.append(("refused", "inputs: no rows", None))
        else:
            items.append(_Marker("flush"))
    return items


def _kind(item: object) -> str:
    if isinstance(item, _Marker):
        return item.op
    if isinstance(item, LogCall):
        return "late" if item.ground_truth_only else "call"
    return "call" if type(item[0]) is int else item[0]


@given(queued_items())
@settings(max_examples=200, deadline=None)
def test_a_frame_counts_the_rows_of_its_calls_and_decodes_to_them(items: list) -> None:
    wire, rows = _encode(items)
    calls = [i if isinstance(i, LogCall) else LogCall(*i) for i in items
             if _kind(i) in ("call", "late")]  # fmt: skip
    # The reference: the dataclasses' own counts.
    assert rows == sum(c.n for c in calls if not c.ground_truth_only)
    sent = pickle.loads(pickle.dumps(wire))
    assert len(sent) == len(items)
    assert [decode_call(w) for w in sent if _kind(w) in ("call", "late")] == calls
    # Markers and refused calls keep their places among the calls.
    assert [_kind(w) for w in sent] == [_kind(i) for i in items]


def test_a_frame_with_a_call_pickle_refuses_keeps_the_others() -> None:
    good = call_fields(0, 1, 7, {"text": ["fine"]}, None, None, None, None)
    bad = call_fields(1, 2, 7, {"text": ["a", "b"]}, None, None, None, {"lock": threading.Lock()})
    wire, rows = _encode([good, bad])
    assert rows == 3
    fixed = [picklable(w) for w in wire]
    assert fixed[0] == good
    assert fixed[1][:3] == ("malformed", 1, 2) and "pickle" in fixed[1][5]
    assert len(fixed[1][6]) == 2  # one text per row, for the quarantine

"""How the log path records what went wrong: logged, counted in metrics, kept in quarantine.

Nothing that fails here is lost or raised into production code: a malformed call, a refused
call, a cell that cannot be stored as its column's type, a monitor that raises, an edge case
that does not fit the retraining set's schema. Each becomes quarantine rows holding the whole
original row and a metric row counting it. Strict mode raises the same message instead.

>>> import tempfile, numpy as np
>>> from curate.buffers import WriteBuffers
>>> from curate.store import Store
>>> failures = Failures(WriteBuffers(Store(tempfile.mkdtemp()), strict=False, max_rows=10),
...                     strict=False)
>>> failures.refused("inputs: no rows", raw={})
>>> failures.last_error, failures.buffers.buffered_rows()
('log() call refused: inputs: no rows', 1)
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import numpy as np
import pyarrow as pa

from curate.arrow_values import safe_repr
from curate.batch import Batch
from curate.buffers import WriteBuffers
from curate.calls import LogCall
from curate.errors import CurateError, LogInputError
from curate.tables import FRAMEWORK, Metric, framework_metric, now_us, quarantine_table

log = logging.getLogger("curate")

#: Characters of a malformed call's row kept in quarantine.
MAX_ROW_CHARS = 100_000


class Failures:
    """Records failures into ``buffers``; ``last_error`` is the latest message."""

    def __init__(self, buffers: WriteBuffers, *, strict: bool) -> None:
        self.buffers = buffers
        self.strict = strict
        self.last_error: str | None = None

    def report(self, message: str, exc: BaseException | None = None) -> None:
        """Log ``message`` (with the traceback at DEBUG level) and remember it."""
        self.last_error = message
        log.error("curate: %s", message)
        if exc is not None and log.isEnabledFor(logging.DEBUG):
            log.debug("".join(traceback.format_exception(exc)))

    def _quarantine(self, ids: Any, ts: Any, **fields: Any) -> None:
        self.buffers.add("quarantine", quarantine_table(ids, ts, **fields))

    def malformed(self, call: LogCall, exc: Exception) -> None:
        """A call whose values could not be turned into a batch."""
        message = f"log() call with ids {call.first_id}..{call.first_id + call.n - 1}: {exc}"
        if self.strict:
            raise exc if isinstance(exc, CurateError) else LogInputError(message) from exc
        self.report(f"malformed {message}")
        self.malformed_rows(call, str(exc), call_rows(call))

    def malformed_rows(self, call: LogCall, reason: str, rows: list[str]) -> None:
        """Quarantine the rows of a malformed call, given as ``rows`` (their text forms)."""
        self.buffers.metric_rows.append(framework_metric("log", Metric.MALFORMED_CALLS, 1, call.n))
        if call.ground_truth_only:
            return
        # Its rows were logged (they have ids) and are all quarantined: they count as logged.
        ts = np.asarray(call.ts)
        self.buffers.metric_rows.append(
            framework_metric("log", Metric.ROWS_LOGGED, call.n, call.n,
                             window_start=int(ts.min()), window_end=int(ts.max()))
        )  # fmt: skip
        self._quarantine(
            np.arange(call.first_id, call.first_id + call.n, dtype=np.int64),
            np.full(call.n, call.ts, np.int64),
            monitor=FRAMEWORK, check="malformed_call", column="", values=[None] * call.n,
            reasons=reason, rows=rows,
        )  # fmt: skip

    def refused(self, message: str, raw: Any) -> None:
        """A call that could not be read at all (no rows could be counted)."""
        self.report(f"log() call refused: {message}")
        self.buffers.metric_rows.append(framework_metric("log", Metric.MALFORMED_CALLS, 1, 0))
        self._quarantine(
            np.array([-1]), np.array([now_us()]), monitor=FRAMEWORK, check="malformed_call",
            column="", values=[None], reasons=message,
            rows=[safe_repr({"inputs": raw}, MAX_ROW_CHARS)],
        )  # fmt: skip

    def quarantine_all(self, batch: Batch, kind: str, check: str, exc: BaseException) -> None:
        """Every row of ``batch``, because ``check`` of monitor ``kind`` failed on it."""
        self._quarantine(
            batch.ids, batch.ts, monitor=kind, check=check, column="",
            values=[None] * len(batch), reasons=f"{type(exc).__name__}: {exc}",
            rows=batch.rows_json(np.arange(len(batch))),
        )  # fmt: skip

    def monitor_failed(self, kind: str, name: str, batch: Batch, exc: Exception) -> None:
        """A monitor raised on ``batch``: its rows are kept apart and the error counted."""
        message = f"monitor {name!r} failed on rows {batch.ids[0]}..{batch.ids[-1]}: {exc}"
        if self.strict:
            raise exc
        self.report(message, exc)
        self.buffers.metric_rows.append(
            {**framework_metric(name, Metric.MONITOR_ERRORS, 1, len(batch)), "monitor": kind}
        )
        self.quarantine_all(batch, kind, name, exc)

    def check_error(self, kind: str, name: str, message: str, n: int) -> None:
        """A check ran but part of it failed (a signal leaf raised); it handled its own rows."""
        self.report(message)
        self.buffers.metric_rows.append(
            {**framework_metric(name, Metric.MONITOR_ERRORS, 1, n), "monitor": kind}
        )

    def cell_problems(self, batch: Batch) -> np.ndarray:
        """Quarantine the rows with cells that could not be stored; their mask."""
        bad = np.zeros(len(batch), dtype=bool)
        first = batch.problems[0]
        where = (
            f"{first.part}[{first.column!r}] row {first.row} (id {batch.ids[first.row]}): "
            f"{first.reason}: {safe_repr(first.value)}"
        )
        if self.strict:
            raise LogInputError(where)
        self.report(
            f"{len(batch.problems)} value(s) could not be stored as their column's type; the "
            f"rows are quarantined (check 'dtype'); first: {where}"
        )
        for p in batch.problems:
            bad[p.row] = True
            self._quarantine(
                batch.ids[[p.row]], batch.ts[[p.row]], monitor=FRAMEWORK, check="dtype",
                column=p.column, values=[safe_repr(p.value)], reasons=p.reason,
                rows=[batch.row_json(p.row)],
            )  # fmt: skip
        self.buffers.metric_rows.append(
            framework_metric("dtype", Metric.BAD_CELLS, len(batch.problems), len(batch))
        )
        return bad

    def schema_misfits(self, rows: pa.Table, column: str, stored: pa.DataType) -> None:
        """Edge cases whose ``column`` does not fit the retraining set's type ``stored``."""
        got = rows.schema.field(column).type
        self.report(
            f"{rows.num_rows} edge cases have {column!r} of type {got}, but the retraining "
            f"set stores {stored}: kept in quarantine"
        )
        self._quarantine(
            rows.column("id").to_numpy(), rows.column("ts").cast(pa.int64()).to_numpy(),
            monitor=FRAMEWORK, check="schema", column=column,
            values=[safe_repr(v) for v in rows.column(column).to_pylist()],
            reasons=f"type {got} does not fit {stored}",
            rows=[json.dumps(r, default=safe_repr) for r in rows.to_pylist()],
        )  # fmt: skip


def call_rows(call: LogCall) -> list[str]:
    """Each row of a call as bounded text, for quarantine (whatever its values are)."""
    parts = ("inputs", "outputs", "gts")
    return [
        safe_repr({p: _cell(getattr(call, p), i) for p in parts}, MAX_ROW_CHARS)
        for i in range(call.n)
    ]


def _cell(obj: Any, i: int) -> Any:
    try:
        if isinstance(obj, dict):
            return {k: v[i] for k, v in obj.items()}
        return obj[i] if obj is not None else None
    except Exception:  # noqa: BLE001 - a malformed call may not even be indexable
        return None if obj is None else safe_repr(obj)

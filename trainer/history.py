"""Per-step training history and progress, collected from ``transformers.Trainer`` logs.

:class:`HistoryCallback` turns every log event (train loss and learning rate every
``logging_steps``, eval loss every ``eval_steps``) into rows of ``history.parquet``
``{step, epoch, loss, eval_loss, perplexity, learning_rate}``, writes a one-line progress message
to the ``trainer`` logger and, when given a run, keeps the run record's ``progress`` current so the
CLI and dashboard can show how far a background run has got.

It also skips the evaluation ``eval_steps`` would run at the very last step (the run's "after"
evaluation measures the final model anyway, as saved, and adds that row), and sums the time of
the evaluations run during training (``eval_seconds``), so a run can report the throughput of
its training steps apart from them.

>>> h = HistoryCallback()
>>> h.add(step=0, epoch=0.0, eval_loss=2.0)
>>> h.rows()[0]["perplexity"]
7.38905609893065
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import pyarrow as pa
from transformers import TrainerCallback

log = logging.getLogger("trainer")

HISTORY_SCHEMA = pa.schema(
    [
        ("step", pa.int64()),
        ("epoch", pa.float64()),
        ("loss", pa.float64()),
        ("eval_loss", pa.float64()),
        ("perplexity", pa.float64()),
        ("learning_rate", pa.float64()),
    ]
)


def perplexity(loss: float | None) -> float | None:
    """``exp(loss)``, capped to stay finite; ``None`` stays ``None``.

    >>> round(perplexity(1.0), 4)
    2.7183
    """
    if loss is None or math.isnan(loss):
        return None
    return math.exp(min(loss, 50.0))


class HistoryCallback(TrainerCallback):
    """Collect log events as history rows; report progress to the log and the run record."""

    def __init__(self, run: Any = None, min_update_seconds: float = 1.0) -> None:
        self.run = run
        self.min_update_seconds = min_update_seconds
        self._rows: dict[int, dict[str, Any]] = {}
        self._last_update = 0.0
        self._started = time.monotonic()
        #: Seconds spent in evaluations during ``trainer.train()``.
        self.eval_seconds = 0.0
        self._training = False

    def add(self, *, step: int, epoch: float | None, **values: float | None) -> None:
        """Merge ``values`` into the row of ``step`` (perplexity follows eval loss)."""
        row = self._rows.setdefault(step, {"step": step, "epoch": epoch})
        row.update({k: v for k, v in values.items() if v is not None})
        if row.get("eval_loss") is not None:
            row["perplexity"] = perplexity(row["eval_loss"])

    def rows(self) -> list[dict[str, Any]]:
        """History rows in step order, with every column present."""
        names = HISTORY_SCHEMA.names
        return [{n: self._rows[s].get(n) for n in names} for s in sorted(self._rows)]

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows(), schema=HISTORY_SCHEMA)

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        self._training = True

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        self._training = False

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if state.max_steps and state.global_step >= state.max_steps:
            control.should_evaluate = False  # the "after" evaluation comes next

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        logs = logs or {}
        if self._training and logs.get("eval_runtime") is not None:
            self.eval_seconds += float(logs["eval_runtime"])
        values = {k: logs.get(k) for k in ("loss", "eval_loss", "learning_rate")}
        if not any(v is not None for v in values.values()):
            return
        self.add(step=state.global_step, epoch=state.epoch, **values)
        self._report(state, values)

    def _report(self, state: Any, values: dict[str, float | None]) -> None:
        shown = " ".join(f"{k}={v:.4g}" for k, v in values.items() if v is not None)
        elapsed = time.monotonic() - self._started
        log.info("step %d/%d %s (%.0fs)", state.global_step, state.max_steps, shown, elapsed)
        now = time.monotonic()
        final = state.max_steps and state.global_step >= state.max_steps
        if self.run is not None and (final or now - self._last_update >= self.min_update_seconds):
            self._last_update = now
            self.run.update(
                progress={
                    "step": state.global_step,
                    "max_steps": state.max_steps,
                    "epoch": state.epoch,
                    "elapsed_s": round(elapsed, 1),
                }
            )

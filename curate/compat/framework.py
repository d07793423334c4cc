"""``curate.Framework``: the native Framework, which also runs UpTrain 0.2 configs and calls.

A native config behaves exactly as :class:`curate.framework.Framework`. An UpTrain config
(recognised by :func:`~curate.compat.translate.is_uptrain`, or passed as
``Framework(cfg_dict=cfg)``) runs its checks with UpTrain's semantics, and ``log()`` behaves as
UpTrain's: it returns the rows' UpTrain ids (the ``id`` input column, a DataFrame's index, or a
counter from 0), ``log(identifiers=ids, gts=gts)`` attaches labels later, ``extra`` reaches the
signals, ``framework.version`` counts retrainings, and ``<folder>/<version>/smart_data.csv``
holds the edge cases.

>>> import tempfile
>>> cfg = {"checks": [{"type": "data_integrity", "integrity_type": "greater_than",
...         "threshold": 1, "measurable_args": {"type": "input_feature",
...         "feature_name": "passengers"}}], "retraining_folder": tempfile.mkdtemp(),
...        "logging_args": {"st_logging": True}}
>>> fw = Framework(cfg_dict=cfg)
>>> fw.log(inputs={"passengers": [0, 1, 2]}), fw.version
([0, 1, 2], 1)
>>> fw.close(); fw.stats()["quarantined"]
1
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from curate.batch import Batch
from curate.calls import LogCall
from curate.compat import concept_drift, custom, integrity  # noqa: F401 - registers the monitors
from curate.compat.training import retrain_uptrain_style
from curate.compat.translate import Plan, is_uptrain, translate
from curate.compat.views import write_card, write_smart_data
from curate.compat.visuals import ShapVisual, write_visuals
from curate.framework import Framework as NativeFramework
from curate.runs import Run, iso_now
from curate.slack import SlackSink

log = logging.getLogger("curate")

#: Seconds between rewrites of the smart_data.csv view while logging.
VIEW_INTERVAL = 2.0


class Framework(NativeFramework):
    """curate's Framework; UpTrain 0.2 configs and calls work too (see the module docstring)."""

    def __init__(self, config: Any = None, cfg_dict: Any = None, uptrain: bool | None = None,
                 **overrides: Any) -> None:  # fmt: skip
        config = cfg_dict if cfg_dict is not None else config
        self.uptrain = bool(uptrain) if uptrain is not None else (
            cfg_dict is not None or is_uptrain(config)
        )  # fmt: skip
        self.plan: Plan | None = None
        self._since = iso_now()
        if not self.uptrain:
            url = None
            if isinstance(config, dict) and "slack_webhook_url" in config:
                config = dict(config)
                url = config.pop("slack_webhook_url")
            super().__init__(config, **overrides)
            self._sinks = [SlackSink(self.store, url)] if url else []
            return
        self.plan = plan = translate(dict(config or {}))
        if plan.retrain_after is not None:
            plan.config.update(retrain_after=plan.retrain_after, on_retrain=self._retrain_uptrain)
        self._count = 0
        self._count_lock = threading.Lock()
        self._view_lock = threading.Lock()
        self._view_state: tuple[Any, ...] | None = None
        self._view_due = 0.0
        super().__init__(plan.config, **overrides)
        self._calls_used = any(m.kind.startswith("uptrain_") for m in self.monitors)
        if self._calls_used:
            self._submit = self._submit_recorded
        write_card(self.store.root)
        self._shap = [ShapVisual(v, self.store) for v in plan.visuals if v.get("type") == "SHAP"]
        if plan.visuals:
            write_visuals(self.store.root, plan.visuals)
        url = plan.slack_webhook_url
        self._sinks = [SlackSink(self.store, url)] if url else []

    # -- the request path --------------------------------------------------------------------
    def _submit_recorded(self, call: LogCall) -> None:
        # Recorded before the writer can see the call, so its checks cut the batch right here.
        self.plan.shared.calls.add(call.first_id, call.n, call.extra_args)
        self._writer.submit(call)

    def log(self, inputs: Any = None, outputs: Any = None, gts: Any = None,
            identifiers: Any = None, extra_args: dict[str, Any] | None = None,
            extra: dict[str, Any] | None = None) -> Any:  # fmt: skip
        """Log rows; ``log(identifiers=ids, gts=gts)`` alone attaches labels to logged rows.

        With an UpTrain config it returns UpTrain's ids; otherwise the rows' range, as
        :meth:`curate.framework.Framework.log` does. ``extra`` is UpTrain's name of
        ``extra_args``.
        """
        extra_args = extra if extra_args is None else extra_args
        if inputs is None and gts is not None:
            return self._log_labels(outputs, gts, identifiers)
        if not self.uptrain:
            return super().log(inputs, outputs, gts, identifiers, extra_args)
        ids, inputs = self._uptrain_ids(inputs)
        if ids is None:
            return super().log(inputs, outputs, gts, identifiers, extra_args)
        super().log(
            inputs, outputs, gts, ids if isinstance(ids, list) else ids.tolist(), extra_args
        )
        return ids

    def _log_labels(self, outputs: Any, gts: Any, identifiers: Any) -> Any:
        if outputs is not None:
            return self._refuse("log(): outputs need the inputs they were predicted from")
        if identifiers is None:
            return self._refuse("log(): gts without inputs need the identifiers they belong to")
        self.log_ground_truth(identifiers, gts)
        return identifiers

    def log_ground_truth(self, identifiers: Any, gts: Any) -> None:
        if self.plan is not None and self.plan.needs_labels:
            try:
                if len(identifiers) == len(gts):
                    self.plan.shared.calls.add_late(len(gts))
            except TypeError:
                pass  # the native method reports it
        super().log_ground_truth(identifiers, gts)

    def _uptrain_ids(self, inputs: Any) -> tuple[Any, Any]:
        """UpTrain's ids of a call (its ``id`` column, a DataFrame's index, or a counter)."""
        column = self.plan.id_column
        try:
            n = Batch.count_rows(inputs)
        except Exception:  # noqa: BLE001 - the native log() reports a bad call
            return None, inputs
        ids: Any = None
        if isinstance(inputs, dict):
            if inputs.get(column) is not None:
                ids = np.asarray(inputs[column])
            inputs = {k: v for k, v in inputs.items() if k != column}
        elif hasattr(inputs, "columns") and hasattr(inputs, "index"):
            if column in inputs.columns:
                ids, inputs = inputs[column].to_numpy(), inputs.drop(columns=[column])
            else:
                ids = np.asarray(inputs.index)
        with self._count_lock:
            first, self._count = self._count, self._count + n
        return (list(range(first, first + n)) if ids is None else ids), inputs

    # -- views, flush, retraining ------------------------------------------------------------
    @property
    def version(self) -> int:
        """UpTrain's model version: 1, plus each training run that succeeded since this start."""
        done = [r for r in self.runs.list() if r.record.get("created_at", "") >= self._since]
        return 1 + sum(r.status == "succeeded" for r in done)

    @property
    def smart_data_path(self):
        """Where UpTrain notebooks read this version's edge cases."""
        return self.store.root / str(self.version) / "smart_data.csv"

    def _refresh_view(self, force: bool = False) -> None:
        if self.plan is None or not self.plan.log_data:
            return
        start = time.monotonic()
        if not force and start < self._view_due:
            return
        with self._view_lock:
            files = self.store.pending_files()
            state = (self.version, tuple(files))
            if state == self._view_state and self.smart_data_path.exists():
                return
            write_smart_data(self.smart_data_path, self.store.read("retraining", files=files))
            self._view_state = state
        # A big retraining set is rewritten less often, so the view never costs the writer much.
        self._view_due = time.monotonic() + max(VIEW_INTERVAL, 10 * (time.monotonic() - start))

    def _maybe_retrain(self) -> None:
        super()._maybe_retrain()
        try:
            self._refresh_view()
        except Exception as exc:  # noqa: BLE001 - a view must not stop the writer
            log.error("curate: could not write %s: %s", self.smart_data_path, exc)

    def flush(self, timeout: float | None = None) -> None:
        super().flush(timeout)
        self._after_flush()
        for sink in getattr(self, "_sinks", []):
            sink.poll()

    def _after_flush(self) -> None:
        self._refresh_view(force=True)
        for visual in getattr(self, "_shap", []):
            try:
                visual.refresh()
            except Exception as exc:  # noqa: BLE001 - a visual must not break flush()
                log.error("curate: SHAP values could not be computed: %s", exc)

    def close(self) -> None:
        closed = self._writer.closed
        super().close()
        if not closed:
            self._after_flush()
            for sink in getattr(self, "_sinks", []):
                sink.close()

    def _retrain_uptrain(self, run: Run) -> None:
        plan = self.plan
        metrics = retrain_uptrain_style(run, self.store, self.version, plan.training,
                                        plan.evaluation)  # fmt: skip
        run.update(metrics=metrics)

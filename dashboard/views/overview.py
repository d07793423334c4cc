"""Overview: rows logged, edge cases and retraining progress, integrity, drift, runs, alerts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from dashboard import data, ui

REFRESH_CHOICES = {"off": None, "2 s": 2, "5 s": 5, "15 s": 15, "60 s": 60}


def render() -> None:
    """Draw the page; the body refreshes itself on the chosen interval."""
    root = ui.store_root()
    head, choice = st.columns([4, 1], vertical_alignment="bottom")
    head.title("Overview")
    label = choice.selectbox("Auto-refresh", list(REFRESH_CHOICES), index=2, key="refresh")
    if not data.store_exists(root):
        ui.no_store(root)
        return
    body = st.fragment(run_every=REFRESH_CHOICES[label])(_body)
    body(root)


def _body(root: Path) -> None:
    override = ui.retrain_after_arg(sys.argv[1:], os.environ)
    o = data.overview(root, override)
    if not o.rows_logged and not o.edge_cases and not o.runs:
        ui.empty(
            "Nothing logged yet: call `framework.log(inputs=...)` from your code with a "
            f"`Framework` writing to `{root}`; counts appear here within a second of each "
            f"flush ({ui.QUICK_START})."
        )
    _headline(o)
    _progress(o)
    left, right = st.columns(2)
    with left:
        _latest_run(o)
    with right:
        _drift(o)
    _alerts(root)


def _headline(o: data.Overview) -> None:
    cols = st.columns(6)
    cols[0].metric("Rows logged", ui.fmt_int(o.rows_logged))
    cols[1].metric("Edge cases collected", ui.fmt_int(o.edge_cases))
    cols[2].metric("Quarantined rows", ui.fmt_int(o.quarantined))
    cols[3].metric(
        "Integrity violation rate",
        ui.fmt_pct(o.violation_rate),
        help=f"{o.violations:,} violations in {o.checked_rows:,} checked rows",
    )
    cols[4].metric("Drifted columns", f"{len(o.drift_columns)} / {o.drift_monitored}")
    cols[5].metric("Training runs", ui.fmt_int(o.runs))


def _progress(o: data.Overview) -> None:
    if o.retrain_after:
        share = min(o.pending / o.retrain_after, 1.0)
        st.progress(
            share,
            text=f"{o.pending:,} of {o.retrain_after:,} edge cases toward the next training "
            f"run (`retrain_after`), {share:.0%}",
        )
    else:
        st.caption(
            f"{o.pending:,} edge cases since the last training run. `retrain_after` is not "
            "known to the dashboard: start it with `--retrain-after N` (or set "
            "`CURATE_RETRAIN_AFTER`) to see the progress toward it."
        )


def _latest_run(o: data.Overview) -> None:
    st.subheader("Latest training run")
    run = o.latest_run
    if run is None:
        ui.empty(
            "No training runs yet: a run starts when `retrain_after` edge cases have been "
            "collected and the config has `training_args`, or run `curate train --store ...`."
        )
        return
    st.markdown(f"**{run.run_id}** — {ui.status_badge(run.status)}")
    m = run.metrics
    cols = st.columns(3)
    cols[0].metric("Rows trained on", ui.fmt_int(run.record.get("snapshot_rows")))
    before, after = m.get("perplexity_before"), m.get("perplexity_after")
    delta = None if before is None or after is None else f"{after - before:+.2f}"
    cols[1].metric("Perplexity after", ui.fmt_float(after, 2), delta, delta_color="inverse")
    cols[2].metric("Perplexity before", ui.fmt_float(before, 2))
    if run.error:
        st.error(run.error.splitlines()[0][:300])
    st.page_link("app_pages/training.py", label="Training runs", icon=":material/arrow_forward:")


def _drift(o: data.Overview) -> None:
    st.subheader("Drift")
    if not o.drift_monitored:
        ui.empty(
            "No drift statistics yet: add a `data_drift` check with a reference to the config."
        )
        return
    if o.drift_columns:
        st.warning("Drifted in the latest window: " + ", ".join(f"`{c}`" for c in o.drift_columns))
    else:
        st.success(f"No drift in the latest window ({o.drift_monitored} columns monitored).")
    st.page_link("app_pages/drift.py", label="Drift", icon=":material/arrow_forward:")


def _alerts(root: Path) -> None:
    st.subheader("Recent alerts")
    alerts = data.alerts(root)
    if alerts.empty:
        st.caption("No alerts: a check writes one when a window crosses its threshold.")
        return
    cols = ["ts", "monitor", "check", "column", "metric", "value", "threshold", "message"]
    ui.table(alerts[cols].head(10))
    st.caption(f"{len(alerts):,} alerts in all; the 10 newest are shown.")

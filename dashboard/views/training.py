"""Training runs: the runs table, loss curves, before/after probes and a [MASK] playground."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from curate.runs import Run
from dashboard import charts, data, ui
from dashboard.runs import list_runs, run_parquet, run_probes, runs_frame

DEFAULT_BASE = "curate/offline-default"
TRY_KEY = "try_predictions"
MASKS = ("[MASK]", "{mask}")


def render() -> None:
    """Draw the page."""
    root = ui.store_root()
    st.title("Training runs")
    if not data.store_exists(root):
        ui.no_store(root)
        return
    runs = list_runs(root)
    if not runs:
        ui.empty(
            "No training runs yet: a run starts by itself when `retrain_after` edge cases have "
            "been collected and the config has `training_args`; or start one now with "
            "`curate train --store ...`. You can still try sentences on the base model below."
        )
    run = None
    if runs:
        _runs_table(runs)
        run = _pick_run(runs)
        _run_details(run)
        _history(run)
        _probes(run)
    _playground(root, runs, run)


def _runs_table(runs: list[Run]) -> None:
    frame = runs_frame(runs)
    newest_first = list(reversed(runs))
    for name in ("retention_perplexity_before", "retention_perplexity_after"):
        frame[name] = [r.metrics.get(name) for r in newest_first]
    ui.table(frame)


def _pick_run(runs: list[Run]) -> Run:
    by_id = {r.run_id: r for r in reversed(runs)}
    ids = list(by_id)
    with_model = [i for i in ids if by_id[i].has_model]
    chosen = st.selectbox(
        "Run",
        ids,
        index=ids.index(with_model[0]) if with_model else 0,
        format_func=lambda rid: f"{rid} ({by_id[rid].status})",
        key="run_pick",
    )
    return by_id[chosen]


def _run_details(run: Run) -> None:
    rec, m = run.record, run.metrics
    st.markdown(
        f"**{run.run_id}** — {ui.status_badge(run.status)} · trigger `{rec.get('trigger')}` · "
        f"{ui.fmt_int(rec.get('snapshot_rows'))} rows · from `{rec.get('base_model') or '?'}`"
    )
    if run.error:
        st.error(run.error)
    if run.status == "running" and rec.get("progress"):
        p = rec["progress"]
        if p.get("max_steps"):
            st.progress(
                min(p["step"] / p["max_steps"], 1.0), text=f"step {p['step']}/{p['max_steps']}"
            )
    promotion = rec.get("promotion") or {}
    if promotion.get("reason"):
        by_hand = " (overruled by hand)" if rec.get("decision") else ""
        st.caption(f"Promotion rule: {promotion['reason']}{by_hand}")
    cols = iter(st.columns(4))
    figures = [("eval_loss", "Eval loss"), ("perplexity", "Perplexity")]
    if m.get("retention_perplexity_before") is not None:  # held-out traffic-sample texts
        cols = iter([*st.columns(4), *st.columns(4)])
        figures += [("retention_loss", "Retention loss"), ("retention_perplexity", "Retention ppl")]
    for name, label in figures:
        before, after = m.get(f"{name}_before"), m.get(f"{name}_after")
        delta = None if before is None or after is None else f"{after - before:+.3f}"
        next(cols).metric(f"{label} before", ui.fmt_float(before))
        next(cols).metric(f"{label} after", ui.fmt_float(after), delta, delta_color="inverse")


def _history(run: Run) -> None:
    hist = run_parquet(run, "history.parquet")
    if hist.empty or "step" not in hist:
        st.caption("This run stored no `history.parquet` (loss curves) yet.")
        return
    long = hist.melt(id_vars=["step"], value_vars=[c for c in ("loss", "eval_loss") if c in hist],
                     var_name="series", value_name="value").dropna()  # fmt: skip
    left, right = st.columns(2)
    with left:
        st.subheader("Loss")
        st.altair_chart(charts.curves(long, "loss"), width="stretch")
    with right:
        st.subheader("Perplexity")
        ppl = hist[["step", "perplexity"]].dropna() if "perplexity" in hist else pd.DataFrame()
        if ppl.empty:
            st.caption("No evaluation steps recorded.")
        else:
            ppl = ppl.assign(series="perplexity").rename(columns={"perplexity": "value"})
            # Perplexity spans orders of magnitude over a fine-tune: a log scale keeps it legible.
            log_y = alt.Y("value:Q", title="perplexity (log scale)", scale=alt.Scale(type="log"))
            st.altair_chart(charts.curves(ppl, "perplexity").encode(y=log_y), width="stretch")


def side_by_side(
    probes: pd.DataFrame, stages: tuple[str, ...] = ("before", "after")
) -> pd.DataFrame:
    """One row per probe and rank: each stage's token and score next to each other.

    >>> df = pd.DataFrame({"probe": ["p", "p"], "stage": ["before", "after"], "rank": [1, 1],
    ...                    "token": ["bad", "good"], "score": [0.5, 0.25]})
    >>> side_by_side(df).iloc[0].astype(str).tolist()
    ['p', '1', 'bad', '0.500', 'good', '0.250']
    """
    out = None
    for stage in stages:
        part = probes[probes["stage"] == stage][["probe", "rank", "token", "score"]]
        part = part.assign(score=part["score"].map(lambda s: f"{s:.3f}"))
        part = part.rename(columns={"token": stage, "score": f"{stage} score"})
        out = part if out is None else out.merge(part, on=["probe", "rank"], how="outer")
    assert out is not None
    order = {p: i for i, p in enumerate(dict.fromkeys(probes["probe"]))}
    out = out.sort_values(["probe", "rank"], key=lambda s: s.map(order) if s.name == "probe" else s)
    return out.fillna("").reset_index(drop=True)


def _probes(run: Run) -> None:
    st.subheader("Mask predictions before / after training")
    probes = run_parquet(run, "probes.parquet")
    if probes.empty or "stage" not in probes:
        st.caption("This run stored no probes (`probes.parquet`): give `training_args.probes`.")
        return
    stages = tuple(s for s in ("before", "after") if s in set(probes["stage"]))
    st.table(side_by_side(probes, stages).set_index(["probe", "rank"]))
    st.altair_chart(charts.probe_chart(probes, stages))


# -- the [MASK] playground ---------------------------------------------------------------------


def model_options(root: Path, runs: list[Run]) -> dict[str, str]:
    """``{label: spec}``: the runs' base models, then every finished run's model, newest first."""
    options: dict[str, str] = {}
    for run in runs:
        base = run.record.get("base_model")
        path = run.record.get("base_model_path")
        if base and not str(base).startswith("run-"):
            options.setdefault(f"base: {base}", path if path and Path(path).is_dir() else base)
    if not options:
        options[f"base: {DEFAULT_BASE}"] = DEFAULT_BASE
    for run in reversed(runs):
        model_path = run.record.get("model_path")
        if run.has_model and model_path and (root / model_path).is_dir():
            options[f"run: {run.run_id}"] = str(root / model_path)
    return options


@st.cache_resource(max_entries=4, show_spinner="Loading model…")
def _load(spec: str) -> Any:
    from trainer.probes import load_model  # lazy: the dashboard works without the trainer

    return load_model(spec)


def predict(spec: str, sentence: str, top_k: int) -> list[tuple[str, float]]:
    """Top-k ``(token, score)`` of one model for one ``[MASK]`` sentence."""
    from trainer.probes import predict_masks

    model, tokenizer = _load(spec)
    return predict_masks(model, tokenizer, [sentence], top_k=top_k)[0]


def first_probe(run: Run | None, runs: list[Run]) -> str:
    """The sentence the playground starts from: the chosen run's first probe, else the newest
    run's that has one, else nothing (a store's own probes, never a fixed example).

    >>> first_probe(None, [])
    ''
    """
    for candidate in [run, *reversed(runs)]:
        probes = run_probes(candidate) if candidate is not None else []
        if probes:
            return probes[0]
    return ""


def _playground(root: Path, runs: list[Run], run: Run | None) -> None:
    st.subheader("Try a [MASK] sentence")
    options = model_options(root, runs)
    with st.form("try_mask"):
        sentence = st.text_input(
            "Sentence", first_probe(run, runs), placeholder="a sentence with [MASK]"
        )
        labels = st.multiselect("Models", list(options), default=list(options)[:2])
        top_k = st.slider("top-k", 1, 20, 5)
        go = st.form_submit_button("Predict", icon=":material/play_arrow:")
    if go and not any(m in sentence for m in MASKS):
        st.warning("Type a sentence with `[MASK]` (or `{mask}`) where a word should be predicted.")
    elif go:
        st.session_state[TRY_KEY] = _predict_all(options, labels, sentence, top_k)
    rows = st.session_state.get(TRY_KEY)
    if rows:
        df = pd.DataFrame(rows)
        stages = tuple(dict.fromkeys(df["stage"]))
        st.table(side_by_side(df, stages).drop(columns="probe").set_index("rank"))
        st.altair_chart(charts.probe_chart(df, stages))


def _predict_all(options: dict[str, str], labels: list[str], sentence: str, top_k: int):
    rows = []
    for label in labels:
        try:
            preds = predict(options[label], sentence, top_k)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised
            st.error(f"{label}: {type(exc).__name__}: {exc}")
            continue
        for rank, (token, score) in enumerate(preds, start=1):
            rows.append({"probe": sentence, "stage": label, "rank": rank, "token": token,
                         "score": score})  # fmt: skip
    return rows

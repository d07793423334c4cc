"""Training runs: the runs table, figures and loss curves, before/after probes (as the run's
probe kind reads: mask fills, label distributions, answers) and a playground for each kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from curate.runs import Run
from dashboard import charts, data, ui
from dashboard.runs import PROBE_VIEWS, list_runs, run_parquet, run_probes, runs_frame, task_info

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
    info = task_info(run)
    names = [("eval_loss", "Eval loss", False)] + [
        (f, f.replace("_", " ").capitalize(), info["higher_is_better"] and f == info["target"])
        for f in info["figures"] if f != "loss"
    ]  # fmt: skip
    if m.get(f"retention_{info['target']}_before") is not None:  # held-out traffic sample
        names += [(f"retention_{n.removeprefix('eval_')}", f"Retention {label.lower()}", up)
                  for n, label, up in names]  # fmt: skip
    cols = iter([c for _ in range(-(-len(names) // 2)) for c in st.columns(4)])
    for name, label, higher in names:
        before, after = m.get(f"{name}_before"), m.get(f"{name}_after")
        delta = None if before is None or after is None else f"{after - before:+.3f}"
        next(cols).metric(f"{label} before", ui.fmt_float(before))
        color = "normal" if higher or name.endswith(("accuracy", "exact_match")) else "inverse"
        next(cols).metric(f"{label} after", ui.fmt_float(after), delta, delta_color=color)
    _confusion(run)


def _confusion(run: Run) -> None:
    """The confusion matrices a run stored (classification), before and after."""
    found = run.record.get("eval_details") or {}
    stages = [(s, found[s]["eval"]) for s in ("before", "after") if "eval" in found.get(s, {})]
    if not stages or "confusion" not in stages[0][1]:
        return
    st.caption("Confusion matrix on the target eval set (rows: true label, columns: predicted)")
    for column, (stage, detail) in zip(st.columns(len(stages)), stages, strict=True):
        frame = pd.DataFrame(detail["confusion"], index=detail["labels"], columns=detail["labels"])
        column.markdown(f"**{stage}**")
        column.table(frame)


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
    if "perplexity" not in task_info(run)["figures"]:
        return  # exp(loss) means nothing for a classifier's or a QA model's loss
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
    st.subheader(PROBE_VIEWS.get(task_info(run)["probe_kind"], PROBE_VIEWS["mask"])[0])
    probes = run_parquet(run, "probes.parquet")
    if probes.empty or "stage" not in probes:
        st.caption("This run stored no probes (`probes.parquet`): give `training_args.probes`.")
        return
    if "context" in probes and probes["context"].notna().any():  # QA: question over a context
        for question, context in dict(zip(probes["probe"], probes["context"], strict=True)).items():
            st.caption(f"**{question}** — context: {context}")
    stages = tuple(s for s in ("before", "after") if s in set(probes["stage"]))
    st.table(side_by_side(probes, stages).set_index(["probe", "rank"]))
    st.altair_chart(charts.probe_chart(probes, stages))


# -- the [MASK] playground ---------------------------------------------------------------------


def model_options(root: Path, runs: list[Run], task: str | None = None) -> dict[str, str]:
    """``{label: spec}``: the runs' base models, then every finished run's model, newest first
    (only runs of ``task`` when given)."""
    runs = [r for r in runs if task is None or task_info(r)["task"] == task]
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
def _load(spec: str, task: str | None = None) -> Any:
    from trainer.probes import load_model  # lazy: the dashboard works without the trainer

    return load_model(spec, task=task)


def predict(spec: str, probe: Any, top_k: int, task: str | None = None) -> list[tuple[str, float]]:
    """Top-k ``(answer, score)`` of one model for one probe, as the model's task answers it
    (mask fills, label distribution, answer spans)."""
    from trainer.config import TrainingArgs
    from trainer.probes import model_task, resolve_model
    from trainer.tasks import get_task

    model, tokenizer = _load(spec, task)
    name = task or model_task(resolve_model(spec))
    runner = get_task(name, TrainingArgs(task=name, top_k=top_k))
    rows = runner.probe_rows(model, tokenizer, [runner.check_probe(probe)], "live")
    return [(r["token"], r["score"]) for r in sorted(rows, key=lambda r: r["rank"])]


def first_probe(run: Run | None, runs: list[Run]) -> Any:
    """The probe the playground starts from: the chosen run's first probe, else the newest
    run's that has one, else nothing (a store's own probes, never a fixed example).

    >>> first_probe(None, [])
    ''
    """
    for candidate in [run, *reversed(runs)]:
        probes = run_probes(candidate) if candidate is not None else []
        if probes:
            return probes[0]
    return ""


def _probe_input(kind: str, start: Any) -> Any:
    """The playground's inputs for the probe kind; ``None`` until they are complete."""
    placeholder = PROBE_VIEWS.get(kind, PROBE_VIEWS["mask"])[1]
    if kind == "answers":
        start = start if isinstance(start, dict) else {"question": str(start or "")}
        question = st.text_input("Question", start.get("question", ""), placeholder=placeholder)
        context = st.text_area("Context", start.get("context", ""))
        return {"question": question, "context": context}
    return st.text_input("Sentence", start if isinstance(start, str) else "",
                         placeholder=placeholder)  # fmt: skip


def _usable(kind: str, probe: Any) -> str | None:
    """Why the probe cannot be predicted yet (``None``: it can)."""
    if kind == "answers":
        return None if probe["question"] and probe["context"] else "Type a question and a context."
    if kind == "mask" and not any(m in probe for m in MASKS):
        return "Type a sentence with `[MASK]` (or `{mask}`) where a word should be predicted."
    return None if probe.strip() else "Type a sentence."


def _playground(root: Path, runs: list[Run], run: Run | None) -> None:
    info = task_info(run or (runs[-1] if runs else None))
    kind, task = info["probe_kind"], info["task"] if runs else None
    st.subheader(f"Try a probe ({PROBE_VIEWS.get(kind, PROBE_VIEWS['mask'])[1]})")
    options = model_options(root, runs, task)
    with st.form("try_mask"):
        probe = _probe_input(kind, first_probe(run, runs))
        labels = st.multiselect("Models", list(options), default=list(options)[:2])
        top_k = st.slider("top-k", 1, 20, 5)
        go = st.form_submit_button("Predict", icon=":material/play_arrow:")
    problem = _usable(kind, probe) if go else None
    if problem:
        st.warning(problem)
    elif go:
        st.session_state[TRY_KEY] = _predict_all(options, labels, probe, top_k, task)
    rows = st.session_state.get(TRY_KEY)
    if rows:
        df = pd.DataFrame(rows)
        stages = tuple(dict.fromkeys(df["stage"]))
        st.table(side_by_side(df, stages).drop(columns="probe").set_index("rank"))
        st.altair_chart(charts.probe_chart(df, stages))


def _predict_all(options: dict[str, str], labels: list[str], probe: Any, top_k: int, task=None):  # noqa: ANN001
    rows = []
    shown = probe["question"] if isinstance(probe, dict) else probe
    for label in labels:
        try:
            preds = predict(options[label], probe, top_k, task)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised
            st.error(f"{label}: {type(exc).__name__}: {exc}")
            continue
        for rank, (token, score) in enumerate(preds, start=1):
            rows.append({"probe": shown, "stage": label, "rank": rank, "token": token,
                         "score": score})  # fmt: skip
    return rows

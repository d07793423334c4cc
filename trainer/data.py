"""What a run trains and evaluates on: new edge cases, replay, held-out target and retention sets.

A run reads only the segments its record lists (``snapshot`` for edge cases,
``traffic_snapshot`` for the traffic sample), so everything written while it trains counts
toward the next run. From them it builds four lists of texts:

- **target eval**: held-out edge cases among those *new since the promoted run the model starts
  from*, one row per distinct text (compared lower-cased, whitespace collapsed). Every row of a
  text held out here is left out of training, so no sentence is on both sides.
- **retention**: the first ``retention_samples`` distinct texts of the traffic sample that are
  not edge cases of this run (the sample is in random-key order, so this is a uniform sample of
  the ordinary traffic the run is not trained to change). Training never sees these texts.
  Rows only enter the traffic sample's prefix, never leave it for the rest, so a text used
  as replay by one run rarely becomes a retention text of a later one.
- **train**: the remaining new edge cases plus **replay**: ``replay_fraction`` of the training
  rows come from the rest of the traffic sample and from the edge cases earlier promoted runs
  trained on (half each when both exist), so a run learns what is new without the whole
  history every time and without forgetting ordinary traffic.

>>> normalise("  Nike   SHOES are good ")
'nike shoes are good'
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainer.config import TrainingArgs
from trainer.tasks.base import NoTrainingDataError

if TYPE_CHECKING:
    from pathlib import Path

    from curate.runs import Run


def normalise(text: str) -> str:
    """The form two texts are compared in: lower case, single spaces, no edge spaces."""
    return " ".join(text.lower().split())


@dataclass
class TextSplits:
    """The texts of one run, with the counts the run record keeps."""

    train: list[str]
    eval: list[str]
    retention: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _texts(run: Run, table: str, files: list[Path], column: str) -> tuple[list[Any], bool]:
    """The column's values in those segments (in order) and whether the column exists."""
    if not files:
        return [], True
    data = (
        run.store.traffic_sample(None, [column], files)
        if table == "traffic"
        else run.store.read(table, columns=[column], files=files)
    )
    if column not in data.column_names:
        return [], False
    return data.column(column).to_pylist(), True


def _usable(values: list[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v.strip()]


def _distinct(texts: list[str]) -> dict[str, str]:
    """``{normalised: first text}`` in order of first appearance."""
    out: dict[str, str] = {}
    for text in texts:
        out.setdefault(normalise(text), text)
    return out


def _split_eval(texts: list[str], args: TrainingArgs) -> tuple[list[str], set[str]]:
    distinct = _distinct(texts)
    if len(distinct) < 2:
        raise NoTrainingDataError(
            f"the new edge cases hold {len(distinct)} distinct usable text(s); need at least 2 "
            f"to hold one out for evaluation (null or empty {args.text_column!r} rows are dropped)"
        )
    n_eval = max(1, round(len(distinct) * args.eval_fraction))
    if args.max_eval_samples is not None:
        n_eval = min(n_eval, args.max_eval_samples)
    n_eval = min(n_eval, len(distinct) - 1)
    held = set(random.Random(args.seed).sample(sorted(distinct), n_eval))
    return [distinct[k] for k in distinct if k in held], held


def _replay(
    traffic: list[str], earlier: list[str], n: int, excluded: set[str], seed: int
) -> tuple[list[str], list[str]]:
    """``n`` replay texts: half from each source when both have them, else from either."""
    traffic = [t for t in traffic if normalise(t) not in excluded]
    earlier = [t for t in earlier if normalise(t) not in excluded]
    random.Random(seed).shuffle(earlier)
    n_earlier = min(len(earlier), n // 2 if traffic else n)
    n_traffic = min(len(traffic), n - n_earlier)
    n_earlier = min(len(earlier), n - n_traffic)
    return traffic[:n_traffic], earlier[:n_earlier]


def select_texts(run: Run, args: TrainingArgs, previous: Run | None) -> TextSplits:
    """The run's train, target-eval and retention texts (see the module docstring).

    ``previous`` is the promoted run whose model this run starts from (``None``: the base
    model, which has seen none of the edge cases, so all of them are new).
    """
    column = args.text_column
    consumed = {str(p) for p in previous.snapshot} if previous is not None else set()
    new_files = [p for p in run.snapshot if str(p) not in consumed]
    old_files = [p for p in run.snapshot if str(p) in consumed]
    new_values, has_column = _texts(run, "retraining", new_files, column)
    if not has_column:
        names = run.store.schema("retraining", new_files).names
        raise NoTrainingDataError(
            f"the retraining set has no column {column!r} (text_column); columns: "
            f"{', '.join(names)}"
        )
    new = _usable(new_values)
    eval_texts, held = _split_eval(new, args)
    traffic = _usable(_texts(run, "traffic", run.traffic_snapshot, column)[0])
    earlier = _usable(_texts(run, "retraining", old_files, column)[0])
    edge_keys = {normalise(t) for t in new + earlier}
    ordinary = [(k, t) for k, t in _distinct(traffic).items() if k not in edge_keys]
    retention = ordinary[: args.retention_samples]
    retained = {key for key, _ in retention}
    excluded = held | retained
    train_new = [t for t in new if normalise(t) not in excluded]
    n_replay = round(len(train_new) * args.replay_fraction / (1 - args.replay_fraction))
    rest = [t for t in traffic if normalise(t) not in retained]
    from_traffic, from_earlier = _replay(rest, earlier, n_replay, excluded, args.seed)
    if not train_new:
        raise NoTrainingDataError(
            "every new edge case is held out for evaluation: log more distinct edge cases"
        )
    counts = {
        "train_rows": len(new_values),
        "rows_dropped_null_or_empty": len(new_values) - len(new),
        "new_edge_cases": len(train_new),
        "held_out_rows": len(new) - len(train_new),
        "replay_traffic": len(from_traffic),
        "replay_edge_cases": len(from_earlier),
        "traffic_sample_rows": len(traffic),
    }
    return TextSplits(
        train=train_new + from_traffic + from_earlier,
        eval=eval_texts,
        retention=[text for _, text in retention],
        counts=counts,
    )

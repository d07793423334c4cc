"""What a run trains and evaluates on: new edge cases, replay, held-out target and retention sets.

A run reads only the segments its record lists (``snapshot`` for edge cases,
``traffic_snapshot`` for the traffic sample), so everything written while it trains counts
toward the next run. The run's task says which columns make one example (a text; a text and
its label; a question, its context and answers) and when two examples are the same
(:meth:`trainer.tasks.Task.key`: the text compared lower-cased, whitespace collapsed). From
them it builds four lists of examples:

- **target eval**: held-out edge cases among those *new since the promoted run the model starts
  from*, one row per distinct example. Every row of a
  text held out here is left out of training, so no sentence is on both sides.
- **retention**: the first ``retention_samples`` distinct examples of the traffic sample that are
  not edge cases of this run (the sample is in random-key order, so this is a uniform sample of
  the ordinary traffic the run is not trained to change). Training never sees these texts.
  Rows only enter the traffic sample's prefix, never leave it for the rest, so a text used
  as replay by one run rarely becomes a retention text of a later one.
- **labels**: a row logged with ``identifiers`` takes the newest label ``log_ground_truth``
  gave those identifiers before the run started (``labels_snapshot``), over the one it was
  logged with (:func:`curate.labels.attach_labels`). A label that arrives after a run took its
  snapshot reaches training when its row is replayed by a later run.
- **reviews**: the newest decision on each edge case as the run started (``reviews_snapshot``,
  :mod:`curate.reviews`). A rejected row is never trained on or held out for target eval (nor
  replayed, from the earlier edge cases or, the same logged row, from the traffic sample). A
  relabel is the row's label for the tasks that read one (``label_column``; ``answers_column``
  for qa) and wins over the logged label and over any late label: a person looked at the row.
  Tasks without a label (mlm, clm) take a relabelled row as accepted. With ``require_review``
  only accepted or relabelled edge cases are used; replayed traffic is not reviewed and stays.
  An earlier edge case that is usable only since a decision (accepted under ``require_review``,
  relabelled to a new label) is new to the model, like a late label.
- **train**: the remaining new edge cases plus **replay**: ``replay_fraction`` of the training
  rows come from the rest of the traffic sample and from the edge cases earlier promoted runs
  trained on (half each when both exist), so a run learns what is new without the whole
  history every time and without forgetting ordinary traffic.

>>> normalise("  Nike   SHOES are good ")
'nike shoes are good'
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from curate.labels import LABELS_TABLE, attach_labels
from curate.reviews import REJECT, RELABEL, Decision, apply_reviews, decisions_by_id, read_reviews
from trainer.config import TrainingArgs
from trainer.tasks import get_task
from trainer.tasks.base import NoTrainingDataError, Task, normalise

if TYPE_CHECKING:
    from pathlib import Path

    from curate.runs import Run

__all__ = ["TextSplits", "normalise", "select_examples", "select_texts"]


@dataclass
class TextSplits:
    """The examples of one run (texts for the language-model tasks), with the record's counts."""

    train: list[Any]
    eval: list[Any]
    retention: list[Any] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _label_column(task: Task) -> str | None:
    """The column a relabel replaces: the task's label, or its answers (qa); ``None``: none."""
    args, columns = task.args, task.columns()
    return next((c for c in (args.label_column, args.answers_column) if c in columns), None)


def _decisions(run: Run, files: list[Path]) -> dict[int, Decision]:
    return decisions_by_id(read_reviews(run.store, files)) if files else {}


class _Reviews:
    """The review decisions one selection applies (the run's ``reviews_snapshot``) and what
    they did to the run's edge cases."""

    def __init__(self, run: Run, task: Task) -> None:
        self.label, self.require = _label_column(task), task.args.require_review
        self.now = _decisions(run, run.reviews_snapshot)
        self.counts: Counter = Counter()
        self.withheld: list[dict] = []

    def apply(self, rows: list[dict]) -> list[dict | None]:
        """The rows with the run's decisions applied (``None``: withheld), counted."""
        out = apply_reviews(rows, self.now, label_column=self.label, require=self.require)
        self.counts.update(out.counts)
        self.withheld += [raw for raw, row in zip(rows, out.rows, strict=True) if row is None]
        return out.rows

    def then(self, rows: list[dict], previous: Run) -> list[dict | None]:
        """The rows as ``previous`` saw them: its decisions, its ``require_review``."""
        require = bool((previous.record.get("config") or {}).get("require_review"))
        decisions = _decisions(previous, previous.reviews_snapshot)
        return apply_reviews(rows, decisions, label_column=self.label, require=require).rows

    def relabelled(self, row: dict) -> bool:
        found = self.now.get(row.get("id"))
        return found is not None and found.decision == RELABEL

    def rejected_ids(self) -> set[int]:
        return {i for i, d in self.now.items() if d.decision == REJECT}

    def figures(self) -> dict[str, int]:
        """What the run's record keeps: reviewed rows used, and those left out."""
        return {
            "reviewed_accepted": self.counts["accepted"],
            "reviewed_relabelled": self.counts["relabelled"],
            "reviewed_rejected_excluded": self.counts["rejected"],
            "unreviewed_excluded": self.counts["unreviewed_withheld"],
        }


def _edge_cases(run: Run, files: list[Path], columns: list[str], labels: list[Path]) -> pa.Table:
    """Those retraining segments (and row ids), with the late labels of ``labels`` joined on
    identifiers."""
    names = run.store.schema("retraining", files).names
    keys = [n for n in names if n == "identifiers" or n.startswith("identifiers.")]
    wanted = list(dict.fromkeys([*columns, "id", *keys]))
    data = run.store.read("retraining", columns=wanted, files=files)
    if keys and labels:
        data = attach_labels(data, run.store.read(LABELS_TABLE, files=labels))
    return data


def _rows(
    run: Run, table: str, files: list[Path], columns: list[str], labels: list[Path] | None = None
) -> tuple[list[dict], bool]:
    """The rows of those segments (in order, with their ``id``) and whether every column exists.

    Retraining rows take the late labels of ``labels`` (default: the run's ``labels_snapshot``).
    """
    if not files:
        return [], True
    wanted = list(dict.fromkeys([*columns, "id"]))
    if table == "traffic":
        data = run.store.traffic_sample(None, wanted, files)
    else:
        data = _edge_cases(run, files, columns, run.labels_snapshot if labels is None else labels)
    if any(c not in data.column_names for c in columns):
        return [], False
    return data.select([c for c in wanted if c in data.column_names]).to_pylist(), True


def _usable(task: Task, rows: list[dict | None]) -> list[Any]:
    """The examples of the rows that make one (withheld rows, ``None``, make none)."""
    return [e for e in (task.example(r) for r in rows if r is not None) if e is not None]


def _distinct(task: Task, examples: list[Any]) -> dict[str, Any]:
    """``{key: first example}`` in order of first appearance."""
    out: dict[str, Any] = {}
    for example in examples:
        out.setdefault(task.key(example), example)
    return out


def _split_eval(
    task: Task, examples: list[Any], args: TrainingArgs, reviews: _Reviews
) -> tuple[list, set[str]]:
    distinct = _distinct(task, examples)
    if len(distinct) < 2:
        left_out = reviews.figures()
        why = (
            f"; reviews left out {left_out['reviewed_rejected_excluded']} rejected and "
            f"{left_out['unreviewed_excluded']} unreviewed rows (require_review)"
            if left_out["reviewed_rejected_excluded"] or left_out["unreviewed_excluded"]
            else ""
        )
        raise NoTrainingDataError(
            f"the new edge cases hold {len(distinct)} distinct usable text(s); need at least "
            f"2 to hold one out for evaluation (rows with a null or empty "
            f"{'/'.join(task.columns())!r} are dropped){why}"
        )
    n_eval = max(1, round(len(distinct) * args.eval_fraction))
    if args.max_eval_samples is not None:
        n_eval = min(n_eval, args.max_eval_samples)
    n_eval = min(n_eval, len(distinct) - 1)
    held = set(random.Random(args.seed).sample(sorted(distinct), n_eval))
    return [distinct[k] for k in distinct if k in held], held


def _replay(
    task: Task, traffic: list, earlier: list, n: int, excluded: set[str], seed: int
) -> tuple[list, list]:
    """``n`` replay examples: half from each source when both have them, else from either."""
    traffic = [t for t in traffic if task.key(t) not in excluded]
    earlier = [t for t in earlier if task.key(t) not in excluded]
    random.Random(seed).shuffle(earlier)
    n_earlier = min(len(earlier), n // 2 if traffic else n)
    n_traffic = min(len(traffic), n - n_earlier)
    n_earlier = min(len(earlier), n - n_traffic)
    return traffic[:n_traffic], earlier[:n_earlier]


def select_texts(run: Run, args: TrainingArgs, previous: Run | None) -> TextSplits:
    """:func:`select_examples` with the task of ``args``."""
    return select_examples(run, get_task(args.task, args), previous)


def _new_examples(
    run: Run, task: Task, new_files: list[Path], reviews: _Reviews
) -> tuple[list, int, int]:
    """The usable new examples, the rows read and the rows the reviews kept."""
    columns = task.columns()
    rows, has_columns = _rows(run, "retraining", new_files, columns)
    if not has_columns:
        names = run.store.schema("retraining", new_files).names
        missing = [c for c in columns if c not in names]
        raise NoTrainingDataError(
            f"the retraining set has no column {', '.join(map(repr, missing))} (the "
            f"{task.name} task reads {', '.join(columns)}); columns: {', '.join(names)}"
        )
    kept = reviews.apply(rows)
    return _usable(task, kept), len(rows), sum(r is not None for r in kept)


def _earlier(
    run: Run, task: Task, old_files: list[Path], previous: Run | None, reviews: _Reviews
) -> tuple:
    """Examples of segments ``previous`` trained on: those usable only since a late label
    arrived or a decision was made after ``previous`` started (new to the model), and the
    rest (replay)."""
    raw = _rows(run, "retraining", old_files, task.columns())[0]
    now = reviews.apply(raw)
    if previous is None or not now:
        return [], _usable(task, now)
    then_raw = _rows(run, "retraining", old_files, task.columns(), previous.labels_snapshot)[0]
    then = reviews.then(then_raw, previous)
    labelled, earlier = [], []
    for row, before in zip(now, then, strict=True):
        example = task.example(row) if row is not None else None
        if example is None:
            continue
        was = task.example(before) if before is not None else None
        changed = was is None or (reviews.relabelled(row) and was != example)
        (labelled if changed else earlier).append(example)
    return labelled, earlier


def _traffic(run: Run, task: Task, reviews: _Reviews) -> list[Any]:
    """The traffic sample's examples, less the logged rows a reviewer rejected."""
    rejected = reviews.rejected_ids()
    rows = _rows(run, "traffic", run.traffic_snapshot, task.columns())[0]
    return _usable(task, [r for r in rows if r.get("id") not in rejected])


def select_examples(run: Run, task: Task, previous: Run | None) -> TextSplits:
    """The run's train, target-eval and retention examples (see the module docstring).

    ``previous`` is the promoted run whose model this run starts from (``None``: the base
    model, which has seen none of the edge cases, so all of them are new).
    """
    args = task.args
    consumed = {str(p) for p in previous.snapshot} if previous is not None else set()
    new_files = [p for p in run.snapshot if str(p) not in consumed]
    old_files = [p for p in run.snapshot if str(p) in consumed]
    reviews = _Reviews(run, task)
    new, n_rows, n_kept = _new_examples(run, task, new_files, reviews)
    n_dropped = n_kept - len(new)
    labelled, earlier = _earlier(run, task, old_files, previous, reviews)
    new += labelled
    eval_examples, held = _split_eval(task, new, args, reviews)
    traffic = _traffic(run, task, reviews)
    # Withheld edge cases stay out of retention too: reviewing never changes what it measures.
    withheld = _usable(task, reviews.withheld)
    edge_keys = {task.key(t) for t in new + earlier + withheld}
    ordinary = [(k, t) for k, t in _distinct(task, traffic).items() if k not in edge_keys]
    retention = ordinary[: args.retention_samples]
    retained = {key for key, _ in retention}
    excluded = held | retained
    train_new = [t for t in new if task.key(t) not in excluded]
    n_replay = round(len(train_new) * args.replay_fraction / (1 - args.replay_fraction))
    rest = [t for t in traffic if task.key(t) not in retained]
    from_traffic, from_earlier = _replay(task, rest, earlier, n_replay, excluded, args.seed)
    if not train_new:
        raise NoTrainingDataError(
            "every new edge case is held out for evaluation: log more distinct edge cases"
        )
    counts = {
        "train_rows": n_rows,
        "rows_dropped_null_or_empty": n_dropped,
        "new_edge_cases": len(train_new),
        "labelled_since_last_run": len(labelled),
        "held_out_rows": len(new) - len(train_new),
        "replay_traffic": len(from_traffic),
        "replay_edge_cases": len(from_earlier),
        "traffic_sample_rows": len(traffic),
        **reviews.figures(),
    }
    return TextSplits(
        train=train_new + from_traffic + from_earlier,
        eval=eval_examples,
        retention=[example for _, example in retention],
        counts=counts,
    )

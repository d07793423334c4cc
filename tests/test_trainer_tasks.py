"""The task plug-in seam: every task declares what the run loop, promotion, reports and
dashboard read, and those read nothing else (no task-specific branches)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from trainer.config import TrainingArgs, task_defaults
from trainer.evaluation import figures
from trainer.promotion import decide
from trainer.tasks import PROBE_KINDS, get_task, task_class, task_for_architectures, task_names

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(task_names()))
def test_every_task_declares_its_figures_target_probes_and_defaults(name):
    task = get_task(name)
    assert task.probe_kind in PROBE_KINDS
    assert task.figures[0] == "loss" and task.target in task.figures
    assert set(task_class(name).defaults) >= {"learning_rate", "epochs", "batch_size", "max_length"}
    args = TrainingArgs(task=name)
    assert args.learning_rate == task.defaults["learning_rate"]
    lora = TrainingArgs(task=name, peft={"r": 4})
    assert lora.learning_rate == task_defaults(name, lora=True)["learning_rate"]
    assert TrainingArgs(task=name, learning_rate=0.5, peft={}).learning_rate == 0.5, "given wins"
    assert task_for_architectures([f"Some{task.architecture}"]) == name
    assert task.info()["task"] == name and task.columns()


def test_an_unknown_task_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid tasks: classification, clm, mlm, qa"):
        TrainingArgs(task="summarisation")


def test_figures_and_promotion_follow_the_declared_target():
    outcome = {
        stage: {"eval": {"loss": loss, "macro_f1": f1}, "retention": {"loss": 1.0, "macro_f1": r}}
        for stage, loss, f1, r in (("before", 0.7, 0.4, 0.8), ("after", 0.5, 0.6, 0.75))
    }
    m = figures(outcome, ("loss", "macro_f1"))
    assert m["eval_loss_after"] == 0.5 and m["retention_macro_f1_before"] == 0.8
    verdict = decide(m, min_improvement=0.1, retention_tolerance=0.1, target="macro_f1",
                     higher_is_better=True)  # fmt: skip
    assert verdict["status"] == "promoted", verdict  # 0.6 > 0.44; 0.75 >= 0.72
    m["retention_macro_f1_after"] = 0.7
    verdict = decide(m, min_improvement=0.1, retention_tolerance=0.1, target="macro_f1",
                     higher_is_better=True)  # fmt: skip
    assert verdict["status"] == "rejected" and "retention got worse" in verdict["reason"]


def _names_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


@pytest.mark.parametrize(
    "module", ["trainer/runner.py", "trainer/promotion.py", "trainer/evaluation.py",
               "trainer/data.py", "trainer/cli.py", "trainer/report.py",
               "dashboard/views/training.py", "dashboard/runs.py"],
)  # fmt: skip
def test_the_shared_modules_never_name_a_task(module):
    assert not _names_in(ROOT / module) & {"classification", "qa", "clm"}

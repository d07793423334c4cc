"""Fine-tuning tasks, by name (the ``task`` key of ``training_args``): one module each.

>>> sorted(task_names())
['classification', 'clm', 'mlm', 'qa']
>>> task_for_architectures(["BertForQuestionAnswering"])
'qa'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trainer.tasks.base import PROBE_KINDS, NoTrainingDataError, PreparedData, Task

if TYPE_CHECKING:
    from trainer.config import TrainingArgs


def _registry() -> dict[str, type[Task]]:
    from trainer.tasks.classification import ClassificationTask
    from trainer.tasks.clm import CausalLMTask
    from trainer.tasks.mlm import MaskedLMTask
    from trainer.tasks.qa import QuestionAnsweringTask

    tasks = (MaskedLMTask, CausalLMTask, ClassificationTask, QuestionAnsweringTask)
    return {task.name: task for task in tasks}


def task_names() -> list[str]:
    """The names of every task.

    >>> "qa" in task_names()
    True
    """
    return list(_registry())


def task_class(name: str) -> type[Task]:
    """The task class called ``name`` (``ValueError`` listing the valid names otherwise).

    >>> task_class("clm").probe_kind
    'mask_or_prompt'
    """
    tasks = _registry()
    if name not in tasks:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(tasks))}")
    return tasks[name]


def get_task(name: str, args: TrainingArgs | None = None) -> Task:
    """The task called ``name`` configured with ``args`` (defaults when omitted).

    >>> get_task("classification").target
    'macro_f1'
    """
    from trainer.config import TrainingArgs

    return task_class(name)(args or TrainingArgs(task=name))


def task_for_architectures(architectures: Sequence[str], default: str = "mlm") -> str:
    """The task whose model class ends one of ``architectures`` (``default`` when none does)."""
    for name, cls in _registry().items():
        if any(a.endswith(cls.architecture) for a in architectures):
            return name
    return default


__all__ = [
    "PROBE_KINDS",
    "NoTrainingDataError",
    "PreparedData",
    "Task",
    "get_task",
    "task_class",
    "task_for_architectures",
    "task_names",
]

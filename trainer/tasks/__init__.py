"""Fine-tuning tasks, by name (the ``task`` key of ``training_args``)."""

from __future__ import annotations

from trainer.config import TrainingArgs
from trainer.tasks.base import NoTrainingDataError, PreparedData, Task


def _registry() -> dict[str, type[Task]]:
    from trainer.tasks.clm import CausalLMTask
    from trainer.tasks.mlm import MaskedLMTask

    return {task.name: task for task in (MaskedLMTask, CausalLMTask)}


def get_task(name: str, args: TrainingArgs | None = None) -> Task:
    """The task called ``name`` configured with ``args`` (defaults when omitted)."""
    tasks = _registry()
    if name not in tasks:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(tasks))}")
    return tasks[name](args or TrainingArgs(task=name))


__all__ = ["NoTrainingDataError", "PreparedData", "Task", "get_task"]

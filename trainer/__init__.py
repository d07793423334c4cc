"""Fine-tuning on the retraining set: tasks, model resolution, probes and the run loop.

The entry points (imported lazily, so ``import trainer`` stays cheap)::

    trainer.start_run(store, training_args, trigger="cli", wait=True) -> Run
    trainer.train_run(store, run) -> Run          # an existing run, locks held by the caller
    trainer.spawn_worker(store, run, pass_fds)    # python -m trainer.worker in the background
    trainer.wait_for_run(run, timeout=None) -> Run
    trainer.load_model(spec, store=None, task=None), trainer.predict_masks(model, tokenizer, ...)
    trainer.get_task(name, args)                 # a task: mlm, clm, classification, qa
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainingArgs": "trainer.config",
    "TrainingInProgressError": "trainer.launch",
    "start_run": "trainer.launch",
    "spawn_worker": "trainer.launch",
    "wait_for_run": "trainer.launch",
    "train_run": "trainer.runner",
    "load_model": "trainer.probes",
    "predict_masks": "trainer.probes",
    "get_task": "trainer.tasks",
    "resolve_model": "trainer.models",
    "OFFLINE_DEFAULT": "trainer.models",
    "OFFLINE_CLM_DEFAULT": "trainer.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'trainer' has no attribute {name!r}")

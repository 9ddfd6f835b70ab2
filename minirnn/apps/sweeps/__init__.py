"""Hyper-parameter sweeps (on Optuna, the optional ``[sweep]`` extra) and many-seed runs.

- :func:`run_task` trains a built-in task once through the task API
  (:mod:`minirnn.apps.tasks`) from parameter values and returns its result (validation loss,
  test metric ...); :func:`run_seeds` repeats it over seeds (numpy and scipy only).
- :func:`sweep` runs an Optuna study of a task; :func:`report` prints and draws its results
  (these need ``pip install 'minirnn[sweep]'``).
"""

from __future__ import annotations

from typing import Any

from minirnn.apps.sweeps.runner import (
    RunResult,
    SeedSummary,
    SweepError,
    run_seeds,
    run_task,
    task_fields,
    train_tasks,
)
from minirnn.apps.sweeps.space import Param, default_space, load_space_file, make_space

__all__ = [
    "Param", "PruningCallback", "RunResult", "SeedSummary", "SweepError", "SweepSpec",
    "default_space", "load_space_file", "load_study", "make_space", "report", "run_seeds",
    "run_task", "sweep", "task_fields", "train_tasks",
]

_NEEDS_OPTUNA = {"PruningCallback", "SweepSpec", "load_study", "report", "sweep"}


def __getattr__(name: str) -> Any:
    # Optuna is optional: import the study module only when one of its names is used.
    if name in _NEEDS_OPTUNA:
        from minirnn.apps.sweeps import study

        return getattr(study, name)
    raise AttributeError(f"module 'minirnn.apps.sweeps' has no attribute {name!r}")

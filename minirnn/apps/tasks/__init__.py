"""One way to run a built-in task: a typed configuration in, a :class:`TaskResult` out.

The ``minirnn train TASK`` command and the sweeps (:mod:`minirnn.apps.sweeps`) both call
:func:`run`::

    from minirnn.apps.tasks import AddingConfig, run

    config = AddingConfig(seq_len=10, train_size=200, test_size=100, epochs=2, cell="gru")
    result = run(config, output="runs/adding")
    result.val_loss, result.metric, result.value     # best val loss, 'test_mse', its value

A configuration checks its fields when it is made (a ValueError names the field, what it
expects and what it got); :func:`make_config` builds one from a dict of field values.

The names are imported on first use (PEP 562): a task's module (the classifier's brings
the classification package, scipy's optimizers among it) loads when one of its names is
asked for, so a command pays only for the tasks it touches. :data:`TASKS`, :func:`run` and
the other registry names load the registry, which imports every task.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names are, for type checkers; at run time: __getattr__
    from minirnn.apps.tasks.classify import ClassifyConfig
    from minirnn.apps.tasks.config import CommonConfig, TaskConfig, config_fields
    from minirnn.apps.tasks.errors import (
        RunDivergedError,
        RunInterrupted,
        TaskError,
        Terminated,
    )
    from minirnn.apps.tasks.registry import (
        TASKS,
        Task,
        TaskResult,
        config_class,
        make_config,
        run,
        task_names,
    )
    from minirnn.apps.tasks.series import SeriesConfig
    from minirnn.apps.tasks.text import TextConfig
    from minirnn.apps.tasks.toy import AddingConfig, BinaryAdditionConfig, build_adding_model

#: Each public name -> the module (under minirnn.apps.tasks) that defines it.
_HOMES = {
    "ClassifyConfig": "classify",
    "CommonConfig": "config", "TaskConfig": "config", "config_fields": "config",
    "RunDivergedError": "errors", "RunInterrupted": "errors", "TaskError": "errors",
    "Terminated": "errors",
    "TASKS": "registry", "Task": "registry", "TaskResult": "registry",
    "config_class": "registry", "make_config": "registry", "run": "registry",
    "task_names": "registry",
    "SeriesConfig": "series",
    "TextConfig": "text",
    "AddingConfig": "toy", "BinaryAdditionConfig": "toy", "build_adding_model": "toy",
}

__all__ = [
    "TASKS", "AddingConfig", "BinaryAdditionConfig", "ClassifyConfig", "CommonConfig",
    "RunDivergedError", "RunInterrupted", "SeriesConfig", "Task", "TaskConfig", "TaskError",
    "TaskResult", "Terminated", "TextConfig", "build_adding_model", "config_class", "config_fields",
    "make_config", "run", "task_names",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (then cached here)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""One way to run a built-in task: a typed configuration in, a :class:`TaskResult` out.

The ``minirnn train TASK`` command and the sweeps (:mod:`minirnn.apps.sweeps`) both call
:func:`run`::

    from minirnn.apps.tasks import AddingConfig, run

    config = AddingConfig(seq_len=10, train_size=200, test_size=100, epochs=2, cell="gru")
    result = run(config, output="runs/adding")
    result.val_loss, result.metric, result.value     # best val loss, 'test_mse', its value

A configuration checks its fields when it is made (a ValueError names the field, what it
expects and what it got); :func:`make_config` builds one from a dict of field values.
"""

from minirnn.apps.tasks.classify import ClassifyConfig
from minirnn.apps.tasks.config import CommonConfig, TaskConfig, config_fields
from minirnn.apps.tasks.errors import RunDivergedError, RunInterrupted, TaskError, Terminated
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

__all__ = [
    "TASKS", "AddingConfig", "BinaryAdditionConfig", "ClassifyConfig", "CommonConfig",
    "RunDivergedError", "RunInterrupted", "SeriesConfig", "Task", "TaskConfig", "TaskError",
    "TaskResult", "Terminated", "TextConfig", "build_adding_model", "config_class", "config_fields",
    "make_config", "run", "task_names",
]

"""What a task run raises besides its result."""

from __future__ import annotations

from minirnn.train.solver import TrainingDivergedError

__all__ = ["RunDivergedError", "RunInterrupted", "TaskError", "Terminated"]


class TaskError(ValueError):
    """A problem with the task's input (a missing file, a column that is not there, a
    series too short): one line that names it."""


class RunDivergedError(Exception):
    """Training diverged (NaN or Inf); the report and the history are written.

    Attributes
    ----------
    error : TrainingDivergedError
    written : str
        The files written, for a message.
    """

    def __init__(self, error: TrainingDivergedError, written: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.written = written


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C after which the run's files were still written (``saved`` says which)."""

    def __init__(self, saved: str) -> None:
        super().__init__(saved)
        self.saved = saved


class Terminated(KeyboardInterrupt):
    """SIGTERM (as ``timeout`` and ``kill`` send), raised where the run is: every part of a
    run treats it as Ctrl-C (the Solver stops after keeping its best weights, the task saves
    what is consistent), and the command exits 143 instead of 130."""

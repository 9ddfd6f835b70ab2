"""Training callbacks (real home: minirnn/train/callbacks.py).

The public path of these names; the layered package holds the code
(docs/architecture.md).
"""
from minirnn.train.callbacks import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ProgressBar,
    ProgressPrinter,
    TimeLimit,
    monitor_mode,
)

__all__ = [
    "Callback",
    "EarlyStopping",
    "LambdaCallback",
    "ModelCheckpoint",
    "ProgressBar",
    "ProgressPrinter",
    "TimeLimit",
    "monitor_mode",
]

"""Built-in tasks and data helpers: generators, series windows, scalers, splits, baselines.

Numpy only; nothing here reads a file unless you call a reader (:func:`load_csv_column`,
:func:`load_ts`, :func:`read_pairs`, ...).
"""

from minirnn.apps.data.adding import ADDING_BASELINE_MSE, adding_problem
from minirnn.apps.data.baselines import (
    LinearAR,
    fit_linear_ar,
    persistence_forecast,
    predict_linear_ar,
    rmse,
    seasonal_naive_forecast,
)
from minirnn.apps.data.binary import (
    bin2int,
    binary_addition,
    binary_addition_operands,
    encode_binary_addition,
    int2bin,
)
from minirnn.apps.data.copy import COPY_BLANK, copy_task, copy_task_baseline
from minirnn.apps.data.io import load_csv_column
from minirnn.apps.data.pairs import (
    PairsError,
    PairSet,
    batch_padding,
    bucket_batches,
    build_vocabulary,
    detokenize,
    read_pairs,
    tokenize,
)
from minirnn.apps.data.scaling import MinMaxScaler, NotFittedError, StandardScaler
from minirnn.apps.data.seq2seq import reverse_sequence_task, seq_to_seq_unsync, unsync_outputs
from minirnn.apps.data.series import sliding_windows
from minirnn.apps.data.shapes import (
    CBF_CLASSES,
    SYNTHETIC_CONTROL_CLASSES,
    cylinder_bell_funnel,
    synthetic_control,
)
from minirnn.apps.data.splits import chronological_split, split_sizes
from minirnn.apps.data.ts import (
    LabelledSequences,
    fill_missing,
    load_csv_sequences,
    load_ts,
    load_ts_header,
    pad_sequences,
    save_ts,
)

__all__ = [
    "ADDING_BASELINE_MSE",
    "CBF_CLASSES",
    "COPY_BLANK",
    "LabelledSequences",
    "LinearAR",
    "MinMaxScaler",
    "NotFittedError",
    "PairSet",
    "PairsError",
    "SYNTHETIC_CONTROL_CLASSES",
    "StandardScaler",
    "adding_problem",
    "batch_padding",
    "bin2int",
    "binary_addition",
    "binary_addition_operands",
    "bucket_batches",
    "build_vocabulary",
    "chronological_split",
    "copy_task",
    "copy_task_baseline",
    "cylinder_bell_funnel",
    "detokenize",
    "encode_binary_addition",
    "fill_missing",
    "fit_linear_ar",
    "int2bin",
    "load_csv_column",
    "load_csv_sequences",
    "load_ts",
    "load_ts_header",
    "pad_sequences",
    "persistence_forecast",
    "predict_linear_ar",
    "read_pairs",
    "reverse_sequence_task",
    "rmse",
    "seasonal_naive_forecast",
    "save_ts",
    "seq_to_seq_unsync",
    "sliding_windows",
    "split_sizes",
    "synthetic_control",
    "tokenize",
    "unsync_outputs",
]

"""``minirnn predict MODEL``: what a saved model says about new data.

A forecaster from ``train series`` forecasts the next values after the file (and scores its
direct forecasts over the file); a classifier from ``train classify`` gives every sequence's
label and class probabilities.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps import datasets
from minirnn.apps.classification import SequenceClassifier
from minirnn.apps.classification.classifier import CLASSIFIER_KIND
from minirnn.apps.data import load_csv_sequences, load_ts
from minirnn.apps.tasks.classify import handle_missing, label_column
from minirnn.apps.tasks.series import load_forecaster, read_new_data
from minirnn.cli._common import UsageError, date_arg
from minirnn.nn.io import ModelFileError, load_metadata

__all__ = ["add_parser"]


def predict(args: argparse.Namespace) -> int:
    """``minirnn predict MODEL``: a forecaster's next values, or a classifier's labels."""
    model_path = Path(args.model)
    if model_path.is_dir():
        model_path = args.model = model_path / "model.npz"
    if model_path.is_file():
        try:
            task = load_metadata(model_path).get("task")
        except (ModelFileError, OSError) as exc:
            if f"got {CLASSIFIER_KIND!r}" in str(exc):  # a classifier: labels, probabilities
                return _predict_classes(args)
            raise UsageError(str(exc)) from exc
        if task == "classify":  # an older classifier file: its loader says what to do
            return _predict_classes(args)
    if not args.csv and not args.dataset:
        raise UsageError("a forecaster predicts from a series: pass --csv FILE (or --dataset "
                         f"NAME: {', '.join(datasets.names())})")
    if args.dataset and args.dataset not in datasets.names():
        raise UsageError(f"--dataset {args.dataset} is not a shipped series; a forecaster "
                         f"reads one of {', '.join(datasets.names())}")
    try:
        fc, meta, _ = load_forecaster(str(args.model))
        table = read_new_data(fc, meta, args.csv, args.dataset, args.column, args.date_column)
        fcst = fc.forecast(fc.horizon, table.values, table.features, table.dates)
    except ValueError as exc:  # TaskError included
        raise UsageError(str(exc)) from exc
    print(f"next {fc.horizon} value(s) after the last of {len(table.values)}: "
          + ", ".join(f"{v:.4g}" for v in fcst.mean), flush=True)
    if len(table.values) > fc.t_min_ + fc.horizon:
        try:
            ev = fc.evaluate(table.values, table.features, start=fc.t_min_ + 1)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        m = ev.metrics
        print(f"{fc.horizon}-step direct forecasts over the {len(ev.origins)} origins of this "
              f"file: RMSE {m['model']['rmse']:.4g} vs persistence "
              f"{m['persistence']['rmse']:.4g}", flush=True)
        if args.output:
            with open(args.output, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["index", "actual", "predicted"])
                for i, t in enumerate(ev.origins):
                    writer.writerow([int(t) + 1, ev.truth[i, 0], ev.prediction[i, 0]])
            print(f"saved {args.output}", flush=True)
    return 0


def _predict_classes(args: argparse.Namespace) -> int:
    """``minirnn predict MODEL --csv FILE`` for a model saved by ``train classify``: labels
    and class probabilities of every sequence of FILE (.ts, or CSV one series a row)."""
    try:
        clf, meta = SequenceClassifier.load(args.model)
    except (ModelFileError, ValueError, KeyError) as exc:
        text = str(exc)
        raise UsageError(text if text.startswith(str(args.model)) else
                         f"{args.model}: {text}") from exc
    classes = [str(c) for c in meta.get("classes", range(clf.num_classes))]
    if args.dataset:
        if args.csv:
            raise UsageError("give --ts/--csv or --dataset, not both")
        try:  # a shipped classification pair: its test file
            args.csv = str(datasets.files(args.dataset, "classify")[1])
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    if not args.csv:
        raise UsageError("a classifier predicts from a file: pass --ts FILE (.ts, or CSV "
                         "one series a row)")
    path = Path(args.csv)
    if not path.is_file():
        raise UsageError(f"{args.csv}: no such file")
    try:  # the file's own labels, matched to the model's classes by name below
        if path.suffix.lower() == ".ts":
            data = load_ts(path)
        else:
            column = args.column if args.column is not None else \
                str(meta.get("label_column", "0"))
            data = load_csv_sequences(path, label_column=label_column(column))
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if data.x.shape[2] != clf.num_features:
        raise UsageError(f"{args.csv} has {data.x.shape[2]} dimensions, the model was "
                         f"trained on {clf.num_features}")
    data = handle_missing(data, args.csv, "interpolate")
    proba = clf.predict_proba(data.x, data.lengths)
    predicted = np.argmax(proba, axis=1)
    truth: list[str] | None = None
    if data.y is not None:
        truth = [str(data.classes[int(k)]) for k in data.y]
        index = {c: i for i, c in enumerate(classes)}
        known = np.array([t in index for t in truth])
        shown = f"{args.dataset} (shipped test file)" if args.dataset else args.csv
        if known.any():
            right = predicted[known] == np.array([index[t] for t in truth if t in index])
            print(f"accuracy on the labelled file {shown}: {float(np.mean(right)):.4f} "
                  f"({int(known.sum())} series)", flush=True)
        if not known.all():  # predicted all the same; a label the model never saw can't score
            unknown = sorted({t for t in truth if t not in index})
            print(f"{int((~known).sum())} series labelled {', '.join(unknown)} (classes the "
                  f"model was not trained on: {', '.join(classes)}) are predicted, not "
                  "scored", flush=True)
    counts = np.bincount(predicted, minlength=len(classes))
    print("predicted classes: " + ", ".join(f"{c} {n}" for c, n in zip(classes, counts,
                                                                       strict=True) if n),
          flush=True)
    output = args.output or (f"{path.stem}_predictions.csv" if args.dataset else
                             str(path.with_name(path.stem + "_predictions.csv")))
    with open(output, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "predicted", *(["true"] if truth is not None else []),
                         *(f"p_{c}" for c in classes)])
        for i in range(len(predicted)):
            true = [truth[i]] if truth is not None else []
            writer.writerow([i, classes[int(predicted[i])], *true,
                             *(f"{p:.6g}" for p in proba[i])])
    print(f"saved {output}", flush=True)
    return 0


def add_parser(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``predict`` command."""
    parser = commands.add_parser("predict", formatter_class=fmt,
                                 help="forecast (or classify) with a model saved by 'train "
                                      "series' (or 'train classify')")
    parser.add_argument("model", metavar="RUN_DIR",
                        help="run folder (or its model.npz) of 'train series' or 'train "
                             "classify'; 'series' or 'classify': that task's newest run in "
                             "minirnn-runs/")
    parser.add_argument("--ts", "--csv", dest="csv", default=None, metavar="FILE",
                        help="the data: a classifier reads .ts (or CSV, one series a row), a "
                             "forecaster a CSV")
    choices = [*datasets.names(), *(d.name for d in datasets.catalogue("classify"))]
    parser.add_argument("--dataset", choices=choices, default=None, metavar="NAME",
                        help="shipped data instead of --ts/--csv: a series "
                             f"({', '.join(datasets.names())}) for a forecaster, the test "
                             "file of a classification set (BasicMotions) for a classifier")
    parser.add_argument("--column", default=None, help="column (default: the training one)")
    parser.add_argument("--date-column", type=date_arg, default=None,
                        help="date column (default: the training one)")
    parser.add_argument("--output", default=None,
                        help="CSV of the predictions (default: a forecaster writes none; a "
                             "classifier FILE_predictions.csv next to FILE, or in this folder "
                             "for --dataset)")
    parser.set_defaults(run=predict)

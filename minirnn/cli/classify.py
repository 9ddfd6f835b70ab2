"""``minirnn train classify``: sequence classification on UEA/UCR ``.ts`` (or CSV) files,
and the classifier side of ``minirnn predict``."""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.classification import (
    SequenceClassifier,
    dtw_cost,
    majority_class,
    nn1_dtw,
    nn1_euclidean,
    znormalize,
)
from minirnn.apps.data import LabelledSequences, fill_missing, load_csv_sequences, load_ts
from minirnn.cli._common import (
    UsageError,
    add_common,
    parse_number,
    plot_run,
    positive_int,
    refuse_options,
    run_config,
    time_limit_report,
    write_history,
    write_json,
)
from minirnn.nn.io import ModelFileError
from minirnn.nn.metrics import confusion_matrix, f1_macro, precision_recall_f1
from minirnn.train.callbacks import Callback, ProgressBar

__all__ = ["add_parser", "predict_classifier"]

CLASSIFY_DEFAULTS: dict[str, Any] = {
    "cell": "gru", "hidden_size": 64, "epochs": 150, "batch_size": 16,
    "lr": {"lstm": 3e-3, "gru": 3e-3, "rnn": 1e-3}, "patience": 30}
#: Adam's learning rate when --lr is not given (the setting of every measurement in
#: docs/classification.md).
ADAM_LR = 3e-3
#: 1-NN DTW runs when its cost (test x train x T_test x T_train cell updates) is below this
#: (about 10-30 s on the project machine).
DTW_BUDGET = 2e8


def _label_column(text: str) -> int | str | None:
    """--label-column / --column: an index, a header name, or "none" (no labels)."""
    if text.lower() == "none":
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _load(path: str, label_column: str, classes: list[str] | None = None,
          what: str = "training") -> LabelledSequences:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{what} file {path}: no such file")
    try:
        if p.suffix.lower() == ".ts":
            return load_ts(p, classes=classes)
        return load_csv_sequences(p, label_column=_label_column(label_column),
                                  classes=classes)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc


def _handle_missing(data: LabelledSequences, path: str, policy: str) -> LabelledSequences:
    valid = np.arange(data.x.shape[1])[None, :] < data.lengths[:, None]
    gaps = np.isnan(data.x) & valid[:, :, None]
    if not gaps.any():
        return data
    first = int(np.flatnonzero(gaps.any(axis=(1, 2)))[0])
    if policy == "error":
        raise UsageError(f"{path}: {int(gaps.sum())} missing values (first in case "
                         f"{first + 1}); pass --missing interpolate to fill them")
    try:
        x, lengths, filled = fill_missing(data.x, data.lengths)
    except ValueError as exc:
        raise UsageError(f"{path}: {exc}") from exc
    print(f"{path}: {int(gaps.sum())} missing values: {filled} interpolated, the rest were "
          "trailing and now shorten their sequences", flush=True)
    return LabelledSequences(x, lengths, data.y, data.classes)


def _check_pair(train: LabelledSequences, test: LabelledSequences, args: argparse.Namespace
                ) -> None:
    if train.y is None:
        raise UsageError(f"{args.train}: the file has no class labels (@classLabel false)")
    if test.y is None:
        raise UsageError(f"{args.test}: the test file has no class labels; use 'minirnn "
                         "predict' for unlabelled data")
    present = np.unique(train.y)
    if len(present) < 2:
        raise UsageError(f"{args.train}: every training case has class "
                         f"{train.classes[int(present[0])]!r}; a classifier needs at least two")
    if train.x.shape[2] != test.x.shape[2]:
        raise UsageError(f"{args.test} has {test.x.shape[2]} dimensions, {args.train} has "
                         f"{train.x.shape[2]}")
    equal = np.all(train.lengths == train.lengths[0])
    if equal and not np.all(test.lengths == train.lengths[0]):
        raise UsageError(f"{args.test}: series of {test.lengths.min()}-{test.lengths.max()} "
                         f"steps, but every training series has {train.lengths[0]}")
    unseen = sorted(set(np.unique(test.y)) - set(present))
    if unseen:
        names = [train.classes[int(k)] for k in unseen]
        raise UsageError(f"{args.test}: labels {names} never occur in the training file")


class _EpochLine(Callback):
    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        print(f"epoch {epoch + 1:3d}/{self.solver.epochs}  loss {logs['loss']:.4f}  "
              f"accuracy {logs['accuracy']:.3f}  val_loss {logs['val_loss']:.4f}  "
              f"val_accuracy {logs['val_accuracy']:.3f}  {logs['time']:.1f}s", flush=True)


def _plot_confusion(cm: np.ndarray, classes: list[str], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    size = min(3 + 0.45 * len(classes), 14)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="fraction of the true class")
    ticks = np.arange(len(classes))
    crowded = len(classes) * max(len(c) for c in classes) > 20
    ax.set_xticks(ticks, classes, rotation=45 if crowded else 0,
                  ha="right" if crowded else "center")
    ax.set_yticks(ticks, classes)
    if len(classes) <= 20:
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _time_limit_info(clf: SequenceClassifier, args: argparse.Namespace) -> dict[str, Any]:
    if args.time_limit is None:
        return {}
    limits = [r["time_limit"] for r in map(time_limit_report, clf.solvers) if r]
    reached = any(r["reached"] for r in limits) or len(clf.models) < args.ensemble
    return {"time_limit": {"seconds": args.time_limit, "reached": reached,
                           "members_trained": len(clf.models),
                           "epochs_done": [r["epochs_done"] for r in limits]}}


def _unit_fraction(text: str) -> float:
    """A number in [0, 1] (--neighbors, --dtw-window)."""
    return float(parse_number(text, float, lambda v: 0.0 <= v <= 1.0, "between 0 and 1"))


def _distances(text: str) -> str:
    kinds = [k.strip() for k in text.split(",")]
    if not kinds or any(k not in ("euclidean", "dtw", "ddtw") for k in kinds) or \
            len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(f"expected euclidean, dtw, ddtw or several joined by "
                                         f"commas, got {text!r}")
    return ",".join(kinds)


def _pooling(text: str) -> str:
    modes = [m.strip() for m in text.split(",")]
    allowed = ("mean", "mean_max", "max", "last")
    if not all(m in allowed for m in modes):
        raise argparse.ArgumentTypeError(f"expected one of {allowed} or several joined by "
                                         f"commas, got {text!r}")
    return ",".join(modes)


def train_classify(args: argparse.Namespace) -> int:
    for flag, value in (("--train", args.train), ("--test", args.test)):
        if not Path(value).is_file():
            raise UsageError(f"{flag} {value}: no such file")
    if args.optimizer == "adam" and not any(t == "--lr" or t.startswith("--lr=")
                                            for t in getattr(args, "argv", None) or []):
        args.lr = ADAM_LR  # measured default for this task (Adam's own 1e-3 trains slower)
    refuse_options(args, "train classify", "--grad-flow", "--init-from", "--resume")
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--output {folder} exists and is not a folder")
    train = _load(args.train, args.label_column)
    test = _load(args.test, args.label_column, classes=train.classes, what="test")
    _check_pair(train, test, args)
    train = _handle_missing(train, args.train, args.missing)
    test = _handle_missing(test, args.test, args.missing)
    assert train.y is not None and test.y is not None
    classes = train.classes
    name = Path(args.train).stem.removesuffix("_TRAIN")
    print(f"{name}: {len(train.y)} training series ({args.validation_fraction:.0%} of them, "
          f"stratified, for validation), {len(test.y)} test; {train.x.shape[2]} "
          f"dimension(s), lengths {train.lengths.min()}-{train.lengths.max()} (test "
          f"{test.lengths.min()}-{test.lengths.max()}); {len(classes)} classes", flush=True)

    # Baselines on the same inputs the model sees (per-series z-normalised with --znorm).
    bx_train, bx_test = train.x, test.x
    if args.znorm:
        bx_train, bx_test = znormalize(train.x, train.lengths), znormalize(test.x, test.lengths)
    start = time.perf_counter()
    majority = float(np.mean(majority_class(train.y, len(test.y)) == test.y))
    euclid = float(np.mean(nn1_euclidean(bx_train, train.lengths, train.y, bx_test,
                                         test.lengths) == test.y))
    cost = dtw_cost(len(train.y), len(test.y), train.x.shape[1], test.x.shape[1])
    dtw: float | None = None
    if args.dtw == "yes" or (args.dtw == "auto" and cost <= DTW_BUDGET):
        dtw = float(np.mean(nn1_dtw(bx_train, train.lengths, train.y, bx_test, test.lengths)
                            == test.y))
    baseline_seconds = time.perf_counter() - start
    dtw_text = f"{dtw:.4f}" if dtw is not None else (
        "not computed (--dtw no)" if args.dtw == "no" else
        f"skipped ({cost:.1e} cell updates would take long; --dtw yes forces it)")
    print(f"baselines: majority class {majority:.4f}, 1-NN Euclidean {euclid:.4f}, 1-NN DTW "
          f"{dtw_text}  [{baseline_seconds:.0f}s]", flush=True)

    callbacks: list[Callback] = [_EpochLine()] if not args.quiet_epochs else []
    if args.progress:
        callbacks.append(ProgressBar(every_batches=100, epoch_summary=False))
    callbacks.extend(getattr(args, "extra_callbacks", ()))  # e.g. a sweep's pruning
    clf = SequenceClassifier(
        cell=args.cell, hidden_size=args.hidden_size, num_layers=args.layers,
        bidirectional=args.bidirectional, pooling=args.pooling,
        normalize="series" if args.znorm else "global", max_steps=args.max_steps,
        derivative="auto" if args.derivative == "auto" else args.derivative == "yes",
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, clip_norm=args.clip_norm,
        patience=args.patience, validation_fraction=args.validation_fraction,
        dropout=args.dropout, class_weight=None if args.class_weight == "none" else "balanced",
        n_models=args.ensemble, refit=args.refit, optimizer=args.optimizer, seed=args.seed,
        neighbors=args.neighbors, neighbor_distances=args.neighbor_distances,
        dtw_window=args.dtw_window,
        dtype=np.dtype(args.dtype),
        time_limit=args.time_limit, verbose_time_limit=True, callbacks=callbacks)
    members = f"an ensemble of {args.ensemble} x " if args.ensemble > 1 else ""
    modes = args.pooling.split(",")
    used = ",".join(dict.fromkeys(modes[k % len(modes)] for k in range(args.ensemble)))
    print(f"model: {members}{'bidirectional ' if args.bidirectional else ''}"
          f"{args.cell.upper()} "
          f"{args.hidden_size} units x {args.layers} layer(s), {used} pooling over "
          f"valid steps, dropout {args.dropout:g}; {args.optimizer} lr {args.lr:g}, batch "
          f"{args.batch_size}, up to {args.epochs} epochs, early stopping on validation "
          f"accuracy (patience {args.patience})", flush=True)
    if args.neighbors > 0:
        print(f"blended with nearest-neighbour evidence ({args.neighbor_distances} distances "
              f"to the training series, weight {args.neighbors:g})", flush=True)
    start = time.perf_counter()
    try:
        clf.fit(train.x, train.y, train.lengths, num_classes=len(classes))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    train_seconds = time.perf_counter() - start
    if clf.solver.interrupted:
        print("interrupted: keeping the best weights so far", flush=True)
    for k, (solver, stopper) in enumerate(zip(clf.solvers, clf.stoppers, strict=True)):
        who = f"member {k + 1}: " if args.ensemble > 1 else ""
        print(f"{who}best validation epoch {stopper.best_epoch + 1} of {len(solver.history)} "
              f"(validation accuracy {solver.history['val_accuracy'][stopper.best_epoch]:.4f})",
              flush=True)
    if len(clf.models) < args.ensemble:
        print(f"time limit: {len(clf.models)} of {args.ensemble} ensemble members trained",
              flush=True)
    npp = clf.neighbor_prep
    if npp:
        loo = ", ".join(f"{k} {v:.4f}" for k, v in npp["loo_accuracy"].items())
        dropped = f"; {','.join(npp['dropped'])} dropped (too costly or too short)" \
            if npp["dropped"] else ""
        print(f"nearest-neighbour evidence, leave-one-out accuracy on the training file: "
              f"{loo}{dropped}", flush=True)
    # The test file is used from here on only: the model is final.
    parts = clf.proba_parts(test.x, test.lengths)
    proba = clf.predict_proba(test.x, test.lengths)
    predicted = np.argmax(proba, axis=1)
    acc = float(np.mean(predicted == test.y))
    part_acc = {k: float(np.mean(np.argmax(v, axis=1) == test.y)) for k, v in parts.items()}
    verdict = "beats" if acc > euclid else ("ties" if acc == euclid else "does NOT beat")
    dtw_part = f", 1-NN DTW {dtw:.4f}" if dtw is not None else ""
    print(f"test accuracy {acc:.4f}  (majority class {majority:.4f}, 1-NN Euclidean "
          f"{euclid:.4f}{dtw_part}): {verdict} 1-NN Euclidean  [{train_seconds:.0f}s training]",
          flush=True)
    if len(parts) > 1:
        print("  its parts alone: " + ", ".join(
            f"{'network' if k == 'network' else k + ' neighbours'} {v:.4f}"
            for k, v in part_acc.items()), flush=True)

    cm = confusion_matrix(test.y, predicted, len(classes))
    precision, recall, f1 = precision_recall_f1(cm)
    width = max(len(c) for c in [*classes, "class"])
    print(f"{'class':>{width}}  precision  recall  support")
    for k, cname in enumerate(classes):
        print(f"{cname:>{width}}  {precision[k]:9.3f}  {recall[k]:6.3f}  {cm[k].sum():7d}")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "per_class.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", "precision", "recall", "f1", "support"])
        for k, cname in enumerate(classes):
            writer.writerow([cname, precision[k], recall[k], f1[k], int(cm[k].sum())])
    with open(folder / "confusion.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *classes])
        for k, cname in enumerate(classes):
            writer.writerow([cname, *cm[k].tolist()])
    clf.save(folder / "model.npz", classes=classes, train_file=str(args.train),
             label_column=args.label_column)
    write_history(folder, clf.history)
    report = {
        "task": "classify", "data_set": name, "train_file": str(args.train),
        "test_file": str(args.test), "classes": classes, "test_accuracy": acc,
        "test_f1_macro": f1_macro(test.y, predicted, len(classes)),
        "majority_accuracy": majority, "nn1_euclidean_accuracy": euclid,
        "nn1_dtw_accuracy": dtw, "beats_nn1_euclidean": acc > euclid,
        "verdict": f"{verdict} 1-NN Euclidean",
        "part_accuracy": part_acc, "neighbors": {
            "weight": args.neighbors if npp else 0.0,
            "distances": npp.get("distances", []), "dropped": npp.get("dropped", []),
            "temperature": npp.get("temperature", {}),
            "train_loo_accuracy": npp.get("loo_accuracy", {})},
        "best_epoch": clf.stopper.best_epoch + 1, "epochs_run": len(clf.history),
        "train_seconds": train_seconds, "baseline_seconds": baseline_seconds,
        "n_train": len(train.y), "n_test": len(test.y), "dimensions": int(train.x.shape[2]),
        "confusion_matrix": cm.tolist(),
        "per_class": {c: {"precision": float(precision[k]), "recall": float(recall[k]),
                          "f1": float(f1[k]), "support": int(cm[k].sum())}
                      for k, c in enumerate(classes)},
        "classifier": {**clf.config, "dtype": args.dtype, "class_weight": args.class_weight,
                       "missing": args.missing, "znorm": args.znorm},
        "status": "interrupted" if clf.solver.interrupted else "finished",
        "config": run_config(args),
        "members": [{"best_epoch": st.best_epoch + 1, "epochs_run": len(sv.history)}
                    for sv, st in zip(clf.solvers, clf.stoppers, strict=True)],
        **_time_limit_info(clf, args),
    }
    write_json(folder / "report.json", report)
    written = ["model.npz", *(["model.neighbors.npz"] if clf.reference else []),
               "report.json", "per_class.csv", "confusion.csv", "history.csv"]
    if not args.no_plot:
        if _plot_confusion(cm, classes, folder / "confusion.png",
                           f"{name}: test accuracy {acc:.3f}"):
            written.append("confusion.png")
        plot_run(folder, clf.history, None, f"classify {name}")
    print(f"saved {folder}/: {', '.join(written)}", flush=True)
    return 0


def predict_classifier(args: argparse.Namespace) -> int:
    """``minirnn predict MODEL --csv FILE`` for a model saved by ``train classify``: labels
    and class probabilities of every sequence of FILE (.ts, or CSV one series a row)."""
    try:
        clf, meta = SequenceClassifier.load(args.model)
    except (ModelFileError, ValueError, KeyError) as exc:
        raise UsageError(f"{args.model}: {exc}") from exc
    classes = [str(c) for c in meta.get("classes", range(clf.num_classes))]
    if not args.csv:
        raise UsageError("a classifier predicts from a file: pass --ts FILE (.ts) or --csv "
                         "FILE (one series a row)")
    path = Path(args.csv)
    if not path.is_file():
        raise UsageError(f"{args.csv}: no such file")
    try:
        if path.suffix.lower() == ".ts":
            data = load_ts(path, classes=classes)
        else:
            column = args.column if args.column is not None else \
                str(meta.get("label_column", "0"))
            data = load_csv_sequences(path, label_column=_label_column(column),
                                      classes=classes)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if data.x.shape[2] != clf.num_features:
        raise UsageError(f"{args.csv} has {data.x.shape[2]} dimensions, the model was "
                         f"trained on {clf.num_features}")
    data = _handle_missing(data, args.csv, "interpolate")
    proba = clf.predict_proba(data.x, data.lengths)
    predicted = np.argmax(proba, axis=1)
    if data.y is not None:
        print(f"accuracy on the labelled file {args.csv}: "
              f"{float(np.mean(predicted == data.y)):.4f} ({len(predicted)} series)", flush=True)
    counts = np.bincount(predicted, minlength=len(classes))
    print("predicted classes: " + ", ".join(f"{c} {n}" for c, n in zip(classes, counts,
                                                                       strict=True) if n),
          flush=True)
    output = args.output or str(path.with_name(path.stem + "_predictions.csv"))
    with open(output, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "predicted", *(["true"] if data.y is not None else []),
                         *(f"p_{c}" for c in classes)])
        for i in range(len(predicted)):
            true = [classes[int(data.y[i])]] if data.y is not None else []
            writer.writerow([i, classes[int(predicted[i])], *true,
                             *(f"{p:.6g}" for p in proba[i])])
    print(f"saved {output}", flush=True)
    return 0


def add_parser(tasks: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add ``classify`` to the ``minirnn train`` subparsers."""
    parser = tasks.add_parser(
        "classify", formatter_class=fmt,
        help="classify sequences of a UEA/UCR .ts (or CSV) training/test pair",
        description="Train a recurrent classifier on --train and report its accuracy on "
                    "--test next to the majority-class, 1-NN Euclidean and 1-NN DTW "
                    "baselines on the same split.")
    add_common(parser, "classify", CLASSIFY_DEFAULTS)
    parser.set_defaults(bidirectional=True)
    parser.add_argument("--unidirectional", dest="bidirectional", action="store_false",
                        help="read the sequences forwards only (default: bidirectional)")
    parser.add_argument("--train", required=True, help="training file (.ts, or .csv/.tsv one "
                        "series a row)")
    parser.add_argument("--test", required=True, help="test file, same format")
    parser.add_argument("--label-column", default="0",
                        help="CSV only: label column (0-based index, -1 for the last, or a "
                             "header name); 'minirnn predict' uses the same unless --column "
                             "(--column none: a file without labels)")
    parser.add_argument("--znorm", action="store_true",
                        help="z-normalise every series on its own (removes offset and scale)")
    parser.add_argument("--pooling", type=_pooling, default="mean,mean_max",
                        help="summary of the hidden states over valid steps: mean, mean_max, "
                             "max, last, or several joined by commas (ensemble member k uses "
                             "the k-th)")
    parser.add_argument("--refit", action=argparse.BooleanOptionalAction, default=False,
                        help="after early stopping picks the epochs, retrain each member on "
                             "the whole training file for that many")
    parser.add_argument("--ensemble", type=positive_int, default=3,
                        help="members (seeds, validation splits, poolings) whose "
                             "probabilities are averaged")
    parser.add_argument("--derivative", choices=["auto", "yes", "no"], default="auto",
                        help="also feed the first difference of every dimension (auto: for "
                             "univariate series)")
    parser.add_argument("--neighbors", type=_unit_fraction, default=0.5, metavar="WEIGHT",
                        help="weight of nearest-neighbour evidence (distances to the training "
                             "series) averaged with the network's probabilities; 0: network "
                             "alone")
    parser.add_argument("--neighbor-distances", type=_distances, default="euclidean,dtw,ddtw",
                        help="distances of the nearest-neighbour evidence, equal shares "
                             "(ddtw: DTW of the first differences)")
    parser.add_argument("--dtw-window", type=_unit_fraction, default=0.1,
                        help="band of the DTW evidence, as a fraction of the series length")
    parser.add_argument("--max-steps", type=positive_int, default=100,
                        help="average groups of steps so that no series is longer than this")
    parser.add_argument("--dropout", type=float, default=0.3,
                        help="dropout before the output layer")
    parser.add_argument("--validation-fraction", type=float, default=0.2,
                        help="stratified share of the training file held out for early "
                             "stopping")
    parser.add_argument("--class-weight", choices=["none", "balanced"], default="none",
                        help="weight the loss by inverse class frequency")
    parser.add_argument("--missing", choices=["interpolate", "error"], default="interpolate",
                        help="missing values ('?'): interpolate in time, or stop")
    parser.add_argument("--dtw", choices=["auto", "yes", "no"], default="auto",
                        help="compute the 1-NN DTW baseline (auto: when it takes seconds)")
    parser.add_argument("--quiet-epochs", action="store_true", help="no line per epoch")
    parser.set_defaults(run=train_classify)

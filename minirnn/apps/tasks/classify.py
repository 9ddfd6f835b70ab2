"""The ``classify`` task: sequence classification of a UEA/UCR ``.ts`` (or CSV) training /
test pair, next to the majority-class, 1-NN Euclidean, 1-NN DTW and MiniRocket baselines."""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.classification import (
    SequenceClassifier,
    dtw_cost,
    majority_class,
    minirocket,
    nn1_dtw,
    nn1_euclidean,
    rocket_unavailable,
    znormalize,
)
from minirnn.apps.data import LabelledSequences, fill_missing, load_csv_sequences, load_ts
from minirnn.apps.tasks.config import CommonConfig, option
from minirnn.apps.tasks.errors import RunInterrupted, TaskError
from minirnn.apps.tasks.run_folder import plot_run, time_limit_report, write_history, write_json
from minirnn.nn.metrics import confusion_matrix, f1_macro, precision_recall_f1
from minirnn.nn.registry import RECURRENT_LAYERS, default_lr
from minirnn.train.callbacks import Callback, EarlyStopping
from minirnn.train.solver import History

__all__ = ["ADAM_LR", "MAX_ABS_VALUE", "ClassifyConfig", "MemberLine", "check_magnitude",
           "handle_missing", "label_column", "read_sequences", "run_classify"]

#: Adam's learning rate when lr is not given (the setting of every measurement in
#: docs/classification.md).
ADAM_LR = 3e-3
#: 1-NN DTW runs when its cost (test x train x T_test x T_train cell updates) is below this
#: (about 10-30 s on the project machine).
DTW_BUDGET = 2e8
#: The same for series of one length with the compiled DTW (numba, the ``fast`` extra; it
#: does 20-50 times as many cell updates a second on these sizes).
DTW_BUDGET_COMPILED = 4e9
#: Under --time-limit: the 1-NN DTW baseline must end by this share of it, MiniRocket
#: within the next such share, and this much is kept for testing and saving at the end.
DTW_TIME_SHARE = 0.15
ROCKET_TIME_SHARE = 0.2
FINAL_TIME_SHARE = 0.1
#: Largest magnitude of a value in a classification file (normalising squares them).
MAX_ABS_VALUE = 1e100
POOLINGS = ("mean", "mean_max", "max", "last")
_PART_NAMES = {"network": "network", "neighbors": "neighbours (blended)",
               "rocket": "MiniRocket member"}
DISTANCES = ("euclidean", "dtw", "ddtw")


@dataclasses.dataclass(frozen=True)
class ClassifyConfig(CommonConfig):
    """A recurrent classifier trained on ``train`` and tested on ``test``."""

    task = "classify"
    cell: str = option("gru", choices=sorted(RECURRENT_LAYERS), help="recurrent cell")
    bidirectional: bool = option(True, help="also read the sequences backwards")
    epochs: int = option(150, rule="positive", help="maximum epochs")
    batch_size: int = option(16, rule="positive", help="mini-batch size")
    patience: int = option(30, rule="positive", help="early stopping patience (epochs)")
    train: str | None = option(None, help="training file (.ts, or .csv/.tsv one series a row)")
    test: str | None = option(None, help="test file, same format")
    label_column: str = option("0", help="CSV only: label column (index, -1, or name)")
    znorm: bool = option(False, help="z-normalise every series on its own")
    pooling: str = option("mean,mean_max", help="pooling over valid steps; several joined by "
                          "commas: ensemble member k uses the k-th")
    refit: bool = option(False, help="retrain each member on the whole training file")
    ensemble: int = option(3, rule="positive", help="members whose probabilities are averaged")
    derivative: str = option("auto", choices=("auto", "yes", "no"),
                             help="also feed the first difference of every dimension")
    neighbors: float = option(0.5, rule="unit", help="weight of nearest-neighbour evidence")
    neighbor_distances: str = option("euclidean,dtw,ddtw",
                                     help="distances of the nearest-neighbour evidence")
    dtw_window: float = option(0.1, rule="unit", help="a DTW band always tried beside the "
                               "others; the best on leave-one-out is used")
    max_steps: int = option(100, rule="positive", help="average groups of steps above this")
    downsample: str = option("patch,mean", help="how series longer than max_steps are "
                             "shortened: mean (averaged groups), patch (groups side by side "
                             "as features), or both joined by a comma (member k: the k-th)")
    dropout: float = option(0.3, rule="probability", help="dropout before the output layer")
    validation_fraction: float = option(0.2, rule="fraction",
                                        help="stratified share held out for early stopping")
    class_weight: str = option("none", choices=("none", "balanced"))
    missing: str = option("interpolate", choices=("interpolate", "error"))
    dtw: str = option("auto", choices=("auto", "yes", "no"),
                      help="compute the 1-NN DTW baseline (auto: when it takes seconds)")
    rocket: str = option("auto", choices=("auto", "no"),
                         help="compute the MiniRocket baseline (auto: when aeon is installed)")
    rocket_member: str = option("auto", choices=("auto", "yes", "no"),
                                help="a MiniRocket member in the blend (auto: when aeon is "
                                     "installed)")
    blend: str = option("auto", choices=("auto", "fixed"),
                        help="weights of network, neighbours and rocket member: chosen on "
                             "held-out training series (auto), or network 1 - neighbors and "
                             "neighbours --neighbors (fixed)")

    def check(self) -> None:
        for name in ("train", "test"):
            if not getattr(self, name):
                raise ValueError(f"{name} (a file) is required")
        modes = [m.strip() for m in self.pooling.split(",")]
        if not all(m in POOLINGS for m in modes):
            raise ValueError(f"pooling must be one of {POOLINGS} or several joined by commas, "
                             f"got {self.pooling!r}")
        kinds = [k.strip() for k in self.neighbor_distances.split(",")]
        if any(k not in DISTANCES for k in kinds) or len(set(kinds)) != len(kinds):
            raise ValueError(f"neighbor_distances must be some of {DISTANCES} joined by "
                             f"commas, got {self.neighbor_distances!r}")
        if any(m not in ("mean", "patch") for m in self.downsample.split(",")):
            raise ValueError(f"downsample must be mean, patch or both joined by a comma, got "
                             f"{self.downsample!r}")


def label_column(text: str) -> int | str | None:
    """--label-column / --column: an index, a header name, or "none" (no labels)."""
    if text.lower() == "none":
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def read_sequences(path: str, labels: str, classes: list[str] | None = None,
                   what: str = "training") -> LabelledSequences:
    """A ``.ts`` file, or a CSV file one series a row with its label column ``labels``."""
    p = Path(path)
    if not p.is_file():
        raise TaskError(f"{what} file {path}: no such file")
    try:
        if p.suffix.lower() == ".ts":
            data = load_ts(p, classes=classes)
        else:
            data = load_csv_sequences(p, label_column=label_column(labels),
                                      classes=classes)
    except (OSError, ValueError) as exc:
        raise TaskError(str(exc)) from exc
    check_magnitude(data, path)
    return data


def check_magnitude(data: LabelledSequences, path: str) -> None:
    """Refuse values too large to normalise (squares overflow float64): one line naming the
    file, instead of overflow warnings and then "x contains NaN or Inf"."""
    with np.errstate(invalid="ignore"):
        largest = float(np.nanmax(np.abs(data.x))) if data.x.size else 0.0
    if largest > MAX_ABS_VALUE:
        raise TaskError(f"{path}: values up to {largest:.3g} in magnitude are too large to "
                        f"normalise (their squares overflow); rescale the data to below "
                        f"{MAX_ABS_VALUE:g}")


def _tied(scores: dict[str, float]) -> str:
    """How many weightings were averaged, when more than one (their held-out losses were too
    close to rank)."""
    tied = int(scores.get("tied", 1))
    return f", {tied} weightings within the tie margin averaged" if tied > 1 else ""


def handle_missing(data: LabelledSequences, path: str, policy: str) -> LabelledSequences:
    valid = np.arange(data.x.shape[1])[None, :] < data.lengths[:, None]
    gaps = np.isnan(data.x) & valid[:, :, None]
    if not gaps.any():
        return data
    first = int(np.flatnonzero(gaps.any(axis=(1, 2)))[0])
    if policy == "error":
        raise TaskError(f"{path}: {int(gaps.sum())} missing values (first in case "
                         f"{first + 1}); pass --missing interpolate to fill them")
    try:
        x, lengths, filled = fill_missing(data.x, data.lengths)
    except ValueError as exc:
        raise TaskError(f"{path}: {exc}") from exc
    print(f"{path}: {int(gaps.sum())} missing values: {filled} interpolated, the rest were "
          "trailing and now shorten their sequences", flush=True)
    return LabelledSequences(x, lengths, data.y, data.classes)


def _check_pair(train: LabelledSequences, test: LabelledSequences, config: ClassifyConfig
                ) -> None:
    if train.y is None:
        raise TaskError(f"{config.train}: the file has no class labels (@classLabel false)")
    if test.y is None:
        raise TaskError(f"{config.test}: the test file has no class labels; use 'minirnn "
                         "predict' for unlabelled data")
    present = np.unique(train.y)
    if len(present) < 2:
        raise TaskError(f"{config.train}: every training case has class "
                         f"{train.classes[int(present[0])]!r}; a classifier needs at least two")
    if train.x.shape[2] != test.x.shape[2]:
        raise TaskError(f"{config.test} has {test.x.shape[2]} dimensions, {config.train} has "
                         f"{train.x.shape[2]}")
    equal = np.all(train.lengths == train.lengths[0])
    if equal and not np.all(test.lengths == train.lengths[0]):
        raise TaskError(f"{config.test}: series of {test.lengths.min()}-{test.lengths.max()} "
                         f"steps, but every training series has {train.lengths[0]}")
    unseen = sorted(set(np.unique(test.y)) - set(present))
    if unseen:
        names = [train.classes[int(k)] for k in unseen]
        raise TaskError(f"{config.test}: labels {names} never occur in the training file")


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


class MemberLine(Callback):
    """One line when an ensemble member finishes: its epochs, its best validation accuracy
    and its time (instead of a line per epoch)."""

    def __init__(self, members: int) -> None:
        self.members = members
        self.started = 0
        self.clock = 0.0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.started += 1
        self.clock = time.perf_counter()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        history = self.solver.history
        who = f"member {self.started} of {self.members}" if self.members > 1 else "network"
        if not len(history):
            print(f"{who}: stopped before its first epoch", flush=True)
            return
        acc = history["val_accuracy"]
        # The epoch whose weights the member keeps (its early stopping's choice: report.json
        # says the same), not merely the first at the best accuracy.
        stoppers = [cb for cb in self.solver.callbacks if isinstance(cb, EarlyStopping)]
        best = stoppers[0].best_epoch if stoppers and stoppers[0].best_epoch >= 0 \
            else int(np.argmax(acc))
        print(f"{who}: {len(history)} epochs, best validation accuracy {acc[best]:.4f} "
              f"(epoch {best + 1}), loss {history['loss'][-1]:.4f}  "
              f"[{time.perf_counter() - self.clock:.0f}s]", flush=True)


def _run_minirocket(train: LabelledSequences, test: LabelledSequences, bx_train: np.ndarray,
                    bx_test: np.ndarray, seed: int, timeout: float | None
                    ) -> np.ndarray | None:
    """MiniRocket's test predictions; under a timeout in a child process that is ended at
    the timeout (its compiled code cannot be stopped from inside): None then."""
    assert train.y is not None
    args = (bx_train, train.lengths, train.y, bx_test, test.lengths)
    if timeout is None:
        return minirocket(*args, seed=seed)
    import multiprocessing  # only here: the command's start-up stays light

    # spawn, not fork: forking a process whose BLAS threads are running can deadlock.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pending = pool.apply_async(minirocket, args, {"seed": seed})
        try:
            return np.asarray(pending.get(max(timeout, 0.0)))
        except multiprocessing.TimeoutError:
            return None  # leaving the block terminates the child


def _time_limit_info(clf: SequenceClassifier, config: ClassifyConfig) -> dict[str, Any]:
    if config.time_limit is None:
        return {}
    limits = [r["time_limit"] for r in map(time_limit_report, clf.solvers) if r]
    reached = any(r["reached"] for r in limits) or (len(clf.models) < config.ensemble
                                                     and not clf.interrupted)
    return {"time_limit": {"seconds": config.time_limit, "reached": reached,
                           "members_trained": len(clf.models),
                           "epochs_done": [r["epochs_done"] for r in limits]}}


def compiled_dtw_available() -> bool:
    """Whether the compiled DTW (numba, the ``fast`` extra) runs here."""
    from minirnn.nn.kernels import compiled

    return compiled.compiled_available()


def _strongest(euclid: float, dtw: float | None, rocket: float | None) -> tuple[str, float]:
    """The most accurate baseline computed on the test set: (name, accuracy)."""
    found = {"1-NN Euclidean": euclid}
    if dtw is not None:
        found["1-NN DTW"] = dtw
    if rocket is not None:
        found["MiniRocket"] = rocket
    name = max(found, key=lambda k: found[k])
    return name, found[name]


def _verdict(acc: float, name: str, best: float) -> str:
    if acc > best:
        return f"above the strongest baseline, {name} ({best:.4f}), by {acc - best:.4f}"
    if acc == best:
        return f"ties the strongest baseline, {name} ({best:.4f})"
    return f"below the strongest baseline, {name} ({best:.4f}), by {best - acc:.4f}"


def run_classify(config: ClassifyConfig, folder: Path, callbacks: Sequence[Callback],
                 record: Callable[[dict[str, Any]], dict[str, Any]]
                 ) -> tuple[dict[str, Any], History]:
    """Baselines, the classifier, its test accuracy and per-class figures; returns the
    report (also in report.json) and the training history."""
    assert config.train is not None and config.test is not None  # checked by the config
    began = time.perf_counter()
    limit = config.time_limit

    def share(fraction: float) -> float | None:
        """The deadline (perf_counter) after ``fraction`` of --time-limit from now."""
        return None if limit is None else time.perf_counter() + fraction * limit
    for flag, value in (("--train", config.train), ("--test", config.test)):
        if not Path(value).is_file():
            raise TaskError(f"{flag} {value}: no such file")
    lr = config.lr
    if lr is None:  # Adam: the rate measured for this task (its own 1e-3 trains slower)
        lr = ADAM_LR if config.optimizer == "adam" else default_lr(config.optimizer)
    run = record({"lr": lr})
    train = read_sequences(config.train, config.label_column)
    if train.y is None:  # before the test file is read against its (absent) classes
        raise TaskError(f"{config.train}: the training file has no class labels "
                        "(@classLabel false); a classifier learns from labelled cases")
    test = read_sequences(config.test, config.label_column, classes=train.classes, what="test")
    _check_pair(train, test, config)
    train = handle_missing(train, config.train, config.missing)
    test = handle_missing(test, config.test, config.missing)
    assert train.y is not None and test.y is not None
    classes = train.classes
    name = Path(config.train).stem.removesuffix("_TRAIN")
    print(f"{name}: {len(train.y)} training series ({config.validation_fraction:.0%} of them, "
          f"stratified, for validation), {len(test.y)} test; {train.x.shape[2]} "
          f"dimension(s), lengths {train.lengths.min()}-{train.lengths.max()} (test "
          f"{test.lengths.min()}-{test.lengths.max()}); {len(classes)} classes", flush=True)

    # Baselines on the same inputs the model sees (per-series z-normalised with --znorm).
    bx_train, bx_test = train.x, test.x
    if config.znorm:
        bx_train, bx_test = znormalize(train.x, train.lengths), znormalize(test.x, test.lengths)
    start = time.perf_counter()
    majority = float(np.mean(majority_class(train.y, len(test.y)) == test.y))
    euclid = float(np.mean(nn1_euclidean(bx_train, train.lengths, train.y, bx_test,
                                         test.lengths) == test.y))
    cost = dtw_cost(len(train.y), len(test.y), train.x.shape[1], test.x.shape[1])
    equal = bool(np.all(train.lengths == train.x.shape[1]) and
                 np.all(test.lengths == train.x.shape[1]))
    budget = DTW_BUDGET_COMPILED if equal and compiled_dtw_available() else DTW_BUDGET
    dtw: float | None = None
    dtw_text = "not computed (--dtw no)"
    if config.dtw == "yes" or (config.dtw == "auto" and cost <= budget):
        try:
            dtw = float(np.mean(nn1_dtw(bx_train, train.lengths, train.y, bx_test,
                                        test.lengths, deadline=share(DTW_TIME_SHARE))
                                == test.y))
            dtw_text = f"{dtw:.4f}"
        except TimeoutError:
            dtw_text = (f"stopped at {DTW_TIME_SHARE:.0%} of --time-limit "
                        f"({cost:.1e} cell updates)")
    elif config.dtw == "auto":
        dtw_text = f"skipped ({cost:.1e} cell updates would take long; --dtw yes forces it)"
    dtw_seconds = time.perf_counter() - start
    rocket: float | None = None
    rocket_text = "not computed (--rocket no)"
    rocket_seconds = 0.0
    if config.rocket == "auto":
        rocket_text = rocket_unavailable() or ""
        if not rocket_text:
            timeout = None if limit is None else ROCKET_TIME_SHARE * limit
            clock = time.perf_counter()
            predicted_rocket = _run_minirocket(train, test, bx_train, bx_test, config.seed,
                                               timeout)
            rocket_seconds = time.perf_counter() - clock
            if predicted_rocket is None:
                rocket_text = f"stopped at {ROCKET_TIME_SHARE:.0%} of --time-limit"
            else:
                rocket = float(np.mean(predicted_rocket == test.y))
                rocket_text = f"{rocket:.4f}"
    baseline_seconds = time.perf_counter() - start
    print(f"baselines: majority class {majority:.4f}, 1-NN Euclidean {euclid:.4f}, 1-NN DTW "
          f"{dtw_text}  [{dtw_seconds:.0f}s]; MiniRocket {rocket_text}"
          f"{f'  [{rocket_seconds:.0f}s]' if rocket is not None else ''}", flush=True)

    clf = SequenceClassifier(
        cell=config.cell, hidden_size=config.hidden_size, num_layers=config.layers,
        bidirectional=config.bidirectional, pooling=config.pooling,
        normalize="series" if config.znorm else "global", max_steps=config.max_steps,
        downsample=config.downsample,
        derivative="auto" if config.derivative == "auto" else config.derivative == "yes",
        epochs=config.epochs, batch_size=config.batch_size, lr=lr,
        clip_norm=config.clip_norm,
        patience=config.patience, validation_fraction=config.validation_fraction,
        dropout=config.dropout, class_weight=None if config.class_weight == "none" else "balanced",
        n_models=config.ensemble, refit=config.refit, optimizer=config.optimizer, seed=config.seed,
        neighbors=config.neighbors, neighbor_distances=config.neighbor_distances,
        dtw_window=config.dtw_window,
        rocket="auto" if config.rocket_member == "auto" else config.rocket_member == "yes",
        blend=config.blend, dtype=np.dtype(config.dtype),
        time_limit=None if limit is None else max(
            limit * (1.0 - FINAL_TIME_SHARE) - (time.perf_counter() - began),
            0.05 * limit),
        verbose_time_limit=True, callbacks=[MemberLine(config.ensemble), *callbacks])
    members = f"an ensemble of {config.ensemble} x " if config.ensemble > 1 else ""
    modes = config.pooling.split(",")
    used = ",".join(dict.fromkeys(modes[k % len(modes)] for k in range(config.ensemble)))
    print(f"model: {members}{'bidirectional ' if config.bidirectional else ''}"
          f"{config.cell.upper()} "
          f"{config.hidden_size} units x {config.layers} layer(s), {used} pooling over "
          f"valid steps, dropout {config.dropout:g}; {config.optimizer} lr {lr:g}, batch "
          f"{config.batch_size}, up to {config.epochs} epochs, early stopping on validation "
          f"accuracy (patience {config.patience})", flush=True)
    if config.blend == "fixed" and config.neighbors > 0:
        print(f"blended with nearest-neighbour evidence ({config.neighbor_distances} distances "
              f"to the training series, weight {config.neighbors:g})", flush=True)
    elif config.blend == "auto":
        near = f"nearest-neighbour evidence ({config.neighbor_distances} distances to the " \
               "training series)" if config.neighbors > 0 else ""
        rocket_member = "" if config.rocket_member == "no" else "a MiniRocket member"
        others = " and ".join(p for p in (near, rocket_member) if p)
        if others:
            print(f"blended with {others}; weights chosen on held-out training series",
                  flush=True)
    start = time.perf_counter()
    try:
        clf.fit(train.x, train.y, train.lengths, num_classes=len(classes),
                query_count=len(test.y))
    except (ValueError, ImportError) as exc:
        raise TaskError(str(exc)) from exc
    train_seconds = time.perf_counter() - start
    if clf.interrupted:
        print(f"interrupted: keeping the best weights so far ({len(clf.models)} of "
              f"{config.ensemble} member(s))", flush=True)
    if len(clf.models) < config.ensemble and not clf.interrupted:
        print(f"time limit: {len(clf.models)} of {config.ensemble} ensemble members trained",
              flush=True)
    npp = clf.neighbor_prep
    if npp:
        loo = ", ".join(f"{k} {v:.4f}" for k, v in npp["loo_accuracy"].items())
        why = npp.get("why_dropped", {})
        dropped = "; dropped: " + ", ".join(f"{k} ({why.get(k, 'too costly or too short')})"
                                            for k in npp["dropped"]) if npp["dropped"] else ""
        bands = npp.get("dtw_bands", {})
        chosen = "; warping bands chosen by leave-one-out (steps): " + ", ".join(
            f"{k} {b}" for k, b in bands.items()) if bands else ""
        shares = npp.get("weights", {})
        mix = "; distance shares " + ", ".join(f"{k} {v:.2f}" for k, v in shares.items()) \
            if len(shares) > 1 else ""
        print(f"nearest-neighbour evidence, leave-one-out accuracy on the training file: "
              f"{loo}{dropped}{chosen}{mix}", flush=True)
    if clf.rocket is not None:
        print(f"MiniRocket member: leave-one-out accuracy on the training file "
              f"{clf.rocket.loo_accuracy:.4f} (ridge alpha {clf.rocket.alpha:.3g})", flush=True)
    elif config.blend == "auto" and config.rocket_member != "no":
        print(f"MiniRocket member: {clf.rocket_status}", flush=True)
    weights = ", ".join(f"{k} {v:.2f}" for k, v in clf.blend_weights.items())
    if clf.blend_scores:
        held = ", ".join(f"{k} {clf.blend_scores[k + '_accuracy']:.3f}"
                         for k in clf.blend_weights)
        print(f"blend: {weights} (least log loss on {int(clf.blend_scores['rows'])} held-out "
              f"training series{_tied(clf.blend_scores)}, "
              f"{clf.blend_scores.get('shrink', 0.5):.2f} of the way to equal "
              f"shares; their accuracy: {held}, blend "
              f"{clf.blend_scores['blend_accuracy']:.3f})", flush=True)
    elif len(clf.blend_weights) > 1:
        print(f"blend: {weights} (fixed)", flush=True)
    # The test file is used from here on only: the model is final.
    evaluation: dict[str, Any] | None = None
    written: list[str] = []

    def report_of(evaluation: dict[str, Any] | None, stopped: bool = False
                  ) -> dict[str, Any]:
        """report.json: the test figures are None when Ctrl-C stopped their evaluation
        (``stopped``: Ctrl-C after training)."""
        test_part: dict[str, Any] = dict.fromkeys(
            ("test_accuracy", "test_f1_macro", "beats_nn1_euclidean", "verdict",
             "part_accuracy", "confusion_matrix", "per_class"))
        if evaluation is not None:
            test_part = {k: evaluation[k] for k in test_part}
        return {
            "task": "classify", "data_set": name, "train_file": str(config.train),
            "test_file": str(config.test), "classes": classes,
            "test_accuracy": test_part["test_accuracy"],
            "test_f1_macro": test_part["test_f1_macro"],
            "majority_accuracy": majority, "nn1_euclidean_accuracy": euclid,
            "nn1_dtw_accuracy": dtw, "minirocket_accuracy": rocket,
            "minirocket_status": rocket_text if rocket is None else "computed",
            "minirocket_seconds": rocket_seconds if rocket is not None else None,
            "beats_nn1_euclidean": test_part["beats_nn1_euclidean"],
            "strongest_baseline": {"name": strongest[0], "accuracy": strongest[1]},
            "verdict": test_part["verdict"],
            "part_accuracy": test_part["part_accuracy"],
            "blend": {"method": config.blend, "weights": clf.blend_weights,
                      "held_out": clf.blend_scores},
            "rocket_member": {"status": clf.rocket_status, **(
                {} if clf.rocket is None else clf.rocket.settings())},
            "neighbors": {
                "weight": clf.blend_weights.get("neighbors", 0.0),
                "distances": npp.get("distances", []), "dropped": npp.get("dropped", []),
                "temperature": npp.get("temperature", {}),
                "train_loo_accuracy": npp.get("loo_accuracy", {}),
                "distance_weights": npp.get("weights", {}),
                "dtw_bands": npp.get("dtw_bands", {}),
                "band_loo_accuracy": npp.get("band_loo_accuracy", {})},
            "best_epoch": clf.stopper.best_epoch + 1, "epochs_run": len(clf.history),
            "train_seconds": train_seconds, "baseline_seconds": baseline_seconds,
            "n_train": len(train.lengths), "n_test": len(test.lengths),
            "dimensions": int(train.x.shape[2]),
            "confusion_matrix": test_part["confusion_matrix"],
            "per_class": test_part["per_class"],
            "classifier": {**clf.config, "dtype": config.dtype,
                           "class_weight": config.class_weight, "missing": config.missing,
                           "znorm": config.znorm},
            "status": "interrupted" if clf.interrupted or stopped else "finished",
            **({"interrupted_during": "the test evaluation" if evaluation is None else
                "the saving of the files"} if stopped else {}),
            "ensemble": config.ensemble, "members_trained": len(clf.models),
            "config": run,
            "members": [{"best_epoch": st.best_epoch + 1, "epochs_run": len(sv.history)}
                        for sv, st in zip(clf.solvers, clf.stoppers, strict=True)],
            **_time_limit_info(clf, config),
        }

    strongest = _strongest(euclid, dtw, rocket)
    try:
        evaluation = _evaluate(clf, test, classes, (majority, euclid, dtw, rocket),
                               train_seconds)
        cm = evaluation["cm"]
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "per_class.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["class", "precision", "recall", "f1", "support"])
            for cname in classes:
                figures = evaluation["per_class"][cname]
                writer.writerow([cname, figures["precision"], figures["recall"],
                                 figures["f1"], figures["support"]])
        with open(folder / "confusion.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["true \\ predicted", *classes])
            for k, cname in enumerate(classes):
                writer.writerow([cname, *cm[k].tolist()])
        written += ["per_class.csv", "confusion.csv"]
        clf.save(folder / "model.npz", classes=classes, train_file=str(config.train),
                 label_column=config.label_column)
        write_history(folder, clf.history)
        report = report_of(evaluation)
        write_json(folder / "report.json", report)
        written = ["model.npz", "report.json", *written, "history.csv"]
        if not config.no_plot:
            if _plot_confusion(cm, classes, folder / "confusion.png",
                               f"{name}: test accuracy {evaluation['test_accuracy']:.3f}"):
                written.append("confusion.png")
            plot_run(folder, clf.history, None, f"classify {name}")
    except KeyboardInterrupt:
        # The first Ctrl-C / SIGTERM after training (the CLI's signal policy ignores later
        # ones, so this saving is not cut short): the trained model is complete, keep it.
        folder.mkdir(parents=True, exist_ok=True)
        clf.save(folder / "model.npz", classes=classes, train_file=str(config.train),
                 label_column=config.label_column)
        write_history(folder, clf.history)
        write_json(folder / "report.json", report_of(evaluation, stopped=True))
        kept = ["model.npz", "report.json", "history.csv",
                *(w for w in written if w.endswith(".csv") and w != "history.csv")]
        members = f"{len(clf.models)} of {config.ensemble} member(s)"
        model = "the model" if clf.interrupted else "the final model"
        what = (f"{model}, {members}; the test evaluation was interrupted: report.json has "
                f"no test figures") if evaluation is None else \
            f"{model}, {members}, and its test figures"
        raise RunInterrupted(f"saved {folder}/: {', '.join(dict.fromkeys(kept))} ({what})"
                             ) from None
    print(f"saved {folder}/: {', '.join(written)}", flush=True)
    if clf.interrupted:
        raise RunInterrupted(f"saved {folder}/: {', '.join(written)} ({len(clf.models)} of "
                             f"{config.ensemble} member(s), the best weights of each)")
    return report, clf.history


def _evaluate(clf: SequenceClassifier, test: LabelledSequences, classes: list[str],
              baselines: tuple[float, float, float | None, float | None],
              train_seconds: float) -> dict[str, Any]:
    """The final model on the test file, printed: its accuracy, its parts' accuracies, the
    verdict against the baselines (majority, 1-NN Euclidean, DTW, MiniRocket) and the
    per-class figures; returned as report.json's test entries (and ``cm``)."""
    assert test.y is not None
    majority, euclid, dtw, rocket = baselines
    npp = clf.neighbor_prep
    parts = clf.proba_parts(test.x, test.lengths)
    proba = clf.predict_proba(test.x, test.lengths)
    predicted = np.argmax(proba, axis=1)
    acc = float(np.mean(predicted == test.y))
    part_acc = {k: float(np.mean(np.argmax(v, axis=1) == test.y)) for k, v in parts.items()}
    distances = {k: v for k, v in parts.items() if k in DISTANCES}
    if len(distances) > 1:  # the neighbour evidence as the blend uses it: in its shares
        shares = npp.get("weights") or {k: 1.0 / len(distances) for k in distances}
        mixed = sum(float(shares[k]) * v for k, v in distances.items())
        part_acc["neighbors"] = float(np.mean(np.argmax(mixed, axis=1) == test.y))
    verdict = "beats" if acc > euclid else ("ties" if acc == euclid else "does NOT beat")
    dtw_part = f", 1-NN DTW {dtw:.4f}" if dtw is not None else ""
    rocket_part = f", MiniRocket {rocket:.4f}" if rocket is not None else ""
    print(f"test accuracy {acc:.4f}  (majority class {majority:.4f}, 1-NN Euclidean "
          f"{euclid:.4f}{dtw_part}{rocket_part}): {verdict} 1-NN Euclidean  "
          f"[{train_seconds:.0f}s training]", flush=True)
    if len(parts) > 1:
        print("  its parts alone: " + ", ".join(
            f"{_PART_NAMES.get(k, k + ' neighbours')} {v:.4f}"
            for k, v in part_acc.items()), flush=True)
    strongest = _strongest(euclid, dtw, rocket)
    print(f"verdict: {_verdict(acc, *strongest)}", flush=True)

    cm = confusion_matrix(test.y, predicted, len(classes))
    precision, recall, f1 = precision_recall_f1(cm)
    width = max(len(c) for c in [*classes, "class"])
    print(f"{'class':>{width}}  precision  recall  support")
    for k, cname in enumerate(classes):
        print(f"{cname:>{width}}  {precision[k]:9.3f}  {recall[k]:6.3f}  {cm[k].sum():7d}")
    return {
        "test_accuracy": acc, "test_f1_macro": f1_macro(test.y, predicted, len(classes)),
        "beats_nn1_euclidean": acc > euclid,
        "verdict": f"{verdict} 1-NN Euclidean; {_verdict(acc, *strongest)}",
        "part_accuracy": part_acc, "cm": cm, "confusion_matrix": cm.tolist(),
        "per_class": {c: {"precision": float(precision[k]), "recall": float(recall[k]),
                          "f1": float(f1[k]), "support": int(cm[k].sum())}
                      for k, c in enumerate(classes)},
    }

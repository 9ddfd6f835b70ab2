"""What every task writes into its run folder: report.json with the full configuration,
the history, the model, figures; and the shared steps of a Solver-trained task."""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.tasks.config import TaskConfig
from minirnn.apps.tasks.errors import RunDivergedError, RunInterrupted, TaskError
from minirnn.check.diagnostics import gradient_flow
from minirnn.nn.io import ModelFileError, check_model_arrays, read_file, save_model
from minirnn.nn.model import Sequential
from minirnn.train.callbacks import EarlyStopping, TimeLimit
from minirnn.train.solver import History, Solver, TrainingDivergedError

__all__ = [
    "RUNS", "file_sha256", "finish", "fit", "init_weights", "latest_link", "new_run_folder",
    "newest_run", "plot_run", "run_record", "task_runs", "time_limit_report", "update_latest",
    "write_divergence", "write_history", "write_json",
]

#: The folder (relative to the working folder) that holds a run folder per run by default.
RUNS = Path("minirnn-runs")
_STAMP = r"(\d{8}-\d{6})(?:-(\d+))?"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically enough for a report (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def write_history(folder: Path, history: History) -> None:
    """history.csv and history.json of a run (epochs counted from 1)."""
    keys = sorted(history.history)
    with open(folder / "history.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *keys])
        for i, epoch in enumerate(history.epoch):
            writer.writerow([epoch + 1, *(history.history[k][i] for k in keys)])
    (folder / "history.json").write_text(json.dumps(
        {"epoch": [e + 1 for e in history.epoch], **history.history}, indent=1))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import scipy

    from minirnn.nn.version import __version__

    versions = {"minirnn": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
                "python": platform.python_version(), "platform": platform.platform()}
    for extra in ("tqdm", "matplotlib"):
        with contextlib.suppress(ImportError):
            versions[extra] = __import__(extra).__version__
    return versions


def run_record(options: dict[str, Any], argv: Sequence[str] | None = None,
               started: str | None = None) -> dict[str, Any]:
    """Everything needed to reproduce a run: the command line (when it came from one), every
    option's value (defaults included), the seed, library versions, and each input file with
    its SHA-256."""
    flags = dict(sorted(options.items()))
    files = {}
    for key, value in flags.items():
        if key != "output" and isinstance(value, str) and value and Path(value).is_file():
            path = Path(value)
            files[key] = {"path": str(path.resolve()), "bytes": path.stat().st_size,
                          "sha256": file_sha256(path)}
    args = list(argv or [])
    return {"command": "minirnn " + shlex.join(args) if args else "", "argv": args,
            "options": flags, "seed": flags.get("seed"), "files": files,
            "versions": _versions(), "started": started}


def new_run_folder(task: str, output: str | os.PathLike[str] | None) -> Path:
    """``output`` (created if missing), or a new ``minirnn-runs/<task>-<UTC time>``."""
    if output is not None:
        folder = Path(output)
    else:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
        base = RUNS / f"{task}-{stamp}"
        folder, n = base, 1
        while folder.exists():
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TaskError(f"cannot create the run folder {folder}: {exc.strerror or exc}") \
            from exc
    return folder


def task_runs(task: str, root: str | os.PathLike[str] = RUNS) -> list[Path]:
    """The default run folders of ``task`` under ``root`` (``<task>-<UTC time>[-n]``),
    oldest first (by the time in the name, then n); empty when there are none."""
    pattern = re.compile(re.escape(task) + "-" + _STAMP)
    root = Path(root)
    try:
        entries = list(root.iterdir()) if root.is_dir() else []
    except OSError:
        return []
    found = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_dir() and not entry.is_symlink():
            found.append(((match.group(1), int(match.group(2) or 1)), entry))
    return [entry for _, entry in sorted(found)]


def latest_link(task: str, root: str | os.PathLike[str] = RUNS) -> Path:
    """``<root>/<task>-latest``: a link to the task's newest run folder (or, where links
    cannot be made, a small text file holding the folder's name)."""
    return Path(root) / f"{task}-latest"


def _follow_latest(task: str, root: Path) -> Path | None:
    link = latest_link(task, root)
    try:
        if link.is_symlink() or link.is_dir():
            target = link.resolve()
        elif link.is_file() and link.stat().st_size < 4096:  # the pointer file
            target = root / link.read_text(encoding="utf-8").strip()
        else:
            return None
    except (OSError, UnicodeDecodeError):
        return None
    folder = root / target.name
    return folder if target.parent.resolve() == root.resolve() and \
        (folder / "model.npz").is_file() else None


def newest_run(task: str, root: str | os.PathLike[str] = RUNS) -> Path | None:
    """The run folder a task's name stands for: the one ``<task>-latest`` points to (the run
    that finished last), else the newest ``<task>-<UTC time>`` holding a model.npz; None
    when there is none. The path is under ``root`` as given (relative if it is)."""
    root = Path(root)
    linked = _follow_latest(task, root)
    if linked is not None:
        return linked
    with_model = [f for f in task_runs(task, root) if (f / "model.npz").is_file()]
    return with_model[-1] if with_model else None


def update_latest(folder: str | os.PathLike[str], task: str) -> Path | None:
    """Point ``<task>-latest`` next to ``folder`` at it, if ``folder`` is a default run
    folder of ``task`` (``<task>-<UTC time>`` in a folder named minirnn-runs) that holds a
    model.npz; returns the link (or pointer file) written, else None.

    A relative symbolic link where the file system allows it; otherwise a text file holding
    the folder's name. A real folder of that name is left alone.
    """
    folder = Path(folder)
    if folder.parent.name != RUNS.name or not re.fullmatch(re.escape(task) + "-" + _STAMP,
                                                           folder.name) \
            or not (folder / "model.npz").is_file():
        return None
    link = latest_link(task, folder.parent)
    if link.is_dir() and not link.is_symlink():
        return None
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        try:
            tmp.symlink_to(folder.name, target_is_directory=True)
        except (OSError, NotImplementedError):  # no links here (some Windows set-ups)
            tmp.write_text(folder.name + "\n", encoding="utf-8")
        tmp.replace(link)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None  # a convenience: the run itself is saved
    return link


def plot_run(folder: Path, history: History, grad_flow: np.ndarray | None, title: str,
             loss_label: str = "loss") -> None:
    """loss.png (and grad_flow.png) of a run; a note instead without matplotlib."""
    try:
        from minirnn.train.plots import plot_grad_flow, plot_history
    except ImportError:
        print("matplotlib is not installed: skipping the figures "
              "(pip install 'minirnn[plot]')", flush=True)
        return
    plot_history({title: history}, folder / "loss.png", ylabel=loss_label,
                 title=f"{title}: training and validation loss")
    written = ["loss.png"]
    if grad_flow is not None:
        plot_grad_flow({title: grad_flow}, folder / "grad_flow.png")
        written.append("grad_flow.png")
    print(f"figures: {', '.join(str(folder / w) for w in written)}", flush=True)


def header_layers(path: str) -> str:
    """A short description of the layers saved in a model file ('' if unreadable)."""
    try:
        header, _ = read_file(path, "model")
        layers = header["model"]["config"]["layers"]
        return ", ".join(
            f"{spec['class']}(" + ", ".join(f"{k}={spec['config'][k]}" for k in
                                            ("input_size", "hidden_size", "num_layers",
                                             "in_features", "out_features")
                                            if k in spec["config"]) + ")"
            for spec in layers)
    except (ModelFileError, KeyError, TypeError):
        return ""


def init_weights(model: Sequential, path: str) -> None:
    """Load the weights of a saved model into ``model`` (``init_from``), checked first."""
    if not Path(path).is_file():
        raise TaskError(f"--init-from {path}: no such file")
    try:
        _, arrays = read_file(path, "model")
        state = check_model_arrays(model, arrays, path)
    except ModelFileError as exc:
        saved = header_layers(path)
        raise TaskError(f"--init-from {exc}" + (f"; the file holds {saved}: pass the same "
                                                "--cell, --hidden-size, --layers and task "
                                                "options as when it was trained"
                                                if saved else "")) from exc
    model.load_state_dict(state)


def time_limit_report(solver: Solver) -> dict[str, Any]:
    """How far a run got under a time limit (empty without one), for report.json."""
    for cb in solver.callbacks:
        if isinstance(cb, TimeLimit):
            return {"time_limit": {"seconds": cb.seconds, "reached": cb.stopped,
                                   "epochs_done": cb.epochs_done, "elapsed": cb.elapsed}}
    return {}


def write_divergence(folder: Path, error: TrainingDivergedError,
                     record: dict[str, Any]) -> str:
    """Write report.json and the history of a diverged run; returns what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    write_history(folder, error.history)
    write_json(folder / "report.json", {"status": "diverged", "error": str(error),
                                        "epochs_run": len(error.history), "config": record})
    return f"{folder / 'report.json'}, history.csv, history.json"


def fit(solver: Solver, x: np.ndarray, y: np.ndarray, val: tuple[np.ndarray, np.ndarray],
        folder: Path, record: dict[str, Any]) -> History:
    """``solver.fit`` with validation data, continuing from the checkpoint in the run folder
    if there is one. A diverged run writes its report and history, then raises
    :class:`RunDivergedError`."""
    try:
        return solver.fit(x, y, validation_data=val,
                          resume=solver.checkpoint_path is not None
                          and Path(solver.checkpoint_path).is_file())
    except TrainingDivergedError as exc:
        raise RunDivergedError(exc, write_divergence(folder, exc, record)) from exc
    except ModelFileError as exc:
        raise TaskError(f"cannot resume: {exc}") from exc


def finish(config: TaskConfig, folder: Path, record: dict[str, Any], solver: Solver,
           stopper: EarlyStopping, report: dict[str, Any], x_probe: np.ndarray,
           y_probe: np.ndarray, title: str, metadata: dict[str, Any],
           loss_label: str | None = None) -> dict[str, Any]:
    """Save the model, history, report.json (results + full configuration) and figures;
    returns the report written.

    ``loss_label`` names the loss axis of the figure with its units (default: the loss
    class's name). Ctrl-C during training raises :class:`RunInterrupted` after saving.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if solver.interrupted:
        print("interrupted: keeping the best weights so far", flush=True)
    if stopper.best_epoch >= 0:
        print(f"best validation epoch {stopper.best_epoch + 1} ({stopper.best:.5f}); "
              "testing those weights", flush=True)
    save_model(folder / "model.npz", solver.model, metadata=metadata)
    write_history(folder, solver.history)
    flow = None
    if getattr(config, "grad_flow", False):
        flow = gradient_flow(solver.model, x_probe, y_probe, solver.loss)
        np.savetxt(folder / "grad_flow.csv", flow, header="norm of dL/dh_t, t = 0..T-1")
        ends = f"t=1: {flow[0]:.3g}, t={len(flow)}: {flow[-1]:.3g}"
        print(f"gradient flow (mean ||dL/dh_t||): {ends}; saved grad_flow.csv", flush=True)
    full = {**report, **time_limit_report(solver),
            "status": "interrupted" if solver.interrupted else "finished",
            "epochs_run": solver.epoch, "config": record}
    write_json(folder / "report.json", full)
    if not getattr(config, "no_plot", False):
        plot_run(folder, solver.history, flow, title,
                 loss_label or f"{type(solver.loss).__name__} loss")
    saved = f"{folder / 'model.npz'}, history.csv, history.json, report.json"
    print(f"saved {saved}", flush=True)
    if solver.interrupted:
        raise RunInterrupted(f"saved {saved} (model: the best epoch's weights)")
    return full

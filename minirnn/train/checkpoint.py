"""Training checkpoints: a :class:`~minirnn.Solver`'s state dict written as a model file.

A checkpoint is a model file (see :mod:`minirnn.nn.io`) of kind ``"checkpoint"``. Its header holds
the JSON part of :meth:`Solver.state_dict <minirnn.Solver.state_dict>` (epoch, history,
optimizer hyperparameters and step count, the states of every random generator, callback
states); its arrays hold the weights (``model/<name>``), the optimizer moments
(``optimizer/<i>/<key>``), callback arrays (``callbacks/<i>/...``), the best epoch's weights
(``best/...``) and array parts of generator states (``generators/...``). This module only
serializes: what a state means and whether it fits is the Solver's business
(:meth:`Solver.load_state_dict <minirnn.Solver.load_state_dict>` checks everything before it
changes anything).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from minirnn.nn.io import ModelFileError, check_model_arrays, read_file, write_file

if TYPE_CHECKING:
    from minirnn.nn.layers.base import Layer
    from minirnn.train.solver import Solver

__all__ = ["load_checkpoint", "save_checkpoint", "write_checkpoint"]


def _split(value: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON part of ``value``; its ndarrays go to ``arrays`` under ``key``-based names."""
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"__ndarray__": key}
    if isinstance(value, dict):
        return {str(k): _split(v, f"{key}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(v, f"{key}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _join(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            key = value["__ndarray__"]
            if not isinstance(key, str) or key not in arrays:
                raise ModelFileError(f"checkpoint refers to a missing array {key!r}")
            return arrays[key]
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def write_checkpoint(path: str | os.PathLike[str], state: dict[str, Any], model: Layer) -> None:
    """Write a :meth:`Solver.state_dict` ``state`` of ``model``'s training to ``path``."""
    from minirnn.nn.version import __version__

    arrays: dict[str, np.ndarray] = {}
    solver_json = {k: _split(v, k, arrays) for k, v in state.items()
                   if k not in ("model", "optimizer", "best")}
    # Array names of format 1: optimizer/<i>/<key> and best/<parameter>.
    opt = state["optimizer"]
    solver_json["optimizer"] = {**{k: _split(v, k, {}) for k, v in opt.items() if k != "state"},
                                "state": _split(opt["state"], "optimizer", arrays)}
    best = state["best"]
    solver_json["best"] = None if best is None else {
        "value": float(best["value"]), "weights": _split(best["weights"], "best", arrays)}
    arrays.update({f"model/{k}": v for k, v in state["model"].items()})
    for name, value in state["model"].items():
        if not np.isfinite(value).all():
            raise ValueError(f"parameter {name!r} contains NaN or Inf: such a checkpoint could "
                             "not be loaded, so it is not written")
    try:
        model_spec: Any = {"class": type(model).__name__, "config": model.get_config()}
    except NotImplementedError:
        model_spec = None  # a custom layer: checked by parameter names and shapes only
    header = {"kind": "checkpoint", "minirnn_version": __version__, "model": model_spec,
              "solver": solver_json}
    write_file(path, header, arrays)


def save_checkpoint(path: str | os.PathLike[str], solver: Solver) -> None:
    """Write ``solver``'s current training state to ``path`` atomically."""
    write_checkpoint(path, solver.state_dict(), solver.model)


def load_checkpoint(path: str | os.PathLike[str], solver: Solver) -> None:
    """Restore ``solver`` (model, optimizer, generators, epoch, history, callbacks) from ``path``.

    Everything is checked first; on any problem :class:`~minirnn.nn.io.ModelFileError` is raised
    and the model, optimizer, callbacks and solver are exactly as before.
    """
    header, arrays = read_file(path, "checkpoint")
    where = str(path)
    check_model_arrays(solver.model, arrays, where)
    try:
        info = header["solver"]
        if not isinstance(info, dict):
            raise TypeError(f"'solver' must be an object, got {type(info).__name__}")
        state = {k: _join(v, arrays) for k, v in info.items()}
        state["model"] = {k[len("model/"):]: v for k, v in arrays.items()
                          if k.startswith("model/")}
        solver.load_state_dict(state)
    except ModelFileError as exc:
        raise ModelFileError(f"{where}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError,
            IndexError) as exc:
        raise ModelFileError(f"{where}: checkpoint does not fit this solver "
                             f"({type(exc).__name__}: {exc})") from exc


"""Training checkpoints: everything a :class:`~minirnn.Solver` needs to resume exactly.

A checkpoint is a model file (see :mod:`minirnn.io`) of kind ``"checkpoint"`` whose header
also holds the solver's epoch, history, optimizer hyperparameters and step count, the
states of every random generator (shuffling, dropout masks) and the callbacks' states;
optimizer moments and callback arrays (e.g. early stopping's best weights) are arrays of
the file. Resuming from it and training to the end gives bit-for-bit the weights of an
uninterrupted run.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from minirnn.io import ModelFileError, check_model_arrays, model_arrays, read_file, write_file

if TYPE_CHECKING:
    from minirnn.solver import Solver

__all__ = ["load_checkpoint", "save_checkpoint"]


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
            if key not in arrays:
                raise ModelFileError(f"checkpoint refers to a missing array {key!r}")
            return arrays[key]
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def _stateful_callbacks(solver: Solver) -> list[Any]:
    """Callbacks that keep state (override ``state_dict``); printers and lambdas do not."""
    from minirnn.callbacks import Callback

    return [cb for cb in solver.callbacks if type(cb).state_dict is not Callback.state_dict]


def _generators(solver: Solver) -> dict[str, np.random.Generator]:
    """Every random generator that training draws from, by a stable name."""
    gens = {"solver": solver.rng}
    layers = [("model", solver.model)] + [(f"model.{n}", la)
                                          for n, la in solver.model.named_layers()]
    for name, layer in layers:
        rng = getattr(layer, "_rng", None)
        if isinstance(rng, np.random.Generator):
            gens[name] = rng
    return gens


def save_checkpoint(path: str | os.PathLike[str], solver: Solver) -> None:
    """Write ``solver``'s full training state to ``path`` atomically."""
    from minirnn import __version__

    arrays = model_arrays(solver.model)
    opt = solver.optimizer.state_dict()
    opt_json = _split(opt["state"], "optimizer", arrays)
    callbacks = [{"class": type(cb).__name__,
                  "state": _split(cb.state_dict(), f"callbacks/{i}", arrays)}
                 for i, cb in enumerate(_stateful_callbacks(solver))]
    best = None
    if solver._best is not None:
        best = {"value": solver._best[0], "weights": _split(solver._best[1], "best", arrays)}
    try:
        model_spec: Any = {"class": type(solver.model).__name__,
                           "config": solver.model.get_config()}
    except NotImplementedError:
        model_spec = None  # a custom layer: checked by parameter names and shapes only
    header = {
        "kind": "checkpoint", "minirnn_version": __version__, "model": model_spec,
        "solver": {
            "epoch": solver.epoch, "history": solver.history.state_dict(),
            "stop_training": solver.stop_training,
            "optimizer": {"class": opt["class"], "hyperparameters": opt["hyperparameters"],
                          "step_count": opt["step_count"], "state": opt_json},
            "generators": {k: g.bit_generator.state for k, g in _generators(solver).items()},
            "callbacks": callbacks, "best": best,
        },
    }
    write_file(path, header, arrays)


def load_checkpoint(path: str | os.PathLike[str], solver: Solver) -> None:
    """Restore ``solver`` (model, optimizer, generators, epoch, history, callbacks) from ``path``.

    Everything is checked first; on any mismatch :class:`~minirnn.io.ModelFileError` is raised
    and neither the model nor the solver is changed.
    """
    header, arrays = read_file(path, "checkpoint")
    where = str(path)
    try:
        state = check_model_arrays(solver.model, arrays, where)
        info = header["solver"]
        opt_header = info["optimizer"]
        opt_state = {"class": opt_header["class"],
                     "hyperparameters": opt_header["hyperparameters"],
                     "step_count": opt_header["step_count"],
                     "state": _join(opt_header["state"], arrays)}
        gens = _generators(solver)
        saved_gens = info["generators"]
        if set(saved_gens) != set(gens):
            raise ModelFileError(f"{where}: random generators {sorted(saved_gens)} do not match "
                                 f"this model's {sorted(gens)}")
        saved_cbs = info["callbacks"]
        current_cbs = _stateful_callbacks(solver)
        if [c["class"] for c in saved_cbs] != [type(cb).__name__ for cb in current_cbs]:
            raise ModelFileError(
                f"{where}: callbacks with state {[c['class'] for c in saved_cbs]} do not match "
                f"the solver's {[type(cb).__name__ for cb in current_cbs]}")
        cb_states = [_join(c["state"], arrays) for c in saved_cbs]
        best = info.get("best")
        # Validate the optimizer state on a scratch copy before touching anything.
        copy.copy(solver.optimizer).load_state_dict(opt_state)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: checkpoint does not fit this solver ({exc})") from exc
    # Everything checked: now write.
    solver.model.load_state_dict(state)
    solver.optimizer.load_state_dict(opt_state)
    for name, gen in gens.items():
        gen.bit_generator.state = saved_gens[name]
    for cb, cb_state in zip(current_cbs, cb_states, strict=True):
        cb.load_state_dict(cb_state)
    solver.epoch = int(info["epoch"])
    solver.history.load_state_dict(info["history"])
    solver.stop_training = bool(info.get("stop_training", False))
    if best is not None:
        solver._best = (float(best["value"]), _join(best["weights"], arrays))

"""What a :class:`~minirnn.Solver` saves and restores: its state dict, checked before use.

:meth:`Solver.state_dict <minirnn.Solver.state_dict>` and
:meth:`Solver.load_state_dict <minirnn.Solver.load_state_dict>` call these; checkpoints
(:mod:`minirnn.train.checkpoint`) only serialize the result.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from minirnn.nn._validation import check_bool, check_int, check_weights, is_real_number
from minirnn.train.callbacks import Callback
from minirnn.train.history import History

if TYPE_CHECKING:
    from minirnn.train.solver import Solver

__all__ = ["load_solver_state", "solver_state", "stateful_callbacks"]


def _checked_history(state: Any) -> History:
    """A :class:`History` from its state dict, checked (epoch ints, float lists)."""
    if not isinstance(state, dict) or set(state) != {"epoch", "history"} or not isinstance(
            state["epoch"], list) or not isinstance(state["history"], dict):
        raise ValueError(f"history must be {{'epoch': [...], 'history': {{...}}}}, "
                         f"got {state!r:.100}")
    for e in state["epoch"]:
        check_int(e, "history epoch", minimum=0)
    for key, values in state["history"].items():
        if not isinstance(key, str) or not isinstance(values, list) or not all(
                is_real_number(v) for v in values):
            raise ValueError(f"history entry {key!r} must be a list of numbers")
    history = History()
    history.load_state_dict(state)
    return history


def stateful_callbacks(solver: Solver) -> list[Callback]:
    """Callbacks that keep state (override ``state_dict``); printers and lambdas do not."""
    return [cb for cb in solver.callbacks if type(cb).state_dict is not Callback.state_dict]


def solver_state(solver: Solver) -> dict[str, Any]:
    """See :meth:`Solver.state_dict <minirnn.Solver.state_dict>`."""
    gens = {"solver": solver.rng, **solver.model.named_generators()}
    return {
        "model": solver.model.state_dict(),
        "optimizer": solver.optimizer.state_dict(),
        "epoch": solver.epoch,
        "stop_training": bool(solver.stop_training),
        "history": solver.history.state_dict(),
        "generators": {k: copy.deepcopy(g.bit_generator.state) for k, g in gens.items()},
        "callbacks": [{"class": type(cb).__name__, "state": copy.deepcopy(cb.state_dict())}
                      for cb in stateful_callbacks(solver)],
        "best": None if solver.best is None else {"value": solver.best[0],
                                                "weights": solver.best[1]},
    }


def load_solver_state(solver: Solver, state: dict[str, Any]) -> None:
    """See :meth:`Solver.load_state_dict <minirnn.Solver.load_state_dict>`."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    expected = {"model", "optimizer", "epoch", "stop_training", "history", "generators",
                "callbacks", "best"}
    if set(state) != expected:
        raise ValueError(f"solver state keys {sorted(state)} are not {sorted(expected)}")
    weights = check_weights(solver.model, state["model"], "model weights")
    epoch = check_int(state["epoch"], "epoch", minimum=0)
    check_bool(state["stop_training"], "stop_training")
    history = _checked_history(state["history"])
    if len(history) != epoch or history.epoch != list(range(epoch)) or any(
            len(v) != epoch for v in history.history.values()):
        raise ValueError(f"history does not hold exactly the {epoch} completed epochs")
    scratch_opt = copy.copy(solver.optimizer)
    scratch_opt.load_state_dict(state["optimizer"])
    gens = {"solver": solver.rng, **solver.model.named_generators()}
    saved_gens = state["generators"]
    if not isinstance(saved_gens, dict) or set(saved_gens) != set(gens):
        raise ValueError(f"random generators {sorted(saved_gens)} do not match this "
                         f"model's {sorted(gens)}")
    for name, gen in gens.items():
        kind = type(gen.bit_generator).__name__
        saved = saved_gens[name]
        if not isinstance(saved, dict) or saved.get("bit_generator") != kind:
            raise ValueError(f"generator {name!r} is a {kind}; the saved state is not "
                             f"one: {saved!r:.100}")
        type(gen.bit_generator)().state = saved  # validates it on a scratch generator
    current_cbs = stateful_callbacks(solver)
    saved_cbs = state["callbacks"]
    if not isinstance(saved_cbs, list) or [c.get("class") if isinstance(c, dict) else c
                                           for c in saved_cbs] != [type(cb).__name__ for cb
                                                                   in current_cbs]:
        raise ValueError(f"callbacks with state {saved_cbs!r:.200} do not match the "
                         f"solver's {[type(cb).__name__ for cb in current_cbs]}")
    for cb, saved in zip(current_cbs, saved_cbs, strict=True):
        copy.copy(cb).load_state_dict(saved["state"])  # validates on a scratch copy
    best = state["best"]
    if best is not None:
        if not isinstance(best, dict) or set(best) != {"value", "weights"}:
            raise ValueError(f"best must be None or {{'value', 'weights'}}, got {best!r:.80}")
        best_value = float(best["value"])
        best_weights = check_weights(solver.model, best["weights"], "best weights")
    # Everything checked: now write.
    solver.model.load_state_dict(weights)
    solver.optimizer.load_state_dict(state["optimizer"])
    for name, gen in gens.items():
        gen.bit_generator.state = saved_gens[name]
    for cb, saved in zip(current_cbs, saved_cbs, strict=True):
        cb.load_state_dict(saved["state"])
    solver.epoch = epoch
    solver.history = history
    solver.stop_training = bool(state["stop_training"])
    solver.restore_best(None if best is None else (best_value, best_weights))

"""Search spaces: per-task defaults, overridable by a small TOML or JSON file.

A space maps a field of the task's configuration (:mod:`minirnn.apps.tasks`; the options
of ``minirnn train TASK`` by their names: ``lr``, ``hidden_size``...) to what a trial may
choose:

- a range ``{low = 1e-4, high = 1e-2, log = true}`` (integers when both bounds are integers;
  optional ``step``),
- a list of choices ``["lstm", "gru"]``,
- a single value, which pins the option.

A file's entries replace the defaults of the same names; ``defaults = false`` at its top
level starts from an empty space instead. Values fixed for the sweep (options given on the
command line) are pinned and leave the space.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_SPACES", "Param", "applies", "default_space", "load_space_file",
           "make_space"]

_COMMON: dict[str, Any] = {
    "lr": {"low": 1e-4, "high": 3e-2, "log": True},
    "hidden_size": {"low": 8, "high": 128, "log": True},
    "layers": {"low": 1, "high": 2},
    "cell": ["lstm", "gru", "rnn"],
    "batch_size": [16, 32, 64, 128],
    "dropout": {"low": 0.0, "high": 0.5},
}
# Per task: entries that differ from _COMMON (None removes one).
DEFAULT_SPACES: dict[str, dict[str, Any]] = {
    "adding": {"hidden_size": {"low": 16, "high": 128, "log": True}},
    "binary-addition": {"hidden_size": {"low": 4, "high": 64, "log": True},
                        "lr": {"low": 1e-3, "high": 1e-1, "log": True}},
    "series": {"look_back": {"low": 7, "high": 60, "log": True}},
    "classify": {},
    "text": {"batch_size": [16, 32, 64], "embedding_dim": {"low": 8, "high": 128, "log": True},
             "hidden_size": {"low": 32, "high": 512, "log": True}},
    # Translation needs more units than the common range, and a narrower rate.
    "seq2seq": {"hidden_size": {"low": 64, "high": 256, "log": True},
                "lr": {"low": 5e-4, "high": 5e-3, "log": True}},
}
# Tasks whose --dropout acts only between stacked recurrent layers (PyTorch's ``dropout``).
DROPOUT_BETWEEN_LAYERS = {"text"}
# Fields a sweep must not vary: switches that are not hyper-parameters.
NOT_SWEPT = {"no_plot", "grad_flow", "init_from", "resume"}


@dataclass(frozen=True)
class Param:
    """One dimension of a search space."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    integer: bool = False
    choices: tuple[Any, ...] | None = None
    value: Any = None

    @property
    def fixed(self) -> bool:
        return self.choices is None and self.low is None

    def suggest(self, trial: Any) -> Any:
        """The trial's value (an Optuna ``Trial``); a pinned option returns its value."""
        if self.fixed:
            return self.value
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        assert self.low is not None and self.high is not None
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high),
                                     step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high),
                                   step=self.step, log=self.log)

    def extremes(self) -> list[Any]:
        """Values that between them exercise every bound and choice (for a dry check)."""
        if self.fixed:
            return [self.value]
        if self.choices is not None:
            return list(self.choices)
        if self.integer:
            return [int(self.low), int(self.high)]  # type: ignore[arg-type]
        return [self.low, self.high]

    def describe(self) -> str:
        if self.fixed:
            return f"{self.name} = {self.value!r}"
        if self.choices is not None:
            return f"{self.name} in {list(self.choices)}"
        kind = "int" if self.integer else "float"
        scale = ", log" if self.log else ""
        step = f", step {self.step:g}" if self.step else ""
        return f"{self.name}: {kind} {self.low:g}..{self.high:g}{scale}{step}"

    def as_dict(self) -> Any:
        if self.fixed:
            return self.value
        if self.choices is not None:
            return list(self.choices)
        entry: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            entry["log"] = True
        if self.step:
            entry["step"] = self.step
        return entry


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def parse_param(name: str, spec: Any, where: str) -> Param:
    """One entry of a space (see the module docstring); raises ValueError naming ``where``."""
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"{where}: {name}: the list of choices is empty")
        if any(isinstance(c, (list, dict)) for c in spec):
            raise ValueError(f"{where}: {name}: choices must be numbers, strings or booleans, "
                             f"got {spec!r}")
        return Param(name, choices=tuple(spec))
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "log", "step"}
        if unknown or "low" not in spec or "high" not in spec:
            raise ValueError(f"{where}: {name}: expected a table with low, high and optional "
                             f"log, step; got keys {sorted(spec)}")
        low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
        if not (_number(low) and _number(high)) or not low < high:
            raise ValueError(f"{where}: {name}: expected finite numbers low < high, got "
                             f"low={low!r}, high={high!r}")
        if not isinstance(log, bool):
            raise ValueError(f"{where}: {name}: log must be true or false, got {log!r}")
        if log and low <= 0:
            raise ValueError(f"{where}: {name}: a log range needs low > 0, got {low!r}")
        if step is not None and (not _number(step) or step <= 0 or log):
            raise ValueError(f"{where}: {name}: step must be a positive number (and not "
                             f"combined with log), got {step!r}")
        integer = all(isinstance(v, int) for v in (low, high, step or 1))
        return Param(name, low=low, high=high, log=log, step=step, integer=integer)
    if spec is None or isinstance(spec, (bool, int, float, str)):
        return Param(name, value=spec)
    raise ValueError(f"{where}: {name}: expected a range table, a list of choices or a value, "
                     f"got {spec!r}")


def load_space_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a space file: ``.toml`` (Python 3.11+, or ``tomli`` on 3.10) or ``.json``."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the space file {file}: {exc.strerror or exc}") from exc
    if file.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise ValueError(f"{file}: reading TOML on Python 3.10 needs tomli "
                                 "(pip install tomli), or write the space as JSON") from None
        try:
            loaded = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{file}: not valid TOML: {exc}") from exc
    elif file.suffix.lower() == ".json":
        try:
            loaded = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{file}: not valid JSON: {exc}") from exc
    else:
        raise ValueError(f"{file}: expected a .toml or .json space file")
    if not isinstance(loaded, dict):
        raise ValueError(f"{file}: expected a table of options at the top level, "
                         f"got {type(loaded).__name__}")
    return loaded


def default_space(task: str) -> dict[str, Any]:
    """The default space of a task, as file-format entries."""
    space = dict(_COMMON)
    for name, spec in DEFAULT_SPACES.get(task, {}).items():
        if spec is None:
            space.pop(name, None)
        else:
            space[name] = spec
    return space


def make_space(task: str, available: Mapping[str, Any], file: str | os.PathLike[str] | None,
               pinned: set[str]) -> dict[str, Param]:
    """The space of a sweep.

    Parameters
    ----------
    task : str
    available : mapping
        The task's configuration fields by name
        (:func:`~minirnn.apps.sweeps.runner.task_fields`); default entries the task does not
        have are dropped (no ``look_back`` outside series), names in a file must be among
        them.
    file : path, optional
        A space file (see the module docstring).
    pinned : set of str
        Fields fixed for the sweep: removed from the space.
    """
    space = default_space(task)
    if file is not None:
        entries = load_space_file(file)
        use_defaults = entries.pop("defaults", True)
        if not isinstance(use_defaults, bool):
            raise ValueError(f"{file}: defaults must be true or false, got {use_defaults!r}")
        if not use_defaults:
            space = {}
        for raw, spec in entries.items():
            name = raw.replace("-", "_")
            if name not in available or name in NOT_SWEPT:
                options = sorted(n for n in available if n not in NOT_SWEPT)
                raise ValueError(f"{file}: {raw!r} is not an option of minirnn train {task}; "
                                 f"expected one of {options}")
            space[name] = spec
        where = str(file)
    else:
        where = f"default space of {task}"
    return {name: parse_param(name, spec, where) for name, spec in space.items()
            if name in available and name not in pinned}


def applies(task: str, name: str, chosen: Mapping[str, Any], layers: int) -> bool:
    """Whether a trial should choose ``name`` given what it chose so far.

    Dropout between layers means nothing with one layer: such a trial does not draw it
    (Optuna's conditional, define-by-run parameters). ``layers`` is the fixed value when
    the space does not vary it.
    """
    if name == "dropout" and task in DROPOUT_BETWEEN_LAYERS:
        return int(chosen.get("layers", layers)) > 1
    return True

"""Typed configurations of the built-in tasks, checked when they are made.

A configuration is a frozen dataclass whose fields are the task's options (the names of
``minirnn train TASK --option``, with ``-`` as ``_``) and their defaults. Each field may
carry a rule (``positive``, ``fraction`` ...) and a set of allowed values; a wrong value
raises a ValueError that names the field, what it expects and what it got.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from minirnn.nn.registry import OPTIMIZERS, RECURRENT_LAYERS

__all__ = ["CommonConfig", "TaskConfig", "config_fields", "option"]

#: Rules a field may name: (test, what the value must be).
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "positive": (lambda v: v > 0 and (not isinstance(v, float) or math.isfinite(v)),
                 "greater than zero"),
    "nonnegative": (lambda v: v >= 0 and (not isinstance(v, float) or math.isfinite(v)),
                    "zero or more"),
    "fraction": (lambda v: 0 < v < 1, "between 0 and 1 (exclusive)"),
    "unit": (lambda v: 0 <= v <= 1, "between 0 and 1"),
    "probability": (lambda v: 0 <= v < 1, "in [0, 1)"),
}


def option(default: Any, *, rule: str | None = None, choices: Any = None,
           help: str = "") -> Any:
    """A configuration field: its default, an optional rule and allowed values."""
    if rule is not None and rule not in RULES:
        raise ValueError(f"rule must be one of {sorted(RULES)}, got {rule!r}")
    metadata = {"rule": rule, "choices": None if choices is None else tuple(choices),
                "help": help}
    return dataclasses.field(default=default, metadata=metadata)


def _kinds(hint: Any) -> tuple[tuple[type, ...], bool]:
    """(accepted types, None allowed) of a type hint such as ``int | str | None``."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or \
        typing.get_origin(hint) is typing.Union else (hint,)
    allow_none = type(None) in args
    kinds = tuple(a for a in args if a is not type(None) and isinstance(a, type))
    return kinds, allow_none


def _type_name(kinds: tuple[type, ...], allow_none: bool) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    parts = [names.get(k, k.__name__) for k in kinds] + (["None"] if allow_none else [])
    return " or ".join(parts)


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Base of the task configurations: checks every field after construction.

    Subclasses set ``task`` (the name in the registry) and may add checks that involve
    several fields in :meth:`check`.
    """

    task: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kinds, allow_none = _kinds(hints[f.name])
            if value is None:
                if not allow_none:
                    raise ValueError(f"{f.name} must be {_type_name(kinds, False)}, got None")
                continue
            if isinstance(value, bool) and bool not in kinds:
                raise ValueError(f"{f.name} must be {_type_name(kinds, allow_none)}, "
                                 f"got {value!r}")
            if float in kinds and isinstance(value, int) and not isinstance(value, bool) \
                    and int not in kinds:
                object.__setattr__(self, f.name, float(value))  # 1 for 1.0, as Python does
                value = float(value)
            if not isinstance(value, kinds):
                raise ValueError(f"{f.name} must be {_type_name(kinds, allow_none)}, "
                                 f"got {value!r}")
            choices = f.metadata.get("choices")
            if choices is not None and isinstance(value, str) and value not in choices:
                raise ValueError(f"{f.name} must be one of {list(choices)}, got {value!r}")
            rule = f.metadata.get("rule")
            if rule is not None and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                test, text = RULES[rule]
                if not test(value):
                    raise ValueError(f"{f.name} must be {text}, got {value!r}")
        self.check()

    def check(self) -> None:
        """Checks that involve several fields (raise ValueError); none by default."""

    def replace(self, **changes: Any) -> TaskConfig:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every field by name (plain values, for report.json)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TaskConfig:
        """A configuration from field values; names with ``-`` are read as ``_``; unknown
        names are an error that lists the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        given = {str(k).replace("-", "_"): v for k, v in values.items()}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not an option of task {cls.task!r}; "
                             f"expected one of {sorted(known)}")
        return cls(**given)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default by name."""
        return {f.name: f.default for f in dataclasses.fields(cls)}


@dataclasses.dataclass(frozen=True)
class CommonConfig(TaskConfig):
    """The options every Solver-trained task shares (``minirnn train TASK`` common options).

    ``lr=None`` means the task's default rate (the optimizer's own unless the task measured
    a better one); ``clip_norm=None`` switches clipping off.
    """

    cell: str = option("lstm", choices=sorted(RECURRENT_LAYERS), help="recurrent cell")
    layers: int = option(1, rule="positive", help="stacked layers")
    hidden_size: int = option(64, rule="positive", help="units H")
    bidirectional: bool = option(False, help="also read the sequence backwards")
    epochs: int = option(10, rule="positive", help="maximum epochs")
    batch_size: int = option(32, rule="positive", help="mini-batch size")
    optimizer: str = option("adam", choices=sorted(OPTIMIZERS))
    lr: float | None = option(None, rule="positive", help="learning rate")
    clip_norm: float | None = option(1.0, rule="positive", help="global gradient-norm clip")
    patience: int = option(5, rule="positive", help="early stopping patience (epochs)")
    time_limit: float | None = option(None, rule="positive", help="seconds of training")
    seed: int = option(0, rule="nonnegative", help="seed of data, weights, shuffling")
    dtype: str = option("float32", choices=("float32", "float64"))
    no_plot: bool = option(False, help="do not draw figures")


def config_fields(config_class: type[TaskConfig]) -> dict[str, dataclasses.Field[Any]]:
    """The fields of a configuration class by name (what a sweep may vary)."""
    return {f.name: f for f in dataclasses.fields(config_class)}

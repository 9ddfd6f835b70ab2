"""What both estimators share: scikit-learn's parameter protocol, written without it.

scikit-learn finds an estimator's parameters in the signature of its ``__init__``; the
constructor stores each one unchanged under its own name and does nothing else, every check
and all work happen in ``fit``, and what ``fit`` learns is stored in attributes ending in
``_``. :class:`EstimatorParams` gives ``get_params``/``set_params``, a readable ``repr`` and
``__sklearn_is_fitted__`` on that basis, so ``sklearn.base.clone``, ``GridSearchCV`` and
``Pipeline`` work while minirnn itself never imports scikit-learn.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from minirnn.apps.data.scaling import NotFittedError

__all__ = ["DataConversionWarning", "EstimatorParams", "NotFittedError", "resolve_seed"]


class DataConversionWarning(UserWarning):
    """Input of another shape than expected was converted (a column vector ``y`` of shape
    (N, 1) flattened to (N,)); scikit-learn's warning of the same name and meaning."""


class EstimatorParams:
    """``get_params``/``set_params``/``repr`` from the constructor's signature.

    Subclasses name the attribute whose presence means "fitted" in ``_fitted_attribute``.
    """

    _fitted_attribute = ""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's parameter names, sorted (as scikit-learn lists them)."""
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self"
                      and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters, name -> value (``deep`` is accepted for scikit-learn;
        no parameter is itself an estimator)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> EstimatorParams:
        """Set parameters by name; they are checked by the next ``fit``, not here.

        Raises
        ------
        ValueError
            A name that is not a parameter (nothing is changed then).
        """
        valid = self._get_param_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(f"invalid parameter(s) {unknown} for {type(self).__name__}; "
                             f"valid parameters are {valid}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in
                    inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if _differs(value, defaults.get(name, inspect.Parameter.empty))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._fitted_attribute)

    def _check_fitted(self, method: str) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit "
                                 f"before {method}")


def _differs(value: Any, default: Any) -> bool:
    if value is default:
        return False
    try:
        return bool(value != default)
    except (TypeError, ValueError):  # arrays and other values without one truth value
        return True


def resolve_seed(random_state: Any) -> int:
    """An int seed from scikit-learn's ``random_state``: an int (itself), None (a fresh
    random seed), or a ``numpy.random.Generator``/``RandomState`` (a seed drawn from it)."""
    if isinstance(random_state, (bool, np.bool_)):
        raise ValueError(f"random_state must be an int, None or a numpy random generator, "
                         f"got {random_state!r}")
    if isinstance(random_state, (int, np.integer)):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    if random_state is None:
        return int(np.random.default_rng().integers(2 ** 31))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2 ** 31))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2 ** 31))
    raise ValueError(f"random_state must be an int, None or a numpy random generator, got "
                     f"{random_state!r}")

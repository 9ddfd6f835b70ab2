"""Hypothesis profiles: ``ci`` (default, quick) and ``thorough`` (on demand).

Select with ``HYPOTHESIS_PROFILE=thorough pytest``.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=["tanh", "exp", "mixed"])
def activation_form(request, monkeypatch):
    """Runs a test under each form of tanh/sigmoid (minirnn.nn._math), whatever this CPU
    measured: the form of every dtype fixed for the test. "mixed": the exp form for sigmoid
    and the fused gates, np.tanh for a standalone tanh (what float64 measures on the Zen 5
    machine)."""
    from minirnn.nn import _math

    for dtype in (np.float32, np.float64):
        monkeypatch.setitem(_math._EXP_FASTER, np.dtype(dtype), request.param != "tanh")
        monkeypatch.setitem(_math._EXP_TANH, np.dtype(dtype), request.param == "exp")
    return request.param

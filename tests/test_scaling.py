"""minirnn.apps.data.scaling: the scalers over the whole float range."""

import numpy as np
import pytest

from minirnn.apps.data import MinMaxScaler, StandardScaler


def test_scalers_over_the_whole_float_range():
    x = np.array([-1e308, 0.0, 1e308, 5e307])
    scaled = MinMaxScaler().fit_transform(x)
    np.testing.assert_allclose(scaled, [0.0, 0.5, 1.0, 0.75])
    np.testing.assert_allclose(MinMaxScaler().fit(x).inverse_transform(scaled), x, rtol=1e-12)
    top = np.array([1.7e308, 1.7e308])  # the plain mean overflows to inf
    np.testing.assert_array_equal(StandardScaler().fit_transform(top), [0.0, 0.0])
    big = np.array([3e150, 1e150, 2e150])
    np.testing.assert_allclose(StandardScaler().fit_transform(big),
                               StandardScaler().fit_transform(big / 1e150), rtol=1e-12)
    with pytest.raises(ValueError, match="overflows"):
        StandardScaler().fit(x)

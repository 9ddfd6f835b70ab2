"""minirnn.functional: values against scipy and closed forms, dtypes, extremes, derivatives."""

import warnings

import numpy as np
import pytest
from scipy import special

import minirnn.functional as F  # noqa: N812 (torch.nn.functional's idiom)
from minirnn.check.gradcheck import numerical_gradient
from minirnn.nn import functional, metrics

X64 = np.linspace(-30.0, 30.0, 601)


def test_the_facade_re_exports_the_one_implementation():
    assert F.__all__ == functional.__all__
    for name in F.__all__:
        assert getattr(F, name) is getattr(functional, name)
    # The metrics' softmax is this one, not a second copy.
    assert metrics.softmax is functional.softmax and metrics.log_softmax is functional.log_softmax


def test_values_against_scipy():
    np.testing.assert_allclose(F.sigmoid(X64), special.expit(X64), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(F.tanh(X64), np.tanh(X64), rtol=1e-14, atol=1e-16)
    np.testing.assert_array_equal(F.relu(X64), np.where(X64 > 0, X64, 0.0))
    z = np.random.default_rng(0).normal(0, 5, (4, 3, 7))
    for axis in (-1, 0, 1):
        np.testing.assert_allclose(F.softmax(z, axis), special.softmax(z, axis=axis),
                                   rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(F.log_softmax(z, axis), special.log_softmax(z, axis=axis),
                                   rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(F.softmax(z, axis).sum(axis=axis), 1.0, rtol=1e-14)


def test_closed_forms_at_known_points():
    assert F.sigmoid(np.array(0.0)) == 0.5
    assert F.tanh(np.array([0.0]))[0] == 0.0
    np.testing.assert_allclose(F.sigmoid(np.log([3.0])), [0.75], rtol=1e-15)
    np.testing.assert_allclose(F.tanh(np.log([2.0])), [0.6], rtol=1e-15)  # (4-1)/(4+1)
    np.testing.assert_allclose(F.softmax(np.log([[1.0, 2.0, 5.0]])), [[0.125, 0.25, 0.625]],
                               rtol=1e-15)
    np.testing.assert_allclose(F.softmax(np.zeros((2, 4))), 0.25)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtypes_are_kept(dtype):
    x = np.linspace(-3, 3, 12, dtype=dtype).reshape(3, 4)
    for fn in (F.sigmoid, F.tanh, F.relu, F.softmax, F.log_softmax):
        assert fn(x).dtype == dtype, fn.__name__
    y = F.sigmoid(x)
    for grad in (F.sigmoid_grad, F.tanh_grad, F.relu_grad):
        assert grad(y).dtype == dtype, grad.__name__
    assert F.softmax_grad(F.softmax(x), x).dtype == dtype
    assert F.log_softmax_grad(F.log_softmax(x), x).dtype == dtype
    # float32 results agree with float64 ones to float32 precision.
    np.testing.assert_allclose(F.tanh(x), np.tanh(x.astype(np.float64)), rtol=2e-6, atol=2e-7)
    np.testing.assert_allclose(F.sigmoid(x), special.expit(x.astype(np.float64)), rtol=2e-6)


def test_integers_and_lists_are_computed_in_float64():
    assert F.sigmoid([0, 1]).dtype == np.float64
    assert F.tanh(np.array([0, 1])).dtype == np.float64
    assert F.relu([-1, 2]).tolist() == [0.0, 2.0]
    np.testing.assert_allclose(F.softmax([1, 1]), [0.5, 0.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extremes_give_exact_limits_without_warnings(dtype):
    big = np.finfo(dtype).max
    x = np.array([-big, -1e4, -800.0, -100.0, 100.0, 800.0, 1e4, big], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow RuntimeWarning would fail here
        s, t = F.sigmoid(x), F.tanh(x)
        # A large array takes tanh's exp form where this CPU prefers it: its tails too.
        wide = F.tanh(np.repeat(x, 4096))
        sm = F.softmax(np.stack([x, -x]), axis=-1)
        lsm = F.log_softmax(np.stack([x, -x]), axis=-1)
    assert s[0] == 0.0 and s[1] == 0.0 and s[-1] == 1.0 and s[-2] == 1.0
    assert t[0] == -1.0 and t[-1] == 1.0
    assert np.all(np.abs(wide) == 1.0)
    assert np.isfinite(sm).all() and not np.isnan(lsm).any()
    assert np.isfinite(F.log_softmax(np.stack([x[1:-1], -x[1:-1]]))).all()
    np.testing.assert_allclose(sm.sum(axis=-1), 1.0, rtol=1e-6)
    assert sm[0, -1] == 1.0 and sm[1, 0] == 1.0


def test_out_arguments_write_in_place():
    x = np.linspace(-2, 2, 5)
    out = np.empty_like(x)
    assert F.sigmoid(x, out=out) is out and F.tanh(x, out=out) is out
    np.testing.assert_allclose(out, np.tanh(x), rtol=1e-15)
    y = x.copy()
    F.sigmoid(y, out=y)
    np.testing.assert_allclose(y, special.expit(x), rtol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_elementwise_derivatives_from_outputs(name):
    fn, grad = getattr(F, name), getattr(F, f"{name}_grad")
    x = np.linspace(-3.05, 2.95, 41)  # never within eps of relu's kink
    numeric = numerical_gradient(lambda: float(fn(x).sum()), x)
    np.testing.assert_allclose(grad(fn(x)), numeric, rtol=1e-7, atol=1e-9)


def test_relu_grad_is_zero_at_the_kink():
    assert F.relu_grad(F.relu(np.array([-1.0, 0.0, 2.0]))).tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_vector_jacobian_products(axis):
    rng = np.random.default_rng(1)
    z, g = rng.normal(0, 2, (3, 4)), rng.standard_normal((3, 4))
    for fn, grad in ((F.softmax, F.softmax_grad), (F.log_softmax, F.log_softmax_grad)):
        numeric = numerical_gradient(lambda fn=fn: float(np.sum(g * fn(z, axis))), z)
        np.testing.assert_allclose(grad(fn(z, axis), g, axis), numeric, rtol=1e-7, atol=1e-9)

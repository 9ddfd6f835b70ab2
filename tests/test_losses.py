"""Losses: gradient checks with masks, PyTorch's values, and extreme inputs."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minirnn.check.gradcheck import gradcheck
from minirnn.check.testing import seeds
from minirnn.nn.losses import BCE, L1, MSE, BCEWithLogits, CrossEntropy, Huber

TOL = 1e-7


@given(seed=seeds(), n=st.integers(1, 4), t=st.integers(1, 4), c=st.integers(1, 5),
       per_step=st.booleans(), masked=st.booleans())
def test_gradients_of_every_loss(seed, n, t, c, per_step, masked):
    rng = np.random.default_rng(seed)
    dims = (n, t, c) if per_step else (n, c)
    pred = rng.uniform(-3, 3, dims)
    mask = (rng.random(dims[:-1]) < 0.7) if masked else None
    assume(mask is None or mask.any())
    extra = () if mask is None else (mask,)
    target = rng.uniform(-3, 3, dims)
    d = np.abs(pred - target)
    assume(np.min(np.abs(d - 0.7)) > 1e-3)  # Huber's switch point
    gradcheck(Huber(0.7), pred, target, *extra, tolerance=TOL)
    labels = (rng.random(dims) < 0.5).astype(float)
    gradcheck(BCEWithLogits(), pred, labels, *extra, tolerance=TOL)
    probs = rng.uniform(0.05, 0.95, dims)
    gradcheck(BCE(), probs, rng.random(dims), *extra, tolerance=TOL)
    classes = rng.integers(0, c, dims[:-1])
    gradcheck(CrossEntropy(), pred, classes, *extra, tolerance=TOL)


def test_values_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 3, 5))
    t = torch.from_numpy
    assert MSE()(pred, target) == pytest.approx(F.mse_loss(t(pred), t(target)).item(), rel=1e-12)
    assert L1()(pred, target) == pytest.approx(F.l1_loss(t(pred), t(target)).item(), rel=1e-12)
    assert Huber(0.5)(pred, target) == pytest.approx(
        F.huber_loss(t(pred), t(target), delta=0.5).item(), rel=1e-12)
    labels = (rng.random(pred.shape) < 0.5).astype(float)
    assert BCEWithLogits()(pred * 30, labels) == pytest.approx(
        F.binary_cross_entropy_with_logits(t(pred * 30), t(labels)).item(), rel=1e-12)
    probs = 1 / (1 + np.exp(-pred))
    assert BCE()(probs, labels) == pytest.approx(
        F.binary_cross_entropy(t(probs), t(labels)).item(), rel=1e-12)
    classes = rng.integers(0, 5, (4, 3))
    ours = CrossEntropy()
    assert ours(pred, classes) == pytest.approx(
        F.cross_entropy(t(pred).reshape(-1, 5), t(classes).reshape(-1)).item(), rel=1e-12)
    p = t(pred).requires_grad_(True)
    F.cross_entropy(p.reshape(-1, 5), t(classes).reshape(-1)).backward()
    np.testing.assert_allclose(ours.backward(), p.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e6, 1e30])
def test_extreme_inputs_give_finite_loss_and_gradient(dtype, scale):
    logits = np.array([[scale, -scale, 0.0], [-scale, scale, scale]], dtype=dtype)
    labels = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]], dtype=dtype)
    for loss, args in [(BCEWithLogits(), (logits, labels)),
                       (CrossEntropy(), (logits, np.array([1, 0]))),
                       (BCE(), (np.array([[0.0, 1.0, 0.5]], dtype), np.array([[1.0, 0.0, 1.0]],
                                                                             dtype))),
                       (Huber(), (logits, labels))]:
        value = loss(*args)
        grad = loss.backward()
        assert np.isfinite(value) and np.all(np.isfinite(grad)), type(loss).__name__
        assert grad.dtype == dtype
    # Exact values far in the tails: the loss is |logit| for a confidently wrong answer.
    assert BCEWithLogits()(np.array([[1e4]]), np.array([[0.0]])) == pytest.approx(1e4)
    assert CrossEntropy()(np.array([[1e4, -1e4]]), np.array([1])) == pytest.approx(2e4)
    assert BCE()(np.array([[0.0]]), np.array([[1.0]])) == pytest.approx(100.0)


def test_loss_argument_errors():
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        BCE()(np.array([[1.5]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match=r"class indices of shape \(2,\)"):
        CrossEntropy()(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"in \[0, 3\), got min 0 max 3"):
        CrossEntropy()(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        CrossEntropy()(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="delta must be a finite number greater than zero"):
        Huber(0)
    with pytest.raises(TypeError, match="delta must be a finite number greater than zero"):
        Huber(True)


def test_huber_is_linear_far_out_without_overflow_warnings():
    import warnings

    pred, target = np.array([[1e200], [0.3], [-3.0]]), np.zeros((3, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the quadratic branch of far points must not overflow
        value = Huber(1.0)(pred, target)
    assert value == pytest.approx((1e200 - 0.5 + 0.5 * 0.09 + 2.5) / 3, rel=1e-15)


def test_cross_entropy_mask_has_the_shape_of_target():
    """One mask entry per target: (4,) for targets (4, 5) is refused (issue 29: it was
    broadcast over the steps), before anything is cached; (4, 5) and (N,) for (N,) work."""
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((4, 5, 3)), rng.integers(0, 3, (4, 5))
    loss = CrossEntropy()
    with pytest.raises(ValueError, match=r"mask must have the shape of target \(4, 5\) "
                                         r"\(one entry per target\), got \(4,\)"):
        loss(pred, target, np.ones(4, bool))
    assert loss._cache is None
    with pytest.raises(ValueError, match=r"got \(4, 5, 3\)"):
        loss(pred, target, np.ones((4, 5, 3), bool))
    mask = np.ones((4, 5), bool)
    mask[:, 3:] = False
    assert loss(pred, target, mask) == pytest.approx(
        CrossEntropy()(pred[:, :3].reshape(12, 3), target[:, :3].reshape(12)), rel=1e-14)
    assert CrossEntropy()(pred[:, 0], target[:, 0], np.ones(4)) == pytest.approx(
        CrossEntropy()(pred[:, 0], target[:, 0]), rel=1e-14)

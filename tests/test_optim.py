"""Optimizers against hand-computed reference updates; clipping."""

import numpy as np
import pytest

from minirnn import Parameter
from minirnn.nn.layers import LSTM, Dense
from minirnn.nn.optim import SGD, Adam, clip_grad_norm, clip_grad_value, global_grad_norm


def _param(values):
    return Parameter(np.array(values, dtype=np.float64), "w")


GRADS = [np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.3, -0.7]), np.array([-2.0, 0.0, 1.0])]


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_reference(nesterov):
    p = _param([1.0, 2.0, 3.0])
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    w = p.data.copy()
    buf = None
    for g in GRADS:
        p.grad[...] = g
        opt.step()
        d = g + 0.01 * w
        buf = d.copy() if buf is None else 0.9 * buf + d
        w = w - 0.1 * (d + 0.9 * buf if nesterov else buf)
        np.testing.assert_allclose(p.data, w, rtol=1e-14)


def test_plain_sgd():
    p = _param([1.0, 2.0, 3.0])
    p.grad[...] = GRADS[0]
    SGD([p], lr=0.5).step()
    np.testing.assert_allclose(p.data, [0.75, 2.5, 2.0])


def test_adam_matches_reference():
    p = _param([1.0, 2.0, 3.0])
    opt = Adam([p], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    w, m, v = p.data.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        p.grad[...] = g
        opt.step()
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        w = w - 0.01 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.99**t)) + 1e-6)
        np.testing.assert_allclose(p.data, w, rtol=1e-13)


def test_optimizer_state_is_per_parameter_and_updates_in_place():
    # Two layers both have a parameter named "weight": their state must not collide.
    a, b = Dense(2, 2, seed=0), Dense(2, 2, seed=1)
    params = a.parameters() + b.parameters()
    opt = Adam(params, lr=0.1)
    data_ids = [id(p.data) for p in params]
    for p in params:
        p.grad[...] = 1.0
    a.weight.grad[...] = 5.0
    opt.step()
    assert [id(p.data) for p in params] == data_ids
    sd = opt.state_dict()
    assert len(sd["state"]) == 4
    assert not np.allclose(sd["state"][0]["exp_avg"], sd["state"][2]["exp_avg"])


def test_optimizer_state_dict_resumes_exactly():
    def run(steps, resume_at=None):
        layer = LSTM(2, 3, seed=0)
        opt = Adam(layer, lr=0.05)
        rng = np.random.default_rng(0)
        for i in range(steps):
            if i == resume_at:
                saved_w, saved_o = layer.state_dict(), opt.state_dict()
                layer = LSTM(2, 3, seed=99)
                layer.load_state_dict(saved_w)
                opt = Adam(layer, lr=0.05)
                opt.load_state_dict(saved_o)
            for p in layer.parameters():
                p.grad[...] = rng.standard_normal(p.shape)
            opt.step()
        return layer.state_dict()

    full, resumed = run(6), run(6, resume_at=3)
    for k in full:
        np.testing.assert_array_equal(full[k], resumed[k])


def test_clip_grad_norm_keeps_direction_and_returns_norm_before():
    p, q = _param([0.0, 0.0]), _param([0.0])
    p.grad[...] = [3.0, 0.0]
    q.grad[...] = [4.0]
    norm = clip_grad_norm([p, q], max_norm=1.0)
    assert norm == pytest.approx(5.0)
    assert global_grad_norm([p, q]) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(p.grad / q.grad[0], [0.75, 0.0])
    # Below the threshold nothing changes.
    assert clip_grad_norm([p, q], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(q.grad, [0.8], rtol=1e-5)


def test_clip_grad_value():
    p = _param([0.0, 0.0, 0.0])
    p.grad[...] = [-3.0, 0.5, 3.0]
    clip_grad_value([p], 1.0)
    np.testing.assert_array_equal(p.grad, [-1.0, 0.5, 1.0])

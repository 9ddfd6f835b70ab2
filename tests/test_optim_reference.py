"""Every optimizer and schedule against torch.optim on the same gradients (when installed)
and against hand-computed updates."""

import math

import numpy as np
import pytest

from minirnn import Parameter, Sequential, Solver
from minirnn.apps.data import adding_problem
from minirnn.nn.layers import GRU, Dense, LastStep
from minirnn.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineAnnealing,
    ExponentialDecay,
    ReduceLROnPlateau,
    RMSprop,
    StepDecay,
)
from minirnn.train.callbacks import Callback

GRADS = [np.array([[0.5, -1.0], [2.0, 0.1]]), np.array([[0.3, -0.7], [-2.0, 0.0]]),
         np.array([[1.0, 1.0], [-0.5, 0.25]]), np.array([[0.0, -0.2], [0.4, -3.0]])]
START = np.array([[1.0, -2.0], [0.5, 3.0]])

CASES = [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), "SGD"),
    (SGD, dict(lr=0.1, momentum=0.5), "SGD"),
    (Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1),
     "Adagrad"),
    (RMSprop, dict(lr=0.01, alpha=0.9, weight_decay=0.01, momentum=0.8, centered=True),
     "RMSprop"),
    (RMSprop, dict(lr=0.01), "RMSprop"),
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05), "Adam"),
    (AdamW, dict(lr=0.01, betas=(0.85, 0.995), weight_decay=0.1), "AdamW"),
]


def _ours(cls, kwargs):
    p = Parameter(START.copy(), "w")
    opt = cls([p], **kwargs)
    out = []
    for g in GRADS:
        p.grad[...] = g
        opt.step()
        out.append(p.data.copy())
    return out


@pytest.mark.parametrize("cls,kwargs,torch_name", CASES)
def test_matches_torch_optim(cls, kwargs, torch_name):
    torch = pytest.importorskip("torch")
    w = torch.tensor(START, requires_grad=True)
    opt = getattr(torch.optim, torch_name)([w], **kwargs)
    for g, ours in zip(GRADS, _ours(cls, kwargs), strict=True):
        w.grad = torch.tensor(g)
        opt.step()
        np.testing.assert_allclose(ours, w.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_rmsprop_and_adagrad_and_adamw_by_hand():
    # RMSprop, plain
    w, v = START.copy(), np.zeros_like(START)
    for g, ours in zip(GRADS, _ours(RMSprop, dict(lr=0.01, alpha=0.9)), strict=True):
        v = 0.9 * v + 0.1 * g * g
        w = w - 0.01 * g / (np.sqrt(v) + 1e-8)
        np.testing.assert_allclose(ours, w, rtol=1e-14)
    # Adagrad
    w, s = START.copy(), np.zeros_like(START)
    for g, ours in zip(GRADS, _ours(Adagrad, dict(lr=0.1)), strict=True):
        s = s + g * g
        w = w - 0.1 * g / (np.sqrt(s) + 1e-10)
        np.testing.assert_allclose(ours, w, rtol=1e-14)
    # AdamW: decoupled decay, then Adam
    w, m, v = START.copy(), np.zeros_like(START), np.zeros_like(START)
    for t, (g, ours) in enumerate(zip(GRADS, _ours(AdamW, dict(lr=0.01, weight_decay=0.1)),
                                      strict=True), start=1):
        w = w * (1 - 0.01 * 0.1)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(ours, w, rtol=1e-13)


@pytest.mark.parametrize("cls,kwargs,_", CASES)
def test_state_dict_round_trip_resumes_exactly(cls, kwargs, _):
    p = Parameter(START.copy(), "w")
    opt = cls([p], **kwargs)
    for g in GRADS[:2]:
        p.grad[...] = g
        opt.step()
    q = Parameter(p.data.copy(), "w")
    other = cls([q], **{**kwargs, "lr": 1.0})
    other.load_state_dict(opt.state_dict())
    for g in GRADS[2:]:
        p.grad[...] = g
        q.grad[...] = g
        opt.step()
        other.step()
    np.testing.assert_array_equal(p.data, q.data)


def _lrs(schedule, epochs=6, lr=0.1, val=None):
    model = Sequential(GRU(2, 2, seed=0), LastStep(), Dense(2, 1, seed=0))
    x, y = adding_problem(8, 3, seed=0)
    logs_val = iter(val or [])

    class FakeVal(Callback):
        def on_epoch_end(self, epoch, logs):
            if val is not None:
                logs["val_loss"] = next(logs_val)

    history = Solver(model, optimizer=SGD(model, lr=lr), epochs=epochs,
                     callbacks=[FakeVal(), schedule]).fit(x, y)
    return history["lr"]


def test_schedules():
    assert _lrs(ExponentialDecay(0.5)) == pytest.approx([0.1 * 0.5**k for k in range(6)])
    assert _lrs(StepDecay(2, gamma=0.1)) == pytest.approx([0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3])
    cos = [0.0 + 0.1 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(5)] + [0.0]
    assert _lrs(CosineAnnealing(4)) == pytest.approx(cos)
    plateau = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.0)
    assert _lrs(plateau, val=[1.0, 0.9, 0.95, 0.95, 0.95, 0.95]) == pytest.approx(
        [0.1, 0.1, 0.1, 0.1, 0.05, 0.05])


def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    for ours, make in [(StepDecay(2, gamma=0.3), lambda o: torch.optim.lr_scheduler.StepLR(
            o, 2, gamma=0.3)), (CosineAnnealing(5, eta_min=0.01),
                                lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
                                    o, 5, eta_min=0.01)),
                       (ExponentialDecay(0.7), lambda o: torch.optim.lr_scheduler.ExponentialLR(
                           o, 0.7))]:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = make(opt)
        expected = []
        for _ in range(5):
            expected.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        assert _lrs(ours, epochs=5) == pytest.approx(expected, rel=1e-12)

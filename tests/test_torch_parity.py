"""Parity with torch.nn.RNN/LSTM/GRU in float64: outputs, final states and every gradient.

Skipped without torch; ``.ci/run`` installs torch==2.13.0 (CPU) so these run in CI.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn.check.testing import recurrent_shapes, seeds
from minirnn.nn.layers import GRU, LSTM, RNN

torch = pytest.importorskip("torch")

TOL = 1e-10
TORCH_CLASSES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
OUR_CLASSES = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def _build(kind, shape, options):
    kwargs = dict(num_layers=options["num_layers"], bias=options["bias"],
                  batch_first=options["batch_first"], bidirectional=options["bidirectional"])
    if kind == "rnn":
        kwargs["nonlinearity"] = options["nonlinearity"]
    if kind == "lstm":
        kwargs["proj_size"] = options["proj_size"]
    ours = OUR_CLASSES[kind](shape.features, shape.hidden, seed=options["seed"], **kwargs)
    theirs = getattr(torch.nn, TORCH_CLASSES[kind])(shape.features, shape.hidden,
                                                    **kwargs).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def _torch_run(module, x, states0, lengths, batch_first, total_length):
    if lengths is None:
        out, final = module(x, states0)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.as_tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, final = module(packed, states0)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first,
                                                        total_length=total_length)
    return out, final if isinstance(final, tuple) else (final,)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@given(shape=recurrent_shapes(max_hidden=6), seed=seeds(), num_layers=st.integers(1, 3),
       bidirectional=st.booleans(), bias=st.booleans(), batch_first=st.booleans(),
       nonlinearity=st.sampled_from(["tanh", "relu"]), variable_lengths=st.booleans(),
       give_state=st.booleans(), proj=st.integers(0, 5), data=st.data())
def test_matches_torch(kind, shape, seed, num_layers, bidirectional, bias, batch_first,
                       nonlinearity, variable_lengths, give_state, proj, data):
    proj_size = proj % shape.hidden if kind == "lstm" else 0
    options = dict(num_layers=num_layers, bias=bias, batch_first=batch_first,
                   bidirectional=bidirectional, nonlinearity=nonlinearity,
                   proj_size=proj_size, seed=seed)
    ours, theirs = _build(kind, shape, options)
    rng = np.random.default_rng(seed)
    N, T, D = shape.batch, shape.time, shape.features
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    lengths = None
    if variable_lengths:
        lengths = np.array(data.draw(st.lists(st.integers(1, T), min_size=N, max_size=N)))
    count = num_layers * (2 if bidirectional else 1)
    sizes = ours.state_sizes
    states0 = (tuple(rng.standard_normal((count, N, k)) for k in sizes) if give_state else None)

    y = ours.forward(x, states0, lengths=lengths)
    dy = rng.standard_normal(y.shape)
    d_final = tuple(rng.standard_normal((count, N, k)) for k in sizes)
    dx = ours.backward(dy, d_final)

    x_t = torch.from_numpy(x).requires_grad_(True)
    states_t = None
    if give_state:
        states_t = tuple(torch.from_numpy(s).requires_grad_(True) for s in states0)
        if kind != "lstm":
            states_t = states_t[0]
    out_t, final_t = _torch_run(theirs, x_t, states_t, lengths, batch_first, T)
    loss = (out_t * torch.from_numpy(dy)).sum()
    for s, g in zip(final_t, d_final, strict=True):
        loss = loss + (s * torch.from_numpy(g)).sum()
    loss.backward()

    np.testing.assert_allclose(y, out_t.detach().numpy(), rtol=TOL, atol=TOL)
    for ours_s, theirs_s in zip(ours.final_state, final_t, strict=True):
        np.testing.assert_allclose(ours_s, theirs_s.detach().numpy(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=TOL, atol=TOL)
    if give_state:
        given_t = states_t if isinstance(states_t, tuple) else (states_t,)
        for ours_g, s_t in zip(ours.initial_state_grad, given_t, strict=True):
            np.testing.assert_allclose(ours_g, s_t.grad.numpy(), rtol=TOL, atol=TOL)
    torch_params = dict(theirs.named_parameters())
    assert set(torch_params) == {name for name, _ in ours.named_parameters()}
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, torch_params[name].grad.numpy(), rtol=TOL,
                                   atol=TOL, err_msg=name)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_weights_move_both_ways(kind):
    theirs = getattr(torch.nn, TORCH_CLASSES[kind])(3, 5, num_layers=2, bidirectional=True,
                                                    batch_first=True).double()
    ours = OUR_CLASSES[kind](3, 5, num_layers=2, bidirectional=True, seed=0)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 4, 3))
    np.testing.assert_allclose(ours.forward(x), theirs(torch.from_numpy(x))[0].detach().numpy(),
                               rtol=TOL, atol=TOL)
    back = getattr(torch.nn, TORCH_CLASSES[kind])(3, 5, num_layers=2, bidirectional=True,
                                                  batch_first=True).double()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k].numpy(), v.numpy())


def test_float32_close_to_torch():
    ours = LSTM(4, 8, num_layers=2, dtype=np.float32, seed=0)
    theirs = torch.nn.LSTM(4, 8, num_layers=2, batch_first=True)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 6, 4)).astype(np.float32)
    y = ours.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, theirs(torch.from_numpy(x))[0].detach().numpy(), atol=1e-5)

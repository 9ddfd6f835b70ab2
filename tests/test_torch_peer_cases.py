"""PyTorch's edge cases of the recurrent cells and layers (issue 29's core leftovers).

- a cell on one unbatched sample: ``cell(x (D,), state (H,))`` -> state entries (H,);
- cells with ``hidden_size=0`` (states of 0 features; the layers refuse it, as torch's do);
- an empty batch (N = 0) through ``RNN``/``LSTM``/``GRU`` forward and backward, on the
  reference loop and on the fused kernels.

Each case has a torch-free test (shapes, and equality with the batched form) and a
comparison with torch, skipped cleanly without it.
"""

import numpy as np
import pytest

from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.nn.layers import GRU, LSTM, RNN

try:
    import torch
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="comparison with torch needs torch")

TOL = 1e-12
CELLS = {"rnn_tanh": (RNNCell, {"nonlinearity": "tanh"}),
         "rnn_relu": (RNNCell, {"nonlinearity": "relu"}),
         "gru": (GRUCell, {}), "lstm": (LSTMCell, {})}
TORCH_CELLS = {RNNCell: "RNNCell", GRUCell: "GRUCell", LSTMCell: "LSTMCell"}
LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def _cell(kind, input_size=3, hidden_size=4, seed=0):
    cls, kwargs = CELLS[kind]
    return cls(input_size, hidden_size, rng=seed, **kwargs)


def _torch_cell(cell):
    """The torch peer of ``cell`` with its weights (float64)."""
    cls = getattr(torch.nn, TORCH_CELLS[type(cell)])
    kwargs = {"nonlinearity": cell.nonlinearity} if isinstance(cell, RNNCell) else {}
    peer = cls(cell.input_size, cell.hidden_size, bias=cell.bias, dtype=torch.float64,
               **kwargs)
    peer.load_state_dict({name: torch.from_numpy(p.data.copy())
                          for name, p in cell.named_parameters()})
    return peer


def _grads(owner):
    return {name: p.grad.copy() for name, p in owner.named_parameters()}


# ------------------------------------------------------------ unbatched 1-D cell input
@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("give_state", [False, True])
def test_cell_unbatched_input_is_one_row_of_a_batch(kind, give_state):
    """x (D,) and state (H,) give state entries (H,), dx (D,) and dstate (H,): the same
    numbers and parameter gradients as the batch of that one row."""
    rng = np.random.default_rng(1)
    cell = _cell(kind)
    x = rng.standard_normal(3)
    state = (tuple(rng.standard_normal(4) for _ in cell.state_names) if give_state else None)
    upstream = tuple(rng.standard_normal(4) for _ in cell.state_names)

    new = cell.forward(x, state)
    assert [s.shape for s in new] == [(4,)] * len(cell.state_names)
    dx, dstate = cell.backward(upstream)
    assert dx.shape == (3,) and [d.shape for d in dstate] == [(4,)] * len(cell.state_names)
    grads = _grads(cell)

    cell.zero_grad()
    batched = cell.forward(x[None], None if state is None else tuple(s[None] for s in state))
    dx_b, dstate_b = cell.backward(tuple(u[None] for u in upstream))
    for a, b in zip(new, batched, strict=True):
        np.testing.assert_array_equal(a, b[0])
    np.testing.assert_array_equal(dx, dx_b[0])
    for a, b in zip(dstate, dstate_b, strict=True):
        np.testing.assert_array_equal(a, b[0])
    for name, g in _grads(cell).items():
        np.testing.assert_array_equal(grads[name], g, err_msg=name)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_unbatched_input_refuses_mixed_forms(kind):
    """As torch: 1-D x needs 1-D state entries, 2-D x 2-D ones; 3-D x is refused; the
    backward of an unbatched step wants (H,) gradients. Nothing is computed first."""
    cell = _cell(kind)
    names = cell.state_names

    def state(*shape):
        return tuple(np.zeros(shape) for _ in names)

    with pytest.raises(ValueError, match=r"state \(unbatched: x is \(D,\)\) 'h' must be "
                                         r"1-D, got 2-D array of shape \(1, 4\)"):
        cell.forward(np.zeros(3), state(1, 4))
    with pytest.raises(ValueError, match=r"state 'h' must be 2-D, got 1-D array of shape \(4,\)"):
        cell.forward(np.zeros((2, 3)), state(4))
    with pytest.raises(ValueError, match=r"must be 1-D or 2-D, got 3-D"):
        cell.forward(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=r"3 features on its last axis, got shape \(4,\)"):
        cell.forward(np.zeros(4))
    cell.forward(np.zeros(3))
    with pytest.raises(ValueError, match=r"dstate \(unbatched: x is \(D,\)\) 'h' must be 1-D"):
        cell.backward(state(1, 4))
    with pytest.raises(ValueError, match=r"'h': expected shape \(size,\) = \(4,\), got \(5,\)"):
        cell.forward(np.zeros(3), state(5))
    with pytest.raises(ValueError, match=r"dstate \(unbatched: x is \(D,\)\) 'h'"):
        cell.backward(state(1, 4))


@needs_torch
@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("give_state", [False, True])
def test_cell_unbatched_input_matches_torch(kind, give_state):
    rng = np.random.default_rng(2)
    cell = _cell(kind)
    peer = _torch_cell(cell)
    x = rng.standard_normal(3)
    state = (tuple(rng.standard_normal(4) for _ in cell.state_names) if give_state else None)
    upstream = tuple(rng.standard_normal(4) for _ in cell.state_names)

    new = cell.forward(x, state)
    dx, dstate = cell.backward(upstream)

    x_t = torch.from_numpy(x).requires_grad_(True)
    state_t = None
    if give_state:
        state_t = tuple(torch.from_numpy(s).requires_grad_(True) for s in state)
    out = peer(x_t, None if state_t is None else state_t if kind == "lstm" else state_t[0])
    out = out if isinstance(out, tuple) else (out,)
    sum((o * torch.from_numpy(u)).sum() for o, u in zip(out, upstream, strict=True)).backward()
    for ours, theirs in zip(new, out, strict=True):
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=0, atol=TOL)
    if give_state:
        for ours, theirs in zip(dstate, state_t, strict=True):
            np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=0, atol=TOL)
    for name, p in peer.named_parameters():
        np.testing.assert_allclose(_grads(cell)[name], p.grad.numpy(), rtol=0, atol=TOL,
                                   err_msg=name)


# --------------------------------------------------------------------- hidden_size=0
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_with_zero_hidden_size(kind):
    """An empty cell, as torch builds it: (0, D) and (0, 0) weights, states of 0 features,
    dx all zeros, batched and unbatched."""
    cell = _cell(kind, hidden_size=0)
    assert {n: p.shape for n, p in cell.named_parameters()} == {
        "weight_ih": (0, 3), "weight_hh": (0, 0), "bias_ih": (0,), "bias_hh": (0,)}
    x = np.random.default_rng(3).standard_normal((2, 3))
    new = cell.forward(x)
    assert [s.shape for s in new] == [(2, 0)] * len(cell.state_names)
    dx, dstate = cell.backward(tuple(np.zeros((2, 0)) for _ in cell.state_names))
    np.testing.assert_array_equal(dx, np.zeros((2, 3)))
    assert [d.shape for d in dstate] == [(2, 0)] * len(cell.state_names)
    new = cell.forward(x[0], tuple(np.zeros(0) for _ in cell.state_names))
    assert [s.shape for s in new] == [(0,)] * len(cell.state_names)
    dx, _ = cell.backward(np.zeros(0))
    np.testing.assert_array_equal(dx, np.zeros(3))


def test_zero_hidden_size_where_torch_refuses_it():
    """The layers refuse hidden_size=0 (torch: "hidden_size must be greater than zero"), a
    negative size is refused by name, and a custom cell that writes its own step math keeps
    refusing 0 unless it says it allows it (its math may divide by H)."""
    for layer in (RNN, LSTM, GRU):
        with pytest.raises(ValueError, match="hidden_size must be greater than zero, got 0"):
            layer(3, 0)
    with pytest.raises(ValueError, match="hidden_size must be an int >= 0, got -1"):
        GRUCell(3, -1)
    with pytest.raises(ValueError, match="input_size must be greater than zero"):
        GRUCell(0, 3)
    LSTMCell(3, 0, forget_bias=1.0)  # the forget bias block is empty

    class Own(RNNCell):
        def step(self, xp, hp, state):
            return super().step(xp, hp, state)

    class Declared(Own):
        allows_zero_hidden = True

    assert RNNCell.allows_zero_hidden and not Own.allows_zero_hidden
    with pytest.raises(ValueError, match="hidden_size must be greater than zero, got 0"):
        Own(3, 0)
    assert Declared(3, 0).hidden_size == 0


@needs_torch
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_zero_hidden_size_matches_torch(kind):
    cell = _cell(kind, hidden_size=0)
    peer = _torch_cell(cell)
    assert {n: p.shape for n, p in cell.named_parameters()} == {
        n: tuple(p.shape) for n, p in peer.named_parameters()}
    for x in (np.ones((2, 3)), np.ones(3)):
        x_t = torch.from_numpy(x).requires_grad_(True)
        out = peer(x_t)
        out = out if isinstance(out, tuple) else (out,)
        sum(o.sum() for o in out).backward()
        new = cell.forward(x)
        dx, _ = cell.backward(tuple(np.ones(s.shape) for s in new))
        assert [s.shape for s in new] == [tuple(o.shape) for o in out]
        np.testing.assert_array_equal(dx, x_t.grad.numpy())
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        getattr(torch.nn, TORCH_CELLS[type(cell)].replace("Cell", ""))(3, 0)


# ------------------------------------------------------------------ empty batch, layers
def _empty_batch_run(kind, kernel, batch_first, give_state, dy_given=True):
    layer = LAYERS[kind](3, 4, num_layers=2, bidirectional=True, batch_first=batch_first,
                         seed=0, kernel=kernel)
    x = np.zeros((0, 5, 3) if batch_first else (5, 0, 3))
    count = 4
    states = (tuple(np.zeros((count, 0, 4)) for _ in layer.state_names) if give_state
              else None)
    y = layer.forward(x, states)
    dy = np.zeros(y.shape) if dy_given else None
    dx = layer.backward(dy, tuple(np.zeros((count, 0, 4)) for _ in layer.state_names))
    return layer, y, dx


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("kernel", ["reference", "fused"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_empty_batch_through_layers(kind, kernel, batch_first):
    """N = 0: outputs (0, T, dirs * H) (or (T, 0, dirs * H)), final states and their
    gradients (L * dirs, 0, H), dx of the input's shape, no parameter gradient; and the
    layer (its kernel's work arrays) still gives the same numbers on a real batch after."""
    for give_state in (False, True):
        layer, y, dx = _empty_batch_run(kind, kernel, batch_first, give_state)
        assert y.shape == ((0, 5, 8) if batch_first else (5, 0, 8))
        assert dx.shape == ((0, 5, 3) if batch_first else (5, 0, 3))
        assert [s.shape for s in layer.final_state] == [(4, 0, 4)] * len(layer.state_names)
        assert [g.shape for g in layer.initial_state_grad] == \
            [(4, 0, 4)] * len(layer.state_names)
        assert all(not p.grad.any() for p in layer.parameters())
    layer, _, _ = _empty_batch_run(kind, kernel, batch_first, False, dy_given=False)
    assert all(not p.grad.any() for p in layer.parameters())
    # Empty lengths of an empty batch are fine; T = 0 is not (torch refuses it too).
    empty = np.zeros((0, 5, 3) if batch_first else (5, 0, 3))
    assert layer.forward(empty, lengths=np.zeros(0, np.int64)).shape == y.shape
    with pytest.raises(TypeError, match="lengths must be integers"):
        layer.forward(empty, lengths=np.zeros(0))
    with pytest.raises(ValueError, match="must not be empty"):
        layer.forward(np.zeros((2, 0, 3) if batch_first else (0, 2, 3)))
    # After the empty batch, a real one equals a fresh layer's result.
    x = np.random.default_rng(4).standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    fresh = LAYERS[kind](3, 4, num_layers=2, bidirectional=True, batch_first=batch_first,
                         seed=0, kernel=kernel)
    np.testing.assert_array_equal(layer.forward(x), fresh.forward(x))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_empty_batch_through_cells(kind):
    cell = _cell(kind)
    new = cell.forward(np.zeros((0, 3)))
    assert [s.shape for s in new] == [(0, 4)] * len(cell.state_names)
    dx, dstate = cell.backward(tuple(np.zeros((0, 4)) for _ in cell.state_names))
    assert dx.shape == (0, 3) and [d.shape for d in dstate] == [(0, 4)] * len(new)
    assert all(not p.grad.any() for p in cell.parameters())


@needs_torch
@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("kernel", ["reference", "fused"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_empty_batch_matches_torch(kind, kernel, batch_first):
    layer, y, dx = _empty_batch_run(kind, kernel, batch_first, give_state=True)
    peer = getattr(torch.nn, kind.upper())(3, 4, num_layers=2, bidirectional=True,
                                          batch_first=batch_first, dtype=torch.float64)
    x_t = torch.zeros((0, 5, 3) if batch_first else (5, 0, 3), dtype=torch.float64,
                      requires_grad=True)
    out, final = peer(x_t)
    final = final if isinstance(final, tuple) else (final,)
    (out.sum() + sum(f.sum() for f in final)).backward()
    assert y.shape == tuple(out.shape)
    assert [s.shape for s in layer.final_state] == [tuple(f.shape) for f in final]
    assert dx.shape == tuple(x_t.grad.shape)
    for name, p in peer.named_parameters():
        assert not p.grad.any()
        np.testing.assert_array_equal(dict(layer.named_parameters())[name].grad,
                                      p.grad.numpy(), err_msg=name)


# ------------------------------------------------------------------ empty batch, Dense
@pytest.mark.parametrize("shape", [(0, 4), (0, 5, 4), (3, 0, 4)])
def test_dense_takes_an_empty_batch(shape):
    """``Dense`` maps an empty batch to an empty output and leaves the gradients at zero,
    as ``torch.nn.Linear`` does; the feature axis still has to be ``in_features``."""
    from minirnn.nn.layers import Dense

    layer = Dense(4, 2, seed=0)
    y = layer.forward(np.zeros(shape))
    assert y.shape == (*shape[:-1], 2)
    dx = layer.backward(np.zeros(y.shape))
    assert dx.shape == shape
    assert not layer.weight.grad.any() and not layer.bias.grad.any()
    with pytest.raises(ValueError, match="4 features"):
        layer.forward(np.zeros((0, 3)))


@needs_torch
def test_dense_empty_batch_matches_torch():
    from minirnn.nn.layers import Dense

    layer = Dense(4, 2, seed=0)
    peer = torch.nn.Linear(4, 2, dtype=torch.float64)
    x_t = torch.zeros((0, 4), dtype=torch.float64, requires_grad=True)
    out = peer(x_t)
    out.sum().backward()
    y = layer.forward(np.zeros((0, 4)))
    dx = layer.backward(np.zeros((0, 2)))
    assert y.shape == tuple(out.shape) and dx.shape == tuple(x_t.grad.shape)
    np.testing.assert_array_equal(layer.weight.grad, peer.weight.grad.numpy())
    np.testing.assert_array_equal(layer.bias.grad, peer.bias.grad.numpy())

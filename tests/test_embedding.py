"""Embedding: lookup, exact gradient (repeated tokens, padding), errors, PyTorch parity."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirnn.check.gradcheck import numerical_gradient
from minirnn.nn.io import load_model, save_model
from minirnn.nn.layers import LSTM, Dense, Embedding
from minirnn.nn.layers.embedding import scatter_rows
from minirnn.nn.model import Sequential


def test_forward_is_a_row_lookup_with_pytorch_names() -> None:
    emb = Embedding(7, 3, seed=0)
    ids = np.array([[0, 6, 6], [2, 1, 0]])
    y = emb.forward(ids)
    assert y.shape == (2, 3, 3)
    np.testing.assert_array_equal(y, emb.weight.data[ids])
    assert {k: v.shape for k, v in emb.state_dict().items()} == {"weight": (7, 3)}
    # Whole floats are token indices too (Sequential.predict casts to the model dtype).
    np.testing.assert_array_equal(emb.forward(ids.astype(np.float64)), y)


def test_gradient_matches_central_differences_with_repeated_tokens() -> None:
    rng = np.random.default_rng(1)
    emb = Embedding(5, 4, seed=2)
    ids = np.array([[1, 1, 3], [1, 0, 3]])  # token 1 three times, token 2 and 4 unused
    g = rng.standard_normal((2, 3, 4))

    def f() -> float:
        return float(np.sum(emb.forward(ids) * g))

    emb.zero_grad()
    emb.forward(ids)
    dx = emb.backward(g)
    numeric = numerical_gradient(f, emb.weight.data)
    err = np.max(np.abs(emb.weight.grad - numeric)) / np.max(np.abs(numeric))
    assert err <= 1e-7
    assert np.all(emb.weight.grad[[2, 4]] == 0)
    np.testing.assert_array_equal(dx, np.zeros(ids.shape))


def test_backward_accumulates() -> None:
    emb = Embedding(4, 2, seed=0)
    ids = np.array([[3, 3]])
    emb.forward(ids)
    emb.backward(np.ones((1, 2, 2)))
    emb.backward(np.ones((1, 2, 2)))
    np.testing.assert_array_equal(emb.weight.grad[3], [4.0, 4.0])


def test_padding_idx_starts_at_zero_and_gets_no_gradient() -> None:
    emb = Embedding(6, 3, padding_idx=-1, seed=0)
    assert emb.padding_idx == 5
    np.testing.assert_array_equal(emb.weight.data[5], 0.0)
    ids = np.array([[5, 1, 5, 2]])
    emb.forward(ids)
    emb.backward(np.ones((1, 4, 3)))
    np.testing.assert_array_equal(emb.weight.grad[5], 0.0)
    np.testing.assert_array_equal(emb.weight.grad[1], 1.0)


@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=40), st.integers(1, 4))
def test_scatter_rows_equals_add_at(ids_list: list[int], width: int) -> None:
    ids = np.array(ids_list)
    rows = np.arange(len(ids) * width, dtype=np.float64).reshape(len(ids), width) - 7.5
    out = np.ones((10, width))
    expected = out.copy()
    np.add.at(expected, ids, rows)
    scatter_rows(ids, rows, out)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad, error, words", [
    (np.array([[0.5, 1.0]]), TypeError, "integer token indices"),
    (np.array([[0, 7]]), ValueError, "[0, 7)"),
    (np.array([[-1, 0]]), ValueError, "[0, 7)"),
    (np.array([[True, False]]), TypeError, "integer token indices"),
    ([[0, 1]], TypeError, "numpy ndarray"),
    (np.zeros((0, 2), int), ValueError, "empty"),
    (np.array([[np.nan, 1.0]]), TypeError, "integer token indices"),
])
def test_bad_indices_are_named(bad: object, error: type, words: str) -> None:
    emb = Embedding(7, 2)
    with pytest.raises(error, match=re.escape(words)):
        emb.forward(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, words", [
    ({"num_embeddings": 0, "embedding_dim": 2}, "num_embeddings"),
    ({"num_embeddings": 3, "embedding_dim": 0}, "embedding_dim"),
    ({"num_embeddings": 3, "embedding_dim": 2, "padding_idx": 3}, "padding_idx"),
    ({"num_embeddings": 3, "embedding_dim": 2, "padding_idx": 1.0}, "padding_idx"),
])
def test_bad_arguments(kwargs: dict, words: str) -> None:
    with pytest.raises((TypeError, ValueError), match=words):
        Embedding(**kwargs)


def test_backward_checks() -> None:
    emb = Embedding(3, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        emb.backward(np.ones((1, 1, 2)))
    emb.forward(np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"\(1, 2, 2\)"):
        emb.backward(np.ones((1, 2, 3)))


def test_saved_inside_a_sequential(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = Sequential(Embedding(5, 3, padding_idx=0, dtype=np.float32, seed=0),
                       LSTM(3, 4, dtype=np.float32, seed=0), Dense(4, 5, dtype=np.float32))
    ids = np.array([[1, 2, 0, 4]])
    save_model(tmp_path / "m.npz", model)
    loaded = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.forward(ids), model.forward(ids))
    assert loaded[0].padding_idx == 0  # type: ignore[attr-defined]


def test_matches_torch_embedding() -> None:
    torch = pytest.importorskip("torch")
    emb = Embedding(6, 3, padding_idx=2, seed=0)
    ref = torch.nn.Embedding(6, 3, padding_idx=2).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in emb.state_dict().items()})
    ids = np.array([[1, 2, 1], [5, 0, 2]])
    g = np.random.default_rng(0).standard_normal((2, 3, 3))
    out = ref(torch.from_numpy(ids))
    (out * torch.from_numpy(g)).sum().backward()
    emb.forward(ids)
    emb.backward(g)
    np.testing.assert_allclose(emb.forward(ids), out.detach().numpy())
    np.testing.assert_allclose(emb.weight.grad, ref.weight.grad.numpy(), atol=1e-12)

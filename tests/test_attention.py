"""Attention layers (issue 28): torch parity in float64 to 1e-10 (outputs, weights and every
gradient), hypothesis-driven gradient checks with masks, exact masking, fully masked rows,
dropout, float32, errors, and model-file round trips.

The torch tests skip without torch; ``.ci/run`` installs torch==2.13.0 (CPU).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn.check.gradcheck import numerical_gradient
from minirnn.check.testing import seeds
from minirnn.nn.io import load_model, save_model
from minirnn.nn.layers.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    MultiheadAttention,
    ScaledDotProductAttention,
)
from minirnn.nn.layers.attention_functional import causal_mask
from minirnn.nn.layers.base import no_grad
from minirnn.nn.registry import register_layer

TOL = 1e-10  # torch parity, float64
GRAD_TOL = 1e-7  # central differences, float64
CLASSES = (AdditiveAttention, DotAttention, GeneralAttention, MultiheadAttention,
           ScaledDotProductAttention)


def _torch():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------- helpers
def _close(ours, theirs, what, where=None):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    if where is not None:
        ours, theirs = ours[where], theirs[where]
    np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL, err_msg=what)


def gradcheck_attention(layer, inputs, *, seed, kwargs=None, use_weights=True,
                        training=False, dropout_seed=None, tol=GRAD_TOL):
    """Central differences vs ``backward`` for every input and parameter of a multi-input
    attention layer; the loss is ``sum(out * g) + sum(weights * g_w)``."""
    kwargs = dict(kwargs or {})
    arrays = {name: np.array(a, dtype=np.float64, copy=True) for name, a in inputs.items()}
    rng = np.random.default_rng(seed)

    def run():
        if dropout_seed is not None:
            layer._rng = np.random.default_rng(dropout_seed)
        return layer.forward(*arrays.values(), training=training, **kwargs)

    out, weights = run()
    g = rng.standard_normal(out.shape)
    g_w = rng.standard_normal(weights.shape) if use_weights and weights is not None else None

    def terms():
        out, weights = run()
        return [out * g] + ([] if g_w is None else [weights * g_w])

    def f():
        return float(sum(np.sum(t) for t in terms()))

    layer.zero_grad()
    run()
    grads = layer.backward(g, g_w)
    analytic = dict(zip(arrays, grads, strict=False))
    params = list(layer.named_parameters())
    analytic.update({name: p.grad.copy() for name, p in params})
    eps = 1e-5
    magnitude = float(sum(np.sum(np.abs(t)) for t in terms()))
    floor = 16 * np.finfo(np.float64).eps * max(magnitude, 1e-300) / eps / tol
    errors = {}
    for name, array in [*arrays.items(), *((n, p.data) for n, p in params)]:
        numerical = numerical_gradient(f, array, eps=eps, order=4)
        a = analytic[name]
        assert a.shape == numerical.shape, name
        scale = max(np.max(np.abs(a)), np.max(np.abs(numerical)), floor)
        errors[name] = float(np.max(np.abs(a - numerical)) / scale)
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"relative errors above {tol}: {bad} (all: {errors})"
    return errors


def _bool_mask(rng, shape, p=0.4, keep_first=True):
    mask = rng.random(shape) < p
    if keep_first:
        mask[..., 0] = False
    return mask


def _float_mask(rng, shape, keep_first=True):
    """Finite biases with some -inf (never in the first column when ``keep_first``)."""
    mask = rng.standard_normal(shape)
    mask[rng.random(shape) < 0.25] = -np.inf
    if keep_first:
        mask[..., 0] = rng.standard_normal(mask[..., 0].shape)
    return mask


# -------------------------------------------------------------- MultiheadAttention
@st.composite
def mha_cases(draw):
    heads = draw(st.integers(1, 3))
    case = dict(
        E=heads * draw(st.integers(1, 2)), H=heads, N=draw(st.integers(1, 3)),
        L=draw(st.integers(1, 3)), S=draw(st.integers(1, 4)),
        kdim=draw(st.sampled_from([None, 2, 3])), vdim=draw(st.sampled_from([None, 1, 4])),
        bias=draw(st.booleans()), batch_first=draw(st.booleans()),
        add_bias_kv=draw(st.booleans()), add_zero_attn=draw(st.booleans()),
        unbatched=draw(st.booleans()),
        kpm=draw(st.sampled_from(["none", "bool", "float"])),
        am=draw(st.sampled_from(["none", "bool2", "bool3", "float2", "float3"])),
        need_weights=draw(st.booleans()), average=draw(st.booleans()),
        seed=draw(seeds()))
    return case


def _mha_setup(case, *, keep_first=True):
    rng = np.random.default_rng(case["seed"])
    E, H, N, L, S = case["E"], case["H"], case["N"], case["L"], case["S"]
    layer = MultiheadAttention(E, H, bias=case["bias"], add_bias_kv=case["add_bias_kv"],
                               add_zero_attn=case["add_zero_attn"], kdim=case["kdim"],
                               vdim=case["vdim"], batch_first=case["batch_first"],
                               seed=case["seed"])
    if layer.in_proj_bias is not None:  # torch starts the biases at zero: test real ones
        layer.in_proj_bias.data[...] = rng.standard_normal(3 * E)
        layer.out_proj.bias.data[...] = rng.standard_normal(E)
    kdim, vdim = layer.kdim, layer.vdim

    def shape(T, D):
        if case["unbatched"]:
            return (T, D)
        return (N, T, D) if case["batch_first"] else (T, N, D)

    inputs = {"query": rng.uniform(-2, 2, shape(L, E)), "key": rng.uniform(-2, 2, shape(S, kdim)),
              "value": rng.uniform(-2, 2, shape(S, vdim))}
    kpm_shape = (S,) if case["unbatched"] else (N, S)
    kpm = {"none": None, "bool": _bool_mask(rng, kpm_shape, keep_first=keep_first),
           "float": _float_mask(rng, kpm_shape, keep_first)}[case["kpm"]]
    n3 = H if case["unbatched"] else N * H
    am = {"none": None, "bool2": _bool_mask(rng, (L, S), keep_first=keep_first),
          "bool3": _bool_mask(rng, (n3, L, S), keep_first=keep_first),
          "float2": _float_mask(rng, (L, S), keep_first),
          "float3": _float_mask(rng, (n3, L, S), keep_first)}[case["am"]]
    kwargs = dict(key_padding_mask=kpm, need_weights=case["need_weights"], attn_mask=am,
                  average_attn_weights=case["average"])
    return layer, inputs, kwargs


def _torch_mha(layer, torch):
    c = layer.get_config()
    theirs = torch.nn.MultiheadAttention(
        c["embed_dim"], c["num_heads"], dropout=c["dropout"], bias=c["bias"],
        add_bias_kv=c["add_bias_kv"], add_zero_attn=c["add_zero_attn"], kdim=c["kdim"],
        vdim=c["vdim"], batch_first=c["batch_first"], dtype=torch.float64)
    assert list(theirs.state_dict()) == list(layer.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    return theirs.eval()


def _run_torch_mha(theirs, inputs, kwargs, g, g_w, torch):
    tensors = {k: torch.from_numpy(v).requires_grad_(True) for k, v in inputs.items()}
    tkw = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
           for k, v in kwargs.items()}
    with warnings.catch_warnings():  # torch warns on a bool mask with a float one
        warnings.simplefilter("ignore")
        out, weights = theirs(*tensors.values(), **tkw)
    loss = (out * torch.from_numpy(g)).sum()
    if g_w is not None:
        loss = loss + (weights * torch.from_numpy(g_w)).sum()
    loss.backward()
    return out, weights, tensors


@given(case=mha_cases())
def test_multihead_matches_torch(case):
    torch = _torch()
    layer, inputs, kwargs = _mha_setup(case)
    theirs = _torch_mha(layer, torch)
    out, weights = layer(*inputs.values(), **kwargs)
    rng = np.random.default_rng(case["seed"] + 1)
    g = rng.standard_normal(out.shape)
    g_w = None if weights is None else rng.standard_normal(weights.shape)
    grads = layer.backward(g, g_w)
    t_out, t_weights, tensors = _run_torch_mha(theirs, inputs, kwargs, g, g_w, torch)
    _close(out, t_out, "output")
    assert (weights is None) == (t_weights is None)
    if weights is not None:
        _close(weights, t_weights, "weights")
    for name, d in zip(inputs, grads, strict=True):
        _close(d, tensors[name].grad, f"d_{name}")
    torch_params = dict(theirs.named_parameters())
    assert [n for n, _ in layer.named_parameters()] == list(torch_params)
    for name, param in layer.named_parameters():
        _close(param.grad, torch_params[name].grad, name)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_fully_masked_rows_are_zero_not_nan(need_weights):
    """Our rows without any allowed key: zero weights, output = out_proj.bias, zero
    gradients. torch 2.13 gives the same with need_weights=False (compared everywhere) and
    NaN with need_weights=True (compared on the other rows)."""
    torch = _torch()
    rng = np.random.default_rng(3)
    E, H, N, L, S = 4, 2, 3, 4, 5
    layer = MultiheadAttention(E, H, batch_first=True, seed=3)
    layer.in_proj_bias.data[...] = rng.standard_normal(3 * E)
    layer.out_proj.bias.data[...] = rng.standard_normal(E)
    inputs = {"query": rng.standard_normal((N, L, E)), "key": rng.standard_normal((N, S, E)),
              "value": rng.standard_normal((N, S, E))}
    kpm = _bool_mask(rng, (N, S))
    kpm[1] = True  # sequence 1: every key is padding
    am = _bool_mask(rng, (L, S))
    am[2] = True  # query 2: may attend nothing
    kwargs = dict(key_padding_mask=kpm, attn_mask=am, need_weights=need_weights,
                  average_attn_weights=False)
    out, weights = layer(*inputs.values(), **kwargs)
    dead = np.zeros((N, L), bool)
    dead[1] = True
    dead[:, 2] = True
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[dead], np.broadcast_to(layer.out_proj.bias.data,
                                                             (dead.sum(), E)))
    if need_weights:
        assert np.all(weights.transpose(0, 2, 1, 3)[dead] == 0.0)
        blocked = kpm[:, None, None, :] | am[None, None]
        assert np.all(weights[np.broadcast_to(blocked, weights.shape)] == 0.0)
    g = rng.standard_normal(out.shape)
    g_w = None if weights is None else rng.standard_normal(weights.shape)
    d_query, d_key, d_value = layer.backward(g, g_w)
    assert all(np.isfinite(d).all() for d in (d_query, d_key, d_value))
    assert np.all(d_query[dead] == 0.0)
    assert np.all(d_key[1] == 0.0) and np.all(d_value[1] == 0.0)
    # torch: outputs (live rows) vs need_weights=True; everything vs need_weights=False.
    theirs = _torch_mha(layer, torch)
    t_out, t_weights, _ = _run_torch_mha(theirs, inputs, kwargs, g, None, torch)
    _close(out, t_out, "output (live rows)", ~dead)
    if need_weights:
        _close(weights.transpose(0, 2, 1, 3), t_weights.transpose(1, 2), "weights",
               ~dead)
    layer.zero_grad()
    layer(*inputs.values(), **{**kwargs, "need_weights": False})
    grads = layer.backward(g)
    theirs = _torch_mha(layer, torch)
    t_out, _, tensors = _run_torch_mha(theirs, inputs, {**kwargs, "need_weights": False}, g,
                                       None, torch)
    _close(out, t_out, "output (all rows, torch need_weights=False)")
    for name, d in zip(inputs, grads, strict=True):
        _close(d, tensors[name].grad, f"d_{name}")
    torch_params = dict(theirs.named_parameters())
    for name, param in layer.named_parameters():
        _close(param.grad, torch_params[name].grad, name)


@given(case=mha_cases())
def test_multihead_gradients(case):
    layer, inputs, kwargs = _mha_setup(case, keep_first=False)
    gradcheck_attention(layer, inputs, seed=case["seed"], kwargs=kwargs)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_is_causal_hint_matches_torch(need_weights):
    """torch's is_causal is a hint that attn_mask is causal (it may then skip the mask):
    with a causal attn_mask both give the same numbers; without attn_mask both refuse."""
    torch = _torch()
    rng = np.random.default_rng(7)
    layer = MultiheadAttention(4, 2, batch_first=True, seed=7)
    layer.in_proj_bias.data[...] = rng.standard_normal(12)
    x = rng.standard_normal((2, 4, 4))
    inputs = {"query": x[:, :, ::-1].copy(), "key": x, "value": x.copy()}
    kwargs = dict(attn_mask=np.triu(np.ones((4, 4), bool), 1), is_causal=True,
                  need_weights=need_weights)
    out, weights = layer(*inputs.values(), **kwargs)
    g = rng.standard_normal(out.shape)
    grads = layer.backward(g)
    t_out, t_weights, tensors = _run_torch_mha(_torch_mha(layer, torch), inputs, kwargs, g,
                                               None, torch)
    _close(out, t_out, "output")
    if need_weights:
        _close(weights, t_weights, "weights")
    for name, d in zip(inputs, grads, strict=True):
        _close(d, tensors[name].grad, f"d_{name}")
    with pytest.raises(ValueError, match="is_causal=True needs attn_mask"):
        layer(x, x, x, is_causal=True)


def test_multihead_defaults_follow_torch():
    layer = MultiheadAttention(6, 3)
    assert layer.batch_first is False  # PyTorch's default, unlike the rest of minirnn
    assert [n for n, _ in layer.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert np.all(layer.in_proj_bias.data == 0) and np.all(layer.out_proj.bias.data == 0)
    split = MultiheadAttention(6, 3, kdim=2, vdim=5, bias=False, add_bias_kv=True)
    assert {n: p.shape for n, p in split.named_parameters()} == {
        "q_proj_weight": (6, 6), "k_proj_weight": (6, 2), "v_proj_weight": (6, 5),
        "bias_k": (1, 1, 6), "bias_v": (1, 1, 6), "out_proj.weight": (6, 6)}
    x = np.random.default_rng(0).standard_normal((4, 2, 6))  # (L, N, E)
    out, weights = layer(x, x, x)
    assert out.shape == (4, 2, 6) and weights.shape == (2, 4, 4)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-12)


# ------------------------------------------------------------ scaled dot-product
@st.composite
def sdpa_cases(draw):
    return dict(batch=draw(st.sampled_from([(2,), (2, 3), (1, 2)])), L=draw(st.integers(1, 4)),
                S=draw(st.integers(1, 4)), E=draw(st.integers(1, 4)), Ev=draw(st.integers(1, 3)),
                mask=draw(st.sampled_from(["none", "bool", "bool_full", "float", "causal"])),
                scale=draw(st.sampled_from([None, 0.7])), seed=draw(seeds()))


def _sdpa_setup(case, keep_first):
    rng = np.random.default_rng(case["seed"])
    b, L, S = case["batch"], case["L"], case["S"]
    inputs = {"query": rng.uniform(-2, 2, (*b, L, case["E"])),
              "key": rng.uniform(-2, 2, (*b, S, case["E"])),
              "value": rng.uniform(-2, 2, (*b, S, case["Ev"]))}
    kind = case["mask"]
    mask = None
    if kind == "bool":  # True = may attend; broadcast over the batch
        mask = ~_bool_mask(rng, (L, S), keep_first=keep_first)
    elif kind == "bool_full":
        mask = ~_bool_mask(rng, (*b, L, S), keep_first=keep_first)
    elif kind == "float":
        mask = _float_mask(rng, (1, L, S), keep_first)
    kwargs = dict(attn_mask=mask, is_causal=kind == "causal")
    return ScaledDotProductAttention(scale=case["scale"]), inputs, kwargs


@given(case=sdpa_cases())
def test_scaled_dot_product_matches_torch(case):
    """Against torch.nn.functional.scaled_dot_product_attention (fully masked rows
    included: torch gives zeros there too), and its weights against torch's formula."""
    torch = _torch()
    F = torch.nn.functional
    layer, inputs, kwargs = _sdpa_setup(case, keep_first=False)
    out, weights = layer(*inputs.values(), **kwargs)
    rng = np.random.default_rng(case["seed"] + 1)
    g = rng.standard_normal(out.shape)
    grads = layer.backward(g)
    t = {k: torch.from_numpy(v).requires_grad_(True) for k, v in inputs.items()}
    mask = kwargs["attn_mask"]
    t_out = F.scaled_dot_product_attention(
        *t.values(), attn_mask=None if mask is None else torch.from_numpy(mask),
        is_causal=kwargs["is_causal"], scale=case["scale"])
    (t_out * torch.from_numpy(g)).sum().backward()
    _close(out, t_out, "output")
    for name, d in zip(inputs, grads, strict=True):
        _close(d, t[name].grad, f"d_{name}")
    # The weights, and gradients through them, against the formula where no row is dead.
    layer, inputs, kwargs = _sdpa_setup(case, keep_first=True)
    out, weights = layer(*inputs.values(), **kwargs)
    g_w = rng.standard_normal(weights.shape)
    grads = layer.backward(g, g_w)
    t = {k: torch.from_numpy(v).requires_grad_(True) for k, v in inputs.items()}
    scale = case["scale"] or 1 / np.sqrt(case["E"])
    scores = t["query"] @ t["key"].transpose(-1, -2) * scale
    L, S = case["L"], case["S"]
    additive = (causal_mask(L, S) if kwargs["is_causal"] else
                None if kwargs["attn_mask"] is None else kwargs["attn_mask"])
    if additive is not None and additive.dtype == bool:
        scores = scores.masked_fill(~torch.from_numpy(additive), float("-inf"))
    elif additive is not None:
        scores = scores + torch.from_numpy(additive)
    t_weights = torch.softmax(scores, dim=-1)
    t_out = t_weights @ t["value"]
    ((t_out * torch.from_numpy(g)).sum() + (t_weights * torch.from_numpy(g_w)).sum()).backward()
    _close(weights, t_weights, "weights")
    _close(out, t_out, "output")
    for name, d in zip(inputs, grads, strict=True):
        _close(d, t[name].grad, f"d_{name} (through the weights)")


@given(case=sdpa_cases())
def test_scaled_dot_product_gradients(case):
    layer, inputs, kwargs = _sdpa_setup(case, keep_first=False)
    gradcheck_attention(layer, inputs, seed=case["seed"], kwargs=kwargs)


# ------------------------------------------------- additive, dot and general
def _make(kind, Eq, Ek, seed, option):
    if kind == "additive":
        return AdditiveAttention(Eq, Ek, 3, bias=option, seed=seed)
    if kind == "dot":
        return DotAttention(scale=option)
    return GeneralAttention(Eq, Ek, scale=option, seed=seed)


@st.composite
def luong_cases(draw):
    kind = draw(st.sampled_from(["additive", "dot", "general"]))
    Ek = draw(st.integers(1, 4))
    return dict(kind=kind, N=draw(st.integers(1, 3)), L=draw(st.integers(1, 3)),
                S=draw(st.integers(1, 4)), Ek=Ek,
                Eq=Ek if kind == "dot" else draw(st.integers(1, 4)), Ev=draw(st.integers(1, 3)),
                one_step=draw(st.booleans()), value_is_key=draw(st.booleans()),
                mask=draw(st.sampled_from(["none", "bool", "float", "lengths", "both"])),
                option=draw(st.booleans()), seed=draw(seeds()))


def _luong_setup(case, keep_first):
    rng = np.random.default_rng(case["seed"])
    N, L, S = case["N"], case["L"], case["S"]
    layer = _make(case["kind"], case["Eq"], case["Ek"], case["seed"], case["option"])
    q_shape = (N, case["Eq"]) if case["one_step"] else (N, L, case["Eq"])
    inputs = {"query": rng.uniform(-2, 2, q_shape), "key": rng.uniform(-2, 2, (N, S, case["Ek"]))}
    if not case["value_is_key"]:
        inputs["value"] = rng.uniform(-2, 2, (N, S, case["Ev"]))
    kind = case["mask"]
    kwargs = {}
    if kind in ("bool", "both"):
        kwargs["key_padding_mask"] = _bool_mask(rng, (N, S), keep_first=keep_first)
    if kind == "float":
        kwargs["key_padding_mask"] = _float_mask(rng, (N, S), keep_first)
    if kind in ("lengths", "both"):
        kwargs["key_lengths"] = rng.integers(1 if keep_first else 0, S + 1, N)
    return layer, inputs, kwargs


def _torch_luong(layer, t, kwargs, torch):
    q = t["query"] if t["query"].dim() == 3 else t["query"][:, None]
    k = t["key"]
    v = t.get("value", k)
    params = {n: torch.from_numpy(p.data).requires_grad_(True)
              for n, p in layer.named_parameters()}
    if isinstance(layer, AdditiveAttention):
        pq = q @ params["weight_q"].T
        if "bias" in params:
            pq = pq + params["bias"]
        hidden = torch.tanh(pq[:, :, None] + (k @ params["weight_k"].T)[:, None])
        scores = hidden @ params["weight_v"]
    else:
        if isinstance(layer, GeneralAttention):
            q = q @ params["weight"].T
        scores = q @ k.transpose(1, 2)
        if layer.scale:
            scores = scores / np.sqrt(k.shape[-1])
    kpm = kwargs.get("key_padding_mask")
    if kpm is not None and kpm.dtype == bool:
        scores = scores.masked_fill(torch.from_numpy(kpm)[:, None], float("-inf"))
    elif kpm is not None:
        scores = scores + torch.from_numpy(kpm)[:, None]
    if kwargs.get("key_lengths") is not None:
        pad = np.arange(k.shape[1])[None] >= kwargs["key_lengths"][:, None]
        scores = scores.masked_fill(torch.from_numpy(pad)[:, None], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    out = weights @ v
    if t["query"].dim() == 2:
        out, weights = out[:, 0], weights[:, 0]
    return out, weights, params


@given(case=luong_cases())
def test_additive_dot_general_match_torch_autograd(case):
    torch = _torch()
    layer, inputs, kwargs = _luong_setup(case, keep_first=True)
    out, weights = layer(*inputs.values(), **kwargs)
    rng = np.random.default_rng(case["seed"] + 1)
    g, g_w = rng.standard_normal(out.shape), rng.standard_normal(weights.shape)
    grads = layer.backward(g, g_w)
    t = {k: torch.from_numpy(v).requires_grad_(True) for k, v in inputs.items()}
    t_out, t_weights, params = _torch_luong(layer, t, kwargs, torch)
    ((t_out * torch.from_numpy(g)).sum() + (t_weights * torch.from_numpy(g_w)).sum()).backward()
    _close(out, t_out, "output")
    _close(weights, t_weights, "weights")
    if case["value_is_key"]:
        assert grads[2] is None  # the key's gradient holds both uses
    for name, d in zip(inputs, grads, strict=False):
        _close(d, t[name].grad, f"d_{name}")
    for name, param in layer.named_parameters():
        _close(param.grad, params[name].grad, name)


@given(case=luong_cases())
def test_additive_dot_general_gradients(case):
    layer, inputs, kwargs = _luong_setup(case, keep_first=False)
    gradcheck_attention(layer, inputs, seed=case["seed"], kwargs=kwargs)


@given(case=luong_cases())
def test_step_api_matches_torch_autograd(case):
    """prepare once, step per query, step_backward per query, prepare_backward once: the
    same outputs and gradients as torch over the whole query sequence, to 1e-10."""
    torch = _torch()
    layer, inputs, kwargs = _luong_setup(case, keep_first=True)
    q = inputs["query"] if inputs["query"].ndim == 3 else inputs["query"][:, None]
    memory = layer.prepare(inputs["key"], inputs.get("value"), **kwargs)
    steps = [layer.step(np.ascontiguousarray(q[:, i]), memory) for i in range(q.shape[1])]
    out = np.stack([c for c, _, _ in steps], axis=1)
    weights = np.stack([w for _, w, _ in steps], axis=1)
    rng = np.random.default_rng(case["seed"] + 1)
    g, g_w = rng.standard_normal(out.shape), rng.standard_normal(weights.shape)
    grad = layer.memory_grad(memory)
    d_query = np.stack([layer.step_backward(g[:, i], cache, memory, grad, g_w[:, i])
                        for i, (_, _, cache) in enumerate(steps)], axis=1)
    d_key, d_value = layer.prepare_backward(memory, grad)
    assert layer._cache is None  # the step API keeps nothing on the layer
    t = {k: torch.from_numpy(v).requires_grad_(True) for k, v in inputs.items()}
    t["query"] = torch.from_numpy(q).requires_grad_(True)
    t_out, t_weights, params = _torch_luong(layer, t, kwargs, torch)
    ((t_out * torch.from_numpy(g)).sum() + (t_weights * torch.from_numpy(g_w)).sum()).backward()
    _close(out, t_out, "output")
    _close(weights, t_weights, "weights")
    _close(d_query, t["query"].grad, "d_query")
    _close(d_key, t["key"].grad, "d_key")
    if case["value_is_key"]:
        assert d_value is None
    else:
        _close(d_value, t["value"].grad, "d_value")
    for name, param in layer.named_parameters():
        _close(param.grad, params[name].grad, name)


def test_step_api_selects_rows_and_refuses_bad_inputs():
    rng = np.random.default_rng(0)
    layer = AdditiveAttention(3, 4, 5, seed=0)
    key = rng.standard_normal((3, 6, 4))
    memory = layer.prepare(key, key_lengths=np.array([6, 2, 4]))
    assert memory.projected.shape == (3, 6, 5)
    query = rng.standard_normal((3, 3))
    context, weights, _ = layer.step(query, memory)
    assert np.all(weights[1, 2:] == 0.0) and np.allclose(weights.sum(axis=1), 1.0)
    rows = np.array([2, 2, 0])
    c2, w2, _ = layer.step(query[rows], memory.select(rows))
    np.testing.assert_allclose(c2, context[rows], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w2, weights[rows], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"query: expected 3 features"):
        layer.step(rng.standard_normal((3, 2)), memory)
    with pytest.raises(ValueError, match=r"query: expected batch size N=3"):
        layer.step(rng.standard_normal((2, 3)), memory)
    with pytest.raises(ValueError, match=r"key: expected 4 features"):
        layer.prepare(rng.standard_normal((3, 6, 2)))
    with pytest.raises(ValueError, match=r"value: expected shape \(3, 6, Ev\)"):
        layer.prepare(key, rng.standard_normal((3, 5, 2)))
    with pytest.raises(ValueError, match=r"d_context: expected shape \(3, 4\)"):
        _, _, cache = layer.step(query, memory)
        layer.step_backward(np.zeros((3, 5)), cache, memory, layer.memory_grad(memory))


# ----------------------------------------------------- masks, dead rows, dropout
def _all_layers(rng, E=4):
    """(layer, inputs, kwargs with a key padding mask, padded (N, S)) for every class."""
    N, L, S = 2, 3, 5
    q, k, v = (rng.standard_normal((N, T, E)) for T in (L, S, S))
    pad = np.zeros((N, S), bool)
    pad[0, 3:] = True
    pad[1, :] = True  # sequence 1: everything is padding
    return [
        (AdditiveAttention(E, E, 3, seed=0), (q, k, v), {"key_padding_mask": pad}),
        (DotAttention(), (q, k, v), {"key_padding_mask": pad}),
        (GeneralAttention(E, E, seed=0), (q, k, v), {"key_lengths": np.array([3, 0])}),
        (ScaledDotProductAttention(), (q, k, v), {"attn_mask": ~pad[:, None, :]}),
        (MultiheadAttention(E, 2, batch_first=True, seed=0), (q, k, v),
         {"key_padding_mask": pad}),
    ], pad


def test_padded_keys_get_exactly_zero_weight_and_dead_rows_no_nan():
    rng = np.random.default_rng(0)
    cases, pad = _all_layers(rng)
    for layer, inputs, kwargs in cases:
        name = type(layer).__name__
        if isinstance(layer, MultiheadAttention):
            kwargs = {**kwargs, "average_attn_weights": False}
        out, weights = layer(*inputs, **kwargs)
        w = weights[:, None] if weights.ndim == 3 else weights  # (N, heads, L, S)
        assert np.all(w[np.broadcast_to(pad[:, None, None, :], w.shape)] == 0.0), name
        assert np.all(w[1] == 0.0), name  # the fully padded sequence
        np.testing.assert_allclose(w[0].sum(-1), 1.0, rtol=1e-12, err_msg=name)
        assert np.isfinite(out).all(), name
        dead_out = out[1] - (layer.out_proj.bias.data if isinstance(
            layer, MultiheadAttention) else 0.0)
        assert np.all(dead_out == 0.0), name
        grads = layer.backward(rng.standard_normal(out.shape),
                               rng.standard_normal(weights.shape))
        assert all(np.isfinite(d).all() for d in grads), name
        assert all(np.all(d[1] == 0.0) for d in grads), name
        assert all(np.isfinite(p.grad).all() for p in layer.parameters()), name


@pytest.mark.parametrize("make", [
    lambda: ScaledDotProductAttention(dropout=0.4, seed=5),
    lambda: MultiheadAttention(4, 2, dropout=0.4, batch_first=True, seed=5)])
def test_dropout_on_the_weights_in_training_only(make):
    layer = make()
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, T, 4)) for T in (3, 5, 5))
    kwargs = {"average_attn_weights": False} if isinstance(layer, MultiheadAttention) else {}
    out_eval, w_eval = layer(q, k, v, **kwargs)
    again, _ = layer(q, k, v, **kwargs)
    np.testing.assert_array_equal(out_eval, again)  # no dropout in evaluation
    _, w_train = layer(q, k, v, training=True, **kwargs)
    dropped = w_train == 0.0
    assert dropped.any() and (~dropped).any()
    np.testing.assert_allclose(w_train[~dropped], w_eval[~dropped] / 0.6, rtol=1e-12)
    inputs = {"query": q, "key": k, "value": v}
    gradcheck_attention(layer, inputs, seed=2, kwargs=kwargs, training=True, dropout_seed=9)


def test_float32_end_to_end():
    rng = np.random.default_rng(2)
    for layer64, inputs, kwargs in _all_layers(rng)[0]:
        layer32 = type(layer64)(**layer64.get_config()) if not layer64.parameters() else None
        if layer32 is None:
            config = {**layer64.get_config(), "dtype": "float32"}
            layer32 = type(layer64)(**config)
            layer32.load_state_dict(layer64.state_dict())
        x32 = [a.astype(np.float32) for a in inputs]
        out64, _ = layer64(*inputs, **kwargs)
        out32, w32 = layer32(*x32, **kwargs)
        assert out32.dtype == np.float32 and w32.dtype == np.float32
        np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
        g = rng.standard_normal(out64.shape)
        grads64 = layer64.backward(g)
        grads32 = layer32.backward(g.astype(np.float32))
        for d32, d64 in zip(grads32, grads64, strict=True):
            assert d32.dtype == np.float32
            np.testing.assert_allclose(d32, d64, rtol=1e-3, atol=1e-4)
        for p32, p64 in zip(layer32.parameters(), layer64.parameters(), strict=True):
            assert p32.grad.dtype == np.float32
            np.testing.assert_allclose(p32.grad, p64.grad, rtol=1e-3, atol=1e-4)


def test_backward_accumulates_into_parameter_grads():
    rng = np.random.default_rng(4)
    for layer, inputs, kwargs in _all_layers(rng)[0]:
        out, _ = layer(*inputs, **kwargs)
        g = rng.standard_normal(out.shape)
        layer.backward(g)
        once = [p.grad.copy() for p in layer.parameters()]
        layer.backward(g)
        for p, first in zip(layer.parameters(), once, strict=True):
            np.testing.assert_allclose(p.grad, 2 * first, rtol=1e-12)


def test_no_grad_keeps_no_cache():
    layer = MultiheadAttention(4, 2, seed=0)
    x = np.ones((3, 2, 4))
    with no_grad():
        layer(x, x, x)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((3, 2, 4)))


# ------------------------------------------------------------------------ errors
def _mha_error_cases():
    q, kv = np.zeros((3, 2, 4)), np.zeros((5, 2, 4))
    return [
        (dict(query=np.zeros((3, 2, 5))), ValueError, r"query: expected 4 features"),
        (dict(query=np.zeros((3, 2, 4), np.float32)), TypeError, r"query: expected dtype "
         r"float64"),
        (dict(key=np.zeros((5, 4))), ValueError, r"key: expected 3-D"),
        (dict(key=np.zeros((5, 3, 4))), ValueError, r"key: expected batch size N=2"),
        (dict(value=np.zeros((4, 2, 4))), ValueError, r"value: expected S=5"),
        (dict(key_padding_mask=np.zeros((5, 2), bool)), ValueError,
         r"key_padding_mask: expected shape \(2, 5\), got \(5, 2\)"),
        (dict(key_padding_mask=np.zeros((2, 5), int)), TypeError,
         r"key_padding_mask: expected dtype bool or floating, got int"),
        (dict(attn_mask=np.zeros((3, 4), bool)), ValueError,
         r"attn_mask: expected shape \(3, 5\), got \(3, 4\)"),
        (dict(attn_mask=np.zeros((2, 3, 5), bool)), ValueError,
         r"attn_mask: expected shape \(4, 3, 5\)"),
        (dict(attn_mask=np.full((3, 5), np.nan)), ValueError, r"attn_mask contains NaN"),
        (dict(is_causal=True), ValueError, r"is_causal=True needs attn_mask"),
        (dict(query=np.full((3, 2, 4), np.inf)), ValueError, r"query contains NaN or Inf"),
    ], q, kv


def test_bad_inputs_raise_before_anything_changes():
    cases, q, kv = _mha_error_cases()
    layer = MultiheadAttention(4, 2, seed=0)
    rng = np.random.default_rng(0)
    x = [rng.standard_normal(a.shape) for a in (q, kv, kv)]
    out, _ = layer(*x)
    g = rng.standard_normal(out.shape)
    expected = layer.backward(g)
    for change, error, message in cases:
        args = {"query": q, "key": kv, "value": kv, **change}
        with pytest.raises(error, match=message):
            layer(**args)
        for d, e in zip(layer.backward(g), expected, strict=True):  # the first forward's
            np.testing.assert_array_equal(d, e)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: MultiheadAttention(6, 4), ValueError, "embed_dim must be divisible by num_heads"),
    (lambda: MultiheadAttention(4, 2, dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
    (lambda: MultiheadAttention(4, 0), ValueError, "num_heads must be greater than zero"),
    (lambda: AdditiveAttention(4, 4, 0), ValueError, "attention_dim must be greater than zero"),
    (lambda: GeneralAttention(4, 4, dtype=np.int64), TypeError, "dtype"),
    (lambda: ScaledDotProductAttention(scale=-1.0), ValueError, "scale must be a positive"),
    (lambda: DotAttention(scale=1), TypeError, "scale must be a bool"),
])
def test_bad_constructor_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_bad_inputs_of_the_batch_first_layers_and_upstream_gradients():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    layer = GeneralAttention(4, 4, seed=0)
    with pytest.raises(ValueError, match=r"query: expected batch size N=2"):
        layer(q[:1], k)
    with pytest.raises(ValueError, match=r"key: expected 4 features"):
        layer(q, k[..., :3])
    with pytest.raises(ValueError, match=r"key_lengths must be in \[0, 5\]"):
        layer(q, k, key_lengths=np.array([6, 1]))
    with pytest.raises(ValueError, match=r"key_lengths: expected 2 integers"):
        layer(q, k, key_lengths=np.array([1.5, 1.0]))
    with pytest.raises(ValueError, match=r"key: expected 3 features"):
        DotAttention()(q[..., :3], k)
    with pytest.raises(RuntimeError, match="before forward"):
        AdditiveAttention(4, 4, 2).backward(np.zeros((2, 3, 4)))
    out, w = layer(q, k)
    d_first = layer.backward(np.ones(out.shape))
    with pytest.raises(ValueError, match=r"key_padding_mask: expected shape \(2, 5\)"):
        layer(q[:, :1], k, key_padding_mask=np.zeros((2, 4), bool))
    for d, e in zip(layer.backward(np.ones(out.shape)), d_first, strict=True):
        np.testing.assert_array_equal(d, e)  # still the first forward's cache
    with pytest.raises(ValueError, match=r"d_output: expected shape \(2, 3, 4\), got \(3, 4\)"):
        layer.backward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"d_weights: expected shape \(2, 3, 5\)"):
        layer.backward(np.zeros(out.shape), np.zeros((2, 5)))
    mha = MultiheadAttention(4, 2, seed=0)
    x = rng.standard_normal((3, 2, 4))
    out, w = mha(x, x, x, need_weights=False)
    assert w is None
    with pytest.raises(ValueError, match="need_weights=False"):
        mha.backward(np.zeros(out.shape), np.zeros((2, 3, 3)))
    sdpa = ScaledDotProductAttention()
    with pytest.raises(ValueError, match=r"attn_mask: expected a shape that broadcasts to"):
        sdpa(q, k, k, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="attn_mask and is_causal"):
        sdpa(q, k, k, attn_mask=np.ones((3, 5), bool), is_causal=True)
    with pytest.raises(TypeError, match=r"key must have the dtype of query"):
        sdpa(q, k.astype(np.float32), k)


# ----------------------------------------------------------------- model files
@pytest.mark.parametrize("make", [
    lambda: AdditiveAttention(3, 4, 5, bias=False, seed=1),
    lambda: DotAttention(scale=True),
    lambda: GeneralAttention(3, 4, scale=True, seed=1),
    lambda: ScaledDotProductAttention(dropout=0.1, scale=0.5),
    lambda: MultiheadAttention(4, 2, dropout=0.1, add_bias_kv=True, kdim=3, vdim=5,
                               batch_first=True, seed=1),
])
def test_get_config_round_trips_through_a_model_file(make, tmp_path):
    layer = make()
    for cls in CLASSES:  # until minirnn.nn.layers exports them (then they are built in)
        register_layer(cls)
    path = tmp_path / "attention.npz"
    save_model(path, layer)
    loaded = load_model(path)
    assert type(loaded) is type(layer) and loaded.get_config() == layer.get_config()
    for (name, a), (name2, b) in zip(layer.state_dict().items(), loaded.state_dict().items(),
                                     strict=True):
        assert name == name2
        np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    dims = {"query": 4 if isinstance(layer, MultiheadAttention) else 3,
            "key": getattr(layer, "kdim", 4), "value": getattr(layer, "vdim", 2)}
    if isinstance(layer, (DotAttention, ScaledDotProductAttention)):
        dims = {"query": 4, "key": 4, "value": 2}
    q = rng.standard_normal((2, 3, dims["query"]))
    k = rng.standard_normal((2, 5, dims["key"]))
    v = rng.standard_normal((2, 5, dims["value"]))
    for a, b in zip(layer(q, k, v), loaded(q, k, v), strict=True):
        np.testing.assert_array_equal(a, b)

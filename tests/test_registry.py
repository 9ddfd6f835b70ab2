"""minirnn.nn.registry and model files of custom classes: a registered layer or cell saves and
loads by its name (contrib cells included); an unregistered one fails at save time, before
anything is written, with a message saying how to register it."""

import numpy as np
import pytest

from minirnn import Cell, Layer, Sequential, load
from minirnn.nn import contrib, registry
from minirnn.nn.contrib import IndRNNCell, LayerNormLSTMCell, MGUCell
from minirnn.nn.functional import sigmoid, sigmoid_grad, tanh, tanh_grad
from minirnn.nn.io import ModelFileError, check_savable, load_model, save_model
from minirnn.nn.layers import LSTM, Dense, LastStep, Recurrent
from minirnn.nn.registry import cell_class, layer_class, register_cell, register_layer


@pytest.fixture(autouse=True)
def scratch_registry(monkeypatch):
    """Each test starts from minirnn's own registrations (not those of other tests or of
    the docs' examples), and its registrations vanish after it (the registry is global)."""
    def own(table):
        return {k: v for k, v in table.items() if v.__module__.startswith("minirnn.")}

    monkeypatch.setattr(registry, "_CELLS", own(registry.cell_classes()))
    monkeypatch.setattr(registry, "_LAYERS", own(registry.layer_classes()))


class JANETCell(Cell):
    """JANET (van der Westhuizen & Lasenby 2018): an LSTM with only a forget gate,
    ``c_t = f * c_{t-1} + (1 - f) * tanh(a_c)``, ``f = sigmoid(a_f)``; the output is c."""

    num_chunks = 2
    gate_names = ("f", "c")
    state_names = ("h",)

    def step(self, xp, hp, state):
        H = self.hidden_size
        a = xp + hp
        f, g = sigmoid(a[:, :H]), tanh(a[:, H:])
        h = f * state[0] + (1.0 - f) * g
        return (h,), (f, g, state[0])

    def step_backward(self, dstate, cache):
        f, g, h_prev = cache
        dh = dstate[0]
        da = np.concatenate([dh * (h_prev - g) * sigmoid_grad(f),
                             dh * (1.0 - f) * tanh_grad(g)], axis=1)
        return da, da, (dh * f,)


def _model(cell):
    return Sequential(Recurrent(cell, 3, 4, num_layers=2, bidirectional=True, seed=0),
                      LastStep(), Dense(8, 1, seed=1))


def _round_trip(model, path):
    x = np.random.default_rng(0).uniform(-1, 1, (2, 5, 3))
    lengths = np.array([5, 2])
    save_model(path, model)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.forward(x, lengths=lengths),
                                  model.forward(x, lengths=lengths))
    return loaded


CONTRIB = [obj for name in contrib.__all__
           if isinstance(obj := getattr(contrib, name), type) and issubclass(obj, Cell)]


def test_every_contrib_cell_is_listed():
    assert {IndRNNCell, MGUCell, LayerNormLSTMCell} <= set(CONTRIB)


@pytest.mark.parametrize("cell", CONTRIB, ids=lambda c: c.__name__)
def test_contrib_cells_are_registered_and_round_trip(cell, tmp_path):
    assert cell_class(cell.__name__) is cell
    loaded = _round_trip(_model(cell), tmp_path / "m.npz")
    assert loaded[0].cell_class is cell


def test_a_registered_custom_cell_round_trips(tmp_path):
    assert register_cell(JANETCell) is JANETCell  # usable as a decorator: returns the class
    loaded = _round_trip(_model(JANETCell), tmp_path / "m.npz")
    assert loaded[0].cell_class is JANETCell
    assert type(load(tmp_path / "m.npz")[0]) is Recurrent  # the public minirnn.load too


def test_register_cell_as_a_decorator(tmp_path):
    @register_cell
    class CIFGCell(JANETCell):
        pass

    assert cell_class("CIFGCell") is CIFGCell
    _round_trip(Recurrent(CIFGCell, 3, 2, seed=0), tmp_path / "m.npz")


@pytest.mark.parametrize("save", [
    lambda model, path: save_model(path, model),
    lambda model, path: model.save(path),
], ids=["save_model", "Sequential.save"])
def test_an_unregistered_cell_fails_at_save_before_writing(save, tmp_path):
    path = tmp_path / "m.npz"
    with pytest.raises(ValueError) as info:
        save(_model(JANETCell), path)
    message = str(info.value)
    assert "'JANETCell'" in message and "not registered" in message and "layer 0" in message
    assert "minirnn.nn.registry import register_cell" in message and "@register_cell" in message
    assert not path.exists() and list(tmp_path.iterdir()) == []  # not even a temporary file


def test_an_unregistered_cell_does_not_replace_an_existing_file(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _model(MGUCell))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="register_cell"):
        save_model(path, _model(JANETCell))
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


class Scale(Layer):
    """A parameter-free custom layer: y = k x."""

    def __init__(self, k: float = 2.0) -> None:
        super().__init__()
        self.k = k

    def forward(self, x, *, training=False):
        return self.k * x

    def backward(self, dy):
        return self.k * dy

    def get_config(self):
        return {"k": self.k}


def test_an_unregistered_layer_fails_at_save_and_a_registered_one_loads(tmp_path):
    model = Sequential(LSTM(3, 4, seed=0), Scale(0.5), LastStep(), Dense(4, 1, seed=0))
    with pytest.raises(ValueError, match=r"layer class 'Scale' \(layer 1\) is not registered.*"
                                         r"@register_layer"):
        save_model(tmp_path / "m.npz", model)
    assert not (tmp_path / "m.npz").exists()
    register_layer(Scale)
    assert layer_class("Scale") is Scale
    loaded = _round_trip(model, tmp_path / "m.npz")
    assert type(loaded[1]) is Scale and loaded[1].k == 0.5


def test_nested_sequential_names_the_path():
    inner = Sequential(Recurrent(JANETCell, 3, 2, seed=0))
    with pytest.raises(ValueError, match=r"the cell of layer 0 of layer 1\)"):
        check_savable(Sequential(Dense(3, 3), inner))


def test_a_class_shadowing_a_registered_name_is_refused(tmp_path):
    class MGUCell(JANETCell):  # not the contrib MGUCell the registry knows by this name
        pass

    with pytest.raises(ValueError, match=r"loading would build instead; rename the class"):
        save_model(tmp_path / "m.npz", Recurrent(MGUCell, 3, 2, seed=0))
    assert not (tmp_path / "m.npz").exists()


def test_a_file_naming_an_unregistered_cell_is_refused_on_load(tmp_path, monkeypatch):
    register_cell(JANETCell)
    save_model(tmp_path / "m.npz", _model(JANETCell))
    monkeypatch.delitem(registry._CELLS, "JANETCell")  # a program that did not register it
    with pytest.raises(ModelFileError, match="unknown cell class 'JANETCell'.*register_cell"):
        load_model(tmp_path / "m.npz")


def test_registering_refuses_what_is_not_a_class():
    with pytest.raises(TypeError, match="Cell subclass"):
        register_cell(Dense)
    with pytest.raises(TypeError, match="Layer subclass"):
        register_layer(JANETCell)

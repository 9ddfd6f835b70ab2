"""Issue 14 regressions: no silent wrong result, every bad input refused before anything changes.

Each test here failed before its fix (see docs/reliability.md for the list of promises).
"""

import json
import os
import stat
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.nn.io import ModelFileError, load_model, save_model
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, Dropout, LastStep
from minirnn.nn.optim import SGD, Adagrad, Adam, AdamW, RMSprop


def _model(seed=0, dropout_rng=None):
    return Sequential(GRU(2, 4, seed=seed), Dropout(0.1, seed=dropout_rng or seed), LastStep(),
                      Dense(4, 1, seed=seed))


def _rewrite(src, dst, change):
    """Copy a file, letting ``change(header, arrays)`` edit it, keeping checksums valid."""
    import hashlib

    with np.load(src, allow_pickle=False) as f:
        header = json.loads(str(f["__header__"]))
        arrays = {k: f[k] for k in f.files if k != "__header__"}
    change(header, arrays)
    header["arrays"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype), "sha256":
                            hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()}
                        for k, v in arrays.items()}
    np.savez(dst, __header__=np.array(json.dumps(header)), **arrays)


# ------------------------------------------------------------------ training keeps good weights
OPTIMIZERS = {
    "sgd": lambda m: SGD(m, lr=1e308), "sgd-momentum": lambda m: SGD(m, lr=1e308, momentum=0.9),
    "adam": lambda m: Adam(m, lr=1e308), "adamw": lambda m: AdamW(m, lr=1e308),
    "rmsprop": lambda m: RMSprop(m, lr=1e308), "adagrad": lambda m: Adagrad(m, lr=1e308),
}


# ------------------------------------------------------------------------------ arguments


# ---------------------------------------------------------------------------- model files
def test_nan_weights_are_refused_at_save_so_save_and_load_agree(tmp_path):
    model = _model()
    path = tmp_path / "m.npz"
    save_model(path, model)
    dict(model.named_parameters())["0.weight_hh_l0"].data[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        save_model(path, model)
    load_model(path)  # the earlier file is intact


def test_register_layer_before_first_load_keeps_builtins(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _model())
    script = textwrap.dedent(f"""
        from minirnn.nn.io import load_model, register_layer
        from minirnn.nn.layers import Identity

        @register_layer
        class Mine(Identity):
            pass

        print(type(load_model({str(path)!r})).__name__)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env={**os.environ})
    assert out.returncode == 0 and out.stdout.strip() == "Sequential", out.stderr


def test_first_loads_in_many_threads_at_once(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _model())
    script = textwrap.dedent(f"""
        import sys, threading, time
        import minirnn.nn.io as io
        from minirnn.nn.io import build_layer, load_model

        class SlowDict(dict):  # a slow registration widens any race to certainty
            def __setitem__(self, key, value):
                time.sleep(0.001)
                super().__setitem__(key, value)

            def setdefault(self, key, value):
                time.sleep(0.001)
                return super().setdefault(key, value)

        io._LAYER_REGISTRY = SlowDict()
        spec = {{"class": "Sequential", "config": {{"layers": [
            {{"class": "Dense", "config": {{"in_features": 2, "out_features": 1}}}}]}}}}
        barrier = threading.Barrier(16)
        errors = []
        def work(i):
            barrier.wait()
            time.sleep(0.002 * i)  # arrive while another thread is registering
            try:
                build_layer(spec)
                load_model({str(path)!r})
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(errors)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("key, value", [("hidden_size", 6000), ("hidden_size", 10**12),
                                        ("num_layers", 10**30), ("input_size", 10**9)])
def test_header_sizes_are_checked_against_the_arrays_before_building(tmp_path, key, value):
    path = tmp_path / "m.npz"
    save_model(path, _model())
    _rewrite(path, tmp_path / "bad.npz",
             lambda h, a: h["model"]["config"]["layers"][0]["config"].update({key: value}))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=key):
            load_model(tmp_path / "bad.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # nothing close to the 2.5 GB a hidden size of 6000 needs


def test_header_sizes_of_real_models_pass(tmp_path):
    models = [Sequential(LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, seed=0),
                         LastStep(), Dense(4, 2)),
              Sequential(GRU(1, 1), Dense(1, 1, bias=False)), RNN(7, 3, num_layers=4, bias=False),
              Sequential(LSTM(100, 100, proj_size=50), LastStep(), Dense(50, 1))]
    for i, model in enumerate(models):
        save_model(tmp_path / f"{i}.npz", model)
        load_model(tmp_path / f"{i}.npz")


def _with_member(src, dst, name, data, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        if name is not None:
            zout.writestr(zipfile.ZipInfo(name), data, compress_type=compress)


def test_zip_bomb_non_npy_and_duplicate_members_are_refused(tmp_path):
    import warnings

    path = tmp_path / "m.npz"
    save_model(path, _model())
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(bomb, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename),
                          compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="compressed"):
        load_model(bomb)
    _with_member(path, tmp_path / "text.npz", "notes.txt", b"hello")
    with pytest.raises(ModelFileError, match="not a .npy"):
        load_model(tmp_path / "text.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        _with_member(path, tmp_path / "dup.npz", "model/3.bias.npy",
                     zipfile.ZipFile(path).read("model/3.bias.npy"))
    with pytest.raises(ModelFileError, match="twice"):
        load_model(tmp_path / "dup.npz")


def test_files_follow_the_umask_and_long_names_work(tmp_path):
    old = os.umask(0o027)
    try:
        save_model(tmp_path / "m.npz", _model())
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o640
    long_name = tmp_path / ("m" * 246 + ".npz")
    save_model(long_name, _model())
    load_model(long_name)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# ------------------------------------------------------------------------------ checkpoints




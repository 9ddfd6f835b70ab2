"""Model files: round trips; truncated, bit-flipped, swapped, pickled, foreign and newer files
are rejected with ModelFileError and load nothing; a save killed mid-write loses nothing."""

import hashlib
import json
import os
import pickle
import stat
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.nn.io import FORMAT_VERSION, ModelFileError, load_model, read_file, save_model
from minirnn.nn.layers import (
    GRU,
    LSTM,
    RNN,
    Dense,
    Dropout,
    Identity,
    LastStep,
    ReLU,
    Sigmoid,
    Tanh,
)


def _tiny(seed=0):
    return Sequential(RNN(1, 2, seed=seed), LastStep(), Dense(2, 1, seed=seed))


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("model", [
    Sequential(LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, peephole=True, seed=0),
               Tanh(), Dropout(0.3), LastStep(), Dense(4, 2), Sigmoid()),
    Sequential(GRU(3, 4, reset_after=False, learn_initial_state=True, dtype=np.float32),
               ReLU(), Dense(4, 1, dtype=np.float32), Identity()),
    RNN(3, 2, nonlinearity="relu", batch_first=False, bias=False),
], ids=["lstm", "gru32", "rnn"])
def test_round_trip(model, tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, model)
    loaded = load_model(path)
    assert type(loaded) is type(model) and _same(model, loaded)
    assert loaded.get_config() == model.get_config()
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(model.dtype)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


def test_truncated_at_every_byte_is_rejected(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _tiny())
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    for cut in range(len(data)):
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            load_model(bad)


def test_bit_flips_are_rejected_or_harmless(tmp_path):
    original = _tiny()
    path = tmp_path / "m.npz"
    save_model(path, original)
    data = bytearray(path.read_bytes())
    bad = tmp_path / "bad.npz"
    rejected = 0
    for pos in range(0, len(data), 3):
        for bit in (0, 5):
            flipped = bytearray(data)
            flipped[pos] ^= 1 << bit
            bad.write_bytes(bytes(flipped))
            try:
                loaded = load_model(bad)
            except ModelFileError:
                rejected += 1
                continue
            # A flip in zip metadata nobody reads (e.g. a timestamp) may be harmless, but a
            # loaded model is then exactly the saved one: never silently different.
            assert _same(loaded, original), f"flip at byte {pos} bit {bit} changed the model"
    assert rejected > 0.9 * 2 * len(range(0, len(data), 3))


def _rewrite(src, dst, change, valid_checksums=False):
    """Copy an npz, letting ``change(header, arrays)`` edit it; with ``valid_checksums`` the
    header's shapes, dtypes and SHA-256 are recomputed so that only the change is wrong."""
    with np.load(src, allow_pickle=False) as f:
        header = json.loads(str(f["__header__"]))
        arrays = {k: f[k] for k in f.files if k != "__header__"}
    change(header, arrays)
    if valid_checksums:
        header["arrays"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype), "sha256":
                                hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()}
                            for k, v in arrays.items()}
    np.savez(dst, __header__=np.array(json.dumps(header)), **arrays)


def test_swapped_arrays_are_rejected(tmp_path):
    model = Sequential(GRU(2, 2, seed=0), LastStep(), Dense(2, 2, seed=0))
    path = tmp_path / "m.npz"
    save_model(path, model)

    def swap(header, arrays):
        a, b = "model/0.weight_hh_l0", "model/0.weight_ih_l0"
        arrays[a], arrays[b] = arrays[b].copy(), arrays[a].copy()

    _rewrite(path, tmp_path / "swapped.npz", swap)
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(tmp_path / "swapped.npz")


def test_pickles_are_never_loaded(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    obj = np.empty(1, dtype=object)
    obj[0] = Evil()
    np.savez(tmp_path / "evil.npz", __header__=np.array("{}"), payload=obj)
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "evil.npz")
    (tmp_path / "raw.npz").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "raw.npz")
    assert not marker.exists()


def test_foreign_newer_and_malicious_headers(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _tiny())
    cases = {
        "newer": (lambda h, a: h.update(format_version=FORMAT_VERSION + 1), "not supported"),
        "other arch": (lambda h, a: h["model"]["config"]["layers"][0].update(
            {"class": "LSTM"}), "parameters do not match|cannot build LSTM"),
        "bigger": (lambda h, a: h["model"]["config"]["layers"][0]["config"].update(
            hidden_size=3), "parameters do not match|needs"),
        "import": (lambda h, a: h["model"].update({"class": "os.system"}),
                   "unknown layer class 'os.system'"),
        "not minirnn": (lambda h, a: h.update(format="keras"), "not a minirnn file"),
        "checkpoint": (lambda h, a: h.update(kind="checkpoint"), "expected a model file"),
        "missing array": (lambda h, a: a.pop("model/2.bias"), "do not match the header"),
        "bad config": (lambda h, a: h["model"]["config"]["layers"][0]["config"].update(
            hidden_size=-1), "cannot build RNN"),
    }
    for name, (change, message) in cases.items():
        dst = tmp_path / f"{name}.npz"
        _rewrite(path, dst, change)
        with pytest.raises(ModelFileError, match=message):
            load_model(dst)
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(tmp_path / "text.npz")


def test_save_killed_mid_write_leaves_old_file(tmp_path):
    path = tmp_path / "model.npz"
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from minirnn import Sequential
        from minirnn.nn.io import save_model
        from minirnn.nn.layers import Dense, RNN, LastStep
        save_model({str(path)!r}, Sequential(RNN(1, 2, seed=0), LastStep(), Dense(2, 1, seed=0)))
        print("saved", flush=True)
        big = Sequential(RNN(1, 2, seed=0), LastStep(), Dense(2, 1, seed=0), Dense(1, 6000),
                         Dense(6000, 6000))
        while True:
            save_model({str(path)!r}, big)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"saved"
        deadline = time.time() + 60
        while not list(tmp_path.glob(".model.npz.*.tmp")):
            assert time.time() < deadline, "the second save never started"
            time.sleep(0.001)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _same(load_model(path), _tiny())


def test_header_lists_every_array_with_checksum(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _tiny(), metadata={"task": "adding"})
    header, arrays = read_file(path, "model")
    assert header["format"] == "minirnn" and header["format_version"] == FORMAT_VERSION
    assert set(header["arrays"]) == set(arrays) == {f"model/{k}" for k in _tiny().state_dict()}
    assert header["metadata"] == {"task": "adding"}
    assert all(len(meta["sha256"]) == 64 for meta in header["arrays"].values())
    with zipfile.ZipFile(path) as z:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in z.infolist())


@pytest.mark.parametrize("name", ["model_first_format.npz", "model_0.1.0.npz"])
def test_files_written_by_earlier_versions_still_load(name):
    """Files saved by earlier minirnn (tests/data: the first model-file format, commit
    d9bcd05, and 0.1.0 of commit ff4ef7c, before the package moved into layer folders, with
    contrib cells in generic Recurrent layers) load and give the outputs they recorded."""
    from pathlib import Path

    from minirnn.nn.io import load_metadata

    path = Path(__file__).parent / "data" / name
    model = load_model(path)
    meta = load_metadata(path)
    assert "written_by" in meta
    # To rounding: sigmoid's form (nn._math) is measured per process and differs in last bits.
    np.testing.assert_allclose(model.predict(np.array(meta["x"])), np.array(meta["y"]),
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("member", ["__header__.npy", "model/0.weight_ih_l0.npy", ".npy"])
def test_member_named_npy_holding_text_is_a_model_file_error(tmp_path, member):
    """A member named ``*.npy`` whose bytes are not numpy's format (np.load would return
    them as raw bytes) is refused as a ModelFileError naming it, whether it replaces the
    header, a declared array, or comes as an extra member named just ``.npy`` (issue 29:
    it was an AttributeError)."""
    path, bad = tmp_path / "m.npz", tmp_path / "bad.npz"
    save_model(path, _tiny())
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(bad, "w") as z:
        for info, data in members:
            z.writestr(info, b"plain text, not an array" if info.filename == member else data)
        if member == ".npy":
            z.writestr(".npy", b"plain text, not an array")
    with pytest.raises(ModelFileError, match=rf"archive member '{member}' is not a \.npy "
                                             r"array \(it starts with b'plain "):
        load_model(bad)
    with pytest.raises(ModelFileError, match="is not a .npy array"):
        read_file(bad, "model")


def _model(seed=0, dropout_rng=None):
    return Sequential(GRU(2, 4, seed=seed), Dropout(0.1, seed=dropout_rng or seed), LastStep(),
                      Dense(4, 1, seed=seed))


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
             lambda h, a: h["model"]["config"]["layers"][0]["config"].update({key: value}),
             valid_checksums=True)
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

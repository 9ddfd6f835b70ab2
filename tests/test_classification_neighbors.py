"""Nearest-neighbour evidence of SequenceClassifier: distances, calibrated probabilities, the
blend, its files, and that the test file never shapes the model."""

import json

import numpy as np
import pytest

import minirnn.apps.classification.classifier as classifier_module
from minirnn.apps.classification import (
    SequenceClassifier,
    class_distances,
    dtw_distances,
    euclidean_distances,
    fit_temperature,
    neighbor_proba,
    rocket_unavailable,
)
from minirnn.apps.data import CBF_CLASSES, cylinder_bell_funnel, save_ts, synthetic_control
from minirnn.cli import main
from minirnn.nn.io import ModelFileError


def _plain_dtw(p, q, window):
    t = len(p)
    d = np.full((t + 1, t + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, t + 1):
        for j in range(max(1, i - window), min(t, i + window) + 1):
            d[i, j] = np.sum((p[i - 1] - q[j - 1]) ** 2) + min(d[i - 1, j], d[i, j - 1],
                                                               d[i - 1, j - 1])
    return d[t, t] / t


@pytest.mark.parametrize("window", [0, 1, 3, 20])
def test_banded_dtw_matches_a_plain_implementation(window):
    rng = np.random.default_rng(window)
    a, b = rng.normal(size=(4, 13, 2)), rng.normal(size=(3, 13, 2))
    got = dtw_distances(a, b, window, chunk_cells=60)  # several chunks
    want = np.array([[_plain_dtw(p, q, window) for q in b] for p in a])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    if window == 0:
        np.testing.assert_allclose(got, euclidean_distances(a, b), rtol=1e-12)
    with pytest.raises(ValueError, match="equal shapes"):
        dtw_distances(a, b[:, :5], window)


def test_neighbor_probabilities_are_scale_free_and_tend_to_1nn():
    rng = np.random.default_rng(0)
    cdist = rng.uniform(0.1, 3.0, size=(20, 4))
    p = neighbor_proba(cdist, 0.5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(neighbor_proba(cdist * 37.0, 0.5), p, atol=1e-12)
    np.testing.assert_array_equal(p.argmax(1), cdist.argmin(1))
    assert np.all(neighbor_proba(cdist, 1e-3).max(axis=1) > 0.99)
    # an absent class (inf distance) gets probability 0; an exact match stays finite
    cdist[:, 3] = np.inf
    cdist[0, 0] = 0.0
    q = neighbor_proba(cdist, 0.5)
    assert np.all(q[:, 3] == 0) and np.all(np.isfinite(q)) and q[0, 0] > 0.99


def test_fitted_temperature_minimises_the_log_loss():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    cdist = rng.uniform(0.5, 1.5, size=(200, 3))
    cdist[np.arange(200), y] *= 0.7  # informative but noisy
    tau = fit_temperature(cdist, y)

    def loss(t):
        return -np.mean(np.log(neighbor_proba(cdist, t)[np.arange(200), y]))

    assert loss(tau) <= min(loss(tau * 2), loss(tau / 2), loss(0.01), loss(10.0)) + 1e-9


def _fit(**kw):
    x, y = synthetic_control(60, 40, seed=0)
    # blend="fixed": the neighbour weight as given (blend="auto" is tested with the rocket
    # member in test_classification_members.py)
    options = {"hidden_size": 8, "epochs": 3, "max_steps": 20, "seed": 0, "n_models": 2,
               "dtype": np.float64, "blend": "fixed", **kw}
    return SequenceClassifier(**options).fit(x, y), x, y


def test_blend_is_the_stated_mixture_fitted_on_training_only():
    clf, _, y = _fit(neighbors=0.4)
    npp = clf.neighbor_prep
    assert npp["distances"] == ["euclidean", "dtw", "ddtw"] and npp["dtw_band"] == 4
    xt, _ = synthetic_control(30, 40, seed=5)
    parts = clf.proba_parts(xt)
    want = 0.6 * parts["network"] + 0.4 * (parts["euclidean"] + parts["dtw"] + parts["ddtw"]) / 3
    np.testing.assert_allclose(clf.predict_proba(xt), want, atol=1e-12)
    # Temperatures come from leave-one-out distances among the training series: recomputing
    # them from the stored reference gives the same value, and leaving one out matters
    # (with itself included every training series would be classified perfectly at distance 0).
    ref = clf.reference
    dist = euclidean_distances(ref["euclidean"], ref["euclidean"])
    np.fill_diagonal(dist, np.inf)
    cdist = class_distances(dist, y, 6)
    assert npp["temperature"]["euclidean"] == pytest.approx(fit_temperature(cdist, y))
    assert npp["loo_accuracy"]["euclidean"] == pytest.approx(np.mean(cdist.argmin(1) == y))
    assert np.array_equal(ref["y"], y)
    # derivative DTW compares the slopes of the (shortened) series
    np.testing.assert_allclose(ref["ddtw"], np.diff(ref["dtw"], axis=1), atol=1e-12)


def test_weight_zero_is_the_network_alone_and_one_is_neighbours_alone():
    off, x, _ = _fit(neighbors=0.0)
    assert off.neighbor_prep == {} and off.reference == {}
    assert set(off.proba_parts(x)) == {"network"}
    np.testing.assert_allclose(off.predict_proba(x), off.proba_parts(x)["network"], atol=1e-12)
    only, _, _ = _fit(neighbors=1.0, neighbor_distances="euclidean")
    parts = only.proba_parts(x)
    np.testing.assert_allclose(only.predict_proba(x), parts["euclidean"], atol=1e-12)


def test_dtw_evidence_dropped_over_its_budget(monkeypatch):
    monkeypatch.setattr(classifier_module, "DTW_NEIGHBOR_BUDGET", 1000.0)
    monkeypatch.setattr(classifier_module, "DTW_NEIGHBOR_BUDGET_COMPILED", 1000.0)
    clf, _, _ = _fit()
    assert clf.neighbor_prep["distances"] == ["euclidean"]
    assert clf.neighbor_prep["dropped"] == ["dtw", "ddtw"]
    assert clf.neighbor_prep["why_dropped"] == {"dtw": "over 1e+03 cell updates",
                                                "ddtw": "over 1e+03 cell updates"}
    assert set(clf.reference) == {"euclidean", "y"}


def test_the_dtw_budget_is_ten_times_larger_where_the_compiled_dtw_runs(monkeypatch):
    from minirnn.nn.kernels import compiled

    monkeypatch.setattr(compiled, "compiled_available", lambda: True)
    assert classifier_module.dtw_neighbor_budget() == 10 * classifier_module.DTW_NEIGHBOR_BUDGET
    monkeypatch.setattr(compiled, "compiled_available", lambda: False)
    assert classifier_module.dtw_neighbor_budget() == classifier_module.DTW_NEIGHBOR_BUDGET


@pytest.mark.parametrize(("available", "steps"), [(True, 30), (False, 10)])
def test_the_dtw_evidence_keeps_more_steps_where_the_compiled_dtw_runs(monkeypatch, available,
                                                                       steps):
    from minirnn.nn.kernels import compiled

    monkeypatch.setattr(compiled, "compiled_available", lambda: available)
    monkeypatch.setattr(classifier_module, "NEIGHBOR_MAX_STEPS", 10)
    monkeypatch.setattr(classifier_module, "NEIGHBOR_MAX_STEPS_COMPILED", 30)
    x, y = cylinder_bell_funnel(12, 60, seed=0)
    clf = SequenceClassifier(hidden_size=3, epochs=1, n_models=1, max_steps=10,
                             dtype=np.float64).fit(x, y)
    assert clf.neighbor_prep["dtw_steps"] == steps and clf.reference["dtw"].shape[1] == steps
    assert clf.config["neighbor_max_steps"] is None  # chosen at fit, stored in neighbor_prep
    # an explicit value wins
    fixed = SequenceClassifier(hidden_size=3, epochs=1, n_models=1, max_steps=10,
                               neighbor_max_steps=20, dtype=np.float64).fit(x, y)
    assert fixed.neighbor_prep["dtw_steps"] == 20


def test_a_time_limit_drops_the_dtw_evidence_it_cannot_afford():
    x, y = cylinder_bell_funnel(30, 50, seed=0)
    # 1e-6 s: the neighbours' share is over before their first DTW chunk starts
    clf = SequenceClassifier(hidden_size=4, epochs=2, max_steps=12, n_models=2,
                             dtype=np.float64, time_limit=1e-6).fit(x, y)
    npp = clf.neighbor_prep
    assert npp["distances"] == ["euclidean"] and npp["dropped"] == ["dtw", "ddtw"]
    assert npp["why_dropped"] == {"dtw": "past the time limit", "ddtw": "past the time limit"}
    assert set(clf.reference) == {"euclidean", "y"} and len(clf.models) == 1
    # no time limit: all three
    free = SequenceClassifier(hidden_size=4, epochs=1, max_steps=12, n_models=1,
                              dtype=np.float64).fit(x, y, query_count=1000)
    assert free.neighbor_prep["distances"] == ["euclidean", "dtw", "ddtw"]


def test_unequal_lengths_and_padding_leave_the_evidence_unchanged():
    x, y = cylinder_bell_funnel(30, 50, seed=0)
    lengths = np.array([50, 37, 43] * 10)
    x[np.arange(50)[None, :] >= lengths[:, None]] = 0.0
    clf = SequenceClassifier(hidden_size=6, epochs=2, max_steps=12, n_models=1,
                             neighbor_max_steps=20, dtype=np.float64).fit(x, y, lengths)
    assert clf.reference["dtw"].shape == (30, 17, 1)  # 50 steps in groups of 3
    noisy = np.concatenate([x, np.ones((30, 9, 1))], axis=1)
    noisy[np.arange(59)[None, :] >= lengths[:, None]] = 5.0
    np.testing.assert_allclose(clf.predict_proba(noisy, lengths), clf.predict_proba(x, lengths),
                               rtol=0, atol=1e-12)


def test_save_load_keeps_the_evidence_without_pickle(tmp_path):
    clf, x, _ = _fit(normalize="series")
    clf.save(tmp_path / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # one archive
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        assert {f"neighbors/{k}.npy" for k in ("euclidean", "dtw", "ddtw", "y")} <= \
            {f"{name}.npy" for name in data.files}
    again, _ = SequenceClassifier.load(tmp_path / "m.npz")
    assert again.neighbor_prep == json.loads(json.dumps(clf.neighbor_prep))
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
    np.testing.assert_array_equal(again.predict(x), clf.predict(x))
    # a damaged or missing file is refused with the file named
    raw = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "m.npz").write_bytes(raw[:-200])
    with pytest.raises(ModelFileError, match="m.npz"):
        SequenceClassifier.load(tmp_path / "m.npz")
    (tmp_path / "m.npz").unlink()
    with pytest.raises(ModelFileError, match="no such file"):
        SequenceClassifier.load(tmp_path / "m.npz")


@pytest.mark.parametrize(("kw", "message"), [
    ({"neighbors": 1.5}, "neighbors must be a weight"),
    ({"neighbor_distances": "cosine"}, "neighbor_distances must be"),
    ({"neighbor_distances": "dtw,dtw"}, "neighbor_distances must be"),
    ({"dtw_window": -0.1}, "dtw_window must be"),
    ({"neighbor_max_steps": 0}, "neighbor_max_steps must be"),
])
def test_bad_neighbour_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(**kw)


def test_cli_model_does_not_depend_on_the_test_file(tmp_path, capsys):
    """Two runs that differ only in the test file train the same model: the blend weights
    and the temperatures come from the training file alone."""
    x, y = cylinder_bell_funnel(24, 48, seed=0)
    save_ts(tmp_path / "A_TRAIN.ts", x, None, y, CBF_CLASSES)
    for k, seed in enumerate((1, 2)):
        xt, yt = cylinder_bell_funnel(12 + 6 * k, 48, seed=seed)
        save_ts(tmp_path / f"A_TEST{k}.ts", xt, None, yt, CBF_CLASSES)
    reports, models = [], []
    for k in range(2):
        out = tmp_path / f"run{k}"
        assert main(["train", "classify", "--train", str(tmp_path / "A_TRAIN.ts"), "--test",
                     str(tmp_path / f"A_TEST{k}.ts"), "--output", str(out), "--epochs", "2",
                     "--hidden-size", "5", "--no-plot", "--quiet-epochs", "--ensemble", "1",
                     "--dtw", "no", "--rocket", "no"]) == 0
        reports.append(json.loads((out / "report.json").read_text()))
        models.append(SequenceClassifier.load(out / "model.npz")[0])
    text = capsys.readouterr().out
    assert "its parts alone: network" in text and "leave-one-out accuracy" in text
    assert reports[0]["neighbors"] == reports[1]["neighbors"]
    assert reports[0]["blend"] == reports[1]["blend"]
    assert reports[0]["blend"]["method"] == "auto"
    weights = reports[0]["blend"]["weights"]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert reports[0]["neighbors"]["weight"] == weights["neighbors"]
    rocket = {"rocket"} if rocket_unavailable() is None else set()
    assert set(weights) == {"network", "neighbors", *rocket}
    assert set(reports[0]["part_accuracy"]) == {"network", "euclidean", "dtw", "ddtw",
                                                "neighbors", *rocket}
    xt, _ = cylinder_bell_funnel(10, 48, seed=9)
    np.testing.assert_array_equal(models[0].predict_proba(xt), models[1].predict_proba(xt))


def test_cli_rejects_bad_neighbour_options(tmp_path, capsys):
    for option, value in (("--neighbors", "2"), ("--dtw-window", "x"),
                          ("--neighbor-distances", "cosine")):
        try:
            code = main(["train", "classify", "--train", "a.ts", "--test", "b.ts", option,
                         value])
        except SystemExit as exc:
            code = exc.code
        assert code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"argument {option}" in err and "Traceback" not in err


def test_series_too_short_for_slopes_drop_ddtw():
    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    x = rng.normal(size=(20, 2, 1)) + y[:, None, None]
    clf = SequenceClassifier(hidden_size=4, epochs=1, n_models=1).fit(x, y)
    assert clf.neighbor_prep["distances"] == ["euclidean", "dtw"]
    assert clf.neighbor_prep["dropped"] == ["ddtw"]
    np.testing.assert_allclose(clf.predict_proba(x).sum(axis=1), 1.0, atol=1e-9)

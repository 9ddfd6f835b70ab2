"""Ensemble members that see different inputs: ``downsample="patch,mean"`` gives member k the
k-th way of shortening long series, each with its own preprocessing, saved and checked; the
MiniRocket member (its transform rebuilt from saved arrays, its ridge classifier's
leave-one-out scores) and the blend weights chosen on training data only."""

import json

import numpy as np
import pytest

from minirnn.apps.classification import SequenceClassifier, rocket_unavailable
from minirnn.apps.classification import classifier as classifier_module
from minirnn.apps.classification import rocket as rocket_module
from minirnn.apps.classification.blend import adaptive_shrink, blend_candidates, choose_blend
from minirnn.apps.classification.classifier import CLASSIFIER_KIND
from minirnn.apps.classification.rocket import fit_kernels, ridge_loo, rocket_transform
from minirnn.apps.data import cylinder_bell_funnel
from minirnn.nn.io import ModelFileError, read_file, write_file


def _fit(**kwargs):
    x, y = cylinder_bell_funnel(24, 60, seed=0)
    options = {"hidden_size": 4, "epochs": 2, "n_models": 3, "max_steps": 20,
               "dtype": np.float64, "neighbors": 0.0, **kwargs}
    return SequenceClassifier(**options).fit(x, y), x


def test_members_cycle_over_the_downsampling_modes():
    clf, x = _fit()
    assert [p["downsample"] for p in clf.member_preps] == ["patch", "mean", "patch"]
    assert clf.member_preps[0] is clf.member_preps[2] and clf.prep is clf.member_preps[0]
    # patches: 20 steps of 3 x (value, slope) side by side; averaged: 60 steps in groups of
    # 3 -> 20 steps of (value, slope)
    widths = [m.layers[0].input_size for m in clf.models]
    assert widths == [6, 2, 6]
    lengths = np.full(len(x), 60)
    assert clf._transform(x, lengths, 0)[0].shape == (24, 20, 6)
    assert clf._transform(x, lengths, 1)[0].shape == (24, 20, 2)
    # the ensemble's network probability is the mean of each member on its own inputs
    own = [np.asarray(m.predict_proba(clf._transform(x, lengths, k)[0], lengths=np.full(24, 20)))
           for k, m in enumerate(clf.models)]
    np.testing.assert_allclose(clf.proba_parts(x)["network"], np.mean(own, axis=0), atol=1e-10)


def test_one_mode_is_the_old_behaviour_and_bad_modes_are_refused():
    clf, _ = _fit(downsample="mean", n_models=2)
    assert [p["downsample"] for p in clf.member_preps] == ["mean", "mean"]
    with pytest.raises(ValueError, match="downsample must be 'mean', 'patch' or both"):
        SequenceClassifier(downsample="mean,median")


def test_member_preprocessing_survives_saving_and_is_checked(tmp_path):
    clf, x = _fit(neighbors=0.5)
    path = tmp_path / "model.npz"
    clf.save(path)
    loaded, meta = SequenceClassifier.load(path)
    assert [p["downsample"] for p in loaded.member_preps] == ["patch", "mean", "patch"]
    np.testing.assert_allclose(loaded.predict_proba(x), clf.predict_proba(x), atol=1e-10)
    header, arrays = read_file(path, CLASSIFIER_KIND)
    header["metadata"]["member_preps"] = header["metadata"]["member_preps"][:2]
    del header["arrays"]
    write_file(tmp_path / "cut.npz", header, arrays)
    with pytest.raises(ModelFileError, match="member_preps must list the preprocessing of each"):
        SequenceClassifier.load(tmp_path / "cut.npz")
    header["metadata"]["member_preps"] = [meta["member_preps"][1]] * 3  # mean for member 0
    write_file(tmp_path / "swapped.npz", header, arrays)
    with pytest.raises(ModelFileError, match="prep is not member 0's"):
        SequenceClassifier.load(tmp_path / "swapped.npz")


# ------------------------------------------------------------ the MiniRocket member, the blend

needs_aeon = pytest.mark.skipif(rocket_unavailable() is not None, reason="needs aeon")


def test_ridge_leave_one_out_scores_equal_refitting_without_each_series():
    # Both branches: the Gram matrix (N <= F) and the covariance (N > F).
    rng = np.random.default_rng(0)
    for n, f in ((12, 30), (40, 6)):
        feats = rng.normal(size=(n, f))
        y = np.arange(n) % 3
        coef, intercept, alpha, loo = ridge_loo(feats, y, 3, alphas=np.array([0.3, 3.0]))
        for i in range(n):
            keep = np.arange(n) != i
            c_i, b_i, _, _ = ridge_loo(feats[keep], y[keep], 3, alphas=np.array([alpha]))
            np.testing.assert_allclose(loo[i], feats[i] @ c_i + b_i, atol=1e-8)
        # the full fit is the ridge solution with an unpenalised intercept
        targets = np.where(y[:, None] == np.arange(3), 1.0, -1.0)
        design = np.hstack([feats, np.ones((n, 1))])
        penalty = alpha * np.diag([1.0] * f + [0.0])
        exact = np.linalg.solve(design.T @ design + penalty, design.T @ targets)
        np.testing.assert_allclose(coef, exact[:f], atol=1e-8)
        np.testing.assert_allclose(intercept, exact[f], atol=1e-8)


def test_choose_blend_takes_the_better_part_ignores_rows_without_it_and_ties_to_fewer():
    y = np.array([0, 1, 0, 1, 0, 1])
    good = np.eye(2)[y] * 0.9 + 0.05
    bad = np.eye(2)[1 - y] * 0.9 + 0.05
    network = good.copy()
    network[:2] = np.nan  # no member held these out
    held = {"network": network, "neighbors": bad, "rocket": bad}
    weights, scores = choose_blend(held, y, shrink=0.0, tie=None)
    assert weights == {"network": 1.0, "neighbors": 0.0, "rocket": 0.0}
    assert scores["rows"] == 4 and scores["network_accuracy"] == 1.0
    # a fixed share pulls the best weighting that far towards equal shares
    weights, scores = choose_blend(held, y, shrink=0.5, tie=None)
    assert weights == pytest.approx({"network": 2 / 3, "neighbors": 1 / 6, "rocket": 1 / 6})
    assert scores["blend_accuracy"] == 1.0 and scores["shrink"] == 0.5
    # the network gains the same on every series, so nothing is pulled back
    weights, scores = choose_blend(held, y, tie=None)
    assert weights == pytest.approx({"network": 1.0, "neighbors": 0.0, "rocket": 0.0})
    assert scores["shrink"] == 0.0
    # two identical parts: any split of the weight has the same loss -> one part alone
    weights, _ = choose_blend({"network": good, "rocket": good}, y, shrink=0.0, tie=None)
    assert sorted(weights.values()) == [0.0, 1.0]


def test_choose_blend_averages_the_weightings_the_series_cannot_tell_apart():
    y = np.array([0, 1] * 10)
    perfect = np.eye(2)[y]
    # two parts perfect on every held-out series: every split ties, the average is half each
    weights, scores = choose_blend({"neighbors": perfect, "rocket": perfect}, y, shrink=0.0)
    assert weights == pytest.approx({"neighbors": 0.5, "rocket": 0.5})
    assert scores["tied"] == 11
    # one part a little less sharp (p 0.97 instead of 1): its loss is 20 x 0.03 = 0.61 in
    # all, within 2 log 2 = 1.39 of the sharp one's, so the weightings still tie ...
    soft = perfect * 0.94 + 0.03
    weights, scores = choose_blend({"neighbors": soft, "rocket": perfect}, y, shrink=0.0)
    assert scores["tied"] == 11 and weights["neighbors"] == pytest.approx(0.5)
    # ... and without the tolerance the sharp part takes everything
    assert choose_blend({"neighbors": soft, "rocket": perfect}, y, shrink=0.0,
                        tie=None)[0] == {"neighbors": 0.0, "rocket": 1.0}
    # the tied set is the weightings within tie / n of the least mean log loss: by hand
    rng = np.random.default_rng(3)
    held = {p: rng.dirichlet([1.0, 1.0], size=20) for p in ("network", "neighbors", "rocket")}
    weights, scores = choose_blend(held, y, shrink=0.0, tie=0.5, network_optimism=0.0)
    grid = blend_candidates(["network", "neighbors", "rocket"], 0.1)
    loss = [np.mean(-np.log(np.maximum(sum(w[p] * held[p][np.arange(20), y] for p in w),
                                       1e-4))) for w in grid]
    near = [w for w, v in zip(grid, loss, strict=True) if v <= min(loss) + 0.5 / 20]
    assert 1 < scores["tied"] == len(near) < len(grid)
    assert weights == pytest.approx({p: np.mean([w[p] for w in near]) for p in held})
    with pytest.raises(ValueError, match="tie must be >= 0"):
        choose_blend(held, y, tie=-1.0)
    with pytest.raises(ValueError, match="shrink must be in"):
        choose_blend(held, y, shrink=1.5)
    assert blend_candidates(["a", "b", "c"], 0.5) == [
        {"a": 0.0, "b": 0.0, "c": 1.0}, {"a": 0.0, "b": 0.5, "c": 0.5},
        {"a": 0.0, "b": 1.0, "c": 0.0}, {"a": 0.5, "b": 0.0, "c": 0.5},
        {"a": 0.5, "b": 0.5, "c": 0.0}, {"a": 1.0, "b": 0.0, "c": 0.0}]


def test_adaptive_shrink_is_one_over_the_t_statistic_of_the_gain():
    equal = np.full(3, 2.0)
    # gains 1, 2, 3: mean 2, standard error 1 / sqrt(3), t = 2 sqrt(3)
    gains = np.array([1.0, 2.0, 3.0])
    assert adaptive_shrink(equal - gains, equal) == pytest.approx(1 / (2 * 3 ** 0.5))
    assert adaptive_shrink(equal - 0.5, equal) == 0.0  # the same gain everywhere
    assert adaptive_shrink(equal + np.array([0.1, -0.05, 0.0]), equal) == 1.0  # no gain on average
    assert adaptive_shrink(np.array([0.1]), np.array([0.9])) == 1.0  # one series proves nothing
    assert adaptive_shrink(equal - np.array([-1.0, 2.0, 0.5]), equal) == 1.0  # t < 1
    with pytest.raises(ValueError, match=r"two \(N,\) arrays, got \(3,\) and \(2,\)"):
        adaptive_shrink(equal, equal[:2])


def test_default_blend_shrinks_less_with_more_evidence_and_discounts_the_network():
    """The same pattern of held-out results on 6 and on 60 series: the winner keeps more of
    its weight on 60; a network whose held-out series look perfect is discounted."""
    def held(repeat):
        y = np.tile([0, 1, 0, 1, 0, 1], repeat)
        hit = np.tile([0.9, 0.9, 0.9, 0.9, 0.2, 0.6], repeat)  # the network's p(true)
        network = np.where(np.eye(2)[y] > 0, hit[:, None], 1 - hit[:, None])
        flat = np.full((len(y), 2), 0.5)
        return {"network": network, "neighbors": flat, "rocket": flat}, y

    few, many = (choose_blend(*held(r), tie=None)[0]["network"] for r in (1, 10))
    assert few == pytest.approx(1 / 3)  # 6 series: t < 1, equal shares
    assert 0.5 < many < 1.0
    # the default (weightings within 2 log 2 averaged first): near equal shares on 6 series
    few, many = (choose_blend(*held(r))[0]["network"] for r in (1, 10))
    assert 1 / 3 < few < 0.4 and 0.5 < many < 1.0
    parts, y = held(10)
    weights, scores = choose_blend(parts, y)
    assert 0.0 < scores["shrink"] < 1.0
    assert weights == choose_blend(parts, y)[0]  # deterministic
    y = np.array([0, 1] * 10)
    perfect = np.eye(2)[y]
    rocket = perfect * 0.94 + 0.03  # p(true) 0.97, below 1 but above the discounted 0.95
    held_out = {"network": perfect, "rocket": rocket}
    assert choose_blend(held_out, y, shrink=0.0, tie=None)[0]["rocket"] == 1.0
    assert choose_blend(held_out, y, shrink=0.0, network_optimism=0.0,
                        tie=None)[0]["network"] == 1.0
    with pytest.raises(ValueError, match=r"network_optimism must be in \[0, 1\), got 1.0"):
        choose_blend(held_out, y, network_optimism=1.0)


@needs_aeon
def test_rocket_transform_from_saved_arrays_equals_aeons():
    from aeon.transformations.collection.convolution_based import MiniRocket

    x, _ = cylinder_bell_funnel(10, 40, seed=3)
    multi = np.concatenate([x, x[:, ::-1] * 2.0], axis=2)  # the multivariate transform too
    for data in (x, multi):
        kernels = fit_kernels(data, seed=5, n_kernels=200)
        reference = MiniRocket(n_kernels=200, random_state=5, n_jobs=1).fit(
            data.transpose(0, 2, 1).astype(np.float32))
        expected = reference.transform(data.transpose(0, 2, 1).astype(np.float32))
        np.testing.assert_array_equal(rocket_transform(kernels, data), expected)


def _fit_rocket(seed=0, **kwargs):
    x, y = cylinder_bell_funnel(24, 60, seed=seed)
    options = {"hidden_size": 4, "epochs": 2, "n_models": 2, "max_steps": 20,
               "dtype": np.float64, "neighbor_distances": "euclidean", **kwargs}
    return SequenceClassifier(**options).fit(x, y), x, y


@needs_aeon
def test_blend_weights_are_chosen_on_training_data_only():
    clf, x, y = _fit_rocket()
    assert set(clf.held_out) == {"network", "neighbors", "rocket"}
    assert clf.rocket is not None and clf.rocket_status == "fitted"
    # The held-out probabilities they were chosen on are the rocket member's leave-one-out
    # probabilities, the neighbours' and the members' validation series: no test data.
    np.testing.assert_allclose(clf.held_out["rocket"], clf.rocket.oof_proba)
    assert np.isnan(clf.held_out["network"]).any(axis=1).sum() > 0
    weights = dict(clf.blend_weights)
    assert sum(weights.values()) == pytest.approx(1.0)
    # Predicting on any test set, and the size of the expected test set, change nothing.
    xt, _ = cylinder_bell_funnel(30, 60, seed=9)
    clf.predict_proba(xt)
    again = SequenceClassifier(**{k: v for k, v in clf.config.items()},
                               dtype=np.float64).fit(x, y, query_count=500)
    assert clf.blend_weights == weights == again.blend_weights
    parts = clf.proba_parts(xt, _grouped=True)
    blended = sum(w * parts[p] for p, w in weights.items())
    np.testing.assert_allclose(clf.predict_proba(xt), blended, atol=1e-12)


@needs_aeon
def test_a_classifier_with_a_rocket_member_saves_loads_and_refuses_forgeries(tmp_path,
                                                                             monkeypatch):
    clf, x, _ = _fit_rocket(seed=1)
    path = tmp_path / "model.npz"
    clf.save(path)
    header, arrays = read_file(path, CLASSIFIER_KIND)
    assert {"rocket/biases", "rocket/coef", "rocket/dilations"} <= set(arrays)
    loaded, _ = SequenceClassifier.load(path)
    assert loaded.blend_weights == clf.blend_weights and loaded.rocket is not None
    np.testing.assert_allclose(loaded.predict_proba(x), clf.predict_proba(x), atol=1e-12)
    np.testing.assert_allclose(loaded.proba_parts(x)["rocket"], clf.proba_parts(x)["rocket"])
    del header["arrays"]
    forged = dict(arrays)
    forged["rocket/dilations"] = arrays["rocket/dilations"] * 1000  # past the series length
    write_file(tmp_path / "dilations.npz", header, forged)
    with pytest.raises(ModelFileError, match="rocket kernels inconsistent"):
        SequenceClassifier.load(tmp_path / "dilations.npz")
    forged = {k: v for k, v in arrays.items() if k != "rocket/coef"}
    write_file(tmp_path / "coef.npz", header, forged)
    with pytest.raises(ModelFileError, match="rocket arrays"):
        SequenceClassifier.load(tmp_path / "coef.npz")
    bad = json.loads(json.dumps(header))
    bad["metadata"]["blend_weights"] = {"network": 0.5, "rocket": 0.7}
    write_file(tmp_path / "weights.npz", bad, arrays)
    with pytest.raises(ModelFileError, match="blend weights must be numbers in"):
        SequenceClassifier.load(tmp_path / "weights.npz")
    # Without aeon, a model that uses its rocket member loads and says what predicting needs.
    monkeypatch.setattr(rocket_module, "_aeon_minirocket", _no_aeon)
    monkeypatch.setattr(classifier_module, "rocket_unavailable",
                        lambda: "needs aeon: pip install 'minirnn[rocket]'")
    loaded, _ = SequenceClassifier.load(path)
    if loaded.blend_weights.get("rocket", 0) > 0:
        with pytest.raises(ImportError, match=r"pip install 'minirnn\[rocket\]'"):
            loaded.predict_proba(x)
    loaded.blend_weights = {"network": 1.0}  # a part it does not use is not computed
    assert loaded.predict_proba(x).shape == (24, 3)


def _no_aeon():
    raise ImportError(rocket_module._NEEDS_AEON)


def test_rocket_and_blend_settings_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="rocket must be True, False or 'auto', got 'maybe'"):
        SequenceClassifier(rocket="maybe")
    with pytest.raises(ValueError, match="blend must be one of .*got 'mean'"):
        SequenceClassifier(blend="mean")
    monkeypatch.setattr(classifier_module, "rocket_unavailable",
                        lambda: "needs aeon: pip install 'minirnn[rocket]'")
    x, y = cylinder_bell_funnel(12, 30, seed=0)
    with pytest.raises(ImportError, match="rocket=True: the MiniRocket member needs aeon"):
        SequenceClassifier(rocket=True, hidden_size=4, epochs=1, n_models=1).fit(x, y)
    clf = SequenceClassifier(hidden_size=4, epochs=1, n_models=1,
                             neighbor_distances="euclidean").fit(x, y)
    assert clf.rocket is None and clf.rocket_status.startswith("skipped (needs aeon")
    assert set(clf.blend_weights) == {"network", "neighbors"}
    fixed = SequenceClassifier(hidden_size=4, epochs=1, n_models=1, blend="fixed",
                               neighbors=0.3, neighbor_distances="euclidean").fit(x, y)
    assert fixed.blend_weights == {"network": pytest.approx(0.7), "neighbors": 0.3}


@needs_aeon
def test_with_validation_data_every_part_is_scored_on_it():
    x, y = cylinder_bell_funnel(24, 60, seed=0)
    xv, yv = cylinder_bell_funnel(12, 60, seed=1)
    clf = SequenceClassifier(hidden_size=4, epochs=2, n_models=2, max_steps=20,
                             neighbor_distances="euclidean").fit(x, y, validation_data=(xv, yv,
                                                                                          None))
    parts = clf.proba_parts(xv, _grouped=True)
    assert set(clf.held_out) == set(parts) == {"network", "neighbors", "rocket"}
    for name, proba in parts.items():
        np.testing.assert_allclose(clf.held_out[name], proba)
    assert clf.blend_scores["rows"] == 12
    assert clf.blend_weights == choose_blend(parts, yv)[0]

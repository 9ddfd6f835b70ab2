"""The DTW evidence's band chosen by leave-one-out on the training set, the symmetric
self-distances it is computed from, and the distances' weights inside the neighbour part."""

import copy
import math

import numpy as np
import pytest

import minirnn.apps.classification.classifier as classifier_module
from minirnn.apps.classification import (
    SequenceClassifier,
    class_distances,
    dtw_distances,
)
from minirnn.apps.classification.blend import choose_blend
from minirnn.apps.classification.classifier import CLASSIFIER_KIND, DTW_WINDOWS
from minirnn.apps.classification.neighbors import dtw_self_distances
from minirnn.apps.data import cylinder_bell_funnel
from minirnn.nn.io import ModelFileError, read_file, write_file


@pytest.mark.parametrize(("blocks", "compiled"), [(1, True), (3, True), (4, False), (50, True)])
def test_self_distances_are_the_full_matrix_computed_half(blocks, compiled):
    rng = np.random.default_rng(blocks)
    a = rng.normal(size=(9, 15, 2))
    got = dtw_self_distances(a, 3, blocks=blocks, compiled_dtw=compiled)
    want = dtw_distances(a, a, 3, compiled_dtw=compiled)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_array_equal(got, got.T)
    with pytest.raises(ValueError, match="blocks must be >= 1, got 0"):
        dtw_self_distances(a, 3, blocks=0)


def _fit(**kw):
    x, y = cylinder_bell_funnel(24, 40, seed=4)
    options = {"hidden_size": 4, "epochs": 1, "n_models": 1, "max_steps": 10, "seed": 0,
               "rocket": False, "dtype": np.float64, **kw}
    return SequenceClassifier(**options).fit(x, y), x, y


def _loo_accuracy(series, y, band):
    dist = dtw_distances(series, series, band)
    np.fill_diagonal(dist, np.inf)
    return float(np.mean(class_distances(dist, y, 3).argmin(1) == y))


def test_the_band_is_the_best_leave_one_out_accuracy_ties_to_the_wider():
    clf, _, y = _fit()
    npp = clf.neighbor_prep
    steps = npp["dtw_steps"]
    assert steps == 40 and npp["dtw_band"] == 4  # the given 10 %: always a candidate
    # every candidate of the grid, as steps: 0, 1 (2 % of 40), 2, 4, 8, 20, 39 (the full)
    bands = sorted({min(max(1, math.ceil(w * steps)), steps - 1) if w else 0
                    for w in DTW_WINDOWS})
    assert bands == [0, 1, 2, 4, 8, 20, 39]
    for kind in ("dtw", "ddtw"):
        series = clf.reference[kind]
        scores = {b: _loo_accuracy(series, y, b) for b in bands}
        assert npp["band_loo_accuracy"][kind] == {str(b): v for b, v in scores.items()}
        best = max(scores.values())
        assert npp["dtw_bands"][kind] == max(b for b, v in scores.items() if v == best)
        assert npp["loo_accuracy"][kind] == best
    # the distances at prediction use the chosen bands
    xq, _ = cylinder_bell_funnel(5, 40, seed=8)
    near = clf._neighbor_inputs(xq, np.full(5, 40))
    got = clf._distances("dtw", near["dtw"], clf.reference["dtw"])
    np.testing.assert_allclose(got, dtw_distances(near["dtw"], clf.reference["dtw"],
                                                  npp["dtw_bands"]["dtw"]), rtol=1e-12)


def test_without_candidates_the_given_band_alone(monkeypatch):
    monkeypatch.setattr(classifier_module, "DTW_WINDOWS", ())
    clf, _, y = _fit(dtw_window=0.05)
    npp = clf.neighbor_prep
    assert npp["dtw_band"] == 2 and npp["dtw_bands"] == {"dtw": 2, "ddtw": 2}
    assert npp["band_loo_accuracy"]["dtw"] == {"2": _loo_accuracy(clf.reference["dtw"], y, 2)}


def test_candidates_past_the_budget_are_left_out_widest_first(monkeypatch):
    # 24 series x 40 steps, two warped distances: the given band 4 costs
    # 24^2 x 40 x 9 x 2 = 414,720 cell updates (the check that keeps DTW at all), each
    # candidate half of 24^2 x 40 x (2 b + 1) x 2 as computed; 1.2e6 affords 4, 0, 1, 2 and 8
    for available in (True, False):
        monkeypatch.setattr(classifier_module, "DTW_NEIGHBOR_BUDGET_COMPILED", 1.2e6)
        monkeypatch.setattr(classifier_module, "DTW_NEIGHBOR_BUDGET", 1.2e6)
        from minirnn.nn.kernels import compiled

        monkeypatch.setattr(compiled, "compiled_available", lambda a=available: a)
        clf, _, _ = _fit()
        tried = clf.neighbor_prep["band_loo_accuracy"]["dtw"]
        assert list(tried) == ["4", "0", "1", "2", "8"]


def test_the_distances_share_the_neighbour_part_by_the_blend_rule():
    clf, x, y = _fit()
    npp = clf.neighbor_prep
    want = choose_blend(clf.held_out_distances, y, network_optimism=0.0)[0]
    assert npp["weights"] == want and sum(want.values()) == pytest.approx(1.0)
    np.testing.assert_allclose(
        clf.held_out["neighbors"], sum(want[k] * clf.held_out_distances[k] for k in want),
        atol=1e-12)
    parts = clf.proba_parts(x)
    grouped = clf.proba_parts(x, _grouped=True)
    np.testing.assert_allclose(grouped["neighbors"], sum(want[k] * parts[k] for k in want),
                               atol=1e-12)
    # a distance that is perfect where the others are not takes most of the weight
    held = {"euclidean": np.full((30, 3), 1 / 3), "dtw": np.eye(3)[np.arange(30) % 3],
            "ddtw": np.full((30, 3), 1 / 3)}
    shares = choose_blend(held, np.arange(30) % 3, network_optimism=0.0)[0]
    assert shares["dtw"] > 0.9
    # the fixed blend keeps equal shares
    fixed, _, _ = _fit(blend="fixed")
    assert fixed.neighbor_prep["weights"] == pytest.approx({k: 1 / 3 for k in want})


def test_files_keep_the_bands_and_weights_and_refuse_bad_ones(tmp_path):
    clf, x, _ = _fit()
    clf.save(tmp_path / "m.npz")
    again, _ = SequenceClassifier.load(tmp_path / "m.npz")
    assert again.neighbor_prep["dtw_bands"] == clf.neighbor_prep["dtw_bands"]
    assert again.neighbor_prep["weights"] == clf.neighbor_prep["weights"]
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
    header, arrays = read_file(tmp_path / "m.npz", CLASSIFIER_KIND)
    for key, value, message in (("dtw_bands", {"dtw": 99}, "dtw_bands"),
                                ("dtw_bands", {"cosine": 1}, "dtw_bands"),
                                ("weights", {"euclidean": 1.0}, "neighbour weights"),
                                ("weights", {"euclidean": 0.5, "dtw": 0.5, "ddtw": 0.5},
                                 "neighbour weights")):
        bad = copy.deepcopy(header)
        bad["metadata"]["neighbor_prep"][key] = value
        write_file(tmp_path / "bad.npz", bad, arrays)
        with pytest.raises(ModelFileError, match=message):
            SequenceClassifier.load(tmp_path / "bad.npz")
    # a file from before this change (one band, no weights): equal shares, that band
    old = copy.deepcopy(header)
    for key in ("dtw_bands", "weights"):
        del old["metadata"]["neighbor_prep"][key]
    write_file(tmp_path / "old.npz", old, arrays)
    before, _ = SequenceClassifier.load(tmp_path / "old.npz")
    parts = before.proba_parts(x)
    band = header["metadata"]["neighbor_prep"]["dtw_band"]
    inputs = before._neighbor_inputs(x, np.full(len(x), x.shape[1]))
    np.testing.assert_allclose(before._distances("dtw", inputs["dtw"], before.reference["dtw"]),
                               dtw_distances(inputs["dtw"], before.reference["dtw"], band),
                               rtol=1e-12)
    np.testing.assert_allclose(before.proba_parts(x, _grouped=True)["neighbors"],
                               np.mean([parts[k] for k in ("euclidean", "dtw", "ddtw")], 0),
                               atol=1e-12)

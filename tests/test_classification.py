"""SequenceClassifier and the baselines: probabilities, padding, files, weights, bad input."""

import numpy as np
import pytest

from minirnn.apps.classification import (
    SequenceClassifier,
    class_weights,
    majority_class,
    nn1_dtw,
    nn1_euclidean,
    stratified_split,
    znormalize,
)
from minirnn.apps.data import cylinder_bell_funnel, synthetic_control


def _fit(**kw):
    x, y = synthetic_control(60, 40, seed=0)
    # blend="fixed": these tests are about the network (and the fixed neighbour weight)
    options = {"hidden_size": 8, "epochs": 4, "max_steps": 20, "seed": 0, "n_models": 1,
               "blend": "fixed", **kw}
    return SequenceClassifier(**options).fit(x, y), x, y


def test_probabilities_labels_and_padding():
    clf, x, y = _fit(dtype=np.float64)
    proba = clf.predict_proba(x)
    assert proba.shape == (60, 6) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(x), proba.argmax(axis=1))
    assert clf.score(x, y) == pytest.approx(np.mean(clf.predict(x) == y))
    # Padding with extra steps (any values) changes no probability.
    lengths = np.full(60, 40)
    padded = np.concatenate([x, np.random.default_rng(0).normal(size=(60, 13, 1)) * 9], 1)
    np.testing.assert_allclose(clf.predict_proba(padded, lengths), proba, rtol=0, atol=1e-12)
    assert {"accuracy", "val_accuracy", "val_loss"} <= set(clf.history.history)


@pytest.mark.parametrize(("downsample", "derivative"), [("mean", False), ("patch", True)])
def test_shortening_long_series_keeps_padding_invariance(downsample, derivative):
    x, y = cylinder_bell_funnel(30, 50, seed=0)
    lengths = np.array([50, 37, 43] * 10)
    x[np.arange(50)[None, :] >= lengths[:, None]] = 0.0
    clf = SequenceClassifier(hidden_size=6, epochs=2, max_steps=12, downsample=downsample,
                             derivative=derivative, n_models=1, dtype=np.float64
                             ).fit(x, y, lengths)
    assert clf.prep["factor"] == 5
    proba = clf.predict_proba(x, lengths)
    noisy = x.copy()
    noisy[np.arange(50)[None, :] >= lengths[:, None]] = 7.0  # other padding values
    longer = np.concatenate([noisy, np.ones((30, 9, 1))], axis=1)
    np.testing.assert_allclose(clf.predict_proba(longer, lengths), proba, rtol=0, atol=1e-12)


def test_refit_trains_each_member_on_all_data():
    clf, x, _ = _fit(refit=True, n_models=2, epochs=3, class_weight="balanced")
    assert len(clf.models) == 2 and clf.models[0] is not clf.solvers[0].model
    np.testing.assert_allclose(clf.predict_proba(x).sum(axis=1), 1.0, atol=1e-6)


def test_save_and_load_give_the_same_probabilities(tmp_path):
    clf, x, _ = _fit(normalize="series", pooling="last", bidirectional=False, cell="lstm")
    clf.save(tmp_path / "m.npz", classes=list("abcdef"))
    again, meta = SequenceClassifier.load(tmp_path / "m.npz")
    assert meta["classes"] == list("abcdef") and again.config == clf.config
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))


def test_class_weights_balanced_and_applied():
    y = np.array([0, 0, 0, 1])
    np.testing.assert_allclose(class_weights(y, 3), [4 / 6, 2.0, 0.0])
    b, x, _ = _fit(class_weight=np.ones(6) * 2.0)  # uniform weights: the same weighted mean
    c, _, _ = _fit()
    np.testing.assert_allclose(b.predict_proba(x), c.predict_proba(x), rtol=1e-5, atol=1e-6)
    heavy, _, _ = _fit(class_weight=np.array([20.0, 1, 1, 1, 1, 1]))
    assert heavy.predict_proba(x)[:, 0].mean() > c.predict_proba(x)[:, 0].mean()
    with pytest.raises(ValueError, match="class_weight must be"):
        _fit(class_weight=np.ones(3))


@pytest.mark.parametrize(("args", "message"), [
    ({"y": np.zeros(60, dtype=np.int64)}, "at least two classes"),
    ({"nan": True}, "NaN or Inf"),
    ({"y": np.arange(60) % 2 * 1.0}, "integer class indices"),
])
def test_bad_training_input(args, message):
    x, y = synthetic_control(60, 40, seed=0)
    if args.get("nan"):
        x[3, 7, 0] = np.nan
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(epochs=1).fit(x, args.get("y", y))


def test_predict_checks_dimensions_and_training():
    clf, x, _ = _fit()
    with pytest.raises(ValueError, match="trained on 1"):
        clf.predict(np.zeros((2, 5, 3)))
    with pytest.raises(RuntimeError, match="not trained"):
        SequenceClassifier().predict(x)


def test_baselines_on_known_answers():
    x, y = cylinder_bell_funnel(30, 64, seed=0)
    lengths = np.full(30, 64)
    assert np.array_equal(nn1_euclidean(x, lengths, y, x, lengths), y)  # itself is nearest
    assert np.array_equal(nn1_dtw(x, lengths, y, x, lengths), y)
    assert majority_class(np.array([2, 1, 1, 0]), 3).tolist() == [1, 1, 1]
    # DTW aligns a shifted copy at zero cost, Euclidean does not.
    base = np.sin(np.linspace(0, 6, 50))
    train = np.stack([np.roll(base, 0), np.cos(np.linspace(0, 6, 50))])[:, :, None]
    query = np.concatenate([[base[0]] * 5, base[:45]])[None, :, None]
    n = np.array([50, 50])
    assert nn1_dtw(train, n, np.array([0, 1]), query, np.array([50]))[0] == 0


def test_dtw_matches_a_plain_implementation_on_unequal_lengths():
    rng = np.random.default_rng(1)
    a_len, b_len = np.array([4, 6, 5]), np.array([3, 6])
    a, b = rng.normal(size=(3, 6, 2)), rng.normal(size=(2, 6, 2))

    def dtw(p, q):
        d = np.full((len(p) + 1, len(q) + 1), np.inf)
        d[0, 0] = 0
        for i in range(1, len(p) + 1):
            for j in range(1, len(q) + 1):
                d[i, j] = np.sum((p[i - 1] - q[j - 1]) ** 2) + min(d[i - 1, j - 1],
                                                                   d[i - 1, j], d[i, j - 1])
        return d[-1, -1]

    for i in range(3):
        dists = [dtw(a[i, :a_len[i]], b[k, :b_len[k]]) for k in range(2)]
        got = nn1_dtw(b, b_len, np.array([0, 1]), a[i:i + 1], a_len[i:i + 1])[0]
        assert got == int(np.argmin(dists))


def test_split_and_znormalize():
    y = np.array([0] * 10 + [1] * 5 + [2])
    tr, va = stratified_split(y, 0.2, seed=0)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(16))
    assert np.bincount(y[va], minlength=3).tolist() == [2, 1, 0]
    x = np.random.default_rng(0).normal(3, 2, size=(2, 5, 1))
    z = znormalize(x, np.array([5, 3]))
    np.testing.assert_allclose(z[0, :, 0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(z[1, :3, 0].std(), 1) and np.testing.assert_array_equal(
        z[1, 3:], 0)

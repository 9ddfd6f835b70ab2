"""minirnn.estimators: RNNClassifier and RNNForecaster follow scikit-learn's conventions
(check_estimator, clone, cross_val_score, GridSearchCV, Pipeline) without importing it."""

from __future__ import annotations

import inspect
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minirnn.apps.classification import SequenceClassifier
from minirnn.apps.forecasting import Forecaster
from minirnn.estimators import (
    EXPECTED_FAILED_CHECKS,
    DataConversionWarning,
    NotFittedError,
    RNNClassifier,
    RNNForecaster,
)

ROOT = Path(__file__).resolve().parent.parent
#: Small enough for tests: one member, a few epochs.
SMALL = {"epochs": 5, "n_models": 1, "hidden_size": 8, "batch_size": 32, "patience": 5}


def _needs_sklearn() -> None:
    """scikit-learn 1.6 or later: the tags API (``__sklearn_tags__``) and
    ``check_estimator(expected_failed_checks=...)`` the estimators are written for."""
    pytest.importorskip("sklearn", minversion="1.6")


def _trends(n: int = 60, steps: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Univariate sequences (n, steps) that rise ("up") or fall ("down"), with noise."""
    rng = np.random.default_rng(seed)
    slope = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    x = slope[:, None] * np.linspace(0, 1, steps)[None, :] + rng.normal(0, 0.3, (n, steps))
    return x, np.where(slope > 0, "up", "down")


def _seasonal(n: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)


# ------------------------------------------------------------------ scikit-learn's checks
@pytest.mark.filterwarnings("ignore:Estimator RNNClassifier does not inherit:UserWarning")
def test_check_estimator_passes_but_for_the_listed_checks():
    _needs_sklearn()
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(RNNClassifier(**SMALL, dtype="float64"), on_fail=None,
                              on_skip=None, expected_failed_checks=EXPECTED_FAILED_CHECKS)
    failed = {r["check_name"]: repr(r["exception"])[:300] for r in results
              if r["status"] == "failed"}
    assert not failed, failed
    # every listed exception still fails: the list says what is true today
    assert {r["check_name"] for r in results if r["status"] == "xfail"} == \
        set(EXPECTED_FAILED_CHECKS)
    assert sum(r["status"] == "passed" for r in results) >= 45


def test_the_forecaster_passes_scikit_learns_parameter_checks():
    """check_estimator fits tabular (X, y) data, which a forecaster of one series does not
    take; the checks of the parameter protocol apply, and pass."""
    _needs_sklearn()
    from sklearn.utils import estimator_checks as ec

    checks = [ec.check_estimator_cloneable, ec.check_estimator_repr,
              ec.check_no_attributes_set_in_init, ec.check_get_params_invariance,
              ec.check_set_params, ec.check_parameters_default_constructible,
              ec.check_do_not_raise_errors_in_init_or_set_params,
              ec.check_estimator_tags_renamed, ec.check_valid_tag_types]
    for check in checks:
        check("RNNForecaster", RNNForecaster(epochs=2))


def test_minirnn_never_imports_scikit_learn():
    """With scikit-learn made unimportable, both estimators fit and predict."""
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # any import of it now fails
        import numpy as np
        from minirnn.estimators import RNNClassifier, RNNForecaster
        x = np.random.default_rng(0).normal(size=(20, 6))
        y = np.where(x.mean(axis=1) > 0, "a", "b")
        clf = RNNClassifier(epochs=2, n_models=1, hidden_size=4).fit(x, y)
        print(clf.predict(x).shape, clf.score(x, y) > 0)
        fc = RNNForecaster(network=False).fit(np.sin(np.arange(80) / 3))
        print(fc.predict(steps=2).shape)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split("\n")[:2] == ["(20,) True", "(2,)"], out.stderr[-2000:]


# ------------------------------------------------------------------ the classifier in sklearn
def test_clone_copies_parameters_and_drops_the_fit():
    _needs_sklearn()
    from sklearn.base import clone

    x, y = _trends()
    clf = RNNClassifier(**SMALL, pooling="mean").fit(x, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "classifier_") and hasattr(clf, "classifier_")
    copy.fit(x, y)  # same seed, same data: the same model
    np.testing.assert_allclose(copy.predict_proba(x), clf.predict_proba(x))


def test_cross_val_score_with_string_labels():
    _needs_sklearn()
    from sklearn.model_selection import cross_val_score

    x, y = _trends()
    scores = cross_val_score(RNNClassifier(**SMALL), x, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.8, scores  # rising vs falling series: easy


def test_grid_search_over_a_parameter():
    _needs_sklearn()
    from sklearn.model_selection import GridSearchCV

    x, y = _trends()
    search = GridSearchCV(RNNClassifier(**SMALL), {"neighbors": [0.0, 1.0]}, cv=2)
    search.fit(x, y)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_params_["neighbors"] in (0.0, 1.0)
    assert search.best_estimator_.neighbors == search.best_params_["neighbors"]
    assert set(search.predict(x)) <= {"up", "down"}
    assert search.best_score_ > 0.8


def test_pipeline_with_a_scaler_and_with_a_function_transformer():
    _needs_sklearn()
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    x, y = _trends()
    pipe = make_pipeline(StandardScaler(), RNNClassifier(**SMALL)).fit(x, y)
    assert pipe.score(x, y) > 0.8
    # 3-D sequences through a transformer that keeps their shape: two dimensions per step
    x3 = np.stack([x, np.cumsum(x, axis=1)], axis=2)
    pipe3 = make_pipeline(FunctionTransformer(lambda a: a / 10.0), RNNClassifier(**SMALL))
    pipe3.fit(x3, y)
    assert pipe3[-1].input_size_ == 2
    assert set(pipe3.predict(x3)) <= {"up", "down"}


# ------------------------------------------------------------------ the classifier itself
@pytest.mark.parametrize("labels", [("down", "up"), (-1, 1), (3.0, 7.0)], ids=str)
def test_labels_round_trip(labels):
    x, y = _trends()
    y = np.where(y == "up", labels[1], labels[0])
    clf = RNNClassifier(**SMALL).fit(x, y)
    assert clf.classes_.tolist() == sorted(labels)
    predicted = clf.predict(x)
    assert predicted.dtype == clf.classes_.dtype and set(predicted) <= set(labels)
    proba = clf.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)
    # two classes: the decision function is the log odds of classes_[1]
    np.testing.assert_allclose(clf.decision_function(x),
                               np.log(proba[:, 1]) - np.log(proba[:, 0]), rtol=1e-9)
    assert clf.score(x, y) == np.mean(predicted == y) > 0.8


def test_the_classifier_is_the_applications():
    """RNNClassifier trains SequenceClassifier itself: the same probabilities, by hand."""
    x, y = _trends()
    ours = RNNClassifier(**SMALL, random_state=3).fit(x, y)
    index = (y == "up").astype(int)  # classes_ sorted: down, up
    theirs = SequenceClassifier(**SMALL, seed=3).fit(x[:, :, None], index)
    np.testing.assert_array_equal(ours.predict_proba(x), theirs.predict_proba(x[:, :, None]))


def test_variable_length_sequences_from_a_list_or_lengths():
    rng = np.random.default_rng(1)
    seqs, labels = [], []
    for i in range(40):
        length = int(rng.integers(5, 15))
        sign = 1.0 if i % 2 else -1.0
        seqs.append(np.stack([sign * np.linspace(0, 1, length),
                              rng.normal(0, 0.1, length)], axis=1))
        labels.append("rise" if sign > 0 else "fall")
    clf = RNNClassifier(**SMALL).fit(seqs, labels)
    assert clf.n_features_in_ == max(len(s) for s in seqs) and clf.input_size_ == 2
    # other lengths are fine: the training lengths varied
    assert clf.predict([s[:3] for s in seqs[:4]]).shape == (4,)
    assert clf.score(seqs, labels) > 0.8
    # the same sequences as a padded array with their lengths: the same model
    lengths = np.array([len(s) for s in seqs])
    padded = np.full((40, lengths.max(), 2), np.nan)  # padding is never read
    for i, s in enumerate(seqs):
        padded[i, :len(s)] = s
    again = RNNClassifier(**SMALL).fit(padded, labels, lengths=lengths)
    np.testing.assert_allclose(again.predict_proba(padded, lengths), clf.predict_proba(seqs))


def test_class_weight_by_label():
    x, y = _trends()
    clf = RNNClassifier(**SMALL, class_weight={"up": 3.0}).fit(x, y)
    np.testing.assert_array_equal(clf.classifier_.class_weight, [1.0, 3.0])  # down, up
    with pytest.raises(ValueError, match=r"class_weight names labels \['sideways'\]"):
        RNNClassifier(**SMALL, class_weight={"sideways": 2.0}).fit(x, y)


def test_parameters_set_get_and_repr():
    clf = RNNClassifier()
    assert clf.set_params(epochs=7, cell="lstm") is clf
    assert clf.get_params()["epochs"] == 7
    assert repr(clf) == "RNNClassifier(cell='lstm', epochs=7)"
    with pytest.raises(ValueError, match=r"invalid parameter\(s\) \['epoch'\]"):
        clf.set_params(epoch=3)
    # the constructor checks nothing (scikit-learn's rule); fit does
    bad = RNNClassifier(cell="transformer")
    with pytest.raises(ValueError, match="cell must be one of"):
        bad.fit(*_trends())


def test_parameters_and_defaults_are_the_applications():
    """Every parameter of the wrapped classes is one of the estimator's, with the same default
    (read from them: the settings the docs measured), so a parameter added there shows up."""
    def defaults(cls):
        return {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
                if p.name != "self"}

    ours, theirs = defaults(RNNClassifier), defaults(SequenceClassifier)
    theirs.pop("verbose_time_limit")  # the CLI's printing
    assert ours.pop("random_state") == theirs.pop("seed")
    assert np.dtype(ours.pop("dtype")) == np.dtype(theirs.pop("dtype"))
    assert ours.pop("lr") is None and theirs.pop("lr") == 3e-3  # None: 3e-3 for Adam
    assert ours == theirs, _advice("RNNClassifier", "SequenceClassifier", ours, theirs)
    ours, theirs = defaults(RNNForecaster), defaults(Forecaster)
    assert ours.pop("random_state") == theirs.pop("seed")
    assert ours == theirs, _advice("RNNForecaster", "Forecaster", ours, theirs)


def _advice(ours: str, theirs: str, mine: dict, app: dict) -> str:
    return (f"parameters {sorted(set(app) - set(mine))} of {theirs} are missing from {ours} "
            f"(add them to minirnn/apps/estimators/), {sorted(set(mine) - set(app))} are no "
            f"longer {theirs}'s")


def test_pickled_classifier_predicts_the_same():
    x, y = _trends()
    clf = RNNClassifier(**SMALL).fit(x, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(x), clf.predict_proba(x))


# ------------------------------------------------------------------ bad input
def test_unfitted_estimators_raise_not_fitted_error():
    x, _ = _trends()
    for call in (lambda: RNNClassifier().predict(x), lambda: RNNClassifier().predict_proba(x),
                 lambda: RNNForecaster().predict(3), lambda: RNNForecaster().score([1.0])):
        with pytest.raises(NotFittedError, match="not fitted yet: call fit") as info:
            call()
        assert type(info.value).__name__ == "NotFittedError"
        assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)


@pytest.mark.parametrize(("change", "error", "message"), [
    (lambda x, y: (x[:, :, None, None], y), ValueError, "Reshape your data"),
    (lambda x, y: (x[0], y), ValueError, "Reshape your data"),
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 7, np.nan, x), y),
     ValueError, "NaN or infinity"),
    (lambda x, y: (x.astype(complex), y), ValueError, "Complex data not supported"),
    (lambda x, y: (x[:0], y[:0]), ValueError, "0 sample"),
    (lambda x, y: (x[:, :0], y), ValueError, r"0 feature\(s\)"),
    (lambda x, y: (x, y[:-1]), ValueError, "X has 60 samples but y has 59 labels"),
    (lambda x, y: (x, np.full(len(y), "up")), ValueError, "one class"),
    (lambda x, y: (x, np.linspace(0, 1, len(y))), ValueError, "Unknown label type"),
    (lambda x, y: (x, np.c_[y, y]), ValueError, r"y must be 1-D"),
    (lambda x, y: (x.astype(str), y), ValueError, "must hold numbers"),
], ids=["4-D", "1-D", "NaN", "complex", "no samples", "no steps", "short y", "one class",
        "continuous y", "2-D y", "strings"])
def test_bad_training_input_is_refused_before_anything_changes(change, error, message):
    x, y = _trends()
    clf = RNNClassifier(**SMALL).fit(x, y)
    before = clf.predict_proba(x)
    model = clf.classifier_
    bad_x, bad_y = change(x, y)
    with pytest.raises(error, match=message):
        clf.fit(bad_x, bad_y)
    assert clf.classifier_ is model
    np.testing.assert_array_equal(clf.predict_proba(x), before)


def test_bad_prediction_input_is_refused():
    x, y = _trends()
    clf = RNNClassifier(**SMALL).fit(x, y)
    with pytest.raises(ValueError, match="X has 4 features, but RNNClassifier is expecting 10"):
        clf.predict(x[:, :4])
    # other lengths on purpose: as a list, or with lengths
    assert clf.predict(list(x[:3, :4])).shape == (3,)
    np.testing.assert_array_equal(clf.predict(x, lengths=np.full(60, 4)),
                                  clf.predict(list(x[:, :4])))
    with pytest.raises(ValueError, match="X has 2 values per step, but RNNClassifier was "
                                         "fitted on 1"):
        clf.predict(np.stack([x, x], axis=2))
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.predict(np.where(x > 1.2, np.inf, x))
    with pytest.raises(ValueError, match="Reshape your data"):
        clf.predict(x[0])
    with pytest.raises(TypeError, match="sparse"):
        from scipy import sparse

        clf.predict(sparse.csr_matrix(x))
    with pytest.raises(ValueError, match=r"lengths must be 60 ints in \[1, 10\].*from 11 to 11"):
        clf.predict(x, lengths=np.full(60, 11))
    with pytest.raises(ValueError, match="lengths are taken from the list"):
        clf.predict([x[0], x[1, :5]], lengths=[10, 5])
    # a column vector y is flattened with scikit-learn's warning
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        clf.fit(x, y[:, None])


# ------------------------------------------------------------------ the forecaster
def test_forecaster_predicts_what_the_forecaster_forecasts():
    series = _seasonal()
    fc = RNNForecaster(horizon=3, epochs=3, hidden_size=4).fit(series)
    app = Forecaster(horizon=3, epochs=3, hidden_size=4).fit(series)  # the same, by hand
    expected = app.forecast(6)
    np.testing.assert_allclose(fc.predict(steps=6), expected.mean)
    np.testing.assert_allclose(fc.predict(), expected.mean[:3])  # default: the horizon
    np.testing.assert_allclose(fc.predict([2, 5]), expected.mean[[1, 4]])
    np.testing.assert_allclose(fc.predict(4), expected.mean[[3]])  # sktime: the 4th ahead
    lower, upper = fc.predict_interval(steps=6, coverage=0.8)
    np.testing.assert_allclose(lower, expected.lower[80])
    assert np.all(lower < fc.predict(steps=6)) and np.all(fc.predict(steps=6) < upper)
    assert fc.n_obs_ == len(series)


def test_forecaster_score_is_negative_rmse_of_the_next_values():
    series = _seasonal()
    fc = RNNForecaster(network=False).fit(series[:84])
    forecast = fc.predict(steps=12)
    rmse = float(np.sqrt(np.mean((forecast - series[84:]) ** 2)))
    assert fc.score(series[84:]) == pytest.approx(-rmse)
    assert -rmse < 0


def test_forecaster_grid_search_on_rolling_origins():
    _needs_sklearn()
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score

    series = _seasonal()
    cv = TimeSeriesSplit(n_splits=2, test_size=12)
    search = GridSearchCV(RNNForecaster(network=False), {"season": [0, 12]}, cv=cv)
    search.fit(series)
    # split 0 of each candidate is: fit on the first 72 values, score the next 12
    for k, params in enumerate(search.cv_results_["params"]):
        by_hand = clone(search.estimator).set_params(**params).fit(series[:72])
        assert search.cv_results_["split0_test_score"][k] == pytest.approx(
            by_hand.score(series[72:84]))
    assert search.best_estimator_.n_obs_ == len(series)  # refit on everything
    scores = cross_val_score(RNNForecaster(network=False, season=12), series, cv=cv)
    assert scores.shape == (2,) and np.all(scores < 0)


def test_forecaster_with_exogenous_inputs_and_pickled():
    # A leading indicator the series follows a step later (a calendar input would be
    # redundant with the season, and a classical member without inputs would be chosen).
    lead = np.random.default_rng(1).normal(size=96)
    series = _seasonal() + 8 * np.roll(lead, 1)
    month = lead[:, None]
    fc = RNNForecaster(horizon=2, network=False).fit(series, month)
    app = Forecaster(horizon=2, network=False).fit(series, month)
    assert app.inputs_ == [0] and app.naive_weight_ < 1.0
    np.testing.assert_allclose(fc.predict(), app.forecast(2).mean)
    with pytest.raises(ValueError, match="with exogenous inputs only 2 step"):
        fc.predict(steps=3)  # the inputs' future is unknown
    back = pickle.loads(pickle.dumps(fc))
    np.testing.assert_array_equal(back.predict(), fc.predict())


def test_forecaster_bad_input():
    series = _seasonal()
    with pytest.raises(ValueError, match="must be 1-D"):
        RNNForecaster(network=False).fit(np.c_[series, series])
    with pytest.raises(ValueError, match="missing or non-finite"):
        RNNForecaster(network=False).fit(np.where(series > 150, np.nan, series))
    with pytest.raises(ValueError, match="series too short"):
        RNNForecaster(network=False).fit(series[:10])
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        RNNForecaster(horizon=0).fit(series)
    fc = RNNForecaster(network=False).fit(series)
    with pytest.raises(ValueError, match="fh must be a positive int"):
        fc.predict(0)
    with pytest.raises(ValueError, match="not both"):
        fc.predict(2, steps=3)
    with pytest.raises(ValueError, match="coverage must be 0.8 or 0.95"):
        fc.predict_interval(coverage=0.5)
    with pytest.raises(ValueError, match="future exogenous inputs X"):
        fc.score(series[:3], X=series[:3])
    with pytest.warns(DataConversionWarning):
        fc.fit(series[:, None])

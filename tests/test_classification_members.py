"""Ensemble members that see different inputs: ``downsample="patch,mean"`` gives member k the
k-th way of shortening long series, each with its own preprocessing, saved and checked."""

import numpy as np
import pytest

from minirnn.apps.classification import SequenceClassifier
from minirnn.apps.classification.classifier import CLASSIFIER_KIND
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

"""The relative-representation baseline (Moschella et al. 2023) against a case computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge

import flowalign_nb as fa
from flowalign_nb.align.baselines import relative_representation


def test_relative_representation_is_cosine_to_each_anchor():
    x = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    anchors = np.array([[1.0, 1.0], [3.0, 0.0]])
    expected = np.array([[1 / np.sqrt(2), 1.0], [1 / np.sqrt(2), 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(relative_representation(x, anchors), expected, atol=1e-12)


def _space(values, labels, labelled, prefix):
    rep = fa.make_representation(np.asarray(values, float), stimulus_id=[f"{prefix}{i}" for i in range(len(labels))], label=labels)
    return rep.assign_coords(is_labelled=("presentation", np.asarray(labelled)))


def test_relative_aligner_matches_a_hand_computed_small_case():
    # source: 2-d, target: 3-d, different stimuli (no stimulus pairs): anchors are the labelled class means
    xs = np.array([[0.0, 1.0], [2.0, 1.0], [1.0, 3.0], [3.0, 0.0], [1.0, 1.0]])
    xt = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [2.0, 2.0, 0.0], [1.0, 3.0, 1.0], [0.0, 0.0, 1.0], [2.0, 1.0, 3.0]])
    src = _space(xs, ["a", "a", "b", "b", "c"], [True, True, True, True, False], "s")
    tgt = _space(xt, ["a", "b", "b", "a", "c", "c"], [True, True, True, True, False, False], "t")
    aligner = fa.RelativeAligner(alpha=0.5).fit(src, tgt)

    zs = (xs - xs.mean(0)) / xs.std(0)
    zt = (xt - xt.mean(0)) / xt.std(0)
    a_src = np.array([zs[[0, 1]].mean(0), zs[[2, 3]].mean(0)])      # class means of a, b (labelled)
    a_tgt = np.array([zt[[0, 3]].mean(0), zt[[1, 2]].mean(0)])
    cos = lambda u, v: (u @ v.T) / np.outer(np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1))
    decoder = Ridge(alpha=0.5).fit(cos(zt, a_tgt), zt)                # on every target item
    expected = decoder.predict(cos(zs, a_src)) * xt.std(0) + xt.mean(0)

    np.testing.assert_allclose(aligner.transform(src).values, expected, rtol=1e-5, atol=1e-5)
    assert aligner.fit_on_ == "class means" and aligner.n_pairs_ == 2


def test_relative_aligner_ignores_labels_of_unlabelled_items():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c", "d"], 5)
    src = _space(rng.normal(size=(20, 4)), labels, np.isin(labels, ["a", "b"]), "s")
    tgt = _space(rng.normal(size=(20, 6)), labels, np.isin(labels, ["a", "b"]), "t")
    shuffled = tgt.assign_coords(label=("presentation", np.r_[labels[:10], rng.permutation(labels[10:])]))
    one = fa.RelativeAligner().fit(src, tgt).transform(src).values
    two = fa.RelativeAligner().fit(src, shuffled).transform(src).values
    np.testing.assert_allclose(one, two)


def test_relative_aligner_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        fa.RelativeAligner().transform(fa.make_representation(np.zeros((2, 2))))

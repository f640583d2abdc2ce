"""``fa.mask_labels(..., by="class")``: a fraction of the classes labelled in full, the others not at all."""

from __future__ import annotations

import numpy as np
import pytest

import flowalign_nb as fa
from flowalign_nb import RepresentationError


def _rep(counts, d=3, seed=0):
    labels = np.random.default_rng(123).permutation([c for c, n in counts.items() for _ in range(n)])
    return fa.make_representation(np.random.default_rng(seed).normal(size=(len(labels), d)), label=labels)


COUNTS = {f"c{i}": 3 + i % 4 for i in range(20)}


@pytest.mark.parametrize("fraction, n_classes", [(0.1, 2), (0.25, 5), (0.5, 10), (0.01, 1), (1.0, 20)])
def test_class_mode_labels_whole_classes_and_nothing_else(fraction, n_classes):
    out = fa.mask_labels(_rep(COUNTS), fraction, seed=0, by="class")
    mask, labels = out["is_labelled"].values, out["label"].values
    seen = set(labels[mask])
    assert len(seen) == n_classes
    for c in COUNTS:
        # every item of a labelled class is labelled; an unlabelled class has no labelled item at all
        assert mask[labels == c].all() if c in seen else not mask[labels == c].any(), c


def test_class_mode_is_seed_stable_and_shared_by_two_spaces_with_the_same_classes():
    a, b = _rep(COUNTS, seed=0), _rep({c: 1 for c in COUNTS}, d=5, seed=1)
    first = fa.mask_labels(a, 0.25, seed=7, by="class")
    again = fa.mask_labels(a, 0.25, seed=7, by="class")
    other_space = fa.mask_labels(b, 0.25, seed=7, by="class")
    np.testing.assert_array_equal(first["is_labelled"].values, again["is_labelled"].values)
    classes = lambda r: sorted(set(r["label"].values[r["is_labelled"].values]))
    assert classes(first) == classes(other_space)
    assert classes(first) != classes(fa.mask_labels(a, 0.25, seed=8, by="class"))


def test_class_mode_leaves_the_input_unchanged():
    rep = _rep(COUNTS)
    before = rep.copy(deep=True)
    fa.mask_labels(rep, 0.5, seed=0, by="class")
    assert rep.identical(before)


@pytest.mark.parametrize("fraction", [0, 1.5, True, "a"])
def test_class_mode_bad_fraction_names_the_value(fraction):
    with pytest.raises(RepresentationError, match=f"fraction={fraction!r} is not allowed"):
        fa.mask_labels(_rep(COUNTS), fraction, seed=0, by="class")


def test_unknown_mode_names_the_value_and_the_modes():
    with pytest.raises(RepresentationError, match=r"by='items' is not allowed; choose one of \['stratified', 'class'\]"):
        fa.mask_labels(_rep(COUNTS), 0.5, seed=0, by="items")


def test_class_mode_needs_labels():
    with pytest.raises(RepresentationError, match="needs a 'label' coord"):
        fa.mask_labels(fa.make_representation(np.zeros((3, 2))), 0.5, by="class")

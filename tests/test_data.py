"""Tests of the representation data model (flowalign_nb.data.model)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

import flowalign_nb as fa
from flowalign_nb import RepresentationError
from flowalign_nb.data.model import DIMS, UNLABELLED, check_pair, known_labels, labelled_classes


def _rep(labels, d=3, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    return fa.make_representation(rng.normal(size=(len(labels), d)), label=labels, **kwargs)


def _sid(stimulus_id):
    """Regex for ``stimulus_id='<id>'`` in a message (numpy 2 may print it as ``np.str_('<id>')``)."""
    return rf"stimulus_id=(np\.str_\()?'{re.escape(stimulus_id)}'"


def _labels(counts):
    """Labels with ``counts[c]`` items of class ``c``, interleaved."""
    out = []
    for c, n in counts.items():
        out += [c] * n
    return np.random.default_rng(123).permutation(np.array(out, dtype=object)).astype(str)


# ---------------------------------------------------------------------------------------------
# make_representation / validate
# ---------------------------------------------------------------------------------------------


def test_make_representation_defaults_and_attrs():
    rep = fa.make_representation(np.arange(6.0).reshape(3, 2), modality="fmri", model="m1")
    assert rep.dims == DIMS
    assert list(rep["stimulus_id"].values) == ["s0", "s1", "s2"]
    assert list(rep["neuroid_id"].values) == ["n0", "n1"]
    assert rep["is_labelled"].dtype == bool and not rep["is_labelled"].values.any()
    assert "label" not in rep.coords
    assert rep.attrs == {"modality": "fmri", "model": "m1"}
    np.testing.assert_array_equal(rep.values, np.arange(6.0).reshape(3, 2))


def test_validate_returns_valid_rep_unchanged():
    rep = _rep(["a", "b", "a"], is_labelled=[True, False, False])
    assert fa.validate(rep) is rep


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_values_message_names_count_and_stimulus(bad):
    values = np.ones((4, 3))
    values[2, 1] = bad
    values[3, 0] = np.nan
    with pytest.raises(RepresentationError, match=r"2 non-finite value\(s\).*" + _sid("img2")):
        fa.make_representation(values, stimulus_id=["img0", "img1", "img2", "img3"])


def test_nonfinite_values_caught_by_validate_on_raw_dataarray():
    rep = fa.make_representation(np.ones((3, 2)), stimulus_id=["x", "y", "z"])
    bad = rep.copy(deep=True)
    bad.values[1, 1] = np.inf
    with pytest.raises(RepresentationError, match=r"1 non-finite value\(s\).*" + _sid("y") + r"\)?, neuroid 1"):
        fa.validate(bad)


def test_duplicate_stimulus_id_names_the_id():
    with pytest.raises(RepresentationError, match=r"duplicate stimulus_id 'cat_07'"):
        fa.make_representation(np.zeros((3, 2)), stimulus_id=["dog_01", "cat_07", "cat_07"])


def test_wrong_dims_names_the_dims_found():
    da = xr.DataArray(np.zeros((2, 3)), dims=("stim", "unit"), coords={"stimulus_id": ("stim", ["a", "b"])})
    with pytest.raises(RepresentationError, match=re.escape("wrong dims ('stim', 'unit')")):
        fa.validate(da)


def test_wrong_dim_order_rejected_by_validate():
    rep = fa.make_representation(np.zeros((2, 3)))
    with pytest.raises(RepresentationError, match=re.escape("wrong dims ('neuroid', 'presentation')")):
        fa.validate(rep.T)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_non_2d_values_names_the_shape(shape):
    with pytest.raises(RepresentationError, match=re.escape(f"got shape {shape}")):
        fa.make_representation(np.zeros(shape))


def test_missing_stimulus_id_is_rejected():
    da = xr.DataArray(np.zeros((2, 2)), dims=DIMS)
    with pytest.raises(RepresentationError, match=r"missing 'stimulus_id' coord"):
        fa.validate(da)


def test_non_bool_is_labelled_names_the_dtype():
    da = xr.DataArray(
        np.zeros((2, 2)),
        dims=DIMS,
        coords={"stimulus_id": ("presentation", ["a", "b"]), "is_labelled": ("presentation", np.array([0, 1]))},
    )
    with pytest.raises(RepresentationError, match=r"is_labelled must be bool, got dtype int64"):
        fa.validate(da)


def test_make_representation_does_not_coerce_string_is_labelled():
    """``np.asarray(["False", "True"], bool)`` is all True: a silent label leak; it must be rejected."""
    with pytest.raises(RepresentationError, match=r"is_labelled must be bool, got dtype <U5"):
        fa.make_representation(np.zeros((2, 2)), label=["a", "b"], is_labelled=["False", "True"])


def test_labelled_item_with_missing_label_names_the_stimulus():
    labels = np.array(["a", None, "b"], dtype=object)
    with pytest.raises(RepresentationError, match=_sid("s1") + r"\)? is_labelled but its label is missing"):
        fa.make_representation(np.zeros((3, 2)), label=labels, is_labelled=[True, True, False])


def test_messages_show_stimulus_ids_as_plain_strings():
    """Messages should read ``stimulus_id='img2'``, not numpy 2's ``stimulus_id=np.str_('img2')``."""
    values = np.ones((3, 2))
    values[2, 0] = np.nan
    with pytest.raises(RepresentationError) as nonfinite:
        fa.make_representation(values, stimulus_id=["img0", "img1", "img2"])
    labels = np.array(["a", None, "b"], dtype=object)
    with pytest.raises(RepresentationError) as missing:
        fa.make_representation(np.zeros((3, 2)), label=labels, is_labelled=[True, True, False])
    assert "stimulus_id='img2'" in str(nonfinite.value)
    assert "stimulus_id='s1'" in str(missing.value)


def test_missing_label_allowed_for_unlabelled_item():
    labels = np.array(["a", None, "b"], dtype=object)
    rep = fa.make_representation(np.zeros((3, 2)), label=labels, is_labelled=[True, False, False])
    assert rep["is_labelled"].values.tolist() == [True, False, False]


def test_labelled_without_label_coord_is_rejected():
    with pytest.raises(RepresentationError, match=r"no 'label' coord"):
        fa.make_representation(np.zeros((2, 2)), is_labelled=[True, False])


def test_empty_and_non_numeric_values_rejected():
    with pytest.raises(RepresentationError, match=re.escape("empty representation of shape (0, 3)")):
        fa.make_representation(np.zeros((0, 3)))
    with pytest.raises(RepresentationError, match=r"real numbers, got dtype <U1"):
        fa.make_representation(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(RepresentationError, match=r"real numbers, got dtype complex128"):
        fa.make_representation(np.ones((2, 2), dtype=complex))


def test_validate_rejects_non_dataarray():
    with pytest.raises(RepresentationError, match=r"expected an xarray.DataArray, got ndarray"):
        fa.validate(np.zeros((2, 2)))


# ---------------------------------------------------------------------------------------------
# mask_labels
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, True, "a"])
def test_mask_labels_bad_fraction_names_the_value(fraction):
    rep = _rep(_labels({"a": 4, "b": 4}))
    with pytest.raises(RepresentationError, match=re.escape(f"fraction={fraction!r} is not allowed")):
        fa.mask_labels(rep, fraction, seed=0)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.01, 1, 1.0])
def test_mask_labels_is_stratified(fraction):
    counts = {"a": 10, "b": 7, "c": 3}
    rep = _rep(_labels(counts))
    out = fa.mask_labels(rep, fraction, seed=0)
    mask = out["is_labelled"].values
    assert mask.dtype == bool
    labels = out["label"].values
    for c, n in counts.items():
        assert mask[labels == c].sum() == max(1, round(fraction * n)), c


def test_mask_labels_explicit_counts():
    rep = _rep(_labels({"a": 10, "b": 7, "c": 3}))
    mask = fa.mask_labels(rep, 0.3, seed=4)["is_labelled"].values
    labels = rep["label"].values
    assert [int(mask[labels == c].sum()) for c in "abc"] == [3, 2, 1]


def test_mask_labels_tiny_fraction_keeps_one_per_class():
    counts = {"a": 50, "b": 20, "c": 2, "d": 1}
    rep = _rep(_labels(counts))
    out = fa.mask_labels(rep, 1e-6, seed=3)
    mask, labels = out["is_labelled"].values, out["label"].values
    assert mask.sum() == 4
    assert sorted(labels[mask]) == ["a", "b", "c", "d"]
    assert labelled_classes(out) == ["a", "b", "c", "d"]


def test_mask_labels_deterministic_per_seed_and_differs_across_seeds():
    rep = _rep(_labels({"a": 10, "b": 7, "c": 3}))
    m1 = fa.mask_labels(rep, 0.3, seed=1)["is_labelled"].values
    m1_again = fa.mask_labels(rep, 0.3, seed=1)["is_labelled"].values
    m2 = fa.mask_labels(rep, 0.3, seed=2)["is_labelled"].values
    np.testing.assert_array_equal(m1, m1_again)
    assert not np.array_equal(m1, m2)
    # different seeds still give the same per-class counts
    labels = rep["label"].values
    for c in "abc":
        assert m1[labels == c].sum() == m2[labels == c].sum()


def test_mask_labels_returns_a_copy_and_leaves_original_unchanged():
    rep = _rep(_labels({"a": 5, "b": 5}), is_labelled=[False] * 10)
    rep.attrs["model"] = "m"
    before = rep.copy(deep=True)
    out = fa.mask_labels(rep, 0.4, seed=0)
    assert out is not rep
    assert out["is_labelled"].values.sum() == 4
    assert not rep["is_labelled"].values.any()
    xr.testing.assert_identical(rep, before)
    # the result's coord is its own: editing it does not reach the original
    out["is_labelled"].values[:] = True
    assert not rep["is_labelled"].values.any()


def test_mask_labels_result_values_do_not_alias_the_input():
    """The docstring promises "a copy": writing into the result must not modify the caller's data."""
    rep = _rep(_labels({"a": 3, "b": 3}))
    before = rep.values.copy()
    out = fa.mask_labels(rep, 0.5, seed=0)
    out.values[0, 0] = 1234.5
    np.testing.assert_array_equal(rep.values, before)


def test_mask_labels_needs_labels_for_every_item():
    rep = fa.make_representation(np.zeros((3, 2)))
    with pytest.raises(RepresentationError, match=r"needs a 'label' coord"):
        fa.mask_labels(rep, 0.5)
    labels = np.array(["a", None, "b"], dtype=object)
    rep = fa.make_representation(np.zeros((3, 2)), label=labels)
    with pytest.raises(RepresentationError, match=r"some labels are missing"):
        fa.mask_labels(rep, 0.5)


# ---------------------------------------------------------------------------------------------
# known_labels: no label leak
# ---------------------------------------------------------------------------------------------


def test_known_labels_minus_one_for_unlabelled():
    rep = _rep(["a", "b", "c", "a", "b"], is_labelled=[True, False, True, False, True])
    out = known_labels(rep, ["a", "b", "c"])
    assert out.dtype == np.int64
    assert out.tolist() == [0, UNLABELLED, 2, UNLABELLED, 1]


def test_known_labels_all_unlabelled():
    rep = _rep(["a", "b"])
    assert known_labels(rep, ["a", "b"]).tolist() == [-1, -1]
    assert known_labels(fa.make_representation(np.zeros((2, 2))), []).tolist() == [-1, -1]


def test_known_labels_ignores_unlabelled_labels_outside_classes():
    rep = _rep(["a", "b", "secret_class", "other_secret"], is_labelled=[True, True, False, False])
    assert known_labels(rep, ["a", "b"]).tolist() == [0, 1, -1, -1]


def test_known_labels_invariant_to_unlabelled_labels():
    labels = np.array(["a", "b", "c", "a", "b", "c", "a", "b"])
    is_lab = np.array([True, True, True, False, False, False, False, False])
    base = known_labels(_rep(labels, is_labelled=is_lab), ["a", "b", "c"])
    rng = np.random.default_rng(0)
    for _ in range(5):
        perm = labels.copy()
        perm[~is_lab] = rng.permutation(perm[~is_lab])[::-1]
        out = known_labels(_rep(perm, is_labelled=is_lab), ["a", "b", "c"])
        np.testing.assert_array_equal(out, base)
    other = labels.astype(object)
    other[~is_lab] = ["c", "c", "not_a_class", "q", None]
    np.testing.assert_array_equal(known_labels(_rep(other, is_labelled=is_lab), ["a", "b", "c"]), base)


def test_known_labels_never_touches_unlabelled_label_objects():
    class Poison:
        def _boom(self, *args):
            raise AssertionError("the label of an unlabelled item was read")

        __eq__ = __hash__ = __str__ = __repr__ = _boom

    labels = np.empty(4, dtype=object)
    labels[:] = ["a", "b", Poison(), Poison()]
    rep = fa.make_representation(np.zeros((4, 2)), label=labels, is_labelled=[True, True, False, False])
    assert known_labels(rep, ["a", "b"]).tolist() == [0, 1, -1, -1]


def test_known_labels_labelled_class_not_in_classes_is_named():
    rep = _rep(["a", "b", "c"], is_labelled=[True, True, True])
    with pytest.raises(RepresentationError, match=r"labelled class\(es\) \['c'\] are not among the classes"):
        known_labels(rep, ["a", "b"])


# ---------------------------------------------------------------------------------------------
# check_pair
# ---------------------------------------------------------------------------------------------


def test_check_pair_returns_shared_classes():
    src = _rep(["a", "b", "a", "b"], is_labelled=[True, True, False, False])
    tgt = _rep(["b", "a", "a"], is_labelled=[True, True, False], d=5)
    assert check_pair(src, tgt) == ["a", "b"]


def test_check_pair_no_labelled_source():
    src = _rep(["a", "b"])
    tgt = _rep(["a", "b"], is_labelled=[True, True])
    with pytest.raises(RepresentationError, match=r"the source has no labelled items"):
        check_pair(src, tgt)


def test_check_pair_no_labelled_target():
    src = _rep(["a", "b"], is_labelled=[True, True])
    tgt = _rep(["a", "b"])
    with pytest.raises(RepresentationError, match=r"the target has no labelled items"):
        check_pair(src, tgt)


def test_check_pair_without_labels_allowed_when_not_needed():
    assert check_pair(_rep(["a", "b"]), _rep(["a", "b"]), need_labels=False) == []


def test_check_pair_class_only_in_source():
    src = _rep(["a", "b", "cow"], is_labelled=[True, True, True])
    tgt = _rep(["a", "b", "cow"], is_labelled=[True, True, False])
    with pytest.raises(RepresentationError, match=r"\['cow'\] labelled in the source are absent from the target"):
        check_pair(src, tgt)


def test_check_pair_class_only_in_target():
    src = _rep(["a", "b"], is_labelled=[True, True])
    tgt = _rep(["a", "b", "horse"], is_labelled=[True, True, True])
    with pytest.raises(RepresentationError, match=r"\['horse'\] labelled in the target are absent from the source"):
        check_pair(src, tgt)


def test_check_pair_validates_both():
    good = _rep(["a"], is_labelled=[True])
    bad = xr.DataArray(np.zeros((1, 1)), dims=("x", "y"))
    with pytest.raises(RepresentationError, match=re.escape("wrong dims ('x', 'y')")):
        check_pair(good, bad)


# ---------------------------------------------------------------------------------------------
# as_representation: brainio-style assemblies
# ---------------------------------------------------------------------------------------------

P, N, T = 6, 4, 3


def _brainio(time_bin_multiindex=False):
    values = np.random.default_rng(7).normal(size=(P, N, T))
    da = xr.DataArray(
        values,
        dims=("presentation", "neuroid", "time_bin"),
        coords={
            "stimulus_id": ("presentation", [f"im{i}" for i in range(P)]),
            "label": ("presentation", ["car", "face", "dog"] * 2),
            "object_name": ("presentation", [f"obj{i}" for i in range(P)]),
            "neuroid_id": ("neuroid", [f"n{j}" for j in range(N)]),
            "region": ("neuroid", ["IT", "IT", "V4", "V4"]),
            "time_bin_start": ("time_bin", [70, 120, 170]),
            "time_bin_end": ("time_bin", [120, 170, 220]),
        },
        attrs={"modality": "ephys"},
    )
    da = da.set_index(presentation=["stimulus_id", "label", "object_name"], neuroid=["neuroid_id", "region"])
    if time_bin_multiindex:
        da = da.set_index(time_bin=["time_bin_start", "time_bin_end"])
    assert isinstance(da.indexes["presentation"], pd.MultiIndex)
    assert isinstance(da.indexes["neuroid"], pd.MultiIndex)
    return da, values


def _assert_plain(rep, time_bin_dropped=True):
    assert type(rep) is xr.DataArray
    assert rep.dims == ("presentation", "neuroid")
    assert not any(isinstance(i, pd.MultiIndex) for i in rep.indexes.values())
    for name in ("stimulus_id", "label", "object_name", "is_labelled"):
        assert rep[name].dims == ("presentation",), name
    for name in ("neuroid_id", "region"):
        assert rep[name].dims == ("neuroid",), name
    if time_bin_dropped:
        assert not any(str(c).startswith("time_bin") for c in rep.coords)
    assert rep["stimulus_id"].values.tolist() == [f"im{i}" for i in range(P)]
    assert rep["label"].values.tolist() == ["car", "face", "dog"] * 2
    assert rep["object_name"].values.tolist() == [f"obj{i}" for i in range(P)]
    assert rep["region"].values.tolist() == ["IT", "IT", "V4", "V4"]
    assert rep["is_labelled"].dtype == bool and not rep["is_labelled"].values.any()


@pytest.mark.parametrize("tb_mi", [False, True], ids=["time_bin_coords", "time_bin_multiindex"])
def test_as_representation_averages_time_bins(tb_mi):
    da, values = _brainio(tb_mi)
    rep = fa.as_representation(da)
    _assert_plain(rep)
    np.testing.assert_allclose(rep.values, values.mean(axis=2))
    assert rep.attrs["modality"] == "ephys"


@pytest.mark.parametrize("tb_mi", [False, True], ids=["time_bin_coords", "time_bin_multiindex"])
def test_as_representation_selects_one_bin(tb_mi):
    da, values = _brainio(tb_mi)
    rep = fa.as_representation(da, time_bin=1)
    _assert_plain(rep)
    np.testing.assert_array_equal(rep.values, values[:, :, 1])
    np.testing.assert_array_equal(fa.as_representation(da, time_bin=np.int64(2)).values, values[:, :, 2])


@pytest.mark.parametrize("bad", [5, 3, -4, "median", 1.0])
def test_as_representation_bad_time_bin_names_allowed_values(bad):
    da, _ = _brainio()
    with pytest.raises(RepresentationError, match=re.escape(f"time_bin={bad!r} is not allowed; use 'mean' or an index in [0, 3)")):
        fa.as_representation(da, time_bin=bad)


def test_as_representation_accepts_transposed_input():
    da, values = _brainio()
    rep = fa.as_representation(da.transpose("neuroid", "time_bin", "presentation"))
    _assert_plain(rep)
    np.testing.assert_allclose(rep.values, values.mean(axis=2))
    # no time_bin dim at all (selected beforehand), neuroid first
    plain = fa.as_representation(da.isel(time_bin=0).transpose("neuroid", "presentation"))
    _assert_plain(plain, time_bin_dropped=False)
    np.testing.assert_array_equal(plain.values, values[:, :, 0])


def test_as_representation_copies_values_and_keeps_is_labelled():
    da, values = _brainio()
    rep = fa.as_representation(da.isel(time_bin=0))
    rep.values[0, 0] = 999.0
    assert da.values[0, 0, 0] == values[0, 0, 0]
    labelled = fa.mask_labels(rep, 0.5, seed=0)
    again = fa.as_representation(labelled)
    np.testing.assert_array_equal(again["is_labelled"].values, labelled["is_labelled"].values)


def test_as_representation_validates():
    da, _ = _brainio()
    with pytest.raises(RepresentationError, match=r"expected an xarray.DataArray, got list"):
        fa.as_representation([[1.0]])
    bad = da.copy(deep=True)
    bad.values[2, 0, :] = np.nan
    with pytest.raises(RepresentationError, match=r"1 non-finite value\(s\).*" + _sid("im2")):
        fa.as_representation(bad)
    with pytest.raises(RepresentationError, match=re.escape("wrong dims ('presentation', 'neuroid', 'time_bin')")):
        fa.validate(da)


# ---------------------------------------------------------------------------------------------
# train_test_split
# ---------------------------------------------------------------------------------------------


def test_train_test_split_stratified_disjoint_covering():
    counts = {"a": 10, "b": 10, "c": 10}
    rep = _rep(_labels(counts))
    train, test = fa.train_test_split(rep, test_size=0.2, seed=0, stratify=rep["label"].values)
    ids_train, ids_test = set(train["stimulus_id"].values), set(test["stimulus_id"].values)
    assert not ids_train & ids_test
    assert ids_train | ids_test == set(rep["stimulus_id"].values)
    assert train.sizes["presentation"] == 24 and test.sizes["presentation"] == 6
    assert pd.Series(test["label"].values).value_counts().to_dict() == {"a": 2, "b": 2, "c": 2}
    assert pd.Series(train["label"].values).value_counts().to_dict() == {"a": 8, "b": 8, "c": 8}
    # items keep their values and original order
    pos = {s: i for i, s in enumerate(rep["stimulus_id"].values)}
    for part in (train, test):
        idx = [pos[s] for s in part["stimulus_id"].values]
        assert idx == sorted(idx)
        np.testing.assert_array_equal(part.values, rep.values[idx])
    again = fa.train_test_split(rep, test_size=0.2, seed=0, stratify=rep["label"].values)[1]
    assert again["stimulus_id"].values.tolist() == test["stimulus_id"].values.tolist()


def test_train_test_split_without_labels():
    rep = fa.make_representation(np.zeros((10, 2)))
    train, test = fa.train_test_split(rep, test_size=0.3, seed=1)
    assert train.sizes["presentation"] == 7 and test.sizes["presentation"] == 3
    assert fa.train_test_split(rep, test_size=3, seed=1)[1].sizes["presentation"] == 3  # a count, as scikit-learn


def test_train_test_split_ignores_hidden_labels():
    """Stratified by default on known labels only: permuting hidden labels leaves the split unchanged."""
    rep = fa.mask_labels(_rep(_labels({"a": 40, "b": 40, "c": 40})), 0.25, seed=0)
    hidden = np.flatnonzero(~rep["is_labelled"].values)
    for seed in range(3):
        labels = rep["label"].values.copy()
        labels[hidden] = np.random.default_rng(seed).permutation(labels[hidden])
        shuffled = rep.assign_coords(label=("presentation", labels))
        for split_seed in range(5):
            assert (fa.train_test_split(shuffled, test_size=0.25, seed=split_seed)[1]["stimulus_id"].values.tolist()
                    == fa.train_test_split(rep, test_size=0.25, seed=split_seed)[1]["stimulus_id"].values.tolist())


def test_train_test_split_stratifies_known_labels_and_explicit_strata():
    rep = fa.mask_labels(_rep(_labels({"a": 40, "b": 40, "c": 40})), 0.25, seed=0)
    for seed in range(5):
        test = fa.train_test_split(rep, test_size=0.25, seed=seed)[1]
        known = test["label"].values[test["is_labelled"].values]
        # 10 labelled items per class, a quarter of each held out; the 90 unlabelled items: 22 or 23
        assert pd.Series(known).value_counts().to_dict() in ({"a": 2, "b": 3, "c": 3}, {"a": 3, "b": 2, "c": 3}, {"a": 3, "b": 3, "c": 2},
                                                            {"a": 3, "b": 3, "c": 3}, {"a": 2, "b": 2, "c": 3}, {"a": 2, "b": 3, "c": 2},
                                                            {"a": 3, "b": 2, "c": 2})
        assert int((~test["is_labelled"].values).sum()) in (22, 23)
    groups = np.arange(120) % 2
    test = fa.train_test_split(rep, test_size=0.5, seed=0, stratify=groups)[1]
    position = {s: i for i, s in enumerate(rep["stimulus_id"].values)}
    assert np.bincount(groups[[position[s] for s in test["stimulus_id"].values]]).tolist() == [30, 30]
    from sklearn.model_selection import train_test_split as sklearn_split

    unstratified = fa.train_test_split(rep, test_size=0.25, seed=4, stratify=None)[1]
    expected = np.sort(sklearn_split(np.arange(120), test_size=0.25, random_state=4)[1])
    assert unstratified["stimulus_id"].values.tolist() == rep["stimulus_id"].values[expected].tolist()


def test_train_test_split_test_fraction_is_deprecated():
    rep = _rep(_labels({"a": 10, "b": 10}))
    with pytest.warns(FutureWarning, match="test_fraction= is deprecated; use test_size="):
        old = fa.train_test_split(rep, test_fraction=0.3, seed=2)
    new = fa.train_test_split(rep, test_size=0.3, seed=2)
    assert old[1]["stimulus_id"].values.tolist() == new[1]["stimulus_id"].values.tolist()
    with pytest.raises(RepresentationError, match="give test_size= only"):
        fa.train_test_split(rep, test_size=0.3, test_fraction=0.3)


def test_train_test_split_bad_stratify():
    rep = _rep(_labels({"a": 10, "b": 10}))
    with pytest.raises(RepresentationError, match=re.escape("stratify has 3 values for 20 presentations")):
        fa.train_test_split(rep, stratify=[0, 1, 0])
    with pytest.raises(RepresentationError, match=re.escape("stratify='label' is not allowed")):
        fa.train_test_split(rep, stratify="label")
    with pytest.raises(RepresentationError, match="cannot stratify the split.*stratify=None"):
        fa.train_test_split(rep, stratify=np.arange(20))


@pytest.mark.parametrize("bad", [0, 1.0, 1.5, -0.2, 10, True, "0.2"])  # 10: every item of the 10
def test_train_test_split_bad_fraction(bad):
    rep = _rep(_labels({"a": 5, "b": 5}))
    with pytest.raises(RepresentationError, match=re.escape(f"test_size={bad!r} is not allowed")):
        fa.train_test_split(rep, test_size=bad)


# ---------------------------------------------------------------------------------------------
# Latents
# ---------------------------------------------------------------------------------------------


def test_latents_from_arrays_defaults():
    lat = fa.Latents.from_arrays(np.ones((5, 3)))
    assert lat.x.dtype == torch.float32 and lat.labels.dtype == torch.int64
    assert (lat.n, lat.dim, lat.n_classes) == (5, 3, 0)
    assert lat.labels.tolist() == [-1] * 5
    assert not lat.is_labelled.any()
    assert lat.stimulus_id.tolist() == [f"s{i}" for i in range(5)]


def test_latents_from_arrays_with_labels():
    lat = fa.Latents.from_arrays(np.ones((5, 2)), labels=[0, -1, 2, -1, 1], stimulus_id=list("abcde"))
    assert lat.classes == [0, 1, 2]
    assert lat.is_labelled.tolist() == [True, False, True, False, True]
    assert lat.stimulus_id.tolist() == list("abcde")
    lat = fa.Latents.from_arrays(np.ones((2, 2)), labels=[0, 0], classes=["cat", "dog"])
    assert lat.n_classes == 2 and lat.classes == ["cat", "dog"]


def test_latents_from_arrays_shape_checks():
    with pytest.raises(RepresentationError, match=re.escape("got (5,) and (5,)")):
        fa.Latents.from_arrays(np.ones(5))
    with pytest.raises(RepresentationError, match=re.escape("got (2, 3, 4) and (2,)")):
        fa.Latents.from_arrays(np.ones((2, 3, 4)))
    with pytest.raises(RepresentationError, match=re.escape("got (5, 3) and (4,)")):
        fa.Latents.from_arrays(np.ones((5, 3)), labels=[0, 1, 0, 1])
    with pytest.raises(RepresentationError, match=re.escape("got (3, 2) and (3, 1)")):
        fa.Latents.from_arrays(np.ones((3, 2)), labels=[[0], [1], [0]])

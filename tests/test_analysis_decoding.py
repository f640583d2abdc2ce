"""Decoding: parity with scikit-learn's cross_val_score, repetitions grouped by stimulus, confusion
matrices, transfer decoding on known spaces, errors."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import flowalign_nb as fa
from flowalign_nb.analysis.inputs import NotApplicableError


@pytest.fixture(scope="module")
def pair():
    return fa.make_synthetic_pair(n_train=300, n_test=150, seed=0)


@pytest.fixture(scope="module")
def noisy():
    """4 classes of 20 stimuli, weakly separated, so that folds disagree and errors occur."""
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c", "d"], 20)
    means = rng.normal(scale=0.6, size=(4, 8))
    x = means[np.searchsorted(["a", "b", "c", "d"], labels)] + rng.normal(size=(80, 8))
    return fa.make_representation(x, [f"s{i}" for i in range(80)], labels)


@pytest.mark.parametrize("estimator", [None, LinearSVC(C=0.1)], ids=["default", "linear_svc"])
@pytest.mark.parametrize("seed", [0, 3])
def test_decode_equals_cross_val_score_with_the_same_estimator_and_folds(noisy, estimator, seed):
    x, y = noisy.values, noisy["label"].values
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)) if estimator is None else estimator
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    expected = cross_val_score(clone(reference), x, y, cv=folds)
    result = fa.decode(noisy, cv=5, seed=seed, estimator=estimator)
    np.testing.assert_array_equal(result.scores, expected)
    assert result.table.loc[0, "value"] == pytest.approx(expected.mean(), abs=1e-12)
    assert 0.3 < expected.mean() < 0.95  # the data leave room for errors: the comparison is not trivial
    # the confusion matrix counts the out-of-fold predictions
    predicted = cross_val_predict(clone(reference), x, y, cv=folds)
    for i, true in enumerate(result.confusion["true"].values):
        for j, guess in enumerate(result.confusion["predicted"].values):
            assert result.confusion.values[i, j] == np.sum((y == true) & (predicted == guess))
    row = result.table.iloc[0]
    assert row["ci_low"] < np.mean(predicted == y) < row["ci_high"] and row["chance"] == 0.25


def test_repetitions_are_decoded_with_folds_grouped_by_stimulus(noisy):
    rng = np.random.default_rng(1)
    reps = [noisy.copy(data=noisy.values + 0.5 * rng.normal(size=noisy.shape)) for _ in range(3)]
    reps[1] = reps[1].isel(presentation=rng.permutation(80))  # repetitions are matched by stimulus_id
    result = fa.decode(reps, cv=4, seed=2)
    aligned = [r.isel(presentation=positions(r, noisy)) for r in reps]
    x = np.concatenate([r.values for r in aligned])
    y = np.tile(noisy["label"].values, 3)
    groups = np.tile(noisy["stimulus_id"].values, 3)
    folds = StratifiedGroupKFold(4, shuffle=True, random_state=2)
    expected = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), x, y, groups=groups, cv=folds)
    np.testing.assert_allclose(result.scores, expected, rtol=0, atol=1e-12)
    for train, test in folds.split(x, y, groups):
        assert not set(groups[train]) & set(groups[test])
    assert int(result.confusion.sum()) == 240


def positions(rep, reference):
    """Positions of ``reference``'s stimuli in ``rep``."""
    return [list(rep["stimulus_id"].values).index(s) for s in reference["stimulus_id"].values]


def test_transfer_decoding_of_the_target_itself_and_of_the_padded_source(pair):
    """Known answers: held-out target items are decoded like the decoder's own space (the synthetic
    classes are well separated), while zero-padded source items, whose coordinates mean nothing to
    a target-space decoder, fall to chance."""
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(pair.target.values, pair.target["label"].values)
    own = fa.transfer_decode(pair.target_test, pair.target)
    assert own.table.loc[0, "value"] == pytest.approx(clf.score(pair.target_test.values, pair.target_test["label"].values), abs=1e-12)
    assert own.table.loc[0, "value"] > 0.95 and not own.table.loc[0, "padded"]
    before = fa.transfer_decode(pair.source_test, pair.target, pad=True)
    padded = np.concatenate([pair.source_test.values, np.zeros((150, 8))], axis=1)
    assert before.table.loc[0, "value"] == pytest.approx(clf.score(padded, pair.source_test["label"].values), abs=1e-12)
    assert before.table.loc[0, "value"] < 0.35 and before.table.loc[0, "padded"]
    assert int(before.confusion.sum()) == 150 and before.table.loc[0, "n_train"] == 300


def test_decoding_errors_name_the_bad_value(pair, noisy):
    with pytest.raises(fa.RepresentationError, match="moved has 16 neuroids but target has 24; pass pad=True"):
        fa.transfer_decode(pair.source_test, pair.target)
    with pytest.raises(NotApplicableError, match="moved has 24 neuroids but target has 16; a decoder of the target cannot read it"):
        fa.transfer_decode(pair.target_test, pair.source, pad=True)  # compare() skips it, a note instead of a row
    with pytest.raises(fa.RepresentationError, match=r"no presentation coord 'object'.*\['is_labelled', 'label', 'stimulus_id'\]"):
        fa.decode(noisy, label="object")
    with pytest.raises(NotApplicableError, match="class 'a' has 3 stimuli; cv=5 folds need at least 5"):
        fa.decode(noisy.isel(presentation=np.r_[0:3, 20:80]))
    with pytest.raises(ValueError, match=r"cv=1 is not allowed; it must be an integer >= 2"):
        fa.decode(noisy, cv=1)
    other = pair.target_test.assign_coords(label=("presentation", pair.target_test["label"].values + 10))
    with pytest.raises(fa.RepresentationError, match=r"moved has class\(es\) \[10, 11, 12, 13, 14\] that target lacks"):
        fa.transfer_decode(other, pair.target)


def test_n_train_counts_items_in_each_training_fold_not_a_mean():
    """397 items in 5 folds train on 317 or 318 items: the table says 317 (the smallest fold), an integer, not 317.6."""
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(0)
    labels = np.arange(397) % 3
    rep = fa.make_representation(rng.normal(size=(397, 4)) + labels[:, None], [f"s{i}" for i in range(397)], labels)
    table = fa.decode(rep, cv=5, seed=0).table
    sizes = [len(train) for train, _ in StratifiedKFold(5, shuffle=True, random_state=0).split(rep.values, labels)]
    assert sorted(set(sizes)) == [317, 318]
    assert table.loc[0, "n_train"] == 317 and isinstance(table.loc[0, "n_train"], (int, np.integer))

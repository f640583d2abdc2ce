"""Neural predictivity: a simulated population made from known features, parity with scikit-learn's PLS
called directly (Brain-Score's protocol and the k-fold variant), the aggregation order, the split-half
ceiling on known reliabilities, errors."""

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

import flowalign_nb as fa
from flowalign_nb.analysis.inputs import NotApplicableError
from flowalign_nb.analysis.predictivity import brainscore_score

N_STIMULI, N_NEUROIDS = 120, 50
IDS = [f"im{i:03d}" for i in range(N_STIMULI)]
OBJECTS = np.repeat([f"object{k}" for k in range(6)], N_STIMULI // 6)


def rep(values, ids=IDS, label=OBJECTS):
    return fa.make_representation(values, ids, label)


@pytest.fixture(scope="module")
def population():
    """Features F (120 x 30); neuroids Y_r = F W + 3 eps_r over 4 repetitions."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(N_STIMULI, 30))
    signal = features @ rng.normal(size=(30, N_NEUROIDS))
    reps = [rep(signal + 3 * rng.normal(size=signal.shape)) for _ in range(4)]
    return features, reps, rng.normal(size=(N_STIMULI, 30))


def test_the_features_that_made_the_population_predict_it_better_than_unrelated_features(population):
    features, reps, unrelated = population
    known = fa.predictivity(rep(features), reps).table.set_index("metric")
    other = fa.predictivity(rep(unrelated), reps).table.set_index("metric")
    assert known.loc["r", "value"] > 0.8 > 0.2 > other.loc["r", "value"]
    assert known.loc["r", "ci_low"] > other.loc["r", "ci_high"]
    # the known features explain all the repeatable signal: the ceiled score is about 1
    assert known.loc["ceiled_r", "value"] == pytest.approx(1.0, abs=0.06)
    assert known.loc["r", "ceiling"] == other.loc["r", "ceiling"]
    assert known.loc["r", "n_components"] == 25 and known.loc["r", "n_repetitions"] == 4


def test_per_neuroid_scores_equal_pls_and_pearson_computed_directly(population):
    features, reps, _ = population
    single = reps[0]
    result = fa.predictivity(rep(features), single, n_components=10, cv=5, seed=3, protocol="kfold")
    expected = np.zeros(N_NEUROIDS)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=3).split(features, OBJECTS):
        predicted = PLSRegression(n_components=10, scale=False, max_iter=2000).fit(features[train], single.values[train]).predict(features[test])
        expected += [np.corrcoef(predicted[:, j], single.values[test, j])[0, 1] / 5 for j in range(N_NEUROIDS)]
    np.testing.assert_allclose(result.r.values, expected, rtol=0, atol=1e-10)
    assert list(result.table["metric"]) == ["r"] and result.consistency is None
    assert result.table.loc[0, "value"] == pytest.approx(np.median(expected), abs=1e-12)
    assert list(result.r["neuroid_id"].values) == list(single["neuroid_id"].values)


def test_split_half_ceiling_has_the_spearman_brown_reliability():
    """Signal of unit variance plus noise of variance s^2 per repetition: the mean of R repetitions has
    reliability 1 / (1 + s^2 / R); noise-free repetitions have ceiling 1, so ceiled r equals r."""
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(400, N_NEUROIDS))
    features = rep(signal[:, :20], ids=[f"s{i}" for i in range(400)], label=np.repeat(list("abcd"), 100))
    noisy = [rep(signal + rng.normal(size=signal.shape), ids=features["stimulus_id"].values, label=features["label"].values)
             for _ in range(4)]
    result = fa.predictivity(features, noisy, cv=5)
    assert result.table.loc[0, "ceiling"] == pytest.approx(1 / (1 + 1 / 4), abs=0.03)
    clean = [noisy[0].copy(data=signal) for _ in range(3)]
    exact = fa.predictivity(features, clean, cv=5).table.set_index("metric")
    assert exact.loc["r", "ceiling"] == pytest.approx(1.0, abs=1e-12)
    assert exact.loc["ceiled_r", "value"] == pytest.approx(exact.loc["r", "value"], abs=1e-12)
    # neuroids 0..19 are the features themselves, the rest are unrelated: median r sits between
    r = fa.predictivity(features, clean, cv=5).r.values
    assert np.all(r[:20] > 0.99) and np.all(np.abs(r[20:]) < 0.2)


def test_components_are_capped_by_the_feature_count(population):
    features, reps, _ = population
    result = fa.predictivity(rep(features[:, :8]), reps, cv=5)
    assert result.table.loc[0, "n_components"] == 8


def test_predictivity_errors_name_the_bad_value(population):
    features, reps, _ = population
    with pytest.raises(NotApplicableError, match="predictivity needs at least 10 stimuli shown to both inputs"):
        fa.predictivity(rep(features, ids=[f"x{i}" for i in range(N_STIMULI)]), reps)
    with pytest.raises(fa.RepresentationError, match="label 'object0' has 5 shared stimuli; cv=10 folds"):
        fa.predictivity(rep(features), [r.isel(presentation=np.r_[0:5, 20:120]) for r in reps], protocol="kfold")
    with pytest.raises(fa.RepresentationError, match="label 'object0' has 1 shared stimuli; stratified 90/10 splits"):
        fa.predictivity(rep(features), [r.isel(presentation=np.r_[0:1, 20:120]) for r in reps])
    with pytest.raises(ValueError, match="protocol='brain-score' is not allowed; use one of 'brainscore', 'kfold'"):
        fa.predictivity(rep(features), reps, protocol="brain-score")
    with pytest.raises(fa.RepresentationError, match="neural has no presentation coord 'object'"):
        fa.predictivity(rep(features), reps, stratify="object")
    with pytest.raises(ValueError, match="n_components=0 is not allowed"):
        fa.predictivity(rep(features), reps, n_components=0)
    with pytest.raises(TypeError, match="neural must be a representation"):
        fa.predictivity(rep(features), features)


def test_brainscore_aggregation_is_the_median_over_neuroids_then_the_mean_over_splits():
    """By hand: split medians 0.5 and 0.3 (NaN left out of its split), mean 0.4; the other order (mean over
    splits per neuroid 0.45, 0.35, 0.6, then the median) would give 0.45."""
    per_split = np.array([[0.1, 0.5, 0.9, np.nan], [0.8, 0.2, 0.3, np.nan]])
    assert brainscore_score(per_split) == pytest.approx(0.4, abs=1e-15)
    assert np.median(np.nanmean(per_split[:, :3], axis=0)) == pytest.approx(0.45)


def test_brainscore_protocol_equals_its_recipe_with_scikit_learn(population):
    """10 stratified 90/10 splits (seeded), PLS 25, per-split median over neuroids of Pearson r, mean over splits;
    ceiling: equal split halves, Spearman-Brown, per-split median, mean."""
    features, reps, _ = population
    y = np.mean([r.values for r in reps], axis=0)
    result = fa.predictivity(rep(features), reps, seed=4)
    medians = []
    for train, test in StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=4).split(features, OBJECTS):
        predicted = PLSRegression(n_components=25, scale=False, max_iter=2000).fit(features[train], y[train]).predict(features[test])
        medians.append(np.median([np.corrcoef(predicted[:, j], y[test, j])[0, 1] for j in range(N_NEUROIDS)]))
    row = result.table.set_index("metric")
    assert row.loc["r", "value"] == pytest.approx(np.mean(medians), abs=1e-10) and row.loc["r", "protocol"] == "brainscore"
    np.testing.assert_allclose(result.split_scores, medians, atol=1e-10)
    rng, values, ceilings = np.random.default_rng(4), np.stack([r.values for r in reps]), []
    for _ in range(10):
        order = rng.permutation(4)
        c = [np.corrcoef(values[order[:2], :, j].mean(0), values[order[2:4], :, j].mean(0))[0, 1] for j in range(N_NEUROIDS)]
        ceilings.append(np.median([2 * v / (1 + v) for v in c]))
    assert row.loc["r", "ceiling"] == pytest.approx(np.mean(ceilings), abs=1e-10)
    assert row.loc["ceiled_r", "value"] == pytest.approx(np.mean(medians) / np.mean(ceilings), abs=1e-10)
    assert row.loc["r", "n_folds"] == 10 and row.loc["r", "ci_low"] < row.loc["r", "value"] < row.loc["r", "ci_high"]


def test_equal_halves_ceiling_of_an_odd_number_of_repetitions():
    """5 repetitions of unit signal plus unit noise: equal halves of 2 give, after Spearman-Brown, the reliability
    of 4 repetitions, 1 / (1 + 1/4) = 0.8."""
    rng = np.random.default_rng(5)
    signal = rng.normal(size=(400, N_NEUROIDS))
    ids, labels = [f"s{i}" for i in range(400)], np.repeat(list("abcd"), 100)
    features = rep(signal[:, :20], ids=ids, label=labels)
    noisy = [rep(signal + rng.normal(size=signal.shape), ids=ids, label=labels) for _ in range(5)]
    assert fa.predictivity(features, noisy, cv=5).table.loc[0, "ceiling"] == pytest.approx(0.8, abs=0.02)

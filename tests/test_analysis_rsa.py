"""RSA and RDMs: parity with rsatoolbox called directly, known answers, the 92-image noise ceiling, errors."""

import numpy as np
import pytest
import scipy.io
from rsatoolbox.data import Dataset
from rsatoolbox.data.noise import prec_from_measurements
from rsatoolbox.inference import boot_noise_ceiling, eval_bootstrap_pattern
from rsatoolbox.model import ModelFixed
from rsatoolbox.rdm import RDMs, calc_rdm
from rsatoolbox.rdm import compare as rsatoolbox_compare
from scipy.stats import ortho_group

import flowalign_nb as fa
from flowalign_nb.analysis.inputs import NotApplicableError

RSATOOLBOX_NAME = {"spearman": "spearman", "tau-a": "tau-a", "pearson": "corr", "cosine": "cosine"}


def rep(values, prefix="s", label=None):
    return fa.make_representation(values, [f"{prefix}{i}" for i in range(len(values))], label)


@pytest.fixture(scope="module")
def related():
    """Two representations of 30 stimuli: b is a noisy linear map of a."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 10))
    y = x @ rng.normal(size=(10, 7)) + rng.normal(size=(30, 7))
    return x, y, rep(x, label=np.arange(30) % 3), rep(y)


# --- parity with rsatoolbox -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["euclidean", "correlation"])
def test_rdm_equals_rsatoolbox_calc_rdm(related, method):
    x, _, a, _ = related
    expected = calc_rdm(Dataset(x), method=method).get_matrices()[0]
    got = fa.rdm(a, method=method)
    assert got.dims == ("stimulus_a", "stimulus_b")
    np.testing.assert_allclose(got.values, expected, rtol=0, atol=1e-10)
    assert list(got["stimulus_a"].values) == [f"s{i}" for i in range(30)]
    assert got["label_a"].values.tolist() == (np.arange(30) % 3).tolist()


def test_crossnobis_equals_rsatoolbox_and_is_unbiased():
    """Crossnobis over 4 repetitions equals rsatoolbox's, also with an estimated noise precision; for
    stimuli with identical true patterns its expected value is 0 (plain euclidean is biased upwards)."""
    rng = np.random.default_rng(1)
    truth = np.repeat(rng.normal(size=(20, 50)), 2, axis=0)  # stimuli 2k and 2k+1 share a pattern
    ids = [f"s{i}" for i in range(40)]
    reps = [fa.make_representation(truth + rng.normal(size=truth.shape), ids) for _ in range(4)]
    # rsatoolbox directly, on the repetitions stacked and shuffled (its own ordering must not matter)
    order = rng.permutation(160)
    data = Dataset(np.concatenate([r.values for r in reps])[order],
                   obs_descriptors={"stimulus_id": np.tile(ids, 4)[order], "run": np.repeat(list("abcd"), 40)[order]})
    for noise in (None, "shrinkage_diag"):
        precision = None if noise is None else prec_from_measurements(data, "stimulus_id", method=noise)
        direct = calc_rdm(data, method="crossnobis", descriptor="stimulus_id", cv_descriptor="run", noise=precision)
        direct.sort_by(stimulus_id=ids)
        got = fa.rdm(reps, method="crossnobis", noise=noise)
        np.testing.assert_allclose(got.values, direct.get_matrices()[0], rtol=0, atol=1e-10)
    # euclidean and correlation average the repetitions of each stimulus first
    mean = np.mean([r.values for r in reps], axis=0)
    for method in ("euclidean", "correlation"):
        np.testing.assert_allclose(fa.rdm(reps, method).values, calc_rdm(Dataset(mean), method).get_matrices()[0], rtol=0, atol=1e-10)
    # noise variance 1 per repetition: the euclidean distance of two means of 4 has expectation 2/4 = 0.5
    same = [fa.rdm(reps, "crossnobis").values[2 * k, 2 * k + 1] for k in range(20)]
    biased = [fa.rdm(reps, "euclidean").values[2 * k, 2 * k + 1] for k in range(20)]
    assert abs(np.mean(same)) < 0.1 and np.mean(biased) == pytest.approx(0.5, abs=0.1)
    # in fa.rsa a nested list holds one subject's repetitions
    nested = fa.rsa([reps], fa.rdm(reps, "crossnobis"), rdm_method="crossnobis", bootstrap=0).table.iloc[0]
    assert nested["value"] == pytest.approx(1.0, abs=1e-12) and nested["rdm_method_a"] == "crossnobis"


@pytest.mark.parametrize("compare", ["spearman", "tau-a", "pearson", "cosine"])
def test_rsa_value_equals_rsatoolbox_compare(related, compare):
    x, y, a, b = related
    expected = rsatoolbox_compare(calc_rdm(Dataset(x), "correlation"), calc_rdm(Dataset(y), "correlation"),
                                  method=RSATOOLBOX_NAME[compare])
    result = fa.rsa(a, b, rdm_method="correlation", method=compare, bootstrap=0)
    assert result.table.loc[0, "value"] == pytest.approx(float(expected[0, 0]), abs=1e-10)
    assert result.table.loc[0, "metric"] == compare and result.table.loc[0, "n_stimuli"] == 30


def test_bootstrap_and_noise_ceiling_equal_rsatoolbox_inference(related):
    """Our seeded bootstrap reproduces eval_bootstrap_pattern after np.random.seed(seed), sample by
    sample, and the noise ceiling is boot_noise_ceiling's; the global numpy generator is untouched."""
    x, y, a, _ = related
    rng = np.random.default_rng(2)
    subjects = [y + rng.normal(size=y.shape) for _ in range(3)]
    result = fa.rsa(a, [rep(s) for s in subjects], method="spearman", bootstrap=60, seed=7)

    data = calc_rdm([Dataset(s) for s in subjects], method="correlation")
    state = np.random.get_state()
    np.random.seed(7)
    direct = eval_bootstrap_pattern(ModelFixed("a", calc_rdm(Dataset(x), "correlation")), data, method="spearman",
                                    N=60, boot_noise_ceil=False)
    np.random.set_state(state)
    np.testing.assert_allclose(result.bootstrap, direct.evaluations[:, 0], rtol=0, atol=1e-10)
    lower, upper = boot_noise_ceiling(data, method="spearman")
    row = result.table.iloc[0]
    assert row["noise_ceiling_lower"] == pytest.approx(lower, abs=1e-10)
    assert row["noise_ceiling_upper"] == pytest.approx(upper, abs=1e-10)
    assert row["ci_low"] == pytest.approx(np.percentile(direct.evaluations[:, 0], 2.5), abs=1e-10)
    assert result.values.shape == (1, 3) and row["value"] == pytest.approx(float(result.values.mean()), abs=1e-12)

    before = np.random.get_state()[1].copy()
    fa.rsa(a, [rep(s) for s in subjects], bootstrap=5, seed=3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_rdm_inputs_equal_representation_inputs_and_stimuli_are_matched_by_id(related):
    _, _, a, b = related
    reference = fa.rsa(a, b, bootstrap=0).table.loc[0, "value"]
    assert fa.rsa(fa.rdm(a), fa.rdm(b), bootstrap=0).table.loc[0, "value"] == pytest.approx(reference, abs=1e-12)
    shuffled = b.isel(presentation=np.random.default_rng(3).permutation(30))
    assert fa.rsa(a, shuffled, bootstrap=0).table.loc[0, "value"] == pytest.approx(reference, abs=1e-12)
    # only the shared stimuli are used: b restricted to 20 stimuli equals a restricted to the same 20
    part = fa.rsa(a, b.isel(presentation=slice(0, 20)), bootstrap=0).table.iloc[0]
    assert part["n_stimuli"] == 20
    assert part["value"] == pytest.approx(
        fa.rsa(a.isel(presentation=slice(0, 20)), b.isel(presentation=slice(0, 20)), bootstrap=0).table.loc[0, "value"], abs=1e-12)


# --- known answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("compare", ["spearman", "tau-a", "pearson", "cosine"])
def test_rsa_of_a_representation_with_itself_is_one(related, compare):
    _, _, a, _ = related
    result = fa.rsa(a, a, method=compare, bootstrap=20)
    assert result.table.loc[0, "value"] == pytest.approx(1.0, abs=1e-10)
    if compare == "tau-a":
        # a bootstrap sample repeats stimuli, so it has tied dissimilarities, which tau-a does not correct for
        assert np.all((result.bootstrap > 0.95) & (result.bootstrap < 1))
    else:
        np.testing.assert_allclose(result.bootstrap, 1.0, atol=1e-10)


@pytest.mark.parametrize("compare", ["spearman", "tau-a", "pearson", "cosine"])
def test_rsa_with_a_random_rotation_of_itself_is_one(compare):
    """Correlation distance on centred data: each pattern (row) is centred across neuroids, and the
    random rotation R = H Q H^T + 11^T/d (Q a random rotation of the complement of the all-ones
    vector, H its orthonormal basis) keeps rows centred, so 1 - r(x_i R, x_j R) = 1 - r(x_i, x_j)
    exactly. Euclidean distance is invariant under any rotation (ortho_group)."""
    rng = np.random.default_rng(4)
    d = 16
    x = rng.normal(size=(40, d))
    x -= x.mean(axis=1, keepdims=True)
    basis = np.linalg.svd(np.eye(d) - 1.0 / d)[0][:, : d - 1]
    rotation = basis @ ortho_group.rvs(d - 1, random_state=5) @ basis.T + np.ones((d, d)) / d
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(d), atol=1e-12)
    assert not np.allclose(rotation, np.eye(d))
    value = fa.rsa(rep(x), rep(x @ rotation), rdm_method="correlation", method=compare, bootstrap=0).table.loc[0, "value"]
    assert value == pytest.approx(1.0, abs=1e-10)
    generic = ortho_group.rvs(d, random_state=6)
    value = fa.rsa(rep(x), rep(x @ generic), rdm_method="euclidean", method=compare, bootstrap=0).table.loc[0, "value"]
    assert value == pytest.approx(1.0, abs=1e-10)


def test_rsa_with_unrelated_noise_is_near_zero_with_a_ci_covering_zero():
    rng = np.random.default_rng(0)
    row = fa.rsa(rep(rng.normal(size=(60, 20))), rep(rng.normal(size=(60, 20))), bootstrap=1000, seed=0).table.iloc[0]
    assert abs(row["value"]) < 0.05
    assert row["ci_low"] < 0 < row["ci_high"]
    assert row["ci_high"] - row["ci_low"] < 0.3 and row["n_bootstrap"] == 1000


# --- real data: Kriegeskorte 92 images ---------------------------------------------------------


@pytest.fixture(scope="module")
def k92():
    """The 92-image files shipped with the flowalign_neural plugin (or ``$FLOWALIGN_KRIEGESKORTE92``), read by scipy."""
    plugin = pytest.importorskip("flowalign_neural.kriegeskorte", reason="the flowalign_neural plugin ships the 92-image files")
    folder = plugin.kriegeskorte92_folder()
    read = lambda name: scipy.io.loadmat(folder / name, squeeze_me=True, struct_as_record=False)
    supplement = read("Kriegeskorte_Neuron2008_supplementalData.mat")
    patterns = {"stimulus_id": [f"img{i:02d}" for i in range(92)], "label": [s.category for s in supplement["stimuli_92objs"]]}
    human = read("92_brainRDMs.mat")["RDMs"].ravel()
    fig1 = {r.name[:3]: r.RDM for r in supplement["RDMs_mIT_hIT_fig1"]}
    make = lambda m: RDMs(m, dissimilarity_measure="1 - r", pattern_descriptors=dict(patterns))
    return make(fig1["mIT"][None]), make(np.stack([r.RDM for r in human])), make(fig1["hIT"][None])


def test_noise_ceiling_of_the_8_human_it_rdms(k92):
    monkey, human, human_group = k92
    assert human.n_rdm == 8 and human.n_cond == 92
    # the condensed fig-1 RDMs use rsatoolbox's pair order: the group hIT RDM is the mean of the 8
    assert rsatoolbox_compare(human_group, human.mean(), method="spearman")[0, 0] > 0.999
    result = fa.rsa(monkey, human, method="spearman", bootstrap=0)
    row = result.table.iloc[0]
    lower, upper = row["noise_ceiling_lower"], row["noise_ceiling_upper"]
    assert 0 < lower < upper <= 1
    assert (lower, upper) == pytest.approx(boot_noise_ceiling(human, method="spearman"), abs=1e-10)
    assert 0 < row["value"] < upper and row["n_rdms_b"] == 8
    assert set(result.rdm_b["label_a"].values) == {"human bodypart", "human face", "nonhuman bodypart", "nonhuman face",
                                                   "natural inanimate", "artificial inanimate"}


# --- errors -----------------------------------------------------------------------------------


def test_bad_inputs_fail_naming_the_value_and_the_allowed_ones(related):
    _, _, a, b = related
    with pytest.raises(ValueError, match=r"method=.kendall..*'spearman', 'tau-a', 'pearson', 'cosine'"):
        fa.rsa(a, b, method="kendall")
    with pytest.raises(ValueError, match=r"rdm_method='mahalanobis'.*'euclidean', 'correlation', 'crossnobis'"):
        fa.rsa(a, b, rdm_method="mahalanobis")
    with pytest.raises(ValueError, match=r"method='cosine'.*'euclidean'"):
        fa.rdm(a, method="cosine")
    with pytest.raises(ValueError, match=r"bootstrap=-1.*integer >= 0"):
        fa.rsa(a, b, bootstrap=-1)
    with pytest.raises(ValueError, match=r"ci=1.5"):
        fa.rsa(a, b, ci=1.5)
    with pytest.raises(fa.RepresentationError, match="crossnobis needs repetitions.*got 1"):
        fa.rdm(a, method="crossnobis")
    with pytest.raises(ValueError, match="noise='diag' applies to crossnobis only"):
        fa.rdm(a, method="euclidean", noise="diag")
    with pytest.raises(NotApplicableError, match="share 0 of 30 and 30"):
        fa.rsa(a, rep(b.values, prefix="other"))
    with pytest.raises(TypeError, match="b must be a representation, an RDM.*got ndarray"):
        fa.rsa(a, b.values)
    with pytest.raises(fa.RepresentationError, match="without a 'stimulus_id' pattern descriptor"):
        fa.rsa(a, RDMs(np.ones((1, 435))))
    broken = fa.rdm(b).copy()
    broken[0, 1] += 1.0
    with pytest.raises(fa.RepresentationError, match="not symmetric"):
        fa.rsa(a, broken)
    with pytest.raises(fa.RepresentationError, match=r"rep\[1\] does not show the same stimuli"):
        fa.rdm([a, rep(a.values, prefix="x")], method="crossnobis")


def test_rsa_of_few_stimuli_gives_no_bootstrap_ci_and_says_why():
    """5 class means: a stimulus resample holds ~3.4 distinct items, whose interval spans [-1, 1] for any data.

    Measured with ``bootstrap=1000`` on related data (``y = x W / 2 + noise``, 20 features) before the
    limit: 5 stimuli gave the 95 % interval [-1.0, 1.0], 6 gave [-0.83, 0.83], 8 gave [0.19, 0.97].
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 20))
    y = x @ rng.normal(size=(20, 20)) * 0.5 + rng.normal(size=(5, 20))
    ids = [f"class {k}" for k in range(5)]
    result = fa.rsa(fa.make_representation(x, ids), fa.make_representation(y, ids), bootstrap=1000)
    row = result.table.iloc[0]
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"]) and row["n_bootstrap"] == 0
    assert row["note"] == "no bootstrap CI: 5 stimuli are too few (at least 8 are needed; a resample of 5 holds about 3.4 distinct ones)"
    direct = rsatoolbox_compare(calc_rdm(Dataset(x), "correlation"), calc_rdm(Dataset(y), "correlation"), method="spearman")
    assert row["value"] == pytest.approx(float(direct[0, 0]), abs=1e-12)  # the value itself is still given
    eight = [f"s{k}" for k in range(8)]
    x8, y8 = rng.normal(size=(8, 20)), rng.normal(size=(8, 20))
    row8 = fa.rsa(fa.make_representation(x8, eight), fa.make_representation(y8, eight), bootstrap=200).table.iloc[0]
    assert np.isfinite(row8["ci_low"]) and row8["n_bootstrap"] > 0 and row8["note"] == ""

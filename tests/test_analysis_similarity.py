"""CKA, shape metrics and mutual k-NN: closed-form cases, a second implementation by another formula (or
scikit-learn / scipy), and the calibration of the permutation null on unrelated spaces."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes, sqrtm, subspace_angles
from scipy.stats import kstest, ortho_group
from sklearn.model_selection import KFold
from sklearn.neighbors import NearestNeighbors

import flowalign_nb as fa
from flowalign_nb.analysis.similarity import cv_shape_distance, linear_cka, mutual_knn, shape_distance

QUARTER_CIRCLE_MEAN = 8 / (3 * np.pi)  # mean singular value / sqrt(p) of a large p x p standard Gaussian matrix


def rep(values, prefix="s"):
    return fa.make_representation(values, [f"{prefix}{i}" for i in range(len(values))])


@pytest.fixture(scope="module")
def related():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)) @ np.diag(np.linspace(0.3, 3, 8))
    y = np.tanh(x @ rng.normal(size=(8, 8))) + 0.3 * rng.normal(size=(60, 8))
    return x, y


# --- second implementations ------------------------------------------------------------------------------------


def gram_cka(x, y):
    """Biased linear CKA in kernel form: tr(KHLH) / sqrt(tr(KHKH) tr(LHLH)), H the centring matrix."""
    n = len(x)
    h = np.eye(n) - 1 / n
    k, l = h @ x @ x.T @ h, h @ y @ y.T @ h
    return np.trace(k @ l) / np.sqrt(np.trace(k @ k) * np.trace(l @ l))


def kornblith_feature_space_debiased_cka(x, y):
    """Kornblith et al.'s feature-space debiased linear CKA (their notebook's ``feature_space_linear_cka(debiased=True)``)."""
    x, y = x - x.mean(0), y - y.mean(0)
    n = len(x)

    def debiased(xty, rows_x, rows_y, norm_x, norm_y):
        return xty - n / (n - 2.0) * np.sum(rows_x * rows_y) + norm_x * norm_y / ((n - 1) * (n - 2))

    rows_x, rows_y = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    norm_x, norm_y = rows_x.sum(), rows_y.sum()
    top = debiased(np.linalg.norm(x.T @ y) ** 2, rows_x, rows_y, norm_x, norm_y)
    bottom_x = np.sqrt(debiased(np.linalg.norm(x.T @ x) ** 2, rows_x, rows_x, norm_x, norm_x))
    bottom_y = np.sqrt(debiased(np.linalg.norm(y.T @ y) ** 2, rows_y, rows_y, norm_y, norm_y))
    return top / (bottom_x * bottom_y)


def explicit_shape_distance(x, y, alpha):
    """Partial whitening by scipy's matrix square root, rotation by scipy's orthogonal Procrustes (p = q)."""
    def whiten(z):
        z = z - z.mean(0)
        z = z / np.sqrt(np.mean(z**2))
        return z @ (alpha * np.eye(z.shape[1]) + (1 - alpha) * np.linalg.inv(np.real(sqrtm(z.T @ z / len(z)))))

    xw, yw = whiten(x), whiten(y)
    rotation, _ = orthogonal_procrustes(xw, yw)
    return np.arccos(np.sum(xw @ rotation * yw) / (np.linalg.norm(xw) * np.linalg.norm(yw)))


def explicit_cv_shape_distance(x, y, alpha, cv, seed):
    angles = []
    for train, test in KFold(cv, shuffle=True, random_state=seed).split(x):
        def fitted(z):
            mean = z[train].mean(0)
            scale = np.sqrt(np.mean((z[train] - mean) ** 2))
            zc = (z[train] - mean) / scale
            w = alpha * np.eye(z.shape[1]) + (1 - alpha) * np.linalg.inv(np.real(sqrtm(zc.T @ zc / len(zc))))
            return (z[train] - mean) / scale @ w, (z[test] - mean) / scale @ w
        (xtr, xte), (ytr, yte) = fitted(x), fitted(y)
        rotation, _ = orthogonal_procrustes(xtr, ytr)
        angles.append(np.arccos(np.sum(xte @ rotation * yte) / (np.linalg.norm(xte @ rotation) * np.linalg.norm(yte))))
    return np.mean(angles)


def sklearn_mutual_knn(x, y, k):
    sets = [NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(z).kneighbors(z, return_distance=False)[:, 1:] for z in (x, y)]
    return np.mean([len(set(a) & set(b)) for a, b in zip(*sets)]) / k


def test_measures_equal_their_second_implementations(related):
    x, y = related
    assert linear_cka(x, y) == pytest.approx(gram_cka(x, y), abs=1e-12)
    assert linear_cka(x, y, debiased=True) == pytest.approx(kornblith_feature_space_debiased_cka(x, y), abs=1e-10)
    for alpha in (0.0, 0.3, 0.7, 1.0):
        assert shape_distance(x, y, alpha) == pytest.approx(explicit_shape_distance(x, y, alpha), abs=1e-8), alpha
        assert cv_shape_distance(x, y, alpha, 5, 3) == pytest.approx(explicit_cv_shape_distance(x, y, alpha, 5, 3), abs=1e-8)
    # alpha = 0 is the CCA distance: arccos of the mean canonical correlation (cosines of the principal angles)
    assert shape_distance(x, y, 0.0) == pytest.approx(np.arccos(np.cos(subspace_angles(x - x.mean(0), y - y.mean(0))).mean()), abs=1e-8)
    for k in (3, 10):
        assert mutual_knn(x, y, k) == pytest.approx(sklearn_mutual_knn(x, y, k), abs=1e-12)


def test_closed_forms_identical_rotated_and_scaled_spaces(related):
    x, _ = related
    rotation = ortho_group.rvs(8, random_state=1)
    for y in (x, x @ rotation, 3.7 * x @ rotation + 5.0):
        assert linear_cka(x, y) == pytest.approx(1.0, abs=1e-12)
        assert linear_cka(x, y, debiased=True) == pytest.approx(1.0, abs=1e-12)
        for alpha in (0.0, 0.5, 1.0):
            assert shape_distance(x, y, alpha) == pytest.approx(0.0, abs=1e-6)
            assert cv_shape_distance(x, y, alpha, 4, 0) == pytest.approx(0.0, abs=1e-6)
    assert mutual_knn(x, 3.7 * x @ rotation, 5) == 1.0  # cosine neighbours survive rotation and scaling (not a shift)


def test_pure_noise_at_known_size():
    rng = np.random.default_rng(2)
    n, p = 200, 20
    pairs = [(rng.normal(size=(n, p)), rng.normal(size=(n, p))) for _ in range(40)]
    biased = [linear_cka(a, b) for a, b in pairs]
    unbiased = np.array([linear_cka(a, b, debiased=True) for a, b in pairs])
    assert np.mean(biased) == pytest.approx(p / (n + p), rel=0.05)  # E ||Y'X||^2 / (||X'X|| ||Y'Y||) for Gaussian noise
    assert abs(unbiased.mean()) < 3 * unbiased.std() / np.sqrt(len(unbiased))  # debiased: 0 at chance
    knn = [mutual_knn(a, b, 10) for a, b in pairs]
    assert np.mean(knn) == pytest.approx(10 / (n - 1), rel=0.1)
    big = rng.normal(size=(5000, 50)), rng.normal(size=(5000, 50))
    assert np.cos(shape_distance(*big, alpha=1.0)) == pytest.approx(QUARTER_CIRCLE_MEAN * np.sqrt(50 / 5000), rel=0.03)


def test_permutation_null_is_calibrated_on_unrelated_spaces():
    """200 draws of unrelated random spaces: every measure's p-values are uniform."""
    rng = np.random.default_rng(3)
    measures = {
        "cka": lambda a, b, s: fa.cka(a, b, null=49, seed=s),
        "debiased cka": lambda a, b, s: fa.cka(a, b, debiased=True, null=49, seed=s),
        "procrustes": lambda a, b, s: fa.shape_metric(a, b, alpha=1.0, null=49, seed=s),
        "shape 0.5": lambda a, b, s: fa.shape_metric(a, b, alpha=0.5, null=49, seed=s),
        "cv shape": lambda a, b, s: fa.shape_metric(a, b, alpha=1.0, cv=3, null=19, seed=s),
        "mutual knn": lambda a, b, s: fa.mutual_knn_alignment(a, b, k=4, null=49, seed=s),
    }
    for name, measure in measures.items():
        draws = 200 if name != "cv shape" else 100
        p = np.array([measure(rep(rng.normal(size=(20, 5))), rep(rng.normal(size=(20, 6))), s).table.loc[0, "p_value"]
                      for s in range(draws)])
        assert kstest(p, "uniform").pvalue > 0.001, name
        assert 0.03 <= np.mean(p <= 0.1) <= 0.18, name


def test_table_states_kind_range_chance_and_finds_a_real_relation(related):
    x, y = related
    a, b = rep(x), rep(y).isel(presentation=slice(None, None, -1))  # stimuli matched by id, not by order
    rows = {r.metric: r for r in (fa.cka(a, b, null=99).table.iloc[0], fa.shape_metric(a, b, null=99).table.iloc[0],
                                  fa.mutual_knn_alignment(a, b, k=5, null=99).table.iloc[0],
                                  fa.shape_metric(a, b, alpha=0.5, cv=5, null=9).table.iloc[0])}
    assert set(rows) == {"linear_cka_similarity", "shape_distance", "mutual_knn_similarity", "cv_shape_distance"}
    assert rows["linear_cka_similarity"].value == pytest.approx(linear_cka(x, y), abs=1e-12)
    assert rows["shape_distance"].kind == "distance" and rows["shape_distance"].range == "[0, pi/2]"
    assert rows["shape_distance"].value < rows["shape_distance"].chance and rows["shape_distance"].p_value == 0.01
    assert rows["linear_cka_similarity"].value > rows["linear_cka_similarity"].chance and rows["linear_cka_similarity"].p_value == 0.01
    assert rows["mutual_knn_similarity"].kind == "similarity" and rows["mutual_knn_similarity"].p_value == 0.01
    assert rows["cv_shape_distance"].p_value == 0.1 and rows["cv_shape_distance"].n_null == 9


def test_measures_run_inside_compare_and_check_their_options(related):
    x, y = related
    a, b = rep(x), rep(y)
    table = fa.compare(a, b, b, analyses={"cka": {"null": 20}, "shape_metric": {"alpha": 0.0}, "mutual_knn": {"k": 5}}).table
    rows = table.set_index(["analysis", "condition"])
    assert rows.loc[("cka", "after"), "value"] == pytest.approx(1.0) and rows.loc[("shape_metric", "after"), "value"] == pytest.approx(0.0, abs=1e-6)
    assert rows.loc[("cka", "before"), "value"] == pytest.approx(linear_cka(x, y), abs=1e-12)
    assert {"cka", "shape_metric", "mutual_knn"} <= set(fa.list_plugins().query("kind == 'analysis'")["name"])
    with pytest.raises(ValueError, match=r"alpha=1.5 is not allowed; it must be a number in \[0, 1\]"):
        fa.make("analysis", "shape_metric", alpha=1.5)
    with pytest.raises(ValueError, match=r"null=-1 is not allowed"):
        fa.cka(a, b, null=-1)
    with pytest.raises(fa.analysis.inputs.NotApplicableError, match="at least 4 stimuli shown to both"):
        fa.cka(a, rep(y, prefix="other"))


def test_compare_panel_lists_and_runs_the_measures(related):
    from flowalign_nb.widgets import ComparePanel

    x, y = related
    panel = ComparePanel(rep(x), rep(y), rep(y))
    assert {"cka", "shape_metric", "mutual_knn"} <= set(panel.analysis.options)
    panel.analysis.value = "shape_metric"
    assert set(panel.analysis_options.fields) == {"alpha", "cv", "null", "seed"}
    panel.analysis_options.fields["alpha"].value = "0.0"
    table = panel.run().set_index("condition")
    assert panel.error is None and table.loc["after", "value"] == pytest.approx(0.0, abs=1e-6)
    assert table.loc["before", "value"] == pytest.approx(shape_distance(x, y, 0.0), abs=1e-12)

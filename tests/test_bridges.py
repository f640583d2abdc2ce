"""Tests of the bridge costs (flowalign_nb.transport.bridges) on precisely known data.

Every bridge is built through ``flowalign_nb.make("bridge", name)`` so the registry is exercised too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
import torch
from scipy.spatial.distance import jensenshannon

import flowalign_nb as fa
from flowalign_nb.transport.bridges import labelled_class_means, labelled_pairs
from flowalign_nb.data.model import Latents

BRIDGES = ["prototype", "posterior", "linear", "euclidean"]
CLASSES = [0, 1, 2]


# --------------------------------------------------------------------------------------------- helpers


def blobs(n, d, seed, labelled_fraction=0.5, spread=3.0, n_classes=3):
    """Gaussian class blobs; returns (x float32 (n, d), true labels, known labels with -1 = unlabelled)."""
    rng = np.random.default_rng(seed)
    centres = spread * rng.standard_normal((n_classes, d))
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    x = (centres[y] + rng.standard_normal((n, d))).astype(np.float32)
    known = y.copy()
    known[rng.random(n) >= labelled_fraction] = -1
    return x, y, known


def pair(d_src, d_tgt, seed=0, n_src=90, n_tgt=100, labelled_fraction=0.5):
    xs, _, ls = blobs(n_src, d_src, seed, labelled_fraction)
    xt, _, lt = blobs(n_tgt, d_tgt, seed + 100, labelled_fraction)
    return Latents.from_arrays(xs, ls, classes=CLASSES), Latents.from_arrays(xt, lt, classes=CLASSES)


def fitted(name, mask_penalty=100.0, seed=0):
    """A fitted bridge with its data; euclidean gets one space, the others two of different dimension."""
    src, tgt = pair(4, 4, seed) if name == "euclidean" else pair(4, 6, seed)
    return fa.make("bridge", name, mask_penalty=mask_penalty).fit(src, tgt), src, tgt


def everything(lat):
    return torch.arange(lat.n)


def clash_mask(src, tgt, i_src, i_tgt):
    ys, yt = src.labels[i_src][:, None], tgt.labels[i_tgt][None, :]
    return (ys >= 0) & (yt >= 0) & (ys != yt)


def random_orthonormal_rows(d_in, d_out, seed):
    """A (d_in, d_out) matrix Q with Q Q^T = I (d_in <= d_out): x -> x Q preserves inner products."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d_out, d_out)))
    return q[:d_in]


# -------------------------------------------------------------------------- masking and normalising


@pytest.mark.parametrize("name", BRIDGES)
def test_bridge_masks_labelled_pairs_of_different_classes(name):
    penalty = 7.5
    bridge, src, tgt = fitted(name, mask_penalty=penalty)
    i_src, i_tgt = everything(src), everything(tgt)
    cost = bridge.cost(i_src, i_tgt)
    assert cost.shape == (src.n, tgt.n) and cost.dtype == torch.float64
    clash = clash_mask(src, tgt, i_src, i_tgt)
    assert clash.any() and (~clash).any()
    assert (cost[clash] >= penalty).all()
    # exactly: mean-normalised raw cost plus the penalty on clashes and nowhere else
    raw = bridge._raw_cost(i_src, i_tgt).double()
    assert (raw >= 0).all()
    assert torch.allclose(cost, raw / raw.mean() + penalty * clash, rtol=0, atol=1e-9)
    # the same bridge without penalty differs exactly on the clash pairs
    unmasked = fa.make("bridge", name, mask_penalty=0.0).fit(src, tgt).cost(i_src, i_tgt)
    assert torch.allclose(cost - unmasked, penalty * clash.double(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", BRIDGES)
def test_default_mask_penalty_is_100(name):
    bridge, src, tgt = fitted(name)
    i_src, i_tgt = everything(src), everything(tgt)
    clash = clash_mask(src, tgt, i_src, i_tgt)
    cost = bridge.cost(i_src, i_tgt)
    assert (cost[clash] >= 100.0).all()
    assert float(cost[~clash].max()) < 100.0  # normalised unmasked costs stay far below the penalty


@pytest.mark.parametrize("name", BRIDGES)
def test_unmasked_cost_is_mean_normalised(name):
    bridge, src, tgt = fitted(name)
    u_src = torch.nonzero(src.labels < 0).squeeze(1)
    u_tgt = torch.nonzero(tgt.labels < 0).squeeze(1)
    assert len(u_src) > 10 and len(u_tgt) > 10
    block = bridge.cost(u_src, u_tgt)
    assert block.shape == (len(u_src), len(u_tgt))
    assert float(block.mean()) == pytest.approx(1.0, abs=1e-6)
    assert float(block.std()) > 0.05  # not a constant
    # on a mixed block, the cost minus the mask term has mean 1
    i_src, i_tgt = torch.arange(0, src.n, 2), torch.arange(1, tgt.n, 3)
    cost = bridge.cost(i_src, i_tgt)
    unmasked = cost - bridge.mask_penalty * clash_mask(src, tgt, i_src, i_tgt)
    assert float(unmasked.mean()) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", BRIDGES)
def test_block_cost_equals_cost_of_each_block_and_zero_on_padding(name):
    bridge, src, tgt = fitted(name)
    g = torch.Generator().manual_seed(3)
    sizes = [7, 12, 1]
    blocks = [(torch.randint(src.n, (n,), generator=g), torch.randint(tgt.n, (n,), generator=g)) for n in sizes]
    i_src = torch.full((3, 12), -1, dtype=torch.long)  # padding may hold any index, -1 included
    i_tgt = torch.full((3, 12), 99_999, dtype=torch.long)
    valid = torch.zeros(3, 12, dtype=torch.bool)
    for k, (s, t) in enumerate(blocks):
        i_src[k, : len(s)], i_tgt[k, : len(t)], valid[k, : len(s)] = s, t, True
    batched = bridge.block_cost(i_src, i_tgt, valid)
    assert batched.shape == (3, 12, 12) and batched.dtype == torch.float64
    for k, (s, t) in enumerate(blocks):
        n = len(s)
        torch.testing.assert_close(batched[k, :n, :n], bridge.cost(s, t), rtol=1e-6, atol=1e-9)
        assert torch.all(batched[k, n:] == 0) and torch.all(batched[k, :, n:] == 0)


@pytest.mark.parametrize("name", BRIDGES)
def test_unfitted_bridge_cost_raises(name):
    bridge = fa.make("bridge", name)
    with pytest.raises(NotFittedError, match="not fitted"):
        bridge.cost(torch.arange(3), torch.arange(3))


@pytest.mark.parametrize("name", BRIDGES)
def test_bridge_rejects_different_class_lists(name):
    src = Latents.from_arrays(np.random.default_rng(0).standard_normal((10, 3)), [0, 1] * 5, classes=[0, 1])
    tgt = Latents.from_arrays(np.random.default_rng(1).standard_normal((10, 3)), [0, 1] * 5, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes"):
        fa.make("bridge", name).fit(src, tgt)


# ------------------------------------------------------------------------------------ euclidean


def test_euclidean_rejects_different_dims_naming_both():
    src, tgt = pair(3, 11)
    with pytest.raises(ValueError) as info:
        fa.make("bridge", "euclidean").fit(src, tgt)
    message = str(info.value)
    assert "3" in message and "11" in message
    assert "dim" in message


def test_euclidean_raw_cost_is_squared_distance():
    x = np.array([[0.0, 0.0], [1.0, 2.0]], dtype=np.float32)
    y = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    src, tgt = Latents.from_arrays(x), Latents.from_arrays(y)
    bridge = fa.make("bridge", "euclidean").fit(src, tgt)
    raw = torch.tensor([[25.0, 0.0, 1.0], [8.0, 5.0, 4.0]], dtype=torch.float64)
    assert torch.allclose(bridge._raw_cost(everything(src), everything(tgt)).double(), raw, rtol=0, atol=1e-5)
    assert torch.allclose(bridge.cost(everything(src), everything(tgt)), raw / raw.mean(), rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------ prototype


@pytest.mark.parametrize("d_src,d_tgt", [(8, 8), (6, 10)])
def test_prototype_zero_cost_for_coinciding_relative_representations(d_src, d_tgt):
    xs, _, ls = blobs(120, d_src, seed=21, labelled_fraction=0.4, n_classes=5, spread=2.0)
    labels = np.where(ls >= 0, ls, -1)
    xt = (xs @ random_orthonormal_rows(d_src, d_tgt, seed=22)).astype(np.float32)
    classes = list(range(5))
    src = Latents.from_arrays(xs, labels, classes=classes)
    tgt = Latents.from_arrays(xt, labels, classes=classes)
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    # the relative representations coincide, so matching items have zero cost
    assert torch.allclose(bridge.r_src_, bridge.r_tgt_, rtol=0, atol=1e-5)
    i = everything(src)
    raw = bridge._raw_cost(i, i).double()
    assert float(raw.diagonal().max()) < 1e-5
    cost = bridge.cost(i, i)
    assert float(cost.diagonal().max()) < 1e-4
    assert float(cost.mean()) > 1.0  # the off-diagonal costs are not small (plus clash penalties)
    argmin = cost.argmin(1)
    assert float((argmin == i).double().mean()) >= 0.95
    # every row's own item is within float32 noise of the row minimum
    assert torch.allclose(cost.diagonal(), cost.min(1).values, rtol=0, atol=1e-4)


def test_prototype_relative_representation_is_centred_and_unit_norm():
    bridge, src, tgt = fitted("prototype")
    for r, lat in ((bridge.r_src_, src), (bridge.r_tgt_, tgt)):
        assert r.shape == (lat.n, lat.n_classes)
        assert torch.allclose(r.sum(1), torch.zeros(lat.n), rtol=0, atol=1e-5)
        assert torch.allclose(r.norm(dim=1), torch.ones(lat.n), rtol=0, atol=1e-5)
    raw = bridge._raw_cost(everything(src), everything(tgt))
    assert float(raw.min()) >= 0 and float(raw.max()) <= 4.0 + 1e-5


def test_prototype_relative_representation_by_hand():
    # two classes in 2-d: prototypes at (+-2, 0) around the mean 0; r = (cos to mu_0, cos to mu_1),
    # centred -> (c, -c), normalised -> (+-1/sqrt2, -+1/sqrt2) by the sign of x_0
    x = np.array([[2.0, 0.0], [-2.0, 0.0], [1.0, 1.0], [-1.0, 3.0]], dtype=np.float32)
    src = Latents.from_arrays(x, [0, 1, -1, -1], classes=[0, 1])
    tgt = Latents.from_arrays(x[[1, 0, 3, 2]], [1, 0, -1, -1], classes=[0, 1])
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    s = 1 / math.sqrt(2)
    expected = torch.tensor([[s, -s], [-s, s], [s, -s], [-s, s]])
    assert torch.allclose(bridge.r_src_, expected, rtol=0, atol=1e-6)
    raw = bridge._raw_cost(everything(src), everything(tgt))
    # r_tgt rows are r_src rows permuted by [1, 0, 3, 2]: cost 0 on that permutation, 2 * (2 s)^2 = 4 across
    expected_raw = torch.tensor([[4.0, 0, 4, 0], [0, 4, 0, 4], [4, 0, 4, 0], [0, 4, 0, 4]], dtype=torch.float64)
    assert torch.allclose(raw, expected_raw, rtol=0, atol=1e-5)


def nearest_prototype_accuracy(bridge_r, labels):
    """Share of items whose largest relative-representation entry is their own class."""
    return float((bridge_r.argmax(1).numpy() == labels).mean())


def test_whitened_prototypes_separate_classes_along_a_low_variance_axis():
    # two classes differ only along u (spread 0.1), v is class-independent noise (spread 1), and the
    # features are u and v rotated by 45 degrees, so z-scoring each feature does not undo it: prototypes
    # from ~20 labelled items per class point partly along the noise, the within-class metric does not
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 200)
    u, v = 0.3 * (2 * labels - 1) + 0.1 * rng.normal(size=400), rng.normal(size=400)
    x = np.stack([u + v, v - u], axis=1) / math.sqrt(2)
    x = (x - x.mean(0)) / x.std(0)  # bridges see standardised spaces (FlowAligner z-scores each feature)
    known = np.where(rng.random(400) < 0.1, labels, -1)  # 10 % labelled
    lat = Latents.from_arrays(x.astype(np.float32), known, classes=[0, 1])
    plain = fa.make("bridge", "prototype", whiten=False).fit(lat, lat)
    whitened = fa.make("bridge", "prototype").fit(lat, lat)
    assert nearest_prototype_accuracy(plain.r_src_, labels) < 0.75
    assert nearest_prototype_accuracy(whitened.r_src_, labels) > 0.95


def test_without_within_class_scatter_whitening_is_the_identity():
    xs, _, _ = blobs(150, 6, seed=4, n_classes=3)
    one_each = Latents.from_arrays(xs[:3], [0, 1, 2], classes=[0, 1, 2])  # one labelled item per class
    assert torch.allclose(fa.make("bridge", "prototype").fit(one_each, one_each).r_src_,
                          fa.make("bridge", "prototype", whiten=False).fit(one_each, one_each).r_src_)
    with pytest.raises(ValueError, match="whiten='yes' is not allowed; use True or False"):
        fa.make("bridge", "prototype", whiten="yes")


# ------------------------------------------------------------------------------------ posterior


@pytest.fixture(scope="module")
def posterior_bridge():
    xs, _, ls = blobs(70, 4, seed=31, labelled_fraction=0.4, spread=1.0)
    xt, _, lt = blobs(80, 6, seed=32, labelled_fraction=0.4, spread=1.0)
    src, tgt = Latents.from_arrays(xs, ls, classes=CLASSES), Latents.from_arrays(xt, lt, classes=CLASSES)
    return fa.make("bridge", "posterior").fit(src, tgt), src, tgt


def test_posterior_probabilities(posterior_bridge):
    bridge, src, tgt = posterior_bridge
    for p, lat in ((bridge.p_src_, src), (bridge.p_tgt_, tgt)):
        assert p.shape == (lat.n, 3) and p.dtype == torch.float64
        assert torch.allclose(p.sum(1), torch.ones(lat.n, dtype=torch.float64), rtol=0, atol=1e-6)
        known = lat.labels >= 0
        onehot = torch.nn.functional.one_hot(lat.labels[known], 3).double()
        assert torch.equal(p[known], onehot)
        # unlabelled items get soft probe posteriors
        assert float(p[~known].max(1).values.min()) < 0.99


def test_posterior_raw_cost_is_jensen_shannon(posterior_bridge):
    bridge, src, tgt = posterior_bridge
    i_src, i_tgt = everything(src), everything(tgt)
    raw = bridge._raw_cost(i_src, i_tgt).double().numpy()
    p, q = bridge.p_src_.numpy(), bridge.p_tgt_.numpy()
    # scipy's JS distance (natural log) squared is the JS divergence
    expected = np.stack([jensenshannon(np.broadcast_to(p[i], q.shape), q, axis=1) ** 2 for i in range(len(p))])
    np.testing.assert_allclose(raw, expected, rtol=0, atol=1e-6)
    # on the stored p, q exactly: H((p + q) / 2) - (H(p) + H(q)) / 2
    def entropy(v):
        return -(v * np.log(np.where(v > 0, v, 1.0))).sum(-1)

    exact = entropy(0.5 * (p[:, None, :] + q[None, :, :])) - 0.5 * (entropy(p)[:, None] + entropy(q)[None, :])
    np.testing.assert_allclose(raw, np.maximum(exact, 0.0), rtol=0, atol=1e-12)
    assert raw.min() >= 0 and raw.max() <= math.log(2) + 1e-12
    # labelled pairs: one-hot against one-hot -> 0 for the same class, ln 2 for different classes
    ys, yt = src.labels[:, None], tgt.labels[None, :]
    both = ((ys >= 0) & (yt >= 0)).numpy()
    same = (ys == yt).numpy()
    np.testing.assert_allclose(raw[both & same], 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(raw[both & ~same], math.log(2), rtol=0, atol=1e-12)


def test_posterior_rows_are_exact_distributions(posterior_bridge):
    bridge, src, tgt = posterior_bridge
    for p in (bridge.p_src_, bridge.p_tgt_):
        assert float((p.sum(1) - 1).abs().max()) < 1e-12


def test_posterior_normalised_cost_within_js_bounds(posterior_bridge):
    bridge, src, tgt = posterior_bridge
    i_src, i_tgt = everything(src), everything(tgt)
    raw_mean = float(bridge._raw_cost(i_src, i_tgt).double().mean())
    cost = bridge.cost(i_src, i_tgt)
    unmasked = cost - bridge.mask_penalty * clash_mask(src, tgt, i_src, i_tgt)
    assert float(unmasked.min()) >= 0
    assert float(unmasked.max()) <= math.log(2) / raw_mean + 1e-9
    assert float(unmasked.max()) > 0.9 * math.log(2) / raw_mean  # the bound is attained (clash pairs)


def test_posterior_chunking_does_not_change_cost(posterior_bridge):
    bridge, src, tgt = posterior_bridge
    small = fa.make("bridge", "posterior", chunk=7).fit(src, tgt)
    i_src, i_tgt = everything(src), everything(tgt)
    assert torch.allclose(small.cost(i_src, i_tgt), bridge.cost(i_src, i_tgt), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------- linear


@pytest.fixture(scope="module")
def linear_data():
    """Target items 0..39 share stimulus ids with source items 0..39 and are an exact affine map of them.

    Labelled pairs sharing a stimulus: items 0..24 only (25 pairs). Traps: 25..29 target
    unlabelled, 30..34 source unlabelled, 35..39 both labelled but with different classes.
    """
    rng = np.random.default_rng(41)
    n, d_s, d_t = 80, 5, 7
    y = np.arange(n) % 3
    centres = 3.0 * rng.standard_normal((3, d_s))
    xs = (centres[y] + rng.standard_normal((n, d_s))).astype(np.float32)
    a, b = rng.standard_normal((d_s, d_t)), rng.standard_normal(d_t)
    xt = np.concatenate([xs[:40] @ a + b, 3.0 * rng.standard_normal((n - 40, d_t))]).astype(np.float32)
    ids_s = np.array([f"s{i}" for i in range(n)])
    ids_t = np.array([f"s{i}" if i < 40 else f"t{i}" for i in range(n)])
    ls, lt = y.copy(), y.copy()
    lt[25:30] = -1
    ls[30:35] = -1
    lt[35:40] = (y[35:40] + 1) % 3
    ls[40:] = np.where(np.arange(40) % 2 == 0, y[40:], -1)
    lt[40:] = np.where(np.arange(40) % 3 == 0, y[40:], -1)
    src = Latents.from_arrays(xs, ls, stimulus_id=ids_s, classes=CLASSES)
    tgt = Latents.from_arrays(xt, lt, stimulus_id=ids_t, classes=CLASSES)
    return src, tgt


def test_labelled_pairs_counts_only_labelled_same_class_shared_stimuli(linear_data):
    src, tgt = linear_data
    xs, xt = labelled_pairs(src, tgt)
    assert xs.shape == (25, 5) and xt.shape == (25, 7)
    assert torch.equal(xs, src.x[:25]) and torch.equal(xt, tgt.x[:25])


def test_linear_uses_stimulus_pairs(linear_data):
    src, tgt = linear_data
    bridge = fa.make("bridge", "linear", alpha=1e-6, min_pairs=10).fit(src, tgt)
    assert bridge.pairs_used_ == 25
    # the planted affine map is recovered, including on the 15 paired items not used for fitting
    assert torch.allclose(bridge.mapped_[:40], tgt.x[:40], rtol=1e-4, atol=1e-3)
    i = torch.arange(40)
    raw = bridge._raw_cost(i, i).double()
    assert float(raw.diagonal().max()) < 1e-3  # float32 mapped vectors of norm ~10
    assert float(raw.mean()) > 10.0
    assert torch.equal(raw.argmin(1), i)
    # c(x, y) = ||W x + b - y||^2 / d_tgt
    expected = torch.cdist(bridge.mapped_[i].double(), tgt.x[i].double()) ** 2 / 7
    assert torch.allclose(raw, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_linear_falls_back_to_labelled_class_means(linear_data):
    src, tgt = linear_data
    bridge = fa.make("bridge", "linear", alpha=1e-6, min_pairs=26).fit(src, tgt)
    assert bridge.pairs_used_ == 3 == src.n_classes
    # an (almost unpenalised) affine ridge map through 3 class means interpolates them, and the
    # mean of mapped items is the map of their mean
    known = src.labels >= 0
    mapped_means = torch.stack([bridge.mapped_[known & (src.labels == k)].mean(0) for k in range(3)])
    assert torch.allclose(mapped_means, labelled_class_means(tgt), rtol=0, atol=1e-3)
    # and it differs from the pair-fitted map
    paired = fa.make("bridge", "linear", alpha=1e-6, min_pairs=25).fit(src, tgt)
    assert paired.pairs_used_ == 25
    assert not torch.allclose(paired.mapped_, bridge.mapped_, rtol=0, atol=1e-2)


def test_linear_without_shared_stimuli_uses_labelled_class_means():
    src, tgt = pair(4, 6, seed=5)
    tgt.stimulus_id = np.array([f"other{i}" for i in range(tgt.n)])
    bridge = fa.make("bridge", "linear").fit(src, tgt)
    assert bridge.pairs_used_ == src.n_classes


def test_class_means_use_labelled_items_only():
    x = np.array([[0.0, 0.0], [2.0, 4.0], [10.0, 10.0], [100.0, 100.0], [1.0, 1.0]], dtype=np.float32)
    lat = Latents.from_arrays(x, [0, 0, 1, -1, 1], classes=[0, 1, 2])
    means = labelled_class_means(lat)
    assert torch.allclose(means, torch.tensor([[1.0, 2.0], [5.5, 5.5], [0.0, 0.0]]), rtol=0, atol=1e-6)

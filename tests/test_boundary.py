"""The public fit boundary (flowalign_nb.transport.boundary): couplings and bridges from ``fa.make`` fit on
representations as FlowAligner does, and name the problem when used before ``fit``."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch
from sklearn.exceptions import NotFittedError

import flowalign_nb as fa
from flowalign_nb.data.model import Latents

pytestmark = pytest.mark.usefixtures("one_thread")

COUPLINGS = ("exemplar", "ot", "sinkhorn", "unbalanced", "gw", "independent")
BRIDGES = ("prototype", "posterior", "linear", "euclidean")


@pytest.fixture(scope="module")
def pair():
    """Synthetic 16-d source and 24-d target, 5 classes, 150 items each, 20 % labelled."""
    p = fa.make_synthetic_pair(n_train=150, n_test=20, seed=0)
    return fa.mask_labels(p.source, 0.2, seed=0), fa.mask_labels(p.target, 0.2, seed=1)


def zscored(rep):
    """Each feature minus its mean over items, divided by its (population) standard deviation."""
    values = rep.values.astype(np.float64)
    return (values - values.mean(0)) / values.std(0)


def test_bridge_and_coupling_fit_on_representations_standardise_them_and_record_it(pair):
    src, tgt = pair
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    coupling = fa.make("coupling", "ot").fit(src, tgt, bridge=bridge)
    for fitted in (bridge, coupling):
        np.testing.assert_allclose(fitted.src_.x.numpy(), zscored(src), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(fitted.tgt_.x.numpy(), zscored(tgt), rtol=1e-5, atol=1e-5)
        record = fitted.standardisation_
        np.testing.assert_allclose(record.source.mean, src.values.mean(0), rtol=1e-6)
        np.testing.assert_allclose(record.target.scale, tgt.values.std(0), rtol=1e-6)
        assert record.classes == [0, 1, 2, 3, 4]
    # hidden labels stay hidden: -1 exactly where is_labelled is False
    np.testing.assert_array_equal(coupling.src_.labels.numpy() >= 0, src["is_labelled"].values)
    items = torch.arange(40)
    cost = bridge.cost(items, items)
    expected = ot.emd(np.full(40, 1 / 40), np.full(40, 1 / 40), cost.numpy())
    np.testing.assert_allclose(coupling.plan(items, items).numpy(), expected / expected.sum(), atol=1e-12)


def test_representations_and_flowaligner_give_the_same_coupling(pair):
    src, tgt = pair
    aligner = fa.FlowAligner(coupling="ot", bridge="prototype", steps=1, progress=False).fit(src, tgt)
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    coupling = fa.make("coupling", "ot").fit(src, tgt, bridge=bridge)
    torch.testing.assert_close(coupling.full_plan_, aligner.coupling_.full_plan_, rtol=0, atol=0)
    np.testing.assert_array_equal(coupling.standardisation_.source.mean, aligner.source_mean_)
    np.testing.assert_array_equal(coupling.standardisation_.target.scale, aligner.target_scale_)


def test_exemplar_from_representations_pairs_labelled_items_of_one_class(pair):
    src, tgt = pair
    coupling = fa.make("coupling", "exemplar").fit(src, tgt)
    i_src, i_tgt = coupling.sample(500, torch.Generator().manual_seed(0))
    assert src["is_labelled"].values[i_src.numpy()].all() and tgt["is_labelled"].values[i_tgt.numpy()].all()
    np.testing.assert_array_equal(src["label"].values[i_src.numpy()], tgt["label"].values[i_tgt.numpy()])


def test_labels_of_unlabelled_items_do_not_reach_a_fit_on_representations(pair):
    src, tgt = pair
    rng = np.random.default_rng(0)
    hidden = ~src["is_labelled"].values
    shuffled = src["label"].values.copy()
    shuffled[hidden] = rng.permutation(shuffled[hidden])
    plans = []
    for source in (src, src.assign_coords(label=("presentation", shuffled))):
        bridge = fa.make("bridge", "posterior").fit(source, tgt)
        plans.append(fa.make("coupling", "sinkhorn").fit(source, tgt, bridge=bridge).full_plan_)
    torch.testing.assert_close(plans[0], plans[1], rtol=0, atol=0)


def test_latents_are_used_as_given(pair):
    src = Latents.from_arrays(np.arange(12.0).reshape(6, 2), [0, 1, 0, 1, -1, -1], classes=[0, 1])
    tgt = Latents.from_arrays(np.arange(12.0).reshape(6, 2) * 3, [0, 1, -1, -1, 0, 1], classes=[0, 1])
    bridge = fa.make("bridge", "euclidean").fit(src, tgt)
    assert bridge.standardisation_ is None and bridge.src_ is src and bridge.tgt_ is tgt


@pytest.mark.parametrize("name", COUPLINGS)
def test_plan_and_sample_before_fit_raise_not_fitted(name):
    coupling = fa.make("coupling", name)
    with pytest.raises(NotFittedError, match=rf"{type(coupling).__name__} is not fitted yet; call fit\(src, tgt"):
        coupling.plan(torch.arange(3), torch.arange(3))
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        coupling.sample(4, torch.Generator().manual_seed(0))
    assert not hasattr(coupling, "src_")  # NotFittedError is an AttributeError: hasattr still answers


@pytest.mark.parametrize("name", BRIDGES)
def test_bridge_cost_before_fit_raises_not_fitted(name):
    bridge = fa.make("bridge", name)
    with pytest.raises(NotFittedError, match=rf"{type(bridge).__name__} is not fitted yet; call fit\(src, tgt\)"):
        bridge.cost(torch.arange(3), torch.arange(3))


def test_aligners_before_fit_raise_not_fitted(pair, tmp_path):
    src, _ = pair
    for aligner in (fa.FlowAligner(), fa.RidgeAligner(), fa.ProcrustesAligner()):
        with pytest.raises(NotFittedError, match=rf"this {type(aligner).__name__} is not fitted yet"):
            aligner.transform(src)
    with pytest.raises(NotFittedError, match="FlowAligner is not fitted yet"):
        fa.FlowAligner().save(tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_coupling_needs_a_fitted_bridge_of_the_same_items(pair):
    src, tgt = pair
    with pytest.raises(NotFittedError, match=r"PrototypeBridge is not fitted yet; call fit\(src, tgt\) first"):
        fa.make("coupling", "ot").fit(src, tgt, bridge=fa.make("bridge", "prototype"))
    other = fa.make("bridge", "prototype").fit(src, tgt.isel(presentation=slice(0, 100)))
    with pytest.raises(ValueError, match=r"fitted on other target items \(100\) than the coupling is given \(150\)"):
        fa.make("coupling", "ot").fit(src, tgt, bridge=other)


def test_mixed_or_foreign_inputs_name_their_types(pair):
    src, tgt = pair
    bridge = fa.make("bridge", "prototype")
    with pytest.raises(TypeError, match=r"two representations \(xarray.DataArray\) or two flowalign_nb.Latents; got DataArray and ndarray"):
        bridge.fit(src, tgt.values)
    latent = bridge.fit(src, tgt).tgt_
    with pytest.raises(TypeError, match="got DataArray and Latents"):
        fa.make("coupling", "exemplar").fit(src, latent)


def test_representations_without_labels_fail_naming_the_fix(pair):
    src, tgt = pair
    unlabelled = tgt.assign_coords(is_labelled=("presentation", np.zeros(tgt.sizes["presentation"], bool)))
    with pytest.raises(fa.RepresentationError, match=r"target has no labelled items.*mask_labels"):
        fa.make("bridge", "prototype").fit(src, unlabelled)
    hidden = src.assign_coords(is_labelled=("presentation", np.zeros(src.sizes["presentation"], bool)))
    gw = fa.make("coupling", "gw").fit(hidden, unlabelled)  # needs no labels
    assert gw.standardisation_.classes == [] and (gw.src_.labels == -1).all()

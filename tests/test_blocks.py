"""Class-blocked minibatch plans (flowalign_nb.transport.blocks) and their use by the OT couplings."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

import flowalign_nb as fa
from flowalign_nb.transport.blocks import BlockSampler, batched_log_sinkhorn, block_labels, block_layout, solve_blocks
from flowalign_nb.data.model import Latents

pytestmark = pytest.mark.filterwarnings("ignore:.*did not converge:UserWarning")


def space(n, d, n_classes, seed, fraction):
    """Gaussian class blobs; returns Latents (labels -1 where hidden) and the true labels."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((n_classes, d))
    y = rng.integers(0, n_classes, n)
    x = (centres[y] + rng.standard_normal((n, d))).astype(np.float32)
    known = np.where(rng.random(n) < fraction, y, -1)
    return Latents.from_arrays(x, known, classes=list(range(n_classes))), y


@pytest.fixture(scope="module")
def labelled():
    src, _ = space(600, 6, 4, seed=0, fraction=1.0)
    tgt, _ = space(700, 9, 4, seed=1, fraction=1.0)
    return src, tgt, fa.make("bridge", "prototype").fit(src, tgt)


def test_block_labels_use_only_labelled_items_and_nearest_labelled_means():
    lat, truth = space(300, 5, 3, seed=2, fraction=0.2)
    blocks = block_labels(lat)
    known = lat.labels >= 0
    assert torch.equal(blocks[known], lat.labels[known])
    x = lat.x.double()
    means = torch.stack([x[lat.labels == k].mean(0) for k in range(3)])
    expected = torch.cdist(x, means).argmin(1)
    assert torch.equal(blocks[~known], expected[~known])
    # the hidden labels never enter: other hidden labels, same blocks
    shuffled = Latents(lat.x, lat.labels.clone(), lat.stimulus_id, lat.classes)
    assert torch.equal(block_labels(shuffled), blocks)
    assert (blocks.numpy() == truth).mean() > 0.9  # well-separated blobs: pseudo-labels are right


def test_block_labels_without_labels_fail_clearly():
    lat = Latents.from_arrays(np.zeros((4, 2)), [-1, -1, -1, -1], classes=[0, 1])
    with pytest.raises(ValueError, match="need labelled items"):
        block_labels(lat)


def test_block_sampler_draws_balanced_same_block_pairs():
    src_b = torch.tensor([0, 0, 1, 1, 1, 2, 2, 3])  # block 3 has no target items: residual block
    tgt_b = torch.tensor([1, 0, 2, 1, 0, 2])
    sampler = BlockSampler(src_b, tgt_b)
    g = torch.Generator().manual_seed(0)
    i_src, i_tgt, counts = sampler.draw(500, g)
    k = src_b[i_src]
    assert torch.all(k[1:] >= k[:-1])  # sorted by block
    same = k < 3
    assert torch.equal(tgt_b[i_tgt][same], k[same])
    assert counts.tolist()[:3] == torch.bincount(k[same], minlength=3).tolist()
    assert counts[-1] == (k == 3).sum() and counts.sum() == 500
    assert set(i_tgt[~same].tolist()) == set(range(6))  # residual targets drawn from all items


def test_blocked_emd_is_optimal_per_block_like_pot_and_the_exact_plan(labelled):
    src, tgt, bridge = labelled
    sampler = BlockSampler(block_labels(src), block_labels(tgt))
    i_src, i_tgt, counts = sampler.draw(200, torch.Generator().manual_seed(1))
    plan = solve_blocks(bridge.block_cost, i_src, i_tgt, counts, "emd")
    dense = plan.dense()
    pos, sizes = block_layout(counts)
    for b in range(len(sizes)):
        p = pos[b, : sizes[b]]
        block = dense[p][:, p]
        # a permutation scaled by 1 / B (items drawn twice make ties, so POT may pick another optimum)
        assert torch.all((block == 0) | (block == 1.0 / 200)) and torch.all((block > 0).sum(1) == 1)
        w = torch.full((len(p),), 1.0 / 200, dtype=torch.float64)
        cost = bridge.cost(i_src[p], i_tgt[p])
        expected = ot.emd(w, w, cost, numItermax=10_000_000)
        assert float((block * cost).sum()) == pytest.approx(float((expected * cost).sum()), rel=1e-12, abs=1e-15)
    torch.testing.assert_close(dense.sum(0), torch.full((200,), 1 / 200, dtype=torch.float64))
    torch.testing.assert_close(dense.sum(1), torch.full((200,), 1 / 200, dtype=torch.float64))
    # all items labelled, cross-class pairs penalised: the blocked plan is exactly optimal
    cost = bridge.cost(i_src, i_tgt)
    u = torch.full((200,), 1.0 / 200, dtype=torch.float64)
    exact = ot.emd(u, u, cost, numItermax=10_000_000)
    assert abs(float(plan.cost(cost)) - float((exact * cost).sum())) < 1e-9


@pytest.mark.parametrize("log_domain", [False, True], ids=["stabilised", "log-domain"])
def test_blocked_sinkhorn_equals_pot_log_sinkhorn_per_block(labelled, log_domain):
    src, tgt, bridge = labelled
    sampler = BlockSampler(block_labels(src), block_labels(tgt))
    i_src, i_tgt, counts = sampler.draw(120, torch.Generator().manual_seed(2))
    plan = solve_blocks(bridge.block_cost, i_src, i_tgt, counts, "sinkhorn", reg=0.1, tol=1e-12, num_iter_max=20_000,
                        log_domain=log_domain).dense()
    pos, sizes = block_layout(counts)
    for b in range(len(sizes)):
        p = pos[b, : sizes[b]]
        w = torch.full((len(p),), 1.0 / 120, dtype=torch.float64)
        expected = ot.sinkhorn(w, w, bridge.cost(i_src[p], i_tgt[p]), 0.1, method="sinkhorn_log", numItermax=20_000, stopThr=1e-14)
        torch.testing.assert_close(plan[p][:, p], expected, rtol=0, atol=1e-9)
    assert abs(float(plan.sum()) - 1) < 1e-9


def test_batched_log_sinkhorn_padding_gets_no_mass():
    cost = torch.rand(2, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = torch.tensor([[0.2] * 5, [0.25] * 4 + [0.0]], dtype=torch.float64)
    plan = batched_log_sinkhorn(cost, a, a, 0.05, tol=1e-10, num_iter_max=5000)
    assert float(plan[1, 4].abs().sum() + plan[1, :, 4].abs().sum()) == 0.0
    torch.testing.assert_close(plan.sum(2), a, rtol=0, atol=1e-8)
    torch.testing.assert_close(plan.sum(1), a, rtol=0, atol=1e-8)


def unbalanced_blocks(labelled, batch=90, seed=4):
    """A balanced minibatch of the 4-class fixture: blocks of 21, 29, 18 and 22 items, padded to 29."""
    src, tgt, bridge = labelled
    sampler = BlockSampler(block_labels(src), block_labels(tgt))
    i_src, i_tgt, counts = sampler.draw(batch, torch.Generator().manual_seed(seed))
    pos, sizes = block_layout(counts)
    assert len(set(sizes.tolist())) > 1  # blocks of different sizes: the solver runs on padding
    return bridge, i_src, i_tgt, counts, pos, sizes


# reg < reg_start = 0.1: epsilon-scaling runs, and the last stage starts from absorbed potentials
UNBALANCED_SETTINGS = [(0.05, 0.1), (0.05, 1.0), (0.02, 0.5), (0.01, 0.1), (0.01, 5.0)]


@pytest.mark.parametrize("reg,reg_m", UNBALANCED_SETTINGS)
def test_blocked_unbalanced_equals_pot_per_block(labelled, reg, reg_m):
    """Normalised blocked plans equal POT's ``sinkhorn_unbalanced`` (Sinkhorn-Knopp) block by block.

    POT 0.9.7's ``method="sinkhorn_stabilized"`` is no reference at these settings: its absorption
    restarts the scalings (POT issue #711) and its plans lie at L1 0.45 to 2.0 from the fixed point
    that Sinkhorn-Knopp and an independent log-domain solver agree on to 1e-11
    (``benchmarks/unbalanced_reference.py``). Sinkhorn-Knopp needs no absorption at these regs.
    """
    bridge, i_src, i_tgt, counts, pos, sizes = unbalanced_blocks(labelled)
    plan = solve_blocks(bridge.block_cost, i_src, i_tgt, counts, "unbalanced", reg=reg, reg_m=reg_m, tol=1e-13, num_iter_max=50_000).dense()
    expected = torch.zeros_like(plan)
    for b in range(len(sizes)):
        p = pos[b, : sizes[b]]
        w = torch.full((len(p),), 1.0 / 90, dtype=torch.float64)
        cost = bridge.cost(i_src[p], i_tgt[p])
        expected[p[:, None], p[None, :]] = ot.unbalanced.sinkhorn_unbalanced(w, w, cost, reg, reg_m, numItermax=100_000, stopThr=1e-15)
    expected = expected / expected.sum()  # the coupling's plan is normalised over all blocks
    assert float((plan - expected).abs().sum()) < 1e-6


@pytest.mark.parametrize("reg,reg_m", UNBALANCED_SETTINGS)
def test_blocked_unbalanced_satisfies_the_first_order_conditions(labelled, reg, reg_m):
    """The unnormalised block plans are the stationary point of the stated objective (no POT involved).

    ``min <C, pi> + reg sum(pi log pi - pi) + reg_m KL(pi 1 || a) + reg_m KL(pi^T 1 || b)`` has the gradient
    ``C_ij + reg log pi_ij + reg_m log(r_i / a_i) + reg_m log(c_j / b_j)``, zero at the optimum.
    """
    from flowalign_nb.transport.blocks import batched_sinkhorn_stabilized

    bridge, i_src, i_tgt, _, pos, sizes = unbalanced_blocks(labelled)
    valid = pos >= 0
    cost = bridge.block_cost(i_src[pos.clamp_min(0)], i_tgt[pos.clamp_min(0)], valid)
    w = valid.to(torch.float64) / 90
    plans = batched_sinkhorn_stabilized(cost, w, w, reg, reg_m=reg_m, tol=1e-13, num_iter_max=50_000)
    pairs = valid[:, :, None] & valid[:, None, :]
    assert float(plans[~pairs].abs().sum()) == 0.0  # padding carries no mass
    rows, cols = plans.sum(2), plans.sum(1)
    gradient = (cost + reg * torch.log(plans) + reg_m * torch.log(rows / w)[:, :, None] + reg_m * torch.log(cols / w)[:, None, :])
    carried = pairs & (plans > 0)
    assert float(gradient[carried].abs().max()) < 1e-8
    # entries whose kernel fell below 1e-30 are set to 0: the optimum puts (almost) nothing there
    implied = torch.exp(-(cost + reg_m * torch.log(rows / w)[:, :, None] + reg_m * torch.log(cols / w)[:, None, :]) / reg)
    assert float(implied[pairs & (plans == 0)].sum()) < 1e-20
    assert float(plans.sum()) < 0.99  # mass is really lost, so the KL terms are active


def test_stabilised_sinkhorn_survives_tiny_reg():
    # exp(-C / reg) underflows to 0 for most entries (C / reg up to 5000): plain scaling Sinkhorn breaks down
    cost = 5.0 * torch.rand(3, 30, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = torch.full((3, 30), 1 / 30, dtype=torch.float64)
    from flowalign_nb.transport.blocks import batched_sinkhorn_stabilized

    plan = batched_sinkhorn_stabilized(cost, a, a, 1e-3, tol=1e-9, num_iter_max=5000, reg_start=10.0)
    assert torch.isfinite(plan).all()
    torch.testing.assert_close(plan.sum(2), a, rtol=0, atol=1e-4)
    exact = torch.stack([ot.emd(a[k], a[k], cost[k]) for k in range(3)])
    assert float((plan * cost).sum()) <= float((exact * cost).sum()) * 1.01


def test_blocked_unbalanced_plan_is_block_diagonal_and_normalised(labelled):
    src, tgt, bridge = labelled
    sampler = BlockSampler(block_labels(src), block_labels(tgt))
    i_src, i_tgt, counts = sampler.draw(100, torch.Generator().manual_seed(3))
    dense = solve_blocks(bridge.block_cost, i_src, i_tgt, counts, "unbalanced", reg=0.1, reg_m=0.5).dense()
    assert abs(float(dense.sum()) - 1) < 1e-12
    cross = src.labels[i_src][:, None] != tgt.labels[i_tgt][None, :]
    assert float(dense[cross].sum()) == 0.0


def test_block_plan_sampling_follows_the_plan():
    counts = torch.tensor([2, 3])
    plans = torch.zeros(2, 3, 3, dtype=torch.float64)
    plans[0, :2, :2] = torch.tensor([[0.1, 0.3], [0.0, 0.0]])
    plans[1] = torch.tensor([[0.2, 0.0, 0.0], [0.0, 0.0, 0.1], [0.0, 0.3, 0.0]])
    pos, _ = block_layout(counts)
    from flowalign_nb.transport.blocks import BlockPlan

    plan = BlockPlan(plans, pos, pos, 5)
    rows, cols = plan.sample(40_000, torch.Generator().manual_seed(0))
    freq = torch.zeros(5, 5, dtype=torch.float64)
    freq.index_put_((rows, cols), torch.ones(len(rows), dtype=torch.float64), accumulate=True)
    torch.testing.assert_close(freq / len(rows), plan.dense(), rtol=0, atol=0.01)
    assert float(freq[plan.dense() == 0].sum()) == 0.0


@pytest.mark.parametrize("name,options", [("ot", {}), ("sinkhorn", {"reg": 0.1}), ("unbalanced", {"reg": 0.1})])
def test_blocked_couplings_pair_items_of_one_class(labelled, name, options):
    src, tgt, bridge = labelled
    coupling = fa.make("coupling", name, plan_size=128, full_plan_max=100, blocks=True, **options).fit(src, tgt, bridge=bridge)
    g = torch.Generator().manual_seed(0)
    i_src, i_tgt = coupling.sample(300, g)
    assert i_src.shape == i_tgt.shape == (300,)
    assert torch.equal(src.labels[i_src], tgt.labels[i_tgt])
    again = fa.make("coupling", name, plan_size=128, full_plan_max=100, blocks=True, **options).fit(src, tgt, bridge=bridge)
    j_src, j_tgt = again.sample(300, torch.Generator().manual_seed(0))
    assert torch.equal(i_src, j_src) and torch.equal(i_tgt, j_tgt)


def test_blocks_option_errors(labelled):
    with pytest.raises(ValueError, match="blocks="):
        fa.make("coupling", "ot", blocks="yes")
    src, tgt, _ = labelled
    bare = Latents(tgt.x, torch.full_like(tgt.labels, -1), tgt.stimulus_id, tgt.classes)
    coupling = fa.make("coupling", "ot", plan_size=64, full_plan_max=10, blocks=True)
    with pytest.raises(ValueError, match="need labelled items"):
        coupling.fit(src, bare, bridge=fa.make("bridge", "prototype").fit(src, tgt))


@pytest.mark.parametrize("name", ["sinkhorn", "unbalanced"])
def test_blocked_entropic_couplings_at_their_defaults_equal_pot_at_its_defaults(labelled, name):
    """What users get: the coupling's default options against ``ot.sinkhorn`` / ``sinkhorn_unbalanced`` at POT's."""
    src, tgt, bridge = labelled
    coupling = fa.make("coupling", name, full_plan_max=100, blocks=True).fit(src, tgt, bridge=bridge)
    i_src, i_tgt, counts = coupling.block_sampler_.draw(512, torch.Generator().manual_seed(0))
    plan = coupling.block_plan(i_src, i_tgt, counts).dense()
    pos, sizes = block_layout(counts)
    expected = torch.zeros_like(plan)
    for b in range(len(sizes)):
        p = pos[b, : sizes[b]]
        w = torch.full((len(p),), 1.0 / 512, dtype=torch.float64)
        cost = bridge.cost(i_src[p], i_tgt[p])
        if name == "sinkhorn":
            expected[p[:, None], p[None, :]] = ot.sinkhorn(w, w, cost, coupling.reg)
        else:
            expected[p[:, None], p[None, :]] = ot.unbalanced.sinkhorn_unbalanced(w, w, cost, coupling.reg, coupling.reg_m)
    expected = expected / expected.sum()
    assert float((plan - expected).abs().sum()) < 1e-6


def test_block_sampler_draws_targets_in_the_source_class_proportions():
    """Blocked minibatches are class-conditional: targets follow the source's block shares, not their own."""
    src_b = torch.tensor([0] * 600 + [1] * 300 + [2] * 100)  # source 60 / 30 / 10 %
    tgt_b = torch.tensor([0] * 200 + [1] * 400 + [2] * 400)  # target 20 / 40 / 40 %
    sampler = BlockSampler(src_b, tgt_b)
    g = torch.Generator().manual_seed(0)
    draws = [sampler.draw(1000, g) for _ in range(20)]
    i_tgt = torch.cat([d[1] for d in draws])
    shares = torch.bincount(tgt_b[i_tgt], minlength=3).double() / len(i_tgt)
    torch.testing.assert_close(shares, torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), rtol=0, atol=0.01)
    # within a block, target items are uniform: each class-2 target item drawn about 2000 / 400 times
    per_item = torch.bincount(i_tgt[tgt_b[i_tgt] == 2], minlength=1000)[tgt_b == 2].double()
    assert float(per_item.std() / per_item.mean()) < 0.6

"""Tests of the couplings (flowalign_nb.transport.couplings) on precisely known data.

Every coupling and bridge is built through ``flowalign_nb.make`` so the registry is exercised too.
"""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch
from scipy import stats
from torch.profiler import ProfilerActivity, profile

import flowalign_nb as fa
from flowalign_nb.transport.bridges import Bridge
from flowalign_nb.transport.couplings import intra_cost, sample_from_plan
from flowalign_nb.data.model import Latents

BUILTIN_BRIDGES = ("euclidean", "linear", "posterior", "prototype")

# POT warns when Sinkhorn stops at numItermax; the coupling and the direct call stop at the same point.
pytestmark = pytest.mark.filterwarnings("ignore:Sinkhorn did not converge:UserWarning")


# --------------------------------------------------------------------------------------------- helpers


def blobs(n, d, n_classes, seed, labelled_fraction=1.0, spread=4.0):
    """Gaussian class blobs: (x float32 (n, d), true labels (n,), known labels with -1 for unlabelled)."""
    rng = np.random.default_rng(seed)
    centres = spread * rng.standard_normal((n_classes, d))
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    x = (centres[y] + rng.standard_normal((n, d))).astype(np.float32)
    known = y.copy()
    known[rng.random(n) >= labelled_fraction] = -1
    return x, y, known


def latents(x, labels, n_classes):
    return Latents.from_arrays(x, labels, classes=list(range(n_classes)))


@pytest.fixture(scope="module")
def same_space():
    """Source and target in one 4-d space (3 classes, 60% labelled), with a fitted euclidean bridge."""
    xs, _, ls = blobs(100, 4, 3, seed=1, labelled_fraction=0.6)
    xt, _, lt = blobs(120, 4, 3, seed=1, labelled_fraction=0.6)  # same centres (same seed), other items
    xt = xt + np.random.default_rng(2).normal(0, 0.3, xt.shape).astype(np.float32)
    src, tgt = latents(xs, ls, 3), latents(xt, lt, 3)
    return src, tgt, fa.make("bridge", "euclidean").fit(src, tgt)


@pytest.fixture(scope="module")
def cross_space():
    """Source (5-d) and target (8-d) spaces of different dimension with a fitted prototype bridge."""
    xs, _, ls = blobs(90, 5, 3, seed=3, labelled_fraction=0.5)
    xt, _, lt = blobs(110, 8, 3, seed=4, labelled_fraction=0.5)
    src, tgt = latents(xs, ls, 3), latents(xt, lt, 3)
    return src, tgt, fa.make("bridge", "prototype").fit(src, tgt)


def subsets(src, tgt, seed=0, n=40, m=55):
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(src.n, generator=g)[:n], torch.randperm(tgt.n, generator=g)[:m]


def uniform(n):
    return torch.full((n,), 1.0 / n, dtype=torch.float64)


def pot_plan(name, cost, reg=None, reg_m=None):
    a, b = uniform(cost.shape[0]), uniform(cost.shape[1])
    if name == "ot":
        return ot.emd(a, b, cost, numItermax=10_000_000)
    if name == "sinkhorn":
        return ot.sinkhorn(a, b, cost, reg)
    return ot.unbalanced.sinkhorn_unbalanced(a, b, cost, reg, reg_m)


OT_CASES = [
    ("ot", {}),
    ("sinkhorn", {"reg": 0.1}),
    ("unbalanced", {"reg": 0.1, "reg_m": 0.5}),
]


# ------------------------------------------------------------------ 1. plans equal direct POT calls


@pytest.mark.parametrize("space", ["same_space", "cross_space"])
@pytest.mark.parametrize("name,options", OT_CASES, ids=[c[0] for c in OT_CASES])
def test_plan_coupling_plans_solve_their_problem(request, space, name, options):
    """Independent of POT: the LP optimum (scipy HiGHS) for ``ot``; the optimality conditions for the entropic plans."""
    from scipy.optimize import linprog

    src, tgt, bridge = request.getfixturevalue(space)
    coupling = fa.make("coupling", name, **options).fit(src, tgt, bridge=bridge)
    i_src, i_tgt = subsets(src, tgt)
    cost, plan = bridge.cost(i_src, i_tgt), coupling.solve(i_src, i_tgt).double()
    n, m = cost.shape
    a, b = uniform(n), uniform(m)
    torch.testing.assert_close(coupling.plan(i_src, i_tgt), plan / plan.sum(), rtol=0, atol=1e-15)  # plan(): normalised solve()
    if name == "ot":
        rows = np.kron(np.eye(n), np.ones((1, m)))
        cols = np.kron(np.ones((1, n)), np.eye(m))
        lp = linprog(cost.numpy().ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([a.numpy(), b.numpy()]), method="highs")
        assert float((plan * cost).sum()) == pytest.approx(lp.fun, rel=1e-9)
        torch.testing.assert_close(plan.sum(1), a, rtol=0, atol=1e-12)
        return
    reg = options["reg"]
    if name == "sinkhorn":  # pi = diag(u) exp(-C / reg) diag(v): log pi + C / reg is additive, and the marginals hold
        free_s, free_t = src.labels[i_src] < 0, tgt.labels[i_tgt] < 0  # unlabelled: no mask penalty, no zero entries
        potential = (torch.log(plan) + cost / reg)[free_s][:, free_t]
        centred = potential - potential.mean(1, keepdim=True) - potential.mean(0, keepdim=True) + potential.mean()
        assert float(centred.abs().max()) < 1e-6
        # POT's default 1000 iterations leave a marginal error up to 8e-5 on one of these problems
        torch.testing.assert_close(plan.sum(1), a, rtol=0, atol=1e-4)
        torch.testing.assert_close(plan.sum(0), b, rtol=0, atol=1e-4)
        return
    # unbalanced, POT's reg_type "kl": C + reg log(pi / a b^T) + reg_m log(r / a) + reg_m log(c / b) = 0
    reg_m = options["reg_m"]
    gradient = cost + reg * torch.log(plan / torch.outer(a, b)) + reg_m * torch.log(plan.sum(1) / a)[:, None] + reg_m * torch.log(plan.sum(0) / b)[None, :]
    carried = plan > 0  # pairs with the mask penalty underflow to 0
    assert float(carried.double().mean()) > 0.3
    assert float(gradient[carried].abs().max()) < 1e-4


def test_exact_ot_plan_has_uniform_marginals(same_space):
    src, tgt, bridge = same_space
    coupling = fa.make("coupling", "ot").fit(src, tgt, bridge=bridge)
    plan = coupling.full_plan_
    assert torch.allclose(plan.sum(1), uniform(src.n), rtol=0, atol=1e-12)
    assert torch.allclose(plan.sum(0), uniform(tgt.n), rtol=0, atol=1e-12)
    # optimal: no cheaper than the independent plan and than a random permutation-like plan
    cost = bridge.cost(torch.arange(src.n), torch.arange(tgt.n))
    assert float((plan * cost).sum()) < float(cost.mean())


@pytest.mark.parametrize("tol", [None, 1e-3])
def test_sinkhorn_minibatch_plan_stops_at_its_tol_as_pot_does(same_space, tol):
    """``tol`` is ``ot.sinkhorn``'s ``stopThr`` also for plans among one minibatch (default: POT's own)."""
    src, tgt, bridge = same_space
    options = {} if tol is None else {"tol": tol}
    coupling = fa.make("coupling", "sinkhorn", reg=0.05, **options).fit(src, tgt, bridge=bridge)
    i_src, i_tgt = subsets(src, tgt)
    cost = bridge.cost(i_src, i_tgt)
    pot_options = {} if tol is None else {"stopThr": tol}  # POT at its defaults when the coupling is at its own
    expected = ot.sinkhorn(uniform(len(i_src)), uniform(len(i_tgt)), cost, 0.05, **pot_options)
    torch.testing.assert_close(coupling.solve(i_src, i_tgt).double(), expected, rtol=0, atol=1e-15)
    if tol is not None:  # a loose threshold really stops earlier: the plan differs from POT's default one
        assert float((expected - ot.sinkhorn(uniform(len(i_src)), uniform(len(i_tgt)), cost, 0.05)).abs().sum()) > 1e-6


def test_unbalanced_minibatch_plans_on_the_cpu_go_to_pots_numpy_backend_and_equal_its_torch_plans(same_space, monkeypatch):
    """On the CPU, POT gets numpy arrays (its faster backend, ``benchmarks/pot_backend.py``) and the
    plan equals POT's own on the torch tensors, at both defaults."""
    src, tgt, bridge = same_space
    coupling = fa.make("coupling", "unbalanced", device="cpu").fit(src, tgt, bridge=bridge)
    i_src, i_tgt = subsets(src, tgt)
    cost = bridge.cost(i_src, i_tgt)
    expected = ot.unbalanced.sinkhorn_unbalanced(uniform(len(i_src)), uniform(len(i_tgt)), cost, 0.05, 1.0)
    seen = []
    real = ot.unbalanced.sinkhorn_unbalanced
    def recording(a, b, m, *args, **options):
        seen.append(type(m))
        return real(a, b, m, *args, **options)
    monkeypatch.setattr(ot.unbalanced, "sinkhorn_unbalanced", recording)
    plan = coupling.solve(i_src, i_tgt)
    assert seen == [np.ndarray] and plan.dtype == torch.float64
    torch.testing.assert_close(plan, expected, rtol=0, atol=1e-15)


def test_sinkhorn_minibatch_plans_on_the_cpu_run_pots_iterates_and_equal_its_torch_plans(same_space, monkeypatch):
    """On the CPU, ``sinkhorn`` solves with :func:`sinkhorn_knopp` (POT's iterates, checks every
    tenth iteration; ``tests/test_sinkhorn.py``), not ``ot.sinkhorn``, and the plan equals POT's own
    on the torch tensors at both defaults; with ``method="sinkhorn_log"`` POT solves it."""
    src, tgt, bridge = same_space
    i_src, i_tgt = subsets(src, tgt)
    cost = bridge.cost(i_src, i_tgt)
    a, b = uniform(len(i_src)), uniform(len(i_tgt))
    expected = ot.sinkhorn(a, b, cost, 0.05)
    calls = []
    real = ot.sinkhorn
    monkeypatch.setattr(ot, "sinkhorn", lambda *args, **options: calls.append(options.get("method")) or real(*args, **options))
    plan = fa.make("coupling", "sinkhorn", device="cpu").fit(src, tgt, bridge=bridge).solve(i_src, i_tgt)
    assert calls == [] and plan.dtype == torch.float64
    torch.testing.assert_close(plan, expected, rtol=0, atol=1e-15)
    fa.make("coupling", "sinkhorn", method="sinkhorn_log", device="cpu").fit(src, tgt, bridge=bridge).solve(i_src, i_tgt)
    assert calls and set(calls) == {"sinkhorn_log"}  # fit (full plan) and solve


@pytest.fixture(scope="module")
def gw_data():
    """Target = source rotated into a higher-dim space (pairwise distances preserved)."""
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((30, 3)).astype(np.float32)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    xt = (xs @ q[:3]).astype(np.float32)  # (30, 5); rows of q[:3] are orthonormal
    ls = np.arange(30) % 3
    src, tgt = latents(xs, ls, 3), latents(xt, ls, 3)
    return src, tgt


def gw_inputs(src, tgt):
    c1, c2 = intra_cost(src.x), intra_cost(tgt.x)
    return c1, c2, uniform(src.n), uniform(tgt.n)


def test_intra_cost_is_max_normalised_squared_distance():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    c = intra_cost(x)
    expected = torch.tensor([[0.0, 25.0, 1.0], [25.0, 0.0, 18.0], [1.0, 18.0, 0.0]], dtype=torch.float64) / 25.0
    assert c.dtype == torch.float64
    assert torch.allclose(c, expected, rtol=0, atol=1e-12)


def test_gw_equals_pot_gromov_wasserstein(gw_data):
    src, tgt = gw_data
    coupling = fa.make("coupling", "gw").fit(src, tgt)
    c1, c2, a, b = gw_inputs(src, tgt)
    expected = torch.as_tensor(ot.gromov.gromov_wasserstein(c1, c2, a, b, "square_loss"), dtype=torch.float64)
    all_s, all_t = torch.arange(src.n), torch.arange(tgt.n)
    assert torch.allclose(coupling.solve(all_s, all_t).double(), expected, rtol=0, atol=1e-6)
    assert torch.allclose(coupling.full_plan_.double(), expected / expected.sum(), rtol=0, atol=1e-6)
    assert float(coupling.full_plan_.sum()) == pytest.approx(1.0, abs=1e-9)
    # distances are preserved exactly, so GW finds a plan with (near) zero distortion
    gw_loss = float(ot.gromov.gromov_wasserstein2(c1, c2, a, b, "square_loss"))
    assert gw_loss < 1e-6
    assert torch.equal(coupling.full_plan_.argmax(1), torch.arange(src.n))


def test_gw_entropic_equals_pot(gw_data):
    src, tgt = gw_data
    coupling = fa.make("coupling", "gw", reg=0.05).fit(src, tgt)
    c1, c2, a, b = gw_inputs(src, tgt)
    expected = torch.as_tensor(
        ot.gromov.entropic_gromov_wasserstein(c1, c2, a, b, "square_loss", epsilon=0.05), dtype=torch.float64
    )
    plain = torch.as_tensor(ot.gromov.gromov_wasserstein(c1, c2, a, b, "square_loss"), dtype=torch.float64)
    got = coupling.solve(torch.arange(src.n), torch.arange(tgt.n)).double()
    assert torch.allclose(got, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(got, plain, rtol=0, atol=1e-6)  # reg really switches solvers


def test_gw_fused_with_bridge_equals_pot(gw_data):
    src, tgt = gw_data
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    coupling = fa.make("coupling", "gw", alpha=0.3).fit(src, tgt, bridge=bridge)
    i_src, i_tgt = torch.arange(0, 30, 2), torch.arange(1, 30, 2)
    c1, c2 = intra_cost(src.x[i_src]), intra_cost(tgt.x[i_tgt])
    m = bridge.cost(i_src, i_tgt)
    expected = torch.as_tensor(
        ot.gromov.fused_gromov_wasserstein(m, c1, c2, uniform(15), uniform(15), "square_loss", alpha=0.3),
        dtype=torch.float64,
    )
    got = coupling.solve(i_src, i_tgt).double()
    assert torch.allclose(got, expected, rtol=0, atol=1e-6)
    assert torch.allclose(coupling.plan(i_src, i_tgt).double(), expected / expected.sum(), rtol=0, atol=1e-6)


def test_gw_epsilon_is_a_deprecated_name_of_reg(gw_data):
    src, tgt = gw_data
    with pytest.warns(FutureWarning, match=r"epsilon= is deprecated; use reg="):
        old = fa.make("coupling", "gw", epsilon=0.05)
    assert old.reg == 0.05
    new = fa.make("coupling", "gw", reg=0.05)
    torch.testing.assert_close(old.fit(src, tgt).full_plan_, new.fit(src, tgt).full_plan_, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"got reg=0.1 and its deprecated name epsilon=0.05; pass reg only"):
        fa.make("coupling", "gw", reg=0.1, epsilon=0.05)


def test_gw_reg_is_honoured_with_a_bridge(gw_data):
    """Fused GW with ``reg > 0`` is entropic: positive on every allowed pair, and more spread as reg grows."""
    src, tgt = gw_data
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    exact = fa.make("coupling", "gw").fit(src, tgt, bridge=bridge).full_plan_
    entropic = fa.make("coupling", "gw", reg=0.05).fit(src, tgt, bridge=bridge).full_plan_
    assert float((exact > 1e-12).double().mean()) < 0.2  # a non-entropic plan is sparse
    same_class = src.labels[:, None] == tgt.labels[None, :]  # other pairs carry the bridge's mask penalty
    assert bool((entropic[same_class] > 0).all())
    assert float((entropic - exact).abs().sum()) > 0.1
    smoother = fa.make("coupling", "gw", reg=0.5).fit(src, tgt, bridge=bridge).full_plan_

    def entropy(plan):
        return float(-(plan * torch.log(plan.clamp_min(1e-300))).sum())

    assert entropy(exact) < entropy(entropic) < entropy(smoother)  # more regularisation, more spread


def test_gw_objective_is_the_four_index_sum():
    from flowalign_nb.transport.couplings import gw_objective

    rng = np.random.default_rng(0)
    c1, c2 = intra_cost(torch.as_tensor(rng.standard_normal((6, 2)))), intra_cost(torch.as_tensor(rng.standard_normal((5, 3))))
    plan = torch.as_tensor(rng.random((6, 5)))
    plan = plan / plan.sum()
    direct = sum(float((c1[i, k] - c2[j, l]) ** 2 * plan[i, j] * plan[k, l]) for i in range(6) for k in range(6) for j in range(5) for l in range(5))
    assert float(gw_objective(plan, c1, c2)) == pytest.approx(direct, rel=1e-12)
    cost = torch.as_tensor(rng.random((6, 5)))
    assert float(gw_objective(plan, c1, c2, cost, alpha=0.3)) == pytest.approx(0.7 * float((cost * plan).sum()) + 0.3 * direct, rel=1e-12)


def test_distance_profile_plan_recovers_a_permutation_of_isometric_copies():
    from flowalign_nb.transport.couplings import distance_profile_plan

    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3))
    sigma = rng.permutation(40)  # target item j is source item sigma[j], rotated
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    y = x[sigma] @ q
    plan = distance_profile_plan(intra_cost(torch.as_tensor(x)), intra_cost(torch.as_tensor(y)))
    assert torch.equal(plan.argmax(0), torch.as_tensor(sigma))
    assert float(plan.sum()) == pytest.approx(1.0, abs=1e-12)


def isometric_spaces(seed, n=600):
    """2-d points and their images under ``(x0, x1) -> (-x1, 0, x0)`` (shuffled), each space z-scored.

    The axes are skewed differently (gamma shapes 1 and 4), so the only isometry between the spaces
    is the planted one, but reflections and the swap of axes come close. The map is a signed
    permutation of axes plus a zero dimension, so per-feature z-scoring keeps it an isometry.
    Returns source and target Latents and ``image``: the target position of each source item's image.
    """
    rng = np.random.default_rng(seed)
    x = np.stack([rng.gamma(1.0, 1.0, n), rng.gamma(4.0, 1.0, n)], 1)
    order = rng.permutation(n)
    images = np.stack([-x[:, 1], np.zeros(n), x[:, 0]], 1)[order]

    def z(v):
        return ((v - v.mean(0)) / np.where(v.std(0) > 1e-12, v.std(0), 1.0)).astype(np.float32)

    return Latents.from_arrays(z(x)), Latents.from_arrays(z(images)), torch.as_tensor(np.argsort(order))


@pytest.mark.parametrize("seed", [0, 2])
def test_minibatch_gw_follows_one_symmetry_in_every_minibatch(seed):
    """Above full_plan_max every minibatch pairs items with their true images' neighbourhood, not a reflection.

    Seed 2 is a draw where POT's GW from its default start ``a b^T`` lands in a wrong local optimum on the
    anchors; the anchor plan is the better of two starts.
    """
    src, tgt, image = isometric_spaces(seed)
    coupling = fa.make("coupling", "gw", batch_size=128, full_plan_max=300).fit(src, tgt)
    assert coupling.full_plan_ is None and coupling.anchor_plan_.shape == (300, 300)
    g = torch.Generator().manual_seed(0)
    spread = float(tgt.x.double().pow(2).sum(1).mean().sqrt())
    for _ in range(6):
        i_src, i_tgt = coupling.sample(256, g)
        error = (tgt.x[i_tgt] - tgt.x[image[i_src]]).double().norm(dim=1).mean()
        assert float(error) < 0.5 * spread  # a reflected or mixed minibatch is off by about the spread


def test_conditioned_gw_gradient_equals_pot_gradient_on_the_anchors():
    """Among the anchors themselves, G is POT's GW gradient (``ot.gromov.gwggrad``) at the anchor plan."""
    src, tgt, _ = isometric_spaces(0, n=120)
    coupling = fa.make("coupling", "gw", batch_size=32, full_plan_max=60).fit(src, tgt)
    a_src, a_tgt, pi = coupling.anchor_src_, coupling.anchor_tgt_, coupling.anchor_plan_
    # the anchors' costs: squared distances over the mean squared distance of all items (2 x total variance)
    scale_src, scale_tgt = 2 * src.x.double().var(0, unbiased=False).sum(), 2 * tgt.x.double().var(0, unbiased=False).sum()
    c1, c2 = ot.dist(src.x[a_src].double(), src.x[a_src].double()) / scale_src, ot.dist(tgt.x[a_tgt].double(), tgt.x[a_tgt].double()) / scale_tgt
    const, h1, h2 = ot.gromov.init_matrix(c1, c2, pi.sum(1), pi.sum(0), "square_loss")
    torch.testing.assert_close(coupling.conditioned_gradient(a_src, a_tgt), ot.gromov.gwggrad(const, h1, h2, pi), rtol=1e-9, atol=1e-12)
    # other items: the four-index sum, computed directly
    i_src, i_tgt = torch.tensor([0, 7, 50]), torch.tensor([3, 99])
    d1 = ((src.x[i_src, None, :].double() - src.x[a_src][None].double()) ** 2).sum(-1) / scale_src
    d2 = ((tgt.x[i_tgt, None, :].double() - tgt.x[a_tgt][None].double()) ** 2).sum(-1) / scale_tgt
    direct = 2 * ((d1[:, None, :, None] - d2[None, :, None, :]) ** 2 * pi[None, None]).sum((2, 3))
    torch.testing.assert_close(coupling.conditioned_gradient(i_src, i_tgt), direct, rtol=1e-9, atol=1e-12)
    # the anchor plan is the lowest-objective start, at least as good as POT's default start
    from flowalign_nb.transport.couplings import gw_objective

    default = ot.gromov.gromov_wasserstein(c1, c2, pi.sum(1), pi.sum(0), "square_loss")
    assert float(gw_objective(pi, c1, c2)) <= float(gw_objective(default, c1, c2)) + 1e-12


# ------------------------------------------------------------- 2. exact OT recovers a permutation


def test_exact_ot_recovers_planted_permutation():
    rng = np.random.default_rng(7)
    n = 80
    xs = rng.standard_normal((n, 6)).astype(np.float32)
    sigma = rng.permutation(n)  # source item i is target item sigma[i]
    xt = np.empty_like(xs)
    xt[sigma] = xs
    src, tgt = Latents.from_arrays(xs), Latents.from_arrays(xt)
    assert (src.labels == -1).all()
    bridge = fa.make("bridge", "euclidean").fit(src, tgt)
    coupling = fa.make("coupling", "ot").fit(src, tgt, bridge=bridge)

    plan = coupling.full_plan_
    assert plan is not None and plan.shape == (n, n)
    assert torch.equal(plan.argmax(1), torch.as_tensor(sigma))
    assert torch.allclose(plan, torch.zeros_like(plan).index_put_((torch.arange(n), torch.as_tensor(sigma)), torch.tensor(1.0 / n, dtype=plan.dtype)), rtol=0, atol=1e-12)

    i_src, i_tgt = coupling.sample(5000, torch.Generator().manual_seed(0))
    assert torch.equal(i_tgt, torch.as_tensor(sigma)[i_src])
    assert len(torch.unique(i_src)) > 0.9 * n  # every pair is drawn, not one pair repeatedly


# ----------------------------------------------------------------------------- 3. exemplar pairs


@pytest.fixture(scope="module")
def exemplar_data():
    """Source labelled counts 10/30/60 (+50 unlabelled), target 20/20/5 (+40 unlabelled), shuffled."""
    rng = np.random.default_rng(11)

    def side(counts, n_unlabelled, d):
        labels = np.concatenate([np.full(c, k) for k, c in enumerate(counts)] + [np.full(n_unlabelled, -1)])
        labels = labels[rng.permutation(len(labels))]
        return Latents.from_arrays(rng.standard_normal((len(labels), d)).astype(np.float32), labels, classes=[0, 1, 2])

    return side([10, 30, 60], 50, 4), side([20, 20, 5], 40, 7)


def draw(coupling, batches, batch_size, seed):
    g = torch.Generator().manual_seed(seed)
    pairs = [coupling.sample(batch_size, g) for _ in range(batches)]
    return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])


def test_exemplar_never_pairs_different_classes_or_unlabelled(exemplar_data):
    src, tgt = exemplar_data
    coupling = fa.make("coupling", "exemplar").fit(src, tgt)
    i_src, i_tgt = draw(coupling, batches=50, batch_size=256, seed=0)
    assert i_src.shape == i_tgt.shape == (50 * 256,)
    assert i_src.dtype == i_tgt.dtype == torch.long
    ys, yt = src.labels[i_src], tgt.labels[i_tgt]
    assert (ys >= 0).all() and (yt >= 0).all()
    assert torch.equal(ys, yt)
    # every labelled item is reachable, and only labelled ones are drawn
    assert set(i_src.tolist()) == set(torch.nonzero(src.labels >= 0).squeeze(1).tolist())
    assert set(i_tgt.tolist()) == set(torch.nonzero(tgt.labels >= 0).squeeze(1).tolist())


def test_exemplar_class_frequencies_follow_source_counts(exemplar_data):
    src, tgt = exemplar_data
    coupling = fa.make("coupling", "exemplar").fit(src, tgt)
    i_src, i_tgt = draw(coupling, batches=40, batch_size=500, seed=1)
    counts = torch.bincount(src.labels[i_src], minlength=3).numpy()
    expected = np.array([10, 30, 60]) / 100 * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    assert np.allclose(counts / counts.sum(), [0.1, 0.3, 0.6], rtol=0, atol=0.02)
    # not the target counts (20/20/5), which would give 0.44 / 0.44 / 0.11
    assert stats.chisquare(counts, np.array([20, 20, 5]) / 45 * counts.sum()).pvalue < 1e-10
    # within a class the target item is uniform over that class's labelled targets
    k2 = i_tgt[tgt.labels[i_tgt] == 2]
    per_item = torch.bincount(k2, minlength=tgt.n)[tgt.labels == 2].numpy()
    assert stats.chisquare(per_item).pvalue > 1e-3


def test_exemplar_skips_class_absent_from_target():
    rng = np.random.default_rng(12)
    ls = np.array([0] * 10 + [1] * 10 + [2] * 10 + [-1] * 5)
    lt = np.array([0] * 10 + [1] * 10 + [-1] * 5)  # class 2 has no labelled target item
    src = Latents.from_arrays(rng.standard_normal((35, 3)), ls, classes=[0, 1, 2])
    tgt = Latents.from_arrays(rng.standard_normal((25, 3)), lt, classes=[0, 1, 2])
    coupling = fa.make("coupling", "exemplar").fit(src, tgt)
    assert coupling.class_weights_.tolist() == [10.0, 10.0, 0.0]
    i_src, i_tgt = draw(coupling, batches=10, batch_size=200, seed=2)
    assert set(src.labels[i_src].tolist()) == {0, 1}
    assert torch.equal(src.labels[i_src], tgt.labels[i_tgt])


def test_exemplar_without_shared_class_raises():
    src = Latents.from_arrays(np.zeros((4, 2)), [0, 0, -1, -1], classes=[0, 1])
    tgt = Latents.from_arrays(np.zeros((4, 2)), [1, 1, -1, -1], classes=[0, 1])
    with pytest.raises(ValueError, match="no class"):
        fa.make("coupling", "exemplar").fit(src, tgt)


def test_exemplar_plan_is_class_block_diagonal(exemplar_data):
    src, tgt = exemplar_data
    coupling = fa.make("coupling", "exemplar").fit(src, tgt)
    plan = coupling.plan(torch.arange(src.n), torch.arange(tgt.n))
    assert plan.shape == (src.n, tgt.n)
    assert float(plan.sum()) == pytest.approx(1.0, abs=1e-12)
    ys, yt = src.labels[:, None], tgt.labels[None, :]
    allowed = (ys == yt) & (ys >= 0)
    assert (plan[~allowed] == 0).all()
    # pi(x, y) = w_k / (|X_k| |Y_k|) with w_k = |X_k| / 100: 1 / (100 |Y_k|)
    tgt_counts = torch.tensor([20.0, 20.0, 5.0], dtype=torch.float64)
    expected = 1.0 / (100.0 * tgt_counts[yt.clamp_min(0)].expand(src.n, tgt.n))
    assert torch.allclose(plan[allowed], expected[allowed], rtol=1e-12, atol=0)
    # row marginal of a labelled source item is 1 / n_labelled_source
    rows = plan.sum(1)
    assert torch.allclose(rows[src.labels >= 0], torch.full((100,), 0.01, dtype=torch.float64), rtol=0, atol=1e-12)
    assert (rows[src.labels < 0] == 0).all()

    # on a sub-block the plan is renormalised and still zero on clashes
    i_src, i_tgt = torch.arange(0, src.n, 3), torch.arange(0, tgt.n, 2)
    sub = coupling.plan(i_src, i_tgt)
    sub_allowed = allowed[i_src][:, i_tgt]
    assert float(sub.sum()) == pytest.approx(1.0, abs=1e-12)
    assert (sub[~sub_allowed] == 0).all() and (sub[sub_allowed] > 0).all()


# ------------------------------------------------------------- 4. exemplar allocates O(N + B)


def largest_cpu_allocation(fn) -> int:
    """Largest positive ``cpu_memory_usage`` of any profiled event while ``fn()`` runs, in bytes."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return max((e.cpu_memory_usage for e in prof.events() if e.cpu_memory_usage > 0), default=0)


def test_largest_allocation_measurement_detects_b_by_b():
    b = 4096
    assert largest_cpu_allocation(lambda: torch.zeros(b, b)) >= b * b * 4
    assert largest_cpu_allocation(lambda: torch.zeros(b)) < b * b * 4 / 100


def test_exemplar_allocates_nothing_quadratic():
    n, b = 200_000, 4096
    rng = np.random.default_rng(13)
    classes = list(range(10))
    src = Latents.from_arrays(rng.standard_normal((n, 3)).astype(np.float32), rng.integers(-1, 10, n), classes=classes)
    tgt = Latents.from_arrays(rng.standard_normal((n, 2)).astype(np.float32), rng.integers(-1, 10, n), classes=classes)
    coupling = fa.make("coupling", "exemplar")
    g = torch.Generator().manual_seed(0)
    out = []

    def run():
        coupling.fit(src, tgt)
        for _ in range(3):
            out.append(coupling.sample(b, g))

    largest = largest_cpu_allocation(run)
    assert largest > 0  # the profiler did record the O(N) allocations of fit
    assert largest < b * b * 4 / 10  # far below one B x B float32 block (67 MB)
    assert largest < n * n
    assert largest < 40 * n  # O(N): a few int64 vectors at most
    i_src, i_tgt = out[-1]
    assert i_src.shape == (b,) and torch.equal(src.labels[i_src], tgt.labels[i_tgt])
    assert (src.labels[i_src] >= 0).all()


# ------------------------------------------------------------------------------- 5. independent


def test_independent_plan_is_uniform_outer_product(exemplar_data):
    src, tgt = exemplar_data
    coupling = fa.make("coupling", "independent").fit(src, tgt)
    i_src, i_tgt = torch.arange(0, src.n, 2), torch.arange(tgt.n)
    plan = coupling.plan(i_src, i_tgt)
    expected = torch.outer(uniform(len(i_src)), uniform(len(i_tgt)))
    assert plan.shape == expected.shape
    assert torch.allclose(plan, expected, rtol=1e-12, atol=0)
    assert float(plan.sum()) == pytest.approx(1.0, abs=1e-12)


def test_independent_draws_are_uniform_and_ignore_labels(exemplar_data):
    src, tgt = exemplar_data
    coupling = fa.make("coupling", "independent").fit(src, tgt)
    i_src, i_tgt = draw(coupling, batches=20, batch_size=1000, seed=3)
    assert i_src.min() >= 0 and i_src.max() < src.n and i_tgt.min() >= 0 and i_tgt.max() < tgt.n
    cs, ct = torch.bincount(i_src, minlength=src.n).numpy(), torch.bincount(i_tgt, minlength=tgt.n).numpy()
    assert stats.chisquare(cs).pvalue > 1e-3
    assert stats.chisquare(ct).pvalue > 1e-3
    # source and target are drawn independently: contingency table of 4 x 4 index buckets
    table = np.histogram2d(i_src.numpy() * 4 // src.n, i_tgt.numpy() * 4 // tgt.n, bins=4, range=[[0, 4], [0, 4]])[0]
    assert stats.chi2_contingency(table).pvalue > 1e-3
    # unlabelled items are drawn (about 50/150 of the source draws)
    assert abs(float((src.labels[i_src] < 0).double().mean()) - 50 / 150) < 0.02


# ----------------------------------------------------------------- 6. full plan vs minibatches


@pytest.mark.parametrize("name", ["ot", "sinkhorn", "unbalanced", "gw"])
def test_full_plan_when_small(same_space, name):
    src, tgt, bridge = same_space
    coupling = fa.make("coupling", name).fit(src, tgt, bridge=None if name == "gw" else bridge)
    plan = coupling.full_plan_
    assert plan is not None and plan.shape == (src.n, tgt.n)
    assert float(plan.sum()) == pytest.approx(1.0, abs=1e-9)
    assert float(plan.min()) >= 0
    i_src, i_tgt = coupling.sample(300, torch.Generator().manual_seed(4))
    assert i_src.shape == i_tgt.shape == (300,)
    assert (plan[i_src, i_tgt] > 0).all()  # only pairs that carry mass are drawn


@pytest.mark.parametrize("name", ["ot", "sinkhorn", "unbalanced", "gw"])
def test_minibatch_when_large(same_space, name):
    src, tgt, bridge = same_space
    coupling = fa.make("coupling", name, plan_size=24, full_plan_max=50)
    coupling.fit(src, tgt, bridge=None if name == "gw" else bridge)
    assert coupling.full_plan_ is None
    g = torch.Generator().manual_seed(5)
    for batch_size in (17, 64):
        i_src, i_tgt = coupling.sample(batch_size, g)
        assert i_src.shape == i_tgt.shape == (batch_size,)
        assert i_src.dtype == i_tgt.dtype == torch.long
        assert int(i_src.min()) >= 0 and int(i_src.max()) < src.n
        assert int(i_tgt.min()) >= 0 and int(i_tgt.max()) < tgt.n
    # the pairs come from minibatch plans: far cheaper than uniform pairs under the (same-space) euclidean
    # cost, on average over minibatches (one 24-item gw plan alone may follow a reflection of the blobs)
    pairs = [coupling.sample(64, g) for _ in range(30)]
    i_src, i_tgt = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
    paired = float(bridge.cost(i_src, i_tgt).diagonal().mean())
    uniform_pairs = float(bridge.cost(torch.arange(src.n), torch.arange(tgt.n)).mean())
    assert paired < 0.5 * uniform_pairs


def test_full_plan_threshold_is_inclusive(same_space):
    src, tgt, bridge = same_space  # 100 source, 120 target items
    at = fa.make("coupling", "ot", full_plan_max=120).fit(src, tgt, bridge=bridge)
    below = fa.make("coupling", "ot", full_plan_max=119, plan_size=64).fit(src, tgt, bridge=bridge)
    assert at.full_plan_ is not None and below.full_plan_ is None


def test_minibatch_exact_ot_pairs_come_from_a_minibatch_plan():
    """With a planted permutation, each minibatch plan pairs a source item with its own target when both are drawn."""
    rng = np.random.default_rng(8)
    n = 60
    xs = rng.standard_normal((n, 5)).astype(np.float32)
    src, tgt = Latents.from_arrays(xs), Latents.from_arrays(xs.copy())
    bridge = fa.make("bridge", "euclidean").fit(src, tgt)
    coupling = fa.make("coupling", "ot", plan_size=n, full_plan_max=10).fit(src, tgt, bridge=bridge)
    assert coupling.full_plan_ is None
    i_src, i_tgt = coupling.sample(200, torch.Generator().manual_seed(6))
    # minibatch items are drawn with replacement, so not all pairs are i -> i, but many are
    assert float((i_src == i_tgt).double().mean()) > 0.3


# ------------------------------------------------------------ 7. errors and unbalanced mass


@pytest.mark.parametrize("name", ["ot", "sinkhorn", "unbalanced"])
def test_ot_couplings_need_a_bridge(same_space, name):
    src, tgt, _ = same_space
    with pytest.raises(ValueError) as info:
        fa.make("coupling", name).fit(src, tgt)
    message = str(info.value)
    for bridge in BUILTIN_BRIDGES:
        assert bridge in message
    for bridge in fa.plugins.get_registry("bridge").names():
        assert bridge in message


def test_exemplar_and_independent_need_no_bridge(exemplar_data):
    src, tgt = exemplar_data
    for name in ("exemplar", "independent"):
        coupling = fa.make("coupling", name)
        assert coupling.fit(src, tgt) is coupling and coupling.bridge_ is None
        i_src, i_tgt = coupling.sample(500, torch.Generator().manual_seed(0))
        assert int(i_src.max()) < src.n and int(i_tgt.max()) < tgt.n
        if name == "exemplar":  # without any bridge, pairs still share their (known) class
            assert torch.equal(src.labels[i_src], tgt.labels[i_tgt]) and bool((src.labels[i_src] >= 0).all())
        else:  # and the independent coupling really ignores classes
            assert float((src.labels[i_src] == tgt.labels[i_tgt]).double().mean()) < 0.6


def test_unbalanced_loses_mass_and_plan_is_normalised(same_space):
    src, tgt, bridge = same_space
    coupling = fa.make("coupling", "unbalanced", reg=0.1, reg_m=0.05).fit(src, tgt, bridge=bridge)
    i_src, i_tgt = torch.arange(src.n), torch.arange(tgt.n)
    raw = coupling.solve(i_src, i_tgt)
    assert float(raw.sum()) < 0.9
    assert float(coupling.full_plan_.sum()) == pytest.approx(1.0, abs=1e-9)
    assert torch.allclose(coupling.full_plan_, raw / raw.sum(), rtol=0, atol=1e-12)
    # with a large reg_m the marginals are (nearly) kept
    loose = fa.make("coupling", "unbalanced", reg=0.1, reg_m=1000.0).fit(src, tgt, bridge=bridge)
    assert float(loose.solve(i_src, i_tgt).sum()) == pytest.approx(1.0, abs=0.02)


class NanBridge(Bridge):
    """A bridge whose cost is NaN everywhere, so no solver can produce a plan with mass."""

    needs_labels = False

    def _raw_cost(self, i_src, i_tgt):
        return torch.full((len(i_src), len(i_tgt)), float("nan"), dtype=torch.float64)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["ot", "sinkhorn", "unbalanced"])
def test_plan_without_mass_raises(name):
    rng = np.random.default_rng(9)
    src, tgt = Latents.from_arrays(rng.standard_normal((20, 3))), Latents.from_arrays(rng.standard_normal((25, 3)))
    bridge = NanBridge().fit(src, tgt)
    with pytest.raises(FloatingPointError, match="total mass"):
        fa.make("coupling", name).fit(src, tgt, bridge=bridge)


def test_sample_from_plan_follows_the_plan():
    plan = torch.tensor([[0.10, 0.00, 0.20, 0.05], [0.00, 0.30, 0.00, 0.00], [0.05, 0.05, 0.00, 0.25]], dtype=torch.float64)
    rows, cols = sample_from_plan(plan, 40_000, torch.Generator().manual_seed(10))
    assert rows.shape == cols.shape == (40_000,)
    counts = torch.zeros(3, 4, dtype=torch.float64).index_put_((rows, cols), torch.ones(40_000, dtype=torch.float64), accumulate=True)
    assert (counts[plan == 0] == 0).all()
    observed, expected = counts[plan > 0].numpy(), 40_000 * plan[plan > 0].numpy()
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # an unnormalised float32 plan gives the same distribution
    rows2, cols2 = sample_from_plan((plan * 7).float(), 40_000, torch.Generator().manual_seed(10))
    assert (plan[rows2, cols2] > 0).all()


def test_unknown_coupling_and_option_errors():
    with pytest.raises(KeyError, match="exemplar"):
        fa.make("coupling", "no_such_coupling")
    with pytest.raises(ValueError, match="bogus"):
        fa.make("coupling", "ot", bogus=1)


def test_label_aware_coupling_rejects_different_class_lists():
    src = Latents.from_arrays(np.zeros((4, 2)), [0, 1, 2, 0])
    tgt = Latents.from_arrays(np.zeros((4, 2)), [0, 1, 1, 0])
    with pytest.raises(ValueError, match=r"source classes \[0, 1, 2\] differ from target classes \[0, 1\]"):
        fa.make("coupling", "exemplar").fit(src, tgt)


# ------------------------------------------------------------ plan size: tied to the training batch (issue 17)


def test_plan_size_follows_the_training_batch_and_square_plans_are_optimal_assignments():
    """plan_size=None: each sample(B) solves a B x B plan; its B pairs are the optimal assignment of the drawn items."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(11)
    src = Latents.from_arrays(rng.standard_normal((300, 3)).astype(np.float32))
    tgt = Latents.from_arrays(rng.standard_normal((300, 3)).astype(np.float32))
    bridge = fa.make("bridge", "euclidean").fit(src, tgt)
    coupling = fa.make("coupling", "ot", full_plan_max=10).fit(src, tgt, bridge=bridge)
    assert coupling.plan_size is None
    for batch in (37, 64):
        g = torch.Generator().manual_seed(batch)
        i_src, i_tgt = coupling.sample(batch, g)
        g = torch.Generator().manual_seed(batch)  # the items the coupling drew
        drawn_src, drawn_tgt = torch.randint(300, (batch,), generator=g), torch.randint(300, (batch,), generator=g)
        # each drawn item used once: the pairs are a permutation of the drawn minibatch
        assert torch.equal(i_src, drawn_src) and torch.equal(torch.sort(i_tgt).values, torch.sort(drawn_tgt).values)
        cost = torch.cdist(src.x[drawn_src].double(), tgt.x[drawn_tgt].double()) ** 2
        rows, cols = linear_sum_assignment(cost.numpy())
        optimum = cost.numpy()[rows, cols].sum()
        paired = ((src.x[i_src].double() - tgt.x[i_tgt].double()) ** 2).sum()
        assert float(paired) == pytest.approx(optimum, rel=1e-9)  # the bridge's cost is a rescaled one: same optimum


def test_plan_size_set_keeps_its_own_minibatch():
    rng = np.random.default_rng(12)
    src = Latents.from_arrays(rng.standard_normal((200, 2)).astype(np.float32))
    tgt = Latents.from_arrays(rng.standard_normal((200, 2)).astype(np.float32))
    bridge = fa.make("bridge", "euclidean").fit(src, tgt)
    coupling = fa.make("coupling", "ot", plan_size=50, full_plan_max=10).fit(src, tgt, bridge=bridge)
    seen = []
    original = coupling.plan
    coupling.plan = lambda i, j: seen.append((len(i), len(j))) or original(i, j)
    i_src, _ = coupling.sample(120, torch.Generator().manual_seed(0))
    assert seen == [(50, 50)] and len(i_src) == 120 and len(set(i_src.tolist())) <= 50


def test_coupling_batch_size_is_deprecated_for_plan_size():
    with pytest.warns(FutureWarning, match=r"batch_size is now called plan_size"):
        coupling = fa.make("coupling", "sinkhorn", batch_size=64)
    assert coupling.plan_size == 64
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match=r"plan_size=32 and its old name batch_size=64 disagree"):
        fa.make("coupling", "ot", plan_size=32, batch_size=64)
    with pytest.raises(ValueError, match=r"plan_size=0 is not allowed; it must be an integer >= 1"):
        fa.make("coupling", "ot", plan_size=0)

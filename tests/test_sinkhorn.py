"""The CPU Sinkhorn loop runs POT's iterates: its plans are ``ot.sinkhorn``'s, bit for bit."""

import warnings

import numpy as np
import ot
import pytest

from flowalign_nb.transport.sinkhorn import NOT_CONVERGED, sinkhorn_knopp


def problem(n, m, seed, spread=1.0, uniform=True):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 2)), spread * rng.normal(size=(m, 2)) + 1.0
    cost = ot.dist(x, y)
    cost /= cost.mean()
    a = np.full(n, 1.0 / n) if uniform else (rng.random(n) + 0.1)
    return a / a.sum(), np.full(m, 1.0 / m), cost


def messages(caught):
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def run(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, messages(caught)


@pytest.mark.parametrize("n, m, reg, uniform", [(512, 512, 0.05, True), (300, 200, 0.05, False), (100, 100, 0.01, True), (50, 80, 1.0, False)])
def test_plan_equals_pot_at_its_defaults(n, m, reg, uniform):
    a, b, cost = problem(n, m, seed=n + m, spread=2.0, uniform=uniform)
    expected, pot_warnings = run(ot.sinkhorn, a, b, cost, reg)
    plan, ours = run(sinkhorn_knopp, a, b, cost, reg)
    np.testing.assert_array_equal(plan, expected)
    assert ours == pot_warnings == []
    assert np.linalg.norm(plan.sum(0) - b) < 1e-9  # the stopping rule held: the column marginal within stopThr (L2)


def test_looser_threshold_stops_where_pot_stops():
    a, b, cost = problem(200, 200, seed=1)
    expected = ot.sinkhorn(a, b, cost, 0.05, stopThr=1e-3)
    np.testing.assert_array_equal(sinkhorn_knopp(a, b, cost, 0.05, stop_thr=1e-3), expected)
    assert np.abs(expected - ot.sinkhorn(a, b, cost, 0.05)).sum() > 1e-6  # an earlier stop, not the converged plan


def test_too_few_iterations_warn_as_pot_does():
    a, b, cost = problem(100, 100, seed=2)
    expected, pot_warnings = run(ot.sinkhorn, a, b, cost, 0.01, numItermax=15)
    plan, ours = run(sinkhorn_knopp, a, b, cost, 0.01, num_iter_max=15)
    np.testing.assert_array_equal(plan, expected)
    assert ours == pot_warnings == [NOT_CONVERGED]


def test_numerical_failure_returns_pots_result_and_warning():
    """A kernel that underflows (cost / reg ~ 1e5) fails at iteration 0: POT's own answer, POT's warning."""
    rng = np.random.default_rng(3)
    cost = ot.dist(30 * rng.normal(size=(64, 2)), rng.normal(size=(64, 2)))
    a = b = np.full(64, 1 / 64)
    with np.errstate(all="ignore"):
        expected, pot_warnings = run(ot.sinkhorn, a, b, cost, 1e-3)
        plan, ours = run(sinkhorn_knopp, a, b, cost, 1e-3)
    np.testing.assert_array_equal(plan, expected)
    assert any("numerical errors" in w for w in pot_warnings)
    assert ours == pot_warnings

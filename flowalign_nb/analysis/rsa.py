"""Representational similarity analysis on rsatoolbox: RDM comparison, bootstrap over stimuli, noise ceiling.

The comparisons, the pattern bootstrap and the noise ceiling are rsatoolbox's
(:func:`rsatoolbox.rdm.compare`, ``RDMs.subsample_pattern``, :func:`rsatoolbox.inference.boot_noise_ceiling`);
this module matches stimuli across inputs, seeds the bootstrap without touching numpy's global
generator, and returns tidy tables and xarray.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from rsatoolbox.inference import boot_noise_ceiling
from rsatoolbox.rdm import RDMs
from rsatoolbox.rdm import compare as compare_rdms

from .inputs import check_choice, check_int, check_level, renamed_keywords, shared_stimuli
from .rdms import RDM_METHODS, collect, stack, to_xarray

#: our comparison names -> rsatoolbox's
COMPARE_METHODS = {"spearman": "spearman", "tau-a": "tau-a", "pearson": "corr", "cosine": "cosine"}
MIN_STIMULI = 3
#: fewest stimuli with a bootstrap CI: a resample of N stimuli holds N (1 - (1 - 1/N)^N) distinct ones on
#: average (3.4 of 5), and with 5 or 6 stimuli the 95 % interval spans [-1, 1] / [-0.83, 0.83] whatever
#: the data (measured on related data; 8 stimuli gave [0.19, 0.97]), so it says nothing
MIN_CI_STIMULI = 8


@dataclass(frozen=True)
class RSAResult:
    """What :func:`rsa` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row: ``metric`` (the comparison), ``value``, ``ci_low``, ``ci_high``, ``ci_level``,
        ``noise_ceiling_lower``, ``noise_ceiling_upper`` (NaN unless ``b`` has several RDMs),
        ``rdm_method_a``, ``rdm_method_b``, ``n_stimuli``, ``n_rdms_a``, ``n_rdms_b``,
        ``n_bootstrap`` (bootstrap samples with a value) and ``note`` (why there is no CI, or "").
    rdm_a, rdm_b : xarray.DataArray, dims ("rdm", "stimulus_a", "stimulus_b")
        The RDMs compared, over the shared stimuli.
    values : xarray.DataArray, dims ("rdm_a", "rdm_b")
        The comparison of every RDM of ``a`` with every RDM of ``b``; ``value`` is their mean.
    bootstrap : numpy.ndarray, shape (bootstrap,), or (0,) without a CI
        ``value`` on each stimulus bootstrap sample (NaN for samples with fewer than 3 distinct stimuli).
    """

    table: pd.DataFrame
    rdm_a: xr.DataArray
    rdm_b: xr.DataArray
    values: xr.DataArray
    bootstrap: np.ndarray


def rsa(a, b, rdm_method: str = "correlation", method: str = "spearman", bootstrap: int = 1000,
        seed: int = 0, ci: float = 0.95, noise: str | None = None, **deprecated) -> RSAResult:
    """Compare the representational geometry of ``a`` and ``b`` over their shared stimuli.

    ``b`` is the reference (for example the brain data): when it holds several RDMs (subjects,
    sessions or repetitions), the noise ceiling is computed on them.

    Parameters
    ----------
    a, b
        Each a representation (DataArray (n_stimuli, n_neuroids)), an RDM (DataArray from
        :func:`flowalign_nb.rdm`), an rsatoolbox ``RDMs`` with a ``stimulus_id`` pattern descriptor,
        or a list of these (several RDMs; an element that is itself a list holds the repetitions of
        one subject, as crossnobis needs). Stimuli are matched by ``stimulus_id``; the stimuli
        present in every RDM of both sides are used, in the order of the first RDM of ``a``.
    rdm_method : {"correlation", "euclidean", "crossnobis"}
        How RDMs are computed from representations (see :func:`flowalign_nb.rdm`); given RDMs are
        used as they are.
    method : {"spearman", "tau-a", "pearson", "cosine"}
        RDM comparison (the ``method`` of :func:`rsatoolbox.rdm.compare`; formerly ``compare=``, which
        still works for one release with a ``FutureWarning``) of the upper-triangle dissimilarity vectors :math:`u, v`: Spearman's
        :math:`\\rho` (Pearson correlation of ranks), Kendall's
        :math:`\\tau_a = (n_c - n_d) / \\binom{n}{2}`, Pearson :math:`r`, or
        :math:`\\cos(u, v) = u^\\top v / (\\lVert u \\rVert \\lVert v \\rVert)`.
    bootstrap : int
        Bootstrap samples over stimuli (0: no confidence interval; none either, with a ``note``
        saying so, for fewer than :data:`MIN_CI_STIMULI` = 8 shared stimuli, such as 5 class
        means, where the interval would span almost [-1, 1] whatever the data). Sample :math:`s` draws the
        stimuli with replacement, subsamples every RDM with ``RDMs.subsample_pattern`` (pairs of a
        stimulus with its own copy are left out) and recomputes ``value``; these are the draws of
        :func:`rsatoolbox.inference.eval_bootstrap_pattern` after ``numpy.random.seed(seed)``,
        taken from a private ``numpy.random.RandomState(seed)``.
    seed : int
    ci : float in (0, 1)
        Level of the percentile interval of the bootstrap values.
    noise : str or None
        Crossnobis noise precision (see :func:`flowalign_nb.rdm`).

    Returns
    -------
    RSAResult
        ``value`` :math:`= \\frac{1}{K L} \\sum_{k, l} \\mathrm{compare}(a_k, b_l)`. With
        :math:`L \\ge 2` RDMs in ``b``, the noise ceiling of
        :func:`rsatoolbox.inference.boot_noise_ceiling`: lower
        :math:`= \\frac1L \\sum_l \\mathrm{compare}(\\bar b_{\\neg l}, b_l)`, upper
        :math:`= \\frac1L \\sum_l \\mathrm{compare}(\\bar b, b_l)`, where :math:`\\bar b` pools
        RDMs as the comparison implies (ranks for spearman, ...).

    Raises
    ------
    ValueError
        For an unknown ``rdm_method``/``method``, a negative ``bootstrap`` or ``ci`` outside (0, 1).
    NotApplicableError
        When fewer than 3 stimuli are shared by every RDM.
    """
    method = renamed_keywords("fa.rsa", deprecated, compare=("method", method, "spearman")).get("method", method)
    check_choice("rdm_method", rdm_method, RDM_METHODS)
    check_choice("method", method, tuple(COMPARE_METHODS))
    bootstrap = check_int("bootstrap", bootstrap, 0)
    seed = check_int("seed", seed, 0)
    ci = check_level("ci", ci)
    side_a = collect(a, rdm_method, noise, "a")
    side_b = collect(b, rdm_method, noise, "b")
    ids = np.asarray(side_a[0].pattern_descriptors["stimulus_id"])
    for r in side_a[1:] + side_b:
        ids = shared_stimuli(ids, r.pattern_descriptors["stimulus_id"], MIN_STIMULI, "RSA")
    rdms_a, rdms_b = stack(side_a, ids), stack(side_b, ids)
    toolbox_method = COMPARE_METHODS[method]
    pairwise = compare_rdms(rdms_a, rdms_b, method=toolbox_method)
    note = ""
    if bootstrap and len(ids) < MIN_CI_STIMULI:
        distinct = len(ids) * (1 - (1 - 1 / len(ids)) ** len(ids))
        note = (f"no bootstrap CI: {len(ids)} stimuli are too few (at least {MIN_CI_STIMULI} are needed; "
                f"a resample of {len(ids)} holds about {distinct:.1f} distinct ones)")
        bootstrap = 0
    boot = bootstrap_values(rdms_a, rdms_b, toolbox_method, bootstrap, seed)
    ok = boot[np.isfinite(boot)]
    low, high = (np.percentile(ok, [50 * (1 - ci), 50 * (1 + ci)]) if len(ok) else (np.nan, np.nan))
    lower, upper = boot_noise_ceiling(rdms_b, method=toolbox_method) if rdms_b.n_rdm > 1 else (np.nan, np.nan)
    table = pd.DataFrame([{
        "metric": method, "value": float(pairwise.mean()), "ci_low": float(low), "ci_high": float(high),
        "ci_level": ci, "noise_ceiling_lower": float(lower), "noise_ceiling_upper": float(upper),
        "rdm_method_a": rdms_a.dissimilarity_measure, "rdm_method_b": rdms_b.dissimilarity_measure,
        "n_stimuli": len(ids), "n_rdms_a": rdms_a.n_rdm, "n_rdms_b": rdms_b.n_rdm, "n_bootstrap": len(ok), "note": note,
    }])
    values = xr.DataArray(pairwise, dims=("rdm_a", "rdm_b"), attrs={"method": method})
    return RSAResult(table, to_xarray(rdms_a), to_xarray(rdms_b), values, boot)


def bootstrap_values(rdms_a: RDMs, rdms_b: RDMs, method: str, n: int, seed: int) -> np.ndarray:
    """Mean comparison of ``rdms_a`` with ``rdms_b`` on ``n`` bootstrap samples of their stimuli.

    Mirrors :func:`rsatoolbox.inference.eval_bootstrap_pattern` (``pattern_descriptor="index"``)
    with a private ``RandomState(seed)``: sample :math:`s` draws indices
    :math:`i_1..i_N \\sim U\\{0..N-1\\}`, subsamples both sides at them and takes the mean of
    :func:`rsatoolbox.rdm.compare`; a sample with fewer than 3 distinct stimuli is NaN.

    Parameters
    ----------
    rdms_a, rdms_b : rsatoolbox.rdm.RDMs over the same N stimuli in the same order
    method : str
        rsatoolbox comparison name.

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    state = np.random.RandomState(seed)
    out = np.full(n, np.nan)
    for s in range(n):
        index = state.randint(0, rdms_b.n_cond, size=rdms_b.n_cond)
        if len(np.unique(index)) >= MIN_STIMULI:
            out[s] = np.mean(compare_rdms(rdms_a.subsample_pattern("index", index),
                                          rdms_b.subsample_pattern("index", index), method=method))
    return out

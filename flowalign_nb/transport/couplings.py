"""Couplings: which source item is paired with which target item to train a flow.

Protocol (see :class:`Coupling`): ``fit(src, tgt, bridge=None) -> self``;
``plan(i_src, i_tgt) -> Tensor[len(i_src), len(i_tgt)]``, the transport plan among those items with
mass summing to 1; ``sample(batch_size, generator) -> (i_src, i_tgt)``, index pairs drawn from it.

Built-ins (registered through :func:`flowalign_register_couplings`, like any plugin):

``exemplar``
    Paper setting 2: draw a class in proportion to its labelled source items, then one labelled
    source and one labelled target item of that class. No cost matrix; memory O(n_labelled + batch).
``ot`` / ``sinkhorn`` / ``unbalanced``
    Paper setting 1: exact (``ot.emd``), entropic (``ot.sinkhorn``) or KL-relaxed unbalanced
    (``ot.unbalanced.sinkhorn_unbalanced``) plans on a bridge cost.
``gw``
    Gromov-Wasserstein between each space's own squared distances (needs no bridge; with a bridge,
    fused GW with weight ``alpha`` on the structure term).
``independent``
    Uniform random pairs: the baseline that ignores correspondence.

**Class blocks.** ``ot``, ``sinkhorn`` and ``unbalanced`` take ``blocks=True``: minibatches are
drawn class-balanced and solved as a sum of small per-class problems (:mod:`flowalign_nb.transport.blocks`);
``device`` runs the entropic solvers on the GPU, on torch tensors (no NumPy round trip).

**Full plan or minibatches.** The OT couplings solve one plan on all items when both spaces have at
most ``full_plan_max`` items (default 2,048 for the linear solvers, 512 for ``gw``: a float64 plan of
2,048 x 2,048 is 32 MB and ``ot.emd`` solves it in about 2 s on 2 CPU cores) and sample every batch
from it; larger sets get a fresh plan per minibatch of ``plan_size`` random source and target items
per side (for ``gw``, conditioned on one anchor plan so that all minibatches follow one symmetry). ``plan_size=None`` (default) ties the minibatch plan to the training batch: each call
``sample(batch_size, ...)`` solves a ``batch_size x batch_size`` plan. (``batch_size`` as a coupling
option is the old name of ``plan_size``; it still works, with a ``FutureWarning``, for one release.)

**Square uniform plans are assignments.** An exact plan between ``n`` and ``n`` items with uniform
weights is, by Birkhoff's theorem, a permutation matrix scaled by ``1 / n`` (``ot.emd`` returns one).
When the minibatch plan of ``ot`` has exactly the training batch's size (the default), its ``n``
assigned pairs are the batch itself: every drawn item is used once (no resampling from the plan).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import ot
import torch

from .boundary import FitBoundary, check_fitted
from .bridges import Bridge
from ..data.model import Latents
from ..hookspecs import hookimpl
from .resources import check_memory
from .sinkhorn import sinkhorn_knopp


@dataclass
class TrainingPlan:
    """A plan that training samples pairs from, among some of its items (what diagnostics show).

    Attributes
    ----------
    i_src : LongTensor, shape (n,)
    i_tgt : LongTensor, shape (m,)
        Item indices into the source / target space (a minibatch may hold an item twice).
    plan : Tensor, shape (n, m), float64, on the CPU
        ``pi[i_src][:, i_tgt] / mass``: the plan restricted to these items, renormalised to sum 1
        (all zeros when ``mass`` is 0).
    mass : float
        The plan's mass among these items before renormalising (1 for a whole minibatch plan).
    kind : {"full plan", "training minibatch", "coupling plan"}
        ``"full plan"``: the restriction of the one plan every batch is drawn from;
        ``"training minibatch"``: the plan of the last minibatch training drew pairs from;
        ``"coupling plan"``: ``coupling.plan`` among random items (a coupling that does not say
        how it relates to what training samples).
    description : str
        One line saying which plan this is, for figures and ``results.nc``.
    """

    i_src: torch.Tensor
    i_tgt: torch.Tensor
    plan: torch.Tensor
    mass: float
    kind: str
    description: str


def restricted(plan: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``(pi[rows][:, cols] / m, m)`` with ``m`` the mass of ``pi`` on those rows and columns, float64 on the CPU."""
    sub = plan[rows.to(plan.device)][:, cols.to(plan.device)].to(torch.float64).cpu()
    mass = float(sub.sum())
    return (sub / mass if mass > 0 else sub), mass


def random_items(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``min(n, size)`` distinct random indices in ``range(n)``, sorted."""
    return torch.sort(torch.randperm(n, generator=generator)[:size]).values


class Coupling(FitBoundary, ABC):
    """Base class of couplings; see the module docstring for the protocol.

    A subclass overrides :meth:`plan` and :meth:`sample` (both required), optionally :meth:`_fit`
    (precompute what sampling needs) and ``__init__`` (its keyword options with defaults are what
    ``fa.make`` and the widgets offer); it sets ``needs_bridge`` / ``needs_labels`` when it needs
    a bridge cost / labelled items. It does not override :meth:`fit`.

    :meth:`fit` stores ``src_``, ``tgt_`` (:class:`~flowalign_nb.data.model.Latents`), ``bridge_`` (the
    fitted bridge or None) and ``standardisation_`` (see :class:`~flowalign_nb.transport.boundary.FitBoundary`),
    then calls :meth:`_fit`. Before ``fit``, ``plan`` and ``sample`` raise ``NotFittedError``.
    """

    needs_bridge = False
    needs_labels = False
    #: True when ``plan(i_src, i_tgt)`` is the restriction (renormalised) of the one plan ``sample`` draws from
    plan_is_restriction = False

    @property
    def fit_signature(self) -> str:
        """How to fit this coupling, for messages."""
        return "fit(src, tgt, bridge=fitted_bridge)" if self.needs_bridge else "fit(src, tgt)"

    def fit(self, src, tgt, bridge: Bridge | None = None) -> "Coupling":
        """Prepare to pair ``src`` and ``tgt`` items.

        Parameters
        ----------
        src, tgt : DataArray (n, d) or Latents
            Two representations (standardised as FlowAligner does) or two Latents (used as given).
        bridge : Bridge or None
            A bridge fitted on the same two spaces, when the coupling needs one.

        Returns
        -------
        self
        """
        need_labels = self.needs_labels or (bridge is not None and getattr(bridge, "needs_labels", True))
        src, tgt = self._fit_inputs(src, tgt, need_labels)
        if self.needs_labels and src.classes != tgt.classes:
            raise ValueError(f"source classes {src.classes} differ from target classes {tgt.classes}")
        if self.needs_bridge and bridge is None:
            from ..plugins import get_registry

            raise ValueError(
                f"coupling {type(self).__name__} needs a bridge cost between the two spaces; "
                f"pass bridge= one of: {', '.join(get_registry('bridge').names())}"
            )
        if isinstance(bridge, Bridge):
            _check_bridge_fits(bridge, src, tgt)
        self.src_, self.tgt_, self.bridge_ = src, tgt, bridge
        self._fit()
        return self

    def _fit(self) -> None:
        """Precompute what sampling needs."""

    @abstractmethod
    def plan(self, i_src: torch.Tensor, i_tgt: torch.Tensor) -> torch.Tensor:
        """Transport plan among the given items, shape (len(i_src), len(i_tgt)), summing to 1."""

    @abstractmethod
    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``batch_size`` pairs; returns LongTensors ``(i_src, i_tgt)`` of shape (batch_size,)."""

    def training_plan(self, size: int, generator: torch.Generator) -> TrainingPlan:
        """The plan training samples from, among up to ``size`` random items of each space.

        Here ``plan(i_src, i_tgt)`` among random items: ``kind="full plan"`` when
        :attr:`plan_is_restriction` says it is the restriction of what :meth:`sample` draws from,
        else ``kind="coupling plan"``. :class:`PlanCoupling` overrides it.
        """
        i_src, i_tgt = random_items(self.src_.n, size, generator), random_items(self.tgt_.n, size, generator)
        plan = self.plan(i_src, i_tgt).to(torch.float64).cpu()
        mass = float(plan.sum())
        if self.plan_is_restriction:
            return TrainingPlan(i_src, i_tgt, plan, mass, "full plan",
                                f"the full plan pairs are drawn from, restricted to {len(i_src)} x {len(i_tgt)} random items")
        return TrainingPlan(i_src, i_tgt, plan, mass, "coupling plan",
                            f"coupling.plan among {len(i_src)} x {len(i_tgt)} random items (this coupling does not say "
                            "whether training samples from it)")


def _check_bridge_fits(bridge: Bridge, src: Latents, tgt: Latents) -> None:
    """The bridge must be fitted on the items the coupling pairs (same stimulus ids, in order)."""
    check_fitted(bridge)
    for side, mine, its in (("source", src, bridge.src_), ("target", tgt, bridge.tgt_)):
        if not np.array_equal(np.asarray(mine.stimulus_id), np.asarray(its.stimulus_id)):
            raise ValueError(f"the bridge {type(bridge).__name__} was fitted on other {side} items ({its.n}) than the "
                             f"coupling is given ({mine.n}); fit both on the same src and tgt")


def sample_from_plan(plan: torch.Tensor, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch_size`` (row, column) pairs with probability proportional to ``plan``.

    Rows are drawn from the row marginal, then each row's column by inverse CDF: with
    ``F_ij = sum_{l <= j} pi_il``, ``j = min{j : F_ij > U F_im}``, ``U ~ U[0, 1)``, so column ``j``
    has probability ``pi_ij / sum_l pi_il`` and a zero-mass entry is never drawn. Only the drawn
    rows are copied (``batch_size x m``), so plans of any size can be sampled; for ``512 x 512``
    plans this is about 9x faster than ``torch.multinomial`` on each drawn row.
    """
    plan = plan.to(torch.float64)
    rows = torch.multinomial(plan.sum(1), batch_size, replacement=True, generator=generator)
    cdf = plan[rows].cumsum(1)
    u = torch.rand(batch_size, 1, generator=generator, dtype=torch.float64) * cdf[:, -1:]
    cols = torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_max(plan.shape[1] - 1)
    return rows, cols


class IndependentCoupling(Coupling):
    """Uniform independent pairs, ``pi = a b^T``: correspondence is ignored."""

    def plan(self, i_src, i_tgt):
        check_fitted(self)  # the plan reads nothing fitted, but the protocol holds for every coupling
        return torch.full((len(i_src), len(i_tgt)), 1.0 / (len(i_src) * len(i_tgt)), dtype=torch.float64)

    def sample(self, batch_size, generator):
        return (
            torch.randint(self.src_.n, (batch_size,), generator=generator),
            torch.randint(self.tgt_.n, (batch_size,), generator=generator),
        )


class ExemplarCoupling(Coupling):
    """Class-conditional pairing of labelled exemplars (paper setting 2).

    ``pi(x, y) = sum_k w_k U(X_k)(x) U(Y_k)(y)`` with ``X_k`` / ``Y_k`` the labelled source / target
    items of class ``k`` and ``w_k`` proportional to ``|X_k|``. Unlabelled items are never drawn and
    different classes are never paired. Sampling stores the labelled indices grouped by class
    (O(n_labelled)) and allocates O(batch_size): no cost matrix, nothing of size N x N or B x B.
    """

    needs_labels = True
    plan_is_restriction = True

    def _fit(self):
        self._src_index, self._src_offset, self._src_count = self._group(self.src_)
        self._tgt_index, self._tgt_offset, self._tgt_count = self._group(self.tgt_)
        usable = (self._src_count > 0) & (self._tgt_count > 0)
        if not usable.any():
            raise ValueError("coupling 'exemplar' found no class with labelled items in both spaces")
        self.class_weights_ = self._src_count.to(torch.float64) * usable

    @staticmethod
    def _group(lat: Latents):
        known = torch.nonzero(lat.labels >= 0).squeeze(1)
        order = torch.argsort(lat.labels[known], stable=True)
        index = known[order]
        count = torch.bincount(lat.labels[index], minlength=lat.n_classes)
        offset = torch.cumsum(count, 0) - count
        return index, offset, count

    def plan(self, i_src, i_tgt):
        ys, yt = self.src_.labels[i_src], self.tgt_.labels[i_tgt]
        same = (ys[:, None] == yt[None, :]) & (ys[:, None] >= 0)
        k = ys.clamp_min(0)
        weight = self.class_weights_[k][:, None] / (self._src_count[k][:, None] * self._tgt_count[yt.clamp_min(0)][None, :]).clamp_min(1)
        plan = torch.where(same, weight, torch.zeros((), dtype=torch.float64))
        total = plan.sum()
        return plan / total if total > 0 else plan

    def sample(self, batch_size, generator):
        k = torch.multinomial(self.class_weights_, batch_size, replacement=True, generator=generator)
        u = torch.rand(2, batch_size, generator=generator, dtype=torch.float64)
        i_src = self._src_index[self._src_offset[k] + (u[0] * self._src_count[k]).long()]
        i_tgt = self._tgt_index[self._tgt_offset[k] + (u[1] * self._tgt_count[k]).long()]
        return i_src, i_tgt


class PlanCoupling(Coupling):
    """Couplings that solve a transport plan with POT: one full plan, or one per minibatch.

    Parameters
    ----------
    plan_size : int or None
        Items per side of a minibatch plan; ``None``: the training batch of each ``sample`` call.
    full_plan_max : int
        Solve once on all items when both spaces have at most this many.
    blocks : bool
        Minibatch plans by class block (:mod:`flowalign_nb.transport.blocks`): each minibatch draws, for every
        source item, a target item of the same block (its label when labelled, else the nearest
        labelled class mean's), and one small plan is solved per block instead of one ``B x B``
        plan. Needs labelled items in both spaces; the full plan (small data) is unaffected.
    device : str, torch.device or None
        Where the entropic solvers run, on torch tensors (POT's torch backend for one plan; the
        batched solvers of :mod:`flowalign_nb.transport.blocks` for class blocks); ``None``/``"auto"``: CUDA
        when present. One-plan results come back to the CPU for sampling; class-blocked plans are
        sampled where they were solved (only the drawn indices come back). The exact solver always
        runs on the CPU.
    batch_size : int or None
        Deprecated name of ``plan_size`` (``FutureWarning``; removed in the next release).
    """

    default_full_plan_max = 2048
    #: old option names, still accepted with a FutureWarning (hidden from option listings)
    deprecated_options = ("batch_size",)
    #: float64 arrays of the plan's size alive while solving (cost, plan, solver temporaries)
    plan_copies = 4

    #: solver of :func:`flowalign_nb.transport.blocks.solve_blocks` used with ``blocks=True`` (None: not supported)
    block_solver: str | None = None

    def __init__(self, plan_size: int | None = None, full_plan_max: int | None = None, blocks: bool = False, device=None, *,
                 batch_size: int | None = None):
        self.plan_size = _plan_size(plan_size, batch_size)
        self.full_plan_max = _positive_int("full_plan_max", self.default_full_plan_max if full_plan_max is None else full_plan_max)
        if not isinstance(blocks, bool):
            raise ValueError(f"blocks={blocks!r} is not allowed; it must be True or False")
        if blocks and self.block_solver is None:
            raise ValueError(f"{type(self).__name__} has no class-blocked solver; use blocks=False")
        self.blocks, self.device = blocks, device

    @property
    def solve_device(self) -> torch.device:
        """Device of the entropic solvers: ``device``, or CUDA when present for ``None``/``"auto"``."""
        from ..devices import resolve_device

        return resolve_device(self.device)

    def _block_options(self) -> dict:
        """Keyword options of :func:`~flowalign_nb.transport.blocks.solve_blocks` for this coupling."""
        return {}

    def block_plan(self, i_src: torch.Tensor, i_tgt: torch.Tensor, counts: torch.Tensor):
        """Class-blocked plan of a balanced minibatch (see :mod:`flowalign_nb.transport.blocks`).

        Parameters
        ----------
        i_src, i_tgt : LongTensor, shape (B,)
            Items sorted by block, as :meth:`flowalign_nb.transport.blocks.BlockSampler.draw` returns them.
        counts : LongTensor, shape (n_blocks,)

        Returns
        -------
        flowalign_nb.transport.blocks.BlockPlan
        """
        from .blocks import solve_blocks

        return solve_blocks(self.bridge_.block_cost, i_src, i_tgt, counts, self.block_solver, device=self.solve_device, **self._block_options())

    def plan_bytes(self, n_src: int, n_tgt: int) -> float:
        """Estimated peak memory of one plan among ``n_src`` x ``n_tgt`` items."""
        return self.plan_copies * 8.0 * n_src * n_tgt

    @abstractmethod
    def solve(self, i_src: torch.Tensor, i_tgt: torch.Tensor) -> torch.Tensor:
        """POT's plan among the given items (unnormalised for unbalanced solvers)."""

    def plan(self, i_src, i_tgt):
        plan = self.solve(i_src, i_tgt)
        total = plan.sum()
        if not torch.isfinite(total) or total <= 0:
            raise FloatingPointError(
                f"{type(self).__name__} produced a plan with total mass {float(total)}; "
                "increase reg (or reg_m for unbalanced plans)"
            )
        return plan / total

    def training_plan(self, size, generator):
        """The restriction of ``full_plan_`` to up to ``size`` random items of each space; without a
        full plan, the plan of the last training minibatch (class-blocked ones included), restricted
        to up to ``size`` random positions of each side when the minibatch is larger.

        Raises
        ------
        ValueError
            Without a full plan, before :meth:`sample` has drawn a minibatch.
        """
        if self.full_plan_ is not None:
            i_src, i_tgt = random_items(self.src_.n, size, generator), random_items(self.tgt_.n, size, generator)
            plan, mass = restricted(self.full_plan_, i_src, i_tgt)
            whole = len(i_src) == self.src_.n and len(i_tgt) == self.tgt_.n
            where = "all items" if whole else f"restricted to {len(i_src)} x {len(i_tgt)} random items"
            return TrainingPlan(i_src, i_tgt, plan, mass, "full plan", f"the full plan every batch is drawn from, {where}")
        if self.last_minibatch_ is None:
            raise ValueError(f"{type(self).__name__} solves a plan per minibatch and has drawn none yet; "
                             "fit an aligner with it (or call sample) before asking for the plan training used")
        i_src, i_tgt, plan = self.last_minibatch_
        plan = plan.dense() if hasattr(plan, "dense") else plan
        rows, cols = random_items(len(i_src), size, generator), random_items(len(i_tgt), size, generator)
        plan, mass = restricted(plan, rows, cols)
        blocked = "class-blocked " if self.blocks else ""
        where = "" if len(rows) == len(i_src) and len(cols) == len(i_tgt) else f", restricted to {len(rows)} x {len(cols)} random positions"
        return TrainingPlan(i_src[rows.to(i_src.device)].cpu(), i_tgt[cols.to(i_tgt.device)].cpu(), plan, mass, "training minibatch",
                            f"the {blocked}plan of the last training minibatch ({len(i_src)} x {len(i_tgt)} items){where}")

    def _fit(self):
        self.full_plan_ = None
        #: (i_src, i_tgt, plan) of the last minibatch :meth:`sample` drew from (plan: Tensor or BlockPlan)
        self.last_minibatch_ = None
        name = type(self).__name__
        if max(self.src_.n, self.tgt_.n) <= self.full_plan_max:
            check_memory(self.plan_bytes(self.src_.n, self.tgt_.n), f"{name}: a full plan of {self.src_.n} x {self.tgt_.n} items",
                         "lower full_plan_max to use minibatch plans")
            self.full_plan_ = self.plan(torch.arange(self.src_.n), torch.arange(self.tgt_.n))
            return
        if self.blocks:
            from .blocks import BlockSampler, block_labels

            self.block_sampler_ = BlockSampler(block_labels(self.src_), block_labels(self.tgt_))
        self._checked_sizes = set()
        if self.plan_size is not None:
            self._check_plan_size(self.plan_size)

    def _check_plan_size(self, size: int) -> None:
        """Fail clearly when a minibatch plan of ``size`` items per side cannot be drawn or held."""
        if size in self._checked_sizes:
            return
        name, smaller = type(self).__name__, min(self.src_.n, self.tgt_.n)
        what = "plan_size" if self.plan_size is not None else "batch_size (the training batch, which plan_size=None follows)"
        if size > smaller:
            raise ValueError(
                f"{name}: {what}={size} exceeds the {smaller} items of the smaller space; "
                f"use plan_size <= {smaller}, or full_plan_max >= {max(self.src_.n, self.tgt_.n)} for one full plan"
            )
        check_memory(self.plan_bytes(size, size), f"{name}: minibatch plans of {size} x {size}", "lower plan_size")
        self._checked_sizes.add(size)

    def sample(self, batch_size, generator):
        if self.full_plan_ is not None:
            return sample_from_plan(self.full_plan_, batch_size, generator)
        size = batch_size if self.plan_size is None else self.plan_size
        self._check_plan_size(size)
        if self.blocks:
            i_src, i_tgt, counts = self.block_sampler_.draw(size, generator)
            plan = self.block_plan(i_src, i_tgt, counts)
            self.last_minibatch_ = (i_src, i_tgt, plan)
            rows, cols = plan.sample(batch_size, generator)
            return i_src[rows.cpu()], i_tgt[cols.cpu()]
        i_src = torch.randint(self.src_.n, (size,), generator=generator)
        i_tgt = torch.randint(self.tgt_.n, (size,), generator=generator)
        plan = self.plan(i_src, i_tgt)
        self.last_minibatch_ = (i_src, i_tgt, plan)
        if size == batch_size:
            pairs = self.batch_pairs(plan)
            if pairs is not None:
                return i_src[pairs[0]], i_tgt[pairs[1]]
        rows, cols = sample_from_plan(plan, batch_size, generator)
        return i_src[rows], i_tgt[cols]

    def batch_pairs(self, plan: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The pairs of a square minibatch ``plan`` when it is one pair per item (an assignment), else None
        (then pairs are drawn from it)."""
        return None


def _plan_size(plan_size, batch_size) -> int | None:
    """``plan_size``, or the deprecated coupling option ``batch_size`` (with a FutureWarning)."""
    if batch_size is None:
        return None if plan_size is None else _positive_int("plan_size", plan_size)
    warnings.warn(
        "the coupling option batch_size is now called plan_size (items per side of a minibatch plan; "
        "FlowAligner's batch_size is the pairs per training step); batch_size will be removed in the next release",
        FutureWarning, stacklevel=4,
    )
    if plan_size is not None and plan_size != batch_size:
        raise ValueError(f"plan_size={plan_size!r} and its old name batch_size={batch_size!r} disagree; give plan_size only")
    return _positive_int("batch_size", batch_size)


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name}={value!r} is not allowed; it must be a number > 0")
    return float(value)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= 1")
    return value


def uniform(n: int) -> torch.Tensor:
    """Uniform weights, shape (n,), float64."""
    return torch.full((n,), 1.0 / n, dtype=torch.float64)


def entropic_plan(solver, cost: torch.Tensor, device: torch.device, *args, **options) -> torch.Tensor:
    """``solver(a, b, cost, *args, **options)`` with uniform ``a, b``, on ``device``; the plan as a CPU tensor.

    (``SinkhornCoupling`` with ``method="sinkhorn"`` on the CPU uses
    :func:`~flowalign_nb.transport.sinkhorn.sinkhorn_knopp` instead.) On the CPU the inputs go to
    POT as numpy arrays: its numpy backend runs the same iterations as its torch backend (plans equal to 1e-15) with less overhead per iteration: on one thread, a
    512 x 512 plan of the 2-D tasks is 1.45-1.74x faster for ``ot.sinkhorn`` and 1.41-2.07x for
    ``ot.unbalanced.sinkhorn_unbalanced`` (``benchmarks/pot_backend.py``, ``benchmarks/pot_backend.md``).
    """
    a, b = uniform(cost.shape[0]), uniform(cost.shape[1])
    if device.type == "cpu":
        plan = solver(a.numpy(), b.numpy(), cost.detach().cpu().double().numpy(), *args, **options)
        return torch.from_numpy(np.ascontiguousarray(plan))
    return solver(a.to(device), b.to(device), cost.to(device), *args, **options).cpu()


class ExactOTCoupling(PlanCoupling):
    """Exact OT, ``pi = argmin_{pi in Pi(a, b)} <C, pi>``, by ``ot.emd`` on the bridge cost.

    Parameters
    ----------
    num_iter_max : int
        Network-simplex iterations; POT's default (1e5) stops short of optimal at n >= 1,000.
    blocks : bool
        Class-blocked minibatch plans (see :class:`PlanCoupling`); each block, square with uniform
        weights, is solved exactly as a linear assignment (:func:`flowalign_nb.transport.blocks.solve_blocks`).
    """

    needs_bridge = True
    block_solver = "emd"

    def __init__(self, plan_size: int | None = None, full_plan_max: int | None = None, num_iter_max: int = 10_000_000,
                 blocks: bool = False, *, batch_size: int | None = None):
        super().__init__(plan_size, full_plan_max, blocks=blocks, device="cpu", batch_size=batch_size)
        self.num_iter_max = _positive_int("num_iter_max", num_iter_max)

    def solve(self, i_src, i_tgt):
        cost = self.bridge_.cost(i_src, i_tgt)
        return ot.emd(uniform(len(i_src)), uniform(len(i_tgt)), cost, numItermax=self.num_iter_max)

    def batch_pairs(self, plan):
        """Positions ``(rows, sigma(rows))`` of the optimal assignment of a square minibatch.

        ``ot.emd``'s network simplex ends on a vertex of the transport polytope, and for ``n x n``
        uniform weights the vertices are the permutation matrices ``P_sigma / n`` (Birkhoff), so
        ``sigma(i) = argmax_j pi_ij``. (For 2-D minibatches of 512 it measured faster than
        ``scipy.optimize.linear_sum_assignment``: 79 ms vs 114 ms on one core.) Returns None when the
        plan is not a permutation (never for a vertex; kept as a guard).
        """
        cols = plan.argmax(1)
        rows = torch.arange(len(plan))
        if not torch.allclose(plan[rows, cols], torch.full_like(plan[:, 0], 1.0 / len(plan))):
            return None
        return rows, cols


class SinkhornCoupling(PlanCoupling):
    """Entropic OT, ``pi = argmin_{pi in Pi(a, b)} <C, pi> - reg H(pi)``, by ``ot.sinkhorn``.

    On the CPU with ``method="sinkhorn"`` a plan is solved by
    :func:`~flowalign_nb.transport.sinkhorn.sinkhorn_knopp`: POT's iterates and stopping rule,
    with fewer checks, so the plan is ``ot.sinkhorn``'s bit for bit (``benchmarks/sinkhorn_loop.py``).

    Parameters
    ----------
    reg : float
        Entropic regularisation (costs are mean-normalised by the bridge).
    method : str
        POT's Sinkhorn variant (``"sinkhorn"``, ``"sinkhorn_log"``, ``"sinkhorn_stabilized"``).
        Class-blocked plans are solved all blocks at once, by stabilised scaling with log-domain
        absorption, or with ``"sinkhorn_log"`` by POT's batched log-domain projection
        (:func:`flowalign_nb.transport.blocks.solve_blocks`).
    num_iter_max : int
    blocks, device : see :class:`PlanCoupling`
    tol : float
        Stopping tolerance: ``ot.sinkhorn``'s ``stopThr`` for a plan among all items or one minibatch,
        and for class-blocked plans the L2 marginal error of each block. The default is
        ``ot.sinkhorn``'s own ``stopThr``, so plans equal POT's at both defaults, blocked ones too
        (L1 < 1e-6 on normalised plans); ``tol >= 1e-6`` also switches to float32 kernels, faster
        and less exact (``benchmarks/blocked_tolerance.py``).
    """

    needs_bridge = True

    block_solver = "sinkhorn"

    def __init__(self, reg: float = 0.05, method: str = "sinkhorn", plan_size: int | None = None, full_plan_max: int | None = None, num_iter_max: int = 1000,
                 blocks: bool = False, device=None, tol: float = 1e-9, *, batch_size: int | None = None):
        super().__init__(plan_size, full_plan_max, blocks=blocks, device=device, batch_size=batch_size)
        self.tol = _positive("tol", tol)
        methods = ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "greenkhorn")
        if method not in methods:
            raise ValueError(f"method={method!r} is not allowed; choose one of {methods}")
        self.reg, self.method = _positive("reg", reg), method
        self.num_iter_max = _positive_int("num_iter_max", num_iter_max)

    def solve(self, i_src, i_tgt):
        cost, device = self.bridge_.cost(i_src, i_tgt), self.solve_device
        if device.type == "cpu" and self.method == "sinkhorn":  # POT's iterates with fewer checks (transport/sinkhorn.py)
            a, b = uniform(cost.shape[0]).numpy(), uniform(cost.shape[1]).numpy()
            return torch.from_numpy(sinkhorn_knopp(a, b, cost.numpy(), self.reg, self.num_iter_max, self.tol))
        return entropic_plan(ot.sinkhorn, cost, device, self.reg, method=self.method, numItermax=self.num_iter_max, stopThr=self.tol)

    def _block_options(self):
        return {"reg": self.reg, "num_iter_max": self.num_iter_max, "tol": self.tol, "log_domain": self.method == "sinkhorn_log"}


class UnbalancedCoupling(PlanCoupling):
    """Unbalanced entropic OT with KL-relaxed marginals, by ``ot.unbalanced.sinkhorn_unbalanced``.

    ``pi = argmin_{pi >= 0} <C, pi> - reg H(pi) + reg_m KL(pi 1 || a) + reg_m KL(pi^T 1 || b)``;
    items that fit poorly (outliers, classes missing from one space) lose mass. The plan is
    normalised to sum to 1 before pairs are drawn.

    Parameters
    ----------
    reg : float
    reg_m : float
        Marginal relaxation; large values approach balanced OT.
    num_iter_max : int
    blocks, device : see :class:`PlanCoupling` (class blocks are solved all at once by
        :func:`flowalign_nb.transport.blocks.batched_sinkhorn_stabilized`)
    tol : float
        Stopping tolerance of the class-blocked solver (L2 change of the row marginal between
        checks; plans among all items or one minibatch use POT's own ``stopThr``). The default makes
        blocked plans equal ``ot.unbalanced.sinkhorn_unbalanced``'s at
        both defaults (L1 < 1e-6 on normalised plans). Measured at B=1024 (10 classes, one CPU
        thread; ``benchmarks/blocked_tolerance.py``): 69 ms per minibatch, against 24 ms and L1
        2.4e-4 with ``tol=1e-4``.
    """

    needs_bridge = True

    block_solver = "unbalanced"

    def __init__(self, reg: float = 0.05, reg_m: float = 1.0, plan_size: int | None = None, full_plan_max: int | None = None, num_iter_max: int = 1000,
                 blocks: bool = False, device=None, tol: float = 1e-9, *, batch_size: int | None = None):
        super().__init__(plan_size, full_plan_max, blocks=blocks, device=device, batch_size=batch_size)
        self.tol = _positive("tol", tol)
        self.reg, self.reg_m = _positive("reg", reg), _positive("reg_m", reg_m)
        self.num_iter_max = _positive_int("num_iter_max", num_iter_max)

    def solve(self, i_src, i_tgt):
        return entropic_plan(ot.unbalanced.sinkhorn_unbalanced, self.bridge_.cost(i_src, i_tgt), self.solve_device,
                             self.reg, self.reg_m, numItermax=self.num_iter_max)

    def _block_options(self):
        return {"reg": self.reg, "reg_m": self.reg_m, "num_iter_max": self.num_iter_max, "tol": self.tol}


def squared_distances(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """``||x_i - y_j||^2`` in float64, shape (len(x), len(y)); ``y = x`` when None."""
    x = x.double()
    return ot.dist(x, x if y is None else y.double())


def mean_squared_distance(x: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """``mean_{ij} ||x_i - x_j||^2 = 2 sum_d var(x_d)`` (population variances), float64, in O(n d) memory.

    Parameters
    ----------
    x : Tensor, shape (n, d)
    chunk : int
        Rows summed at once (bounds memory for memory-mapped data).
    """
    n = len(x)
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    for start in range(0, n, chunk):
        total += x[start : start + chunk].double().sum(0)
    mean = total / n
    spread = torch.zeros((), dtype=torch.float64)
    for start in range(0, n, chunk):
        spread += ((x[start : start + chunk].double() - mean) ** 2).sum()
    return (2.0 * spread / n).clamp_min(1e-12)


def intra_cost(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances within one space divided by their maximum, float64, (n, n)."""
    c = squared_distances(x)
    return c / c.max().clamp_min(1e-12)


class GromovWassersteinCoupling(PlanCoupling):
    """Gromov-Wasserstein: match items so that distances within each space are preserved.

    ``pi = argmin_{pi in Pi(a, b)} sum_{ijkl} (C_src[i,k] - C_tgt[j,l])^2 pi_ij pi_kl`` with ``C`` the
    max-normalised squared distances of each space (``ot.gromov.gromov_wasserstein``; with
    ``reg > 0``, ``ot.gromov.entropic_gromov_wasserstein``). Given a bridge, fused GW adds
    ``(1 - alpha) <M, pi>`` with ``M`` the bridge cost and weighs the structure term by ``alpha``
    (``ot.gromov.fused_gromov_wasserstein``; with ``reg > 0``,
    ``ot.gromov.entropic_fused_gromov_wasserstein``).

    **Minibatches are conditioned on one anchor plan.** GW is defined only up to the isometries of
    the data, so independent minibatch plans may each pick another symmetry (a reflection, say) and
    the flow would learn their mixture. Above ``full_plan_max`` items, ``fit`` therefore solves one
    (fused) GW plan ``pi_A`` between ``full_plan_max`` anchor items drawn at random in each space
    (``seed``); since GW's solvers find local optima and ``pi_A`` decides every minibatch, it is the
    best (lowest objective, :func:`gw_objective`) of ``n_init`` starts: POT's default ``a b^T``,
    :func:`distance_profile_plan`, then random permutation plans. The anchors' intra-space costs
    are squared distances divided by the mean squared distance over all items of their space
    (:func:`mean_squared_distance`), not by the anchors' maximum: the maximum of a subsample is an
    extreme statistic and differs between the two spaces' subsamples, distorting their comparison.
    Every minibatch plan among source items ``x`` and target items ``y`` then solves the
    linear problem of one conditional-gradient step of (fused) GW at ``pi_A`` (the step POT's solvers
    iterate), ``argmin_{pi in Pi(a, b)} <G, pi> (- reg H(pi))`` with the gradient

        G_xy = 2 sum_{kl} (D_src[x, k] - D_tgt[y, l])^2 pi_A[k, l]     (no bridge)
        G_xy = (1 - alpha) M_xy + alpha * 2 sum_{kl} (...)^2 pi_A[k, l]  (with a bridge)

    ``D[x, k]``: squared distance of item ``x`` to anchor ``k`` of its space, normalised as the
    anchors' ``C``. Solved by ``ot.emd`` (``reg = 0``) or ``ot.sinkhorn`` (``reg > 0``). Every
    minibatch follows the symmetry ``pi_A`` chose, and :meth:`plan` returns these plans too.

    Parameters
    ----------
    reg : float
        Entropic regularisation; 0 for the non-entropic solvers.
    alpha : float
        Weight of the structure term in fused GW (used only with a bridge).
    plan_size : int or None
        Items per side of a minibatch plan (None: the training batch, as for every plan coupling).
    full_plan_max : int
        The number of items up to which one plan on all items is solved, and the number of anchor
        items per space above it.
    seed : int
        Draw of the anchor items and of the random starts.
    n_init : int
        Starts of the anchor plan's solver (1: POT's default start only).
    epsilon : float or None
        Deprecated name of ``reg`` (FutureWarning).
    batch_size : int or None
        Deprecated name of ``plan_size`` (FutureWarning).

    Attributes
    ----------
    anchor_src_, anchor_tgt_ : LongTensor, shape (n_anchors,) or None
        Anchor items of each space (None when one full plan is solved).
    anchor_plan_ : Tensor, shape (n_anchors_src, n_anchors_tgt) or None
        Their GW plan, summing to 1.
    """

    default_full_plan_max = 512
    deprecated_options = ("batch_size", "epsilon")
    plan_copies = 8  # two intra-space cost matrices, the plan, its gradient and the line search

    def __init__(self, reg: float = 0.0, alpha: float = 0.5, plan_size: int | None = None, full_plan_max: int | None = None,
                 seed: int = 0, n_init: int = 6, *, epsilon: float | None = None, batch_size: int | None = None):
        super().__init__(plan_size, full_plan_max, batch_size=batch_size)
        self.n_init = _positive_int("n_init", n_init)
        if epsilon is not None:
            if reg != 0.0:
                raise ValueError(f"got reg={reg!r} and its deprecated name epsilon={epsilon!r}; pass reg only")
            warnings.warn("the 'gw' coupling's epsilon= is deprecated; use reg= (entropic regularisation is reg everywhere)",
                          FutureWarning, stacklevel=2)
            reg = epsilon
        if isinstance(reg, bool) or not (isinstance(reg, (int, float)) and reg >= 0):
            raise ValueError(f"reg={reg!r} is not allowed; it must be a number >= 0 (0: non-entropic GW)")
        if isinstance(alpha, bool) or not (isinstance(alpha, (int, float)) and 0 <= alpha <= 1):
            raise ValueError(f"alpha={alpha!r} is not allowed; it must be in [0, 1]")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed={seed!r} is not allowed; it must be an integer")
        self.reg, self.alpha, self.seed = float(reg), float(alpha), seed

    def _fit(self):
        self.anchor_src_ = self.anchor_tgt_ = self.anchor_plan_ = None
        super()._fit()
        if self.full_plan_ is not None:
            return
        generator = torch.Generator().manual_seed(self.seed)
        self.anchor_src_ = torch.randperm(self.src_.n, generator=generator)[: self.full_plan_max].sort().values
        self.anchor_tgt_ = torch.randperm(self.tgt_.n, generator=generator)[: self.full_plan_max].sort().values
        n_src, n_tgt = len(self.anchor_src_), len(self.anchor_tgt_)
        check_memory(self.plan_bytes(n_src, n_tgt), f"GromovWassersteinCoupling: an anchor plan of {n_src} x {n_tgt} items",
                     "lower full_plan_max (the number of anchors)")
        self.anchor_scale_ = (mean_squared_distance(self.src_.x), mean_squared_distance(self.tgt_.x))
        c_src = squared_distances(self.src_.x[self.anchor_src_]) / self.anchor_scale_[0]
        c_tgt = squared_distances(self.tgt_.x[self.anchor_tgt_]) / self.anchor_scale_[1]
        cost = None if self.bridge_ is None else self.bridge_.cost(self.anchor_src_, self.anchor_tgt_)
        inits = [None, distance_profile_plan(c_src, c_tgt)]
        inits += [permutation_plan(n_src, n_tgt, generator) for _ in range(self.n_init - 2)]
        starts = [self.gw_solve(c_src, c_tgt, cost, init=init) for init in inits[: self.n_init]]
        anchor_plan = min(starts, key=lambda plan: float(gw_objective(plan, c_src, c_tgt, cost, self.alpha)))
        self.anchor_plan_ = anchor_plan / anchor_plan.sum()

    def solve(self, i_src, i_tgt):
        if self.anchor_plan_ is None:
            cost = None if self.bridge_ is None else self.bridge_.cost(i_src, i_tgt)
            return self.gw_solve(intra_cost(self.src_.x[i_src]), intra_cost(self.tgt_.x[i_tgt]), cost)
        return self.conditioned_plan(i_src, i_tgt)

    def gw_solve(self, c_src: torch.Tensor, c_tgt: torch.Tensor, cost: torch.Tensor | None = None,
                 init: torch.Tensor | None = None) -> torch.Tensor:
        """POT's (fused with ``cost``, entropic with ``reg``) GW plan, uniform weights, shape (n, m).

        Parameters
        ----------
        c_src, c_tgt : Tensor, shapes (n, n) and (m, m)
            Intra-space costs.
        cost : Tensor, shape (n, m), or None
            Bridge cost (fused GW).
        init : Tensor, shape (n, m), or None
            The solver's starting plan (POT's ``G0``; None: POT's default, ``a b^T``).
        """
        a, b = uniform(len(c_src)), uniform(len(c_tgt))
        if cost is not None:
            if self.reg > 0:
                return ot.gromov.entropic_fused_gromov_wasserstein(cost, c_src, c_tgt, a, b, "square_loss", epsilon=self.reg,
                                                                   alpha=self.alpha, G0=init)
            return ot.gromov.fused_gromov_wasserstein(cost, c_src, c_tgt, a, b, "square_loss", alpha=self.alpha, G0=init)
        if self.reg > 0:
            return ot.gromov.entropic_gromov_wasserstein(c_src, c_tgt, a, b, "square_loss", epsilon=self.reg, G0=init)
        return ot.gromov.gromov_wasserstein(c_src, c_tgt, a, b, "square_loss", G0=init)

    def conditioned_gradient(self, i_src: torch.Tensor, i_tgt: torch.Tensor) -> torch.Tensor:
        """``G`` of the class docstring for the given items, shape (len(i_src), len(i_tgt)), float64.

        ``sum_kl (D_src[x,k] - D_tgt[y,l])^2 pi_A[k,l] = (D_src^2 p)_x + (D_tgt^2 q)_y - 2 (D_src pi_A D_tgt^T)_xy``
        with ``p, q`` the anchor plan's marginals: memory O((n + m) n_anchors), no 4-index tensor.
        """
        d_src = squared_distances(self.src_.x[i_src], self.src_.x[self.anchor_src_]) / self.anchor_scale_[0]
        d_tgt = squared_distances(self.tgt_.x[i_tgt], self.tgt_.x[self.anchor_tgt_]) / self.anchor_scale_[1]
        pi = self.anchor_plan_
        structure = (d_src**2 @ pi.sum(1))[:, None] + (d_tgt**2 @ pi.sum(0))[None, :] - 2.0 * (d_src @ pi) @ d_tgt.T
        gradient = 2.0 * structure
        if self.bridge_ is not None:
            gradient = (1.0 - self.alpha) * self.bridge_.cost(i_src, i_tgt) + self.alpha * gradient
        return gradient

    def conditioned_plan(self, i_src: torch.Tensor, i_tgt: torch.Tensor) -> torch.Tensor:
        """The minibatch plan conditioned on the anchor plan (class docstring), shape (len(i_src), len(i_tgt))."""
        gradient = self.conditioned_gradient(i_src, i_tgt)
        a, b = uniform(len(i_src)), uniform(len(i_tgt))
        if self.reg > 0:
            return ot.sinkhorn(a, b, gradient, self.reg)
        return ot.emd(a, b, gradient, numItermax=10_000_000)


def distance_profile_plan(c_src: torch.Tensor, c_tgt: torch.Tensor, n_quantiles: int = 50) -> torch.Tensor:
    """A starting plan for GW that matches items whose distance distributions look alike.

    Item ``i`` is described by ``n_quantiles`` quantiles of its row of ``C`` (its distances to all
    items of its own space, invariant to any isometry); the plan is the exact OT plan (``ot.emd``,
    uniform weights) for the squared L2 distance between these profiles, the quantile form of
    Memoli's third lower bound of GW.

    Parameters
    ----------
    c_src : Tensor, shape (n, n)
    c_tgt : Tensor, shape (m, m)
        Intra-space costs (:func:`intra_cost`).

    Returns
    -------
    Tensor, shape (n, m), float64, summing to 1
    """
    q = torch.linspace(0.0, 1.0, n_quantiles, dtype=torch.float64)
    profile_src, profile_tgt = torch.quantile(c_src.double(), q, dim=1).T, torch.quantile(c_tgt.double(), q, dim=1).T
    return ot.emd(uniform(len(c_src)), uniform(len(c_tgt)), ot.dist(profile_src, profile_tgt), numItermax=10_000_000)


def permutation_plan(n: int, m: int, generator: torch.Generator) -> torch.Tensor:
    """A random vertex of the transport polytope ``Pi(1/n, 1/m)``: ``ot.emd`` on uniform random costs.

    For ``n == m`` a random permutation matrix divided by ``n``.

    Returns
    -------
    Tensor, shape (n, m), float64
    """
    return ot.emd(uniform(n), uniform(m), torch.rand(n, m, generator=generator, dtype=torch.float64))


def gw_objective(plan: torch.Tensor, c_src: torch.Tensor, c_tgt: torch.Tensor, cost: torch.Tensor | None = None,
                 alpha: float = 0.5) -> torch.Tensor:
    """The (fused) GW objective of a plan (square loss), as POT's solvers minimise it.

    ``E(pi) = sum_{ijkl} (C_src[i,k] - C_tgt[j,l])^2 pi_ij pi_kl``; with a bridge cost ``M``,
    ``(1 - alpha) <M, pi> + alpha E(pi)``.

    Parameters
    ----------
    plan : Tensor, shape (n, m)
    c_src, c_tgt : Tensor, shapes (n, n) and (m, m)
    cost : Tensor, shape (n, m), or None
    alpha : float
        Used only with ``cost``.

    Returns
    -------
    Tensor, scalar
    """
    plan = plan.double()
    const, h_src, h_tgt = ot.gromov.init_matrix(c_src, c_tgt, plan.sum(1), plan.sum(0), "square_loss")
    structure = ot.gromov.gwloss(const, h_src, h_tgt, plan)
    if cost is None:
        return structure
    return (1.0 - alpha) * (cost * plan).sum() + alpha * structure


@hookimpl
def flowalign_register_couplings(registry):
    registry.add("exemplar", ExemplarCoupling, description="same-class labelled exemplar pairs; no cost matrix (paper setting 2)")
    registry.add("ot", ExactOTCoupling, description="exact OT plan (ot.emd) on a bridge cost (paper setting 1)")
    registry.add("sinkhorn", SinkhornCoupling, description="entropic OT plan (ot.sinkhorn) on a bridge cost")
    registry.add("unbalanced", UnbalancedCoupling, description="KL-relaxed unbalanced entropic OT on a bridge cost")
    registry.add("gw", GromovWassersteinCoupling, description="Gromov-Wasserstein on each space's own distances; fused with a bridge")
    registry.add("independent", IndependentCoupling, description="uniform independent pairs (baseline)")

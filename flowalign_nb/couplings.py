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
drawn class-balanced and solved as a sum of small per-class problems (:mod:`flowalign_nb.blocks`);
``device`` runs the entropic solvers on the GPU, on torch tensors (no NumPy round trip).

**Full plan or minibatches.** The OT couplings solve one plan on all items when both spaces have at
most ``full_plan_max`` items (default 2,048 for the linear solvers, 512 for ``gw``: a float64 plan of
2,048 x 2,048 is 32 MB and ``ot.emd`` solves it in about 2 s on 2 CPU cores) and sample every batch
from it; larger sets get a fresh plan per minibatch of ``batch_size`` random source and target items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import ot
import torch

from .bridges import Bridge
from .data import Latents
from .hookspecs import hookimpl
from .resources import check_memory


class Coupling(ABC):
    """Base class of couplings; see the module docstring for the protocol."""

    needs_bridge = False
    needs_labels = False

    def fit(self, src: Latents, tgt: Latents, bridge: Bridge | None = None) -> "Coupling":
        """Prepare to pair ``src`` and ``tgt`` items (``bridge``: a fitted bridge, when one is needed)."""
        if self.needs_labels and src.classes != tgt.classes:
            raise ValueError(f"source classes {src.classes} differ from target classes {tgt.classes}")
        if self.needs_bridge and bridge is None:
            from .plugins import get_registry

            raise ValueError(
                f"coupling {type(self).__name__} needs a bridge cost between the two spaces; "
                f"pass bridge= one of: {', '.join(get_registry('bridge').names())}"
            )
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


def sample_from_plan(plan: torch.Tensor, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch_size`` (row, column) pairs with probability proportional to ``plan``.

    Rows are drawn from the row marginal, then each row's column from that row of the plan, so no
    flattened copy of the plan is made and plans of any size can be sampled.
    """
    plan = plan.to(torch.float64)
    rows = torch.multinomial(plan.sum(1), batch_size, replacement=True, generator=generator)
    cols = torch.multinomial(plan[rows], 1, generator=generator).squeeze(1)
    return rows, cols


class IndependentCoupling(Coupling):
    """Uniform independent pairs, ``pi = a b^T``: correspondence is ignored."""

    def plan(self, i_src, i_tgt):
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
    batch_size : int
        Items per side of a minibatch plan.
    full_plan_max : int
        Solve once on all items when both spaces have at most this many.
    blocks : bool
        Minibatch plans by class block (:mod:`flowalign_nb.blocks`): each minibatch draws, for every
        source item, a target item of the same block (its label when labelled, else the nearest
        labelled class mean's), and one small plan is solved per block instead of one ``B x B``
        plan. Needs labelled items in both spaces; the full plan (small data) is unaffected.
    device : str, torch.device or None
        Where the entropic solvers run, on torch tensors (POT's torch backend for one plan; the
        batched solvers of :mod:`flowalign_nb.blocks` for class blocks); ``None``/``"auto"``: CUDA
        when present. One-plan results come back to the CPU for sampling; class-blocked plans are
        sampled where they were solved (only the drawn indices come back). The exact solver always
        runs on the CPU.
    """

    default_full_plan_max = 2048
    #: float64 arrays of the plan's size alive while solving (cost, plan, solver temporaries)
    plan_copies = 4

    #: solver of :func:`flowalign_nb.blocks.solve_blocks` used with ``blocks=True`` (None: not supported)
    block_solver: str | None = None

    def __init__(self, batch_size: int = 512, full_plan_max: int | None = None, blocks: bool = False, device=None):
        self.batch_size = _positive_int("batch_size", batch_size)
        self.full_plan_max = _positive_int("full_plan_max", self.default_full_plan_max if full_plan_max is None else full_plan_max)
        if not isinstance(blocks, bool):
            raise ValueError(f"blocks={blocks!r} is not allowed; it must be True or False")
        if blocks and self.block_solver is None:
            raise ValueError(f"{type(self).__name__} has no class-blocked solver; use blocks=False")
        self.blocks, self.device = blocks, device

    @property
    def solve_device(self) -> torch.device:
        """Device of the entropic solvers: ``device``, or CUDA when present for ``None``/``"auto"``."""
        from .aligner import resolve_device

        return resolve_device(self.device)

    def _block_options(self) -> dict:
        """Keyword options of :func:`~flowalign_nb.blocks.solve_blocks` for this coupling."""
        return {}

    def block_plan(self, i_src: torch.Tensor, i_tgt: torch.Tensor, counts: torch.Tensor):
        """Class-blocked plan of a balanced minibatch (see :mod:`flowalign_nb.blocks`).

        Parameters
        ----------
        i_src, i_tgt : LongTensor, shape (B,)
            Items sorted by block, as :meth:`flowalign_nb.blocks.BlockSampler.draw` returns them.
        counts : LongTensor, shape (n_blocks,)

        Returns
        -------
        flowalign_nb.blocks.BlockPlan
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

    def _fit(self):
        self.full_plan_ = None
        name = type(self).__name__
        if max(self.src_.n, self.tgt_.n) <= self.full_plan_max:
            check_memory(self.plan_bytes(self.src_.n, self.tgt_.n), f"{name}: a full plan of {self.src_.n} x {self.tgt_.n} items",
                         "lower full_plan_max to use minibatch plans")
            self.full_plan_ = self.plan(torch.arange(self.src_.n), torch.arange(self.tgt_.n))
            return
        if self.blocks:
            from .blocks import BlockSampler, block_labels

            self.block_sampler_ = BlockSampler(block_labels(self.src_), block_labels(self.tgt_))
        smaller = min(self.src_.n, self.tgt_.n)
        if self.batch_size > smaller:
            raise ValueError(
                f"{name}: batch_size={self.batch_size} exceeds the {smaller} items of the smaller space; "
                f"use batch_size <= {smaller}, or full_plan_max >= {max(self.src_.n, self.tgt_.n)} for one full plan"
            )
        check_memory(self.plan_bytes(self.batch_size, self.batch_size), f"{name}: minibatch plans of {self.batch_size} x {self.batch_size}",
                     "lower batch_size")

    def sample(self, batch_size, generator):
        if self.full_plan_ is not None:
            return sample_from_plan(self.full_plan_, batch_size, generator)
        if self.blocks:
            i_src, i_tgt, counts = self.block_sampler_.draw(self.batch_size, generator)
            rows, cols = self.block_plan(i_src, i_tgt, counts).sample(batch_size, generator)
            return i_src[rows.cpu()], i_tgt[cols.cpu()]
        i_src = torch.randint(self.src_.n, (self.batch_size,), generator=generator)
        i_tgt = torch.randint(self.tgt_.n, (self.batch_size,), generator=generator)
        rows, cols = sample_from_plan(self.plan(i_src, i_tgt), batch_size, generator)
        return i_src[rows], i_tgt[cols]


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


class ExactOTCoupling(PlanCoupling):
    """Exact OT, ``pi = argmin_{pi in Pi(a, b)} <C, pi>``, by ``ot.emd`` on the bridge cost.

    Parameters
    ----------
    num_iter_max : int
        Network-simplex iterations; POT's default (1e5) stops short of optimal at n >= 1,000.
    blocks : bool
        Class-blocked minibatch plans (see :class:`PlanCoupling`); each block, square with uniform
        weights, is solved exactly as a linear assignment (:func:`flowalign_nb.blocks.solve_blocks`).
    """

    needs_bridge = True
    block_solver = "emd"

    def __init__(self, batch_size: int = 512, full_plan_max: int | None = None, num_iter_max: int = 10_000_000,
                 blocks: bool = False):
        super().__init__(batch_size, full_plan_max, blocks=blocks, device="cpu")
        self.num_iter_max = _positive_int("num_iter_max", num_iter_max)

    def solve(self, i_src, i_tgt):
        cost = self.bridge_.cost(i_src, i_tgt)
        return ot.emd(uniform(len(i_src)), uniform(len(i_tgt)), cost, numItermax=self.num_iter_max)


class SinkhornCoupling(PlanCoupling):
    """Entropic OT, ``pi = argmin_{pi in Pi(a, b)} <C, pi> - reg H(pi)``, by ``ot.sinkhorn``.

    Parameters
    ----------
    reg : float
        Entropic regularisation (costs are mean-normalised by the bridge).
    method : str
        POT's Sinkhorn variant (``"sinkhorn"``, ``"sinkhorn_log"``, ``"sinkhorn_stabilized"``).
        Class-blocked plans are solved all blocks at once, by stabilised scaling with log-domain
        absorption, or with ``"sinkhorn_log"`` by POT's batched log-domain projection
        (:func:`flowalign_nb.blocks.solve_blocks`).
    num_iter_max : int
    blocks, device : see :class:`PlanCoupling`
    tol : float
        Stopping tolerance of the class-blocked solver on the L2 marginal error of each block. The
        default is ``ot.sinkhorn``'s ``stopThr``, so blocked plans equal POT's at both defaults
        (L1 < 1e-6 on normalised plans); ``tol >= 1e-6`` also switches to float32 kernels, faster
        and less exact (``benchmarks/blocked_tolerance.py``).
    """

    needs_bridge = True

    block_solver = "sinkhorn"

    def __init__(self, reg: float = 0.05, method: str = "sinkhorn", batch_size: int = 512, full_plan_max: int | None = None, num_iter_max: int = 1000,
                 blocks: bool = False, device=None, tol: float = 1e-9):
        super().__init__(batch_size, full_plan_max, blocks=blocks, device=device)
        self.tol = _positive("tol", tol)
        methods = ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "greenkhorn")
        if method not in methods:
            raise ValueError(f"method={method!r} is not allowed; choose one of {methods}")
        self.reg, self.method = _positive("reg", reg), method
        self.num_iter_max = _positive_int("num_iter_max", num_iter_max)

    def solve(self, i_src, i_tgt):
        dev = self.solve_device
        cost = self.bridge_.cost(i_src, i_tgt).to(dev)
        a, b = uniform(len(i_src)).to(dev), uniform(len(i_tgt)).to(dev)
        return ot.sinkhorn(a, b, cost, self.reg, method=self.method, numItermax=self.num_iter_max).cpu()

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
        :func:`flowalign_nb.blocks.batched_sinkhorn_stabilized`)
    tol : float
        Stopping tolerance of the class-blocked solver (L2 change of the row marginal between
        checks). The default makes blocked plans equal ``ot.unbalanced.sinkhorn_unbalanced``'s at
        both defaults (L1 < 1e-6 on normalised plans). Measured at B=1024 (10 classes, one CPU
        thread; ``benchmarks/blocked_tolerance.py``): 69 ms per minibatch, against 24 ms and L1
        2.4e-4 with ``tol=1e-4``.
    """

    needs_bridge = True

    block_solver = "unbalanced"

    def __init__(self, reg: float = 0.05, reg_m: float = 1.0, batch_size: int = 512, full_plan_max: int | None = None, num_iter_max: int = 1000,
                 blocks: bool = False, device=None, tol: float = 1e-9):
        super().__init__(batch_size, full_plan_max, blocks=blocks, device=device)
        self.tol = _positive("tol", tol)
        self.reg, self.reg_m = _positive("reg", reg), _positive("reg_m", reg_m)
        self.num_iter_max = _positive_int("num_iter_max", num_iter_max)

    def solve(self, i_src, i_tgt):
        dev = self.solve_device
        cost = self.bridge_.cost(i_src, i_tgt).to(dev)
        return ot.unbalanced.sinkhorn_unbalanced(
            uniform(len(i_src)).to(dev), uniform(len(i_tgt)).to(dev), cost, self.reg, self.reg_m, numItermax=self.num_iter_max
        ).cpu()

    def _block_options(self):
        return {"reg": self.reg, "reg_m": self.reg_m, "num_iter_max": self.num_iter_max, "tol": self.tol}


def intra_cost(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances within one space divided by their maximum, float64, (n, n)."""
    c = ot.dist(x.double(), x.double())
    return c / c.max().clamp_min(1e-12)


class GromovWassersteinCoupling(PlanCoupling):
    """Gromov-Wasserstein: match items so that distances within each space are preserved.

    ``pi = argmin_{pi in Pi(a, b)} sum_{ijkl} (C_src[i,k] - C_tgt[j,l])^2 pi_ij pi_kl`` with ``C`` the
    max-normalised squared distances of each space (``ot.gromov.gromov_wasserstein``; with
    ``epsilon > 0``, ``ot.gromov.entropic_gromov_wasserstein``). Given a bridge, fused GW
    (``ot.gromov.fused_gromov_wasserstein``) adds ``(1 - alpha) <M, pi>`` with ``M`` the bridge cost.

    Parameters
    ----------
    epsilon : float
        Entropic regularisation; 0 for the non-entropic solver.
    alpha : float
        Weight of the structure term in fused GW (used only with a bridge).
    """

    default_full_plan_max = 512
    plan_copies = 8  # two intra-space cost matrices, the plan, its gradient and the line search

    def __init__(self, epsilon: float = 0.0, alpha: float = 0.5, batch_size: int = 256, full_plan_max: int | None = None):
        super().__init__(batch_size, full_plan_max)
        if not (isinstance(epsilon, (int, float)) and epsilon >= 0):
            raise ValueError(f"epsilon={epsilon!r} is not allowed; it must be a number >= 0 (0: non-entropic GW)")
        if not (isinstance(alpha, (int, float)) and 0 <= alpha <= 1):
            raise ValueError(f"alpha={alpha!r} is not allowed; it must be in [0, 1]")
        self.epsilon, self.alpha = epsilon, alpha

    def solve(self, i_src, i_tgt):
        c_src, c_tgt = intra_cost(self.src_.x[i_src]), intra_cost(self.tgt_.x[i_tgt])
        a, b = uniform(len(i_src)), uniform(len(i_tgt))
        if self.bridge_ is not None:
            return ot.gromov.fused_gromov_wasserstein(self.bridge_.cost(i_src, i_tgt), c_src, c_tgt, a, b, "square_loss", alpha=self.alpha)
        if self.epsilon > 0:
            return ot.gromov.entropic_gromov_wasserstein(c_src, c_tgt, a, b, "square_loss", epsilon=self.epsilon)
        return ot.gromov.gromov_wasserstein(c_src, c_tgt, a, b, "square_loss")


@hookimpl
def flowalign_register_couplings(registry):
    registry.add("exemplar", ExemplarCoupling, description="same-class labelled exemplar pairs; no cost matrix (paper setting 2)")
    registry.add("ot", ExactOTCoupling, description="exact OT plan (ot.emd) on a bridge cost (paper setting 1)")
    registry.add("sinkhorn", SinkhornCoupling, description="entropic OT plan (ot.sinkhorn) on a bridge cost")
    registry.add("unbalanced", UnbalancedCoupling, description="KL-relaxed unbalanced entropic OT on a bridge cost")
    registry.add("gw", GromovWassersteinCoupling, description="Gromov-Wasserstein on each space's own distances; fused with a bridge")
    registry.add("independent", IndependentCoupling, description="uniform independent pairs (baseline)")

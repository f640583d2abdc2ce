"""Class-blocked minibatch plans: a sum of small OT problems instead of one large one.

A minibatch plan among ``B`` source and ``B`` target items costs ``O(B^3)`` (network simplex) or
``O(B^2)`` per Sinkhorn iteration. When the bridge cost already forbids pairs of different classes
(``mask_penalty``), the plan is block diagonal anyway; solving each class block on its own costs
``sum_k O(n_k^3)`` instead, about ``K^2`` times less for ``K`` balanced classes.

Blocks
    Every item gets a *block label* (:func:`block_labels`): its class when it is labelled
    (``is_labelled``), otherwise a pseudo-label, the class of the nearest labelled class mean in its
    own space. Only labels of labelled items are read, so hidden labels never leak into a fit.
Balanced minibatches
    :class:`BlockSampler` draws ``B`` source items uniformly, then for each source item of block
    ``k`` one target item uniformly among the target items of block ``k`` (source items of a block
    without target items form a *residual* block against uniformly drawn target items). Each block
    then holds ``n_k`` source and ``n_k`` target items, and with uniform weights ``1 / B`` the plan

        pi = blockdiag(pi_1, ..., pi_K),   pi_k = argmin_{pi in Pi(1/B 1_{n_k}, 1/B 1_{n_k})} <C_k, pi>,

    has uniform marginals. When every cross-block pair costs more than any reassignment saves
    (labelled items and the default ``mask_penalty``), it is also the exact plan of the whole batch.
Class-conditional, not only faster
    Target items are drawn in proportion to the *source's* block frequencies (a block holding 60 %
    of the source items gets 60 % of every minibatch's target items, whatever its share of the
    target space), and only within their block; unlabelled items are fixed to the nearest labelled
    class mean in their own space's raw Euclidean metric (the standardised latents), not in the
    bridge's metric. So blocked plans are a class-conditional coupling: pseudo-label errors split
    pairs the unblocked plan would make (``benchmarks/results.md``: cost 1.16x the exact plan's at
    10 % labels), and imbalanced spaces are paired at the source's class shares.
Solvers (:func:`solve_blocks`)
    ``"emd"``: the exact plan of each block. A block is square with uniform weights, so by
    Birkhoff's theorem an optimal plan is a permutation matrix scaled by ``1 / B``: the linear
    assignment ``scipy.optimize.linear_sum_assignment`` solves it (the same cost as ``ot.emd``'s
    network simplex; measured on one core for 100 x 100 blocks: 0.29 ms vs 0.43 ms, and no
    per-call marginal checks). ``"sinkhorn"`` and ``"unbalanced"``: all blocks at once on
    zero-padded ``(K, n_max, n_max)`` costs, on the costs' device, with epsilon-scaling:
    :func:`batched_sinkhorn_stabilized` (scaling iterations with log-domain absorption, the batched
    form of POT's ``sinkhorn_stabilized``, which POT has only for one problem at a time) or, for
    ``"sinkhorn"`` with ``log_domain=True``, POT's batched log-domain projection
    (:func:`batched_log_sinkhorn`, ``ot.batch.bregman_log_projection_batch``). Measured on one CPU
    core for the blocks of a 1024-item minibatch (10 classes, reg 0.01): 7 ms vs 105 ms, same plan
    up to the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy.optimize import linear_sum_assignment

from ..data.model import Latents

SOLVERS = ("emd", "sinkhorn", "unbalanced")


def block_labels(lat: Latents, chunk: int = 65536) -> torch.Tensor:
    """Block label of every item: its label when labelled, else the nearest labelled class mean's.

    ``b_i = y_i`` if item ``i`` is labelled, else ``argmin_k ||x_i - mu_k||^2`` over the classes
    ``k`` with labelled items, ``mu_k`` the mean of the labelled items of class ``k``.

    Parameters
    ----------
    lat : Latents
        ``lat.labels`` holds ``-1`` for unlabelled items (the only labels used).
    chunk : int
        Rows processed at once (bounds memory for memory-mapped data).

    Returns
    -------
    LongTensor, shape (n,)
    """
    labels = lat.labels
    known = labels >= 0
    if not bool(known.any()):
        raise ValueError("class blocks need labelled items in each space; this space has none (use blocks=False)")
    classes = torch.unique(labels[known])
    known_idx = torch.nonzero(known).squeeze(1)
    x_known = lat.x[known_idx].to(torch.float64)
    onehot = (labels[known_idx][:, None] == classes[None, :]).to(torch.float64)
    means = (onehot.T @ x_known) / onehot.sum(0)[:, None]
    out = labels.clone()
    unknown = torch.nonzero(~known).squeeze(1)
    for start in range(0, len(unknown), chunk):
        idx = unknown[start : start + chunk]
        d = torch.cdist(lat.x[idx].to(torch.float64), means)
        out[idx] = classes[d.argmin(1)]
    return out


class BlockSampler:
    """Draw class-balanced minibatches: ``n_k`` source and ``n_k`` target items per block ``k``.

    Parameters
    ----------
    src_blocks : LongTensor, shape (n_src,)
    tgt_blocks : LongTensor, shape (n_tgt,)
        Block labels (:func:`block_labels`), ``>= 0``.

    Notes
    -----
    Memory is ``O(n_tgt)`` for the grouped target index; a draw allocates ``O(B)``.
    """

    def __init__(self, src_blocks: torch.Tensor, tgt_blocks: torch.Tensor):
        if (src_blocks < 0).any() or (tgt_blocks < 0).any():
            raise ValueError("block labels must be >= 0 (see block_labels)")
        self.src_blocks = src_blocks
        self.n_blocks = int(max(int(src_blocks.max()), int(tgt_blocks.max()))) + 1
        order = torch.argsort(tgt_blocks, stable=True)
        count = torch.bincount(tgt_blocks, minlength=self.n_blocks)
        # residual block n_blocks: all target items
        self.tgt_index = torch.cat([order, torch.arange(len(tgt_blocks))])
        self.tgt_count = torch.cat([count, torch.tensor([len(tgt_blocks)])])
        self.tgt_offset = torch.cumsum(self.tgt_count, 0) - self.tgt_count

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One balanced minibatch.

        Returns
        -------
        i_src, i_tgt : LongTensor, shape (batch_size,)
            Item indices, sorted by block (block ``k`` occupies ``counts[:k].sum()`` onwards).
        counts : LongTensor, shape (n_blocks + 1,)
            Items per block; the last entry is the residual block.
        """
        i_src = torch.randint(len(self.src_blocks), (batch_size,), generator=generator)
        k = self.src_blocks[i_src]
        k = torch.where(self.tgt_count[k] > 0, k, self.n_blocks)
        k, order = torch.sort(k, stable=True)
        i_src = i_src[order]
        u = torch.rand(batch_size, generator=generator, dtype=torch.float64)
        pick = (u * self.tgt_count[k]).long().clamp_max(self.tgt_count[k] - 1)
        i_tgt = self.tgt_index[self.tgt_offset[k] + pick]
        return i_src, i_tgt, torch.bincount(k, minlength=self.n_blocks + 1)


@dataclass
class BlockPlan:
    """A block-diagonal plan stored as zero-padded blocks.

    Attributes
    ----------
    plans : Tensor, shape (K, n_max, n_max)
        Block plans; all blocks together sum to 1; padding is 0.
    rows, cols : LongTensor, shape (K, n_max)
        Batch position of each block row / column (``-1`` on padding).
    batch_size : int
    """

    plans: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    batch_size: int

    def dense(self) -> torch.Tensor:
        """The full ``(B, B)`` plan (for tests and diagnostics)."""
        out = torch.zeros(self.batch_size, self.batch_size, dtype=self.plans.dtype, device=self.plans.device)
        valid = (self.rows[:, :, None] >= 0) & (self.cols[:, None, :] >= 0)
        r = self.rows[:, :, None].expand_as(self.plans)[valid]
        c = self.cols[:, None, :].expand_as(self.plans)[valid]
        out[r, c] = self.plans[valid]
        return out

    def cost(self, cost: torch.Tensor) -> torch.Tensor:
        """``<C, pi>`` for a full ``(B, B)`` cost matrix ``C`` (batch positions)."""
        return (self.dense().to(cost.dtype) * cost.to(self.plans.device)).sum()

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw (row, column) batch positions with probability ``pi``, by inverse CDF.

        Uniforms come from ``generator`` (CPU) and are moved to the plan's device, so the same seed
        draws the same pairs on every device (up to float rounding of the CDFs).

        Returns
        -------
        rows, cols : LongTensor, shape (batch_size,), on the plan's device
        """
        k, n, _ = self.plans.shape
        u = torch.rand(2, batch_size, generator=generator, dtype=torch.float64).to(self.plans.device)
        flat = self.plans.reshape(k * n, n).to(torch.float64)
        row_mass = flat.sum(1)
        cdf = torch.cumsum(row_mass, 0)
        r = torch.searchsorted(cdf, (u[0] * cdf[-1]).contiguous(), right=True).clamp_max(k * n - 1)
        ccdf = torch.cumsum(flat[r], 1)
        c = torch.searchsorted(ccdf, (u[1] * ccdf[:, -1])[:, None].contiguous(), right=True).squeeze(1).clamp_max(n - 1)
        return self.rows.reshape(-1)[r], self.cols[r // n, c]


def block_layout(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch positions of each non-empty block, padded with ``-1``.

    Parameters
    ----------
    counts : LongTensor, shape (n_blocks,)
        Items per block, blocks stored one after the other.

    Returns
    -------
    pos : LongTensor, shape (K, n_max)
        ``K`` non-empty blocks.
    sizes : LongTensor, shape (K,)
    """
    starts = torch.cumsum(counts, 0) - counts
    keep = counts > 0
    sizes, starts = counts[keep], starts[keep]
    n_max = int(sizes.max())
    offs = torch.arange(n_max)
    pos = starts[:, None] + offs[None, :]
    return torch.where(offs[None, :] < sizes[:, None], pos, -1), sizes


def solve_blocks(block_cost, i_src: torch.Tensor, i_tgt: torch.Tensor, counts: torch.Tensor, solver: str = "emd", *,
                 reg: float = 0.05, reg_m: float = 1.0, num_iter_max: int = 1000, tol: float = 1e-9,
                 log_domain: bool = False, device: torch.device | str = "cpu") -> BlockPlan:
    """Solve one plan per block of a balanced minibatch (see the module docstring).

    Parameters
    ----------
    block_cost : callable ``(i_src_pad, i_tgt_pad, valid) -> Tensor[K, n_max, n_max]``
        Costs of all blocks at once from zero-padded index tensors of shape (K, n_max) and their
        validity mask, e.g. :meth:`flowalign_nb.transport.bridges.Bridge.block_cost`.
    i_src, i_tgt : LongTensor, shape (B,)
        Items sorted by block, as :meth:`BlockSampler.draw` returns them.
    counts : LongTensor, shape (n_blocks,)
    solver : {"emd", "sinkhorn", "unbalanced"}
    reg, reg_m, num_iter_max, tol : float, float, int, float
        Entropic regularisation, marginal relaxation (unbalanced), iterations, Sinkhorn tolerance
        on the marginal error.
    log_domain : bool
        ``sinkhorn`` only: POT's batched log-domain projection (:func:`batched_log_sinkhorn`)
        instead of the stabilised scaling solver (:func:`batched_sinkhorn_stabilized`, default).
    device : torch.device or str
        Where the entropic solvers run (torch ops; POT's torch backend with ``log_domain``);
        ``emd`` always runs on the CPU (linear assignment, scipy).

    Returns
    -------
    BlockPlan
        Block ``k`` carries mass ``n_k / B`` (renormalised to 1 overall for ``unbalanced``).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver={solver!r} is not allowed; choose one of {SOLVERS}")
    batch = len(i_src)
    if int(counts.sum()) != batch or len(i_tgt) != batch:
        raise ValueError(f"counts sum to {int(counts.sum())} but the minibatch has {batch} source and {len(i_tgt)} target items")
    pos, sizes = block_layout(counts)
    k, n_max = pos.shape
    device = torch.device(device) if solver != "emd" else torch.device("cpu")
    valid_pos = pos >= 0
    at = pos.clamp_min(0)
    costs = block_cost(i_src[at], i_tgt[at], valid_pos).to(device=device, dtype=torch.float64)
    valid = valid_pos.to(device=device, dtype=torch.float64)
    weights = valid / batch  # (K, n_max): each item carries 1 / B
    plans = torch.zeros_like(costs)
    if solver == "emd":
        for b in range(k):
            s = int(sizes[b])
            rows, cols = linear_sum_assignment(costs[b, :s, :s].numpy())
            plans[b, rows, cols] = 1.0 / batch
    elif solver == "sinkhorn" and log_domain:
        plans = batched_log_sinkhorn(costs, weights, weights, reg, tol=tol, num_iter_max=num_iter_max)
        plans = plans * valid[:, :, None] * valid[:, None, :]
    elif solver == "sinkhorn":
        plans = batched_sinkhorn_stabilized(costs, weights, weights, reg, tol=tol, num_iter_max=num_iter_max)
    else:
        plans = batched_sinkhorn_stabilized(costs, weights, weights, reg, reg_m=reg_m, tol=tol, num_iter_max=num_iter_max)
        total = plans.sum()
        if not torch.isfinite(total) or total <= 0:
            raise FloatingPointError(f"unbalanced block plans have total mass {float(total)}; increase reg or reg_m")
        plans = plans / total
    pos_dev = pos.to(device)
    return BlockPlan(plans, pos_dev, pos_dev, batch)


def batched_log_sinkhorn(cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor, reg: float, *, tol: float = 1e-9,
                         num_iter_max: int = 1000, reg_start: float = 1.0, factor: float = 0.5, stage_iter: int = 5) -> torch.Tensor:
    """Entropic plans of a batch of problems, log domain, with epsilon-scaling (warm-started).

    Solves ``pi_k = argmin_{pi in Pi(a_k, b_k)} <C_k, pi> - reg H(pi)`` for every ``k``. The
    regularisation decreases geometrically, ``eps_0 = max(reg_start, reg)``, ``eps_{s+1} =
    max(factor * eps_s, reg)``; each stage runs POT's batched log-domain Sinkhorn projection
    (``ot.batch.bregman_log_projection_batch``) on ``(f_i + g_j - C_ij) / eps_s``, which starts it
    from the dual potentials ``(f, g)`` of the previous stage, for ``stage_iter`` iterations
    (the last stage: until the L2 marginal error of every problem is below ``tol`` or
    ``num_iter_max`` iterations). Entries with zero weight (padding) get zero mass.

    Parameters
    ----------
    cost : Tensor, shape (K, n, m)
    a : Tensor, shape (K, n)
    b : Tensor, shape (K, m)
    reg : float
    tol, num_iter_max, reg_start, factor, stage_iter : float, int, float, float, int

    Returns
    -------
    Tensor, shape (K, n, m)
    """
    from ot.batch import bregman_log_projection_batch

    f = torch.zeros(cost.shape[:2], dtype=cost.dtype, device=cost.device)
    g = torch.zeros(cost.shape[0], cost.shape[2], dtype=cost.dtype, device=cost.device)
    eps = max(reg_start, reg)
    while True:
        last = eps <= reg
        out = bregman_log_projection_batch((f[:, :, None] + g[:, None, :] - cost) / eps, a, b,
                                           max_iter=num_iter_max if last else stage_iter, tol=tol)
        if last:
            return out["T"]
        u, v = out["potentials"]
        f = f + eps * torch.nan_to_num(u, neginf=0.0)
        g = g + eps * torch.nan_to_num(v, neginf=0.0)
        eps = max(eps * factor, reg)


def batched_sinkhorn_stabilized(cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor, reg: float, *, reg_m: float | None = None,
                                tol: float = 1e-9, num_iter_max: int = 1000, reg_start: float = 0.1, factor: float = 0.5,
                                stage_iter: int = 5, check_every: int = 10, kernel_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Entropic plans of a batch of problems: Sinkhorn scaling with log-domain absorption and epsilon-scaling.

    The batched form of POT's ``sinkhorn_stabilized`` (Schmitzer 2019), which POT only offers
    one problem at a time. Dual potentials ``f, g`` (cost units, ``cost.dtype``) hold everything
    large; each stage ``s`` forms the stabilised kernel ``K_ij = exp((f_i + g_j - C_ij) / eps_s)``
    once and iterates the cheap scalings ``u = a / (K v)``, ``v = b / (K^T u)`` (batched
    matrix-vector products), then absorbs them, ``f += eps_s log u``, ``g += eps_s log v``.
    ``eps`` goes from ``max(reg_start, reg)`` to ``reg`` by ``factor``; intermediate stages run
    ``stage_iter`` iterations, the last until the L2 marginal error of every problem is below
    ``tol`` (checked every ``check_every`` iterations) or ``num_iter_max`` iterations. Entries with
    zero weight (padding) get zero mass. Per iteration this costs two ``(K, n, m)`` matrix-vector
    products instead of the two log-sum-exp passes of the log-domain solver: 7 ms instead of
    105 ms for the blocks of a 1024-item minibatch (10 classes, ``reg = 0.01``) on one CPU core.

    With ``reg_m``, the KL-relaxed unbalanced problem
    ``min <C, pi> - reg H(pi) + reg_m KL(pi 1 || a) + reg_m KL(pi^T 1 || b)`` is solved instead
    (Chizat et al. 2018), the batched form of POT's ``sinkhorn_stabilized_unbalanced``. On the
    stabilised kernel the scalings are

        u = (a / (K v))^phi * exp(-f / (reg_m + eps)),   v = (b / (K^T u))^phi * exp(-g / (reg_m + eps)),

    ``phi = reg_m / (reg_m + eps)``: the factors undo the potentials absorbed into ``K`` (without
    them a stage after the first solves the problem for the cost ``C - f (+) g``). The last stage
    stops when the row marginal changes by less than ``tol`` (L2) between checks. The entropy is
    ``H(pi) = -sum pi log pi`` (POT's ``reg_type="entropy"``); POT's default ``reg_type="kl"``,
    ``KL(pi || a b^T)``, only rescales the plan when ``a`` and ``b`` are uniform, so normalised
    plans agree.

    Parameters
    ----------
    cost : Tensor, shape (K, n, m)
    a : Tensor, shape (K, n)
    b : Tensor, shape (K, m)
    reg : float
    reg_m : float or None
        Marginal relaxation; None: balanced.
    tol, num_iter_max, reg_start, factor, stage_iter, check_every : float, int, float, float, int, int
    kernel_dtype : torch.dtype or None
        Precision of the kernel and scalings (the potentials stay in ``cost.dtype``). None:
        float32 when ``tol >= 1e-6`` (about 2x faster matrix-vector products; kernel entries
        below 1e-30 are set to 0, so no float32 denormals slow the CPU down), else ``cost.dtype``.

    Returns
    -------
    Tensor, shape (K, n, m), ``cost.dtype``
    """
    if kernel_dtype is None:
        kernel_dtype = torch.float32 if tol >= 1e-6 else cost.dtype
    tiny = torch.finfo(kernel_dtype).tiny
    f = torch.where(a > 0, 0.0, -torch.inf).to(cost.dtype)
    g = torch.where(b > 0, 0.0, -torch.inf).to(cost.dtype)
    a_k, b_k = a.to(kernel_dtype), b.to(kernel_dtype)
    eps = max(reg_start, reg)
    while True:
        last = eps <= reg
        kernel = torch.exp((f[:, :, None] + g[:, None, :] - cost) / eps)
        kernel = torch.where(kernel < 1e-30, 0.0, kernel).to(kernel_dtype)
        kernel_t = kernel.transpose(1, 2).contiguous()
        if reg_m is not None:
            phi = reg_m / (reg_m + eps)
            # log of exp(-f / (reg_m + eps)) on real entries; padding keeps u = v = 0 through log(0) = -inf
            shift_u = torch.where(a > 0, -f / (reg_m + eps), 0.0).to(kernel_dtype)
            shift_v = torch.where(b > 0, -g / (reg_m + eps), 0.0).to(kernel_dtype)
        v = (b > 0).to(kernel_dtype)
        previous = a_k
        for it in range(num_iter_max if last else stage_iter):
            # (K * v).sum(-1): batched mat-vec, measured ~3x faster than torch.bmm for these shapes on a CPU
            kv = (kernel * v[:, None, :]).sum(2).clamp_min(tiny)
            u = a_k / kv if reg_m is None else torch.exp(phi * torch.log(a_k / kv) + shift_u)
            ktu = (kernel_t * u[:, None, :]).sum(2).clamp_min(tiny)
            v = b_k / ktu if reg_m is None else torch.exp(phi * torch.log(b_k / ktu) + shift_v)
            if last and (it + 1) % check_every == 0:
                rows = u * (kernel * v[:, None, :]).sum(2)
                if float(torch.linalg.vector_norm(rows - previous, dim=1).max()) < tol:
                    break
                previous = rows if reg_m is not None else a_k
        if last:
            return (u[:, :, None] * kernel * v[:, None, :]).to(cost.dtype)
        f = f + eps * torch.log(u.to(cost.dtype))
        g = g + eps * torch.log(v.to(cost.dtype))
        eps = max(eps * factor, reg)

"""Which POT solver is a reference for the class-blocked unbalanced Sinkhorn (issue 15, item 1)?

One balanced minibatch of 90 items (4 Gaussian classes, all labelled; blocks of unequal size, so
the batched solver runs on padding) with prototype-bridge block costs. For each ``(reg, reg_m)``
the normalised block-diagonal plan of :func:`flowalign_nb.transport.blocks.solve_blocks` (``tol=1e-13``) is
compared with the plan assembled from one POT call per block:

- ``knopp``: ``ot.unbalanced.sinkhorn_unbalanced`` with its default method (Sinkhorn-Knopp, what
  ``UnbalancedCoupling`` uses for one plan), ``stopThr=1e-15``;
- ``stabilized``: ``method="sinkhorn_stabilized"`` at POT's defaults (``tau=1e5``,
  ``numItermax=1000``, ``stopThr=1e-6``);
- ``stabilized, tight``: the same with ``numItermax=20000``, ``stopThr=1e-12``;
- ``log-domain``: an independent log-domain fixed point, 20,000 iterations, written here.

Prints L1 distances of normalised plans (at most 2).

    .venv/bin/python benchmarks/unbalanced_reference.py
"""

import warnings

import numpy as np
import ot
import torch

import flowalign_nb as fa
from flowalign_nb.transport.blocks import BlockSampler, block_labels, block_layout, solve_blocks
from flowalign_nb.data.model import Latents

SETTINGS = [(0.1, 0.5), (0.05, 0.1), (0.05, 1.0), (0.02, 0.5), (0.01, 0.1), (0.01, 5.0)]


def blobs(n, d, n_classes, seed):
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((n_classes, d))
    y = rng.integers(0, n_classes, n)
    return Latents.from_arrays((centres[y] + rng.standard_normal((n, d))).astype(np.float32), y, classes=list(range(n_classes)))


def log_domain(cost, a, b, reg, reg_m, iters=20_000):
    """Unbalanced Sinkhorn in the log domain (entropy ``sum pi log pi - pi``): ``f = -lam reg (LSE((g - C) / reg) - log a)``."""
    f, g = torch.zeros_like(a), torch.zeros_like(b)
    lam = reg_m / (reg_m + reg)
    for _ in range(iters):
        f = -lam * reg * (torch.logsumexp((g[None, :] - cost) / reg, 1) - torch.log(a))
        g = -lam * reg * (torch.logsumexp((f[:, None] - cost) / reg, 0) - torch.log(b))
    return torch.exp((f[:, None] + g[None, :] - cost) / reg)


def main():
    src, tgt = blobs(600, 6, 4, seed=0), blobs(700, 9, 4, seed=1)
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    i_src, i_tgt, counts = BlockSampler(block_labels(src), block_labels(tgt)).draw(90, torch.Generator().manual_seed(4))
    pos, sizes = block_layout(counts)
    print(f"blocks of {sizes.tolist()} items; L1 distance of normalised plans to solve_blocks")
    refs = {
        "knopp": lambda w, c, reg, reg_m: ot.unbalanced.sinkhorn_unbalanced(w, w, c, reg, reg_m, numItermax=100_000, stopThr=1e-15),
        "stabilized": lambda w, c, reg, reg_m: ot.unbalanced.sinkhorn_unbalanced(w, w, c, reg, reg_m, method="sinkhorn_stabilized"),
        "stabilized, tight": lambda w, c, reg, reg_m: ot.unbalanced.sinkhorn_unbalanced(
            w, w, c, reg, reg_m, method="sinkhorn_stabilized", numItermax=20_000, stopThr=1e-12),
        "log-domain": lambda w, c, reg, reg_m: log_domain(c, w, w, reg, reg_m),
    }
    print("| reg | reg_m | " + " | ".join(refs) + " |")
    print("|---|---|" + "---|" * len(refs))
    for reg, reg_m in SETTINGS:
        ours = solve_blocks(bridge.block_cost, i_src, i_tgt, counts, "unbalanced", reg=reg, reg_m=reg_m, tol=1e-13, num_iter_max=50_000).dense()
        cells = []
        for solve in refs.values():
            plan = torch.zeros_like(ours)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "did not converge": the table shows what that means
                for b in range(len(sizes)):
                    p = pos[b, : sizes[b]]
                    w = torch.full((len(p),), 1.0 / 90, dtype=torch.float64)
                    plan[p[:, None], p[None, :]] = torch.as_tensor(solve(w, bridge.cost(i_src[p], i_tgt[p]), reg, reg_m))
            cells.append(f"{float((plan / plan.sum() - ours).abs().sum()):.1e}")
        print(f"| {reg} | {reg_m} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Time and accuracy of the class-blocked entropic solvers against their stopping tolerance ``tol``.

One balanced minibatch (``--batch`` items, 10 Gaussian classes in 32-d, all labelled) with
prototype-bridge block costs; for ``sinkhorn`` and ``unbalanced`` at the couplings' default ``reg``
(0.05) and ``reg_m`` (1.0): milliseconds per :func:`flowalign_nb.transport.blocks.solve_blocks` call (median
of ``--repeat``, one CPU thread, bridge costs included) and the L1 distance of the normalised plan
to the one POT gives at its own defaults (``ot.sinkhorn``, ``ot.unbalanced.sinkhorn_unbalanced``),
block by block. ``tol=1e-9`` is the couplings' default.

    .venv/bin/python benchmarks/blocked_tolerance.py [--batch 1024] [--repeat 5]
"""

import argparse
import statistics
import time

import numpy as np
import ot
import torch

import flowalign_nb as fa
from flowalign_nb.transport.blocks import BlockSampler, block_labels, block_layout, solve_blocks
from flowalign_nb.data.model import Latents

TOLERANCES = (1e-4, 1e-5, 1e-7, 1e-9)


def blobs(n, d, n_classes, seed):
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((n_classes, d))
    y = rng.integers(0, n_classes, n)
    return Latents.from_arrays((centres[y] + rng.standard_normal((n, d))).astype(np.float32), y, classes=list(range(n_classes)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    src, tgt = blobs(5000, 32, 10, seed=0), blobs(5000, 32, 10, seed=1)
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    i_src, i_tgt, counts = BlockSampler(block_labels(src), block_labels(tgt)).draw(args.batch, torch.Generator().manual_seed(0))
    pos, sizes = block_layout(counts)
    print(f"B={args.batch}, {len(sizes)} blocks of {int(sizes.min())}-{int(sizes.max())} items, reg 0.05, reg_m 1.0")
    print("| solver | tol | ms per minibatch | L1 to POT at its defaults |")
    print("|---|---|---|---|")
    for name, options, pot in [
        ("sinkhorn", {}, lambda w, c: ot.sinkhorn(w, w, c, 0.05)),
        ("unbalanced", {"reg_m": 1.0}, lambda w, c: ot.unbalanced.sinkhorn_unbalanced(w, w, c, 0.05, 1.0)),
    ]:
        reference = torch.zeros(args.batch, args.batch, dtype=torch.float64)
        for b in range(len(sizes)):
            p = pos[b, : sizes[b]]
            w = torch.full((len(p),), 1.0 / args.batch, dtype=torch.float64)
            reference[p[:, None], p[None, :]] = pot(w, bridge.cost(i_src[p], i_tgt[p]))
        reference = reference / reference.sum()
        for tol in TOLERANCES:
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                plan = solve_blocks(bridge.block_cost, i_src, i_tgt, counts, name, reg=0.05, tol=tol, **options)
                times.append(time.perf_counter() - start)
            l1 = float((plan.dense() - reference).abs().sum())
            print(f"| {name} | {tol:g} | {1e3 * statistics.median(times):.1f} | {l1:.1e} |")


if __name__ == "__main__":
    main()

"""``ot.sinkhorn`` vs :func:`flowalign_nb.transport.sinkhorn.sinkhorn_knopp` for one minibatch plan on the CPU.

For each TorchCFM 2-D task (seed 42, per-space standardised, ``--n`` random points per side, the
Euclidean bridge's mean-normalised squared cost, reg 0.05 and POT's defaults otherwise): median ms
per plan in one thread, plans per second with two threads solving plans side by side (as
FlowAligner's prefetch does on two cores), and the largest difference between the two plans.

    python benchmarks/sinkhorn_loop.py [--n 512] [--repeats 15]
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import ot
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cfm_2d import TASKS, task_data  # noqa: E402
from pot_backend import plan_benchmark_args  # noqa: E402
from flowalign_nb.transport.sinkhorn import sinkhorn_knopp  # noqa: E402

SOLVERS = {
    "ot.sinkhorn": lambda a, b, m: ot.sinkhorn(a, b, m, 0.05),
    "sinkhorn_knopp": lambda a, b, m: sinkhorn_knopp(a, b, m, 0.05),
}


def costs(task: str, n: int, count: int) -> list[np.ndarray]:
    xs, xt = task_data(task, 42)["train"]
    xs, xt = ((xs - xs.mean(0)) / xs.std(0)).double(), ((xt - xt.mean(0)) / xt.std(0)).double()
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(count):
        c = torch.cdist(xs[torch.randperm(len(xs), generator=g)[:n]], xt[torch.randperm(len(xt), generator=g)[:n]]) ** 2
        out.append((c / c.mean()).numpy())
    return out


def one_thread_ms(solver, a, cs) -> float:
    solver(a, a, cs[0])
    times = []
    for c in cs:
        start = time.perf_counter()
        solver(a, a, c)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def two_thread_rate(solver, a, cs) -> float:
    with ThreadPoolExecutor(max_workers=2) as pool:
        start = time.perf_counter()
        list(pool.map(lambda c: solver(a, a, c), cs))
        return len(cs) / (time.perf_counter() - start)


def main(argv=None) -> int:
    args = plan_benchmark_args("sinkhorn_loop.py", __doc__.split("\n")[0], argv)
    print("| task | ot.sinkhorn ms | sinkhorn_knopp ms | ratio | ot.sinkhorn plans/s, 2 threads | sinkhorn_knopp plans/s, 2 threads "
          "| ratio | max abs difference |\n|---|---|---|---|---|---|---|---|")
    for task in TASKS:
        cs = costs(task, args.n, args.repeats)
        a = np.full(args.n, 1.0 / args.n)
        ms = {name: one_thread_ms(fn, a, cs) for name, fn in SOLVERS.items()}
        rate = {name: two_thread_rate(fn, a, cs * 2) for name, fn in SOLVERS.items()}
        diff = max(float(np.abs(ot.sinkhorn(a, a, c, 0.05) - sinkhorn_knopp(a, a, c, 0.05)).max()) for c in cs)
        p, k = ms["ot.sinkhorn"], ms["sinkhorn_knopp"]
        rp, rk = rate["ot.sinkhorn"], rate["sinkhorn_knopp"]
        print(f"| {task} | {p:.1f} | {k:.1f} | {p / k:.2f} | {rp:.0f} | {rk:.0f} | {rk / rp:.2f} | {diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

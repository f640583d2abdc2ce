"""POT's numpy vs torch backend for one minibatch plan on the CPU (why ``entropic_plan`` hands POT numpy arrays).

For each TorchCFM 2-D task (seed 42, per-space standardised, the first ``n`` points per side, the
Euclidean bridge's mean-normalised squared cost) and each solver at its POT defaults
(``ot.sinkhorn`` reg 0.05, ``ot.unbalanced.sinkhorn_unbalanced`` reg 0.05 / reg_m 1; ``ot.emd``
for scale): median ms per plan over ``--repeats`` calls with float64 torch tensors and with numpy
arrays, and the L1 distance between the two plans. One torch thread.

    python benchmarks/pot_backend.py [--n 512] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import ot
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cfm_2d import TASKS, task_data  # noqa: E402

SOLVERS = {
    "sinkhorn": lambda a, b, m: ot.sinkhorn(a, b, m, 0.05),
    "unbalanced": lambda a, b, m: ot.unbalanced.sinkhorn_unbalanced(a, b, m, 0.05, 1.0),
    "emd": lambda a, b, m: ot.emd(a, b, m),
}


def timed(fn, repeats: int):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), out


def plan_benchmark_args(script: str, description: str, argv=None) -> argparse.Namespace:
    """``--n`` (points per side) and ``--repeats`` of a one-plan CPU benchmark; one torch thread; prints the command."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"Command: `python benchmarks/{script} --n {args.n} --repeats {args.repeats}`\n")
    return args


def main(argv=None) -> int:
    args = plan_benchmark_args("pot_backend.py", __doc__.split("\n")[0], argv)
    print("| task | solver | torch ms | numpy ms | torch / numpy | L1 between plans |\n|---|---|---|---|---|---|")
    for task in TASKS:
        xs, xt = task_data(task, 42)["train"]
        xs = ((xs - xs.mean(0)) / xs.std(0))[: args.n].double()
        xt = ((xt - xt.mean(0)) / xt.std(0))[: args.n].double()
        cost = torch.cdist(xs, xt) ** 2
        cost = cost / cost.mean()
        w = torch.full((args.n,), 1.0 / args.n, dtype=torch.float64)
        for name, solver in SOLVERS.items():
            t_torch, p_torch = timed(lambda: solver(w, w, cost), args.repeats)
            t_numpy, p_numpy = timed(lambda: solver(w.numpy(), w.numpy(), cost.numpy()), args.repeats)
            l1 = float((p_torch - torch.from_numpy(p_numpy)).abs().sum())
            print(f"| {task} | {name} | {t_torch:.1f} | {t_numpy:.1f} | {t_torch / t_numpy:.2f} | {l1:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

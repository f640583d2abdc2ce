"""Ablations of FlowAligner's engine on TorchCFM's 2-D tasks (issue 17).

Each row changes one candidate cause relative to the engine before issue 17 (time embedding with
frequencies up to 1,000 cycles, velocity conditioned on the source point, no Fourier features of the
state, EMA, prefetch), at
TorchCFM's width (hidden 64, depth 3) and batch 512, and reports W2 (100 Euler steps; mean over
the seeds) and fit time. ``tcfm-ot`` is TorchCFM's exact-OT matcher at the same steps.

    python benchmarks/cfm_2d_ablation.py --steps 400 --seeds 42 43 --out benchmarks/cfm_2d_ablation.json
    python benchmarks/cfm_2d_ablation.py --task moons-8gaussians --steps 400 --seeds 42 43 --out benchmarks/cfm_2d_ablation_moons_8gaussians.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cfm_2d  # noqa: E402

import flowalign_nb as fa  # noqa: E402
from flowalign_nb.flow import net as flow_net  # noqa: E402

NEW_FREQUENCY = flow_net.SinusoidalTimeEmbedding.__init__.__defaults__
OLD_FREQUENCY = (64, 1000.0)  # the embedding before issue 17: log-spaced frequencies up to 1,000 cycles

VARIANTS = {
    "engine of e18823a (f_max 1000, conditioned)": dict(frequency=OLD_FREQUENCY, condition=True, fourier=0),
    "time embedding f_max 3.2 (conditioned)": dict(frequency=NEW_FREQUENCY, condition=True, fourier=0),
    "f_max 1000, no source condition": dict(frequency=OLD_FREQUENCY, condition=False, fourier=0),
    "f_max 3.2, no condition (session-4 engine)": dict(frequency=NEW_FREQUENCY, condition=False, fourier=0),
    "+ Fourier features of x_t (current engine)": dict(frequency=NEW_FREQUENCY, condition=False),
    "current engine, no EMA": dict(frequency=NEW_FREQUENCY, condition=False, ema_decay=0.0),
    "current engine, no prefetch": dict(frequency=NEW_FREQUENCY, condition=False, prefetch=0),
}


def run(coupling: str, variant: dict, task: str, seed: int, steps: int, batch: int) -> dict:
    data = cfm_2d.task_data(task, seed)
    (xs, xt), (x0, x1) = data["train"], data["test"]
    options = {k: v for k, v in variant.items() if k != "frequency"}
    flow_net.SinusoidalTimeEmbedding.__init__.__defaults__ = variant["frequency"]
    try:
        aligner = fa.FlowAligner(coupling=coupling, bridge=None if coupling == "independent" else "euclidean", steps=steps,
                                 batch_size=batch, seed=seed, device="cpu", progress=False, hidden=64, depth=3, **options)
        start = time.perf_counter()
        aligner.fit(fa.make_representation(xs.numpy()), fa.make_representation(xt.numpy()))
        fit_s = time.perf_counter() - start
        moved = torch.as_tensor(aligner.set_params(ode_method="euler", ode_steps=100).transform(fa.make_representation(x0.numpy())).values)
    finally:
        flow_net.SinusoidalTimeEmbedding.__init__.__defaults__ = NEW_FREQUENCY
    return {"w2": cfm_2d.w2(moved, x1), "fit_s": fit_s}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="8gaussians-moons", choices=cfm_2d.TASKS)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43])
    parser.add_argument("--couplings", nargs="+", default=["ot", "independent"])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None, help="write the table (with its command) here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    command = "python benchmarks/cfm_2d_ablation.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = []
    for seed in args.seeds:
        data = cfm_2d.task_data(args.task, seed)
        (xs, xt), (x0, x1) = data["train"], data["test"]
        velocity, fit_s = cfm_2d.fit_torchcfm("tcfm-ot", xs, xt, args.steps, args.batch, seed, 64)
        rows.append({"coupling": "tcfm-ot", "variant": "TorchCFM exact OT", "seed": seed, "fit_s": fit_s,
                     "w2": cfm_2d.w2(cfm_2d.euler_paths(velocity, x0, 100)[0], x1)})
        print(rows[-1], flush=True)
        # the same TorchCFM loop on FlowAligner's coordinates: each space z-scored per feature (sigma 0.1 in those units)
        m0, s0, m1, s1 = xs.mean(0), xs.std(0), xt.mean(0), xt.std(0)
        velocity, fit_s = cfm_2d.fit_torchcfm("tcfm-ot", (xs - m0) / s0, (xt - m1) / s1, args.steps, args.batch, seed, 64)
        moved = cfm_2d.euler_paths(velocity, (x0 - m0) / s0, 100)[0] * s1 + m1
        rows.append({"coupling": "tcfm-ot", "variant": "TorchCFM exact OT on per-space z-scored data", "seed": seed,
                     "fit_s": fit_s, "w2": cfm_2d.w2(moved, x1)})
        print(rows[-1], flush=True)
        for coupling in args.couplings:
            for name, variant in VARIANTS.items():
                rows.append({"coupling": coupling, "variant": name, "seed": seed, **run(coupling, variant, args.task, seed, args.steps, args.batch)})
                print(rows[-1], flush=True)
    lines = [f"Task {args.task}, {args.steps} steps, batch {args.batch}, width 64. Command: `{command}`", "", "| coupling | variant | W2 (mean over seeds) | fit s |", "|---|---|---|---|"]
    for key in dict.fromkeys((r["coupling"], r["variant"]) for r in rows):
        group = [r for r in rows if (r["coupling"], r["variant"]) == key]
        lines.append(f"| {key[0]} | {key[1]} | {np.mean([r['w2'] for r in group]):.3f} | {np.mean([r['fit_s'] for r in group]):.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out is not None:
        args.out.write_text(json.dumps({"command": command, "runs": rows, "table": table}, indent=1))
    if args.markdown is not None:
        args.markdown.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

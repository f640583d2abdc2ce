"""Compare the two ways FlowAligner handles spaces of different dimension on the synthetic task.

For each coupling and seed: fit with ``dim_handling="pad"`` and ``"conditional"`` (16-d source,
24-d target, 5 classes, 2,000 items per space, 5 % labelled) and score held-out items by the nearest
target class mean. Writes ``benchmarks/dim_handling.json`` and prints a table.

    .venv/bin/python benchmarks/dim_handling.py [--seeds 3] [--steps 800]
"""

import argparse
import json
import time
from pathlib import Path

import pandas as pd

import flowalign_nb as fa
from flowalign_nb.analysis import nearest_class_mean_accuracy

COUPLINGS = {
    "exemplar": dict(coupling="exemplar"),
    "ot+prototype": dict(coupling="ot", bridge="prototype"),
    "sinkhorn+prototype": dict(coupling="sinkhorn", bridge="prototype"),
    "unbalanced+prototype": dict(coupling="unbalanced", bridge="prototype"),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=800)
    args = parser.parse_args()
    rows = []
    for seed in range(args.seeds):
        pair = fa.make_synthetic_pair(seed=seed)
        src, tgt = fa.mask_labels(pair.source, 0.05, seed=seed), fa.mask_labels(pair.target, 0.05, seed=seed + 1000)
        for name, options in COUPLINGS.items():
            for dim_handling in ("pad", "conditional"):
                start = time.perf_counter()
                aligner = fa.FlowAligner(steps=args.steps, seed=seed, dim_handling=dim_handling, progress=False, **options)
                accuracy = nearest_class_mean_accuracy(aligner.fit(src, tgt).transform(pair.source_test), pair.target)
                rows.append(dict(coupling=name, dim_handling=dim_handling, seed=seed, accuracy=accuracy,
                                 seconds=time.perf_counter() - start))
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(rows, indent=2))
    summary = table.groupby(["coupling", "dim_handling"]).accuracy.agg(["mean", "std"]).unstack()
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"written {out}")


if __name__ == "__main__":
    main()

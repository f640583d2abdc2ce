"""Label-fraction sweeps of the neural tasks, aligned vs end to end, resumable.

``it_to_cnn``: simulated IT (SIMULATED data, see ``flowalign_neural.simulated``) -> MNIST-CNN
features, scored by the CNN's frozen head; fractions 0.01-1.0, seeds 0-2.
``kriegeskorte92_it_to_effnet``: real monkey IT -> EfficientNet-Lite0 block12 on the 92 images;
seeds 0-3 are the 4 cross-validation folds; metrics accuracy (6-way decoding), rsa_before, rsa_after.
``hvm_it_across_sites``: real HvM IT, 84 sites on half the images -> 84 other sites on the other half
(the HvM subset from ``$FLOWALIGN_HVM_IT`` or ``../shared``); fractions as the MNIST sweeps, seeds 0-2.

Runs ``flowalign_nb.sweep`` into ``--run-dir`` (default ``runs/neural/<task>``; finished cells are
skipped on a re-run), writes ``table.csv`` there and prints markdown tables of mean +- std over seeds.

    nice .venv/bin/python benchmarks/neural_sweep.py --task it_to_cnn
    nice .venv/bin/python benchmarks/neural_sweep.py --task kriegeskorte92_it_to_effnet
    nice .venv/bin/python benchmarks/neural_sweep.py --task hvm_it_across_sites --steps 800
    nice .venv/bin/python benchmarks/neural_sweep.py --task it_to_cnn --fractions 0.05 0.2 --seeds 0 \
        --methods ot+prototype --flow-options '{"dim_handling": "conditional"}' --run-dir runs/neural/ablation-conditional
"""

import argparse
import json
from pathlib import Path

import flowalign_nb as fa
from flowalign_nb.tasks.sweep import summarise

from shared_data import use_shared_data  # this workplace's data copies, when beside the repository

use_shared_data()

DEFAULTS = {
    "it_to_cnn": dict(fractions=[0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0], seeds=[0, 1, 2],
                      methods=["exemplar", "ot+prototype", "ot+posterior", "sinkhorn+posterior", "ridge", "procrustes",
                               "end_to_end", "ceiling"],
                      metrics=["accuracy"]),
    "kriegeskorte92_it_to_effnet": dict(fractions=[0.1, 0.2, 0.5, 1.0], seeds=[0, 1, 2, 3],
                                        methods=["exemplar", "gw", "ridge", "procrustes", "end_to_end", "ceiling"],
                                        metrics=["accuracy", "rsa_after", "rsa_before"]),
    "hvm_it_across_sites": dict(fractions=[0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0], seeds=[0, 1, 2],
                                methods=["exemplar", "ot+prototype", "ridge", "procrustes", "end_to_end", "ceiling"],
                                metrics=["accuracy"]),
}


def markdown(table, metric: str) -> str:
    """Mean +- std over seeds of ``metric``: one row per method, one column per fraction."""
    summary = summarise(table, metric)
    fractions = list(summary["mean"].columns)
    lines = [f"| {metric} | " + " | ".join(f"{f:g}" for f in fractions) + " |", "|---|" + "---|" * len(fractions)]
    for method in summary.index:
        cells = [f"{summary['mean'].loc[method, f]:.3f} ± {summary['std'].loc[method, f]:.3f}" for f in fractions]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=sorted(DEFAULTS), default="it_to_cnn")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--fractions", type=float, nargs="+")
    parser.add_argument("--methods", nargs="+")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--flow-options", type=json.loads, default={}, help='more FlowAligner options as JSON, e.g. \'{"dim_handling": "conditional"}\'')
    parser.add_argument("--run-dir", type=Path)
    args = parser.parse_args()
    defaults = DEFAULTS[args.task]
    run_dir = args.run_dir or Path("runs/neural") / args.task
    table = fa.sweep(args.task, fractions=args.fractions or defaults["fractions"], seeds=args.seeds or defaults["seeds"],
                     methods=args.methods or defaults["methods"], flow_options={"steps": args.steps, **args.flow_options}, run_dir=run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(run_dir / "table.csv", index=False)
    failed = table[table["error"] != ""]
    if len(failed):
        print(failed[["method", "fraction", "seed", "error"]].to_string(index=False))
    for metric in defaults["metrics"]:
        print(markdown(table[(table["error"] == "") & (table["metric"] == metric)], metric) + "\n")
    print(f"task {args.task}, seeds {sorted(set(table['seed']))}, flow options {{'steps': {args.steps}, **{args.flow_options}}}; "
          f"table in {run_dir / 'table.csv'}")


if __name__ == "__main__":
    main()

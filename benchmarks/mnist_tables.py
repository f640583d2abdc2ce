"""README tables of the MNIST label-fraction sweeps, and the paper's claim checked on them.

Reads ``runs/<task>/sweep.csv`` (written by ``flowalign sweep <task> ... --output runs/<task>``) and
prints, per task and metric, mean ± std over seeds (one row per method, one column per label
fraction), then for each fraction <= 0.2 whether the better of ``exemplar`` and ``ot+prototype``
(mean over seeds) reaches the end-to-end baseline, and the recognition share of the ceiling at 1.0.

    .venv/bin/python benchmarks/mnist_tables.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from flowalign_nb.tasks.sweep import summarise

HIGHER_IS_BETTER = {"accuracy": True, "frechet": False}


def markdown(table: pd.DataFrame, metric: str) -> str:
    """Mean ± std over seeds of ``metric``: one row per method, one column per fraction."""
    summary = summarise(table, metric)
    fractions = list(summary["mean"].columns)
    lines = ["| method | " + " | ".join(f"{f:g}" for f in fractions) + " |", "|---|" + "---|" * len(fractions)]
    digits = 3 if summary["mean"].abs().max().max() < 10 else 1
    for method in summary.index:
        cells = [f"{summary['mean'].loc[method, f]:.{digits}f} ± {summary['std'].loc[method, f]:.{digits}f}" for f in fractions]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def claim(table: pd.DataFrame, metric: str) -> str:
    """Per fraction <= 0.2: best of exemplar / ot+prototype vs end_to_end (means over seeds)."""
    means = summarise(table, metric)["mean"]
    better = max if HIGHER_IS_BETTER.get(metric, True) else min
    lines = [f"| fraction | best of exemplar, ot+prototype | end_to_end | met ({metric}) |", "|---|---|---|---|"]
    for fraction in [f for f in means.columns if f <= 0.2]:
        best = better(means.loc["exemplar", fraction], means.loc["ot+prototype", fraction])
        e2e = means.loc["end_to_end", fraction]
        met = best >= e2e if HIGHER_IS_BETTER.get(metric, True) else best <= e2e
        lines.append(f"| {fraction:g} | {best:.3f} | {e2e:.3f} | {'yes' if met else 'no'} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    args = parser.parse_args(argv)
    for task in ("mnist_effnet_to_cnn", "mnist_text_to_image"):
        table = pd.read_csv(args.runs / task / "sweep.csv")
        table["error"] = table["error"].astype(object).fillna("")
        print(f"## {task}: {table['seed'].nunique()} seeds, {table['fraction'].nunique()} fractions, "
              f"{int((table['error'] != '').sum())} failed cells\n")
        for metric in pd.unique(table["metric"]):
            print(f"{metric}:\n\n{markdown(table, metric)}\n\n{claim(table, metric)}\n")
        means = summarise(table, "accuracy")["mean"]
        print(f"accuracy at fraction 1.0 / ceiling: exemplar {means.loc['exemplar', 1.0] / means.loc['ceiling', 1.0]:.3f}, "
              f"ot+prototype {means.loc['ot+prototype', 1.0] / means.loc['ceiling', 1.0]:.3f}\n")


if __name__ == "__main__":
    main()

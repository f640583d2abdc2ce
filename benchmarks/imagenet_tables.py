"""README tables and figure of the ImageNet sweeps (both directions), and the paper's claim checked per fraction.

Reads the finished cells of ``runs/imagenet_text_to_image`` and ``runs/imagenet_image_to_text``
(``flowalign sweep <task> ... --output runs/<task>``; a sweep still running shows its finished
cells and says how many). Prints, per direction and metric, mean ± std over seeds, every failed
cell's error, then per fraction <= 0.2:

- seen classes: the better of ``exemplar`` and ``ot+prototype`` against ``end_to_end`` (top-1, text -> image);
- unseen classes: the best alignment method against ridge, Procrustes and relative (top-1 and top-5).

With ``--figure PATH`` it also draws top-1 on seen and unseen classes against the fraction.

    .venv/bin/python benchmarks/imagenet_tables.py --figure docs/imagenet_sweep.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from flowalign_nb.tasks.sweep import summarise

TASKS = ("imagenet_text_to_image", "imagenet_image_to_text")
ALIGNMENT = ("exemplar", "ot+prototype", "unbalanced+prototype", "sinkhorn+prototype", "gw")
LINEAR = ("ridge", "procrustes", "relative")
METRICS = ("top1_seen", "top1_unseen", "top5_seen", "top5_unseen", "top1", "top5")


def read_cells(folder: Path) -> pd.DataFrame:
    """Tidy rows of every finished cell in a sweep run folder (``cells/*.json``)."""
    rows = [row for path in sorted((folder / "cells").glob("*.json")) for row in json.loads(path.read_text())["rows"]]
    table = pd.DataFrame(rows)
    table["error"] = table["error"].astype(object).fillna("")
    return table


def markdown(table: pd.DataFrame, metric: str) -> str:
    """Mean ± std over seeds of ``metric``: one row per method, one column per fraction."""
    summary = summarise(table, metric)
    fractions = list(summary["mean"].columns)
    lines = ["| method | " + " | ".join(f"{f:g}" for f in fractions) + " |", "|---|" + "---|" * len(fractions)]
    for method in summary.index:
        cells = [f"{summary['mean'].loc[method, f]:.3f} ± {summary['std'].loc[method, f]:.3f}" for f in fractions]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def claims(table: pd.DataFrame) -> str:
    """Per fraction <= 0.2: seen (best of exemplar/ot+prototype vs end_to_end) and unseen (best alignment vs baselines)."""
    seen, unseen1, unseen5 = (summarise(table, m)["mean"] for m in ("top1_seen", "top1_unseen", "top5_unseen"))
    has_e2e = "end_to_end" in seen.index
    lines = ["| fraction | seen top-1: best of exemplar, ot+prototype | end_to_end | met | unseen top-1: best alignment | "
             "best of ridge, procrustes, relative | unseen top-5: best alignment | best baseline |", "|---|" + "---|" * 7]
    for f in [f for f in seen.columns if f <= 0.2]:
        best_seen = max(seen.loc[m, f] for m in ("exemplar", "ot+prototype"))
        e2e = f"{seen.loc['end_to_end', f]:.3f}" if has_e2e else "n/a"
        met = ("yes" if best_seen >= seen.loc["end_to_end", f] else "no") if has_e2e else "n/a"
        a1 = max(ALIGNMENT, key=lambda m: unseen1.loc[m, f])
        b1 = max(LINEAR, key=lambda m: unseen1.loc[m, f])
        a5 = max(ALIGNMENT, key=lambda m: unseen5.loc[m, f])
        b5 = max(LINEAR, key=lambda m: unseen5.loc[m, f])
        lines.append(f"| {f:g} | {best_seen:.3f} | {e2e} | {met} | {unseen1.loc[a1, f]:.3f} ({a1}) | {unseen1.loc[b1, f]:.3f} ({b1}) | "
                     f"{unseen5.loc[a5, f]:.3f} ({a5}) | {unseen5.loc[b5, f]:.3f} ({b5}) |")
    return "\n".join(lines)


def figure(tables: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tables), 2, figsize=(11, 4 * len(tables)), squeeze=False)
    for row, (task, table) in enumerate(tables.items()):
        for col, metric in enumerate(("top1_seen", "top1_unseen")):
            ax, summary = axes[row, col], summarise(table, metric)
            for method in summary.index:
                mean, std = summary["mean"].loc[method], summary["std"].loc[method]
                ax.errorbar(mean.index, mean.values, yerr=std.values, marker="o", capsize=2, label=method)
            ax.set(xscale="log", xlabel="fraction of classes labelled", ylabel=metric, title=f"{task}: {metric}")
            if col == 1:
                ax.axhline(1e-3, color="grey", ls=":", label="chance (0.001)")
    axes[0, 1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--metrics", nargs="+", default=list(METRICS), choices=METRICS, help="metrics to tabulate (default all)")
    args = parser.parse_args(argv)
    tables = {}
    for task in TASKS:
        if not (args.runs / task / "cells").is_dir():
            print(f"## {task}: no run folder under {args.runs}\n")
            continue
        table = tables[task] = read_cells(args.runs / task)
        cells = table.groupby(["seed", "fraction", "method"]).ngroups
        failed = table[table["error"] != ""]
        print(f"## {task}: {cells} finished cells ({table['seed'].nunique()} seeds, {table['fraction'].nunique()} fractions), "
              f"{len(failed)} failed\n")
        for _, row in failed.iterrows():
            print(f"- failed: {row['method']} fraction {row['fraction']:g} seed {row['seed']}: {row['error']}")
        ok = table[table["error"] == ""]
        for metric in [m for m in args.metrics if m in set(ok["metric"])]:
            print(f"{metric}:\n\n{markdown(ok, metric)}\n")
        print(claims(ok) + "\n")
    if args.figure and tables:
        figure({t: tab[tab["error"] == ""] for t, tab in tables.items()}, args.figure)
        print(f"figure written to {args.figure}")


if __name__ == "__main__":
    main()

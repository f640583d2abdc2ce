"""Where the flows' accuracy is lost: pair purity of OT plans and class decisions in each space.

For each MNIST task and label fraction (seed 0): the share of the exact OT plan's mass on pairs of
the same ground-truth class ("purity") with the ``prototype`` and ``posterior`` bridges, and how
well the labelled items decide classes in each space, by Euclidean nearest class mean (what the
first, unwhitened prototype bridge amounted to) and by a cross-validated logistic regression (the
end-to-end head), scored on all training items of that space. Ground-truth labels are used for scoring only.

Usage::

    .venv/bin/python plugins/flowalign_vision/benchmarks/mnist_pair_purity.py --fractions 0.01 0.1
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import flowalign_nb as fa
from flowalign_nb.analysis.downstream import fit_tuned_classifier


def class_decisions(rep, labels) -> tuple[float, float]:
    """(nearest-class-mean accuracy, tuned logistic-regression accuracy) from the labelled items of ``rep``."""
    known = rep["is_labelled"].values
    x = (rep.values - rep.values.mean(0)) / (rep.values.std(0) + 1e-9)
    means = np.stack([x[known & (labels == c)].mean(0) for c in np.unique(labels)])
    ncm = np.mean(np.unique(labels)[((x[:, None] - means[None]) ** 2).sum(-1).argmin(1)] == labels)
    lr = np.mean(fit_tuned_classifier(rep.values[known], labels[known]).predict(rep.values) == labels)
    return float(ncm), float(lr)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("task | fraction | purity prototype | purity posterior | source NCM | source LR | target NCM | target LR")
    for name in ("mnist_effnet_to_cnn", "mnist_text_to_image"):
        task = fa.make("task", name, progress=False)
        data = task.load(args.seed)
        ys, yt = data.source["label"].values, data.target["label"].values
        for fraction in args.fractions:
            src = fa.mask_labels(data.source, fraction, seed=args.seed)
            tgt = fa.mask_labels(data.target, fraction, seed=args.seed + 1000)
            purity = []
            for bridge in ("prototype", "posterior"):
                aligner = fa.FlowAligner("ot", bridge, steps=1, progress=False).fit(src, tgt)
                plan = aligner.coupling_.plan(torch.arange(len(ys)), torch.arange(len(yt))).numpy()
                purity.append(plan[ys[:, None] == yt[None, :]].sum())
            cells = [*purity, *class_decisions(src, ys), *class_decisions(tgt, yt)]
            print(f"{name} | {fraction} | " + " | ".join(f"{v:.3f}" for v in cells), flush=True)


if __name__ == "__main__":
    main()

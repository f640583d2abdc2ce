"""Flow settings tried on ``mnist_effnet_to_cnn`` at one label fraction and seed (accuracy of the CNN head).

Variants of the two alignment settings: dimension handling (``pad`` vs ``conditional``), a wider
and deeper velocity field, path noise ``sigma = 0``, more training steps, and other bridges.

Usage::

    .venv/bin/python plugins/flowalign_vision/benchmarks/mnist_flow_variants.py --fraction 0.1 --seed 0
"""

from __future__ import annotations

import argparse
import time

import torch

import flowalign_nb as fa
from flowalign_nb.tasks.task import masked_pair

VARIANTS = {
    "exemplar": dict(coupling="exemplar"),
    "exemplar, conditional": dict(coupling="exemplar", dim_handling="conditional"),
    "exemplar, 2000 steps": dict(coupling="exemplar", steps=2000),
    "ot+prototype": dict(coupling="ot", bridge="prototype"),
    "ot+prototype, conditional": dict(coupling="ot", bridge="prototype", dim_handling="conditional"),
    "ot+prototype, hidden 512, depth 4": dict(coupling="ot", bridge="prototype", hidden=512, depth=4),
    "ot+prototype, sigma 0": dict(coupling="ot", bridge="prototype", sigma=0.0),
    "ot+prototype, 2000 steps": dict(coupling="ot", bridge="prototype", steps=2000),
    "ot+posterior": dict(coupling="ot", bridge="posterior"),
    "unbalanced+prototype": dict(coupling="unbalanced", bridge="prototype"),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="NAME")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    task = fa.make("task", "mnist_effnet_to_cnn", progress=False)
    data = task.load(args.seed)
    src, tgt = masked_pair(data, args.fraction, args.seed)  # the labelled items of the sweep's cell
    print(f"end_to_end: {task.end_to_end(src, data)['accuracy']:.3f}")
    for name in args.variants:
        options = {"steps": 800, **VARIANTS[name]}
        start = time.perf_counter()
        moved = fa.FlowAligner(seed=args.seed, progress=False, **options).fit(src, tgt).transform(data.source_test)
        print(f"{name}: {task.score(moved, data)['accuracy']:.3f} ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

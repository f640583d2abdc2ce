"""Digit grids of the ``mnist_text_to_image`` task for the README: one PNG per method, rows = asked-for digit.

Writes ``digits_exemplar.png``, ``digits_ot_prototype.png`` (flows, ``--steps`` steps),
``digits_end_to_end.png`` (the end-to-end decoder) and ``digits_ceiling.png`` (the autoencoder's
reconstructions of real held-out digits) for one label fraction and seed, and prints each method's scores.

Usage::

    .venv/bin/python plugins/flowalign_vision/benchmarks/mnist_digit_grids.py --fraction 0.1 --seed 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import flowalign_nb as fa
from flowalign_nb.tasks.task import masked_pair
from flowalign_vision import save_digit_grid

HERE = Path(__file__).resolve().parent


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--output", type=Path, default=HERE.parent / "docs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    task = fa.make("task", "mnist_text_to_image", progress=False)
    data = task.load(args.seed)
    src, tgt = masked_pair(data, args.fraction, args.seed)  # the labelled items of the sweep's cell
    for coupling, bridge in (("exemplar", None), ("ot", "prototype")):
        aligner = fa.FlowAligner(coupling, bridge, steps=args.steps, seed=args.seed, progress=False).fit(src, tgt)
        moved = aligner.transform(data.source_test)
        name = coupling if bridge is None else f"{coupling}_{bridge}"
        print(name, task.score(moved, data), task.save_grid(moved, data, args.output / f"digits_{name}.png"))
    labels = data.source_test["label"].values
    print("end_to_end", task.end_to_end(src, data),
          save_digit_grid(task.end_to_end_images(src, data), labels, args.output / "digits_end_to_end.png"))
    real = data.extra["target_test"]
    print("ceiling", task.ceiling(data),
          save_digit_grid(task.images(real, data), real["label"].values, args.output / "digits_ceiling.png"))


if __name__ == "__main__":
    main()

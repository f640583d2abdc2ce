"""The ImageNet label-fraction sweeps (text -> image and image -> text), resumable, sized for a small CPU.

Runs ``fa.sweep`` for one task over fractions {0.01, 0.02, 0.05, 0.1, 0.2, 0.5} and the given seeds
into ``runs/<task>`` (finished cells there are skipped, so several processes may share the folder
on disjoint seeds), then ``benchmarks/imagenet_tables.py`` reads the cells.

    .venv/bin/python benchmarks/imagenet_sweep.py imagenet_text_to_image --seeds 0 1 2
    .venv/bin/python benchmarks/imagenet_sweep.py imagenet_image_to_text --seeds 0 1 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flowalign_nb.tasks.sweep import sweep

from shared_data import use_shared_data  # this workplace's data copies, when beside the repository

use_shared_data()

FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
FLOWS = ("exemplar", "ot+prototype", "unbalanced+prototype", "sinkhorn+prototype", "gw")
BASELINES = {"imagenet_text_to_image": ("ridge", "procrustes", "relative", "end_to_end", "ceiling"),
             "imagenet_image_to_text": ("ridge", "procrustes", "relative", "ceiling")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(BASELINES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60, help="flow training steps (default 60, sized to this CPU)")
    parser.add_argument("--batch-size", type=int, default=128, help="pairs per flow step (default 128)")
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    args = parser.parse_args(argv)
    sweep(args.task, fractions=FRACTIONS, seeds=args.seeds, methods=FLOWS + BASELINES[args.task],
          flow_options={"steps": args.steps, "batch_size": args.batch_size}, progress=False, run_dir=args.runs / args.task)


if __name__ == "__main__":
    main()

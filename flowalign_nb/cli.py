"""The ``flowalign`` command."""

from __future__ import annotations

import argparse
import sys

import pandas as pd


def _plugins(args) -> int:
    from .plugins import list_plugins

    table = list_plugins()
    if args.kind:
        table = table[table["kind"] == args.kind]
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 80, "display.width", 200):
        print(table.to_string(index=False))
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    seeds = tuple(range(args.seeds))
    print(f"flowalign demo: synthetic 16-d -> 24-d task, 5 classes, {args.fraction:.0%} labelled, "
          f"{args.steps} flow steps, seeds {list(seeds)}", flush=True)
    table = run_demo(fraction=args.fraction, seeds=seeds, steps=args.steps, progress=not args.quiet)
    summary = table.groupby("method", sort=False).agg(accuracy=("accuracy", "mean"), std=("accuracy", "std"), seconds=("seconds", "mean"))
    if len(seeds) == 1:
        summary = summary.drop(columns="std")
    print("\nheld-out accuracy (nearest target class mean; end_to_end: logistic regression on labelled source items)")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowalign", description="Align representations with conditional flows.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", help="list plugins, their registered factories and load errors")
    p.add_argument("--kind", help="only this kind (modality, coupling, bridge, analysis, task)")
    p.set_defaults(func=_plugins)
    d = sub.add_parser("demo", help="run the main job on embedded defaults and print scores")
    d.add_argument("--fraction", type=float, default=0.05, help="label fraction in (0, 1] (default 0.05)")
    d.add_argument("--seeds", type=int, default=1, help="number of seeds (default 1)")
    d.add_argument("--steps", type=int, default=800, help="flow training steps (default 800)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

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
    from .experiments import summarise

    seeds = tuple(range(args.seeds))
    print(f"flowalign demo: synthetic 16-d -> 24-d task, 5 classes, {args.fraction:.0%} labelled, "
          f"{args.steps} flow steps, seeds {list(seeds)}", flush=True)
    table = run_demo(fractions=(args.fraction,), seeds=seeds, steps=args.steps, progress=not args.quiet)
    summary = summarise(table, "accuracy").droplevel("fraction", axis=1)
    if len(seeds) == 1:
        summary = summary.drop(columns="std")
    summary["seconds"] = table.groupby("method", sort=False)["seconds"].mean()
    print("\nheld-out accuracy (nearest target class mean; end_to_end: tuned logistic regression on the labelled source items)")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    return 0


def _sweep(args) -> int:
    from .experiments import summarise, sweep
    from .results import save_sweep

    client = _dask_client(args.scheduler, args.workers)
    try:
        table = sweep(args.task, fractions=args.fractions, seeds=args.seeds, methods=args.methods,
                      flow_options={"steps": args.steps}, progress=not args.quiet, client=client, run_dir=args.output)
    finally:
        if client is not None:
            client.close()
    failed = table[table["error"] != ""]
    for _, row in failed.iterrows():
        print(f"cell {row['method']} fraction={row['fraction']} seed={row['seed']} failed: {row['error']}")
    paths = save_sweep(table, args.output)
    print(summarise(table).to_string(float_format=lambda v: f"{v:.3f}"))
    print("written", paths["csv"], paths["netcdf"], *paths["figures"])
    return 0


def _dask_client(scheduler: str | None, workers: int):
    """``None``: in-process; ``"local"``: a LocalCluster of ``workers`` processes; else a scheduler address."""
    if scheduler is None:
        return None
    from distributed import Client, LocalCluster

    if scheduler == "local":
        return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True))
    return Client(scheduler)


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
    from .experiments import DEFAULT_FRACTIONS, DEFAULT_METHODS

    w = sub.add_parser("sweep", help="label-fraction x seed x method sweep of a registered task")
    w.add_argument("task", help="registered task name (see `flowalign plugins --kind task`)")
    w.add_argument("--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS))
    w.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    w.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), help="'coupling', 'coupling+bridge', ridge, procrustes, end_to_end, ceiling")
    w.add_argument("--steps", type=int, default=800, help="flow training steps (default 800)")
    w.add_argument("--output", default="runs/sweep", help="run folder; finished cells there are skipped (default runs/sweep)")
    w.add_argument("--scheduler", help="run cells on Dask: 'local' (a LocalCluster) or a scheduler address, e.g. tcp://host:8786")
    w.add_argument("--workers", type=int, default=2, help="worker processes of a local cluster (default 2)")
    w.add_argument("--quiet", action="store_true", help="no progress bars")
    w.set_defaults(func=_sweep)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

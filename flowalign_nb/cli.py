"""The ``flowalign`` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    import time

    import torch

    from .demo import DEMO_METHODS, DEMO_TASKS, demo_summary, run_demo
    from .provenance import now
    from .report import report
    from .sweeprun import best_flow_cell, save_sweep_run

    torch.set_num_threads(args.threads)
    clock = time.perf_counter()
    seeds = tuple(range(args.seeds))
    print(f"flowalign demo: MNIST-5k (2,000 source / 2,000 target / 1,000 held-out images), {args.fraction:.0%} labelled, "
          f"{args.steps} flow steps, seeds {list(seeds)}, {args.threads} torch thread(s)", flush=True)
    for task in DEMO_TASKS:
        started = now()
        table = run_demo(task, fraction=args.fraction, seeds=seeds, steps=args.steps, progress=not args.quiet)
        print(f"\n{task} (end_to_end: the source-side model trained on the labelled items only; "
              "frechet: lower is better)")
        print(demo_summary(table).to_string(float_format=lambda v: f"{v:.3f}"), flush=True)
        if not args.report:
            continue
        command = ["flowalign", "sweep", task, "--fractions", repr(args.fraction), "--seeds", *map(str, seeds),
                   "--methods", *DEMO_METHODS, "--steps", str(args.steps)]
        best = best_flow_cell(table)
        output = Path(args.output) / task
        print(f"saving the run to {output}, with {best[0]} fitted in detail", flush=True)
        run = save_sweep_run(table, output, command=command, started=started, flow_options={"steps": args.steps},
                             fits=[best], progress=not args.quiet)
        print(f"report: {report(run, run.with_suffix('.html'))}", flush=True)
    print(f"\ndemo finished in {time.perf_counter() - clock:.0f} s")
    return 0


def _json_options(text: str) -> dict:
    """An argparse type: a JSON object of keyword options."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({exc}); give an object, e.g. '{{\"steps\": 800}}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object of options, e.g. '{{\"steps\": 800}}'")
    return value


def _fit(args) -> int:
    from .fitrun import fit_run
    from .runs import load_run

    path = fit_run(args.task, args.method, args.fraction, args.seed, args.output, task_options=args.task_options,
                   flow_options={"steps": args.steps, **args.flow_options}, progress=not args.quiet)
    scores = load_run(path).scores
    print(scores.pivot(index="method", columns="metric", values="value").loc[scores["method"].unique()]
          .to_string(float_format=lambda v: f"{v:.6f}"))
    print("written", path)
    return 0


def _report(args) -> int:
    from .report import report
    from .safeio import SavedFileError

    output = args.output or Path(args.run_dir).resolve().with_suffix(".html")
    try:
        path = report(args.run_dir, output, with_code=args.with_code, timeout=args.timeout)
    except SavedFileError as exc:
        print(f"flowalign report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0


def _sweep(args) -> int:
    from .experiments import summarise, sweep
    from .provenance import now
    from .sweeprun import save_sweep_run

    started = now()
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
    command = ["flowalign", "sweep", args.task, "--fractions", *map(repr, args.fractions), "--seeds", *map(str, args.seeds),
               "--methods", *args.methods, "--steps", str(args.steps)]
    save_sweep_run(table, args.output, command=command, started=started, flow_options={"steps": args.steps})
    print(summarise(table).to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"written the run folder {args.output} (sweep.csv, sweep.nc, sweep.png, provenance); "
          f"report: flowalign report {args.output} -o {args.output}.html")
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
    d.add_argument("--fraction", type=float, default=0.1, help="label fraction in (0, 1] (default 0.1)")
    d.add_argument("--seeds", type=int, default=1, help="number of seeds (default 1)")
    d.add_argument("--steps", type=int, default=800, help="flow training steps (default 800)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.add_argument("--report", action="store_true",
                   help="also save a run folder per task (best flow cell fitted in detail) and its HTML report; adds minutes")
    d.add_argument("--output", default="runs/demo", help="with --report: folder of the run folders, one per task; each report goes beside its run as <task>.html (default runs/demo)")
    d.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: these small networks run fastest on one thread of a shared CPU)")
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
    f = sub.add_parser("fit", help="fit one (task, method, label fraction, seed) cell in detail and save a run folder")
    f.add_argument("task", help="registered task name (see `flowalign plugins --kind task`)")
    f.add_argument("--method", required=True, help="a flow: 'coupling' or 'coupling+bridge', e.g. exemplar, ot+prototype")
    f.add_argument("--fraction", type=float, required=True, help="label fraction in (0, 1]")
    f.add_argument("--seed", type=int, default=0, help="seed of the split, label masks and flow (default 0)")
    f.add_argument("--steps", type=int, default=800, help="flow training steps (default 800; 'steps' in --flow-options wins)")
    f.add_argument("--flow-options", type=_json_options, default={}, help="FlowAligner options as JSON, e.g. '{\"batch_size\": 128}'")
    f.add_argument("--task-options", type=_json_options, default={}, help="task factory options as JSON")
    f.add_argument("--output", default="runs/fit", help="run folder (default runs/fit)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_fit)
    r = sub.add_parser("report", help="write a self-contained HTML report of a run folder (a fit or a sweep)")
    r.add_argument("run_dir", help="run folder (flowalign fit, flowalign demo)")
    r.add_argument("-o", "--output", help="HTML file (default <run_dir>.html)")
    r.add_argument("--with-code", action="store_true", help="keep the report notebook's code cells")
    r.add_argument("--timeout", type=int, default=1200, help="seconds each report cell may run (default 1200)")
    r.set_defaults(func=_report)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

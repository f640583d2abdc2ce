"""The ``flowalign`` command.

A mistake in the command line (an unknown task or method, a value out of range, an output folder
that already holds a run) prints one line naming the bad value and what is allowed, and exits with
status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pandas as pd


class UsageError(Exception):
    """A command-line mistake the CLI finds itself (printed as one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: message`` (``prog --help`` shows the usage)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message}\n")


def _user_errors() -> tuple:
    """Exceptions that report a bad input (printed as one line): flowalign_nb's own and ValueError's kind."""
    from .plugins import PluginError
    from .registry import UnknownNameError

    return UsageError, ValueError, UnknownNameError, FileExistsError, FileNotFoundError, PluginError


def _plugins(args) -> int:
    from .plugins import list_plugins

    table = list_plugins()
    if args.kind:
        table = table[table["kind"] == args.kind]
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 80, "display.width", 200):
        print(table.to_string(index=False))
    return 0


def _demo(args) -> int:
    import shutil
    import time

    import torch

    from .tasks.demo import DEMO_METHODS, DEMO_TASKS, demo_legend, demo_summary, run_demo
    from .runs.provenance import now
    from .report.render import report
    from .runs.sweep import best_flow_cell, save_sweep_run

    from .runs.fit import check_cell

    check_cell(args.fraction, 0)
    outputs = {task: Path(args.output) / task for task in DEMO_TASKS} if args.report else {}
    replaced = [path for path in outputs.values() if _check_output(path, args.overwrite, SWEEP_RUN_FILES, earlier_demo=True)]
    torch.set_num_threads(args.threads)
    clock = time.perf_counter()
    seeds = tuple(range(args.seeds))
    print(f"flowalign demo: MNIST-5k (2,000 source / 2,000 target / 1,000 held-out images), {args.fraction:.0%} labelled, "
          f"{args.steps} flow steps, seeds {list(seeds)}, {args.threads} torch thread(s)", flush=True)
    for task in DEMO_TASKS:
        started = now()
        table = run_demo(task, fraction=args.fraction, seeds=seeds, steps=args.steps, progress=not args.quiet)
        print(f"\n{task} ({demo_legend(table)})")
        print(demo_summary(table).to_string(float_format=lambda v: f"{v:.3f}"), flush=True)
        if not args.report:
            continue
        command = ["flowalign", "sweep", task, "--fractions", repr(args.fraction), "--seeds", *map(str, seeds),
                   "--methods", *DEMO_METHODS, "--steps", str(args.steps)]
        best = best_flow_cell(table)
        output = outputs[task]
        if output in replaced:
            shutil.rmtree(output)
            print(f"replacing the earlier demo run in {output}", flush=True)
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
    from .align.aligner import FlowAligner
    from .runs.fit import FIT_FILES, fit_run
    from .runs.folder import load_run

    accepted = set(FlowAligner().get_params())
    unknown = sorted(set(args.flow_options) - accepted)
    if unknown:
        raise UsageError(f"--flow-options has unknown option(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(sorted(accepted))}")
    _check_output(Path(args.output), args.overwrite, FIT_FILES)
    path = fit_run(args.task, args.method, args.fraction, args.seed, args.output, task_options=args.task_options,
                   flow_options={"steps": args.steps, **args.flow_options}, progress=not args.quiet)
    scores = load_run(path).scores
    print(scores.pivot(index="method", columns="metric", values="value").loc[scores["method"].unique()]
          .to_string(float_format=lambda v: f"{v:.6f}"))
    print("written", path)
    return 0


def _report(args) -> int:
    from .report.render import report

    output = Path(args.output or Path(args.run_dir).resolve().with_suffix(".html"))
    if output.exists() and not args.overwrite:
        raise ValueError(f"{output} already exists; pass --overwrite to replace it, or choose another -o")
    path = report(args.run_dir, output, with_code=args.with_code, timeout=args.timeout)
    print(f"report: {path}")
    return 0


#: what a sweep run folder holds (flowalign_nb.runs.folder), besides ``sweep*.png``
SWEEP_RUN_FILES = ("run.json", "sweep.csv", "sweep.nc", "sweep.json", "cells", "images", "fits", "provenance.json")


def _check_output(path: Path, overwrite: bool, owned, earlier_demo: bool = False) -> bool:
    """Check before any work that the run folder ``path`` may be written; True when it exists and will be replaced.

    A folder that does not exist or is empty may be written. Another is replaced only with ``overwrite``
    (or, with ``earlier_demo``, when it is a sweep run of the demo's task), and never when it holds
    files a run does not write (``owned``: the names a run writes; a sweep's ``sweep*.png`` too).

    Raises
    ------
    UsageError
        Naming the folder and what to do.
    """
    if not path.exists():
        return False
    if not path.is_dir():
        raise UsageError(f"{path} exists and is not a folder; choose another --output")
    names = sorted(p.name for p in path.iterdir())
    if not names:
        return False
    foreign = [name for name in names if name not in owned and not (owned is SWEEP_RUN_FILES and re.fullmatch(r"sweep\w*\.png", name))]
    if foreign:
        raise UsageError(f"{path} holds files that are not a run's ({', '.join(foreign[:5])}); choose another --output, "
                         "nothing there is overwritten")
    if not (overwrite or (earlier_demo and _is_sweep_run_of(path, path.name))):
        raise UsageError(f"{path} already exists; pass --overwrite to replace it, or choose another --output")
    return True


def _is_sweep_run_of(path: Path, task: str) -> bool:
    """Whether ``path`` holds a sweep run folder of ``task`` (as the demo writes)."""
    try:
        config = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("kind") == "sweep" and config.get("task") == task


def _cache(args) -> int:
    from .data import cache

    if args.action == "clear":
        files, size = cache.clear_cache(args.kind)
        print(f"removed {files} cache file(s), {size / 1e6:.1f} MB, from {cache.cache_dir()}")
        return 0
    entries = cache.cache_entries(args.kind)
    print(f"feature cache: {cache.cache_dir()} ({len(entries)} file(s), {sum(p.stat().st_size for p in entries) / 1e6:.1f} MB)")
    return 0


def _sweep(args) -> int:
    from .tasks.sweep import summarise, sweep
    from .runs.provenance import now
    from .runs.sweep import save_sweep_run

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


def _positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give an integer >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error instead of one line")
    parser = _Parser(prog="flowalign", description="Align representations with conditional flows. A mistake in the "
                     "arguments prints one line and exits with status 2 (--debug: the traceback).", parents=[debug])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", parents=[debug], help="list plugins, their registered factories and load errors")
    p.add_argument("--kind", help="only this kind (modality, coupling, bridge, analysis, task)")
    p.set_defaults(func=_plugins)
    d = sub.add_parser(
        "demo", parents=[debug], help="run the main job on embedded defaults, print scores, save run folders and HTML reports",
        description="Both MNIST tasks of the flowalign_vision plugin (mnist_effnet_to_cnn, mnist_text_to_image) at one "
                    "label fraction, with exemplar and ot+prototype against end_to_end and the ceiling. Prints the scores, "
                    "then saves each task's run under OUTPUT/<task>/ (the best flow cell fitted in detail) and writes its "
                    "HTML report OUTPUT/<task>.html; --no-report only prints. A rerun replaces the run folders of an "
                    "earlier demo in OUTPUT (and says so); any other existing folder there is refused unless --overwrite.")
    d.add_argument("--fraction", type=float, default=0.1, help="label fraction in (0, 1] (default 0.1)")
    d.add_argument("--seeds", type=_positive_int, default=1, help="number of seeds (default 1)")
    d.add_argument("--steps", type=_positive_int, default=800, help="flow training steps (default 800)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                   help="save a run folder per task and its HTML report (default); --no-report only prints the scores")
    d.add_argument("--output", default="runs/demo",
                   help="folder of the run folders, OUTPUT/<task>/, and reports, OUTPUT/<task>.html (default runs/demo)")
    d.add_argument("--overwrite", action="store_true", help="replace existing run folders in OUTPUT")
    d.add_argument("--threads", type=_positive_int, default=1,
                   help="torch CPU threads (default 1: these small networks run fastest on one thread of a shared CPU)")
    d.set_defaults(func=_demo)
    from .tasks.sweep import DEFAULT_FRACTIONS, DEFAULT_METHODS

    w = sub.add_parser("sweep", parents=[debug], help="label-fraction x seed x method sweep of a registered task")
    w.add_argument("task", help="registered task name (see `flowalign plugins --kind task`)")
    w.add_argument("--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS))
    w.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    w.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), help="'coupling', 'coupling+bridge', ridge, procrustes, end_to_end, ceiling")
    w.add_argument("--steps", type=_positive_int, default=800, help="flow training steps (default 800)")
    w.add_argument("--output", default="runs/sweep", help="run folder; finished cells there are skipped (default runs/sweep)")
    w.add_argument("--scheduler", help="run cells on Dask: 'local' (a LocalCluster) or a scheduler address, e.g. tcp://host:8786")
    w.add_argument("--workers", type=_positive_int, default=2, help="worker processes of a local cluster (default 2)")
    w.add_argument("--quiet", action="store_true", help="no progress bars")
    w.set_defaults(func=_sweep)
    f = sub.add_parser("fit", parents=[debug], help="fit one (task, method, label fraction, seed) cell in detail and save a run folder")
    f.add_argument("task", help="registered task name (see `flowalign plugins --kind task`)")
    f.add_argument("--method", required=True, help="a flow: 'coupling' or 'coupling+bridge', e.g. exemplar, ot+prototype")
    f.add_argument("--fraction", type=float, required=True, help="label fraction in (0, 1]")
    f.add_argument("--seed", type=int, default=0, help="seed of the split, label masks and flow (default 0)")
    f.add_argument("--steps", type=_positive_int, default=800, help="flow training steps (default 800; 'steps' in --flow-options wins)")
    f.add_argument("--flow-options", type=_json_options, default={}, help="FlowAligner options as JSON, e.g. '{\"batch_size\": 128}'")
    f.add_argument("--task-options", type=_json_options, default={}, help="task factory options as JSON")
    f.add_argument("--output", default="runs/fit", help="run folder (default runs/fit); an existing run there is refused unless --overwrite")
    f.add_argument("--overwrite", action="store_true", help="replace an existing fit run folder at --output")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_fit)
    r = sub.add_parser("report", parents=[debug], help="write a self-contained HTML report of a run folder (a fit or a sweep)")
    r.add_argument("run_dir", help="run folder (flowalign fit, flowalign sweep, flowalign demo)")
    r.add_argument("-o", "--output", help="HTML file (default <run_dir>.html); an existing file is refused unless --overwrite")
    r.add_argument("--overwrite", action="store_true", help="replace an existing report file")
    r.add_argument("--with-code", action="store_true", help="keep the report notebook's code cells")
    r.add_argument("--timeout", type=_positive_int, default=1200, help="seconds each report cell may run (default 1200)")
    r.set_defaults(func=_report)
    c = sub.add_parser("cache", parents=[debug], help="the feature cache: where it is and how big (info), or empty it (clear)",
                       description="Features and trained helper models are cached under $FLOWALIGN_CACHE_DIR, else "
                                   "$XDG_CACHE_HOME/flowalign_nb, else ~/.cache/flowalign_nb. 'clear' removes the cache's "
                                   "own files (named by their content key) and leaves anything else there.")
    c.add_argument("action", choices=("info", "clear"), help="info: folder, files and size; clear: remove the cached files")
    c.add_argument("--kind", help="only this part of the cache, e.g. features, autoencoder, simulated")
    c.set_defaults(func=_cache)
    return parser


def main(argv=None) -> int:
    """Run the ``flowalign`` command; returns the exit status (2 for a mistake in the arguments or inputs)."""
    args = build_parser().parse_args(argv)
    if getattr(args, "debug", False):
        return args.func(args)
    try:
        return args.func(args)
    except _user_errors() as exc:
        message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
        print(f"flowalign {args.command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

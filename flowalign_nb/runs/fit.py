"""One (task, method, label fraction, seed) cell fitted in detail and saved as a fit run folder.

:func:`fit_run` does what :func:`flowalign_nb.tasks.sweep.run_cell` does for a flow method (same
label masks: seed ``seed`` for the source, ``seed + 1000`` for the target; same aligner seed, so
the same headline score) and keeps what a report needs: the aligner's weights and training loss,
the coupling plan among items ordered by class, every registered analysis before and after
alignment, the task's report images and a provenance record. The folder layout is described in
:mod:`flowalign_nb.runs.folder`.
"""

from __future__ import annotations

import json
import shlex
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..align.aligner import FlowAligner
from ..analysis.compare import AnalysisSkippedWarning, compare
from ..analysis.coupling_plan import training_plan_view
from ..analysis.inputs import NotApplicableError
from ..analysis.plots import plot_comparison
from ..data.model import labelled_mask, make_representation
from ..tasks.sweep import COLUMNS
from ..tasks.task import TARGET_LABEL_SEED_OFFSET, TaskData, parse_method, run_cell, task_images
from ..plugins import get_registry, make
from .provenance import describe_representations, now, recording_inputs, write_provenance
from .plots import plot_plan, plot_training
from ..analysis.plots import plot_images
from .folder import RUN_FILE, RUN_FORMAT, RUN_VERSION
from ..safeio import atomic_folder, write_json

FIT_FILES = (RUN_FILE, "scores.csv", "results.nc", "analyses.csv", "aligner", "figures", "provenance.json")
#: items per side (at most) of the plan shown in the coupling diagnostics
PLAN_ITEMS = 256
#: most stimuli of the paired-items RSA: its bootstrap costs O(n^2 log n) per sample (1,000 stimuli: 0.2 s a
#: sample, minutes for the 1,000 samples; 200: seconds)
PAIRED_RSA_STIMULI = 200


def check_options(name: str, options) -> dict:
    """``options`` as a JSON-able dict (``None`` -> ``{}``); raises ValueError naming a bad value."""
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise ValueError(f"{name}={options!r} is not allowed; give a dict of keyword options")
    try:
        return json.loads(json.dumps(options, sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={options!r} cannot be recorded in run.json ({exc}); use JSON values") from None


def check_cell(fraction, seed) -> None:
    """Raise ValueError unless ``fraction`` is in (0, 1] and ``seed`` is an integer >= 0."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction={fraction!r} is not allowed; it must be a number in (0, 1]")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} is not allowed; it must be an integer >= 0")


def fit_command(task: str, method: str, fraction: float, seed: int, task_options: dict, flow_options: dict) -> list[str]:
    """The ``flowalign fit`` arguments (without ``--output``) that re-create a fit."""
    command = ["flowalign", "fit", task, "--method", method, "--fraction", repr(float(fraction)), "--seed", str(seed)]
    for flag, options in (("--task-options", task_options), ("--flow-options", flow_options)):
        if options:
            command += [flag, json.dumps(options, sort_keys=True)]
    return command


def data_representations(data: TaskData, prefix: str = "") -> dict:
    """The representations of a task split (``source``, ``target``, ``source_test`` and any in ``extra``), by name."""
    named = {"source": data.source, "target": data.target, "source_test": data.source_test}
    named.update({f"extra/{k}": v for k, v in data.extra.items() if isinstance(v, xr.DataArray)})
    return {f"{prefix}{k}": v for k, v in named.items()}


def fit_run(task: str, method: str, fraction: float, seed: int = 0, output="runs/fit", *, task_options=None,
            flow_options=None, progress: bool = False) -> Path:
    """Fit one cell of a registered task with a flow and save it as a fit run folder.

    Parameters
    ----------
    task : str
        A registered task name (``flowalign plugins --kind task``); a name keeps the run reproducible.
    method : str
        A flow method, ``"<coupling>"`` or ``"<coupling>+<bridge>"`` (see :func:`flowalign_nb.tasks.sweep.parse_method`).
    fraction : float in (0, 1]
        Share of training items labelled (stratified).
    seed : int >= 0
    output : path
        The run folder, written atomically; an existing folder is replaced only if it holds
        nothing but a fit run's files.
    task_options, flow_options : dict, optional
        Keyword options of the task factory and of :class:`~flowalign_nb.FlowAligner` (JSON values).
    progress : bool
        Show the training progress bar.

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    ValueError
        For a baseline method (a fit trains a flow), an unknown method, a bad fraction or seed,
        options that are not JSON, or flow options that set ``coupling``, ``bridge`` or ``seed``.
    """
    started = now()
    check_cell(fraction, seed)
    spec = parse_method(method)
    if "baseline" in spec:
        raise ValueError(f"method {method!r} is a baseline; a fit trains a flow: use 'coupling' or 'coupling+bridge' "
                         "(end_to_end and ceiling are in every fit's headline table; `flowalign sweep` scores the others)")
    task_options, flow_options = check_options("task_options", task_options), check_options("flow_options", flow_options)
    flow_options.pop("progress", None)
    fixed = sorted({"coupling", "bridge", "seed"} & set(flow_options))
    if fixed:
        raise ValueError(f"flow_options may not set {fixed}: the method names the coupling and bridge, and the cell's seed seeds the flow")
    task_object = make("task", task, **task_options)
    with recording_inputs() as inputs:
        data = task_object.load(seed)
    src, tgt = task_object.mask(data, fraction, seed)
    start = time.perf_counter()
    aligner = FlowAligner(coupling=spec["coupling"], bridge=spec["bridge"], seed=seed, **{**flow_options, "progress": progress})
    moved = aligner.fit(src, tgt).transform(data.source_test)
    scores = {method: {**task_object.score(moved, data), "seconds": time.perf_counter() - start}}
    for baseline in ("end_to_end", "ceiling"):
        scores[baseline] = run_cell(task_object, data, baseline, fraction, seed)
    rows = [dict(task=task, method=m, fraction=fraction, seed=seed, metric=metric, value=float(value), seconds=result["seconds"], error="")
            for m, result in scores.items() for metric, value in result.items() if metric != "seconds"]
    analyses = analyse(data, moved)
    images = task_images(task_object, moved, data, task)
    results = xr.Dataset({"loss": ("step", aligner.history_.astype(np.float64)),
                          "plan": coupling_diagnostics(aligner, data, seed=seed)})
    for k, (title, stack) in enumerate(images):
        dims = [f"image_{k}_{d}" for d in ("item", "y", "x", "channel")[: stack.ndim]]
        results[f"image_{k}"] = xr.DataArray(stack, dims=dims, attrs={"title": title})
    registry = get_registry("analysis")
    config = {
        "format": RUN_FORMAT, "version": RUN_VERSION, "kind": "fit", "task": task, "task_options": task_options,
        "metric": task_object.metric, "method": method, "coupling": spec["coupling"], "bridge": spec["bridge"],
        "fraction": float(fraction), "seed": int(seed), "flow_options": flow_options,
        "modalities": {"source": modality_record(data.source), "target": modality_record(data.target)},
        "n_labelled": {"source": int(labelled_mask(src).sum()), "target": int(labelled_mask(tgt).sum())},
        "analyses": [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in registry.entries()],
        "command": fit_command(task, method, fraction, seed, task_options, flow_options),
    }
    with atomic_folder(output, FIT_FILES) as tmp:
        write_json(tmp / RUN_FILE, config)
        pd.DataFrame(rows, columns=COLUMNS).to_csv(tmp / "scores.csv", index=False)
        results.to_netcdf(tmp / "results.nc")
        analyses.to_csv(tmp / "analyses.csv", index=False)
        aligner.save(tmp / "aligner")
        figures = {"training": plot_training(aligner.history_), "plan": plot_plan(results["plan"], f"coupling {method}"),
                   "comparison": compare_figure(analyses)}
        if images:
            figures["images"] = plot_images(images)
        (tmp / "figures").mkdir()
        for name, figure in figures.items():
            figure.savefig(tmp / "figures" / f"{name}.png", dpi=110)
        write_provenance(tmp, inputs=inputs, representations=describe_representations(data_representations(data)),
                         device=aligner.device_, started=started, command=shlex.join(config["command"]),
                         seeds={"split": seed, "source_labels": seed, "target_labels": seed + TARGET_LABEL_SEED_OFFSET, "flow": seed})
    return Path(output)


def modality_record(rep: xr.DataArray) -> dict:
    """``{"modality", "model", "items", "neuroids"}`` of a representation, for run.json."""
    return {"modality": str(rep.attrs.get("modality", "")), "model": str(rep.attrs.get("model", "")),
            "items": rep.sizes["presentation"], "neuroids": rep.sizes["neuroid"]}


def coupling_diagnostics(aligner: FlowAligner, data: TaskData, size: int = PLAN_ITEMS, seed: int = 0) -> xr.DataArray:
    """The plan the fitted coupling's training sampled from, among up to ``size`` items per side, ordered by class.

    :func:`flowalign_nb.analysis.coupling_plan.training_plan_view` of ``aligner.coupling_`` on the
    training representations: the restriction of the full plan when training drew every batch from
    one, otherwise the plan of the last training minibatch; attrs ``plan_kind`` / ``plan_source``
    say which, and ``same_class_share`` / ``chance_share`` are computed from that plan. Ground-truth
    labels are an evaluation here; the coupling saw only ``is_labelled`` ones.

    Parameters
    ----------
    aligner : FlowAligner
        Fitted on ``data.source`` and ``data.target`` (masked).
    data : TaskData
    size : int
    seed : int

    Returns
    -------
    DataArray, dims ("source_item", "target_item")
    """
    return training_plan_view(aligner.coupling_, data.source, data.target, size=size, seed=seed)


def class_mean_items(rep: xr.DataArray) -> xr.DataArray:
    """One item per class: the mean of its items, with stimulus id ``"class <label>"`` (for class-level RSA)."""
    labels = pd.Series(rep["label"].values)
    classes = sorted(labels.unique().tolist(), key=str)
    values = np.stack([rep.values[(labels == c).to_numpy()].mean(0) for c in classes])
    return make_representation(values, [f"class {c}" for c in classes], classes,
                               neuroid_id=rep["neuroid_id"].values if "neuroid_id" in rep.coords else None, **rep.attrs)


def analyse(data: TaskData, moved: xr.DataArray) -> pd.DataFrame:
    """Every registered analysis before and after alignment, at the levels that apply.

    - ``items``: :func:`flowalign_nb.compare` of ``data.source_test`` / ``moved`` with the target
      training items (every registered analysis; those that do not apply are noted);
    - ``paired items``: RSA with ``data.extra["target_test"]`` over the stimuli it shares with
      ``data.source_test`` (tasks that show both spaces the same stimuli);
    - ``class means``: RSA of the class-mean RDMs (applies even when the spaces share no stimuli).

    Returns
    -------
    pandas.DataFrame
        :func:`flowalign_nb.compare`'s rows with a ``level`` column.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalysisSkippedWarning)
        parts = [compare(data.source_test, moved, data.target).table.assign(level="items")]
    paired = data.extra.get("target_test")
    if isinstance(paired, xr.DataArray):
        total = int(np.isin(data.source_test["stimulus_id"].values, paired["stimulus_id"].values).sum())
        shared = paired_subset(data.source_test, paired)
        if len(shared) >= 3:
            sub = [rep.isel(presentation=np.flatnonzero(np.isin(rep["stimulus_id"].values, shared)))
                   for rep in (data.source_test, moved, paired)]
            rows = compare(*sub, analyses=["rsa"]).table.assign(level="paired items")
            if len(shared) < total:
                counts = sorted(set(pd.Series(sub[0]["label"].values).value_counts()))
                rows["note"] = (f"RSA over {len(shared)} of the {total} paired stimuli, {'-'.join(map(str, counts))} per class "
                                "(drawn at random, seed 0: the bootstrap over all of them would take minutes)")
            parts.append(rows)
    try:
        means = compare(class_mean_items(data.source_test), class_mean_items(moved), class_mean_items(data.target), analyses=["rsa"]).table
    except NotApplicableError as exc:
        means = pd.DataFrame([{"analysis": "rsa", "condition": c, "metric": "", "value": np.nan, "note": str(exc)}
                              for c in ("before", "after")])
    parts.append(means.assign(level="class means"))
    return pd.concat(parts, ignore_index=True)


def paired_subset(source_test: xr.DataArray, paired: xr.DataArray, size: int = PAIRED_RSA_STIMULI, seed: int = 0) -> np.ndarray:
    """The stimuli of ``source_test`` that ``paired`` shows too, at most ``size`` of them, stratified by class.

    With more than ``size`` shared stimuli, each class keeps its share of ``size``, drawn as
    :func:`sklearn.model_selection.train_test_split` with ``stratify`` draws them (``random_state=seed``).

    Returns
    -------
    numpy.ndarray, shape (min(n_shared, size),)
        Sorted stimulus ids.
    """
    from sklearn.model_selection import train_test_split

    ids = source_test["stimulus_id"].values
    shared = np.isin(ids, paired["stimulus_id"].values)
    kept = ids[shared]
    if len(kept) > size:
        kept = train_test_split(kept, train_size=size, stratify=source_test["label"].values[shared], random_state=seed)[0]
    return np.sort(kept)


def compare_figure(analyses: pd.DataFrame):
    """:func:`flowalign_nb.analysis.plots.plot_comparison` of the rows that have a value, panels named with their level."""
    shown = analyses[np.isfinite(analyses["value"].astype(float))]
    return plot_comparison(shown.assign(analysis=shown["analysis"] + "\n" + shown["level"]))

"""Run folders: a fit or a sweep saved with its config, results, weights, figures and provenance.

A **fit** folder (written by :func:`flowalign_nb.runs.fit.fit_run`, ``flowalign fit``)::

    run.json               config: kind "fit", task (+ options), method, coupling, bridge, fraction,
                           seed, flow options, modalities, analyses, the command that made it
    scores.csv             tidy headline scores of the method, end_to_end and ceiling
    results.nc             training loss per step, the coupling plan among items ordered by class,
                           the task's report images (if any)
    analyses.csv           every registered analysis before/after alignment (flowalign_nb.compare)
    aligner/               the FlowAligner: aligner.json + weights.safetensors
    figures/*.png          training.png, plan.png, comparison.png, images.png (if any)
    provenance.json        see flowalign_nb.runs.provenance

A **sweep** folder (written by :func:`flowalign_nb.runs.sweep.save_sweep_run`)::

    run.json               config: kind "sweep", task (+ options), methods, fractions, seeds, flow options
    sweep.csv, sweep.nc    the tidy table and its cube (flowalign_nb.runs.results.save_sweep)
    sweep*.png             score against label fraction
    sweep.json, cells/     finished cells, when the sweep ran with run_dir (resumable)
    fits/<name>/           fit folders of chosen cells, in detail
    provenance.json

:func:`load_run` reads either, after checking every recorded file against its SHA-256; a folder of
an older format, or one that was changed, fails with :class:`RunFolderError` naming the file.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from .provenance import PROVENANCE_FILE, verify
from ..safeio import SavedFileError, read_json, recover_folder

RUN_FORMAT, RUN_VERSION = "flowalign_nb.run", 1
RUN_FILE = "run.json"
FIT_REQUIRED = (RUN_FILE, "scores.csv", "results.nc", "analyses.csv", "aligner/aligner.json", "aligner/weights.safetensors")
SWEEP_REQUIRED = (RUN_FILE, "sweep.csv")
#: config keys every run.json has, and their types
COMMON_KEYS = {"kind": str, "task": str, "task_options": dict, "metric": str, "flow_options": dict,
               "modalities": dict, "command": list}
KIND_KEYS = {
    "fit": {"method": str, "coupling": str, "fraction": float, "seed": int, "analyses": list, "n_labelled": dict},
    "sweep": {"methods": list, "fractions": list, "seeds": list, "fits": list},
}


class RunFolderError(SavedFileError):
    """A run folder that is missing, of an older format, incomplete or changed after it was written."""


@dataclass
class Run:
    """A verified run folder, read into memory.

    Attributes
    ----------
    path : pathlib.Path
    config : dict
        ``run.json``.
    provenance : dict
        ``provenance.json``.
    scores : pandas.DataFrame
        Tidy rows (``task, method, fraction, seed, metric, value, seconds, error``): a fit's
        ``scores.csv`` or a sweep's ``sweep.csv``.
    results : xarray.Dataset or None
        A fit's ``results.nc`` (``loss``, ``plan``, ``image_<k>``).
    analyses : pandas.DataFrame or None
        A fit's ``analyses.csv``.
    fits : list of Run
        A sweep's detailed fits.
    """

    path: Path
    config: dict
    provenance: dict
    scores: pd.DataFrame
    results: xr.Dataset | None = None
    analyses: pd.DataFrame | None = None
    fits: list = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.config["kind"]

    def command(self, output) -> str:
        """The shell command that re-creates this run into the folder ``output``."""
        return shlex.join([*self.config["command"], "--output", str(output)])


def load_run(path) -> Run:
    """Read and verify a run folder (a fit or a sweep, with its fits).

    Parameters
    ----------
    path : path

    Returns
    -------
    Run

    Raises
    ------
    RunFolderError
        Naming the file and the problem: no such folder; a folder of an older flowalign_nb (a sweep
        folder without ``run.json``, a saved aligner); a missing, corrupt or other-version
        ``run.json`` or ``provenance.json``; a config key missing or of the wrong type; a file
        missing or changed since the run was written (SHA-256); a results file that cannot be read.
    """
    path = recover_folder(path)
    if not path.is_dir():
        raise RunFolderError(f"{path}: no such run folder")
    config_path = path / RUN_FILE
    if not config_path.exists():
        raise RunFolderError(_older_format(path))
    try:
        config = read_json(config_path, RUN_FORMAT, RUN_VERSION)
        _check_config(config_path, config)
        provenance = verify(path, FIT_REQUIRED if config["kind"] == "fit" else SWEEP_REQUIRED)
    except SavedFileError as exc:
        raise exc if isinstance(exc, RunFolderError) else RunFolderError(str(exc)) from None
    if config["kind"] == "fit":
        return Run(path, config, provenance, _read(path / "scores.csv", pd.read_csv),
                   _read(path / "results.nc", xr.load_dataset), _read(path / "analyses.csv", pd.read_csv))
    missing = [fit for fit in config["fits"] if f"{fit}/{RUN_FILE}" not in provenance["files"]]
    if missing:
        raise RunFolderError(f"{path / PROVENANCE_FILE}: does not record the fit folder(s) {missing} that run.json lists")
    return Run(path, config, provenance, _read(path / "sweep.csv", pd.read_csv),
               fits=[load_run(path / fit) for fit in config["fits"]])


def _older_format(path: Path) -> str:
    if (path / "sweep.json").exists() or (path / "sweep.csv").exists():
        return (f"{path}: a sweep folder from before run records (it has no {RUN_FILE} and no {PROVENANCE_FILE}); "
                "re-run the sweep with this flowalign_nb to get a run folder that can be reported")
    if (path / "aligner.json").exists():
        return f"{path}: a saved FlowAligner (aligner.json), not a run folder; `flowalign fit` writes a run folder"
    return f"{path}: no {RUN_FILE}; not a flowalign_nb run folder (written by `flowalign fit` or a sweep run)"


def _check_config(config_path: Path, config: dict) -> None:
    kind = config.get("kind")
    if kind not in KIND_KEYS:
        raise RunFolderError(f"{config_path}: 'kind' is {kind!r}; expected one of {sorted(KIND_KEYS)}")
    for key, kind_type in {**COMMON_KEYS, **KIND_KEYS[kind]}.items():
        value = config.get(key)
        accepted = (int, float) if kind_type is float else kind_type
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise RunFolderError(f"{config_path}: '{key}' is {value!r}; a {kind} run needs a {kind_type.__name__} there")


def _read(path: Path, reader):
    try:
        return reader(path)
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
        raise RunFolderError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None

"""Before/after-alignment comparison: every registered analysis on (source, target) and (moved, target)."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from ..data import RepresentationError, validate
from ..plugins import get_registry, make
from .inputs import NotApplicableError
from .plots import plot_comparison

CONDITIONS = ("before", "after")


class AnalysisSkippedWarning(UserWarning):
    """A registered analysis did not apply to the inputs of :func:`compare` and was left out."""


class Comparison(NamedTuple):
    """What :func:`compare` returns; unpacks as ``table, figure``.

    Attributes
    ----------
    table : pandas.DataFrame
        The analyses' rows with ``analysis`` and ``condition`` (``"before"``: source vs target,
        ``"after"``: moved vs target) in front and a ``note`` saying why an analysis did not apply.
    figure : matplotlib.figure.Figure
        :func:`flowalign_nb.analysis.plots.plot_comparison` of the table.
    """

    table: pd.DataFrame
    figure: Figure


def compare(source: xr.DataArray, moved: xr.DataArray, target, analyses=None) -> Comparison:
    """Run analyses on (source vs target) and (moved vs target), one tidy table plus a figure.

    Parameters
    ----------
    source : DataArray (n, d_s)
        Source items before alignment.
    moved : DataArray (n, d_t)
        The same items transported to the target space (``aligner.transform(source)``).
    target : DataArray (m, d_t), or a list of them (repetitions or subjects, where an analysis
        takes several)
        The reference.
    analyses : None, list of str, or dict of {name: options}
        Registered analysis names (``fa.list_plugins()``, kind ``analysis``), with keyword options
        for their factories. ``None`` runs every registered analysis and notes (with an
        :class:`AnalysisSkippedWarning`) the ones that do not apply to these inputs, such as RSA
        when source and target share no stimuli; a named analysis that does not apply raises.

    Returns
    -------
    Comparison
        ``(table, figure)``.

    Raises
    ------
    RepresentationError
        If ``moved`` does not hold the stimuli of ``source``.
    flowalign_nb.registry.UnknownNameError
        For an analysis name nobody registered (the message lists the known ones).
    TypeError
        If an analysis does not return a DataFrame with ``metric`` and ``value`` columns.
    """
    validate(source)
    validate(moved)
    if set(source["stimulus_id"].values.tolist()) != set(moved["stimulus_id"].values.tolist()):
        raise RepresentationError(
            "moved must hold the same stimuli as source (moved = aligner.transform(source)); "
            f"their stimulus_ids differ ({source.sizes['presentation']} vs {moved.sizes['presentation']} items)"
        )
    explicit = analyses is not None
    parts = []
    for name, options in _specs(analyses):
        analysis = make("analysis", name, **options)
        for condition, a in zip(CONDITIONS, (source.rename("source"), moved.rename("moved"))):  # names for messages
            try:
                part = _checked(analysis(a, target), name)
            except NotApplicableError as exc:
                if explicit:
                    raise
                if condition == CONDITIONS[0]:
                    warnings.warn(f"analysis {name!r} left out: {exc}", AnalysisSkippedWarning, stacklevel=2)
                part = pd.DataFrame([{"metric": "", "value": float("nan"), "note": str(exc)}])
            parts.append(part.assign(analysis=name, condition=condition))
    table = pd.concat(parts, ignore_index=True)
    table["note"] = table["note"].fillna("") if "note" in table else ""
    front = ["analysis", "condition", "metric", "value"]
    table = table[front + [c for c in table.columns if c not in front]]
    return Comparison(table, plot_comparison(table))


def _specs(analyses) -> list[tuple[str, dict]]:
    if analyses is None:
        return [(name, {}) for name in get_registry("analysis").names()]
    if isinstance(analyses, dict):
        for name, options in analyses.items():
            if not isinstance(options, dict):
                raise TypeError(f"analyses[{name!r}] must be a dict of options, got {type(options).__name__}")
        return list(analyses.items())
    if isinstance(analyses, (list, tuple)) and all(isinstance(n, str) for n in analyses):
        return [(name, {}) for name in analyses]
    raise TypeError(f"analyses must be None, a list of analysis names or a dict {{name: options}}; got {analyses!r}")


def _checked(part, name: str) -> pd.DataFrame:
    if not isinstance(part, pd.DataFrame) or not {"metric", "value"} <= set(part.columns):
        raise TypeError(
            f"analysis {name!r} returned {type(part).__name__}; an analysis returns a pandas.DataFrame "
            "with at least the columns 'metric' and 'value' (see flowalign_register_analyses)"
        )
    return part

"""Before/after-alignment comparison: every registered analysis on (source, target) and (moved, target)."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from ..data.model import RepresentationError, validate
from ..plugins import get_registry, make
from .inputs import NotApplicableError, Repetitions, Subjects, as_repetitions
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


def compare(source: xr.DataArray, moved: xr.DataArray, target: xr.DataArray | None = None, analyses=None, *,
            subjects=None, repetitions=None) -> Comparison:
    """Run analyses on (source vs target) and (moved vs target), one tidy table plus a figure.

    The reference is one of ``target`` (one representation), ``subjects`` or ``repetitions``: a list
    means different things to different analyses (RSA reads several RDMs as subjects, with a noise
    ceiling across them; transfer decoding and predictivity average repetitions), so a list is named
    by its keyword and a list passed as ``target`` is refused.

    Parameters
    ----------
    source : DataArray (n, d_s)
        Source items before alignment.
    moved : DataArray (n, d_t)
        The same items transported to the target space (``aligner.transform(source)``).
    target : DataArray (m, d_t), optional
        The reference.
    subjects : list of DataArray, optional
        Several subjects (or sessions) over shared stimuli, each with its own neuroids; passed to
        the analyses as :class:`~flowalign_nb.analysis.inputs.Subjects` (RSA: one RDM per subject;
        analyses of one space note that they do not apply).
    repetitions : list of DataArray, optional
        Repetitions of one recording (same stimuli and neuroids); passed as
        :class:`~flowalign_nb.analysis.inputs.Repetitions` (averaged by transfer decoding, repetitions
        of one RDM for RSA, the split-half ceiling of predictivity).
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
    ValueError
        Unless exactly one of ``target``, ``subjects``, ``repetitions`` is given, or when ``target`` is a list.
    flowalign_nb.registry.UnknownNameError
        For an analysis name nobody registered (the message lists the known ones).
    TypeError
        If an analysis does not return a DataFrame with ``metric`` and ``value`` columns.
    """
    reference = _reference(target, subjects, repetitions)
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
                part = _checked(analysis(a, reference), name)
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


def _reference(target, subjects, repetitions):
    """The one reference given, lists wrapped as Subjects or Repetitions."""
    if isinstance(target, (list, tuple)):
        raise ValueError(
            f"target is a list of {len(target)}; say what the list holds: compare(source, moved, subjects=[...]) "
            "for several subjects or sessions (RSA with a noise ceiling across them), or "
            "compare(source, moved, repetitions=[...]) for repetitions of one recording"
        )
    given = [name for name, value in (("target", target), ("subjects", subjects), ("repetitions", repetitions))
             if value is not None]
    if len(given) != 1:
        raise ValueError(f"compare needs exactly one reference: target=, subjects= or repetitions=; got {given or 'none'}")
    if subjects is not None:
        return Subjects(_as_list(subjects, "subjects"))
    if repetitions is not None:
        return Repetitions(as_repetitions(_as_list(repetitions, "repetitions"), "repetitions"))
    return target


def _as_list(value, name: str) -> list:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, xr.DataArray) for v in value):
        raise TypeError(f"{name} must be a non-empty list of representations (xarray.DataArray); got {type(value).__name__}")
    for v in value:
        validate(v)
    return list(value)


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

"""What the analyses accept: one representation or its repetitions, and stimuli shared by two inputs.

A representation has one presentation per stimulus (:func:`flowalign_nb.validate` refuses duplicate
``stimulus_id``), so **repetitions** of a recording are given as a sequence of representations over
the same stimuli, one per repetition (trial block, session). Analyses that pair two inputs use the
stimuli they share, in the order of the first input.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..data.model import RepresentationError, validate


class NotApplicableError(RepresentationError):
    """An analysis cannot run on these inputs (for example they share no stimuli).

    :func:`flowalign_nb.compare` notes such an analysis in its table and goes on when the analysis
    was not asked for by name.
    """


def as_repetitions(data, name: str) -> list[xr.DataArray]:
    """One representation, or repetitions of it, as a list in the stimulus order of the first.

    Parameters
    ----------
    data : DataArray (n_stimuli, n_neuroids) or sequence of them
        A sequence holds repetitions: the same stimuli and neuroids in each.
    name : str
        The argument's name, for error messages.

    Returns
    -------
    list of DataArray, each (n_stimuli, n_neuroids), presentations in the same order

    Raises
    ------
    TypeError
        For anything but a DataArray or a non-empty sequence of DataArrays.
    RepresentationError
        For an invalid representation, or repetitions that differ in stimuli or neuroid count.
    """
    if isinstance(data, xr.DataArray):
        return [validate(data)]
    if not isinstance(data, Sequence) or isinstance(data, str) or not data:
        raise TypeError(
            f"{name} must be a representation (xarray.DataArray with dims ('presentation', 'neuroid')) "
            f"or a non-empty list of them (repetitions); got {type(data).__name__}"
        )
    for k, rep in enumerate(data):
        if not isinstance(rep, xr.DataArray):
            raise TypeError(f"{name}[{k}] must be an xarray.DataArray representation, got {type(rep).__name__}")
        validate(rep)
    first = data[0]
    ids = first["stimulus_id"].values
    out = [first]
    for k, rep in enumerate(data[1:], start=1):
        if rep.sizes["neuroid"] != first.sizes["neuroid"]:
            raise RepresentationError(
                f"{name}[{k}] has {rep.sizes['neuroid']} neuroids but {name}[0] has {first.sizes['neuroid']}; "
                "repetitions must record the same neuroids"
            )
        other = pd.Index(rep["stimulus_id"].values)
        missing = pd.Index(ids).difference(other)
        extra = other.difference(pd.Index(ids))
        if len(missing) or len(extra):
            bad = list(missing[:3]) if len(missing) else list(extra[:3])
            raise RepresentationError(
                f"{name}[{k}] does not show the same stimuli as {name}[0] "
                f"({len(missing)} missing, {len(extra)} extra, e.g. {[str(b) for b in bad]}); "
                "repetitions must cover the same stimulus_ids"
            )
        out.append(rep.isel(presentation=other.get_indexer(ids)))
    return out


def averaged(data, name: str) -> xr.DataArray:
    """One representation: ``data`` itself, or the mean of its repetitions (coords of the first).

    Parameters
    ----------
    data : DataArray (n_stimuli, n_neuroids) or sequence of them (see :func:`as_repetitions`)
    name : str

    Returns
    -------
    xarray.DataArray, (n_stimuli, n_neuroids)
    """
    reps = as_repetitions(data, name)
    if len(reps) == 1:
        return reps[0]
    return reps[0].copy(data=np.mean([r.values for r in reps], axis=0))


def shared_stimuli(ids_a, ids_b, minimum: int, what: str) -> np.ndarray:
    """The stimulus ids in both ``ids_a`` and ``ids_b``, in the order of ``ids_a``.

    Parameters
    ----------
    ids_a, ids_b : array_like of str
    minimum : int
        Fewest shared stimuli the analysis can use.
    what : str
        The analysis, for the error message.

    Raises
    ------
    NotApplicableError
        With fewer than ``minimum`` shared stimuli.
    """
    ids_a = np.asarray(ids_a)
    shared = ids_a[pd.Index(ids_a).isin(pd.Index(ids_b))]
    if len(shared) < minimum:
        raise NotApplicableError(
            f"{what} needs at least {minimum} stimuli shown to both inputs (matched by stimulus_id); "
            f"they share {len(shared)} of {len(ids_a)} and {len(ids_b)}"
        )
    return shared


def select(rep: xr.DataArray, ids) -> xr.DataArray:
    """The presentations of ``rep`` with stimulus ids ``ids``, in that order."""
    return rep.isel(presentation=pd.Index(rep["stimulus_id"].values).get_indexer(ids))


def labels_of(rep: xr.DataArray, coord: str, name: str) -> np.ndarray:
    """The values of presentation coord ``coord`` of ``rep``, which must exist and have no gaps.

    Raises
    ------
    RepresentationError
        Naming the missing coord (and the presentation coords there are) or the first item with
        no value.
    """
    if coord not in rep.coords or rep[coord].dims != ("presentation",):
        have = sorted(str(c) for c, v in rep.coords.items() if v.dims == ("presentation",))
        raise RepresentationError(f"{name} has no presentation coord {coord!r}; its presentation coords are {have}")
    values = rep[coord].values
    missing = pd.isna(values)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise RepresentationError(
            f"{name} has no {coord!r} for stimulus_id={str(rep['stimulus_id'].values[i])!r} "
            f"({int(missing.sum())} missing); every item needs one"
        )
    return values


def plain(values):
    """numpy scalars (or an array of them) as Python values, so messages read 'a', not np.str_('a')."""
    return np.asarray(values).tolist()


def check_choice(name: str, value, allowed) -> None:
    """Raise ``ValueError`` naming ``value`` and the ``allowed`` ones unless ``value in allowed``."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; use one of {', '.join(map(repr, allowed))}")


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int, refusing bools, non-integers and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= {minimum}")
    return int(value)


def check_level(name: str, value) -> float:
    """A confidence level in (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; it must be a number in (0, 1), e.g. 0.95")
    return float(value)


class Repetitions(list):
    """Repetitions of one recording (the same stimuli and neuroids), as :func:`flowalign_nb.compare` passes them.

    A list subclass, so an analysis that reads any list as repetitions needs no change; an analysis that
    reads a list as subjects (RSA) checks for this type.
    """


class Subjects(list):
    """Representations of several subjects (or sessions) over shared stimuli, as :func:`flowalign_nb.compare` passes them.

    Each element may have its own neuroids. RSA computes one RDM per subject (and a noise ceiling across them);
    analyses that need one space (transfer decoding, predictivity) do not apply to subjects.
    """


def renamed_keywords(where: str, deprecated: dict, accepted=None, **renames) -> dict:
    """Values passed under a keyword's old name, with a ``FutureWarning``, keyed by the new name.

    Parameters
    ----------
    where : str
        The function or class, for messages (``"fa.rsa"``).
    deprecated : dict
        The ``**deprecated`` keywords the caller received.
    accepted : iterable of str, optional
        The caller's options, for an analysis factory: an unknown keyword then raises the ``ValueError``
        that :func:`flowalign_nb.make` raises for factories without ``**`` (a function raises ``TypeError``).
    **renames : tuple (new_name, value, default)
        For each old name: the new name, the value the caller got under the new name, and its default.

    Returns
    -------
    dict
        ``{new_name: value}`` for every old name given.

    Raises
    ------
    TypeError
        For a keyword that is neither an old name nor a parameter (as Python raises), or an old and a new
        name given together with different values.
    ValueError
        For an unknown keyword when ``accepted`` is given.
    """
    unknown = sorted(set(deprecated) - set(renames))
    if unknown and accepted is not None:
        raise ValueError(f"{where} got unknown option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}")
    if unknown:
        raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")
    out = {}
    for old, value in deprecated.items():
        new, current, default = renames[old]
        if current != default and current != value:
            raise TypeError(f"{where}() got both {old}= (deprecated) and {new}=; pass {new}= only")
        warnings.warn(f"{where}({old}=...) is deprecated and will be removed in the next release; use {new}=...",
                      FutureWarning, stacklevel=3)
        out[new] = value
    return out

"""The representation data model: validation, label masks, splits, and the tensors fits use.

A **representation** is an :class:`xarray.DataArray` with dims ``("presentation", "neuroid")``, the
Brain-Score convention, so a brainio ``NeuroidAssembly`` is accepted as is.

Presentation coords
    ``stimulus_id`` (required, unique), ``label`` (ground-truth class where known), ``is_labelled``
    (bool: the only labels an aligner may use).
Neuroid coords
    ``neuroid_id``, optional ``region`` / ``layer``.
Attrs
    ``modality``, ``model``, provenance.

**No label leak.** Fitting code reads labels only through :func:`known_labels`, which returns ``-1``
for every item whose ``is_labelled`` is False; the labels of those items never reach a fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import xarray as xr

DIMS = ("presentation", "neuroid")
UNLABELLED = -1


class RepresentationError(ValueError):
    """A representation, or a pair of them, that cannot be used; the message names the bad value."""


def make_representation(
    values,
    stimulus_id=None,
    label=None,
    is_labelled=None,
    neuroid_id=None,
    **attrs,
) -> xr.DataArray:
    """Build a validated representation from an array.

    Parameters
    ----------
    values : array_like, shape (n_presentations, n_neuroids)
    stimulus_id : sequence of str, optional
        Defaults to ``"s0", "s1", ...``.
    label : sequence, optional
        Ground-truth class per presentation.
    is_labelled : sequence of bool, optional
        Which labels an aligner may use; defaults to all False.
    neuroid_id : sequence of str, optional
        Defaults to ``"n0", "n1", ...``.
    **attrs
        Stored as DataArray attrs (``modality``, ``model``, ...).

    Returns
    -------
    xarray.DataArray, dims ("presentation", "neuroid")
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise RepresentationError(
            f"values must be 2-d (presentation x neuroid), got shape {values.shape}"
        )
    n, d = values.shape
    coords = {
        "stimulus_id": ("presentation", np.asarray(stimulus_id if stimulus_id is not None else [f"s{i}" for i in range(n)])),
        "neuroid_id": ("neuroid", np.asarray(neuroid_id if neuroid_id is not None else [f"n{j}" for j in range(d)])),
        "is_labelled": ("presentation", np.zeros(n, bool) if is_labelled is None else np.asarray(is_labelled)),
    }
    if label is not None:
        coords["label"] = ("presentation", np.asarray(label))
    return validate(xr.DataArray(values, dims=DIMS, coords=coords, attrs=attrs))


def as_representation(data: xr.DataArray, time_bin="mean") -> xr.DataArray:
    """Convert a brainio-style assembly (or any DataArray) to a plain, validated representation.

    MultiIndex coords on ``presentation`` / ``neuroid`` become plain coords; a ``time_bin`` dim is
    averaged (``time_bin="mean"``) or one bin is selected by position (``time_bin=i``). A missing
    ``is_labelled`` coord is added as all False.

    Parameters
    ----------
    data : xarray.DataArray
        dims ``("presentation", "neuroid")`` in any order, optionally with ``time_bin``.
    time_bin : "mean" or int

    Returns
    -------
    xarray.DataArray, dims ("presentation", "neuroid")
    """
    if not isinstance(data, xr.DataArray):
        raise RepresentationError(f"expected an xarray.DataArray, got {type(data).__name__}")
    if "time_bin" in data.dims:
        if time_bin == "mean":
            data = data.mean("time_bin", keep_attrs=True)
        elif isinstance(time_bin, (int, np.integer)) and not isinstance(time_bin, bool) and 0 <= time_bin < data.sizes["time_bin"]:
            data = data.isel(time_bin=int(time_bin))
        else:
            raise RepresentationError(
                f"time_bin={time_bin!r} is not allowed; use 'mean' or an index in [0, {data.sizes['time_bin']})"
            )
        data = data.drop_vars([c for c in data.coords if "time_bin" in data[c].dims or c.startswith("time_bin")], errors="ignore")
    for dim in DIMS:
        if dim in data.dims and dim in data.indexes and isinstance(data.indexes[dim], pd.MultiIndex):
            data = data.reset_index(dim)
    # A plain DataArray (not a subclass such as brainio's NeuroidAssembly), values copied.
    plain = xr.DataArray(data.values.copy(), dims=data.dims, coords={k: v for k, v in data.coords.items()}, attrs=dict(data.attrs))
    if set(plain.dims) == set(DIMS):
        plain = plain.transpose(*DIMS)
    if "is_labelled" not in plain.coords and "presentation" in plain.dims:
        plain = plain.assign_coords(is_labelled=("presentation", np.zeros(plain.sizes["presentation"], bool)))
    return validate(plain)


def validate(rep: xr.DataArray) -> xr.DataArray:
    """Check a representation; return it unchanged or raise :class:`RepresentationError`.

    Checks: dims are exactly ``("presentation", "neuroid")``, at least one presentation and neuroid,
    numeric finite values, a unique ``stimulus_id`` per presentation, a boolean ``is_labelled`` and a
    known ``label`` for every labelled item.
    """
    if not isinstance(rep, xr.DataArray):
        raise RepresentationError(f"expected an xarray.DataArray, got {type(rep).__name__}")
    if tuple(rep.dims) != DIMS:
        raise RepresentationError(
            f"wrong dims {tuple(rep.dims)}; a representation has dims {DIMS} "
            "(use flowalign_nb.as_representation for brainio assemblies with time_bin)"
        )
    if rep.sizes["presentation"] == 0 or rep.sizes["neuroid"] == 0:
        raise RepresentationError(f"empty representation of shape {rep.shape}")
    if not np.issubdtype(rep.dtype, np.number) or np.issubdtype(rep.dtype, np.complexfloating):
        raise RepresentationError(f"values must be real numbers, got dtype {rep.dtype}")
    bad = ~np.isfinite(rep.values)
    if bad.any():
        p, n = np.argwhere(bad)[0]
        raise RepresentationError(
            f"{int(bad.sum())} non-finite value(s) (NaN/inf), first {rep.values[p, n]} at "
            f"stimulus_id={_plain(_stimulus_ids(rep)[p])!r}, neuroid {n}; drop or impute them first"
        )
    ids = _stimulus_ids(rep)
    dup = pd.Index(ids)[pd.Index(ids).duplicated()]
    if len(dup):
        raise RepresentationError(
            f"duplicate stimulus_id {_plain(dup[0])!r} ({len(dup)} duplicate(s)); each presentation needs a "
            "unique id (average repetitions first)"
        )
    if "is_labelled" in rep.coords:
        mask = rep["is_labelled"].values
        if mask.dtype != bool:
            raise RepresentationError(f"is_labelled must be bool, got dtype {mask.dtype}")
        if mask.any():
            if "label" not in rep.coords:
                raise RepresentationError("is_labelled is True for some items but there is no 'label' coord")
            missing = pd.isna(rep["label"].values) & mask
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                raise RepresentationError(f"item stimulus_id={_plain(ids[i])!r} is_labelled but its label is missing")
    return rep


def _plain(value):
    """A numpy scalar as the Python value, so messages read 'im2', not np.str_('im2')."""
    return value.item() if isinstance(value, np.generic) else value


def _stimulus_ids(rep: xr.DataArray) -> np.ndarray:
    if "stimulus_id" not in rep.coords or rep["stimulus_id"].dims != ("presentation",):
        raise RepresentationError("missing 'stimulus_id' coord on the presentation dim")
    return rep["stimulus_id"].values


def labelled_mask(rep: xr.DataArray) -> np.ndarray:
    """Boolean array, shape (n_presentations,): the items whose labels may be used."""
    if "is_labelled" not in rep.coords:
        return np.zeros(rep.sizes["presentation"], bool)
    return rep["is_labelled"].values.astype(bool)


def labelled_classes(rep: xr.DataArray) -> list:
    """Sorted classes that have at least one labelled item."""
    mask = labelled_mask(rep)
    if not mask.any():
        return []
    return sorted(pd.unique(rep["label"].values[mask]).tolist(), key=str)


def known_labels(rep: xr.DataArray, classes: list) -> np.ndarray:
    """Class index of each labelled item, ``-1`` (:data:`UNLABELLED`) for every other item.

    This is the only way fitting code reads labels, so the labels of unlabelled items never reach
    a fit.

    Returns
    -------
    numpy.ndarray of int64, shape (n_presentations,)
    """
    mask = labelled_mask(rep)
    out = np.full(rep.sizes["presentation"], UNLABELLED, dtype=np.int64)
    if mask.any():
        index = {c: k for k, c in enumerate(classes)}
        labels = rep["label"].values[mask]
        unknown = sorted({str(c) for c in labels if c not in index})
        if unknown:
            raise RepresentationError(f"labelled class(es) {unknown} are not among the classes {classes}")
        out[mask] = [index[c] for c in labels]
    return out


MASK_MODES = ("stratified", "class")


def mask_labels(rep: xr.DataArray, fraction: float, seed: int = 0, by: str = "stratified") -> xr.DataArray:
    """Mark a ``fraction`` of the items (``by="stratified"``) or of the classes (``by="class"``) as labelled.

    ``"stratified"``: each class keeps ``max(1, round(fraction * n_k))`` labelled items, drawn at
    random with ``seed``, so every class has at least one.

    ``"class"``: ``max(1, round(fraction * K))`` of the ``K`` classes are drawn at random with
    ``seed`` and all their items are labelled; the other classes have no labelled item. Two spaces
    with the same class set and the same ``seed`` get the same labelled classes (the draw depends
    only on the sorted class set and the seed), which is how seen and unseen classes are defined
    for both.

    Parameters
    ----------
    rep : xarray.DataArray
        Needs a ``label`` coord (ground truth for every item).
    fraction : float in (0, 1]
    seed : int
    by : {"stratified", "class"}

    Returns
    -------
    xarray.DataArray
        A copy with a new ``is_labelled`` coord.
    """
    validate(rep)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) or not 0 < fraction <= 1:
        raise RepresentationError(f"fraction={fraction!r} is not allowed; it must be a number in (0, 1]")
    if by not in MASK_MODES:
        raise RepresentationError(f"by={by!r} is not allowed; choose one of {list(MASK_MODES)}")
    if "label" not in rep.coords:
        raise RepresentationError("mask_labels needs a 'label' coord with the class of every item")
    labels = rep["label"].values
    if pd.isna(labels).any():
        raise RepresentationError("mask_labels needs a label for every item; some labels are missing")
    rng = np.random.default_rng(seed)
    classes = sorted(pd.unique(labels).tolist(), key=str)
    if by == "class":
        k = max(1, int(round(fraction * len(classes))))
        chosen = [classes[i] for i in rng.choice(len(classes), size=k, replace=False)]
        return rep.copy().assign_coords(is_labelled=("presentation", np.isin(labels, chosen)))
    mask = np.zeros(len(labels), bool)
    for c in classes:
        members = np.flatnonzero(labels == c)
        k = max(1, int(round(fraction * len(members))))
        mask[rng.choice(members, size=k, replace=False)] = True
    return rep.copy().assign_coords(is_labelled=("presentation", mask))


def train_test_split(rep: xr.DataArray, test_fraction: float = 0.2, seed: int = 0) -> tuple[xr.DataArray, xr.DataArray]:
    """Split presentations into train and test, stratified by ``label`` when it is present.

    Returns
    -------
    (train, test) : tuple of xarray.DataArray
    """
    from sklearn.model_selection import train_test_split as _split

    validate(rep)
    if not 0 < test_fraction < 1:
        raise RepresentationError(f"test_fraction={test_fraction!r} is not allowed; it must be in (0, 1)")
    index = np.arange(rep.sizes["presentation"])
    stratify = rep["label"].values if "label" in rep.coords else None
    train, test = _split(index, test_size=test_fraction, random_state=seed, stratify=stratify)
    return rep.isel(presentation=np.sort(train)), rep.isel(presentation=np.sort(test))


def check_pair(source: xr.DataArray, target: xr.DataArray, need_labels: bool = True) -> list:
    """Check that two representations can be aligned; return the shared labelled classes.

    Raises
    ------
    RepresentationError
        If either has no labelled items (when ``need_labels``), or a class is labelled in one space
        and absent from the other.
    """
    validate(source)
    validate(target)
    cs, ct = labelled_classes(source), labelled_classes(target)
    if need_labels:
        for name, classes in (("source", cs), ("target", ct)):
            if not classes:
                raise RepresentationError(
                    f"the {name} has no labelled items (is_labelled is all False); "
                    "mark some with flowalign_nb.mask_labels(rep, fraction, seed)"
                )
    only_s, only_t = sorted(set(cs) - set(ct), key=str), sorted(set(ct) - set(cs), key=str)
    if only_s or only_t:
        parts = []
        if only_s:
            parts.append(f"class(es) {only_s} labelled in the source are absent from the target's labelled items")
        if only_t:
            parts.append(f"class(es) {only_t} labelled in the target are absent from the source's labelled items")
        raise RepresentationError("; ".join(parts))
    return cs


@dataclass
class Latents:
    """What couplings and bridges see of one space: standardised vectors and the usable labels.

    Attributes
    ----------
    x : torch.Tensor, shape (n, d), float32
        Standardised features.
    labels : torch.Tensor, shape (n,), int64
        Class index of labelled items, ``-1`` for unlabelled ones (see :func:`known_labels`).
    stimulus_id : numpy.ndarray, shape (n,)
    classes : list
        Class names, indexed by ``labels``.
    """

    x: torch.Tensor
    labels: torch.Tensor
    stimulus_id: np.ndarray
    classes: list

    def __post_init__(self):
        if self.x.ndim != 2 or self.labels.shape != (self.x.shape[0],):
            raise RepresentationError(
                f"Latents need x of shape (n, d) and labels of shape (n,), got {tuple(self.x.shape)} and {tuple(self.labels.shape)}"
            )

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def is_labelled(self) -> torch.Tensor:
        return self.labels >= 0

    @classmethod
    def from_arrays(cls, x, labels=None, stimulus_id=None, classes=None) -> "Latents":
        """Latents from plain arrays (``labels``: class indices, ``-1`` = unlabelled)."""
        x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        n = x.shape[0]
        labels = torch.full((n,), UNLABELLED, dtype=torch.int64) if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        if classes is None:
            classes = list(range(int(labels.max()) + 1)) if (labels >= 0).any() else []
        ids = np.asarray(stimulus_id) if stimulus_id is not None else np.array([f"s{i}" for i in range(n)])
        return cls(x, labels, ids, list(classes))


def to_latents(rep: xr.DataArray, values: np.ndarray, classes: list) -> Latents:
    """Latents of ``rep`` with (already standardised) ``values``, labels read via :func:`known_labels`."""
    return Latents(
        x=torch.as_tensor(np.ascontiguousarray(values), dtype=torch.float32),
        labels=torch.as_tensor(known_labels(rep, classes)),
        stimulus_id=_stimulus_ids(rep),
        classes=list(classes),
    )

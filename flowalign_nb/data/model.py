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

import warnings
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


def train_test_split(rep: xr.DataArray, test_size: float | int = 0.2, seed: int = 0, *, stratify="known",
                     test_fraction=None) -> tuple[xr.DataArray, xr.DataArray]:
    """Split presentations into train and test (``sklearn.model_selection.train_test_split``).

    Parameters
    ----------
    rep : xarray.DataArray
    test_size : float in (0, 1) or int in [1, n - 1]
        Share or number of items held out, as scikit-learn's ``test_size``.
    seed : int
        scikit-learn's ``random_state``.
    stratify : "known", None or array_like of shape (n_presentations,)
        ``"known"`` (default): strata are the labels an aligner may read, the class of each labelled
        item (``is_labelled``) and one stratum for all unlabelled items, so hidden labels never
        change the split; a class with a single labelled item joins the unlabelled stratum (one
        item cannot be split); no item labelled: not stratified. ``None``: not stratified.
        An array: those strata, as scikit-learn's ``stratify`` (e.g. ``rep["label"].values`` for
        an experimenter's split on ground truth).
    test_fraction : float, optional
        Deprecated name of ``test_size`` (a FutureWarning; removed in the next release).

    Returns
    -------
    (train, test) : tuple of xarray.DataArray
        Items in their original order.

    Raises
    ------
    RepresentationError
        For a bad ``test_size`` or ``stratify``, or strata too small to split.
    """
    from sklearn.model_selection import train_test_split as _split

    validate(rep)
    if test_fraction is not None:
        if test_size != 0.2:
            raise RepresentationError("test_fraction= is the deprecated name of test_size=; give test_size= only")
        warnings.warn("train_test_split: test_fraction= is deprecated; use test_size= (scikit-learn's name)", FutureWarning, stacklevel=2)
        test_size = test_fraction
    n = rep.sizes["presentation"]
    share = isinstance(test_size, (float, np.floating)) and 0 < test_size < 1
    count = isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool) and 1 <= test_size < n
    if not (share or count):
        raise RepresentationError(f"test_size={test_size!r} is not allowed; give a share in (0, 1) or a number of items in [1, {n - 1}]")
    strata = _strata(rep, stratify)
    try:
        train, test = _split(np.arange(n), test_size=test_size, random_state=seed, stratify=strata)
    except ValueError as exc:
        raise RepresentationError(f"cannot stratify the split ({exc}); pass stratify=None for an unstratified split") from None
    return rep.isel(presentation=np.sort(train)), rep.isel(presentation=np.sort(test))


def _strata(rep: xr.DataArray, stratify) -> np.ndarray | None:
    """The strata of :func:`train_test_split` (see its ``stratify``)."""
    n = rep.sizes["presentation"]
    if isinstance(stratify, str) and stratify == "known":
        mask = labelled_mask(rep)
        if not mask.any():
            return None
        strata = np.where(mask, pd.Series(rep["label"].values).astype(str).radd("class ").to_numpy(), "unlabelled")
        counts = pd.Series(strata).value_counts()
        return np.where(pd.Series(strata).map(counts).to_numpy() < 2, "unlabelled", strata)
    if stratify is None:
        return None
    if isinstance(stratify, str):
        raise RepresentationError(f"stratify={stratify!r} is not allowed; use 'known', None or an array of one stratum per presentation")
    strata = np.asarray(stratify)
    if strata.shape != (n,):
        raise RepresentationError(f"stratify has {strata.size} values for {n} presentations; give one stratum per presentation")
    return strata


CLASS_MODES = ("all", "shared")


def check_pair(source: xr.DataArray, target: xr.DataArray, need_labels: bool = True, classes: str = "all") -> list:
    """Check that two representations can be aligned; return the labelled classes the fit uses.

    Parameters
    ----------
    source, target : DataArray
    need_labels : bool
        Both spaces must have labelled items.
    classes : {"all", "shared"}
        ``"all"``: every class labelled in one space must be labelled in the other. ``"shared"``:
        the fit uses the classes labelled in both; items labelled with another class are treated as
        unlabelled (see :func:`keep_classes`) and a warning names those classes.

    Returns
    -------
    list
        The classes the fit uses, sorted.

    Raises
    ------
    RepresentationError
        If either has no labelled items (when ``need_labels``), if (``classes="all"``) a class is
        labelled in one space and absent from the other, or (``"shared"``) no class is labelled in both.
    ValueError
        For another ``classes``.
    """
    if classes not in CLASS_MODES:
        raise ValueError(f"classes={classes!r} is not allowed; use 'all' (every labelled class in both spaces) "
                         "or 'shared' (align on the classes labelled in both)")
    validate(source)
    validate(target)
    cs, ct = labelled_classes(source), labelled_classes(target)
    if need_labels:
        for name, found in (("source", cs), ("target", ct)):
            if not found:
                raise RepresentationError(
                    f"the {name} has no labelled items (is_labelled is all False); "
                    "mark some with flowalign_nb.mask_labels(rep, fraction, seed)"
                )
    only_s, only_t = sorted(set(cs) - set(ct), key=str), sorted(set(ct) - set(cs), key=str)
    if not (only_s or only_t):
        return cs
    one_sided = [(name, other, found) for name, other, found in (("source", "target", only_s), ("target", "source", only_t)) if found]
    if classes == "all":
        raise RepresentationError(
            "; ".join(f"class(es) {found} labelled in the {name} are absent from the {other}'s labelled items" for name, other, found in one_sided)
            + "; to align on the classes labelled in both spaces, pass classes='shared' (e.g. FlowAligner(classes='shared')): "
            "items of the other classes are then treated as unlabelled"
        )
    shared = sorted(set(cs) & set(ct), key=str)
    if not shared:
        raise RepresentationError(f"no class is labelled in both spaces: source {cs}, target {ct}")
    dropped = " and ".join(f"class(es) {found} labelled only in the {name}" for name, _, found in one_sided)
    warnings.warn(f"aligning on the {len(shared)} class(es) labelled in both spaces, {shared}; the items of {dropped} "
                  "are treated as unlabelled", UserWarning, stacklevel=2)
    return shared


def keep_classes(rep: xr.DataArray, classes: list) -> xr.DataArray:
    """``rep`` with ``is_labelled`` False for labelled items whose class is not in ``classes`` (a copy when any changes)."""
    mask = labelled_mask(rep)
    if not mask.any():
        return rep
    keep = set(classes)
    kept = mask & np.fromiter((label in keep for label in rep["label"].values), bool, count=mask.size)
    return rep if (kept == mask).all() else rep.assign_coords(is_labelled=("presentation", kept))


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


@dataclass(frozen=True)
class Standardisation:
    """Per-feature z-scoring of one space, ``z = (x - mean) / scale``, learned from all of its items.

    No labels are involved. ``scale`` is the feature's standard deviation, or 1 where it is
    below 1e-12 (constant features are centred, not divided by zero).

    Attributes
    ----------
    mean, scale : numpy.ndarray, shape (d,)
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "Standardisation":
        """Moments of ``values``, shape (n, d)."""
        values = np.asarray(values)
        scale = values.std(0)
        return cls(values.mean(0), np.where(scale > 1e-12, scale, 1.0))

    def apply(self, values: np.ndarray) -> np.ndarray:
        """``(values - mean) / scale`` for ``values`` of shape (n, d)."""
        return (np.asarray(values) - self.mean) / self.scale


@dataclass(frozen=True)
class PairStandardisation:
    """How a pair of representations became :class:`Latents`: each space's z-scoring and the classes.

    Attributes
    ----------
    source, target : Standardisation
    classes : list
        Classes labelled in both spaces, indexed by the Latents' ``labels``.
    """

    source: Standardisation
    target: Standardisation
    classes: list


def standardise_pair(source: xr.DataArray, target: xr.DataArray, need_labels: bool,
                     classes: str = "all") -> tuple[Latents, Latents, PairStandardisation]:
    """Latents of two representations, as every fit sees them (FlowAligner, baselines, couplings, bridges).

    Checks the pair (:func:`check_pair`), z-scores each space with its own moments
    (:class:`Standardisation`) and reads labels only where ``is_labelled`` (:func:`known_labels`).

    Parameters
    ----------
    source : DataArray, (n_src, d_src)
    target : DataArray, (n_tgt, d_tgt)
    need_labels : bool
        Require labelled items in both spaces.
    classes : {"all", "shared"}
        See :func:`check_pair`; with ``"shared"``, labelled items of classes labelled in one space only
        are read as unlabelled (:func:`keep_classes`).

    Returns
    -------
    (src, tgt, standardisation) : Latents (n_src, d_src), Latents (n_tgt, d_tgt), PairStandardisation
    """
    classes = check_pair(source, target, need_labels=need_labels, classes=classes)
    source, target = keep_classes(source, classes), keep_classes(target, classes)
    scalers = Standardisation.fit(source.values), Standardisation.fit(target.values)
    src, tgt = (to_latents(rep, scaler.apply(rep.values), classes) for rep, scaler in zip((source, target), scalers))
    return src, tgt, PairStandardisation(*scalers, classes)


def to_latents(rep: xr.DataArray, values: np.ndarray, classes: list) -> Latents:
    """Latents of ``rep`` with (already standardised) ``values``, labels read via :func:`known_labels`."""
    return Latents(
        x=torch.as_tensor(np.ascontiguousarray(values), dtype=torch.float32),
        labels=torch.as_tensor(known_labels(rep, classes)),
        stimulus_id=_stimulus_ids(rep),
        classes=list(classes),
    )

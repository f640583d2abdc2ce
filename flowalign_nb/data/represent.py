"""``represent(modality, stimuli, **options)``: a registered modality's representation of stimuli, cached.

Stimuli are a pandas table with a unique ``stimulus_id`` column, an optional ``label`` column and
payload columns (``image``, ``text``, ...) read by the modality. The modality factory is looked up
by name in the ``modality`` registry, built with ``options`` and asked for
``.represent(stimuli)``; the result is stored in the feature cache (:mod:`flowalign_nb.data.cache`) keyed
by the modality, the plugin that registered it, its resolved options, its code (the versions of the
distributions that ship it and a digest of its compiled code, :func:`flowalign_nb.data.codeid.code_identity`),
its ``cache_token`` (weights identity, when it has one) and the stimulus content, so a second call on
the same input reads the file and runs no model, and changed code never reads features of the old.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from . import cache
from .codeid import code_identity
from .model import make_representation, validate
from ..plugins import get_registry, make


def validate_stimuli(stimuli: pd.DataFrame, payload: str | None = None) -> pd.DataFrame:
    """Check a stimulus table; return it unchanged.

    Parameters
    ----------
    stimuli : pandas.DataFrame, shape (n_stimuli, n_columns)
        Needs a unique, non-missing ``stimulus_id`` column and at least one row.
    payload : str, optional
        A column the modality reads (``"image"``, ``"text"``), which must be present with no missing cell.

    Raises
    ------
    TypeError
        If ``stimuli`` is not a DataFrame.
    ValueError
        Naming the missing column (and the columns present), the duplicate id or the empty table.
    """
    if not isinstance(stimuli, pd.DataFrame):
        raise TypeError(f"stimuli must be a pandas.DataFrame with a 'stimulus_id' column, got {type(stimuli).__name__}")
    for column in ("stimulus_id", payload):
        if column is not None and column not in stimuli.columns:
            raise ValueError(f"stimuli have no {column!r} column; columns present: {list(map(str, stimuli.columns))}")
    if len(stimuli) == 0:
        raise ValueError("stimuli table is empty")
    for column in ("stimulus_id", payload):
        if column is not None and stimuli[column].isna().any():
            row = int(np.flatnonzero(stimuli[column].isna().to_numpy())[0])
            raise ValueError(f"stimuli column {column!r} is missing a value in row {row}")
    duplicated = stimuli["stimulus_id"][stimuli["stimulus_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"duplicate stimulus_id {duplicated.iloc[0]!r} ({len(duplicated)} duplicate(s)) in the stimuli")
    return stimuli


def stimuli_representation(values, stimuli: pd.DataFrame, neuroid_id, **attrs) -> xr.DataArray:
    """Wrap model outputs as a representation whose presentations are the stimuli, in table order.

    Parameters
    ----------
    values : array_like, shape (n_stimuli, n_neuroids)
    stimuli : pandas.DataFrame
        ``stimulus_id`` and, when present, ``label`` become presentation coords.
    neuroid_id : sequence of str, length n_neuroids
    **attrs
        ``modality``, ``model``, ``layer``, ... (a ``layer`` attr is also set as a neuroid coord).

    Returns
    -------
    DataArray, dims ("presentation", "neuroid")
    """
    label = stimuli["label"].to_numpy() if "label" in stimuli.columns else None
    rep = make_representation(np.asarray(values), stimuli["stimulus_id"].to_numpy(), label, neuroid_id=neuroid_id, **attrs)
    if "layer" in attrs:
        rep = rep.assign_coords(layer=("neuroid", np.full(rep.sizes["neuroid"], str(attrs["layer"]))))
    return rep


def represent(modality: str, stimuli: pd.DataFrame, *, cache: bool = True, cache_features: bool | None = None, **options) -> xr.DataArray:
    """The representation of ``stimuli`` by a registered modality, read from the cache when possible.

    ``layer=[...]`` (a list of layer names) returns every layer asked for from one forward pass of a
    modality that can (one with a ``represent_layers(stimuli, layers)`` method, such as
    ``efficientnet_lite``), each cached under the key a single-layer call would use; see
    :func:`represent_layers`.

    Parameters
    ----------
    modality : str
        A registered modality name (``flowalign plugins --kind modality``), e.g. ``"text"``,
        ``"efficientnet_lite"``, ``"mnist_cnn"``.
    stimuli : pandas.DataFrame, shape (n_stimuli, n_columns)
        ``stimulus_id``, optional ``label`` and the payload column the modality reads.
    cache : bool
        Read and write the feature cache (default). ``False`` always runs the model and stores nothing.
    cache_features : bool, optional
        The former name of ``cache`` (a FutureWarning; it will be removed).
    **options
        The modality factory's options (``model="minilm"``, ``layer="block10"``, ...).

    Returns
    -------
    DataArray, dims ("presentation", "neuroid")
        One presentation per stimulus, in table order; with ``layer=[...]``, a dict
        ``{layer: DataArray}`` in the order asked for.

    Examples
    --------
    >>> rep = fa.represent("text", stimuli, model="minilm")   # doctest: +SKIP
    """
    if cache_features is not None:
        warnings.warn("represent: cache_features= is renamed cache=; cache_features= will be removed", FutureWarning, stacklevel=2)
        cache = cache_features
    validate_stimuli(stimuli)
    if isinstance(options.get("layer"), (list, tuple)):
        return represent_layers(modality, stimuli, options.pop("layer"), cache=cache, **options)
    model = make("modality", modality, **options)
    if not cache:
        return validate(model.represent(stimuli))
    return cached_represent(model, modality, stimuli, options)


def cached_represent(model, modality: str, stimuli: pd.DataFrame, options: dict, code_of: type | None = None) -> xr.DataArray:
    """``model.represent(stimuli)`` through the feature cache (no forward pass on a hit).

    Parameters
    ----------
    model : object with ``.represent(stimuli)``
        Built by the ``modality`` factory with ``options``.
    modality : str
        Its registered name.
    stimuli : pandas.DataFrame, shape (n_stimuli, n_columns)
    options : dict
        The options ``model`` was built with (the factory's defaults fill the others in the key).
    code_of : type, optional
        The class whose code identifies the features in the key (default ``type(model)``; one layer of a
        shared pass gives the modality's class, so it is cached as a single-layer call caches it).

    Returns
    -------
    DataArray, dims ("presentation", "neuroid")
    """
    entry = get_registry("modality").get(modality)
    resolved = {o.name: o.default for o in entry.options() if not o.required}
    resolved.update(options)
    key = cache.make_key(stimuli, modality=modality, plugin=entry.plugin, options=resolved, code=code_identity(entry.factory, code_of or type(model)),
                         model=getattr(model, "cache_token", type(model).__qualname__))
    rep = cache.load_features(key)
    if rep is None:
        rep = validate(model.represent(stimuli))
        cache.save_features(key, rep)
    return rep


def represent_layers(modality: str, stimuli: pd.DataFrame, layers, *, cache: bool = True,
                     **options) -> dict[str, xr.DataArray]:
    """Several layers of a modality from one forward pass, each cached as a single-layer call caches it.

    Layers found in the cache are read; if any is missing, the model runs once over the stimuli
    (``model.represent_layers(stimuli, layers)``) and every layer asked for is taken from that pass.
    A modality without ``represent_layers`` is built and run once per layer.

    Parameters
    ----------
    modality : str
        A registered modality with a ``layer`` option.
    stimuli : pandas.DataFrame, shape (n_stimuli, n_columns)
    layers : sequence of str
        Layer names, without repeats (the modality's ``layers`` attribute lists them, where it has one).
    cache : bool
        Read and write the feature cache (as :func:`represent`).
    **options
        The modality's other options.

    Returns
    -------
    dict of {layer: DataArray (presentation, neuroid)}
        In the order of ``layers``; each equal to ``represent(modality, stimuli, layer=layer, **options)``.

    Raises
    ------
    ValueError
        For an empty or repeated layer list, or a layer the modality does not have (naming the ones it has).
    """
    validate_stimuli(stimuli)
    layers = list(layers)
    if not layers or not all(isinstance(layer, str) for layer in layers):
        raise ValueError(f"layer must be a layer name or a non-empty list of them; got {layers!r}")
    repeated = sorted({layer for layer in layers if layers.count(layer) > 1})
    if repeated:
        raise ValueError(f"layer {repeated[0]!r} is asked for more than once in {layers!r}")
    model = make("modality", modality, layer=layers[0], **options)
    known = getattr(model, "layers", None)
    if known is not None and set(layers) - set(known):
        bad = [layer for layer in layers if layer not in known][0]
        raise ValueError(f"layer={bad!r} is not a layer of modality {modality!r}; its layers: {list(known)}")
    if not hasattr(model, "represent_layers"):
        return {layer: represent(modality, stimuli, cache=cache, layer=layer, **options) for layer in layers}
    shared = SharedPass(model, stimuli, layers)
    if not cache:
        return {layer: validate(shared.view(layer).represent(stimuli)) for layer in layers}
    return {layer: cached_represent(shared.view(layer), modality, stimuli, {**options, "layer": layer}, code_of=type(model))
            for layer in layers}


class SharedPass:
    """One forward pass of ``model`` for ``layers``, run when a layer's representation is first needed.

    Parameters
    ----------
    model : modality object with ``represent_layers(stimuli, layers) -> dict``
    stimuli : pandas.DataFrame
    layers : list of str
    """

    def __init__(self, model, stimuli: pd.DataFrame, layers: list[str]):
        self.model, self.stimuli, self.layers = model, stimuli, layers
        self.cache_token = getattr(model, "cache_token", type(model).__qualname__)
        self._outputs = None

    def output(self, layer: str) -> xr.DataArray:
        """The representation at ``layer``; the first call runs the pass for every layer."""
        if self._outputs is None:
            self._outputs = self.model.represent_layers(self.stimuli, self.layers)
        return self._outputs[layer]

    def view(self, layer: str) -> "LayerView":
        return LayerView(self, layer)


class LayerView:
    """One layer of a :class:`SharedPass`, with the modality protocol (``represent``, ``cache_token``)."""

    def __init__(self, shared: SharedPass, layer: str):
        self.shared, self.layer, self.cache_token = shared, layer, shared.cache_token

    def represent(self, stimuli: pd.DataFrame) -> xr.DataArray:
        return self.shared.output(self.layer)

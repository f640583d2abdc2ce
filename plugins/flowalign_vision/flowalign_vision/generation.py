"""``mnist_text_to_image``: generation, MiniLM caption embeddings -> an autoencoder's latent -> digit images.

MNIST-5k is split per seed into disjoint source, target and held-out test images (per class
``n_source``, ``n_target``, ``n_test``). Every image gets a caption naming its digit in varied words
(:func:`flowalign_text.caption_stimuli`); the source space is the MiniLM embedding of the *source*
images' captions, so captions and target images are never paired. Target: the latent of a
convolutional autoencoder trained on the target images. A method transports the held-out captions
into the latent space; the frozen decoder draws digits, which are scored by

``accuracy``
    the share the frozen MNIST CNN reads as the asked-for digit (headline);
``frechet``
    the Frechet distance between MNIST-CNN penultimate features of the drawn digits and of the
    real held-out images (lower is better).

End-to-end: a linear layer from caption embedding to ``latent_dim`` followed by the same decoder
architecture (fresh weights), trained on the labelled pairs only: labelled captions paired at
random with labelled target images of the same class (the same labelled items the aligners see).
Ceiling: the autoencoder's reconstructions of the held-out images.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from flowalign_nb.data.model import labelled_mask, mask_labels
from flowalign_nb.tasks.task import Task, TaskData
from flowalign_nb.data.represent import represent
from flowalign_text import caption_stimuli

from .autoencoder import Autoencoder, DigitDecoder, digit_tensor, train_decoder_model
from .extraction import check_positive_int
from .metrics import first_per_class, frechet_distance, save_digit_grid
from .mnist import load_mnist5k, pool_indices, split_per_class
from .mnist_cnn import MnistCNN

#: ``run_cell`` masks the target with the seed ``seed + TARGET_SEED_OFFSET``
TARGET_SEED_OFFSET = 1000


class MnistTextToImage(Task):
    """Generation task: caption embeddings -> autoencoder latents -> images (see the module docstring).

    Parameters
    ----------
    n_source, n_target, n_test : int
        Images per class in each part (the pool is the first ``n_source + n_target + n_test`` of each
        class). With ``n_source == n_target`` (the default) the end-to-end baseline sees exactly the
        target items the sweep labels; otherwise the same number per class.
    latent_dim, ae_epochs : int
        Autoencoder latent size and training epochs (weights cached per training set).
    e2e_steps, e2e_pairs : int
        End-to-end training: minibatch steps (batch 128) over ``e2e_pairs`` random same-class
        (caption, image) pairs of labelled items.
    progress : bool
    """

    metric = "accuracy"

    def __init__(self, n_source: int = 200, n_target: int = 200, n_test: int = 100, latent_dim: int = 32,
                 ae_epochs: int = 40, e2e_steps: int = 600, e2e_pairs: int = 4000, progress: bool = True):
        self.counts = {p: check_positive_int(f"n_{p}", v) for p, v in (("source", n_source), ("target", n_target), ("test", n_test))}
        self.latent_dim, self.ae_epochs = check_positive_int("latent_dim", latent_dim), check_positive_int("ae_epochs", ae_epochs)
        self.e2e_steps, self.e2e_pairs = check_positive_int("e2e_steps", e2e_steps), check_positive_int("e2e_pairs", e2e_pairs)
        self.progress = progress
        self.cnn = MnistCNN(progress=False)

    def load(self, seed: int) -> TaskData:
        stimuli = load_mnist5k()
        pool = stimuli.iloc[pool_indices(stimuli["label"].to_numpy(), sum(self.counts.values()))].reset_index(drop=True)
        text = represent("text", caption_stimuli(pool, seed=0), model="minilm", progress=self.progress)
        parts = split_per_class(pool["label"].to_numpy(), self.counts, seed)
        target_images, test_images = pool.iloc[parts["target"]], pool.iloc[parts["test"]]
        ae = Autoencoder(latent_dim=self.latent_dim, epochs=self.ae_epochs, seed=seed, progress=self.progress).fit(target_images)
        extra = {
            "seed": seed, "autoencoder": ae, "target_images": digit_tensor(target_images["image"].tolist()),
            "target_test": ae.represent(test_images), "test_images": digit_tensor(test_images["image"].tolist())[:, 0].numpy(),
            "test_features": self.cnn.images_to_features(test_images["image"].tolist()),
        }
        return TaskData(text.isel(presentation=parts["source"]), ae.represent(target_images), text.isel(presentation=parts["test"]), extra)

    def images(self, moved, data) -> np.ndarray:
        """Decode transported latents (a DataArray in the target space) to images, shape (n, 28, 28)."""
        return data.extra["autoencoder"].decode(moved)

    def _score_images(self, images: np.ndarray, labels: np.ndarray, data) -> dict:
        features = self.cnn.images_to_features(list(images))
        return {"accuracy": float(np.mean(self.cnn.predict(features) == labels)),
                "frechet": frechet_distance(features, data.extra["test_features"])}

    def score(self, moved, data) -> dict:
        return self._score_images(self.images(moved, data), moved["label"].values, data)

    def ceiling(self, data) -> dict:
        return self.score(data.extra["target_test"], data)

    def end_to_end(self, source, data) -> dict:
        return self._score_images(self.end_to_end_images(source, data), data.source_test["label"].values, data)

    def end_to_end_images(self, source, data) -> np.ndarray:
        """Images the end-to-end baseline (trained on the labelled items of ``source``) draws for
        ``data.source_test``, shape (n_test, 28, 28)."""
        model = self.train_end_to_end(source, data)
        with torch.inference_mode():
            return model(torch.as_tensor(data.source_test.values, dtype=torch.float32))[:, 0].numpy()

    def labelled_target(self, source, data) -> np.ndarray:
        """Positions of the target images labelled at the source's label fraction (as ``run_cell`` marks them)."""
        known = labelled_mask(source)
        per_class = np.unique(source["label"].values[known], return_counts=True)[1]
        if len(set(per_class.tolist())) != 1:
            raise ValueError(f"expected the same number of labelled captions in every class, got {sorted(set(per_class.tolist()))}")
        fraction = float(per_class[0]) / self.counts["source"]
        target = mask_labels(data.target, min(fraction, 1.0), seed=data.extra["seed"] + TARGET_SEED_OFFSET)
        return np.flatnonzero(labelled_mask(target))

    def train_end_to_end(self, source, data) -> nn.Module:
        """Linear + :class:`DigitDecoder` trained on random same-class pairs of labelled captions and images.

        Returns
        -------
        torch.nn.Module
            Caption embeddings (n, 384) -> images (n, 1, 28, 28), eval mode.
        """
        seed = data.extra["seed"]
        captions = np.flatnonzero(labelled_mask(source))
        images = self.labelled_target(source, data)
        caption_labels, image_labels = source["label"].values[captions], data.target["label"].values[images]
        rng = np.random.default_rng(seed)
        chosen = rng.choice(captions, size=self.e2e_pairs)
        chosen_labels = source["label"].values[chosen]
        partner = np.empty(self.e2e_pairs, dtype=np.int64)
        for c in np.unique(caption_labels):
            rows = np.flatnonzero(chosen_labels == c)
            partner[rows] = rng.choice(images[image_labels == c], size=len(rows))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = nn.Sequential(nn.Linear(source.sizes["neuroid"], self.latent_dim), DigitDecoder(self.latent_dim))
        inputs = torch.as_tensor(source.values[chosen], dtype=torch.float32)
        epochs = max(1, round(self.e2e_steps * 128 / self.e2e_pairs))
        return train_decoder_model(model, inputs, data.extra["target_images"][partner], epochs, 128, 2e-3, seed,
                                   data.extra["autoencoder"].device, "end-to-end decoder", self.progress).cpu()

    def report_images(self, moved, data, per_class: int = 10) -> dict:
        """Digits drawn from transported captions and real held-out digits, ``per_class`` of each class in class order.

        Returns
        -------
        dict of str to numpy.ndarray, each of shape (n_classes * per_class, 28, 28)
        """
        drawn = first_per_class(moved["label"].values, per_class)
        real = first_per_class(data.extra["target_test"]["label"].values, per_class)
        return {"drawn from transported captions (asked-for digit in class order)": self.images(moved, data)[drawn],
                "real held-out digits (class order)": data.extra["test_images"][real]}

    def save_grid(self, moved, data, path, per_class: int = 8):
        """PNG grid of the digits drawn from transported latents: one row per asked-for class.

        Parameters
        ----------
        moved : DataArray, (n, latent_dim)
            Transported held-out captions (``label``: the asked-for digit).
        data : TaskData
            The split ``moved`` came from (its autoencoder decodes).
        path : str or pathlib.Path
        per_class : int

        Returns
        -------
        pathlib.Path
        """
        return save_digit_grid(self.images(moved, data), moved["label"].values, path, per_class)

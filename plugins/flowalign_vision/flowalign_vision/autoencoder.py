"""A small convolutional autoencoder for 28 x 28 grey digits: its latent is a target space with a decoder.

Encoder: conv 4x4 stride 2 (1 -> 16, 28 -> 14), ReLU, conv 4x4 stride 2 (16 -> 32, 14 -> 7), ReLU,
linear 1568 -> ``latent_dim``. Decoder (:class:`DigitDecoder`): linear ``latent_dim`` -> 1568, ReLU,
transposed convs back to 1 x 28 x 28, sigmoid. Trained with binary cross-entropy and AdamW.

The modality trains on the images it is first asked for (or given to :meth:`Autoencoder.fit`) and
stores the weights in the cache folder, keyed by the options and the training images' content, so
the same training set is never trained on twice.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from flowalign_nb.data import cache
from flowalign_nb.devices import resolve_device
from flowalign_nb.data.represent import stimuli_representation, validate_stimuli
from flowalign_nb.safeio import SavedFileError, read_tensors, write_tensors

from .extraction import check_positive_int
from .images import image_array, resize, to_tensor

AE_FORMAT, AE_VERSION = "flowalign_vision.autoencoder", 1


class DigitDecoder(nn.Module):
    """Latent (b, latent_dim) -> image (b, 1, 28, 28) in [0, 1]."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class DigitAutoencoder(nn.Module):
    """Encoder (b, 1, 28, 28) -> (b, latent_dim) and a :class:`DigitDecoder`."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 7 * 7, latent_dim),
        )
        self.decoder = DigitDecoder(latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def digit_tensor(images: list) -> torch.Tensor:
    """Image payloads -> tensor (n, 1, 28, 28) in [0, 1] (grey, resized to 28 x 28)."""
    return torch.stack([resize(to_tensor(image_array(im), channels=1), 28, 28) for im in images])


def train_decoder_model(model: nn.Module, inputs: torch.Tensor, images: torch.Tensor, epochs: int, batch_size: int,
                        lr: float, seed: int, device: torch.device, desc: str, progress: bool = True) -> nn.Module:
    """Fit ``model(inputs) ≈ images`` with binary cross-entropy, AdamW and shuffled minibatches.

    Parameters
    ----------
    model : nn.Module
        Maps (b, ...) inputs to (b, 1, 28, 28) images in [0, 1]; trained in place.
    inputs : Tensor, shape (n, ...)
    images : Tensor, shape (n, 1, 28, 28)
    epochs, batch_size : int
    lr : float
    seed : int
        Seeds the shuffling (initialisation is the caller's).
    device : torch.device
    desc : str
        Progress-bar label.

    Returns
    -------
    nn.Module
        ``model``, in eval mode.
    """
    model.to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.BCELoss()
    n = len(inputs)
    with tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress) as bar:
        for _ in bar:
            for batch in torch.randperm(n, generator=generator).split(batch_size):
                loss = loss_fn(model(inputs[batch].to(device)), images[batch].to(device))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            bar.set_postfix(loss=f"{loss.item():.4f}")
    return model.eval()


class Autoencoder:
    """Modality: the latent of a convolutional autoencoder trained on target digits.

    Parameters
    ----------
    latent_dim : int
    epochs : int
        Training epochs over the training images.
    batch_size : int
    lr : float
        AdamW learning rate.
    seed : int
        Seeds initialisation and shuffling.
    device : str or None
        ``None``: CUDA when present, else CPU.
    progress : bool
        tqdm.auto progress bar during training.
    """

    def __init__(self, latent_dim: int = 32, epochs: int = 40, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
                 device=None, progress: bool = True):
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.epochs = check_positive_int("epochs", epochs)
        self.batch_size = check_positive_int("batch_size", batch_size)
        if not lr > 0:
            raise ValueError(f"lr={lr!r} is not allowed; it must be > 0")
        self.lr, self.seed, self.progress = float(lr), int(seed), progress
        self.device = resolve_device(device)
        self.model_: DigitAutoencoder | None = None

    def fit(self, stimuli) -> "Autoencoder":
        """Train on the ``image`` column of ``stimuli``, or load the weights cached for these images and options.

        Returns
        -------
        self
        """
        validate_stimuli(stimuli, "image")
        options = dict(latent_dim=self.latent_dim, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed)
        self.trained_on_ = cache.make_key(stimuli[["stimulus_id", "image"]], model="DigitAutoencoder", **options)
        path = cache.cache_path("autoencoder", self.trained_on_)
        model = DigitAutoencoder(self.latent_dim)
        try:
            tensors, _ = read_tensors(path, AE_FORMAT, AE_VERSION)
            model.load_state_dict(tensors)
            self.model_ = model.eval().to(self.device)
            return self
        except (SavedFileError, RuntimeError):
            pass  # no usable cached weights: train
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = DigitAutoencoder(self.latent_dim)
        images = digit_tensor(stimuli["image"].tolist())
        self.model_ = train_decoder_model(model, images, images, self.epochs, self.batch_size, self.lr, self.seed,
                                          self.device, "autoencoder", self.progress)
        write_tensors(path, model.state_dict(), {"format": AE_FORMAT, "version": AE_VERSION, **options})
        return self

    def represent(self, stimuli) -> xr.DataArray:
        """Latents of the ``image`` column, dims (presentation, neuroid); trains on these images first if unfitted."""
        validate_stimuli(stimuli, "image")
        if self.model_ is None:
            self.fit(stimuli)
        with torch.inference_mode():
            z = self.model_.encoder(digit_tensor(stimuli["image"].tolist()).to(self.device)).cpu().numpy()
        return stimuli_representation(z, stimuli, [f"latent.{j}" for j in range(self.latent_dim)], modality="autoencoder",
                                      model="DigitAutoencoder", layer="latent", trained_on=self.trained_on_)

    def decode(self, latents) -> np.ndarray:
        """Images from latents.

        Parameters
        ----------
        latents : DataArray or array_like, shape (n, latent_dim)

        Returns
        -------
        numpy.ndarray, shape (n, 28, 28), float32 in [0, 1]
        """
        if self.model_ is None:
            raise RuntimeError("this Autoencoder is not trained yet; call fit(stimuli) or represent(stimuli) first")
        z = torch.as_tensor(np.asarray(latents), dtype=torch.float32, device=self.device)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"latents of shape {tuple(z.shape)} do not fit latent_dim={self.latent_dim}")
        with torch.inference_mode():
            return self.model_.decoder(z)[:, 0].cpu().numpy()

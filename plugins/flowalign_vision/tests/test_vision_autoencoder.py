"""The digit autoencoder: it learns, its weights are cached per training set, decoding checks shapes."""

import numpy as np
import pytest

import flowalign_vision.autoencoder as autoencoder_module
from flowalign_vision import Autoencoder


@pytest.fixture(scope="module")
def trained(digits):
    return Autoencoder(latent_dim=8, epochs=20, batch_size=32, lr=5e-3, progress=False).fit(digits)


def test_reconstructions_beat_the_mean_image(trained, digits):
    images = np.stack(digits["image"].to_list()).astype(np.float32) / 255.0
    latents = trained.represent(digits)
    assert latents.shape == (300, 8) and set(latents["layer"].values) == {"latent"}
    recon = trained.decode(latents)
    assert recon.shape == (300, 28, 28) and recon.min() >= 0 and recon.max() <= 1
    mean_error = np.mean((images - images.mean(0)) ** 2)
    assert np.mean((recon - images) ** 2) < 0.6 * mean_error


def test_second_fit_on_the_same_images_loads_the_cached_weights(trained, digits, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained again although weights for these images are cached")

    monkeypatch.setattr(autoencoder_module, "train_decoder_model", no_training)
    again = Autoencoder(latent_dim=8, epochs=20, batch_size=32, lr=5e-3, progress=False).fit(digits)
    np.testing.assert_array_equal(again.represent(digits.iloc[:10]).values, trained.represent(digits.iloc[:10]).values)
    with pytest.raises(AssertionError, match="trained again"):
        Autoencoder(latent_dim=8, epochs=20, batch_size=32, lr=5e-3, progress=False).fit(digits.iloc[:100])


def test_unfitted_and_bad_inputs_are_named(trained):
    with pytest.raises(RuntimeError, match="not trained yet"):
        Autoencoder().decode(np.zeros((1, 16)))
    with pytest.raises(ValueError, match=r"latents of shape \(2, 5\) do not fit latent_dim=8"):
        trained.decode(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="latent_dim=0 is not allowed"):
        Autoencoder(latent_dim=0)

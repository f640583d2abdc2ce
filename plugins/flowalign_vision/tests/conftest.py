import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every test session writes features and autoencoder weights to its own cache folder."""
    previous = os.environ.get("FLOWALIGN_CACHE_DIR")
    os.environ["FLOWALIGN_CACHE_DIR"] = str(tmp_path_factory.mktemp("flowalign_cache"))
    yield
    if previous is None:
        os.environ.pop("FLOWALIGN_CACHE_DIR")
    else:
        os.environ["FLOWALIGN_CACHE_DIR"] = previous


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """These small networks run fastest on one thread of a shared CPU (two threads were ~10x slower under load)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def mnist():
    from flowalign_vision import load_mnist5k

    return load_mnist5k()


@pytest.fixture(scope="session")
def digits(mnist):
    """The first 30 MNIST-5k images of every class (300 stimuli)."""
    from flowalign_vision.mnist import pool_indices

    return mnist.iloc[pool_indices(mnist["label"].to_numpy(), 30)].reset_index(drop=True)

"""flowalign_nb plugin for vision backbones (EfficientNet-Lite, the MNIST CNN, a digit autoencoder) and the MNIST tasks."""

from .autoencoder import Autoencoder
from .efficientnet import EfficientNetLite
from .generation import MnistTextToImage
from .imagefolder import load_imagefolder
from .metrics import frechet_distance, save_digit_grid
from .mnist import load_mnist5k
from .mnist_cnn import MnistCNN
from .recognition import MnistEffnetToCnn

__all__ = ["Autoencoder", "EfficientNetLite", "MnistCNN", "MnistEffnetToCnn", "MnistTextToImage", "frechet_distance",
           "load_imagefolder", "load_mnist5k", "save_digit_grid"]

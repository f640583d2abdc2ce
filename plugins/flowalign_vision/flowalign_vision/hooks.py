"""Hook implementations of the ``flowalign_vision`` plugin, found through the ``flowalign_nb`` entry-point group.

Modalities: ``mnist_cnn`` (the trained MNIST CNN of digit-recognizer-py), ``efficientnet_lite``
(EfficientNet-Lite0/Lite2, ImageNet weights) and ``autoencoder`` (a convolutional autoencoder for
digits, trained on first use and cached). Tasks: ``mnist_effnet_to_cnn`` (recognition) and
``mnist_text_to_image`` (generation; needs the ``text`` modality of ``flowalign_text``).
"""

from flowalign_nb import hookimpl

from .autoencoder import Autoencoder
from .efficientnet import EfficientNetLite
from .generation import MnistTextToImage
from .mnist_cnn import MnistCNN
from .recognition import MnistEffnetToCnn


@hookimpl
def flowalign_register_modalities(registry):
    registry.add("mnist_cnn", MnistCNN, description="trained MNIST CNN (digit-recognizer-py), layer features + frozen 10-class head")
    registry.add("efficientnet_lite", EfficientNetLite, description="EfficientNet-Lite0/Lite2 with ImageNet weights, pooled block features + frozen 1000-class head")
    registry.add("autoencoder", Autoencoder, description="convolutional digit autoencoder trained on the first images asked for (cached); latent + decoder")


@hookimpl
def flowalign_register_tasks(registry):
    registry.add("mnist_effnet_to_cnn", MnistEffnetToCnn, description="recognition: EfficientNet-Lite0 block features -> MNIST CNN space, scored by the CNN's frozen head")
    registry.add("mnist_text_to_image", MnistTextToImage, description="generation: MiniLM caption embeddings -> autoencoder latent -> decoded digits, scored by the MNIST CNN and a Frechet distance")

"""Hook implementations of the ``flowalign_vision`` plugin, found through the ``flowalign_nb`` entry-point group.

Modalities: ``mnist_cnn`` (the trained MNIST CNN of digit-recognizer-py), ``efficientnet_lite``
(EfficientNet-Lite0/Lite2, ImageNet weights) and ``autoencoder`` (a convolutional autoencoder for
digits, trained on first use and cached). Tasks: ``mnist_effnet_to_cnn`` (recognition) and
``mnist_text_to_image`` (generation; needs the ``text`` modality of ``flowalign_text``),
``imagenet_text_to_image`` and ``imagenet_image_to_text`` (class captions <-> EfficientNet-Lite0 on
ImageNet images, class-level labels, seen and unseen classes).
"""

from flowalign_nb import hookimpl

from .autoencoder import Autoencoder
from .efficientnet import EfficientNetLite
from .generation import MnistTextToImage
from .imagenet_task import ImagenetImageToText, ImagenetTextToImage
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
    registry.add("imagenet_text_to_image", ImagenetTextToImage, description="recognition: MiniLM class captions -> EfficientNet-Lite0 head features of ImageNet images, scored by its frozen 1000-class head (top-1/top-5, seen/unseen classes)")
    registry.add("imagenet_image_to_text", ImagenetImageToText, description="the reverse: EfficientNet-Lite0 head features -> MiniLM caption space, named by held-out class-caption centroids (top-1/top-5, seen/unseen classes)")

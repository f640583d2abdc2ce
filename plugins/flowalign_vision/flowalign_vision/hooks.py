"""Hook implementations of the ``flowalign_vision`` plugin, found through the ``flowalign_nb`` entry-point group.

The distribution is laid out and discovered by the core; its modality adapters for
vision backbones (EfficientNet-Lite, the MNIST CNN, an image autoencoder)
arrive with their own issue and register here with ``@hookimpl def flowalign_register_modalities(registry)``.
"""

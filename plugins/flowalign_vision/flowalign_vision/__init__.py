"""flowalign_nb plugin for vision backbones (EfficientNet-Lite, the MNIST CNN, an image autoencoder)."""

"""The representation model and its validation, label masks and splits, represent() with its feature cache, chunked extraction."""

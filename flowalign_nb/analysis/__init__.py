"""Analyses of aligned representations."""

from .downstream import nearest_class_mean_accuracy

__all__ = ["nearest_class_mean_accuracy"]

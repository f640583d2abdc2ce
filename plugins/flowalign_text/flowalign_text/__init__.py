"""flowalign_nb plugin for sentence encoders (all-MiniLM-L6-v2) and caption stimuli."""

from .captions import caption_stimuli, class_names
from .encoder import TextEncoder

__all__ = ["TextEncoder", "caption_stimuli", "class_names"]

"""ipywidgets panels, thin over the public API.

``AlignPanel`` trains a flow aligner on a registered task, or between two registered modalities of
the user's stimuli, with live progress and scores;
``CouplingView`` draws the plan training sampled pairs from, ordered by class; ``ComparePanel`` runs
the registered analyses before and after alignment; ``SweepPanel`` runs a label-fraction sweep.
"""

from .align import AlignPanel
from .compare_panel import ComparePanel
from .coupling_view import CouplingView, same_class_share
from .options import OptionFields
from .sweep_panel import SweepPanel

__all__ = ["AlignPanel", "ComparePanel", "CouplingView", "OptionFields", "SweepPanel", "same_class_share"]

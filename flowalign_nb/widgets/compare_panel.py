"""ComparePanel: run a registered analysis before and after alignment; show the table and figure."""

from __future__ import annotations

import ipywidgets as W
import pandas as pd
import xarray as xr

from ..analysis.compare import compare
from ..plugins import get_registry, on_registry_change
from .figures import png
from .options import OptionFields, RegistryChoice

ALL = "(all)"


class ComparePanel(W.VBox):
    """Pick an analysis (or all) with its options and compare source and moved items to the target.

    A thin face of :func:`flowalign_nb.compare`: "before" is (source vs target), "after" is
    (moved vs target).

    Parameters
    ----------
    source : DataArray
        Source items before alignment.
    moved : DataArray
        The same items transported (``aligner.transform(source)``).
    target : DataArray
        The reference target representation.

    Attributes
    ----------
    table : DataFrame or None
        The last comparison's table.
    error : Exception or None
        The last error, also shown in the panel.
    """

    def __init__(self, source: xr.DataArray, moved: xr.DataArray, target: xr.DataArray):
        super().__init__()
        self.source, self.moved, self.target = source, moved, target
        self.table, self.error = None, None
        analyses = get_registry("analysis")
        self.analysis = W.Dropdown(options=[ALL, *analyses.names()], value=ALL, description="analysis")
        self.analysis_options = OptionFields(None)
        self._analysis_choice = RegistryChoice(self.analysis, "analysis", self.analysis_options, extra=(ALL,))
        self.compare_button = W.Button(description="Compare", button_style="primary", icon="balance-scale")
        self.compare_button.on_click(lambda _: self.run())
        self.status = W.HTML()
        self.figure = W.Image(format="png")
        self.results = W.HTML()
        self.children = (W.HBox([self.analysis, self.compare_button, self.status]), self.analysis_options,
                         self.results, self.figure)
        on_registry_change(self._refresh_choices)

    def _refresh_choices(self) -> None:
        """Follow analysis plugins registered or removed after the panel was built."""
        self._analysis_choice.sync()

    @classmethod
    def from_align_panel(cls, panel) -> "ComparePanel":
        """Compare the held-out items of a finished :class:`AlignPanel` run before and after its flow."""
        if panel.state != "done":
            raise ValueError(f"the AlignPanel has not finished a run (state {panel.state!r}); press Run first")
        return cls(panel.data.source_test, panel.moved, panel.data.target)

    def run(self) -> pd.DataFrame | None:
        """Run the chosen analysis (what **Compare** does); returns the table, or None on error."""
        self.error = None
        try:
            analyses = None if self.analysis.value == ALL else {self.analysis.value: self.analysis_options.values()}
            self.table, figure = compare(self.source, self.moved, self.target, analyses=analyses)
        except Exception as exc:  # shown in the panel so a notebook user sees why
            self.error, self.table = exc, None
            self.status.value = f"<b>error</b>: {type(exc).__name__}: {exc}"
            return None
        self.results.value = self.table.to_html(index=False, float_format="{:.3f}".format)
        self.figure.value = png(figure)
        self.status.value = f"{self.table['analysis'].nunique()} analyses compared"
        return self.table

"""SweepPanel: a label-fraction x seed sweep of a task with progress per cell and the resulting figure."""

from __future__ import annotations

import ast

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd

from ..tasks.sweep import DEFAULT_METHODS, summarise, sweep
from ..tasks.task import LINEAR_BASELINES
from ..plugins import get_registry, make, on_registry_change
from ..runs.results import plot_sweep
from .figures import png
from .options import OptionFields, RegistryChoice


def _numbers(text: str, name: str) -> list:
    """``"0.1, 0.2"`` -> ``[0.1, 0.2]``; a ValueError names the field and the text otherwise."""
    try:
        values = ast.literal_eval(f"[{text}]")
    except (ValueError, SyntaxError):
        values = None
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{name}={text!r} is not a comma-separated list of numbers")
    return values


class SweepPanel(W.VBox):
    """Run :func:`flowalign_nb.sweep` on a registered task and show the score-vs-label-fraction figure.

    The sweep's tqdm.auto bar advances once per (seed, fraction, method) cell.

    Parameters
    ----------
    task : str
        Initially selected task.
    task_options : dict or None
        Keyword options for the task factory; they override the task's option fields.

    Attributes
    ----------
    table : DataFrame or None
        The last sweep's tidy results.
    error : Exception or None
        The last error, also shown in the panel.
    """

    def __init__(self, task="synthetic", task_options=None):
        super().__init__()
        self.task_options = dict(task_options or {})
        self.table, self.error = None, None
        tasks = get_registry("task")
        self.task = W.Dropdown(options=tasks.names(), value=tasks.get(task).name, description="task")
        self.task_fields = OptionFields(tasks.get(task))
        self._task_choice = RegistryChoice(self.task, "task", self.task_fields)
        self.fractions = W.Text(value="0.02, 0.05, 0.1, 0.2", description="fractions")
        self.seeds = W.Text(value="0, 1, 2", description="seeds")
        self.methods = W.SelectMultiple(options=list(dict.fromkeys([*DEFAULT_METHODS, *LINEAR_BASELINES])), value=list(DEFAULT_METHODS), description="methods")
        self.steps = W.BoundedIntText(value=500, min=1, max=10_000_000, description="flow steps")
        self.run_button = W.Button(description="Run sweep", button_style="primary", icon="play")
        self.run_button.on_click(lambda _: self.run())
        self.status = W.HTML()
        self.figure = W.Image(format="png")
        self.summary = W.HTML()
        self.children = (W.HBox([W.VBox([self.task, self.task_fields]),
                                 W.VBox([self.fractions, self.seeds, self.steps]), self.methods]),
                         W.HBox([self.run_button, self.status]), self.figure, self.summary)
        on_registry_change(self._refresh_choices)

    def _refresh_choices(self) -> None:
        """Follow task plugins registered or removed after the panel was built."""
        self._task_choice.sync()

    def run(self) -> pd.DataFrame | None:
        """Run the sweep (what **Run sweep** does); returns its table, or None on error."""
        self.error = None
        self.run_button.disabled = True
        self.status.value = "running ..."
        try:
            fractions = _numbers(self.fractions.value, "fractions")
            seeds = _numbers(self.seeds.value, "seeds")
            task = make("task", self.task.value, **{**self.task_fields.values(), **self.task_options})
            self.table = sweep(task, fractions=fractions, seeds=seeds, methods=list(self.methods.value),
                               flow_options={"steps": self.steps.value})
            figure = plot_sweep(self.table)
        except Exception as exc:  # shown in the panel so a notebook user sees why
            self.error, self.table = exc, None
            self.status.value = f"<b>error</b>: {type(exc).__name__}: {exc}"
            return None
        finally:
            self.run_button.disabled = False
        self.figure.value = png(figure)
        plt.close(figure)
        self.summary.value = summarise(self.table).to_html(float_format="{:.3f}".format)
        self.status.value = f"done: {self.table[['seed', 'fraction', 'method']].drop_duplicates().shape[0]} cells"
        return self.table

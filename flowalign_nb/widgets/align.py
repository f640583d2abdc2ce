"""AlignPanel: configure and train a flow aligner on a registered task, or on two registered modalities
of the user's stimuli, with live progress and scores."""

from __future__ import annotations

import html
import tempfile
import threading
from pathlib import Path

import ipywidgets as W
import numpy as np
import pandas as pd

from ..align.aligner import AUTO_BRIDGE, FlowAligner
from ..flow.train import CHECKPOINT_NAME
from ..plugins import get_registry, make, on_registry_change
from ..runs.fit import analyse, compare_figure
from ..runs.plots import plot_training
from ..tasks.modality_pair import ModalityPair
from .figures import before_after_figure, png
from .options import OptionFields, RegistryChoice, label_style

NO_BRIDGE = "(none)"
#: the panel opens on FlowAligner's default coupling; a coupling that needs a bridge, chosen with none, gets AUTO_BRIDGE
DEFAULT_COUPLING = FlowAligner().coupling
#: training fields: label, tooltip (the two batch sizes read apart: the flow's pairs per step, the coupling's plan size)
TRAINING_FIELDS = {
    "fraction": ("label fraction", "Share of the training items whose labels the fit may use (stratified)."),
    "seed": ("seed", "Seeds the label mask, the network initialisation and pair sampling."),
    "steps": ("training steps", "Optimiser steps of the flow."),
    "batch_size": ("pairs per step", "FlowAligner batch_size: source-target pairs drawn from the coupling per training step."),
    "device": ("device", "auto: CUDA when present, else CPU."),
}
MODES = (("task", "task"), ("source / target modality", "modalities"))


class AlignPanel(W.VBox):
    """Train a :class:`~flowalign_nb.FlowAligner` on a registered task, or between two modalities, from a notebook.

    The **mode** toggle chooses what is aligned:

    - ``"task"``: a registered task (its source, target, frozen head, end-to-end baseline and ceiling);
    - ``"modalities"``: a registered *source* and *target* modality representing the ``stimuli``
      passed in (:class:`~flowalign_nb.tasks.modality_pair.ModalityPair`): a stratified share of the
      stimuli is held out, and with no task head the panel scores the held-out items by decoding
      (a decoder trained on the target space) and RSA with the target, before and after alignment,
      beside the end-to-end decoder and the ceiling.

    Dropdowns list the registered tasks, modalities, couplings and bridges; the option fields of the
    chosen task, modalities, coupling and bridge come from their factories' signatures, so a plugin's
    modality or coupling shows up with its options and no widget code; a plugin registered or removed
    later (:func:`flowalign_nb.register_plugin`) updates the dropdowns of panels already shown.
    Option fields show their full names, with the first sentence of the option's docstring as a
    tooltip. Choosing a coupling that needs a bridge while none is chosen picks ``prototype``; with
    no bridge for such a coupling, **Run** is disabled and the panel says why.
    **Run** trains in a background thread (:meth:`start`; :meth:`run` trains in the calling thread)
    with a progress bar in the panel and a loss plot redrawn every ``plot_every`` steps;
    **Stop** ends training between steps and keeps the last checkpoint in ``checkpoint_dir``. When
    training finishes the panel shows the task's score of the transported held-out items beside the
    end-to-end baseline and the ceiling.

    Parameters
    ----------
    task : str
        Initially selected task.
    task_options : dict or None
        Keyword options for the task factory (e.g. ``{"n_train": 300}`` for ``synthetic``); they
        override the task's option fields.
    stimuli : pandas.DataFrame or None
        The stimuli of the modality mode: ``stimulus_id``, ``label`` and the payload columns the
        modalities read (``image``, ``text``, ...). Giving them selects the modality mode.
    source, target : str or None
        Initially selected source and target modalities (default: the first two registered).
    source_options, target_options : dict or None
        Keyword options for the two modality factories; they override their option fields.
    mode : {"task", "modalities"} or None
        Initial mode; None: ``"modalities"`` when ``stimuli`` are given, else ``"task"``.
    checkpoint_dir : path or None
        Where checkpoints go; None: a new temporary folder.
    checkpoint_every : int
        Steps between checkpoints.
    plot_every : int
        Steps between redraws of the loss plot.

    Attributes
    ----------
    state : str
        ``"idle"``, ``"running"``, ``"done"``, ``"stopped"`` or ``"error"``.
    aligner, scores, error
        The last fitted aligner, its score table (pandas DataFrame) and the last error (or None).
    data, moved
        The last run's task split (``TaskData``) and its transported held-out source items.
    analyses
        For a registered task without its own before/after scores: every registered analysis
        before and after alignment (:func:`flowalign_nb.runs.fit.analyse`), shown as a figure; else None.
    task_
        The last run's task object (a registered task or a ``ModalityPair``).
    progress, progress_text
        The panel's progress bar (steps done of ``steps``) and its caption (step, loss).
    reason
        Why **Run** is disabled, in plain words (:meth:`not_ready`); empty when it is not.
    """

    def __init__(self, task="synthetic", task_options=None, checkpoint_dir=None, checkpoint_every=10, plot_every=10,
                 stimuli=None, source=None, target=None, source_options=None, target_options=None, mode=None):
        super().__init__()
        mode = mode or ("modalities" if stimuli is not None else "task")
        if mode not in dict(MODES).values():
            raise ValueError(f"mode={mode!r} is not allowed; use 'task' or 'modalities'")
        self.task_options = dict(task_options or {})
        self.stimuli = stimuli
        self.source_options, self.target_options = dict(source_options or {}), dict(target_options or {})
        self.task_ = None
        self.checkpoint_dir = checkpoint_dir or tempfile.mkdtemp(prefix="flowalign_panel_")
        self.checkpoint_every, self.plot_every = checkpoint_every, plot_every
        self.state, self.aligner, self.scores, self.error = "idle", None, None, None
        self.data = self.moved = None
        self.losses: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        tasks, couplings, bridges = get_registry("task"), get_registry("coupling"), get_registry("bridge")
        self.task = W.Dropdown(options=tasks.names(), value=tasks.get(task).name, description="task")
        self.task_fields = OptionFields(tasks.get(task))
        self.mode = W.ToggleButtons(options=MODES, value=mode, tooltips=["a registered task", "two registered modalities of your stimuli"],
                                    style={"button_width": "190px"})
        modalities = get_registry("modality")
        names = modalities.names()
        source = source or (names[0] if names else None)
        target = target or (names[1] if len(names) > 1 else source)
        self.source = W.Dropdown(options=names, value=source and modalities.get(source).name, description="source")
        self.target = W.Dropdown(options=names, value=target and modalities.get(target).name, description="target")
        self.source_fields = OptionFields(modalities.get(source) if source else None)
        self.target_fields = OptionFields(modalities.get(target) if target else None)
        self.test_fraction = W.BoundedFloatText(value=0.25, min=0.01, max=0.99, step=0.05, description="held out")
        self.task_box = W.VBox([self.task, self.task_fields])
        self.modality_box = W.VBox([self.source, self.source_fields, self.target, self.target_fields, self.test_fraction])
        self.mode.observe(lambda change: self._show_mode(), names="value")
        self.coupling = W.Dropdown(options=couplings.names(), value=DEFAULT_COUPLING, description="coupling")
        self.bridge = W.Dropdown(options=[NO_BRIDGE, *bridges.names()], value=NO_BRIDGE, description="bridge")
        self.coupling_options = OptionFields(couplings.get(self.coupling.value))
        self.bridge_options = OptionFields(None)
        self._choices = [RegistryChoice(self.task, "task", self.task_fields),
                         RegistryChoice(self.source, "modality", self.source_fields),
                         RegistryChoice(self.target, "modality", self.target_fields),
                         RegistryChoice(self.coupling, "coupling", self.coupling_options),
                         RegistryChoice(self.bridge, "bridge", self.bridge_options, extra=(NO_BRIDGE,))]
        style = label_style(label for label, _ in TRAINING_FIELDS.values())
        field = {name: dict(description=label, tooltip=tip, style=style) for name, (label, tip) in TRAINING_FIELDS.items()}
        self.fraction = W.BoundedFloatText(value=0.1, min=0.001, max=1.0, step=0.01, **field["fraction"])
        self.seed = W.IntText(value=0, **field["seed"])
        self.steps = W.BoundedIntText(value=500, min=1, max=10_000_000, **field["steps"])
        self.batch_size = W.BoundedIntText(value=256, min=1, max=1_000_000, **field["batch_size"])
        self.device = W.Dropdown(options=["auto", "cpu", "cuda"], value="auto", **field["device"])
        self.resume = W.Checkbox(value=False, description="resume from checkpoint", indent=False)
        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.status = W.HTML("idle")
        self.reason = W.HTML()  # why Run is disabled, in plain words; empty when it is not
        self.progress = W.IntProgress(value=0, min=0, max=1, description="training", bar_style="info",
                                      layout=W.Layout(display="none"))
        self.progress_text = W.Label()
        self.loss_plot = W.Image(format="png", layout=_figure_layout())
        self.results = W.HTML()
        self.comparison_plot = W.Image(format="png", layout=_figure_layout())
        self.children = (
            self.mode,
            W.HBox([W.VBox([self.task_box, self.modality_box]), W.VBox([self.coupling, self.coupling_options, self.bridge, self.bridge_options]),
                    W.VBox([self.fraction, self.seed, self.steps, self.batch_size, self.device, self.resume])],
                   layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.run_button, self.stop_button, self.status]), self.reason,
            W.HBox([self.progress, self.progress_text]),
            W.HBox([self.loss_plot, self.comparison_plot], layout=W.Layout(flex_flow="row wrap", width="100%")), self.results,
        )
        self.coupling.observe(lambda change: self._coupling_chosen(), names="value")
        self.bridge.observe(lambda change: self._update_run_button(), names="value")
        self._coupling_chosen()
        self._show_mode()
        on_registry_change(self._refresh_choices)

    def _coupling_chosen(self) -> None:
        """A coupling that needs a bridge, chosen with none: pick the default bridge (when registered)."""
        if self.bridge.value == NO_BRIDGE and self._needs_bridge() and AUTO_BRIDGE in self.bridge.options:
            self.bridge.value = AUTO_BRIDGE
        self._update_run_button()

    def _needs_bridge(self) -> bool:
        entry = get_registry("coupling").get(self.coupling.value) if self.coupling.value is not None else None
        return bool(getattr(entry.factory, "needs_bridge", False)) if entry is not None else False

    def not_ready(self) -> str:
        """Why the current settings cannot run, in plain words; "" when they can."""
        if self.coupling.value is not None and self._needs_bridge() and self.bridge.value == NO_BRIDGE:
            return (f"The coupling '{self.coupling.value}' compares items of the two spaces through a bridge cost: "
                    f"choose a bridge ({AUTO_BRIDGE} is FlowAligner's default).")
        return ""

    def _update_run_button(self) -> None:
        reason = self.not_ready()
        self.reason.value = f"<span style='color:#a15c00'>{html.escape(reason)}</span>" if reason else ""
        self.run_button.disabled = self.state == "running" or bool(reason)
        self.run_button.tooltip = reason

    def _refresh_choices(self) -> None:
        """Follow plugins registered or removed after the panel was built (choices and values kept where they still exist)."""
        for choice in self._choices:
            choice.sync()

    def _show_mode(self) -> None:
        modalities = self.mode.value == "modalities"
        self.task_box.layout.display = "none" if modalities else None
        self.modality_box.layout.display = None if modalities else "none"

    def describe(self) -> str:
        """What the current settings align: the task name or ``"source -> target"``."""
        return f"{self.source.value} -> {self.target.value}" if self.mode.value == "modalities" else self.task.value

    def make_task(self):
        """The task the current settings describe: a registered task, or a ``ModalityPair`` of the stimuli.

        Raises
        ------
        ValueError
            In the modality mode without stimuli or without a chosen modality.
        """
        if self.mode.value == "task":
            return make("task", self.task.value, **{**self.task_fields.values(), **self.task_options})
        if self.stimuli is None:
            raise ValueError("the modality mode needs stimuli: AlignPanel(stimuli=table) or panel.stimuli = table, "
                             "a pandas.DataFrame with stimulus_id, label and the payload columns the modalities read")
        if self.source.value is None or self.target.value is None:
            raise ValueError("choose a source and a target modality (no modality is registered: see flowalign plugins)")
        return ModalityPair(self.source.value, self.target.value, self.stimuli,
                            source_options={**self.source_fields.values(), **self.source_options},
                            target_options={**self.target_fields.values(), **self.target_options},
                            test_fraction=self.test_fraction.value)

    @property
    def checkpoint_path(self):
        """The checkpoint file training writes (it may not exist yet)."""
        return Path(self.checkpoint_dir) / CHECKPOINT_NAME

    def make_aligner(self) -> FlowAligner:
        """The unfitted aligner the current settings describe."""
        bridge = None if self.bridge.value == NO_BRIDGE else self.bridge.value
        return FlowAligner(
            coupling=self.coupling.value, bridge=bridge, steps=self.steps.value, batch_size=self.batch_size.value,
            seed=self.seed.value, device=None if self.device.value == "auto" else self.device.value,
            coupling_options=self.coupling_options.values(), bridge_options=self.bridge_options.values() if bridge else None,
            checkpoint_dir=self.checkpoint_dir, checkpoint_every=self.checkpoint_every, progress=False,
        )

    def start(self) -> threading.Thread:
        """Train in a background thread (what **Run** does); :meth:`stop` ends it."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("AlignPanel is already training; press Stop or wait for it to finish")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="flowalign-align-panel", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Ask training to stop after the current step (what **Stop** does)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> str:
        """Wait for a background run to end; returns :attr:`state`."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state

    def run(self) -> pd.DataFrame | None:
        """Train with the current settings in the calling thread and show the scores.

        Returns
        -------
        DataFrame or None
            The score table (method, metric, value), or None when stopped or failed (see
            :attr:`state` and :attr:`error`).
        """
        reason = self.not_ready()
        if reason:
            self.error = ValueError(reason)
            self._set_state("error", html.escape(reason))
            return None
        self._set_state("running", f"training {self.coupling.value} on {self.describe()} ...")
        self.losses, self.scores, self.error, self.data, self.moved, self.task_ = [], None, None, None, None, None
        self.analyses = None
        for plot in (self.loss_plot, self.comparison_plot):
            plot.value, plot.layout.display = b"", "none"  # no broken image before a figure exists
        self.results.value = ""
        bar = self._progress_bar(self.steps.value)
        try:
            task = self.task_ = self.make_task()
            data = self.data = task.load(self.seed.value)
            source, target = task.mask(data, self.fraction.value, self.seed.value)
            self.aligner = self.make_aligner()
            self.aligner.fit(source, target, resume=self.resume.value, should_stop=self._on_step(bar))
            moved = self.moved = self.aligner.transform(data.source_test)
            before = {"before alignment": task.before(data)} if callable(getattr(task, "before", None)) else {}
            self.scores = _score_table({"flow (aligned)": task.score(moved, data), **before,
                                        "end to end": task.end_to_end(source, data),
                                        "ceiling": task.ceiling(data)})
        except KeyboardInterrupt:
            self._draw_losses()
            kept = f"; checkpoint kept at {self.checkpoint_path}" if self.checkpoint_path.exists() else ""
            self._set_state("stopped", f"stopped after {len(self.losses)} steps{kept}")
            return None
        except Exception as exc:  # shown in the panel: a notebook user sees the message, not a dead thread
            self.error = exc
            self._set_state("error", f"<b>could not run</b>: {html.escape(str(exc))}")
            return None
        finally:
            bar.bar_style = "success" if self.state == "running" else "warning"
        self._draw_losses()
        self.results.value = self.scores.to_html(index=False, float_format="{:.3f}".format)
        try:
            if "before alignment" in set(self.scores["method"]):
                figure = before_after_figure(self.scores)
            else:  # a registered task: every registered analysis (RSA, decoding, ...) before and after alignment
                self.analyses = analyse(data, moved)
                figure = compare_figure(self.analyses)
        except Exception as exc:  # an analysis plugin failing must not hide the scores of a finished fit
            self.results.value += f"<p><b>before/after comparison failed</b>: {html.escape(f'{type(exc).__name__}: {exc}')}</p>"
        else:
            self.comparison_plot.value = png(figure)
            self.comparison_plot.layout.display = None
        self._set_state("done", f"done: {len(self.losses)} steps")
        return self.scores

    def _progress_bar(self, total: int) -> W.IntProgress:
        """The panel's progress bar, reset to 0 of ``total`` steps and shown."""
        self.progress.max, self.progress.value, self.progress.bar_style = total, 0, "info"
        self.progress.layout.display = None
        self.progress_text.value = f"0 / {total} steps"
        return self.progress

    def _on_step(self, bar: W.IntProgress):
        def should_stop(step, loss) -> bool:
            self.losses.append(float(loss))
            bar.value = step
            self.progress_text.value = f"{step} / {bar.max} steps, loss {float(loss):.4f}"
            if step % self.plot_every == 0:
                self._draw_losses()
            return self._stop.is_set()

        return should_stop

    def _draw_losses(self) -> None:
        if self.losses:
            self.loss_plot.value = png(plot_training(np.asarray(self.losses), "training loss"))
            self.loss_plot.layout.display = None

    def _set_state(self, state: str, message: str) -> None:
        self.state = state
        self.status.value = message
        self.stop_button.disabled = state != "running"
        self._update_run_button()


def _figure_layout() -> W.Layout:
    """A figure that shrinks to the output area's width (never wider than its PNG), hidden until it has one."""
    return W.Layout(display="none", max_width="100%", height="auto", object_fit="contain")


def _score_table(scores: dict[str, dict]) -> pd.DataFrame:
    """``{method: {metric: value}}`` as a tidy table."""
    return pd.DataFrame([{"method": method, "metric": metric, "value": float(value)}
                         for method, values in scores.items() for metric, value in values.items()])

"""AlignPanel: configure and train a flow aligner on a registered task, with live progress and scores."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import ipywidgets as W
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..aligner import FlowAligner
from ..experiments import masked_pair
from ..flow.train import CHECKPOINT_NAME
from ..plugins import get_registry, make
from .figures import loss_figure, png
from .options import OptionFields

NO_BRIDGE = "(none)"


class AlignPanel(W.VBox):
    """Train a :class:`~flowalign_nb.FlowAligner` on a registered task from a notebook.

    Dropdowns list the registered tasks, couplings and bridges; the option fields of the chosen
    coupling and bridge come from their factories' signatures, so a plugin's coupling shows up with
    its options. **Run** trains in a background thread (:meth:`start`; :meth:`run` trains in the
    calling thread) with a tqdm.auto progress bar and a loss plot redrawn every ``plot_every`` steps;
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
    """

    def __init__(self, task="synthetic", task_options=None, checkpoint_dir=None, checkpoint_every=10, plot_every=10):
        super().__init__()
        self.task_options = dict(task_options or {})
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
        self.task.observe(lambda change: self.task_fields.set_entry(tasks.get(change["new"])), names="value")
        self.coupling = W.Dropdown(options=couplings.names(), value="exemplar", description="coupling")
        self.bridge = W.Dropdown(options=[NO_BRIDGE, *bridges.names()], value=NO_BRIDGE, description="bridge")
        self.coupling_options = OptionFields(couplings.get(self.coupling.value))
        self.bridge_options = OptionFields(None)
        self.coupling.observe(lambda change: self.coupling_options.set_entry(couplings.get(change["new"])), names="value")
        self.bridge.observe(
            lambda change: self.bridge_options.set_entry(None if change["new"] == NO_BRIDGE else bridges.get(change["new"])),
            names="value")
        self.fraction = W.BoundedFloatText(value=0.1, min=0.001, max=1.0, step=0.01, description="label frac.")
        self.seed = W.IntText(value=0, description="seed")
        self.steps = W.BoundedIntText(value=500, min=1, max=10_000_000, description="steps")
        self.batch_size = W.BoundedIntText(value=256, min=1, max=1_000_000, description="batch size")
        self.device = W.Dropdown(options=["auto", "cpu", "cuda"], value="auto", description="device")
        self.resume = W.Checkbox(value=False, description="resume from checkpoint")
        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.status = W.HTML("idle")
        self.loss_plot = W.Image(format="png")
        self.results = W.HTML()
        self.children = (
            W.HBox([W.VBox([self.task, self.task_fields]), W.VBox([self.coupling, self.coupling_options, self.bridge, self.bridge_options]),
                    W.VBox([self.fraction, self.seed, self.steps, self.batch_size, self.device, self.resume])]),
            W.HBox([self.run_button, self.stop_button, self.status]),
            self.loss_plot, self.results,
        )

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
        self._set_state("running", f"training {self.coupling.value} on {self.task.value} ...")
        self.losses, self.scores, self.error, self.data, self.moved = [], None, None, None, None
        self.loss_plot.value = b""
        self.results.value = ""
        bar = tqdm(total=self.steps.value, desc="flow", leave=False)
        try:
            task = make("task", self.task.value, **{**self.task_fields.values(), **self.task_options})
            data = self.data = task.load(self.seed.value)
            source, target = masked_pair(data, self.fraction.value, self.seed.value)
            self.aligner = self.make_aligner()
            self.aligner.fit(source, target, resume=self.resume.value, should_stop=self._on_step(bar))
            moved = self.moved = self.aligner.transform(data.source_test)
            self.scores = _score_table({"flow (aligned)": task.score(moved, data),
                                        "end to end": task.end_to_end(source, data),
                                        "ceiling": task.ceiling(data)})
        except KeyboardInterrupt:
            self._draw_losses()
            kept = f"; checkpoint kept at {self.checkpoint_path}" if self.checkpoint_path.exists() else ""
            self._set_state("stopped", f"stopped after {len(self.losses)} steps{kept}")
            return None
        except Exception as exc:  # shown in the panel: a notebook user sees the message, not a dead thread
            self.error = exc
            self._set_state("error", f"<b>error</b>: {type(exc).__name__}: {exc}")
            return None
        finally:
            bar.close()
        self._draw_losses()
        self.results.value = self.scores.to_html(index=False, float_format="{:.3f}".format)
        self._set_state("done", f"done: {len(self.losses)} steps")
        return self.scores

    def _on_step(self, bar):
        def should_stop(step, loss) -> bool:
            self.losses.append(float(loss))
            bar.update(1)
            if step % self.plot_every == 0:
                self._draw_losses()
            return self._stop.is_set()

        return should_stop

    def _draw_losses(self) -> None:
        if self.losses:
            self.loss_plot.value = png(loss_figure(np.asarray(self.losses)))

    def _set_state(self, state: str, message: str) -> None:
        self.state = state
        self.status.value = message
        self.run_button.disabled = state == "running"
        self.stop_button.disabled = state != "running"


def _score_table(scores: dict[str, dict]) -> pd.DataFrame:
    """``{method: {metric: value}}`` as a tidy table."""
    return pd.DataFrame([{"method": method, "metric": metric, "value": float(value)}
                         for method, values in scores.items() for metric, value in values.items()])

"""Headless tests of the notebook widgets: set values, click Run / Stop, check state and results."""

import sys
import textwrap
import time

import ipywidgets as W
import numpy as np
import pandas as pd
import pytest
import torch

import flowalign_nb.plugins as plugins_module
from flowalign_nb import FlowAligner, make
from flowalign_nb.tasks.task import masked_pair
from flowalign_nb.flow.train import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from flowalign_nb.hookspecs import hookimpl
from flowalign_nb.plugins import BUILTIN_PLUGINS, Plugins, register_plugin
from flowalign_nb.safeio import read_tensors
from flowalign_nb.widgets import AlignPanel, CouplingView, OptionFields, SweepPanel, same_class_share

SMALL = {"n_train": 300, "n_test": 100}


def small_panel(tmp_path, steps=40, **settings):
    panel = AlignPanel(task="synthetic", task_options=SMALL, checkpoint_dir=tmp_path / "ckpt", **settings)
    panel.steps.value, panel.batch_size.value, panel.fraction.value, panel.device.value = steps, 64, 0.2, "cpu"
    return panel


def test_run_trains_and_shows_scores(tmp_path):
    panel = small_panel(tmp_path)
    scores = panel.run()
    assert panel.state == "done" and panel.error is None
    assert list(scores["method"]) == ["flow (aligned)", "end to end", "ceiling"]
    flow = scores.set_index("method").loc["flow (aligned)", "value"]
    assert flow > 0.5  # 5 classes: far above chance after 40 steps of exemplar pairs
    assert "flow (aligned)" in panel.results.value and "done" in panel.status.value
    assert len(panel.losses) == 40 and panel.loss_plot.value.tobytes().startswith(b"\x89PNG")
    np.testing.assert_allclose(panel.aligner.history_, panel.losses, rtol=1e-6)
    assert not panel.run_button.disabled and panel.stop_button.disabled
    _, info = read_tensors(panel.checkpoint_path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION)
    assert info["step"] == 40
    # the before/after comparison: every registered analysis on the held-out items, shown as a figure
    rsa = panel.analyses.query("analysis == 'rsa' and level == 'class means'").set_index("condition")["value"]
    assert set(rsa.index) == {"before", "after"} and rsa["after"] > rsa["before"]
    assert panel.comparison_plot.value.tobytes().startswith(b"\x89PNG") and panel.comparison_plot.layout.display is None


def test_run_button_in_background_and_stop_keeps_a_loadable_checkpoint(tmp_path):
    panel = small_panel(tmp_path, steps=100_000, checkpoint_every=5)
    panel.run_button.click()
    deadline = time.monotonic() + 60
    while len(panel.losses) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert panel.state == "running" and panel.run_button.disabled and not panel.stop_button.disabled
    panel.stop_button.click()
    assert panel.wait(timeout=60) == "stopped"
    assert "stopped" in panel.status.value and "checkpoint kept" in panel.status.value
    assert panel.scores is None and panel.error is None
    tensors, info = read_tensors(panel.checkpoint_path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION)
    assert 10 <= info["step"] < 100_000 and info["step"] % 5 == 0
    assert info["step"] <= len(panel.losses)
    np.testing.assert_allclose(tensors["losses"][: info["step"]].numpy(), panel.losses[: info["step"]], rtol=1e-6)


def test_resume_continues_from_the_stop_checkpoint(tmp_path):
    panel = small_panel(tmp_path, steps=30, checkpoint_every=10)
    stop_after = iter(range(10**6))
    panel._stop.is_set = lambda: next(stop_after) >= 14  # the Stop flag set during step 15
    assert panel.run() is None and panel.state == "stopped"
    _, info = read_tensors(panel.checkpoint_path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION)
    assert info["step"] == 10
    del panel._stop.is_set
    panel.resume.value = True
    panel.run()
    assert panel.state == "done" and len(panel.losses) == 20  # steps 11..30 only
    fresh = small_panel(tmp_path / "fresh", steps=30)
    fresh.run()
    np.testing.assert_allclose(panel.aligner.history_, fresh.aligner.history_, rtol=1e-5)


def test_errors_are_shown_not_raised(tmp_path):
    panel = small_panel(tmp_path)
    panel.fraction.value = 1.0
    panel.task_options = {"n_train": 300, "n_test": 100, "source_dim": 30}  # source_dim > target_dim: the task refuses
    assert panel.run() is None
    assert panel.state == "error" and "target_dim=24 must be >= source_dim=30" in str(panel.error)
    assert panel.status.value == "<b>could not run</b>: target_dim=24 must be &gt;= source_dim=30"  # the message, no exception type
    assert panel.loss_plot.layout.display == "none" and panel.comparison_plot.layout.display == "none"  # no broken image


def test_a_coupling_that_needs_a_bridge_gets_the_default_or_run_says_why_not(tmp_path):
    panel = small_panel(tmp_path)
    assert (panel.coupling.value, panel.bridge.value) == ("ot", "posterior")  # FlowAligner's defaults
    panel.coupling.value, panel.bridge.value = "exemplar", "(none)"
    assert not panel.run_button.disabled and panel.reason.value == ""
    panel.coupling.value = "ot"
    assert panel.bridge.value == "posterior" and not panel.run_button.disabled
    panel.bridge.value = "(none)"
    assert panel.run_button.disabled
    reason = "The coupling 'ot' compares items of the two spaces through a bridge cost: choose a bridge (posterior is FlowAligner's default)."
    assert panel.not_ready() == reason and panel.run_button.tooltip == reason and "choose a bridge" in panel.reason.value
    assert panel.run() is None and str(panel.error) == reason and panel.state == "error"
    panel.coupling.value = "gw"  # needs none: Run is back, the bridge stays as chosen
    assert not panel.run_button.disabled and panel.bridge.value == "(none)" and panel.reason.value == ""


def test_option_fields_show_full_names_with_the_docstring_sentence_as_tooltip(tmp_path):
    panel = small_panel(tmp_path)
    panel.coupling.value = "sinkhorn"
    fields = panel.coupling_options.fields
    assert fields["full_plan_max"].description == "full_plan_max"
    assert fields["full_plan_max"].style.description_width == f"{len('full_plan_max') + 2}ch"  # the longest name, in full
    # documented on PlanCoupling, inherited; the deprecated batch_size is not offered
    assert fields["plan_size"].tooltip == "Items per side of a minibatch plan; None: the training batch of each sample call."
    assert "batch_size" not in fields
    assert fields["reg"].tooltip == "Entropic regularisation (costs are mean-normalised by the bridge)."
    assert fields["num_iter_max"].tooltip == "int"  # documented by type only
    assert panel.bridge_options.fields["mask_penalty"].tooltip == "Added (after normalisation) to pairs of labelled items of different classes."


def test_the_two_batch_sizes_have_distinct_labels(tmp_path):
    panel = small_panel(tmp_path)
    panel.coupling.value = "ot"
    training = [panel.fraction, panel.seed, panel.steps, panel.batch_size, panel.device]
    labels = [w.description for w in training] + [w.description for w in panel.coupling_options.children]
    assert len(labels) == len(set(labels)) and panel.batch_size.description == "pairs per step"
    assert "pairs drawn from the coupling per training step" in panel.batch_size.tooltip


def test_run_drives_the_panel_progress_bar_step_by_step(tmp_path):
    panel = small_panel(tmp_path, steps=25)
    seen = []
    panel.progress.observe(lambda change: seen.append(change["new"]), names="value")
    assert panel.progress.layout.display == "none"
    panel.run()
    assert panel.state == "done" and seen == list(range(1, 26))
    assert panel.progress.max == 25 and panel.progress.bar_style == "success" and panel.progress.layout.display is None
    assert panel.progress_text.value.startswith("25 / 25 steps, loss ")


def test_task_dropdown_lists_tasks_and_unknown_task_names_the_known_ones(tmp_path):
    panel = small_panel(tmp_path)
    assert "synthetic" in panel.task.options and panel.task_fields.children == ()
    with pytest.raises(KeyError, match="known tasks: .*synthetic"):
        AlignPanel(task="no_such_task")


def test_coupling_and_bridge_option_fields_follow_the_dropdowns(tmp_path):
    panel = small_panel(tmp_path)
    panel.coupling.value = "sinkhorn"
    reg = panel.coupling_options.fields["reg"]
    assert isinstance(reg, W.FloatText)
    reg.value = 0.2
    assert panel.coupling_options.values() == {"reg": 0.2}
    assert panel.bridge.value == "posterior" and panel.bridge_options.entry.name == "posterior"  # the default bridge
    panel.bridge.value = "(none)"
    assert panel.bridge_options.children == ()
    panel.bridge.value = "prototype"
    assert panel.bridge_options.entry.name == "prototype"
    aligner = panel.make_aligner()
    assert aligner.coupling == "sinkhorn" and aligner.coupling_options == {"reg": 0.2} and aligner.bridge == "prototype"


def test_option_fields_parse_literals_and_name_bad_values():
    def factory(size: int = 3, name: str = "a", limit=None, needed=None):
        return None

    from flowalign_nb.registry import Entry

    fields = OptionFields(Entry("coupling", "demo", factory, "test"))
    assert set(fields.fields) == {"size", "name", "limit", "needed"}
    assert fields.values() == {}
    fields.fields["limit"].value = "[1, 2]"
    assert fields.values() == {"limit": [1, 2]}
    fields.fields["name"].value = "b c"
    with pytest.raises(ValueError, match=r"option name='b c' is not a Python literal"):
        fields.values()


PLUGIN = textwrap.dedent('''
    from flowalign_nb.transport.couplings import IndependentCoupling
    from flowalign_nb.hookspecs import hookimpl

    class Tempered(IndependentCoupling):
        def __init__(self, temperature: float = 0.5, rounds: int = 2):
            self.temperature, self.rounds = temperature, rounds

    @hookimpl
    def flowalign_register_couplings(registry):
        registry.add("tempered", Tempered, description="test plugin coupling")
''')


def test_plugin_coupling_appears_with_its_options(tmp_path, monkeypatch):
    (tmp_path / "fa_widget_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins_module, "_plugins", Plugins(entry_points=[], builtins=(*BUILTIN_PLUGINS, "fa_widget_plugin")))
    monkeypatch.delitem(sys.modules, "fa_widget_plugin", raising=False)
    panel = small_panel(tmp_path, steps=5)
    assert "tempered" in panel.coupling.options
    panel.coupling.value = "tempered"
    assert isinstance(panel.coupling_options.fields["temperature"], W.FloatText)
    assert isinstance(panel.coupling_options.fields["rounds"], W.IntText)
    panel.coupling_options.fields["temperature"].value = 0.25
    panel.run()
    assert panel.state == "done"
    assert type(panel.aligner.coupling_).__name__ == "Tempered" and panel.aligner.coupling_.temperature == 0.25


def test_coupling_view_orders_by_class_and_reports_same_class_share():
    data = make("task", "synthetic", **SMALL).load(0)
    source, target = masked_pair(data, 0.2, 0)
    exemplar = FlowAligner("exemplar", steps=2, batch_size=8, progress=False, device="cpu").fit(source, target)
    view = CouplingView(exemplar, source, target, batch_size=40, seed=1)
    assert view.share == pytest.approx(1.0) and view.image.value.tobytes().startswith(b"\x89PNG")
    assert view.plan.sum() == pytest.approx(1.0)
    independent = FlowAligner("independent", steps=2, batch_size=8, progress=False, device="cpu").fit(source, target)
    chance = CouplingView(independent, source, target, batch_size=40, seed=1).share
    assert 0.05 < chance < 0.5  # 5 classes: about a fifth by chance
    with pytest.raises(ValueError, match="fitted on"):
        CouplingView(exemplar, target, source)
    with pytest.raises(ValueError, match="fitted aligner"):
        CouplingView(FlowAligner(), source, target)


@pytest.mark.parametrize("options", [{}, {"full_plan_max": 100, "batch_size": 48}, {"full_plan_max": 100, "batch_size": 48, "blocks": True}],
                         ids=["full plan", "minibatch", "blocked minibatch"])
def test_coupling_view_shows_the_plan_training_sampled_from(options):
    """An ``ot`` coupling: the view is the full plan's restriction, or the last training minibatch's plan."""
    data = make("task", "synthetic", **SMALL).load(0)
    source, target = masked_pair(data, 0.2, 0)
    aligner = FlowAligner("ot", bridge="prototype", steps=2, batch_size=8, progress=False, device="cpu",
                          coupling_options=options).fit(source, target)
    coupling = aligner.coupling_
    view = CouplingView(aligner, source, target, batch_size=40, seed=1)
    position_src = {s: i for i, s in enumerate(source["stimulus_id"].values)}
    position_tgt = {s: i for i, s in enumerate(target["stimulus_id"].values)}
    rows = [position_src[s] for s in view.shown["source_id"].values]
    cols = [position_tgt[s] for s in view.shown["target_id"].values]
    if not options:
        expected = coupling.full_plan_.numpy()[np.ix_(rows, cols)]
        np.testing.assert_allclose(view.plan, expected / expected.sum(), atol=1e-12)
        assert "full plan" in view.caption.value
    else:
        # an exact plan of a square uniform minibatch is a permutation: each shown row holds one pair
        assert view.plan.shape == (40, 40) and "last training minibatch (48 x 48 items)" in view.caption.value
        batch_src, batch_tgt, _ = coupling.last_minibatch_
        assert set(rows) <= set(batch_src.tolist()) and set(cols) <= set(batch_tgt.tolist())
        pairs = set(zip(*(b.tolist() for b in coupling.sample(4096, torch.Generator().manual_seed(0)))))
        view = CouplingView(aligner, source, target, batch_size=48, seed=1)  # the new minibatch, whole
        rows = [position_src[s] for s in view.shown["source_id"].values]
        cols = [position_tgt[s] for s in view.shown["target_id"].values]
        support = {(rows[i], cols[j]) for i, j in zip(*np.nonzero(view.plan))}
        assert pairs <= support  # every pair training drew is a pair of the plan shown
        assert view.plan.sum() == pytest.approx(1.0)
    labels = view.shown["source_label"].values
    assert (labels[:-1] <= labels[1:]).all()
    same = view.shown["source_label"].values[:, None] == view.shown["target_label"].values[None, :]
    assert view.share == pytest.approx(view.plan[same].sum() / view.plan.sum())


def test_same_class_share():
    plan = np.array([[0.5, 0.1], [0.1, 0.3]])
    assert same_class_share(plan, np.array([0, 1]), np.array([0, 1])) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="does not match"):
        same_class_share(plan, np.array([0]), np.array([0, 1]))


def test_compare_panel_from_a_finished_align_panel(tmp_path):
    from flowalign_nb.widgets import ComparePanel

    panel = small_panel(tmp_path)
    with pytest.raises(ValueError, match="has not finished"):
        ComparePanel.from_align_panel(panel)
    panel.run()
    compare_panel = ComparePanel.from_align_panel(panel)
    compare_panel.analysis.value = "transfer_decoding"
    assert set(compare_panel.analysis_options.fields) == {"label", "pad"}
    table = compare_panel.run()
    assert compare_panel.error is None and set(table["condition"]) == {"before", "after"}
    assert set(table["analysis"]) == {"transfer_decoding"}
    assert compare_panel.figure.value.tobytes().startswith(b"\x89PNG") and "transfer_decoding" in compare_panel.results.value
    compare_panel.analysis_options.fields["label"].value = "'no_such_coord'"
    assert compare_panel.run() is None and "error" in compare_panel.status.value


def test_sweep_panel_runs_every_cell_and_draws_the_figure():

    panel = SweepPanel(task="synthetic", task_options=SMALL)
    panel.fractions.value, panel.seeds.value, panel.steps.value = "0.1, 0.3", "0", 20
    panel.methods.value = ("exemplar", "ridge", "ceiling")
    table = panel.run()
    assert panel.error is None and "done: 6 cells" in panel.status.value
    assert set(table["method"]) == {"exemplar", "ridge", "ceiling"} and set(table["fraction"]) == {0.1, 0.3}
    assert table["value"].notna().all() and panel.figure.value.tobytes().startswith(b"\x89PNG")
    panel.fractions.value = "0.1, x"
    assert panel.run() is None and "fractions='0.1, x'" in str(panel.error)


class Blobs:
    """A test modality: class means plus noise, seeded (a 'plugin' registered at run time)."""

    def __init__(self, dim: int = 8, noise: float = 0.3, seed: int = 0):
        if dim < 1:
            raise ValueError(f"dim={dim!r} is not allowed; it must be positive")
        self.dim, self.noise, self.seed = dim, noise, seed

    def represent(self, stimuli):
        from flowalign_nb.data.represent import stimuli_representation

        rng = np.random.default_rng(self.seed)
        labels = stimuli["label"].to_numpy()
        means = 2 * rng.normal(size=(labels.max() + 1, self.dim))
        values = means[labels] + self.noise * rng.normal(size=(len(labels), self.dim))
        return stimuli_representation(values, stimuli, [f"u{j}" for j in range(self.dim)], modality="blobs")


class BlobsPlugin:
    @hookimpl
    def flowalign_register_modalities(self, registry):
        registry.add("blobs", Blobs, description="test modality: noisy class means")


@pytest.fixture
def blobs_registered(tmp_path, monkeypatch):
    """Fresh plugins with the test modality registered at run time; features cached under tmp_path."""
    monkeypatch.setenv("FLOWALIGN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(plugins_module, "_plugins", Plugins(entry_points=[]))
    assert register_plugin(BlobsPlugin(), name="blobs_plugin") == "blobs_plugin"
    return pd.DataFrame({"stimulus_id": [f"s{i:03d}" for i in range(200)], "label": np.arange(200) % 4})


def modality_panel(tmp_path, stimuli, steps=60):
    panel = AlignPanel(stimuli=stimuli, source="blobs", target="blobs", checkpoint_dir=tmp_path / "ckpt")
    panel.steps.value, panel.batch_size.value, panel.fraction.value, panel.device.value = steps, 64, 0.2, "cpu"
    return panel


def test_modality_mode_lists_registered_modalities_with_their_option_fields(tmp_path, blobs_registered):
    panel = modality_panel(tmp_path, blobs_registered)
    assert panel.mode.value == "modalities" and panel.source.options == ("blobs",)
    assert panel.task_box.layout.display == "none" and panel.modality_box.layout.display is None
    assert isinstance(panel.source_fields.fields["dim"], W.IntText)
    assert isinstance(panel.target_fields.fields["noise"], W.FloatText)
    panel.mode.value = "task"
    assert panel.modality_box.layout.display == "none" and panel.task_box.layout.display is None
    assert AlignPanel().mode.value == "task"
    with pytest.raises(KeyError, match="known modalitys: blobs"):
        AlignPanel(stimuli=blobs_registered, source="no_such_modality")
    with pytest.raises(ValueError, match="mode='both' is not allowed"):
        AlignPanel(mode="both")


def test_modality_mode_run_button_trains_and_scores_before_and_after(tmp_path, blobs_registered):
    panel = modality_panel(tmp_path, blobs_registered)
    panel.target_fields.fields["dim"].value = 12
    panel.target_fields.fields["seed"].value = 1
    panel.test_fraction.value = 0.3
    panel.run_button.click()
    assert panel.wait(timeout=120) == "done", panel.status.value
    assert panel.error is None and "done: 60 steps" in panel.status.value
    assert panel.data.source.sizes["neuroid"] == 8 and panel.data.target.sizes["neuroid"] == 12  # the option fields reached the factories
    assert panel.data.source_test.sizes["presentation"] == 60 and panel.moved.sizes["neuroid"] == 12
    scores = panel.scores.set_index(["method", "metric"])["value"]
    assert list(dict.fromkeys(panel.scores["method"])) == ["flow (aligned)", "before alignment", "end to end", "ceiling"]
    assert scores["flow (aligned)", "accuracy"] > 0.9 > scores["before alignment", "accuracy"]  # 4 classes, chance 0.25
    assert scores["flow (aligned)", "rsa"] > scores["before alignment", "rsa"]
    assert scores["ceiling", "accuracy"] == pytest.approx(1.0)
    assert "before alignment" in panel.results.value and panel.comparison_plot.value.tobytes().startswith(b"\x89PNG")
    assert panel.comparison_plot.layout.display is None
    assert type(panel.task_).__name__ == "ModalityPair"


def test_modality_mode_errors_name_the_problem(tmp_path, blobs_registered):
    panel = modality_panel(tmp_path, None, steps=5)
    assert panel.mode.value == "task"
    panel.mode.value = "modalities"
    assert panel.run() is None and panel.state == "error" and "needs stimuli" in str(panel.error)
    panel.stimuli = blobs_registered.drop(columns="label")
    assert panel.run() is None and "no 'label' column" in str(panel.error)
    panel.stimuli = blobs_registered
    panel.source_fields.fields["dim"].value = 0
    assert panel.run() is None and "dim=0 is not allowed" in str(panel.error) and panel.status.value.startswith("<b>could not run</b>: ")


def test_a_plugin_registered_at_run_time_can_be_replaced_and_removed(blobs_registered):
    from flowalign_nb.plugins import PluginError, get_registry, unregister_plugin

    with pytest.raises(ValueError, match="already registered"):
        register_plugin(BlobsPlugin(), name="blobs_plugin")
    with pytest.raises(PluginError, match="registered by both plugin 'blobs_plugin' and plugin 'other'"):
        register_plugin(BlobsPlugin(), name="other")
    assert register_plugin(BlobsPlugin(), name="blobs_plugin", replace=True) == "blobs_plugin"
    with pytest.raises(ValueError, match="has no @hookimpl hook"):
        register_plugin(object(), name="nothing")
    assert unregister_plugin("blobs_plugin") == ["modality:blobs"]
    assert "blobs" not in get_registry("modality")
    with pytest.raises(ValueError, match="no plugin named 'blobs_plugin'"):
        unregister_plugin("blobs_plugin")


def test_modality_pair_names_bad_inputs(blobs_registered):
    from flowalign_nb.tasks.modality_pair import ModalityPair
    from flowalign_nb.registry import UnknownNameError

    with pytest.raises(ValueError, match=r"test_fraction=1.5 is not allowed"):
        ModalityPair("blobs", "blobs", blobs_registered, test_fraction=1.5)
    with pytest.raises(ValueError, match="at least 2 labels with at least 2 stimuli each"):
        ModalityPair("blobs", "blobs", blobs_registered.iloc[:4])
    with pytest.raises(UnknownNameError, match="unknown modality 'pixels'; known modalitys: blobs"):
        ModalityPair("blobs", "pixels", blobs_registered)
    pair = ModalityPair("blobs", "blobs", blobs_registered, target_options={"dim": 3})
    data = pair.load(0)
    assert set(pair.before(data)) == {"rsa"}  # an 8-d source is wider than the 3-d target: no padded decoding


class SlowCouplingPlugin:
    """A second run-time plugin: a coupling (with an option) and a modality of another name."""

    @hookimpl
    def flowalign_register_couplings(self, registry):
        from flowalign_nb.transport.couplings import ExemplarCoupling

        def gentle(batch_size: int = 32, temperature: float = 0.5):
            return ExemplarCoupling()

        registry.add("gentle", gentle, description="test coupling registered after the panel")

    @hookimpl
    def flowalign_register_modalities(self, registry):
        registry.add("blobs2", Blobs, description="the test modality under a second name")


def test_panels_follow_plugins_registered_and_removed_after_they_were_built(tmp_path, blobs_registered):
    import gc

    from flowalign_nb.plugins import _listeners, unregister_plugin

    panel = modality_panel(tmp_path, blobs_registered)
    sweep_panel = SweepPanel(task="synthetic")
    panel.source_fields.fields["dim"].value = 5  # a typed value must survive refreshes
    assert "gentle" not in panel.coupling.options and panel.source.options == ("blobs",)
    register_plugin(SlowCouplingPlugin(), name="slow")
    assert "gentle" in panel.coupling.options and panel.source.options == ("blobs", "blobs2")
    assert panel.source.value == "blobs" and panel.source_fields.fields["dim"].value == 5
    panel.coupling.value = "gentle"
    assert set(panel.coupling_options.fields) == {"batch_size", "temperature"}
    panel.target.value = "blobs2"
    assert unregister_plugin("slow") == ["modality:blobs2", "coupling:gentle"]
    # gone from the dropdowns; a removed choice falls back to the first option, with its fields
    assert "gentle" not in panel.coupling.options and panel.coupling.value == panel.coupling.options[0]
    assert set(panel.coupling_options.fields) == {o.name for o in panel.coupling_options.entry.options()}
    assert panel.target.options == ("blobs",) and panel.target.value == "blobs" and panel.source_fields.fields["dim"].value == 5
    assert sweep_panel.task.value == "synthetic"

    class Listener:
        calls = 0

        def changed(self):
            Listener.calls += 1

    # listeners are held weakly: one that is garbage-collected stops being called and is dropped
    listener = Listener()
    plugins_module.on_registry_change(listener.changed)
    register_plugin(SlowCouplingPlugin(), name="slow")
    assert Listener.calls == 1
    listening = len(_listeners)
    del listener
    gc.collect()
    unregister_plugin("slow")
    assert Listener.calls == 1 and len(_listeners) == listening - 1
    with pytest.raises(TypeError, match="bound method"):
        plugins_module.on_registry_change(lambda: None)

    class Broken:
        def changed(self):
            raise KeyError("boom")

    broken = Broken()
    plugins_module.on_registry_change(broken.changed)
    with pytest.warns(RuntimeWarning, match="Broken.changed could not follow the plugin change: KeyError"):
        register_plugin(SlowCouplingPlugin(), name="slow")
    assert "gentle" in plugins_module.get_registry("coupling")  # the registration stands

"""FlowAligner on the synthetic pair: accuracy, no label leak, determinism, persistence, errors."""

import json
import re

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import flowalign_nb as fa
from flowalign_nb.analysis import nearest_class_mean_accuracy
from flowalign_nb.safeio import SavedFileError

STEPS = 800


@pytest.fixture(scope="module")
def pair():
    """16-d source, 24-d target (orthogonal embedding + sine warp), 5 classes, 2,000 items each, 5 % labelled."""
    p = fa.make_synthetic_pair(n_train=2000, n_test=500, source_dim=16, target_dim=24, n_classes=5, seed=0)
    return p, fa.mask_labels(p.source, 0.05, seed=0), fa.mask_labels(p.target, 0.05, seed=1)


def accuracy(aligner, pair):
    p, src, tgt = pair
    return nearest_class_mean_accuracy(aligner.fit(src, tgt).transform(p.source_test), p.target)


@pytest.mark.parametrize(
    "options",
    [
        dict(coupling="exemplar"),
        dict(coupling="ot", bridge="prototype"),
        dict(coupling="sinkhorn", bridge="prototype"),
        dict(coupling="unbalanced", bridge="prototype"),
    ],
    ids=lambda o: "+".join(o.values()),
)
def test_held_out_items_land_in_their_class(pair, options):
    assert accuracy(fa.FlowAligner(steps=STEPS, progress=False, **options), pair) >= 0.95


def test_independent_coupling_stays_near_chance(pair):
    # 5 classes: chance is 0.2. Without correspondence the flow cannot know which class goes where.
    assert accuracy(fa.FlowAligner(coupling="independent", steps=STEPS, progress=False), pair) <= 0.4


def test_conditional_noise_to_target_flow_also_aligns(pair):
    aligner = fa.FlowAligner(coupling="exemplar", dim_handling="conditional", steps=STEPS, progress=False)
    assert accuracy(aligner, pair) >= 0.9


def permute_unlabelled_labels(rep, seed):
    labels = rep["label"].values.copy()
    unlabelled = np.flatnonzero(~rep["is_labelled"].values)
    labels[unlabelled] = np.random.default_rng(seed).permutation(labels[unlabelled])
    assert (labels != rep["label"].values).any()
    return rep.assign_coords(label=("presentation", labels))


@pytest.mark.parametrize("options", [dict(coupling="exemplar"), dict(coupling="ot", bridge="prototype"),
                                     dict(coupling="sinkhorn", bridge="posterior")], ids=lambda o: "+".join(o.values()))
def test_labels_of_unlabelled_items_are_never_used(pair, options):
    p, src, tgt = pair
    fit = lambda s, t: fa.FlowAligner(steps=60, progress=False, **options).fit(s, t).transform(p.source_test).values
    before = fit(src, tgt)
    after = fit(permute_unlabelled_labels(src, 1), permute_unlabelled_labels(tgt, 2))
    np.testing.assert_array_equal(before, after)


def test_same_seed_same_output_and_other_seed_differs(pair):
    p, src, tgt = pair
    run = lambda seed: fa.FlowAligner(steps=50, seed=seed, progress=False).fit(src, tgt).transform(p.source_test).values
    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


@pytest.mark.parametrize("dim_handling", ["pad", "conditional"])
def test_save_load_round_trip_is_exact(pair, tmp_path, dim_handling):
    p, src, tgt = pair
    aligner = fa.FlowAligner(coupling="ot", bridge="prototype", steps=40, dim_handling=dim_handling, progress=False).fit(src, tgt)
    aligner.save(tmp_path / "al")
    loaded = fa.FlowAligner.load(tmp_path / "al")
    np.testing.assert_array_equal(aligner.transform(p.source_test).values, loaded.transform(p.source_test).values)
    assert loaded.get_params() == aligner.get_params()
    assert loaded.classes_ == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(loaded.history_, aligner.history_)


def test_transform_returns_target_space_with_source_presentations(pair):
    p, src, tgt = pair
    moved = fa.FlowAligner(steps=20, progress=False).fit(src, tgt).transform(p.source_test)
    assert moved.dims == ("presentation", "neuroid")
    assert moved.shape == (500, 24)
    np.testing.assert_array_equal(moved["stimulus_id"].values, p.source_test["stimulus_id"].values)
    np.testing.assert_array_equal(moved["label"].values, p.source_test["label"].values)
    np.testing.assert_array_equal(moved["neuroid_id"].values, p.target["neuroid_id"].values)
    assert moved.attrs["model"] == "target"
    assert json.loads(moved.attrs["aligned_from"])["model"] == "source"


def test_loss_decreases(pair):
    _, src, tgt = pair
    history = fa.FlowAligner(steps=300, progress=False).fit(src, tgt).history_
    assert history[-50:].mean() < 0.5 * history[:10].mean()


def test_corrupt_or_foreign_saves_fail_clearly(pair, tmp_path):
    _, src, tgt = pair
    path = fa.FlowAligner(steps=5, progress=False).fit(src, tgt).save(tmp_path / "al")
    info = json.loads((path / "aligner.json").read_text())
    (path / "aligner.json").write_text(json.dumps({**info, "version": 99}))
    with pytest.raises(SavedFileError, match=r"aligner.json.*version 99"):
        fa.FlowAligner.load(path)
    (path / "aligner.json").write_text(json.dumps(info)[:50])
    with pytest.raises(SavedFileError, match=r"aligner.json.*truncated"):
        fa.FlowAligner.load(path)
    (path / "aligner.json").write_text(json.dumps(info))
    weights = (path / "weights.safetensors").read_bytes()
    (path / "weights.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(SavedFileError, match=r"weights.safetensors.*truncated"):
        fa.FlowAligner.load(path)
    with pytest.raises(SavedFileError, match="not found"):
        fa.FlowAligner.load(tmp_path / "nothing")


def test_bad_parameters_and_inputs_fail_clearly(pair):
    p, src, tgt = pair
    with pytest.raises(ValueError, match=r"dim_handling='zero'.*'pad', 'conditional'"):
        fa.FlowAligner(dim_handling="zero").fit(src, tgt)
    with pytest.raises(KeyError, match=r"unknown coupling 'emd'.*exemplar.*sinkhorn"):
        fa.FlowAligner(coupling="emd").fit(src, tgt)
    with pytest.raises(ValueError, match=r"steps=0"):
        fa.FlowAligner(steps=0).fit(src, tgt)
    with pytest.raises(ValueError, match=r"needs a bridge.*prototype"):
        fa.FlowAligner(coupling="ot", bridge=None, steps=5, progress=False).fit(src, tgt)
    with pytest.raises(NotFittedError, match="not fitted"):
        fa.FlowAligner().transform(p.source_test)
    fitted = fa.FlowAligner(steps=5, progress=False).fit(src, tgt)
    with pytest.raises(fa.RepresentationError, match="24 neuroids; this aligner was fit on 16"):
        fitted.transform(p.target_test)
    with pytest.raises(fa.RepresentationError, match="target has no labelled items"):
        fa.FlowAligner(steps=5).fit(src, p.target)


def test_minibatch_gw_flow_maps_held_out_points_to_their_true_images():
    """A planted isometry, more items than gw's full-plan threshold, no labels: the flow learns the map itself.

    2-d points with differently skewed axes (gamma shapes 1 and 4) and their images under
    ``(x0, x1) -> (-x1, 0, x0)`` in 3-d, shuffled; 600 items per space above ``full_plan_max=300``,
    so training draws conditioned minibatch plans. Minibatches that picked different reflections
    would train a flow towards their mixture, far from the images.
    """
    rng = np.random.default_rng(0)
    x = np.stack([rng.gamma(1.0, 1.0, 800), rng.gamma(4.0, 1.0, 800)], 1) * np.array([2.0, 1.0])
    images = np.stack([-x[:, 1], np.zeros(len(x)), x[:, 0]], 1)
    order = rng.permutation(600)
    src = fa.make_representation(x[:600])
    tgt = fa.make_representation(images[:600][order], [f"t{i}" for i in range(600)])
    held_out = fa.make_representation(x[600:], [f"h{i}" for i in range(200)])
    aligner = fa.FlowAligner(coupling="gw", coupling_options={"full_plan_max": 300}, steps=400, progress=False).fit(src, tgt)
    assert aligner.coupling_.full_plan_ is None  # minibatch plans, not one full plan
    truth = images[600:]
    error = np.sqrt(((aligner.transform(held_out).values - truth) ** 2).sum(1).mean())
    spread = np.sqrt(((truth - truth.mean(0)) ** 2).sum(1).mean())
    assert error < 0.3 * spread


def test_ridge_recovers_a_known_linear_map_from_stimulus_pairs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    weights = rng.normal(size=(6, 9))
    ids = [f"s{i}" for i in range(400)]
    labels = np.arange(400) % 4
    src = fa.mask_labels(fa.make_representation(x, ids, labels), 0.2, seed=0)
    tgt = fa.make_representation(x @ weights + 3.0, ids, labels, is_labelled=src["is_labelled"].values)
    ridge = fa.RidgeAligner(alpha=1e-6).fit(src, tgt)
    assert ridge.fit_on_ == "stimulus pairs" and ridge.n_pairs_ == 80
    np.testing.assert_allclose(ridge.transform(src).values, tgt.values, atol=1e-3)


def test_procrustes_recovers_a_known_rotation_from_stimulus_pairs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 5))
    from scipy.stats import ortho_group

    rotation = ortho_group.rvs(5, random_state=2)
    ids, labels = [f"s{i}" for i in range(2000)], np.arange(2000) % 2
    src = fa.mask_labels(fa.make_representation(x, ids, labels), 0.5, seed=0)
    tgt = fa.make_representation(x @ rotation, ids, labels, is_labelled=src["is_labelled"].values)
    aligner = fa.ProcrustesAligner().fit(src, tgt)
    error = np.linalg.norm(aligner.transform(src).values - tgt.values) / np.linalg.norm(tgt.values)
    # An isotropic cloud: per-space standardisation is almost the identity, so the rotation survives it.
    assert error < 0.05


def test_baselines_fall_back_to_class_means_without_stimulus_pairs(pair):
    p, src, tgt = pair
    for aligner in (fa.RidgeAligner(), fa.ProcrustesAligner()):
        moved = aligner.fit(src, tgt).transform(p.source_test)
        assert aligner.fit_on_ == "class means" and aligner.n_pairs_ == 5
        assert nearest_class_mean_accuracy(moved, p.target) >= 0.9


def test_interrupted_fit_resumes_to_the_same_aligner(pair, tmp_path):
    from flowalign_nb.transport.couplings import ExemplarCoupling

    p, src, tgt = pair
    options = dict(steps=90, checkpoint_every=30, progress=False)
    reference = fa.FlowAligner(coupling="exemplar", checkpoint_dir=tmp_path / "ref", **options).fit(src, tgt).transform(p.source_test).values

    class Interrupting(ExemplarCoupling):
        calls = 0

        def sample(self, batch_size, generator):
            Interrupting.calls += 1
            if Interrupting.calls == 50:  # the notebook's stop button, between checkpoints 30 and 60
                raise KeyboardInterrupt
            return super().sample(batch_size, generator)

    with pytest.raises(KeyboardInterrupt):
        fa.FlowAligner(coupling=Interrupting(), checkpoint_dir=tmp_path / "run", **options).fit(src, tgt)
    assert (tmp_path / "run" / "checkpoint.safetensors").exists()
    with pytest.raises(SavedFileError, match="another run.*steps"):
        fa.FlowAligner(coupling=Interrupting(), checkpoint_dir=tmp_path / "run", **{**options, "steps": 120}).fit(src, tgt, resume=True)
    resumed = fa.FlowAligner(coupling=Interrupting(), checkpoint_dir=tmp_path / "run", **options).fit(src, tgt, resume=True)
    assert Interrupting.calls == 50 + 90 - 30  # resumed from step 30: only the missing steps ran
    np.testing.assert_array_equal(resumed.transform(p.source_test).values, reference)


def _source_with_extra_classes(pair):
    """The pair with classes 3 and 4 labelled in the source only (the target's items of those classes are unlabelled)."""
    p, src, tgt = pair
    hidden = np.isin(tgt["label"].values, [3, 4])
    return src, tgt.assign_coords(is_labelled=("presentation", tgt["is_labelled"].values & ~hidden))


def test_classes_in_one_space_stop_the_fit_and_name_the_shared_option(pair):
    src, tgt = _source_with_extra_classes(pair)
    with pytest.raises(fa.RepresentationError, match=r"class\(es\) \[3, 4\] labelled in the source .*classes='shared'"):
        fa.FlowAligner(steps=2, progress=False).fit(src, tgt)


@pytest.mark.parametrize("aligner", [lambda **o: fa.FlowAligner(steps=20, progress=False, **o), fa.RidgeAligner, fa.ProcrustesAligner],
                         ids=["flow", "ridge", "procrustes"])
def test_shared_classes_align_on_the_classes_labelled_in_both(pair, aligner):
    p, _, _ = pair
    src, tgt = _source_with_extra_classes(pair)
    with pytest.warns(UserWarning, match=r"class\(es\) \[3, 4\] labelled only in the source"):
        shared = aligner(classes="shared").fit(src, tgt)
    assert shared.classes_ == [0, 1, 2]
    # the same as unlabelling the source's items of classes 3 and 4 by hand
    unlabelled = src.assign_coords(is_labelled=("presentation", src["is_labelled"].values & ~np.isin(src["label"].values, [3, 4])))
    by_hand = aligner().fit(unlabelled, tgt)
    assert by_hand.classes_ == [0, 1, 2]
    np.testing.assert_array_equal(shared.transform(p.source_test).values, by_hand.transform(p.source_test).values)


def test_shared_classes_need_one_class_in_common_and_a_known_mode(pair):
    p, src, tgt = pair
    only_low = tgt.assign_coords(is_labelled=("presentation", tgt["is_labelled"].values & (tgt["label"].values < 2)))
    only_high = src.assign_coords(is_labelled=("presentation", src["is_labelled"].values & (src["label"].values >= 2)))
    with pytest.raises(fa.RepresentationError, match=r"no class is labelled in both spaces: source \[2, 3, 4\], target \[0, 1\]"):
        fa.FlowAligner(steps=2, progress=False, classes="shared").fit(only_high, only_low)
    with pytest.raises(ValueError, match=r"classes='some' is not allowed; use 'all' .* or 'shared'"):
        fa.FlowAligner(steps=2, progress=False, classes="some").fit(src, tgt)


@pytest.fixture(scope="module")
def small_pair():
    p = fa.make_synthetic_pair(n_train=200, n_test=20, source_dim=5, target_dim=6, n_classes=4, seed=0)
    return fa.mask_labels(p.source, 0.2, seed=0), fa.mask_labels(p.target, 0.2, seed=1)


def _changed_values(rep, item=3):
    values = rep.values.copy()
    values[item] += 1.0
    return rep.copy(data=values)


def _other_mask(rep):
    return fa.mask_labels(rep, 0.2, seed=7)


def _relabelled(rep):
    """Two labelled items of different classes swap labels (the mask stays)."""
    labels, known = rep["label"].values.copy(), np.flatnonzero(rep["is_labelled"].values)
    j = known[np.flatnonzero(labels[known] != labels[known[0]])[0]]
    labels[[known[0], j]] = labels[[j, known[0]]]
    return rep.assign_coords(label=("presentation", labels))


def _hidden_labels_permuted(rep):
    labels, hidden = rep["label"].values.copy(), np.flatnonzero(~rep["is_labelled"].values)
    labels[hidden] = np.random.default_rng(0).permutation(labels[hidden])
    return rep.assign_coords(label=("presentation", labels))


RESUME_OPTIONS = dict(steps=20, checkpoint_every=10, batch_size=32, hidden=32, depth=2, progress=False, device="cpu")


@pytest.mark.parametrize("change, differs", [
    (lambda s, t: (_changed_values(s), t, {}), "source values"),
    (lambda s, t: (s, _changed_values(t), {}), "target values"),
    (lambda s, t: (_other_mask(s), t, {}), "source label mask"),
    (lambda s, t: (s, _other_mask(t), {}), "target label mask"),
    (lambda s, t: (_relabelled(s), t, {}), "source known labels"),
    (lambda s, t: (s, t, {"sigma": 0.2}), "sigma"),
    (lambda s, t: (s, t, {"coupling": "sinkhorn", "coupling_options": {"reg": 0.2}}), "coupling_options.reg"),
    (lambda s, t: (s, t, {"coupling": fa.make("coupling", "sinkhorn", reg=0.2)}), "coupling.reg"),
], ids=["source values", "target values", "source mask", "target mask", "known labels", "sigma", "coupling option",
        "coupling object option"])
def test_resume_refuses_a_checkpoint_of_other_data_or_options(small_pair, tmp_path, change, differs):
    src, tgt = small_pair
    base = {"coupling": "sinkhorn", "bridge": "prototype", "coupling_options": {"reg": 0.1}}
    if differs == "coupling.reg":
        base = {"coupling": fa.make("coupling", "sinkhorn", reg=0.1), "bridge": "prototype"}
    fa.FlowAligner(checkpoint_dir=tmp_path, **base, **RESUME_OPTIONS).fit(src, tgt)
    new_src, new_tgt, options = change(src, tgt)
    with pytest.raises(SavedFileError, match=f"another run \\(differs in [^)]*{re.escape(differs)}"):
        fa.FlowAligner(checkpoint_dir=tmp_path, **{**base, **options}, **RESUME_OPTIONS).fit(new_src, new_tgt, resume=True)


def test_resume_accepts_the_same_data_and_ignores_hidden_labels(small_pair, tmp_path):
    src, tgt = small_pair
    first = fa.FlowAligner(checkpoint_dir=tmp_path, **RESUME_OPTIONS).fit(src, tgt)
    again = fa.FlowAligner(checkpoint_dir=tmp_path, **RESUME_OPTIONS).fit(_hidden_labels_permuted(src), _hidden_labels_permuted(tgt),
                                                                            resume=True)
    np.testing.assert_array_equal(again.history_, first.history_)  # resumed at its last step: the same run


# ------------------------------------------------------------------ linear start, condition, tied plan size (issue 17)


def linear_pair(n=400, d=6, seed=0):
    """Paired items: target = source @ R + shift, R a random rotation; all labelled (4 classes)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) * np.linspace(1, 2, d)
    rotation = np.linalg.qr(rng.standard_normal((d, d)))[0]
    labels = np.arange(n) % 4
    ids = [f"s{i}" for i in range(n)]
    source = fa.make_representation(x, stimulus_id=ids, label=labels, is_labelled=np.ones(n, bool))
    target = fa.make_representation(x @ rotation + 3.0, stimulus_id=ids, label=labels, is_labelled=np.ones(n, bool))
    return source, target


@pytest.mark.parametrize("init", ["ridge", "procrustes"])
def test_linear_start_recovers_a_known_linear_map(init):
    """target = source R + 3 exactly: the linear start maps every item onto its partner, and an untrained
    flow (zero velocity) returns the start, which is the matching linear baseline's output."""
    source, target = linear_pair()
    aligner = fa.FlowAligner(coupling="exemplar", init=init, steps=1, lr=1e-12, progress=False, device="cpu").fit(source, target)
    moved = aligner.transform(source).values
    if init == "ridge":  # (Procrustes is orthogonal between the standardised spaces, where the true map is not)
        np.testing.assert_allclose(moved, target.values, atol=0.02 * np.abs(target.values).max())  # alpha=1 shrinks a little
    baseline = fa.RidgeAligner() if init == "ridge" else fa.ProcrustesAligner()
    np.testing.assert_allclose(moved, baseline.fit(source, target).transform(source).values, atol=1e-4)
    plain = fa.FlowAligner(coupling="exemplar", steps=1, lr=1e-12, progress=False, device="cpu").fit(source, target)
    assert np.abs(plain.transform(source).values - target.values).max() > 1.0  # without it, the flow starts at the source


def test_linear_start_survives_save_and_load(tmp_path):
    source, target = linear_pair(n=120, d=3)
    aligner = fa.FlowAligner(coupling="exemplar", init="ridge", steps=5, progress=False, device="cpu").fit(source, target)
    loaded = fa.FlowAligner.load(aligner.save(tmp_path / "a"))
    np.testing.assert_allclose(loaded.transform(source).values, aligner.transform(source).values, rtol=0, atol=1e-6)


def test_linear_start_and_condition_options_are_checked():
    source, target = linear_pair(n=40, d=2)
    with pytest.raises(ValueError, match=r"init='lasso' is not allowed; choose None or one of \('ridge', 'procrustes'\)"):
        fa.FlowAligner(init="lasso", progress=False).fit(source, target)
    with pytest.raises(ValueError, match=r"condition='yes' is not allowed"):
        fa.FlowAligner(condition="yes", progress=False).fit(source, target)
    with pytest.raises(ValueError, match=r"init='ridge' needs dim_handling='pad'"):
        fa.FlowAligner(init="ridge", dim_handling="conditional", progress=False).fit(source, target)


def test_condition_auto_follows_label_use():
    source, target = linear_pair(n=60, d=2)
    labelled = fa.FlowAligner(coupling="exemplar", steps=2, progress=False, device="cpu").fit(source, target)
    label_free = fa.FlowAligner(coupling="ot", bridge="euclidean", steps=2, progress=False, device="cpu").fit(source, target)
    assert labelled.conditioned_ and labelled.net_.cond_dim == 2
    assert not label_free.conditioned_ and label_free.net_.cond_dim == 0


def test_condition_auto_drops_the_condition_for_a_source_over_four_times_as_wide():
    """The width rule of ``condition="auto"``: 8 -> 2 coordinates (ratio 4) conditions, 9 -> 2 does not."""
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    def rep(d):
        return fa.make_representation(rng.standard_normal((60, d)), label=labels, is_labelled=np.ones(60, bool))
    target = rep(2)
    at_ratio = fa.FlowAligner(coupling="exemplar", steps=2, progress=False, device="cpu").fit(rep(8), target)
    wider = fa.FlowAligner(coupling="exemplar", steps=2, progress=False, device="cpu").fit(rep(9), target)
    forced = fa.FlowAligner(coupling="exemplar", condition=True, steps=2, progress=False, device="cpu").fit(rep(9), target)
    assert at_ratio.conditioned_ and at_ratio.net_.cond_dim == 8
    assert not wider.conditioned_ and wider.net_.cond_dim == 0
    assert forced.conditioned_ and forced.net_.cond_dim == 9


def test_default_coupling_is_exact_ot_on_the_posterior_bridge():
    """FlowAligner() transports with exact OT on posterior probes; "auto" gives no bridge to a coupling that needs none."""
    source, target = linear_pair(n=60, d=2)
    default = fa.FlowAligner(steps=2, progress=False, device="cpu").fit(source, target)
    assert type(default.coupling_).__name__ == "ExactOTCoupling"
    assert type(default.bridge_).__name__ == "PosteriorBridge"
    assert fa.FlowAligner(coupling="exemplar", steps=2, progress=False, device="cpu").fit(source, target).bridge_ is None
    with pytest.raises(ValueError, match=r"bridge_options=\{'alpha': 1\} are given but coupling 'exemplar' uses no bridge"):
        fa.FlowAligner(coupling="exemplar", bridge_options={"alpha": 1}, steps=2, progress=False).fit(source, target)


@pytest.mark.parametrize("hidden, expected", [(512, 1e-3), (256, 1e-3), (128, 2e-3), (64, 4e-3), (16, 4e-3)])
def test_auto_learning_rate_scales_as_one_over_width_below_256(hidden, expected, monkeypatch):
    """lr="auto" is 1e-3 * clip(256 / hidden, 1, 4), and that is the peak rate AdamW trains with."""
    from flowalign_nb.flow.train import FlowTrainer

    seen, original = [], FlowTrainer.__init__
    monkeypatch.setattr(FlowTrainer, "__init__", lambda self, *a, **k: seen.append(k["lr"]) or original(self, *a, **k))
    source, target = linear_pair(n=40, d=2)
    aligner = fa.FlowAligner(coupling="exemplar", hidden=hidden, steps=1, progress=False, device="cpu").fit(source, target)
    assert aligner.lr_ == pytest.approx(expected, rel=1e-12) and seen == [aligner.lr_]
    fixed = fa.FlowAligner(coupling="exemplar", hidden=hidden, lr=5e-4, steps=1, progress=False, device="cpu").fit(source, target)
    assert fixed.lr_ == 5e-4 and seen[-1] == 5e-4


@pytest.mark.parametrize("bad", [0, -1e-3, "fast", True])
def test_learning_rate_names_the_bad_value(bad):
    source, target = linear_pair(n=20, d=2)
    with pytest.raises(ValueError, match=re.escape(f"lr={bad!r} is not allowed; use 'auto' or a learning rate > 0")):
        fa.FlowAligner(coupling="exemplar", lr=bad, steps=1, progress=False).fit(source, target)


def test_flow_aligner_batch_sets_the_coupling_minibatch(monkeypatch):
    """The coupling's minibatch plans follow FlowAligner's batch_size unless plan_size is given."""
    from flowalign_nb.transport.couplings import ExactOTCoupling

    rng = np.random.default_rng(3)
    source, target = fa.make_representation(rng.standard_normal((300, 2))), fa.make_representation(rng.standard_normal((300, 2)))
    sizes, original = [], ExactOTCoupling.plan
    monkeypatch.setattr(ExactOTCoupling, "plan", lambda self, i, j: sizes.append((len(i), len(j))) or original(self, i, j))
    for options, expected in (({"full_plan_max": 10}, 48), ({"full_plan_max": 10, "plan_size": 30}, 30)):
        sizes.clear()
        fa.FlowAligner(coupling="ot", bridge="euclidean", coupling_options=options, batch_size=48, steps=3, progress=False,
                       device="cpu", prefetch=0).fit(source, target)
        assert sizes == [(expected, expected)] * 3


def test_label_free_independent_flow_keeps_the_target_spread():
    """Independent pairs N(0, I) -> N(0, 4 I) in 2-d: the flow must reproduce the target's spread (std 2).

    Conditioned on the source point, the learnt velocity heads for E[x1 | x0] (the target mean) and
    the transported points collapse (std well below 1)."""
    rng = np.random.default_rng(0)
    source = fa.make_representation(rng.standard_normal((2000, 2)))
    target = fa.make_representation(2 * rng.standard_normal((2000, 2)))
    aligner = fa.FlowAligner(coupling="independent", steps=300, hidden=64, progress=False, device="cpu").fit(source, target)
    spread = aligner.transform(source).values.std(0)
    np.testing.assert_allclose(spread, 2.0, rtol=0.15)

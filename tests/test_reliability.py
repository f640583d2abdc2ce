"""Reliability and security: bad inputs, atomic saves, safe loading, plugin factories, properties."""

import errno
import re
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import flowalign_nb as fa
from flowalign_nb import safeio
from flowalign_nb.data.model import Latents, check_pair
from flowalign_nb.tasks.task import parse_method
from flowalign_nb.flow import FlowTrainer, VelocityField
from flowalign_nb.plugins import PluginError, Plugins, get_plugins
from flowalign_nb.transport.resources import ResourceLimitError, memory_limit

REPO = Path(__file__).resolve().parents[1]


def rep(values=None, ids=None, labels=None, labelled=None):
    values = np.arange(12.0).reshape(4, 3) if values is None else values
    return fa.make_representation(values, ids, labels, labelled)


def labelled(n=40, dim=3, classes=(0, 1), seed=0, fraction=0.5):
    rng = np.random.default_rng(seed)
    labels = np.resize(np.asarray(classes), n)
    return fa.mask_labels(fa.make_representation(rng.normal(size=(n, dim)), [f"s{seed}-{i}" for i in range(n)], labels), fraction, seed=seed)


def quick(**options):
    return fa.FlowAligner(steps=2, progress=False, **options)


def da(dims):
    return xr.DataArray(np.zeros((2, 2)), dims=dims, coords={"stimulus_id": (dims[0], ["a", "b"])})


BAD_INPUTS = [
    # (id, call, exception, regex that names the bad value and what is allowed)
    ("nan", lambda: rep(np.array([[np.nan, 1.0], [2.0, 3.0]])), fa.RepresentationError, r"1 non-finite.*nan.*stimulus_id='s0'"),
    ("inf", lambda: rep(np.array([[1.0, 1.0], [np.inf, 3.0]])), fa.RepresentationError, r"non-finite.*inf.*stimulus_id='s1'"),
    ("wrong dims", lambda: fa.validate(da(("item", "unit"))), fa.RepresentationError, r"wrong dims \('item', 'unit'\).*\('presentation', 'neuroid'\)"),
    ("3-d values", lambda: fa.make_representation(np.zeros((2, 2, 2))), fa.RepresentationError, r"2-d.*\(2, 2, 2\)"),
    ("duplicate id", lambda: rep(ids=["a", "b", "a", "c"]), fa.RepresentationError, r"duplicate stimulus_id 'a'"),
    ("missing stimulus_id", lambda: fa.validate(xr.DataArray(np.zeros((2, 2)), dims=("presentation", "neuroid"))), fa.RepresentationError, r"missing 'stimulus_id'"),
    ("empty", lambda: fa.make_representation(np.zeros((0, 3))), fa.RepresentationError, r"empty representation of shape \(0, 3\)"),
    ("string values", lambda: fa.make_representation(np.array([["a", "b"]])), fa.RepresentationError, r"real numbers, got dtype <U1"),
    ("complex values", lambda: fa.make_representation(np.ones((2, 2)) * 1j), fa.RepresentationError, r"real numbers, got dtype complex128"),
    ("not a DataArray", lambda: fa.validate(np.zeros((2, 2))), fa.RepresentationError, r"expected an xarray.DataArray, got ndarray"),
    ("is_labelled not bool", lambda: rep(labels=[0, 1, 0, 1], labelled=[1, 0, 0, 1]), fa.RepresentationError, r"is_labelled must be bool, got dtype int64"),
    ("labelled without label", lambda: rep(labels=np.array([0, None, 1, 0], object), labelled=[False, True, False, False]), fa.RepresentationError, r"stimulus_id='s1' is_labelled but its label is missing"),
    ("fraction 0", lambda: fa.mask_labels(rep(labels=[0, 1, 0, 1]), 0), fa.RepresentationError, r"fraction=0 .*\(0, 1\]"),
    ("fraction > 1", lambda: fa.mask_labels(rep(labels=[0, 1, 0, 1]), 1.5), fa.RepresentationError, r"fraction=1.5 .*\(0, 1\]"),
    ("fraction as text", lambda: fa.mask_labels(rep(labels=[0, 1, 0, 1]), "0.1"), fa.RepresentationError, r"fraction='0.1' .*\(0, 1\]"),
    ("mask without labels", lambda: fa.mask_labels(rep(), 0.5), fa.RepresentationError, r"needs a 'label' coord"),
    ("time_bin out of range", lambda: fa.as_representation(xr.DataArray(np.zeros((2, 2, 3)), dims=("presentation", "neuroid", "time_bin"), coords={"stimulus_id": ("presentation", ["a", "b"])}), time_bin=3), fa.RepresentationError, r"time_bin=3 .*'mean' or an index in \[0, 3\)"),
    ("class in one space only", lambda: check_pair(labelled(classes=(0, 1, 2)), labelled(classes=(0, 1), seed=1)), fa.RepresentationError, r"class\(es\) \[2\] labelled in the source are absent from the target"),
    ("no labelled source", lambda: quick().fit(labelled().assign_coords(is_labelled=("presentation", np.zeros(40, bool))), labelled(seed=1)), fa.RepresentationError, r"source has no labelled items.*mask_labels"),
    ("no labelled target", lambda: quick().fit(labelled(), labelled(seed=1).assign_coords(is_labelled=("presentation", np.zeros(40, bool)))), fa.RepresentationError, r"target has no labelled items"),
    ("unknown coupling", lambda: fa.make("coupling", "emd"), KeyError, r"unknown coupling 'emd'; known couplings: exemplar, gw, independent, ot, sinkhorn, unbalanced"),
    ("unknown bridge", lambda: quick(coupling="ot", bridge="cosine").fit(labelled(), labelled(seed=1)), KeyError, r"unknown bridge 'cosine'; known bridges: euclidean, linear, posterior, prototype"),
    ("unknown modality", lambda: fa.make("modality", "fmri_xyz"), KeyError, r"unknown modality 'fmri_xyz'; known modalitys: "),
    ("unknown kind", lambda: fa.make("widget", "x"), ValueError, r"unknown kind 'widget'; known kinds: modality, coupling, bridge, analysis, task"),
    ("unknown option", lambda: fa.make("coupling", "sinkhorn", eps=0.1), ValueError, r"unknown option\(s\) eps; accepted: blocks, device, full_plan_max, method, num_iter_max, plan_size, reg, tol"),
    ("negative reg", lambda: fa.make("coupling", "sinkhorn", reg=-0.1), ValueError, r"reg=-0.1 is not allowed; it must be a number > 0"),
    ("negative reg_m", lambda: fa.make("coupling", "unbalanced", reg_m=-1), ValueError, r"reg_m=-1 is not allowed; it must be a number > 0"),
    ("zero plan_size", lambda: fa.make("coupling", "ot", plan_size=0), ValueError, r"plan_size=0 is not allowed; it must be an integer >= 1"),
    ("gw alpha", lambda: fa.make("coupling", "gw", alpha=2), ValueError, r"alpha=2 is not allowed; it must be in \[0, 1\]"),
    ("sinkhorn method", lambda: fa.make("coupling", "sinkhorn", method="fast"), ValueError, r"method='fast' is not allowed; choose one of \('sinkhorn', 'sinkhorn_log'"),
    ("batch larger than data", lambda: quick(coupling="ot", bridge="prototype", coupling_options={"plan_size": 50, "full_plan_max": 10}).fit(labelled(), labelled(seed=1)), ValueError, r"plan_size=50 exceeds the 40 items.*plan_size <= 40"),
    ("dim_handling", lambda: quick(dim_handling="zero").fit(labelled(), labelled(seed=1)), ValueError, r"dim_handling='zero' is not allowed; choose one of \('pad', 'conditional'\)"),
    ("steps 0", lambda: fa.FlowAligner(steps=0).fit(labelled(), labelled(seed=1)), ValueError, r"steps=0 is not allowed; it must be a positive integer"),
    ("negative sigma", lambda: quick(sigma=-1).fit(labelled(), labelled(seed=1)), ValueError, r"sigma=-1 is not allowed; it must be >= 0"),
    ("unavailable device", lambda: quick(device=f"cuda:{torch.cuda.device_count()}").fit(labelled(), labelled(seed=1)), ValueError, r"device='cuda:\d+' is not available here; available: cpu"),
    ("not a device", lambda: quick(device="gpu0").fit(labelled(), labelled(seed=1)), ValueError, r"device='gpu0' is not a device; use None/'auto', 'cpu', 'cuda'"),
    ("wrong neuroid count", lambda: quick().fit(labelled(), labelled(seed=1)).transform(labelled(dim=5)), fa.RepresentationError, r"source has 5 neuroids; this aligner was fit on 3"),
    ("options for an object", lambda: quick(coupling=fa.make("coupling", "exemplar"), coupling_options={"x": 1}).fit(labelled(), labelled(seed=1)), ValueError, r"coupling_options are only used when coupling is given by name"),
    ("sweep fraction", lambda: fa.sweep("synthetic", fractions=[0], seeds=[0], methods=["ridge"], progress=False), ValueError, r"fractions \[0\] are not allowed; each must be a number in \(0, 1\]"),
    ("sweep method", lambda: parse_method("ot+cos"), ValueError, r"unknown method 'ot\+cos'; use 'coupling' or 'coupling\+bridge'"),
    ("unknown task", lambda: fa.sweep("imagenet_zzz", fractions=[0.1], seeds=[0], methods=["ridge"]), KeyError, r"unknown task 'imagenet_zzz'; known tasks: .*synthetic"),
    ("empty stimuli table", lambda: fa.represent("text", pd.DataFrame({"stimulus_id": [], "text": []})), ValueError, r"stimuli table is empty"),
    ("stimuli without payload", lambda: fa.represent("text", pd.DataFrame({"stimulus_id": ["a"]})), ValueError, r"no 'text' column; columns present: \['stimulus_id'\]"),
    ("empty text", lambda: fa.make("modality", "text").represent(pd.DataFrame({"stimulus_id": ["a", "b"], "text": ["a digit", "  "]})), ValueError, r"text in row 1 is '  '; every text must be a non-empty str"),
    ("image of the wrong shape", lambda: _image_array(np.zeros((4, 4, 2))), ValueError, r"image of shape \(4, 4, 2\) is not allowed; use \(H, W\), \(H, W, 1\) or \(H, W, 3\)"),
    ("memory limit text", lambda: _with_env("FLOWALIGN_MEMORY_LIMIT", "lots", memory_limit), ValueError, r"FLOWALIGN_MEMORY_LIMIT='lots' is not a size; use bytes or a number with K, M, G or T"),
]


def _image_array(value):
    from flowalign_vision.images import image_array

    return image_array(value)


def _with_env(name, value, fn):
    import os

    old = os.environ.get(name)
    os.environ[name] = value
    try:
        return fn()
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


@pytest.mark.parametrize("call, exception, message", [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_with_a_clear_message(call, exception, message):
    with pytest.raises(exception) as info:
        call()
    assert re.search(message, str(info.value)), str(info.value)


def test_the_catalogue_is_large_and_distinct():
    assert len(BAD_INPUTS) >= 30
    assert len({case[0] for case in BAD_INPUTS}) == len(BAD_INPUTS)


def test_full_plan_over_the_memory_limit_is_refused_up_front(monkeypatch):
    monkeypatch.setenv("FLOWALIGN_MEMORY_LIMIT", "10K")
    with pytest.raises(ResourceLimitError, match=r"full plan of 40 x 40 items needs about 50.0 KiB, over the limit of 10.0 KiB.*lower full_plan_max"):
        quick(coupling="ot", bridge="prototype").fit(labelled(), labelled(seed=1))
    monkeypatch.setenv("FLOWALIGN_MEMORY_LIMIT", "1M")
    quick(coupling="ot", bridge="prototype").fit(labelled(), labelled(seed=1))  # 40 x 40 x 8 x 4 bytes fits


# --- atomic saves --------------------------------------------------------------------------------

def small_trainer(tmp_path, steps=20):
    torch.manual_seed(0)
    return FlowTrainer(VelocityField(3, hidden=8, depth=1), steps=steps, seed=0, checkpoint_dir=tmp_path, checkpoint_every=10, progress=False)


def batches(generator):
    x0 = torch.randn(16, 3, generator=generator)
    return x0, x0 + 1, None


def test_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    trainer = small_trainer(tmp_path).run(batches)
    path = tmp_path / "checkpoint.safetensors"
    before = path.read_bytes()

    def full_disk(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safeio, "save_file", full_disk)
    with pytest.raises(OSError, match=r"could not write .*checkpoint.safetensors: .*No space left on device.*previous version.*unchanged"):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.safetensors"]  # no temporary left behind
    small_trainer(tmp_path).load_checkpoint(path)


def fitted(seed=0):
    return quick(seed=seed).fit(labelled(), labelled(seed=1))


def test_crash_while_saving_an_aligner_keeps_the_previous_save(tmp_path, monkeypatch):
    fitted(0).save(tmp_path / "al")
    reference = fa.FlowAligner.load(tmp_path / "al").transform(labelled()).values

    def interrupted(path, obj):
        raise KeyboardInterrupt

    monkeypatch.setattr("flowalign_nb.align.aligner.write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fitted(1).save(tmp_path / "al")
    monkeypatch.undo()
    np.testing.assert_array_equal(fa.FlowAligner.load(tmp_path / "al").transform(labelled()).values, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["al"]


def test_full_disk_while_saving_an_aligner_is_a_clear_error(tmp_path, monkeypatch):
    fitted(0).save(tmp_path / "al")

    def full_disk(tensors, filename, metadata=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safeio, "save_file", full_disk)
    with pytest.raises(OSError, match=r"No space left on device.*previous version.*unchanged"):
        fitted(1).save(tmp_path / "al")
    monkeypatch.undo()
    fa.FlowAligner.load(tmp_path / "al")


def test_crash_between_the_two_renames_is_recovered(tmp_path, monkeypatch):
    fitted(0).save(tmp_path / "al")
    reference = fa.FlowAligner.load(tmp_path / "al").transform(labelled()).values
    import os

    real_rename, calls = os.rename, []

    def rename_then_die(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the old folder moved aside, the new one not yet in place
            raise KeyboardInterrupt
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename_then_die)
    with pytest.raises(KeyboardInterrupt):
        fitted(1).save(tmp_path / "al")
    monkeypatch.undo()
    assert not (tmp_path / "al").exists()
    np.testing.assert_array_equal(fa.FlowAligner.load(tmp_path / "al").transform(labelled()).values, reference)


def test_save_never_deletes_a_users_other_files(tmp_path):
    (tmp_path / "al").mkdir()
    (tmp_path / "al" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"holds other files \(notes.txt\); save into a new or empty folder"):
        fitted().save(tmp_path / "al")
    assert (tmp_path / "al" / "notes.txt").read_text() == "mine"


# --- safe loading ---------------------------------------------------------------------------------

UNSAFE = re.compile(r"pickle\.loads?\(|joblib\.load\(|dill\.|cloudpickle|marshal\.loads?\(|allow_pickle\s*=\s*True|torch\.load\((?![^)]*weights_only\s*=\s*True)")


def test_no_unsafe_loaders_in_the_package_or_plugins():
    sources = [*REPO.joinpath("flowalign_nb").rglob("*.py"), *REPO.joinpath("plugins").rglob("*.py")]
    assert len(sources) > 10
    offenders = [f"{p.relative_to(REPO)}:{i + 1}: {line.strip()}" for p in sources
                 for i, line in enumerate(p.read_text().splitlines()) if UNSAFE.search(line)]
    assert offenders == []


def test_the_unsafe_loader_check_can_fail():
    assert UNSAFE.search("state = torch." + "load(path)")  # split so that repository scans do not flag this test
    assert UNSAFE.search("obj = pickle." + "load(f)")
    assert not UNSAFE.search("state = torch.load(path, map_location='cpu', weights_only=True)")


def test_tampered_checkpoint_is_a_clear_error(tmp_path):
    small_trainer(tmp_path).run(batches)
    path = tmp_path / "checkpoint.safetensors"
    data = bytearray(path.read_bytes())
    data[10:40] = b"\x00" * 30  # clobber the header
    path.write_bytes(bytes(data))
    with pytest.raises(safeio.SavedFileError, match=r"checkpoint.safetensors: not a readable safetensors file"):
        small_trainer(tmp_path).load_checkpoint(path)


def test_file_of_another_kind_is_a_clear_error(tmp_path):
    fitted().save(tmp_path / "al")
    small_trainer(tmp_path / "ck").run(batches)
    with pytest.raises(safeio.SavedFileError, match=r"expected a 'flowalign_nb.checkpoint' file, found format 'flowalign_nb.aligner'"):
        small_trainer(tmp_path / "ck").load_checkpoint(tmp_path / "al" / "weights.safetensors")


# --- plugin factories ------------------------------------------------------------------------------

def test_a_plugin_factory_that_raises_is_named(tmp_path, monkeypatch):
    (tmp_path / "explosive_plugin.py").write_text(
        "from flowalign_nb import hookimpl\n"
        "def boom(**options):\n    raise RuntimeError('kaboom')\n"
        "@hookimpl\ndef flowalign_register_couplings(registry):\n    registry.add('boom', boom)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = Plugins(entry_points=[EntryPoint("explosive", "explosive_plugin", "flowalign_nb")])
    monkeypatch.setattr("flowalign_nb.plugins._plugins", plugins)
    with pytest.raises(PluginError, match=r"plugin 'explosive': coupling 'boom' failed to build: RuntimeError: kaboom"):
        fa.make("coupling", "boom")
    assert isinstance(fa.make("coupling", "ot"), fa.transport.couplings.ExactOTCoupling)
    get_plugins(reload=True)


# --- properties of couplings (hypothesis) ---------------------------------------------------------

def random_latents(seed, n, m, dim=3, n_classes=None):
    rng = np.random.default_rng(seed)
    labels_s = labels_t = None
    if n_classes:
        labels_s = np.concatenate([np.arange(n_classes), rng.integers(-1, n_classes, n - n_classes)])
        labels_t = np.concatenate([np.arange(n_classes), rng.integers(-1, n_classes, m - n_classes)])
    return (Latents.from_arrays(rng.normal(size=(n, dim)), labels_s, classes=list(range(n_classes or 0))),
            Latents.from_arrays(rng.normal(size=(m, dim)), labels_t, classes=list(range(n_classes or 0))))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 15), m=st.integers(2, 15))
def test_balanced_plans_keep_both_marginals(seed, n, m):
    src, tgt = random_latents(seed, n, m)
    bridge = fa.make("bridge", "euclidean").fit(src, tgt)
    for coupling, tol in ((fa.make("coupling", "ot"), 1e-12), (fa.make("coupling", "sinkhorn", reg=1.0, num_iter_max=10_000), 1e-6)):
        plan = coupling.fit(src, tgt, bridge=bridge).plan(torch.arange(n), torch.arange(m))
        torch.testing.assert_close(plan.sum(1), torch.full((n,), 1 / n, dtype=torch.float64), rtol=0, atol=tol)
        torch.testing.assert_close(plan.sum(0), torch.full((m,), 1 / m, dtype=torch.float64), rtol=0, atol=tol)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 30), m=st.integers(3, 30), n_classes=st.integers(1, 3))
def test_exemplar_pairs_are_always_same_class(seed, n, m, n_classes):
    src, tgt = random_latents(seed, n, m, n_classes=n_classes)
    coupling = fa.make("coupling", "exemplar").fit(src, tgt)
    i, j = coupling.sample(200, torch.Generator().manual_seed(seed))
    assert (src.labels[i] >= 0).all() and torch.equal(src.labels[i], tgt.labels[j])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 12), m=st.integers(2, 12), name=st.sampled_from(["ot", "sinkhorn", "unbalanced"]))
def test_plans_are_equivariant_to_permuting_the_inputs(seed, n, m, name):
    src, tgt = random_latents(seed, n, m)
    coupling = fa.make("coupling", name).fit(src, tgt, bridge=fa.make("bridge", "euclidean").fit(src, tgt))
    rng = np.random.default_rng(seed)
    p, q = torch.as_tensor(rng.permutation(n)), torch.as_tensor(rng.permutation(m))
    # Costs are mean-normalised per block, and a permutation keeps the mean: the same problem, reordered.
    plan = coupling.plan(torch.arange(n), torch.arange(m))
    torch.testing.assert_close(coupling.plan(p, q), plan[p][:, q], rtol=1e-6, atol=1e-9)

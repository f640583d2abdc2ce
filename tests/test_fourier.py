"""Fourier features of the flow state (issue 17): closed form, the ``fourier="auto"`` rule, persistence, effect."""

import json
import math

import numpy as np
import pytest
import torch

import flowalign_nb as fa
from flowalign_nb.flow.net import FourierFeatures, VelocityField


def test_fourier_features_equal_their_closed_form():
    x = torch.tensor([[0.0, 0.25], [1.0, -0.5], [0.3, 2.0]])
    freqs = np.exp(np.linspace(np.log(0.5), np.log(4.0), 3))  # log-spaced in [1/2, 4] cycles per unit
    angles = 2 * np.pi * x.numpy()[:, :, None] * freqs  # (n, d, k), coordinate-major when flattened
    expected = np.concatenate([np.sin(angles).reshape(3, -1), np.cos(angles).reshape(3, -1)], axis=1)
    np.testing.assert_allclose(FourierFeatures(3, max_frequency=4.0)(x).numpy(), expected, atol=2e-5)  # float32 angles up to 2 pi 4 2 = 50 rad


@pytest.mark.parametrize("kwargs, message", [({"n_frequencies": 0}, "n_frequencies=0"), ({"max_frequency": 0.5}, "max_frequency=0.5")])
def test_fourier_features_refuse_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FourierFeatures(**kwargs)


def test_velocity_field_widens_its_input_by_the_features():
    assert VelocityField(2, hidden=8, depth=1, time_dim=4, fourier=8).mlp[0].in_features == 2 + 2 * 8 * 2 + 4
    assert VelocityField(2, hidden=8, depth=1, time_dim=4).fourier is None


def _pair(dim, n=120, seed=0):
    rng = np.random.default_rng(seed)
    return fa.make_representation(rng.normal(size=(n, dim))), fa.make_representation(rng.normal(size=(n, dim)) * 2 + 1)


@pytest.mark.parametrize("dim, fourier, expected", [(2, "auto", 8), (8, "auto", 8), (9, "auto", 0), (16, "auto", 0), (2, 0, 0), (16, 3, 3)])
def test_auto_uses_fourier_features_only_for_low_dimensional_states(dim, fourier, expected):
    source, target = _pair(dim)
    aligner = fa.FlowAligner(coupling="ot", bridge="euclidean", steps=2, batch_size=32, fourier=fourier, progress=False)
    aligner.fit(source, target)
    assert aligner.fourier_ == expected
    assert (aligner.net_.fourier is None) == (expected == 0)


@pytest.mark.parametrize("bad", [-1, 1.5, "many", True])
def test_fourier_option_names_the_bad_value(bad):
    source, target = _pair(2)
    with pytest.raises(ValueError, match=f"fourier={bad!r} is not allowed"):
        fa.FlowAligner(coupling="ot", bridge="euclidean", steps=2, fourier=bad, progress=False).fit(source, target)


def test_saved_aligner_keeps_its_fourier_features(tmp_path):
    source, target = _pair(2)
    aligner = fa.FlowAligner(coupling="ot", bridge="euclidean", steps=20, batch_size=32, progress=False).fit(source, target)
    loaded = fa.FlowAligner.load(aligner.save(tmp_path / "aligner"))
    assert loaded.fourier_ == 8
    np.testing.assert_array_equal(loaded.transform(source).values, aligner.transform(source).values)


def test_aligner_saved_before_the_option_loads_without_features(tmp_path):
    source, target = _pair(2)
    aligner = fa.FlowAligner(coupling="ot", bridge="euclidean", steps=20, batch_size=32, fourier=0, progress=False).fit(source, target)
    path = aligner.save(tmp_path / "aligner")
    info = json.loads((path / "aligner.json").read_text())
    del info["fourier"], info["params"]["fourier"]  # the files of the previous release
    (path / "aligner.json").write_text(json.dumps(info))
    loaded = fa.FlowAligner.load(path)
    assert loaded.fourier_ == 0
    np.testing.assert_array_equal(loaded.transform(source).values, aligner.transform(source).values)


def _tight_clusters(n, generator):
    """8 clusters of std 0.05 on the unit circle: detail 20x finer than the spread."""
    angles = 2 * math.pi * torch.randint(8, (n,), generator=generator) / 8
    centres = torch.stack([angles.cos(), angles.sin()], 1)
    return centres + 0.05 * torch.randn(n, 2, generator=generator), centres


def test_fourier_features_resolve_detail_a_plain_mlp_blurs():
    """Same data, steps and seed: with Fourier features the transported points sit nearer their clusters' centres."""
    g = torch.Generator().manual_seed(0)
    target, _ = _tight_clusters(2000, g)
    source = torch.randn(2000, 2, generator=g)
    held_out = fa.make_representation(torch.randn(1000, 2, generator=g).numpy())
    spread = {}
    for fourier in (0, 8):
        aligner = fa.FlowAligner(coupling="ot", bridge="euclidean", steps=600, batch_size=256, hidden=64, fourier=fourier,
                                 seed=0, progress=False, prefetch=False)
        moved = torch.as_tensor(aligner.fit(fa.make_representation(source.numpy()), fa.make_representation(target.numpy()))
                                .transform(held_out).values)
        nearest = torch.cdist(moved, torch.tensor([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)]))
        spread[fourier] = float(nearest.min(1).values.pow(2).mean().sqrt())  # RMS distance to the nearest centre
    assert spread[8] < 0.75 * spread[0], spread

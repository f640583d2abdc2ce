"""The feature cache: location, content keys, safe atomic round trips, corrupted entries."""

import numpy as np
import pandas as pd
import pytest

import flowalign_nb as fa
from flowalign_nb import cache


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWALIGN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWALIGN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "flowalign_nb"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "flowalign_nb"
    monkeypatch.setenv("FLOWALIGN_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"


def stimuli(**changes):
    table = pd.DataFrame({"stimulus_id": ["a", "b"], "label": [0, 1], "image": [np.zeros((4, 4), np.uint8), np.ones((4, 4), np.uint8)],
                          "text": ["one", "two"]})
    return table.assign(**changes)


def test_keys_follow_content_not_identity(tmp_path):
    base = cache.make_key(stimuli(), model="m", options={"layer": "x"})
    assert base == cache.make_key(stimuli(), options={"layer": "x"}, model="m")
    image = np.zeros((4, 4), np.uint8)
    image[0, 0] = 1
    changed = [
        cache.make_key(stimuli(image=[image, np.ones((4, 4), np.uint8)]), model="m", options={"layer": "x"}),  # one pixel
        cache.make_key(stimuli(image=[np.zeros((4, 4), np.float32), np.ones((4, 4), np.uint8)]), model="m", options={"layer": "x"}),  # dtype
        cache.make_key(stimuli(text=["one", "Two"]), model="m", options={"layer": "x"}),
        cache.make_key(stimuli(label=[0, 2]), model="m", options={"layer": "x"}),
        cache.make_key(stimuli(label=["0", "1"]), model="m", options={"layer": "x"}),  # same digits, other type
        cache.make_key(stimuli(), model="m", options={"layer": "y"}),
        cache.make_key(stimuli(), model="n", options={"layer": "x"}),
    ]
    assert len({base, *changed}) == len(changed) + 1
    # files are hashed by content: same bytes under another name give the same digest
    (tmp_path / "p.bin").write_bytes(b"abc")
    (tmp_path / "q.bin").write_bytes(b"abc")
    (tmp_path / "r.bin").write_bytes(b"abd")
    digest = [cache.stimuli_digest(pd.DataFrame({"stimulus_id": ["s"], "image": [tmp_path / n]})) for n in ("p.bin", "q.bin", "r.bin")]
    assert digest[0] == digest[1] != digest[2]


def test_unhashable_stimuli_are_named():
    with pytest.raises(TypeError, match="cannot hash a stimulus value of type dict"):
        cache.stimuli_digest(pd.DataFrame({"stimulus_id": ["s"], "meta": [{"a": 1}]}))
    with pytest.raises(TypeError, match="stimuli must be a pandas.DataFrame"):
        cache.stimuli_digest([1, 2])


def test_round_trip_keeps_values_coords_and_attrs(cache_home):
    rep = fa.make_representation(np.arange(6, dtype=np.float32).reshape(3, 2), ["x", "y", "z"], [3, 1, 3],
                                 neuroid_id=["n0", "n1"], modality="test", model="toy", image_size=64)
    rep = rep.assign_coords(layer=("neuroid", ["l", "l"]))
    path = cache.save_features("k" * 64, rep)
    assert path.is_relative_to(cache_home) and path.suffix == ".safetensors"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    back = cache.load_features("k" * 64)
    np.testing.assert_array_equal(back.values, rep.values)
    assert back.dtype == np.float32 and back.dims == rep.dims
    for name in ("stimulus_id", "label", "is_labelled", "neuroid_id", "layer"):
        np.testing.assert_array_equal(back[name].values, rep[name].values)
        assert back[name].dtype.kind == rep[name].dtype.kind, name
    assert back.attrs == rep.attrs
    assert cache.load_features("j" * 64) is None


def test_corrupted_entry_is_reported_and_ignored(cache_home):
    rep = fa.make_representation(np.ones((2, 2)))
    path = cache.save_features("c" * 64, rep)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.warns(UserWarning, match="unreadable feature cache entry"):
        assert cache.load_features("c" * 64) is None
    other = cache.save_features("d" * 64, rep)
    path.write_bytes(other.read_bytes())  # a valid file stored under the wrong key
    with pytest.warns(UserWarning, match="holds key"):
        assert cache.load_features("c" * 64) is None

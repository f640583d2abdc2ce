"""The feature cache: location, content keys, safe atomic round trips, corrupted entries."""

import numpy as np
import pandas as pd
import pytest

import flowalign_nb as fa
from flowalign_nb.data import cache


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


# ---------------------------------------------------------------------------------------------
# the key follows the modality's code (issue 20 item 3: stale features after a plugin changed)
# ---------------------------------------------------------------------------------------------

PLUGIN_CODE = '''
import numpy as np
from flowalign_nb import hookimpl
from flowalign_nb.data.represent import stimuli_representation

CALLS = []


class Toy:
    """A modality of the stimuli's ``x`` column."""

    def represent(self, stimuli):
        CALLS.append(len(stimuli))
        x = np.stack(stimuli["x"].to_list()).astype(float)
        return stimuli_representation(SCALE * x, stimuli, neuroid_id=["n0", "n1"], modality="toy")


@hookimpl
def flowalign_register_modalities(registry):
    registry.add("toy_code", Toy, description="x, scaled")
'''


def toy_stimuli():
    return pd.DataFrame({"stimulus_id": ["a", "b", "c"], "x": [np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])]})


def load_module(path, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def toy_plugin():
    yield "toy_code_plugin"
    if fa.plugins.get_plugins().pm.get_plugin("toy_code_plugin") is not None:
        fa.unregister_plugin("toy_code_plugin")


def test_a_changed_plugin_module_gives_new_features_not_stale_ones(cache_home, tmp_path, toy_plugin, monkeypatch):
    path = tmp_path / "toy_code_mod.py"
    monkeypatch.syspath_prepend(str(tmp_path))
    path.write_text("SCALE = 1\n" + PLUGIN_CODE)
    module = load_module(path, "toy_code_mod")
    fa.register_plugin(module, name=toy_plugin, replace=True)
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(fa.represent("toy_code", toy_stimuli()).values, x)
    np.testing.assert_array_equal(fa.represent("toy_code", toy_stimuli()).values, x)
    assert module.CALLS == [3]  # the same code: read from the cache
    # the plugin's represent() now returns 2 * x: the user edits the file and re-registers the reloaded module
    path.write_text("SCALE = 1\n" + PLUGIN_CODE.replace("SCALE * x", "2 * SCALE * x"))
    module = load_module(path, "toy_code_mod")
    fa.register_plugin(module, name=toy_plugin, replace=True)
    np.testing.assert_array_equal(fa.represent("toy_code", toy_stimuli()).values, 2 * x)
    # a module-level constant it reads is part of its code too
    path.write_text("SCALE = 3\n" + PLUGIN_CODE)
    module = load_module(path, "toy_code_mod")
    fa.register_plugin(module, name=toy_plugin, replace=True)
    np.testing.assert_array_equal(fa.represent("toy_code", toy_stimuli()).values, 3 * x)
    assert module.CALLS == [3]


def test_a_notebook_cell_re_registered_with_replace_gives_new_features(cache_home, toy_plugin):
    """A notebook's classes live in a module without a source file; IPython keeps the cell's text in linecache."""
    import linecache
    import types

    def run_cell(source, number):
        filename = f"<ipython-input-{number}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace = types.ModuleType("__notebook__")
        exec(compile(source, filename, "exec"), namespace.__dict__)
        return namespace

    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    first = run_cell("SCALE = 1\n" + PLUGIN_CODE.replace("class Toy:", "class Toy:\n    scale = 1"), 1)
    fa.register_plugin(first, name=toy_plugin, replace=True)
    np.testing.assert_array_equal(fa.represent("toy_code", toy_stimuli()).values, x)
    second = run_cell("SCALE = 1\n" + PLUGIN_CODE.replace("SCALE * x", "2 * x"), 2)
    fa.register_plugin(second, name=toy_plugin, replace=True)
    np.testing.assert_array_equal(fa.represent("toy_code", toy_stimuli()).values, 2 * x)
    assert first.CALLS == [3] and second.CALLS == [3]


def test_unchanged_code_keeps_its_key_across_processes(tmp_path):
    """The key must not depend on memory addresses, file paths or hash randomisation (else the cache never hits)."""
    import subprocess
    import sys

    script = ("from flowalign_nb.data.codeid import code_identity\n"
              "from flowalign_nb.transport.bridges import PrototypeBridge\n"
              "print(code_identity(PrototypeBridge)['digest'])\n")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)}).stdout.strip() for seed in (1, 2)}
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_cache_false_runs_the_modality_and_writes_nothing(cache_home, tmp_path, toy_plugin, monkeypatch):
    path = tmp_path / "toy_nocache_mod.py"
    path.write_text("SCALE = 1\n" + PLUGIN_CODE)
    module = load_module(path, "toy_nocache_mod")
    fa.register_plugin(module, name=toy_plugin, replace=True)
    fa.represent("toy_code", toy_stimuli(), cache=False)
    fa.represent("toy_code", toy_stimuli(), cache=False)
    assert module.CALLS == [3, 3] and cache.cache_entries() == []
    with pytest.warns(FutureWarning, match=r"cache_features= is renamed cache="):
        fa.represent("toy_code", toy_stimuli(), cache_features=False)
    assert module.CALLS == [3, 3, 3] and cache.cache_entries() == []


def test_flowalign_cache_clear_removes_the_cache_files_only(cache_home, capsys):
    from flowalign_nb.cli import main

    rep = fa.make_representation(np.ones((2, 3)), ["a", "b"], [0, 1])
    written = [cache.save_features(cache.make_key(stimuli(), model=m), rep) for m in ("m1", "m2")]
    other = cache_home / "simulated" / ("simulated_it-" + "ab" * 10 + ".nc")
    other.parent.mkdir(parents=True)
    other.write_bytes(b"x")
    mine = cache_home / "features" / "my notes.txt"
    mine.write_text("keep")
    assert set(cache.cache_entries()) == {*written, other}
    assert main(["cache", "info"]) == 0
    assert f"{cache_home} (3 file(s)" in capsys.readouterr().out
    assert main(["cache", "clear", "--kind", "simulated"]) == 0
    assert not other.exists() and all(p.exists() for p in written)
    assert main(["cache", "clear"]) == 0
    assert "removed 2 cache file(s)" in capsys.readouterr().out.splitlines()[-1]
    assert cache.cache_entries() == [] and mine.read_text() == "keep"
    assert not (cache_home / "simulated").exists()

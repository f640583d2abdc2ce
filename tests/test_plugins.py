"""Tests of the plugin system: registries, the plugin manager, fault isolation and the CLI."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import warnings
from importlib.metadata import EntryPoint

import pandas as pd
import pytest

import flowalign_nb as fa
import flowalign_nb.cli
from flowalign_nb.transport.couplings import SinkhornCoupling
from flowalign_nb.plugins import BUILTIN_PLUGINS, DISABLE_ENV, ENTRY_POINT_GROUP, PluginWarning, Plugins, get_plugins
from flowalign_nb.registry import DuplicateNameError, Entry, Registry, UnknownNameError

COUPLINGS = {"exemplar", "ot", "sinkhorn", "unbalanced", "gw", "independent"}
BRIDGES = {"prototype", "posterior", "linear", "euclidean"}
COLUMNS = ["kind", "name", "plugin", "description", "error"]

# Fake third-party plugin modules (module name -> source). Names are unique to this file and are
# removed from sys.modules after each test that uses them.
PLUGIN_SOURCES = {
    "fa_test_good_plugin": '''
        from flowalign_nb import hookimpl

        class MyCoupling:
            def __init__(self, scale: float = 2.0, *, mode="fast"):
                self.scale, self.mode = scale, mode

        @hookimpl
        def flowalign_register_couplings(registry):
            registry.add("mine", MyCoupling, description="a third-party coupling")

        @hookimpl
        def flowalign_register_bridges(registry):
            registry.add("my_bridge", dict, description="a third-party bridge")
    ''',
    "fa_test_import_broken": '''
        raise RuntimeError("boom at import of fa_test_import_broken")
    ''',
    "fa_test_half_plugin": '''
        from flowalign_nb import hookimpl

        @hookimpl
        def flowalign_register_couplings(registry):
            registry.add("half_done", dict, description="added before the hook raised")
            raise RuntimeError("hook exploded after adding half_done")
    ''',
    "fa_test_clash_plugin": '''
        from flowalign_nb import hookimpl

        @hookimpl
        def flowalign_register_couplings(registry):
            registry.add("ot", dict, description="a second 'ot'")
    ''',
}


def ep(name, module):
    return EntryPoint(name, module, group=ENTRY_POINT_GROUP)


GOOD = ep("good", "fa_test_good_plugin")
IMPORT_BROKEN = ep("importbroken", "fa_test_import_broken")
HALF = ep("half", "fa_test_half_plugin")
CLASH = ep("clash", "fa_test_clash_plugin")


@pytest.fixture
def plugin_modules(tmp_path, monkeypatch):
    """Write the fake plugin modules into a tmp dir on sys.path; forget them afterwards."""
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    for module, source in PLUGIN_SOURCES.items():
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in PLUGIN_SOURCES:
        sys.modules.pop(module, None)


@pytest.fixture
def restore_global_plugins(monkeypatch):
    """For tests that change the environment and reload the global plugins: undo the environment
    changes, then reload, so later tests see the normal plugin state."""
    yield monkeypatch
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        get_plugins(reload=True)


def build(entry_points):
    """Plugins from ``entry_points``, returning it and the PluginWarnings it issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plugins = Plugins(entry_points=entry_points)
    return plugins, [w for w in caught if issubclass(w.category, PluginWarning)]


def failure(plugins, name):
    found = [f for f in plugins.failures if f.plugin == name]
    assert len(found) == 1, plugins.failures
    return found[0]


def assert_builtins(plugins):
    couplings, bridges = plugins.registries["coupling"], plugins.registries["bridge"]
    assert COUPLINGS <= set(couplings.names())
    assert BRIDGES <= set(bridges.names())
    for name in COUPLINGS:
        assert couplings.get(name).plugin == "flowalign_nb.transport.couplings", name
    for name in BRIDGES:
        assert bridges.get(name).plugin == "flowalign_nb.transport.bridges", name
    sink = couplings.get("sinkhorn").factory(reg=0.2)
    assert isinstance(sink, SinkhornCoupling) and sink.reg == 0.2


# ---------------------------------------------------------------------------------------------
# list_plugins / make (process-wide plugins)
# ---------------------------------------------------------------------------------------------


def test_list_plugins_table():
    table = fa.list_plugins()
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == COLUMNS
    couplings = table[table["kind"] == "coupling"]
    bridges = table[table["kind"] == "bridge"]
    assert COUPLINGS <= set(couplings["name"])
    assert BRIDGES <= set(bridges["name"])
    builtin_c = couplings[couplings["name"].isin(COUPLINGS)]
    builtin_b = bridges[bridges["name"].isin(BRIDGES)]
    assert set(builtin_c["plugin"]) == {"flowalign_nb.transport.couplings"}
    assert set(builtin_b["plugin"]) == {"flowalign_nb.transport.bridges"}
    assert (builtin_c["error"] == "").all() and (builtin_b["error"] == "").all()
    assert (builtin_c["description"].str.len() > 0).all()
    assert "Sinkhorn" in builtin_c.set_index("name").loc["sinkhorn", "description"].title()


def test_make_builds_with_options():
    obj = fa.make("coupling", "sinkhorn", reg=0.1, method="sinkhorn_log")
    assert isinstance(obj, SinkhornCoupling)
    assert obj.reg == 0.1 and obj.method == "sinkhorn_log"
    assert fa.make("coupling", "sinkhorn").reg == 0.05
    assert type(fa.make("bridge", "linear")).__name__ == "LinearBridge"


def test_make_unknown_name_lists_known_names():
    with pytest.raises(UnknownNameError, match=r"unknown coupling 'nope'; known couplings: exemplar, gw, independent, ot, sinkhorn, unbalanced"):
        fa.make("coupling", "nope")
    with pytest.raises(KeyError):  # UnknownNameError is a KeyError
        fa.make("bridge", "nope")
    with pytest.raises(UnknownNameError, match=r"unknown bridge 'nope'; known bridges: euclidean, linear, posterior, prototype"):
        fa.make("bridge", "nope")


def test_make_unknown_kind_lists_kinds():
    with pytest.raises(ValueError, match=r"unknown kind 'couplings'; known kinds: modality, coupling, bridge, analysis, task"):
        fa.make("couplings", "ot")


def test_make_unknown_option_names_it_and_accepted():
    with pytest.raises(
        ValueError,
        match=r"coupling 'sinkhorn' got unknown option\(s\) bogus, regg; accepted: blocks, device, full_plan_max, method, num_iter_max, plan_size, reg, tol",
    ):
        fa.make("coupling", "sinkhorn", regg=0.1, bogus=1)


# ---------------------------------------------------------------------------------------------
# Registry and Entry
# ---------------------------------------------------------------------------------------------


def test_entry_options_of_sinkhorn():
    entry = get_plugins().registries["coupling"].get("sinkhorn")
    assert isinstance(entry, Entry)
    assert (entry.kind, entry.name, entry.plugin) == ("coupling", "sinkhorn", "flowalign_nb.transport.couplings")
    options = {o.name: o for o in entry.options()}
    assert list(options) == ["reg", "method", "plan_size", "full_plan_max", "num_iter_max", "blocks", "device", "tol"]
    assert options["reg"].default == 0.05
    assert options["reg"].annotation in ("float", float)
    assert options["method"].default == "sinkhorn"
    assert options["full_plan_max"].default is None
    assert not any(o.required for o in options.values())


def test_entry_options_required_keyword_only_and_var_kwargs():
    def factory(alpha, beta: int = 3, *args, gamma="g", **kwargs):
        return alpha

    options = Entry("coupling", "f", factory, "p").options()
    assert [(o.name, o.required) for o in options] == [("alpha", True), ("beta", False), ("gamma", False)]
    assert options[0].default is inspect.Parameter.empty
    assert options[1].default == 3 and options[1].annotation in ("int", int)
    assert options[2].default == "g"


def test_registry_add_commit_rollback_and_duplicates():
    reg = Registry("coupling")
    reg.begin("plugin_a")
    reg.add("alpha", dict, description="first")
    assert "alpha" not in reg  # staged only until commit
    reg.commit()
    assert reg.names() == ["alpha"] and reg.get("alpha").plugin == "plugin_a"

    reg.begin("plugin_b")
    reg.add("beta", dict)
    with pytest.raises(DuplicateNameError, match=r"coupling 'alpha' is registered by both plugin 'plugin_a' and plugin 'plugin_b'"):
        reg.add("alpha", list)
    with pytest.raises(DuplicateNameError, match=r"'beta' is registered by both plugin 'plugin_b' and plugin 'plugin_b'"):
        reg.add("beta", list)
    reg.rollback()
    assert reg.names() == ["alpha"]
    assert [e.name for e in reg.entries()] == ["alpha"]
    with pytest.raises(UnknownNameError, match=r"unknown coupling 'beta'; known couplings: alpha"):
        reg.get("beta")
    assert "known bridges: none" in str(pytest.raises(UnknownNameError, Registry("bridge").get, "x").value)


@pytest.mark.parametrize("name", ["has space", "1abc", "", 3])
def test_registry_rejects_bad_names(name):
    reg = Registry("bridge")
    with pytest.raises(ValueError, match=f"bridge name {name!r} is not a valid identifier"):
        reg.add(name, dict)


def test_registry_rejects_non_callable_factory():
    with pytest.raises(TypeError, match=r"bridge 'b': factory 42 is not callable"):
        Registry("bridge").add("b", 42)


# ---------------------------------------------------------------------------------------------
# Plugins with fake entry points: fault isolation
# ---------------------------------------------------------------------------------------------


def test_only_builtins_load_cleanly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plugins = Plugins(entry_points=[])
    assert plugins.failures == []
    assert_builtins(plugins)
    table = plugins.table()
    assert list(table.columns) == COLUMNS
    assert set(table["plugin"]) == set(BUILTIN_PLUGINS)
    assert set(table.query("kind in ['coupling', 'bridge']")["name"]) == COUPLINGS | BRIDGES


def test_good_plugin_is_usable(plugin_modules):
    plugins, caught = build([GOOD])
    assert caught == [] and plugins.failures == []
    entry = plugins.registries["coupling"].get("mine")
    assert entry.plugin == "good" and entry.description == "a third-party coupling"
    obj = entry.factory(scale=3.0)
    assert type(obj).__name__ == "MyCoupling" and obj.scale == 3.0 and obj.mode == "fast"
    assert {(o.name, o.default) for o in entry.options()} == {("scale", 2.0), ("mode", "fast")}
    assert plugins.registries["bridge"].get("my_bridge").plugin == "good"
    assert_builtins(plugins)
    table = plugins.table()
    row = table[(table["name"] == "mine")].iloc[0]
    assert (row["kind"], row["plugin"], row["error"]) == ("coupling", "good", "")


def test_broken_plugins_are_isolated(plugin_modules):
    plugins, caught = build([HALF, IMPORT_BROKEN, GOOD, ep("missing", "fa_test_no_such_module")])

    # (b) failed at import
    imp = failure(plugins, "importbroken")
    assert imp.stage == "import"
    assert "RuntimeError: boom at import of fa_test_import_broken" in imp.error
    missing = failure(plugins, "missing")
    assert missing.stage == "import" and "fa_test_no_such_module" in missing.error

    # (c) hook raised after adding one name: that name is rolled back
    half = failure(plugins, "half")
    assert half.stage == "register:coupling"
    assert "RuntimeError: hook exploded after adding half_done" in half.error
    assert "half_done" not in plugins.registries["coupling"]
    assert "half_done" not in set(plugins.table()["name"])

    # a PluginWarning per failure, naming the plugin and the error
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3
    assert any("'importbroken'" in m and "boom at import" in m for m in messages)
    assert any("'missing'" in m and "fa_test_no_such_module" in m for m in messages)
    assert any("'half'" in m and "register:coupling" in m and "hook exploded" in m for m in messages)

    # (a) the good plugin and the built-ins still work
    assert plugins.registries["coupling"].get("mine").factory().scale == 2.0
    assert_builtins(plugins)

    # the table lists the failures with their error text
    table = plugins.table()
    assert list(table.columns) == COLUMNS
    errors = table[table["error"] != ""].set_index("plugin")
    assert set(errors.index) == {"importbroken", "missing", "half"}
    assert "boom at import of fa_test_import_broken" in errors.loc["importbroken", "error"]
    assert errors.loc["importbroken", "kind"] == "import"
    assert "hook exploded after adding half_done" in errors.loc["half", "error"]
    assert errors.loc["half", "kind"] == "register:coupling"
    assert not table["description"].eq("(registers nothing yet)").any()
    assert set(table[table["error"] == ""]["plugin"]) == {*BUILTIN_PLUGINS, "good"}


def test_plugin_warning_is_a_user_warning(plugin_modules):
    with pytest.warns(PluginWarning, match=r"flowalign_nb plugin 'importbroken' failed at import: RuntimeError: boom at import"):
        Plugins(entry_points=[IMPORT_BROKEN])
    assert issubclass(PluginWarning, UserWarning)


def test_name_clash_message_names_both_plugins(plugin_modules):
    with pytest.warns(PluginWarning, match=r"coupling 'ot' is registered by both plugin"):
        plugins = Plugins(entry_points=[CLASH, GOOD])
    assert len(plugins.failures) == 1
    error = plugins.failures[0].error
    assert "DuplicateNameError" in error
    assert "'flowalign_nb.transport.couplings'" in error and "'clash'" in error
    table = plugins.table()
    assert table[table["error"] != ""]["error"].tolist() == [error]
    assert plugins.registries["coupling"].get("mine").plugin == "good"


def test_name_clash_blames_the_newcomer_and_keeps_builtins(plugin_modules):
    """Built-ins load first, so the later plugin that re-registers "ot" is the one that fails."""
    plugins, caught = build([CLASH, GOOD])
    clash = failure(plugins, "clash")
    assert clash.stage == "register:coupling"
    assert "coupling 'ot' is registered by both plugin 'flowalign_nb.transport.couplings' and plugin 'clash'" in clash.error
    assert "FLOWALIGN_DISABLE_PLUGINS=clash" in clash.error
    assert [f.plugin for f in plugins.failures] == ["clash"]
    assert len(caught) == 1
    assert_builtins(plugins)
    ot_entry = plugins.registries["coupling"].get("ot")
    assert ot_entry.factory is not dict and ot_entry.plugin == "flowalign_nb.transport.couplings"
    assert plugins.registries["coupling"].get("mine").plugin == "good"


# ---------------------------------------------------------------------------------------------
# FLOWALIGN_DISABLE_PLUGINS
# ---------------------------------------------------------------------------------------------


def test_disable_env_blocks_plugins(plugin_modules, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, " good , importbroken,unrelated")
    plugins, caught = build([GOOD, IMPORT_BROKEN, HALF])
    assert "mine" not in plugins.registries["coupling"]
    assert "my_bridge" not in plugins.registries["bridge"]
    assert "fa_test_good_plugin" not in sys.modules  # never imported
    assert "fa_test_import_broken" not in sys.modules
    assert [f.plugin for f in plugins.failures] == ["half"]  # only the one not disabled fails
    assert len(caught) == 1
    assert "mine" not in set(plugins.table()["name"])
    assert_builtins(plugins)


def test_disabled_plugin_not_reported_as_registering_nothing(plugin_modules, monkeypatch):
    """A blocked plugin must not show up in the table as a loaded plugin that "registers nothing yet"."""
    monkeypatch.setenv(DISABLE_ENV, "good")
    plugins, _ = build([GOOD])
    rows = plugins.table()
    rows = rows[rows["plugin"] == "good"]
    assert not rows["description"].eq("(registers nothing yet)").any(), rows.to_string()


def test_disable_env_blocks_a_builtin_in_the_global_plugins(restore_global_plugins):
    restore_global_plugins.setenv(DISABLE_ENV, "flowalign_nb.transport.bridges")
    plugins = get_plugins(reload=True)
    assert plugins.registries["bridge"].names() == []
    assert COUPLINGS <= set(plugins.registries["coupling"].names())
    with pytest.raises(UnknownNameError, match=r"unknown bridge 'linear'; known bridges: none"):
        fa.make("bridge", "linear")
    table = fa.list_plugins()
    assert not (table["kind"] == "bridge").any()
    assert isinstance(fa.make("coupling", "exemplar"), object)


def test_global_plugins_restored_after_disable_test():
    """Runs after the test above: its fixture must have reloaded the normal plugin state."""
    assert os.environ.get(DISABLE_ENV) is None or "flowalign_nb.transport.bridges" not in os.environ[DISABLE_ENV]
    assert BRIDGES <= set(get_plugins().registries["bridge"].names())
    assert type(fa.make("bridge", "linear")).__name__ == "LinearBridge"


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def test_cli_plugins_shows_broken_installed_plugin(tmp_path):
    dist = tmp_path / "broken_plugin_dist-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin-dist\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[flowalign_nb]\nbroken = broken_plugin_mod\n")
    (tmp_path / "broken_plugin_mod.py").write_text('raise RuntimeError("boom at import")\n')
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "flowalign_nb.cli", "plugins"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    broken_lines = [line for line in out.splitlines() if "broken" in line]
    assert len(broken_lines) == 1, out
    assert "boom at import" in broken_lines[0] and "import" in broken_lines[0].split()[0]
    for name in COUPLINGS | BRIDGES:
        assert name in out
    exemplar = [line for line in out.splitlines() if " exemplar " in f" {line} "]
    assert exemplar and "flowalign_nb.transport.couplings" in exemplar[0]
    assert "PluginWarning" in result.stderr and "'broken'" in result.stderr


def test_cli_plugins_kind_filter(capsys):
    assert flowalign_nb.cli.main(["plugins", "--kind", "bridge"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].split() == COLUMNS
    rows = lines[1:]
    assert len(rows) == len(BRIDGES)
    assert {row.split()[1] for row in rows} == BRIDGES
    assert all(row.split()[0] == "bridge" for row in rows)
    for name in ("exemplar", "sinkhorn", "unbalanced", "independent", "coupling", "registers nothing"):
        assert name not in out


def test_cli_plugins_lists_everything(capsys):
    assert flowalign_nb.cli.main(["plugins"]) == 0
    out = capsys.readouterr().out
    for name in COUPLINGS | BRIDGES:
        assert name in out
    assert "flowalign_nb.transport.couplings" in out and "flowalign_nb.transport.bridges" in out


def test_cli_requires_a_command(capsys):
    with pytest.raises(SystemExit) as exc:
        flowalign_nb.cli.main([])
    assert exc.value.code == 2
    assert "flowalign" in capsys.readouterr().err

"""The plugin manager: built-in plugins, entry-point plugins, fault isolation.

Built-in plugins (:data:`BUILTIN_PLUGINS`: couplings, bridges, the synthetic task, analyses) load first, then every
entry point of the group ``flowalign_nb`` in name order. A plugin that fails to import or whose hook
raises is recorded with its error (``flowalign plugins`` shows it, a warning is issued) and the
others still load. ``FLOWALIGN_DISABLE_PLUGINS=name1,name2`` blocks plugins by name.
:func:`register_plugin` adds a plugin object to the running process (a notebook's own modality, say)
and :func:`unregister_plugin` removes it; :func:`on_registry_change` lets a widget follow both.
"""

from __future__ import annotations

import importlib
import inspect
import os
import traceback
import warnings
import weakref
from dataclasses import dataclass
from importlib import metadata

import pandas as pd
import pluggy

from . import hookspecs
from .registry import KINDS, Registry

ENTRY_POINT_GROUP = "flowalign_nb"
DISABLE_ENV = "FLOWALIGN_DISABLE_PLUGINS"
BUILTIN_PLUGINS = ("flowalign_nb.transport.couplings", "flowalign_nb.transport.bridges", "flowalign_nb.tasks.synthetic", "flowalign_nb.analysis.hooks")
HOOK_OF_KIND = {
    "modality": "flowalign_register_modalities",
    "coupling": "flowalign_register_couplings",
    "bridge": "flowalign_register_bridges",
    "analysis": "flowalign_register_analyses",
    "task": "flowalign_register_tasks",
}


class PluginError(RuntimeError):
    """A plugin's factory raised; the message names the plugin, the kind and the name."""


class PluginWarning(UserWarning):
    """A plugin could not be loaded or could not register; the others are unaffected."""


@dataclass(frozen=True)
class PluginFailure:
    """Why a plugin is missing from the registries."""

    plugin: str
    stage: str  # "import", "register" or "register:<kind>"
    error: str


class Plugins:
    """Loaded plugins and the registries they filled.

    Parameters
    ----------
    entry_points : iterable of importlib.metadata.EntryPoint, optional
        Defaults to the installed entry points of the group ``flowalign_nb``.
    builtins : tuple of str
        Module names of the built-in plugins.
    """

    def __init__(self, entry_points=None, builtins=BUILTIN_PLUGINS):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.registries = {kind: Registry(kind) for kind in KINDS}
        disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        for module_name in builtins:
            self._register(module_name, lambda m=module_name: importlib.import_module(m), disabled)
        if entry_points is None:
            entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(entry_points, key=lambda e: e.name):
            self._register(ep.name, ep.load, disabled)
        self.pm.check_pending()
        for name, plugin in self.pm.list_name_plugin():
            if plugin is not None and not any(f.plugin == name for f in self.failures):
                self._fill(name)

    def _fail(self, plugin: str, stage: str, exc: BaseException) -> None:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.failures.append(PluginFailure(plugin, stage, error))
        warnings.warn(f"flowalign_nb plugin {plugin!r} failed at {stage}: {error}", PluginWarning, stacklevel=3)

    def _register(self, name: str, load, disabled: set[str]) -> None:
        if name in disabled:
            self.pm.set_blocked(name)
            return
        try:
            self.pm.register(load(), name=name)
        except Exception as exc:  # a third-party plugin may raise anything at import
            self._fail(name, "import", exc)

    def _fill(self, plugin: str) -> None:
        """Call ``plugin``'s hooks for every kind; keep all its registrations or, if one hook raises, none.

        Plugins are filled in load order (built-ins first), so on a name clash the later plugin fails.
        """
        for registry in self.registries.values():
            registry.begin(plugin)
        kind = None
        try:
            for kind, registry in self.registries.items():
                for impl in getattr(self.pm.hook, HOOK_OF_KIND[kind]).get_hookimpls():
                    if impl.plugin_name == plugin:
                        impl.function(registry=registry)
        except Exception as exc:  # a third-party hook may raise anything
            for registry in self.registries.values():
                registry.rollback()
            self._fail(plugin, f"register:{kind}", exc)
        else:
            for registry in self.registries.values():
                registry.commit()

    def add(self, plugin, name: str | None = None) -> str:
        """Register a plugin object at run time (a module, class or instance with ``@hookimpl`` functions).

        Its factories are added to the registries at once, so a notebook can define a modality (or
        coupling, bridge, analysis, task) and use it by name, in widgets too, without installing a
        distribution.

        Parameters
        ----------
        plugin : object
            Anything with ``@hookimpl``-decorated ``flowalign_register_*`` functions or methods.
        name : str or None
            The plugin's name (shown in ``plugin`` columns); default: its ``__name__`` or class name.

        Returns
        -------
        str
            The name it was registered under.

        Raises
        ------
        ValueError
            If a plugin of that name is already registered, or the object has no ``@hookimpl`` hook.
        PluginError
            If its hooks do not match the hook specifications or one of them raises (for example a
            name another plugin already registered); nothing of it is kept.
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if self.pm.has_plugin(name):
            raise ValueError(f"a plugin named {name!r} is already registered; unregister_plugin({name!r}) first or pass another name=")
        hooks = [h for h in HOOK_OF_KIND.values() if self.pm.parse_hookimpl_opts(plugin, h) is not None]
        if not hooks:
            raise ValueError(
                f"plugin {name!r} ({type(plugin).__name__}) has no @hookimpl hook; decorate one of "
                f"{', '.join(HOOK_OF_KIND.values())} with flowalign_nb.hookimpl"
            )
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:  # pluggy's PluginValidationError for a hook of the wrong signature
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from exc
        failed = len(self.failures)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)
            self._fill(name)
        if len(self.failures) > failed:
            failure = self.failures.pop()
            self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r} failed at {failure.stage}: {failure.error}")
        return name

    def remove(self, name: str) -> list[str]:
        """Unregister the plugin ``name`` and drop its factories; returns ``["kind:name", ...]`` removed.

        Raises
        ------
        ValueError
            If no plugin of that name is registered (the message lists the registered ones).
        """
        if self.pm.get_plugin(name) is None:
            known = ", ".join(n for n, p in self.pm.list_name_plugin() if p is not None)
            raise ValueError(f"no plugin named {name!r} is registered; registered plugins: {known}")
        self.pm.unregister(name=name)
        return [f"{kind}:{n}" for kind, registry in self.registries.items() for n in registry.discard_plugin(name)]

    def table(self) -> pd.DataFrame:
        """One row per registered factory and per failed plugin.

        Returns
        -------
        pandas.DataFrame
            Columns ``kind, name, plugin, description, error``; ``error`` is empty for working rows.
        """
        rows = [
            {"kind": e.kind, "name": e.name, "plugin": e.plugin, "description": e.description, "error": ""}
            for registry in self.registries.values()
            for e in registry.entries()
        ]
        rows += [
            {"kind": f.stage, "name": "", "plugin": f.plugin, "description": "", "error": f.error}
            for f in self.failures
        ]
        loaded = {r["plugin"] for r in rows}
        rows += [
            {"kind": "", "name": "", "plugin": name, "error": "",
             "description": f"(disabled by {DISABLE_ENV})" if self.pm.is_blocked(name) else "(registers nothing yet)"}
            for name, _ in self.pm.list_name_plugin()
            if name not in loaded
        ]
        return pd.DataFrame(rows, columns=["kind", "name", "plugin", "description", "error"])


_plugins: Plugins | None = None


def get_plugins(reload: bool = False) -> Plugins:
    """The process-wide :class:`Plugins`, loaded on first use (``reload=True`` loads them again)."""
    global _plugins
    if _plugins is None or reload:
        _plugins = Plugins()
    return _plugins


def get_registry(kind: str) -> Registry:
    """The registry of ``kind``; an unknown kind fails listing the known ones."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return get_plugins().registries[kind]


def make(kind: str, name: str, **options):
    """Build a registered factory by kind and name: ``make("coupling", "ot", reg=0.05)``.

    Raises
    ------
    ValueError
        For an unknown kind, or options the factory does not accept (naming them and the accepted ones).
    flowalign_nb.registry.UnknownNameError
        For an unknown name, listing the known names.
    """
    entry = get_registry(kind).get(name)
    accepted = {o.name for o in entry.options()}
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(entry.factory).parameters.values())
    unknown = sorted(set(options) - accepted - set(entry.deprecated_options()))
    if unknown and not takes_any:
        raise ValueError(
            f"{kind} {name!r} got unknown option(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(sorted(accepted)) or 'none'}"
        )
    if entry.plugin in BUILTIN_PLUGINS:
        return entry.factory(**options)  # our own errors are already specific
    try:
        return entry.factory(**options)
    except Exception as exc:  # a third-party factory may raise anything
        raise PluginError(f"plugin {entry.plugin!r}: {kind} {name!r} failed to build: {type(exc).__name__}: {exc}") from exc


def register_plugin(plugin, name: str | None = None, replace: bool = False) -> str:
    """Register a plugin object in the running process (see :meth:`Plugins.add`).

    ``replace=True`` first unregisters a plugin of the same name (re-running a notebook cell).

    Examples
    --------
    >>> class Pixels:                                         # doctest: +SKIP
    ...     @fa.hookimpl
    ...     def flowalign_register_modalities(self, registry):
    ...         registry.add("pixels", PixelModality, description="raw pixels")
    >>> fa.register_plugin(Pixels(), name="my_pixels")        # doctest: +SKIP
    >>> fa.represent("pixels", stimuli)                       # doctest: +SKIP
    """
    plugins = get_plugins()
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    try:
        if replace and plugins.pm.get_plugin(name) is not None:
            plugins.remove(name)
        return plugins.add(plugin, name)
    finally:
        _notify_registry_change()


def unregister_plugin(name: str) -> list[str]:
    """Remove a plugin registered at run time, with its factories (see :meth:`Plugins.remove`)."""
    removed = get_plugins().remove(name)
    _notify_registry_change()
    return removed


_listeners: list[weakref.WeakMethod] = []


def on_registry_change(callback) -> None:
    """Call ``callback()`` after every :func:`register_plugin` and :func:`unregister_plugin`.

    Parameters
    ----------
    callback : bound method
        Held by a weak reference, so a listening widget can still be garbage-collected; it is
        dropped once its object is gone.
    """
    if not inspect.ismethod(callback):
        raise TypeError(f"on_registry_change takes a bound method (held weakly), not {type(callback).__name__}")
    _listeners.append(weakref.WeakMethod(callback))


def _notify_registry_change() -> None:
    alive = [ref for ref in _listeners if ref() is not None]
    _listeners[:] = alive
    for ref in alive:
        callback = ref()
        if callback is None:
            continue
        try:
            callback()
        except Exception as exc:  # a listening widget must not undo or hide a registration that worked
            warnings.warn(f"{callback.__qualname__} could not follow the plugin change: {type(exc).__name__}: {exc}", RuntimeWarning,
                          stacklevel=3)


def list_plugins() -> pd.DataFrame:
    """Tidy table of every registered factory and every failed plugin (see :meth:`Plugins.table`)."""
    return get_plugins().table()

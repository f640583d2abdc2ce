"""Named factories per kind, contributed by plugins.

A :class:`Registry` holds the factories of one kind (``"coupling"``, ``"bridge"``, ...). Plugins add
to it from their hooks; :func:`flowalign_nb.make` builds objects from it by name. Unknown names
fail with an error listing the known ones; two plugins adding the same name fail with an error
naming both.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

KINDS = ("modality", "coupling", "bridge", "analysis", "task")


class UnknownNameError(KeyError):
    """A factory name that no plugin registered."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


class DuplicateNameError(ValueError):
    """Two plugins registered the same name within one kind."""


@dataclass(frozen=True)
class Option:
    """One keyword option a factory accepts, read from its signature."""

    name: str
    default: Any
    annotation: Any

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True)
class Entry:
    """A registered factory: its kind, name, the plugin that added it and its description."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    description: str = ""

    def options(self) -> list[Option]:
        """Keyword options of the factory (name, default, annotation), from its signature.

        Widgets and the CLI build their option fields from this, so a new plugin's options show up
        without code of their own. Names in the factory's ``deprecated_options`` (old names still
        accepted, with a warning) are left out.
        """
        params = inspect.signature(self.factory).parameters.values()
        deprecated = self.deprecated_options()
        return [
            Option(p.name, p.default, p.annotation)
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in deprecated
        ]

    def deprecated_options(self) -> tuple[str, ...]:
        """Old option names the factory still accepts (its ``deprecated_options`` attribute)."""
        return tuple(getattr(self.factory, "deprecated_options", ()))


@dataclass
class Registry:
    """The factories of one kind.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    """

    kind: str
    _entries: dict[str, Entry] = field(default_factory=dict)
    _plugin: str = "<direct>"
    _staged: list[Entry] = field(default_factory=list)

    def add(self, name: str, factory: Callable[..., Any], description: str = "") -> None:
        """Add a factory under ``name``.

        Parameters
        ----------
        name : str
            Lower-case identifier, unique within this kind across all plugins.
        factory : callable
            Called as ``factory(**options)``.
        description : str
            One line shown by ``flowalign plugins``.

        Raises
        ------
        DuplicateNameError
            If another plugin already added ``name``; the message names both plugins.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{self.kind} name {name!r} is not a valid identifier (letters, digits, _)")
        if not callable(factory):
            raise TypeError(f"{self.kind} {name!r}: factory {factory!r} is not callable")
        previous = self._entries.get(name) or next((e for e in self._staged if e.name == name), None)
        if previous is not None:
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered by both plugin {previous.plugin!r} "
                f"and plugin {self._plugin!r}; uninstall or disable one of them "
                f"(FLOWALIGN_DISABLE_PLUGINS={self._plugin})"
            )
        self._staged.append(Entry(self.kind, name, factory, self._plugin, description))

    def begin(self, plugin: str) -> None:
        """Start collecting the registrations of ``plugin`` (kept only if it finishes)."""
        self._plugin, self._staged = plugin, []

    def commit(self) -> None:
        """Keep what the current plugin added."""
        for entry in self._staged:
            self._entries[entry.name] = entry
        self._staged = []

    def rollback(self) -> None:
        """Drop what the current plugin added (it failed part way)."""
        self._staged = []

    def discard_plugin(self, plugin: str) -> list[str]:
        """Remove every factory ``plugin`` added; returns their names (used by :func:`flowalign_nb.plugins.unregister_plugin`)."""
        names = [name for name, entry in self._entries.items() if entry.plugin == plugin]
        for name in names:
            del self._entries[name]
        return names

    def get(self, name: str) -> Entry:
        """The entry named ``name``; :class:`UnknownNameError` lists the known names otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

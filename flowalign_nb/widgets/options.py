"""Option fields generated from a registered factory's keyword options (:meth:`Entry.options`), and
dropdowns of registered names kept in step with the registries."""

from __future__ import annotations

import ast

import ipywidgets as W

from ..plugins import get_registry
from ..registry import Entry, Option


def _field(option: Option) -> W.Widget:
    """One input widget for ``option``, typed after its default."""
    default = option.default
    if isinstance(default, bool):
        return W.Checkbox(value=default, description=option.name)
    if isinstance(default, int):
        return W.IntText(value=default, description=option.name)
    if isinstance(default, float):
        return W.FloatText(value=default, description=option.name)
    text = "" if option.required or default is None else repr(default)
    hint = "required" if option.required else "None when empty"
    return W.Text(value=text, description=option.name, placeholder=hint)


class OptionFields(W.VBox):
    """Input fields for the keyword options of one registry entry (or none).

    Parameters
    ----------
    entry : Entry or None
        The factory whose options to show; None shows no fields.
    """

    def __init__(self, entry: Entry | None = None):
        super().__init__()
        self.set_entry(entry)

    def set_entry(self, entry: Entry | None) -> None:
        """Show the fields of ``entry`` (replacing the current ones)."""
        self.entry = entry
        self.options_ = [] if entry is None else entry.options()
        self.fields = {o.name: _field(o) for o in self.options_}
        self.children = tuple(self.fields.values())

    def values(self) -> dict:
        """The options whose value differs from the factory default, ready for ``factory(**values)``.

        Raises
        ------
        ValueError
            For a required option left empty or text that is not a Python literal, naming the option.
        """
        values = {}
        for option in self.options_:
            field = self.fields[option.name]
            value = field.value
            if isinstance(field, W.Text):
                value = self._parse(option, value)
            if option.required or value != option.default:
                values[option.name] = value
        return values

    def _parse(self, option: Option, text: str):
        if not text.strip():
            if option.required:
                raise ValueError(f"{self.entry.kind} {self.entry.name!r}: option {option.name!r} is required")
            return None
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(
                f"{self.entry.kind} {self.entry.name!r}: option {option.name}={text!r} is not a Python literal "
                "(quote strings, e.g. 'abc')"
            ) from None


class RegistryChoice:
    """A dropdown of the registered names of ``kind`` bound to the option fields of the chosen entry.

    Choosing a name shows its factory's option fields; :meth:`sync` follows plugins registered or
    removed since (:func:`flowalign_nb.plugins.on_registry_change`).

    Parameters
    ----------
    dropdown : ipywidgets.Dropdown
        Its options are ``extra`` + the registered names.
    kind : str
        Registry kind (``"task"``, ``"modality"``, ``"coupling"``, ``"bridge"``, ``"analysis"``).
    fields : OptionFields
    extra : tuple of str
        Leading choices that are not registry names (e.g. "(none)"); they show no fields.
    """

    def __init__(self, dropdown: W.Dropdown, kind: str, fields: OptionFields, extra: tuple = ()):
        self.dropdown, self.kind, self.fields, self.extra = dropdown, kind, fields, tuple(extra)
        self._syncing = False
        dropdown.observe(self._chosen, names="value")

    def _entry(self, name) -> Entry | None:
        return None if name is None or name in self.extra else get_registry(self.kind).get(name)

    def _chosen(self, change) -> None:
        if not self._syncing:
            self.fields.set_entry(self._entry(change["new"]))

    def sync(self) -> None:
        """Options = ``extra`` + the registered names now, keeping the chosen name while it exists.

        When the chosen name is gone the first option is chosen. The fields are rebuilt only when
        the chosen entry changed (another name, or a factory replaced under the same name), so
        values typed into them survive.
        """
        options = [*self.extra, *get_registry(self.kind).names()]
        value = self.dropdown.value
        if list(self.dropdown.options) != options:
            self._syncing = True  # ipywidgets resets the value to the first option on new options
            try:
                self.dropdown.options = options
                self.dropdown.value = value if value in options else (options[0] if options else None)
            finally:
                self._syncing = False
        entry = self._entry(self.dropdown.value)
        if self.fields.entry is not entry:
            self.fields.set_entry(entry)

"""Option fields generated from a registered factory's keyword options (:meth:`Entry.options`)."""

from __future__ import annotations

import ast

import ipywidgets as W

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

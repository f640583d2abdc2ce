"""Option fields generated from a registered factory's keyword options (:meth:`Entry.options`), and
dropdowns of registered names kept in step with the registries."""

from __future__ import annotations

import ast
import inspect
import re

import docstring_parser
import ipywidgets as W

from ..plugins import get_registry
from ..registry import Entry, Option


def label_style(names) -> dict:
    """``style`` of fields whose labels are ``names``: wide enough for the longest in full (no "full_plan_...")."""
    return {"description_width": f"{max((len(n) for n in names), default=0) + 2}ch"}


def option_help(factory) -> dict[str, str]:
    """First sentence of each parameter's numpydoc description, by parameter name.

    A class is looked up along its MRO (class and ``__init__`` docstrings), so options a subclass
    inherits take the description of the class that documents them; ``a, b : ...`` entries apply
    to both names; the first description found wins, else the documented type. RST roles and literals are shown as plain text.
    """
    owners = inspect.getmro(factory) if inspect.isclass(factory) else (factory,)
    docs = [d for owner in owners for d in (owner.__doc__, getattr(owner, "__init__", None).__doc__ if inspect.isclass(owner) else None) if d]
    described: dict[str, str] = {}
    typed: dict[str, str] = {}
    for doc in docs:
        for param in docstring_parser.parse(inspect.cleandoc(doc), docstring_parser.DocstringStyle.NUMPYDOC).params:
            if param.args[0] != "param" or (param.type_name or "").startswith("see "):
                continue  # "a, b : see :class:`Base`": the class that documents them comes later in the MRO
            sentence = re.split(r"(?<=\.)\s", _plain_text(param.description or ""), maxsplit=1)[0]
            for name in (n.strip() for n in param.arg_name.split(",")):
                if sentence:
                    described.setdefault(name, sentence)
                if param.type_name:
                    typed.setdefault(name, _plain_text(param.type_name))
    return {**typed, **described}


def _plain_text(rst: str) -> str:
    """One line of ``rst`` with roles (``:class:`X```) and literals (````x````) as plain text."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", " ".join(rst.split())).replace("``", "")


def _field(option: Option, tooltip: str, style: dict) -> W.Widget:
    """One input widget for ``option``, typed after its default, labelled with its full name."""
    default = option.default
    common = dict(description=option.name, tooltip=tooltip, style=style)
    if isinstance(default, bool):
        return W.Checkbox(value=default, indent=False, description=option.name, tooltip=tooltip)
    if isinstance(default, int):
        return W.IntText(value=default, **common)
    if isinstance(default, float):
        return W.FloatText(value=default, **common)
    text = "" if option.required or default is None else repr(default)
    hint = "required" if option.required else "None when empty"
    return W.Text(value=text, placeholder=hint, **common)


class OptionFields(W.VBox):
    """Input fields for the keyword options of one registry entry (or none).

    Each field is labelled with the option's full name and its tooltip is the first sentence of the
    option's description in the factory's docstring (:func:`option_help`).

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
        help_ = {} if entry is None else option_help(entry.factory)
        style = label_style([o.name for o in self.options_])
        self.fields = {o.name: _field(o, help_.get(o.name, ""), style) for o in self.options_}
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

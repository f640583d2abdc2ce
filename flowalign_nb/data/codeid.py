"""The identity of a modality's code, for the feature cache's key: distribution versions and a digest of the code.

:func:`code_identity` hashes the *compiled code that runs* (each function's bytecode, constants and
names, through classes and the functions of the module that defines them), not the files on disk, so
a cache key follows what computes the features: edit a plugin's module and reload it (or re-run a
notebook cell and register it again with ``fa.register_plugin(..., replace=True)``) and the key
changes; reformatting, comments and line numbers do not change it.

What it cannot see: code in other modules that the modality calls (a helper module of the plugin,
a library), values read at run time (files, closures, mutable globals such as lists and dicts,
globals of other modules). Those are covered by
the version of the distribution that ships the module (for an installed plugin) and by the
modality's own ``cache_token`` (see README "Writing a plugin"); ``fa.represent(..., cache=False)``
and ``flowalign cache clear`` are the ways out.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import sys
import types
from importlib import metadata

#: constant values folded into a digest by their repr (others by their type's name); of the values a
#: function reads from its globals, only these and tuples / frozensets of them count: a mutable one
#: (a list, a dict) is state, which would change the key at every call
_PLAIN = (int, float, complex, str, bytes, bool, type(None))


def code_identity(*objects) -> dict:
    """``{"distributions": ["name==version", ...], "digest": sha256}`` of the code of ``objects``.

    Parameters
    ----------
    *objects : classes or functions
        Typically a modality's factory and the class of the object it built.

    Returns
    -------
    dict
        ``distributions``: the installed distributions that ship the objects' modules, with their
        versions (empty for a notebook's code); ``digest``: SHA-256 over every function and class
        defined in each object's module (only the object itself, with its classes, for a module
        without a source file, such as a notebook's ``__main__``), and over the immutable
        module-level values (numbers, strings, tuples of them) that this code reads by name.
    """
    h = hashlib.sha256()
    seen: set[int] = set()
    distributions: set[str] = set()
    for obj in objects:
        namespace = _namespace(obj)
        distributions.update(_distributions(str(namespace.get("__name__", ""))))
        members = [obj]
        if namespace.get("__file__"):
            members += [value for _, value in sorted(namespace.items(), key=lambda item: str(item[0]))
                        if (inspect.isfunction(value) or inspect.isclass(value)) and getattr(value, "__module__", None) == namespace.get("__name__")]
        for member in members:
            _feed(h, member, seen)
    return {"distributions": sorted(distributions), "digest": h.hexdigest()}


def _namespace(obj) -> dict:
    """The globals of the module that defines ``obj`` (from a function's ``__globals__``, which also works for
    a module that is not in ``sys.modules``)."""
    candidates = [obj] if inspect.isfunction(obj) else [f for v in vars(obj).values() if (f := _plain_function(v)) is not None] \
        if inspect.isclass(obj) else [_plain_function(getattr(type(obj), "__call__", None))]
    for function in candidates:
        if function is not None:
            return function.__globals__
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    return vars(module) if module is not None else {}


def _plain_function(value):
    """The Python function behind ``value`` (a property's getter), or None."""
    function = _function_of(value)
    if isinstance(function, property):
        function = function.fget
    return function if inspect.isfunction(function) else None


def _feed(h, item, seen: set[int]) -> None:
    if id(item) in seen:
        return
    seen.add(id(item))
    if inspect.isclass(item):
        h.update(f"class\0{item.__qualname__}\0".encode())
        for base in item.__mro__[1:]:
            if base.__module__ == item.__module__:
                _feed(h, base, seen)
        for name, value in sorted(vars(item).items()):
            function = _function_of(value)
            if function is not None:
                h.update(f"member\0{name}\0".encode())
                _feed(h, function, seen)
            elif inspect.isclass(value) and value.__module__ == item.__module__:
                _feed(h, value, seen)
            elif not name.startswith("__") and isinstance(value, _PLAIN + (tuple, frozenset)):
                h.update(f"attribute\0{name}\0{_value(value)}\0".encode())
    elif isinstance(item, property):
        for part in (item.fget, item.fset, item.fdel):
            if part is not None:
                _feed(h, part, seen)
    elif inspect.isfunction(item):
        h.update(f"function\0{item.__qualname__}\0".encode() + _code_bytes(item.__code__))
        h.update(f"defaults\0{_value(item.__defaults__)}\0{_value(item.__kwdefaults__)}\0".encode())
        for name in sorted(_global_names(item.__code__)):
            value = item.__globals__.get(name)
            if isinstance(value, _PLAIN + (tuple, frozenset)):
                h.update(f"global\0{name}\0{_value(value)}\0".encode())
    elif callable(item):  # a callable instance used as a factory
        _feed(h, type(item), seen)


def _global_names(code: types.CodeType) -> set[str]:
    """Every name a code object (and the code nested in it) may read from its globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _function_of(value):
    """The function behind a class attribute (method, static/class method, property), or None."""
    if isinstance(value, (staticmethod, classmethod)):
        return value.__func__
    if isinstance(value, property) or inspect.isfunction(value):
        return value
    return None


def _code_bytes(code: types.CodeType) -> bytes:
    """A code object's bytecode, names and constants (nested code included), without file names or line numbers."""
    parts = [code.co_code, repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, code.co_argcount,
                                 code.co_kwonlyargcount, code.co_flags)).encode(), getattr(code, "co_exceptiontable", b"")]
    for const in code.co_consts:
        parts.append(_code_bytes(const) if isinstance(const, types.CodeType) else _value(const).encode())
    return b"\0".join(parts)


def _value(value) -> str:
    """A deterministic token of a constant: repr of plain values (sorted for sets), else the type's name."""
    if isinstance(value, _PLAIN):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__}({', '.join(map(_value, value))})"
    if isinstance(value, (set, frozenset)):
        return f"{type(value).__name__}({', '.join(sorted(map(_value, value)))})"
    if isinstance(value, dict):
        return f"dict({', '.join(f'{_value(k)}: {_value(v)}' for k, v in value.items())})"
    return f"<{type(value).__qualname__}>"


def _distributions(module_name: str) -> list[str]:
    """``name==version`` of the installed distributions that ship the top-level package of ``module_name``."""
    top = module_name.partition(".")[0]
    found = []
    for name in _packages_distributions().get(top, []):
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict:
    return metadata.packages_distributions()

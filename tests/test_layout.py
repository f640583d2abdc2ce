"""The core's layers (DESIGN.md "Layout"): nothing imports from a layer above it, no import cycles, old paths warn."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

import flowalign_nb
from flowalign_nb.moved import MOVED

PACKAGE = Path(flowalign_nb.__file__).parent
#: rank of each layer; a module may import only from its own layer or lower ones. ``flow`` and
#: ``transport`` are siblings: neither imports the other.
LAYERS = {"core": 0, "data": 1, "transport": 2, "flow": 2, "align": 3, "analysis": 4, "tasks": 5, "runs": 6,
          "report": 7, "widgets": 8, "top": 9}
TOP = {"flowalign_nb", "flowalign_nb.cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    if module in TOP:
        return "top"
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS):
        return parts[1] if parts[1] in LAYERS else "core"
    return "core"


def imports(path: Path, module_level_only: bool = False):
    """(line, imported module) of every ``flowalign_nb`` import in the file."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else ast.walk(tree)
    here = module_name(path).split(".")
    base = here if path.name == "__init__.py" else here[:-1]
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("flowalign_nb"):
                # "from . import cache" imports a module
                names = [f"{target}.{a.name}" for a in node.names]
                found = [n for n in names if importlib.util.find_spec(n.rsplit(".", 1)[0]) and _is_module(n)]
                for n in found or [target]:
                    yield node.lineno, n
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("flowalign_nb"):
                    yield node.lineno, alias.name


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if module_name(p) not in ("flowalign_nb.moved",))


def test_layer_of_names_every_subpackage():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages <= set(LAYERS), f"sub-packages without a layer: {sorted(subpackages - set(LAYERS))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_upward_import(path):
    importer = module_name(path)
    upward = [f"line {line}: {target} ({layer(target)})" for line, target in imports(path)
              if target not in MOVED and LAYERS[layer(target)] > LAYERS[layer(importer)]
              or (LAYERS[layer(target)] == LAYERS[layer(importer)] and layer(target) != layer(importer))]
    assert not upward, f"{importer} ({layer(importer)}) imports from a layer above it or beside it: {upward}"


def test_no_imports_of_old_paths_inside_the_package():
    old = [f"{module_name(p)} line {line}: {t}" for p in MODULES for line, t in imports(p) if t in MOVED]
    assert not old, old


def test_no_import_cycles():
    graph = {module_name(p): {t for _, t in imports(p, module_level_only=True)} for p in MODULES}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == 1 and not nxt.startswith(node):
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                # a package importing its own sub-modules (its __init__) is not a cycle
                if not all(b.startswith(a + ".") or a == b for a, b in zip(cycle, cycle[1:])):
                    raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_paths_warn_and_work(old):
    sys.modules.pop(old, None)
    with pytest.warns(FutureWarning, match=rf"{old} has moved to {MOVED[old]}"):
        module = importlib.import_module(old)
    new = importlib.import_module(MOVED[old])
    public = [name for name in vars(new) if not name.startswith("_")]
    assert public and all(getattr(module, name) is getattr(new, name) for name in public)


@pytest.mark.parametrize("package, name, new", [("flowalign_nb.data", "Latents", "flowalign_nb.data.model"),
                                                ("flowalign_nb.runs", "load_run", "flowalign_nb.runs.folder"),
                                                ("flowalign_nb.report", "report", "flowalign_nb.report.render")])
def test_old_names_of_modules_that_became_packages_warn_and_work(package, name, new):
    module = importlib.import_module(package)
    with pytest.warns(FutureWarning, match=rf"{package}.{name} has moved to {new}.{name}"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        getattr(module, "not_a_name")

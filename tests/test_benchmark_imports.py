"""Every ``flowalign_nb`` name the benchmarks import exists (also imports inside functions and worker scripts).

``make bench`` runs for minutes before reaching a worker that imports a removed module; this finds it at once.
"""

import ast
import importlib
import warnings
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _imports():
    for path in sorted(BENCHMARKS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "flowalign_nb" and node.level == 0:
                for alias in node.names:
                    yield pytest.param(node.module, alias.name, id=f"{path.relative_to(BENCHMARKS)}:{node.lineno}:{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "flowalign_nb":
                        yield pytest.param(alias.name, None, id=f"{path.relative_to(BENCHMARKS)}:{node.lineno}")


@pytest.mark.parametrize("module, name", list(_imports()))
def test_benchmark_imports_resolve_without_the_old_paths(module, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # an old module path (moved.py) counts as broken here
        imported = importlib.import_module(module)
        if name is not None and not hasattr(imported, name):
            importlib.import_module(f"{module}.{name}")  # a submodule imported by name

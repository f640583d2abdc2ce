"""Safe, atomic file I/O: safetensors and JSON only, written to a temporary name and renamed.

Nothing here unpickles: a tampered file can fail to load, but it cannot run code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file


class SavedFileError(ValueError):
    """A saved file that is missing, truncated, tampered with, or of another format or version."""


def _atomic_target(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _replace(tmp: Path, path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; saved results are for sharing
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (the old file survives a crash mid-write)."""
    path = Path(path)
    tmp = _atomic_target(path)
    try:
        tmp.write_bytes(data)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not write {path}: {exc}; the previous version, if any, is unchanged") from exc
    _replace(tmp, path)


def write_json(path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (the old file survives a crash mid-write)."""
    write_bytes(path, json.dumps(obj, indent=2, sort_keys=True).encode())


def read_json(path, kind: str, version: int) -> dict:
    """Read a JSON file written with ``{"format": kind, "version": version, ...}``."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise SavedFileError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SavedFileError(f"{path}: not valid JSON ({exc}); the file is truncated or corrupted") from None
    _check_format(path, obj, kind, version)
    return obj


def _check_format(path, header, kind, version):
    if not isinstance(header, dict) or header.get("format") != kind:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise SavedFileError(f"{path}: expected a {kind!r} file, found format {found!r}")
    if header.get("version") != version:
        raise SavedFileError(
            f"{path}: {kind} format version {header.get('version')!r} is not supported (this flowalign_nb reads version {version})"
        )


def write_tensors(path, tensors: dict[str, torch.Tensor], header: dict) -> None:
    """Write tensors and a JSON ``header`` (in the safetensors metadata) to one file, atomically."""
    path = Path(path)
    tmp = _atomic_target(path)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata={"header": json.dumps(header)})
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not write {path}: {exc}; the previous version, if any, is unchanged") from exc
    _replace(tmp, path)


def read_tensors(path, kind: str, version: int) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by :func:`write_tensors`; check its ``kind`` and ``version``.

    Returns
    -------
    (tensors, header)
    """
    path = Path(path)
    if not path.exists():
        raise SavedFileError(f"{path}: file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise SavedFileError(f"{path}: not a readable safetensors file ({exc}); it is truncated or corrupted") from None
    try:
        header = json.loads(metadata["header"])
    except (KeyError, json.JSONDecodeError):
        raise SavedFileError(f"{path}: no flowalign_nb header in the file's metadata") from None
    _check_format(path, header, kind, version)
    return tensors, header


@contextmanager
def atomic_folder(path, owned_files: tuple[str, ...]):
    """Write a folder atomically: yield a temporary sibling folder, then swap it into place.

    The previous folder stays intact until the new one is complete: an exception (a full disk, an
    interrupt) while writing removes the temporary folder and leaves the old one as it was. The old
    folder is replaced only if it holds nothing but ``owned_files``, so a user's other files are never
    deleted.

    Parameters
    ----------
    path : path
    owned_files : tuple of str
        The file names this writer produces.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise FileExistsError(f"{path} exists and is not a folder; choose another path")
        foreign = sorted(p.name for p in path.iterdir() if p.name not in owned_files)
        if foreign:
            raise FileExistsError(
                f"{path} holds other files ({', '.join(foreign[:5])}); save into a new or empty folder "
                "so nothing there is overwritten"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(f"could not save {path}: {exc}; the previous version, if any, is unchanged") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    if path.exists():
        os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def recover_folder(path) -> Path:
    """If a crash fell between the two renames of :func:`atomic_folder`, put the old folder back."""
    path = Path(path)
    if not path.exists():
        leftovers = sorted(path.parent.glob(f".{path.name}.old-*"))
        if leftovers:
            os.rename(leftovers[-1], path)
    return path

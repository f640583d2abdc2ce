"""Provenance of a run folder: what went in, what came out, and where and when it ran.

A run folder's ``provenance.json`` records

- ``files``: the SHA-256 of every file the run wrote (so a changed, truncated or removed file is
  caught when the folder is read, see :func:`verify`);
- ``inputs``: the SHA-256 of every file the task read through Python's ``open`` while loading its
  data (data sets, model weights), collected by :func:`recording_inputs`;
- ``representations``: the SHA-256 of the content of each representation the run used (values,
  coords and attrs; see :func:`representation_digest`), whether computed or read from the feature
  cache;
- ``packages`` (versions of flowalign_nb, its requirements and installed plugins), ``python``,
  ``platform``, ``device``, ``seeds``, ``git`` (the project's commit when it is a git checkout),
  ``started`` / ``ended`` (UTC, ISO 8601) and ``command``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from ..safeio import SavedFileError, read_json, write_json

PROVENANCE_FORMAT, PROVENANCE_VERSION = "flowalign_nb.provenance", 1
PROVENANCE_FILE = "provenance.json"
#: opened files that are code, configuration, templates, fonts, package metadata or system files, not inputs
_NOT_INPUT_SUFFIXES = {".py", ".pyc", ".pyo", ".pyd", ".pyi", ".so", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".j2",
                       ".jinja2", ".mplstyle", ".ttf", ".afm"}
_NOT_INPUT_ROOTS = ("/proc/", "/sys/", "/dev/", "/etc/")

_lock = threading.Lock()
_recorders: list[list[str]] = []
_hook_installed = False


def now() -> str:
    """The current UTC time, ISO 8601 (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256_file(path) -> str:
    """SHA-256 of a file's bytes (64 hex digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def representation_digest(rep: xr.DataArray) -> str:
    """SHA-256 of a representation's content: dtype, shape and bytes of its values, every coord's
    name and values, and its attrs (as sorted JSON).

    Returns
    -------
    str
        64 hex digits; equal for equal content, whatever file or cache it came from.
    """
    h = hashlib.sha256()
    values = np.ascontiguousarray(rep.values)
    h.update(f"values\0{values.dtype.str}\0{values.shape}\0".encode() + values.tobytes())
    for name in sorted(rep.coords, key=str):
        coord = rep.coords[name]
        h.update(f"coord\0{name}\0{coord.dims}\0".encode() + "\0".join(map(str, np.ravel(coord.values))).encode())
    h.update(json.dumps(rep.attrs, sort_keys=True, default=str).encode())
    return h.hexdigest()


def describe_representations(named: dict) -> dict:
    """``{name: {"sha256", "shape", "modality", "model"}}`` for each DataArray in ``named``."""
    return {
        name: {"sha256": representation_digest(rep), "shape": list(rep.shape),
               "modality": str(rep.attrs.get("modality", "")), "model": str(rep.attrs.get("model", ""))}
        for name, rep in named.items()
        if isinstance(rep, xr.DataArray)
    }


def _audit(event: str, args: tuple) -> None:
    if event != "open" or not _recorders:
        return
    path, mode, flags = args
    if not isinstance(path, (str, bytes, os.PathLike)):
        return
    reading = ("r" in mode and "+" not in mode) if mode else not (flags or 0) & (os.O_WRONLY | os.O_RDWR)
    if reading:
        with _lock:
            for opened in _recorders:
                opened.append(os.fsdecode(path))


@contextmanager
def recording_inputs():
    """Collect the files opened for reading (by any thread) while the block runs.

    Uses a Python audit hook (:func:`sys.addaudithook`, installed once, idle outside this block), so
    it sees files opened through ``open``/``os.open`` (numpy, torch, PIL, pandas readers); files
    opened by C or Rust libraries on their own (netCDF4, safetensors) are not seen, which is why
    representations are also recorded by content (:func:`representation_digest`).

    Yields
    ------
    list of dict
        Filled when the block ends: ``{"path", "sha256", "bytes"}`` per input file, sorted by path,
        leaving out Python code, package metadata and system files.
    """
    global _hook_installed
    with _lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True
        opened: list[str] = []
        _recorders.append(opened)
    found: list[dict] = []
    try:
        yield found
    finally:
        with _lock:
            _recorders.remove(opened)
    found.extend(_describe_inputs(opened))


def _describe_inputs(paths: list[str]) -> list[dict]:
    out = {}
    for raw in paths:
        path = Path(raw).resolve()
        text = path.as_posix()
        metadata_part = any(p == "__pycache__" or p.endswith((".dist-info", ".egg-info")) for p in path.parts)
        if path.suffix in _NOT_INPUT_SUFFIXES or metadata_part or text.startswith(_NOT_INPUT_ROOTS) or not path.is_file():
            continue
        if text not in out:
            out[text] = {"path": text, "sha256": sha256_file(path), "bytes": path.stat().st_size}
    return [out[k] for k in sorted(out)]


def package_versions() -> dict:
    """Versions of flowalign_nb, its requirements, the distributions of installed plugins and of every
    imported package."""
    names = {"flowalign_nb"}
    for requirement in metadata.requires("flowalign_nb") or []:
        if "extra ==" not in requirement:
            names.add(re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0))
    for entry_point in metadata.entry_points(group="flowalign_nb"):
        if entry_point.dist is not None:
            names.add(entry_point.dist.name)
    imported = {name.partition(".")[0] for name in list(sys.modules)}
    for module, distributions in metadata.packages_distributions().items():
        if module in imported:
            names.update(distributions)
    versions = {}
    for name in sorted(names, key=str.lower):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def device_record(device: torch.device) -> dict:
    """``{"type", "name", "torch_threads"}`` of the device a run used."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {"type": str(device), "name": name, "torch_threads": torch.get_num_threads()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_record(project: Path | None = None) -> dict | None:
    """``{"commit", "dirty"}`` of the project's git checkout, or None when it is not one (or git is absent)."""
    project = Path(project or Path(__file__).resolve().parent.parent)

    def git(*args):
        return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, timeout=30)

    try:
        top = git("rev-parse", "--show-toplevel")
        if top.returncode or Path(top.stdout.strip()).resolve() != project.resolve():
            return None
        commit = git("rev-parse", "HEAD").stdout.strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit, "dirty": dirty} if commit else None


def folder_files(folder: Path, include=None) -> dict:
    """``{relative posix path: sha256}`` of the files under ``folder`` (or under its ``include`` paths,
    files or folders), but ``provenance.json`` and hidden temporaries."""
    roots = [folder] if include is None else [folder / name for name in include]
    paths = [p for root in roots for p in ([root] if root.is_file() else root.rglob("*"))]
    files = {}
    for path in sorted(paths):
        rel = path.relative_to(folder)
        if path.is_file() and rel.as_posix() != PROVENANCE_FILE and not any(p.startswith(".") for p in rel.parts):
            files[rel.as_posix()] = sha256_file(path)
    return files


def write_provenance(folder, *, inputs: list, representations: dict, device: torch.device, seeds: dict,
                     started: str, command: str, include=None) -> dict:
    """Write ``folder/provenance.json`` (atomically) and return the record.

    ``files`` hashes every file in ``folder``, or only those under the relative paths ``include``
    (the files a run wrote into a folder that may hold others).
    """
    folder = Path(folder)
    record = {
        "format": PROVENANCE_FORMAT, "version": PROVENANCE_VERSION, "files": folder_files(folder, include),
        "inputs": inputs, "representations": representations, "packages": package_versions(),
        "python": sys.version.split()[0], "platform": platform.platform(), "device": device_record(device),
        "seeds": seeds, "git": git_record(), "started": started, "ended": now(), "command": command,
    }
    write_json(folder / PROVENANCE_FILE, record)
    return record


def verify(folder, required: tuple[str, ...]) -> dict:
    """Check a run folder against its provenance record.

    Parameters
    ----------
    folder : path
    required : tuple of str
        Files the record must list (so removing a file together with its record entry is caught too).

    Returns
    -------
    dict
        The record.

    Raises
    ------
    flowalign_nb.safeio.SavedFileError
        Naming the file: no or unreadable record, a required file not recorded, a recorded file
        missing, or a file whose SHA-256 differs from the record.
    """
    folder = Path(folder)
    record = read_json(folder / PROVENANCE_FILE, PROVENANCE_FORMAT, PROVENANCE_VERSION)
    files = record.get("files")
    if not isinstance(files, dict):
        raise SavedFileError(f"{folder / PROVENANCE_FILE}: has no 'files' table of SHA-256 hashes")
    for name in required:
        if name not in files:
            raise SavedFileError(f"{folder / PROVENANCE_FILE}: does not record {name!r}, which every run folder of this kind has")
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise SavedFileError(f"{path}: recorded in provenance.json but missing from the run folder")
        actual = sha256_file(path)
        if actual != expected:
            raise SavedFileError(
                f"{path}: SHA-256 {actual[:16]}... does not match the provenance record ({str(expected)[:16]}...); "
                "the file was changed after the run was written"
            )
    return record

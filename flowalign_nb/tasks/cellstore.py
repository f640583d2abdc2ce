"""A sweep's run folder: one JSON file per finished cell, so a sweep can be resumed.

Layout::

    RUN_DIR/sweep.json           the sweep's identity (task, flow options), checked on resume
    RUN_DIR/cells/<key>.json     the tidy rows of one finished cell (written atomically)
    RUN_DIR/images/<key>.png     the task's images of that cell's transported items (generation tasks)

Re-running the same sweep on the same folder skips the cells already there; a folder written by a
different sweep is refused rather than mixed in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..safeio import SavedFileError, read_json, write_bytes, write_json

SWEEP_FORMAT, CELL_FORMAT, VERSION = "flowalign_nb.sweep", "flowalign_nb.cell", 1


def cell_key(seed: int, fraction: float, method: str) -> str:
    """A file-name-safe key, e.g. ``seed0_fraction0.05_ot+prototype``."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", f"seed{seed}_fraction{fraction:g}_{method}")


class CellStore:
    """Finished cells of one sweep in ``folder``.

    Parameters
    ----------
    folder : path
    identity : dict
        JSON-able description of the sweep (task, flow options); must match on resume.
    """

    def __init__(self, folder, identity: dict):
        self.folder = Path(folder)
        self.cells = self.folder / "cells"
        identity = json.loads(json.dumps(identity))
        header = self.folder / "sweep.json"
        if header.exists():
            saved = read_json(header, SWEEP_FORMAT, VERSION)["identity"]
            if saved != identity:
                differ = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
                raise SavedFileError(
                    f"{self.folder} holds another sweep (differs in {', '.join(differ)}); use a new folder to keep both"
                )
        else:
            write_json(header, {"format": SWEEP_FORMAT, "version": VERSION, "identity": identity})
        self.cells.mkdir(parents=True, exist_ok=True)

    def finished(self) -> dict[str, list[dict]]:
        """Rows of every finished cell, by key."""
        return {p.stem: read_json(p, CELL_FORMAT, VERSION)["rows"] for p in sorted(self.cells.glob("*.json"))}

    def write(self, key: str, rows: list[dict]) -> None:
        write_json(self.cells / f"{key}.json", {"format": CELL_FORMAT, "version": VERSION, "rows": rows})

    def write_image(self, key: str, png: bytes) -> None:
        """Save the PNG of cell ``key`` as ``images/<key>.png`` (atomically)."""
        write_bytes(self.folder / "images" / f"{key}.png", png)

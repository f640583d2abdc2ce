"""Stimuli from a user's image folder: one subfolder per class (``root/<class>/<image>``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def load_imagefolder(root, extensions=IMAGE_EXTENSIONS) -> pd.DataFrame:
    """A stimulus table of the images in ``root/<class>/``, sorted by class then file name.

    Parameters
    ----------
    root : str or pathlib.Path
        Folder whose subfolders are the classes; files elsewhere are ignored.
    extensions : sequence of str
        File suffixes read as images (case-insensitive).

    Returns
    -------
    pandas.DataFrame, shape (n_images, 3)
        ``stimulus_id`` (``"<class>/<file name>"``), ``label`` (the subfolder name) and ``image``
        (a ``pathlib.Path``; modalities read it, the feature cache hashes its bytes).

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If it has no class subfolders or no image files in them (naming the extensions looked for).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {str(root)!r} does not exist or is not a folder")
    suffixes = {e.lower() for e in extensions}
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"image folder {str(root)!r} has no class subfolders; expected root/<class>/<image>")
    rows = [
        {"stimulus_id": f"{folder.name}/{f.name}", "label": folder.name, "image": f}
        for folder in classes
        for f in sorted(folder.iterdir())
        if f.is_file() and f.suffix.lower() in suffixes
    ]
    if not rows:
        raise ValueError(f"no image files with extensions {sorted(suffixes)} in the class subfolders of {str(root)!r}")
    return pd.DataFrame(rows, columns=["stimulus_id", "label", "image"])

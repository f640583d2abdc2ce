"""ImageNet-1k (ILSVRC-2012) images as stimuli: the class list, a user's ImageNet folder, a one-image-per-class sample.

The class list (``data/imagenet_classes.csv``: ``class_index``, ``wnid``, ``name``) is the standard
ILSVRC-2012 order (sorted WordNet ids), the order of EfficientNet-Lite's 1000 logits. It holds
names and ids only, no images.

Two folder layouts are read, both giving every image its class by WordNet id:

``root/<wnid>/<file>``
    the usual training / sorted-validation layout;
``root/<wnid>_<anything>.<ext>``
    flat, one file per image named after its class (the layout of the 1000-image sample).

Images are never shipped: the sample is read from the folder the user gives
(:func:`imagenet_sample_folder`); what needs it skips with a reason when it is absent.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .imagefolder import IMAGE_EXTENSIONS

CLASSES_FILE = Path(__file__).with_name("data") / "imagenet_classes.csv"
SAMPLE_ENV = "FLOWALIGN_IMAGENET_SAMPLE"
LAYOUTS = "root/<wnid>/<image> (e.g. root/n01440764/ILSVRC2012_val_00000293.JPEG) or root/<wnid>_<name>.<ext> (e.g. root/n01440764_tench.JPEG)"
WNID = re.compile(r"^n\d{8}")


@lru_cache(maxsize=1)
def imagenet_classes() -> pd.DataFrame:
    """The 1000 ILSVRC-2012 classes, shape (1000, 3): ``class_index`` (0-999), ``wnid``, ``name``.

    ``name`` is one English name per class with words joined by ``_`` (``great_white_shark``); two
    names occur twice (``crane``: bird and machine; ``maillot``), as in the standard list.
    """
    return pd.read_csv(CLASSES_FILE, dtype={"class_index": int, "wnid": str, "name": str})


def imagenet_sample_folder(folder=None) -> Path | None:
    """The images of the 1000-image sample (``<sample>/images``, flat layout), or None when absent.

    Resolution: ``folder`` if given; else ``$FLOWALIGN_IMAGENET_SAMPLE``; else None. ``folder`` and the variable name the sample's root (the folder holding
    ``images/`` and ``classes.csv``). A folder given explicitly that does not exist is an error,
    not a silent None.

    Raises
    ------
    FileNotFoundError
        For an explicitly given folder that does not exist, naming it and where it came from.
    """
    if folder is not None:
        chosen, how = Path(folder).expanduser(), "folder="
    elif os.environ.get(SAMPLE_ENV):
        chosen, how = Path(os.environ[SAMPLE_ENV]).expanduser(), f"${SAMPLE_ENV}"
    else:
        return None
    if not (chosen / "images").is_dir():
        raise FileNotFoundError(f"ImageNet sample folder {str(chosen)!r} (from {how}) has no images/ subfolder; "
                                "give the folder that holds images/ and classes.csv")
    return chosen / "images"


def _is_image(path: Path, suffixes: set) -> bool:
    return path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith(".")


def load_imagenet_folder(root, extensions=IMAGE_EXTENSIONS) -> pd.DataFrame:
    """A stimulus table of the ImageNet images in ``root``, in class then file-name order.

    Parameters
    ----------
    root : str or pathlib.Path
        A folder in one of the two layouts of the module docstring. Subfolders (or file-name
        prefixes) that are not ILSVRC-2012 WordNet ids are an error, not skipped.
    extensions : sequence of str
        File suffixes read as images (case-insensitive).

    Returns
    -------
    pandas.DataFrame, shape (n_images, 4)
        ``stimulus_id`` (the path relative to ``root``), ``label`` (the ILSVRC-2012 class index,
        0-999, the index of the 1000-class head), ``wnid`` and ``image`` (a ``pathlib.Path``: the
        feature cache hashes the file's bytes).

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If it holds neither layout (naming the folder and the expected layouts), or names a WordNet
        id outside the 1000 classes.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"ImageNet folder {str(root)!r} does not exist or is not a folder; expected {LAYOUTS}")
    suffixes = {e.lower() for e in extensions}
    folders = sorted(p for p in root.iterdir() if p.is_dir() and WNID.match(p.name))
    if folders:
        files = [(folder.name, f) for folder in folders for f in sorted(folder.iterdir()) if _is_image(f, suffixes)]
    else:
        files = [(WNID.match(f.name).group(), f) for f in sorted(root.iterdir()) if _is_image(f, suffixes) and WNID.match(f.name)]
    if not files:
        raise ValueError(f"ImageNet folder {str(root)!r} has no images in a known layout (extensions {sorted(suffixes)}); expected {LAYOUTS}")
    index = dict(zip(imagenet_classes()["wnid"], imagenet_classes()["class_index"]))
    unknown = sorted({wnid for wnid, _ in files if wnid not in index})
    if unknown:
        raise ValueError(f"ImageNet folder {str(root)!r} names WordNet id(s) {unknown[:5]} that are not ILSVRC-2012 classes")
    return pd.DataFrame({"stimulus_id": [f.relative_to(root).as_posix() for _, f in files],
                         "label": [int(index[wnid]) for wnid, _ in files],
                         "wnid": [wnid for wnid, _ in files],
                         "image": [f for _, f in files]})

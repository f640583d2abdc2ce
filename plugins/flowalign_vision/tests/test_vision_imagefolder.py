"""The imagefolder stimuli loader."""

import numpy as np
import pytest
from PIL import Image

from flowalign_vision import load_imagefolder


def write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def test_classes_are_subfolders(tmp_path):
    write(tmp_path / "dog" / "b.png", 10)
    write(tmp_path / "dog" / "a.JPG", 20)
    write(tmp_path / "cat" / "z.png", 30)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    write(tmp_path / "loose.png", 40)  # not in a class folder: ignored
    table = load_imagefolder(tmp_path)
    assert table["stimulus_id"].tolist() == ["cat/z.png", "dog/a.JPG", "dog/b.png"]
    assert table["label"].tolist() == ["cat", "dog", "dog"]
    assert table["image"].iloc[0] == tmp_path / "cat" / "z.png"


def test_bad_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist or is not a folder"):
        load_imagefolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="has no class subfolders"):
        load_imagefolder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no image files with extensions \['.bmp'"):
        load_imagefolder(tmp_path)

"""ImageNet: the folder loader (both layouts, errors), the shared-sample resolution, and the
``imagenet_text_to_image`` / ``imagenet_image_to_text`` tasks end to end on 20 real classes.

Everything that reads images skips with a reason when the shared sample is absent (it stays out of
the repository; see its README).
"""

from __future__ import annotations

import numpy as np
import pytest
from flowalign_vision.imagenet import (
    imagenet_classes,
    imagenet_sample_folder,
    load_imagenet_folder,
)
from flowalign_vision.imagenet_task import (
    ImagenetImageToText,
    ImagenetTextToImage,
    split_scores,
)
from PIL import Image

import flowalign_nb as fa
from flowalign_nb.analysis.inputs import NotApplicableError
from flowalign_nb.tasks.task import run_cell

TWENTY = list(range(0, 1000, 50))


@pytest.fixture(scope="module")
def sample():
    folder = imagenet_sample_folder()
    if folder is None:
        pytest.skip("the ImageNet sample is absent (set FLOWALIGN_IMAGENET_SAMPLE to a folder holding images/ and classes.csv)")
    return folder


def _crops(image: Image.Image, n: int) -> list[Image.Image]:
    """``n`` augmented views: crops of 80-95 % of the side at different corners, every other one mirrored."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        side = int(image.width * rng.uniform(0.8, 0.95))
        left, top = rng.integers(0, image.width - side + 1), rng.integers(0, image.height - side + 1)
        crop = image.crop((left, top, left + side, top + side))
        out.append(crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if i % 2 else crop)
    return out


@pytest.fixture(scope="module")
def user_folder(sample, tmp_path_factory):
    """A user's ImageNet folder in the validation layout ``root/<wnid>/*.JPEG``: 4 classes x 3 augmented crops."""
    root = tmp_path_factory.mktemp("imagenet_user")
    classes = imagenet_classes().set_index("class_index")
    for index in (1, 207, 417, 950):   # goldfish, golden retriever, balloon, orange
        wnid, name = classes.loc[index, "wnid"], classes.loc[index, "name"]
        (root / wnid).mkdir()
        with Image.open(sample / f"{wnid}_{name}.JPEG") as im:
            for j, crop in enumerate(_crops(im.convert("RGB"), 3)):
                crop.save(root / wnid / f"ILSVRC2012_val_{index:04d}{j}.JPEG", quality=90)
    return root


# --- the folder loader -------------------------------------------------------------------------


def test_validation_layout_gives_every_image_its_class_index(user_folder):
    table = load_imagenet_folder(user_folder)
    assert len(table) == 12
    assert table["label"].tolist() == [1] * 3 + [207] * 3 + [417] * 3 + [950] * 3
    assert table["wnid"].iloc[0] == "n01443537" and table["stimulus_id"].iloc[0] == "n01443537/ILSVRC2012_val_00010.JPEG"
    assert all(p.is_file() for p in table["image"])


def test_flat_layout_of_the_sample_matches_classes_csv(sample):
    table = load_imagenet_folder(sample)
    assert len(table) == 1000 and table["label"].tolist() == list(range(1000))
    listed = (sample.parent / "classes.csv").read_text().splitlines()[1:]
    assert table["stimulus_id"].tolist() == [line.split(",")[3] for line in listed]


def test_wrong_layout_names_the_folder_and_the_expected_layouts(tmp_path):
    (tmp_path / "cats").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "cats" / "tabby.jpg")
    with pytest.raises(ValueError, match=rf"ImageNet folder '{tmp_path}' has no images in a known layout.*root/<wnid>/<image>.*root/<wnid>_<name>"):
        load_imagenet_folder(tmp_path)


def test_unknown_wordnet_id_and_missing_folder(tmp_path):
    (tmp_path / "n99999999").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "n99999999" / "x.JPEG")
    with pytest.raises(ValueError, match=r"names WordNet id\(s\) \['n99999999'\] that are not ILSVRC-2012 classes"):
        load_imagenet_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"'.*nowhere' does not exist or is not a folder; expected root/<wnid>"):
        load_imagenet_folder(tmp_path / "nowhere")


def test_sample_resolution_order(monkeypatch, tmp_path, sample):
    monkeypatch.delenv("FLOWALIGN_IMAGENET_SAMPLE", raising=False)
    assert imagenet_sample_folder() is None                           # no default folder: the images never ship
    assert imagenet_sample_folder(sample.parent) == sample
    monkeypatch.setenv("FLOWALIGN_IMAGENET_SAMPLE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"from \$FLOWALIGN_IMAGENET_SAMPLE\) has no images/ subfolder"):
        imagenet_sample_folder()
    with pytest.raises(FileNotFoundError, match="no ImageNet folder"):
        monkeypatch.delenv("FLOWALIGN_IMAGENET_SAMPLE")
        ImagenetTextToImage().images


def test_user_folder_is_extracted_in_chunks_and_named_by_the_frozen_head(user_folder):
    task = ImagenetTextToImage(folder=user_folder, chunk_size=5, progress=False)
    images = task.spaces["images"]
    whole = fa.represent("efficientnet_lite", task.images, variant="lite0", layer="head", progress=False)
    np.testing.assert_allclose(images.values, whole.values, rtol=1e-5, atol=1e-5)   # 3 chunks == one pass
    ceiling = task.ceiling(task.load(0))
    assert ceiling["top5"] >= 0.9, ceiling    # crops of real images of easy classes
    assert task.spaces["train_text"].sizes["presentation"] == 4 * 8


# --- the tasks on 20 classes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def twenty(sample):
    task = ImagenetTextToImage(classes=TWENTY, progress=False)
    return task, task.load(0)


def test_class_labels_are_the_same_classes_in_both_spaces(twenty):
    task, data = twenty
    source, target = task.mask(data, 0.5, seed=3)
    seen = data.extra["seen_classes"]
    assert len(seen) == 10
    for rep in (source, target):
        labelled = rep["is_labelled"].values
        assert sorted(set(rep["label"].values[labelled].tolist())) == seen
        assert labelled.sum() == np.isin(rep["label"].values, seen).sum()


def test_text_to_image_end_to_end_on_twenty_classes(twenty):
    task, data = twenty
    assert (data.source.sizes["presentation"], data.target.sizes["presentation"], data.source_test.sizes["presentation"]) == (160, 20, 80)
    ceiling = run_cell(task, data, "ceiling", 0.5, 0)
    assert ceiling["top1"] >= 0.8                      # EfficientNet-Lite0 on these real images
    e2e = run_cell(task, data, "end_to_end", 0.5, 0)
    assert e2e["top1_seen"] >= 0.9 and e2e["top1_unseen"] == 0.0 and e2e["top5_unseen"] == 0.0
    flow = run_cell(task, data, "exemplar", 0.5, 0, {"steps": 200, "progress": False})
    assert flow["top1_seen"] >= 0.5, flow              # chance is 1/1000 for the 1000-way head
    assert set(flow) == {"top1", "top5", "top1_seen", "top5_seen", "top1_unseen", "top5_unseen", "seconds"}


def test_image_to_text_names_images_by_caption_centroids(twenty):
    task = ImagenetImageToText(classes=TWENTY, progress=False)
    data = task.load(0)
    assert run_cell(task, data, "ceiling", 0.5, 0)["top1"] == 1.0   # training captions vs held-out caption centroids
    ridge = run_cell(task, data, "ridge", 0.5, 0)
    assert ridge["top1_seen"] >= 0.9
    with pytest.raises(NotApplicableError, match="no end-to-end baseline"):
        task.end_to_end(data.source, data)


def test_split_scores_by_hand():
    scores = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.3], [0.2, 0.3, 0.5]])
    out = split_scores(scores, np.array([10, 11, 12]), np.array([11, 12, 10]), seen=[11])
    assert out["top1"] == pytest.approx(1 / 3) and out["top1_seen"] == 1.0 and out["top1_unseen"] == 0.0
    # top-5 of three classes holds every class
    assert out["top5"] == 1.0
    assert np.isnan(split_scores(scores, np.array([10, 11, 12]), np.array([11, 12, 10]), seen=[])["top1_seen"])


def test_score_before_masking_is_a_clear_error(twenty):
    task, data = twenty
    fresh = task.load(1)
    fresh.extra.pop("seen_classes", None)
    with pytest.raises(RuntimeError, match=r"mask the data with task.mask"):
        task.score(data.extra["target_test"], fresh)

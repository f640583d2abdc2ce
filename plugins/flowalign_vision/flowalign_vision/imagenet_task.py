"""``imagenet_text_to_image`` and ``imagenet_image_to_text``: MiniLM captions of the 1000 ImageNet classes <-> EfficientNet-Lite0.

Spaces
    Text: all-MiniLM-L6-v2 embeddings (384-d) of captions of the class names, one caption per
    (class, template). Training captions use :data:`TRAIN_TEMPLATES`, held-out captions the disjoint
    :data:`TEST_TEMPLATES`. Images: EfficientNet-Lite0's pooled head features (1280-d, the input of
    its frozen 1000-class classifier) of the ImageNet images of a folder (:func:`load_imagenet_folder`;
    the shared 1000-image sample by default), extracted with :func:`flowalign_nb.represent_chunked`
    (cached per chunk, resumable, on Dask workers when a client is active).

Labels
    A label fraction ``p`` means ``p`` of the classes are labelled: all their captions and images,
    the same classes in both spaces (:meth:`ImagenetTextToImage.mask`, ``fa.mask_labels(by="class")``,
    one seed for both spaces); the other classes have no labelled item. Scores are reported for
    ``seen`` (labelled) and ``unseen`` classes and for all (chance: 1 / n_classes top-1).

Text -> image (:class:`ImagenetTextToImage`)
    Held-out captions are transported into the image space and EfficientNet-Lite0's frozen
    classifier names their class (top-1, top-5). End-to-end: a logistic regression on the labelled
    captions (``C`` by cross-validation); it can only name seen classes, so it scores 0 on unseen
    ones by construction. Ceiling: the frozen classifier on the images themselves.

Image -> text (:class:`ImagenetImageToText`)
    The images are transported into the text space and named by the nearest (cosine) class centroid
    of the held-out captions. With one image per class (the sample) the images scored are the
    images fit on: seen-class images were labelled training items, unseen-class images took part in
    the fit without their labels (a transductive score). Ceiling: the training captions named by
    the same centroids. No end-to-end baseline (it would score its own training images).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr

from flowalign_nb.analysis.downstream import fit_tuned_classifier
from flowalign_nb.analysis.inputs import NotApplicableError
from flowalign_nb.data.chunked import compute_representation, represent_chunked
from flowalign_nb.data.model import labelled_mask, mask_labels
from flowalign_nb.data.represent import represent
from flowalign_nb.tasks.task import Task, TaskData

from .efficientnet import EfficientNetLite
from .extraction import check_positive_int
from .imagenet import imagenet_classes, imagenet_sample_folder, load_imagenet_folder

TRAIN_TEMPLATES = (
    "a photo of a {name}",
    "a close-up picture of the {name}",
    "a blurry photo of a {name}",
    "a bright photo of the {name}",
    "an image showing a {name}",
    "a cropped photo of the {name}",
    "a photo of a small {name}",
    "a good photo of a {name}",
)
TEST_TEMPLATES = (
    "a picture of one {name}",
    "there is a {name} in this photo",
    "a snapshot of the {name}",
    "a low-resolution photo of a {name}",
)


def caption_table(labels, names: dict, templates, prefix: str) -> pd.DataFrame:
    """One caption per (class, template): ``stimulus_id``, ``label`` and ``text``, shape (n_classes * n_templates, 3).

    ``names[c]`` is the class's name with ``_`` read as a space (``great_white_shark`` -> "great white shark").
    """
    rows = [{"stimulus_id": f"{prefix}{c}:{j}", "label": int(c), "text": template.format(name=names[c].replace("_", " "))}
            for c in labels for j, template in enumerate(templates)]
    return pd.DataFrame(rows, columns=["stimulus_id", "label", "text"])


def top_k_hits(scores: np.ndarray, classes: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Whether each item's label is among its ``k`` highest-scoring classes.

    Parameters
    ----------
    scores : numpy.ndarray, shape (n, n_classes)
    classes : numpy.ndarray, shape (n_classes,)
        The class of each score column.
    labels : numpy.ndarray, shape (n,)
    k : int

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return (classes[top] == np.asarray(labels)[:, None]).any(1)


def split_scores(scores: np.ndarray, classes: np.ndarray, labels: np.ndarray, seen) -> dict:
    """``top1``, ``top5`` over all items and ``top1_seen`` ... ``top5_unseen`` over seen and unseen classes.

    A part with no item (no seen classes, or all classes seen) scores NaN.
    """
    labels = np.asarray(labels)
    is_seen = np.isin(labels, np.asarray(list(seen)))
    out = {}
    for k in (1, 5):
        hits = top_k_hits(scores, classes, labels, k)
        out[f"top{k}"] = float(hits.mean())
        for part, members in (("seen", is_seen), ("unseen", ~is_seen)):
            out[f"top{k}_{part}"] = float(hits[members].mean()) if members.any() else float("nan")
    return out


class ImagenetTextToImage(Task):
    """Recognition across modalities: class captions -> EfficientNet-Lite0 head features (see the module docstring).

    Parameters
    ----------
    folder : str, pathlib.Path or None
        An ImageNet folder (``root/<wnid>/<image>`` or ``root/<wnid>_<name>.<ext>``, every image used);
        None: the shared sample (:func:`imagenet_sample_folder`).
    classes : sequence of int or None
        ILSVRC-2012 class indices to keep (e.g. a 20-class subset); None: every class in the folder.
    chunk_size : int
        Images per extraction chunk (and cache entry) of :func:`flowalign_nb.represent_chunked`.
    progress : bool
        Progress bars during feature extraction.
    """

    metric = "top1"

    def __init__(self, folder=None, classes=None, chunk_size: int = 100, progress: bool = True):
        self.folder = folder
        self.classes = None if classes is None else sorted({int(c) for c in classes})
        self.chunk_size = check_positive_int("chunk_size", chunk_size)
        self.progress = progress

    @cached_property
    def images(self) -> pd.DataFrame:
        """The stimulus table of the images used (:func:`load_imagenet_folder`), restricted to ``classes``.

        Raises
        ------
        FileNotFoundError
            When no folder is given and the shared sample is absent.
        ValueError
            When ``classes`` names a class with no image in the folder.
        """
        folder = self.folder if self.folder is not None else imagenet_sample_folder()
        if folder is None:
            raise FileNotFoundError("no ImageNet folder: pass folder=<root/<wnid>/<image> or root/<wnid>_<name>.<ext>> "
                                    "or set FLOWALIGN_IMAGENET_SAMPLE to the shared sample")
        table = load_imagenet_folder(folder)
        if self.classes is not None:
            missing = sorted(set(self.classes) - set(table["label"]))
            if missing:
                raise ValueError(f"classes {missing[:5]} have no image in {str(folder)!r}")
            table = table[table["label"].isin(self.classes)].reset_index(drop=True)
        return table

    @cached_property
    def head_model(self) -> EfficientNetLite:
        return EfficientNetLite(variant="lite0", layer="head", progress=self.progress)

    @cached_property
    def captions(self) -> dict:
        """``{"train": table, "test": table}``: the caption stimuli (:func:`caption_table`) of the classes used."""
        labels = sorted(pd.unique(self.images["label"]).tolist())
        names = dict(zip(imagenet_classes()["class_index"], imagenet_classes()["name"]))
        return {part: caption_table(labels, names, templates, f"caption:{part}:")
                for part, templates in (("train", TRAIN_TEMPLATES), ("test", TEST_TEMPLATES))}

    @cached_property
    def spaces(self) -> dict:
        """``images`` (head features), ``train_text`` and ``test_text`` (caption embeddings); the same for every seed."""
        images = represent_chunked("efficientnet_lite", self.images, chunk_size=self.chunk_size, variant="lite0",
                                   layer="head", progress=False)  # progress is part of the cache key: fixed
        images = compute_representation(images, progress=self.progress)
        text = {part: represent("text", table, model="minilm", progress=False) for part, table in self.captions.items()}
        return {"images": images, "train_text": text["train"], "test_text": text["test"]}

    def load(self, seed: int) -> TaskData:
        s = self.spaces
        return TaskData(s["train_text"], s["images"], s["test_text"], extra={"target_test": s["images"]})

    def mask(self, data: TaskData, fraction: float, seed: int) -> tuple[xr.DataArray, xr.DataArray]:
        """The same ``fraction`` of the classes labelled in both spaces (``mask_labels(by="class")``, one seed).

        The labelled classes are kept in ``data.extra["seen_classes"]`` for :meth:`score`.
        """
        source = mask_labels(data.source, fraction, seed=seed, by="class")
        target = mask_labels(data.target, fraction, seed=seed, by="class")
        data.extra["seen_classes"] = sorted(set(source["label"].values[labelled_mask(source)].tolist()))
        return source, target

    def _seen(self, data: TaskData) -> list:
        if "seen_classes" not in data.extra:
            raise RuntimeError("score needs the labelled classes; mask the data with task.mask(data, fraction, seed) first")
        return data.extra["seen_classes"]

    def score(self, moved: xr.DataArray, data: TaskData) -> dict:
        logits = self.head_model.head(moved.values)
        return split_scores(logits, np.arange(logits.shape[1]), moved["label"].values, self._seen(data))

    def end_to_end(self, source: xr.DataArray, data: TaskData) -> dict:
        known = labelled_mask(source)
        clf = fit_tuned_classifier(source.values[known], source["label"].values[known])
        test = data.source_test
        return split_scores(clf.predict_proba(test.values), clf.classes_, test["label"].values, self._seen(data))

    def ceiling(self, data: TaskData) -> dict:
        images = data.extra["target_test"]
        logits = self.head_model.head(images.values)
        return {k: v for k, v in split_scores(logits, np.arange(logits.shape[1]), images["label"].values, []).items()
                if k in ("top1", "top5")}


class ImagenetImageToText(ImagenetTextToImage):
    """The reverse direction: EfficientNet-Lite0 head features -> caption space, named by held-out caption centroids.

    Same parameters, spaces and class-level labels as :class:`ImagenetTextToImage`; see the module docstring.
    """

    def load(self, seed: int) -> TaskData:
        s = self.spaces
        return TaskData(s["images"], s["train_text"], s["images"], extra={"target_test": s["train_text"]})

    @cached_property
    def centroids(self) -> tuple[np.ndarray, np.ndarray]:
        """Classes (n_classes,) and unit-norm class centroids of the held-out captions (n_classes, 384)."""
        text = self.spaces["test_text"]
        labels = text["label"].values
        classes = np.unique(labels)
        means = np.stack([text.values[labels == c].mean(0) for c in classes])
        return classes, means / np.linalg.norm(means, axis=1, keepdims=True)

    def _named(self, rep: xr.DataArray, seen) -> dict:
        classes, centroids = self.centroids
        return split_scores(np.asarray(rep.values) @ centroids.T, classes, rep["label"].values, seen)

    def score(self, moved: xr.DataArray, data: TaskData) -> dict:
        return self._named(moved, self._seen(data))

    def end_to_end(self, source: xr.DataArray, data: TaskData) -> dict:
        raise NotApplicableError("imagenet_image_to_text has no end-to-end baseline: with one image per class it would "
                                 "score the images it was trained on; leave end_to_end out of its methods")

    def ceiling(self, data: TaskData) -> dict:
        return {k: v for k, v in self._named(data.extra["target_test"], []).items() if k in ("top1", "top5")}

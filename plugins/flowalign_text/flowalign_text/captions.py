"""Caption stimuli for labelled items: several paraphrase templates, name forms and styles per class.

Every caption names its class (``"a slanted handwritten seven (7)"``, ``"the figure 7 (seven),
drawn neat"``), so a sentence encoder places captions by class while the wording varies, giving a text
population with real within-class spread rather than one point per class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

TEMPLATES = (
    "a {style} handwritten {name}",
    "the digit {name}, written by hand in a {style} way",
    "a {style} drawing of the number {name}",
    "someone wrote the numeral {name} in a {style} hand",
    "a scanned image of a {style} {name}",
    "the number {name} scribbled with a pen, {style}",
    "a picture of a {style} digit {name}",
    "a {style} {name} on a white sheet of paper",
    "this is a handwritten {name}, {style}",
    "a grayscale photo of a {style} number {name}",
    "a {style} sketch of {name}",
    "a postal code digit, {style}: {name}",
    "the figure {name}, drawn {style}",
    "an MNIST image of a {style} {name}",
    "a black and white handwritten numeral {name}, rather {style}",
    "{name}, written {style} by a child",
)

STYLES = ("neat", "messy", "slanted", "bold", "thin", "small", "large", "hasty", "careful", "shaky", "thick", "faint",
          "curly", "upright", "wobbly", "tidy")


def class_names(labels) -> dict:
    """Default name forms per class: ``"seven (7)"`` and ``"7 (seven)"`` for the digits 0-9, ``str(label)`` otherwise.

    Word and numeral together: with either alone, all-MiniLM-L6-v2 embeddings of these captions are
    dominated by template and style words (nearest-class-mean accuracy from 10 captions per class
    0.73-0.83, against 0.98 with both).
    """
    return {c: [f"{DIGIT_NAMES[int(c)]} ({int(c)})", f"{int(c)} ({DIGIT_NAMES[int(c)]})"] if _is_digit(c) else [str(c)]
            for c in pd.unique(np.asarray(labels))}


def _is_digit(c) -> bool:
    return isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= int(c) <= 9


def caption_stimuli(stimuli: pd.DataFrame, names: dict | None = None, templates=TEMPLATES, styles=STYLES,
                    seed: int = 0, prefix: str = "caption:") -> pd.DataFrame:
    """One caption per labelled stimulus, drawn from ``templates`` x name forms x ``styles``.

    Parameters
    ----------
    stimuli : pandas.DataFrame
        ``stimulus_id`` and ``label`` columns (e.g. the images the captions stand in for).
    names : dict, optional
        Class -> list of name forms; defaults to :func:`class_names`.
    templates : sequence of str
        Format strings with ``{name}`` and optionally ``{style}`` (every default template has both).
    styles : sequence of str
    seed : int
    prefix : str
        Prepended to each ``stimulus_id`` so captions and images never share an id.

    Returns
    -------
    pandas.DataFrame, shape (n_stimuli, 3)
        ``stimulus_id``, ``label`` and ``text``.

    Raises
    ------
    ValueError
        For missing columns, an empty template list or a class without a name.
    """
    missing = [c for c in ("stimulus_id", "label") if c not in stimuli.columns]
    if missing:
        raise ValueError(f"stimuli need column(s) {missing} to be captioned; columns present: {list(stimuli.columns)}")
    if len(templates) == 0 or any("{name}" not in t for t in templates):
        raise ValueError("templates must be a non-empty sequence of strings that each contain '{name}'")
    names = class_names(stimuli["label"]) if names is None else names
    unnamed = sorted({str(c) for c in stimuli["label"] if c not in names})
    if unnamed:
        raise ValueError(f"no caption names for class(es) {unnamed}; names given for {sorted(map(str, names))}")
    rng = np.random.default_rng(seed)
    texts = []
    for label in stimuli["label"]:
        template = templates[rng.integers(len(templates))]
        forms = names[label]
        texts.append(template.format(name=forms[rng.integers(len(forms))], style=styles[rng.integers(len(styles))]))
    return pd.DataFrame({"stimulus_id": [f"{prefix}{s}" for s in stimuli["stimulus_id"]],
                         "label": stimuli["label"].to_numpy(), "text": texts})

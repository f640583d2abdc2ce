"""Caption stimuli: varied paraphrases that always name their class."""

import numpy as np
import pandas as pd
import pytest

from flowalign_text import caption_stimuli
from flowalign_text.captions import DIGIT_NAMES


@pytest.fixture
def items():
    return pd.DataFrame({"stimulus_id": [f"img{i}" for i in range(1000)], "label": np.arange(1000) % 10})


def test_each_caption_names_its_digit_in_varied_words(items):
    captions = caption_stimuli(items, seed=3)
    assert captions["stimulus_id"].iloc[0] == "caption:img0"
    assert (captions["label"].to_numpy() == items["label"].to_numpy()).all()
    for text, label in zip(captions["text"], captions["label"]):
        assert f"{DIGIT_NAMES[label]} ({label})" in text or f"{label} ({DIGIT_NAMES[label]})" in text
    per_class = captions.groupby("label")["text"].nunique()
    assert per_class.min() >= 80  # of 100 captions per class, most differ


def test_captions_are_reproducible_by_seed(items):
    assert caption_stimuli(items, seed=1).equals(caption_stimuli(items, seed=1))
    assert not caption_stimuli(items, seed=1)["text"].equals(caption_stimuli(items, seed=2)["text"])


def test_other_classes_and_bad_inputs():
    animals = pd.DataFrame({"stimulus_id": ["a", "b"], "label": ["cat", "dog"]})
    texts = caption_stimuli(animals, names={"cat": ["cat", "kitten"], "dog": ["dog"]}, templates=["a photo of a {name}"])["text"]
    assert texts.iloc[1] == "a photo of a dog" and texts.iloc[0] in ("a photo of a cat", "a photo of a kitten")
    with pytest.raises(ValueError, match=r"no caption names for class\(es\) \['dog'\]"):
        caption_stimuli(animals, names={"cat": ["cat"]})
    with pytest.raises(ValueError, match=r"need column\(s\) \['label'\]"):
        caption_stimuli(animals[["stimulus_id"]])
    with pytest.raises(ValueError, match="each contain '{name}'"):
        caption_stimuli(animals, templates=["no placeholder"])

"""fa.represent's input checks (its caching is tested with real models in plugins/flowalign_vision)."""

import pandas as pd
import pytest

import flowalign_nb as fa
from flowalign_nb.data.represent import stimuli_representation, validate_stimuli


def test_stimuli_are_checked():
    with pytest.raises(TypeError, match="stimuli must be a pandas.DataFrame"):
        validate_stimuli(["a"])
    with pytest.raises(ValueError, match=r"no 'stimulus_id' column; columns present: \['id'\]"):
        validate_stimuli(pd.DataFrame({"id": ["a"]}))
    with pytest.raises(ValueError, match="stimuli table is empty"):
        validate_stimuli(pd.DataFrame({"stimulus_id": []}))
    with pytest.raises(ValueError, match="duplicate stimulus_id 'a'"):
        validate_stimuli(pd.DataFrame({"stimulus_id": ["a", "b", "a"]}))
    with pytest.raises(ValueError, match="column 'text' is missing a value in row 1"):
        validate_stimuli(pd.DataFrame({"stimulus_id": ["a", "b"], "text": ["x", None]}), "text")
    table = pd.DataFrame({"stimulus_id": ["a"], "text": ["x"]})
    assert validate_stimuli(table, "text") is table


def test_unknown_modality_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown modality 'no_such_modality'"):
        fa.represent("no_such_modality", pd.DataFrame({"stimulus_id": ["a"]}))


def test_outputs_follow_the_stimulus_table():
    table = pd.DataFrame({"stimulus_id": ["b", "a"], "label": ["cat", "dog"]})
    rep = stimuli_representation([[1.0, 2.0], [3.0, 4.0]], table, ["f0", "f1"], modality="m", layer="L")
    assert rep["stimulus_id"].values.tolist() == ["b", "a"] and rep["label"].values.tolist() == ["cat", "dog"]
    assert rep["layer"].values.tolist() == ["L", "L"] and rep.attrs == {"modality": "m", "layer": "L"}
    assert not rep["is_labelled"].values.any()

"""The notebooks in notebooks/ execute top to bottom with small settings (nbclient)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SMALL = {
    "01_quickstart.ipynb": 'TASK = "synthetic"\nTASK_OPTIONS = {"n_train": 300, "n_test": 100}\nCOUPLING = "exemplar"\n'
                           "LABEL_FRACTION = 0.2\nSTEPS = 40\nBATCH_SIZE = 64\nSEED = 0",
    "03_label_fraction_sweep.ipynb": 'TASK = "synthetic"\nTASK_OPTIONS = {"n_train": 300, "n_test": 100}\n'
                                     'FRACTIONS = "0.1, 0.5"\nSEEDS = "0"\nMETHODS = ("exemplar", "end_to_end")\nSTEPS = 20',
    "02_neural_alignment.ipynb": 'K92_OPTIONS = {"n_folds": 4}\n'
                                 'IT_OPTIONS = {"n_source": 8, "n_target": 8, "n_test": 4, "n_images": 200, "n_repetitions": 4}\n'
                                 'COUPLING = "exemplar"\nLABEL_FRACTION = 0.5\nSTEPS = 40\nBATCH_SIZE = 64\nSEED = 0',
    "04_image_generation.ipynb": 'TASK_OPTIONS = {"n_source": 20, "n_target": 20, "n_test": 5, "ae_epochs": 5, "e2e_steps": 50, '
                                 '"e2e_pairs": 400}\nCOUPLING = "exemplar"\nLABEL_FRACTION = 0.2\nSTEPS = 40\nBATCH_SIZE = 64\n'
                                 "SEED = 0\nPER_CLASS = 3",
    "05_writing_a_plugin.ipynb": 'PER_CLASS = 20\nCOUPLING = "exemplar"\nLABEL_FRACTION = 0.2\nSTEPS = 60\nBATCH_SIZE = 64\nSEED = 0',
    "06_imagenet_text_to_image.ipynb": 'TASK_OPTIONS = {"classes": list(range(0, 1000, 50))}\nFRACTIONS = "0.5"\nSEEDS = "0"\n'
                                       'METHODS = ("exemplar", "relative", "end_to_end")\nSTEPS = 30\nEXAMPLE_METHOD = "exemplar"\n'
                                       'EXAMPLE_FRACTION = 0.5\nN_EXAMPLES = 3',
}
#: notebooks that read data kept out of the repository: skipped with the reason when it is absent
NEEDS = {"06_imagenet_text_to_image.ipynb": "the ImageNet sample (FLOWALIGN_IMAGENET_SAMPLE)"}
EXPECTED_TEXT = {
    "01_quickstart.ipynb": "same-class share of the plan",
    "02_neural_alignment.ipynb": "simulated IT -> MNIST CNN: done: 40 steps",
    "03_label_fraction_sweep.ipynb": "done: 4 cells",
    "04_image_generation.ipynb": "generated digits read as the asked-for class by the MNIST CNN",
    "05_writing_a_plugin.ipynb": "pooled_pixels option fields: ['size', 'normalize']",
    "06_imagenet_text_to_image.ipynb": "top-5 after alignment",
}


def data_present(name) -> bool:
    if name != "06_imagenet_text_to_image.ipynb":
        return True
    from flowalign_vision.imagenet import imagenet_sample_folder

    return imagenet_sample_folder() is not None


def parameter_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    return cells[0]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs_with_small_settings(name, tmp_path, monkeypatch):
    if not data_present(name):
        pytest.skip(f"{name} needs {NEEDS[name]}, which is absent")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be cleared in the repo"
    parameter_cell(nb).source = SMALL[name]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert EXPECTED_TEXT[name] in texts
    assert not any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", []))


def test_every_notebook_has_small_settings():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(SMALL)

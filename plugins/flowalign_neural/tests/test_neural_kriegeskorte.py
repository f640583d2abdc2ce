"""The real Kriegeskorte 92-image data: stimuli, RDMs, checks, and MDS representations (the copy shipped with the package)."""

import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import flowalign_neural
import pytest
from flowalign_neural import classical_mds, load_kriegeskorte92
from flowalign_neural.kriegeskorte import (FILES, SOURCE, ENV_VAR, Kriegeskorte92Error, Kriegeskorte92Modality,
                                           kriegeskorte92_folder)
from flowalign_neural.similarity import correlation_rdm, rsa_spearman
from scipy.spatial.distance import pdist, squareform

import flowalign_nb as fa


@pytest.fixture(scope="module")
def data(kriegeskorte_folder):
    return load_kriegeskorte92(kriegeskorte_folder)


def test_stimuli_table(data):
    table = data.stimuli
    assert len(table) == 92 and table["stimulus_id"].is_unique
    assert Counter(table["label"]) == {"natural inanimate": 23, "artificial inanimate": 21, "human bodypart": 12,
                                       "human face": 12, "nonhuman bodypart": 12, "nonhuman face": 12}
    assert all(im.shape == (175, 175, 3) and im.dtype == np.uint8 for im in table["image"])
    animate = table["label"].isin(["human bodypart", "human face", "nonhuman bodypart", "nonhuman face"])
    assert (table["animal"] == animate).all()  # the flags agree with the categories
    assert (table.loc[table["face"], "label"].str.endswith("face")).all()
    assert data.category_vectors.shape == (92, 12) and data.category_vectors["face"].sum() == 24


def test_rdms_are_the_published_ones(data):
    names = data.rdms["rdm"].values.tolist()
    assert names[:2] == ["monkey_it", "human_it"]
    assert sum(n.startswith("human_it_") for n in names) == 8 and sum(n.startswith("judgement_") for n in names) == 16
    monkey = data.rdm("monkey_it")
    assert monkey.shape == (92, 92) and np.allclose(monkey, monkey.T) and not np.diag(monkey).any()
    # literature-like relations: monkey vs human IT about 0.44; sessions of one subject agree more than chance
    assert 0.35 < rsa_spearman(monkey, data.rdm("human_it")) < 0.55
    assert rsa_spearman(data.rdm("human_it_BE_s1"), data.rdm("human_it_BE_s2")) > 0.1
    with pytest.raises(ValueError, match="rdm='mIT' is not allowed; known RDMs: monkey_it, human_it, human_it_BE_s1"):
        data.rdm("mIT")


def test_mds_preserves_the_brain_rdms_exactly(data):
    for name in ("monkey_it", "human_it", "human_it_KO_s2"):
        result = classical_mds(data.rdm(name))
        assert result.points.shape == (92, 91)
        np.testing.assert_allclose(squareform(pdist(result.points, "sqeuclidean")), data.rdm(name), atol=1e-10)
        assert result.negative_share < 1e-12
    judgement = classical_mds(data.rdm("judgement_s01"))  # not Euclidean: the loss is reported, not hidden
    assert judgement.negative_share > 0.01 and judgement.max_error > 1e-4


def test_modality_represents_an_rdm_with_labels(kriegeskorte_folder, data):
    rep = fa.make("modality", "kriegeskorte92", rdm="monkey_it", folder=kriegeskorte_folder).represent()
    assert rep.dims == ("presentation", "neuroid") and rep.shape == (92, 91)
    assert rep["label"].values.tolist() == data.stimuli["label"].tolist()
    assert rep.attrs["mds_max_error"] < 1e-10 and rep.attrs["description"] == "mIT_674neurons"
    # correlation distance of points is not the RDM, but squared Euclidean distance is
    np.testing.assert_allclose(pdist(rep.values, "sqeuclidean"), squareform(data.rdm("monkey_it")), atol=1e-10)
    assert rsa_spearman(correlation_rdm(rep.values), data.rdm("monkey_it")) < 0.99
    small = Kriegeskorte92Modality(rdm="human_it", folder=kriegeskorte_folder, n_components=10)
    part = small.represent(small.stimuli().iloc[[5, 1]])
    assert part.shape == (2, 10) and part["stimulus_id"].values.tolist() == ["k92_05", "k92_01"]


def test_folder_env_var_missing_and_altered_files(kriegeskorte_folder, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(Kriegeskorte92Error, match=f"{tmp_path} .from .{ENV_VAR}. lacks Kriegeskorte_Neuron2008"):
        load_kriegeskorte92()
    for f in kriegeskorte_folder.glob("*.mat"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "92_behavRDMs.mat").chmod(0o644)
    with open(tmp_path / "92_behavRDMs.mat", "r+b") as fh:
        fh.seek(500)
        byte = fh.read(1)
        fh.seek(500)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(Kriegeskorte92Error, match="92_behavRDMs.mat has SHA-256 .*, expected 7a8e118c"):
        load_kriegeskorte92()


# --- the copy shipped with the package ----------------------------------------------------------


def test_the_default_folder_is_the_packaged_copy_even_with_shared_hidden(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("FLOWALIGN_NO_SHARED", "1")
    package = Path(flowalign_neural.__file__).resolve().parent
    assert kriegeskorte92_folder() == package / "data" / "kriegeskorte92"
    assert load_kriegeskorte92().rdm("monkey_it").shape == (92, 92)


def test_the_packaged_files_have_their_licence_and_provenance():
    folder = Path(flowalign_neural.__file__).resolve().parent / "data" / "kriegeskorte92"
    provenance = (folder / "PROVENANCE.md").read_text()
    licence = (folder / "LICENSE-rsatoolbox").read_text()
    assert licence.startswith("MIT License") and "rsatoolbox authors" in licence
    for part in ("rsagroup/rsatoolbox", "demos/92imageData", "f1f83cadb7243492a1aae7460466e0f0140b20ac"):
        assert part in provenance and part in SOURCE
    for name, digest in FILES.items():  # the digests in code and in PROVENANCE.md are those of the files shipped
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        assert f"| {name} | {(folder / name).stat().st_size} | {digest} |" in provenance


def test_folder_wins_over_the_env_var_which_wins_over_the_packaged_copy(kriegeskorte_folder, tmp_path, monkeypatch):
    for f in kriegeskorte_folder.glob("*.mat"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert kriegeskorte92_folder() == tmp_path
    assert kriegeskorte92_folder(kriegeskorte_folder) == kriegeskorte_folder


def test_the_wheel_ships_the_files_licence_and_provenance(tmp_path):
    plugin = Path(flowalign_neural.__file__).resolve().parents[1]
    source = tmp_path / "source"  # a copy, so the build writes nothing into the checkout
    shutil.copytree(plugin / "flowalign_neural", source / "flowalign_neural", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(plugin / "pyproject.toml", source / "pyproject.toml")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(source)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("flowalign_neural-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"flowalign_neural/data/kriegeskorte92/{name}" for name in [*FILES, "LICENSE-rsatoolbox", "PROVENANCE.md"]}
    assert expected <= names, sorted(expected - names)

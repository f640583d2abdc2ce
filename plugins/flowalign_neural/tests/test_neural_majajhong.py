"""The majajhong2015 modality: a file in the Brain-Score layout, the env var, and the missing-file error."""

import numpy as np
import pytest
from flowalign_neural import write_assembly
from flowalign_neural.majajhong import ENV_VAR, S3_URL, MajajHong2015, MajajHongFileError

import flowalign_nb as fa


@pytest.fixture
def majajhong_file(tmp_path, make_assembly):
    data = make_assembly(n_stimuli=16, n_repetitions=4, n_it=6, n_v4=4).rename("dicarlo.MajajHong2015.public")
    path = tmp_path / "assy_dicarlo_MajajHong2015_public.nc"
    write_assembly(data, path)
    return path, data


def test_reads_the_file_it_region_averaged_with_categories(majajhong_file):
    path, data = majajhong_file
    modality = fa.make("modality", "majajhong2015", path=path)
    rep = modality.represent()
    assert rep.dims == ("presentation", "neuroid") and rep.shape == (16, 6)
    assert set(rep["region"].values) == {"IT"}
    assert rep["label"].values.tolist() == data["category_name"].values[:16].tolist()
    first = data.values[data["stimulus_id"].values == "img003"][:, :6, 0].mean(0)
    np.testing.assert_allclose(rep.sel(presentation=3).values, first, atol=1e-6)
    assert rep["n_repetitions"].values.tolist() == [4] * 16
    reps = modality.repetitions()
    assert reps.shape == (4, 16, 6)
    np.testing.assert_allclose(np.nanmean(reps.values, 0), rep.values, atol=1e-6)
    v4 = fa.make("modality", "majajhong2015", path=path, region="V4", label_coord="object_name").represent()
    assert v4.shape == (16, 4) and v4["label"].values[0] == "obj0"


def test_env_var_and_stimulus_restriction(majajhong_file, monkeypatch):
    path, _ = majajhong_file
    monkeypatch.setenv(ENV_VAR, str(path))
    import pandas as pd

    rep = fa.make("modality", "majajhong2015").represent(pd.DataFrame({"stimulus_id": ["img005", "img001"]}))
    assert rep["stimulus_id"].values.tolist() == ["img005", "img001"]
    with pytest.raises(ValueError, match="1 stimulus id.* were not recorded, first 'nope'"):
        fa.make("modality", "majajhong2015").represent(pd.DataFrame({"stimulus_id": ["nope"]}))


def test_missing_file_error_says_how_to_obtain_it(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(Exception) as err:  # fa.make names the plugin and chains the plugin's own error
        fa.make("modality", "majajhong2015")
    assert isinstance(err.value.__cause__ or err.value, MajajHongFileError)
    message = str(err.value)
    assert "path=None" in message and ENV_VAR in message
    assert S3_URL in message and "load_dataset('MajajHong2015.public')" in message and "write_netcdf" in message
    with pytest.raises(MajajHongFileError, match=f"(?s)no Majaj-Hong 2015 file at {tmp_path / 'absent.nc'}.*{ENV_VAR}"):
        MajajHong2015(path=tmp_path / "absent.nc")


def test_bad_region_names_the_regions(majajhong_file):
    path, _ = majajhong_file
    with pytest.raises(ValueError, match="region='V1' is not allowed; regions in this assembly: IT, V4"):
        fa.make("modality", "majajhong2015", path=path, region="V1").represent()

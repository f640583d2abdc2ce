"""Brain-Score netCDF files read and written without brainio; region, time-bin and repetition handling."""

import sys

import numpy as np
import pytest
import xarray as xr
from flowalign_neural import (
    AssemblyError,
    as_plain,
    average_repetitions,
    open_assembly,
    select_region,
    select_time_bin,
    split_half_reliability,
    stack_repetitions,
    to_brainio,
    to_representation,
    write_assembly,
)
from flowalign_neural.recording import BrainioRecording

import flowalign_nb as fa


def test_write_then_open_keeps_values_coords_and_attrs(tmp_path, make_assembly):
    data = make_assembly(time_bins=((70, 120), (120, 170)))
    sha1 = write_assembly(data, tmp_path / "a.nc")
    back = open_assembly(tmp_path / "a.nc")
    assert len(sha1) == 40
    assert type(back) is xr.DataArray and not back.indexes
    xr.testing.assert_identical(back.rename(None).drop_attrs(), data.drop_attrs())
    assert back.attrs["identifier"] == "test.MajajHongLike"
    with xr.open_dataset(tmp_path / "a.nc") as ds:  # brainio's layout: one variable "data", every level a plain coord
        assert list(ds.data_vars) == ["data"] and ds["data"].encoding["zlib"]
        assert {"stimulus_id", "repetition", "region", "time_bin_start"} <= set(ds.coords)


def test_uncompressed_named_variable_and_image_id_files(tmp_path, make_assembly):
    data = make_assembly().rename({"stimulus_id": "image_id"}).rename("dicarlo.MajajHong2015.public")
    write_assembly(data, tmp_path / "old.nc", compress=False)
    back = open_assembly(tmp_path / "old.nc")
    assert back.name == "dicarlo.MajajHong2015.public"
    np.testing.assert_array_equal(back["stimulus_id"].values, data["image_id"].values)


def test_file_with_two_variables_needs_variable(tmp_path, make_assembly):
    data = make_assembly()
    xr.Dataset({"a": data, "b": data * 2}).to_netcdf(tmp_path / "two.nc")
    with pytest.raises(AssemblyError, match=r"data variables \['a', 'b'\]; pass variable="):
        open_assembly(tmp_path / "two.nc")
    with pytest.raises(AssemblyError, match="variable='c' is not in"):
        open_assembly(tmp_path / "two.nc", variable="c")
    np.testing.assert_array_equal(open_assembly(tmp_path / "two.nc", variable="b").values, data.values * 2)


def test_multiindex_assemblies_become_plain(make_assembly):
    data = make_assembly()
    indexed = data.set_index(presentation=["stimulus_id", "repetition", "object_name", "category_name", "variation"],
                             neuroid=["neuroid_id", "region", "animal"])
    plain = as_plain(indexed)
    assert not plain.indexes
    xr.testing.assert_identical(plain.transpose(*data.dims), data)


def test_wrong_dims_are_refused():
    with pytest.raises(AssemblyError, match=r"dims \('x', 'neuroid'\) are not allowed"):
        as_plain(xr.DataArray(np.zeros((2, 2)), dims=("x", "neuroid")))


def test_region_selection_and_its_error(make_assembly):
    data = make_assembly(n_it=4, n_v4=3)
    assert select_region(data, "IT").sizes["neuroid"] == 4
    assert select_region(data, ["V4", "IT"]).sizes["neuroid"] == 7
    with pytest.raises(AssemblyError, match="region='V1' is not allowed; regions in this assembly: IT, V4"):
        select_region(data, "V1")


def test_time_bin_mean_index_window_and_error(make_assembly):
    data = make_assembly(time_bins=((70, 120), (120, 170)))
    np.testing.assert_allclose(select_time_bin(data, "mean").values, data.values.mean(-1), rtol=1e-6)
    np.testing.assert_array_equal(select_time_bin(data, (120, 170)).values, data.values[..., 1])
    np.testing.assert_array_equal(select_time_bin(data, 0).values, data.values[..., 0])
    assert select_time_bin(data, (120, 170)).attrs["time_bin_start"] == 120
    with pytest.raises(AssemblyError, match=r"time_bin=\(50, 100\) is not allowed; .*\[\(70, 120\), \(120, 170\)\]"):
        select_time_bin(data, (50, 100))


def test_average_repetitions_known_means_nan_aware_and_coords(make_assembly):
    data = make_assembly(n_stimuli=4, n_repetitions=3)
    values = data.values.copy()
    values[4, 0, 0] = np.nan  # stimulus img000, repetition 1 (presentations are repetition-major)
    data = data.copy(data=values)
    mean = average_repetitions(data)
    assert mean["stimulus_id"].values.tolist() == ["img000", "img001", "img002", "img003"]
    assert mean.values[0, 0, 0] == pytest.approx(np.mean([values[0, 0, 0], values[8, 0, 0]]))
    assert mean.values[2, 3, 0] == pytest.approx(values[[2, 6, 10], 3, 0].mean())
    assert "repetition" not in mean.coords  # varies within a stimulus
    assert mean["category_name"].values.tolist() == data["category_name"].values[:4].tolist()
    assert mean["n_repetitions"].values.tolist() == [3, 3, 3, 3]


def test_stack_repetitions_pads_unequal_counts(make_assembly):
    data = make_assembly(n_stimuli=3, n_repetitions=2)
    extra = data.isel(presentation=[0]).assign_coords(repetition=("presentation", [2]))
    stacked = stack_repetitions(xr.concat([data, extra], "presentation"))
    assert stacked.dims == ("repetition", "presentation", "neuroid", "time_bin")
    assert stacked.shape == (3, 3, 7, 1)
    np.testing.assert_array_equal(stacked.values[2, 0], data.values[0])
    assert np.isnan(stacked.values[2, 1:]).all()


def test_split_half_reliability_separates_signal_from_noise():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(200, 1))
    reps = np.concatenate([signal + 0.3 * rng.normal(size=(10, 200, 1)), rng.normal(size=(10, 200, 1))], axis=2)
    stacked = xr.DataArray(reps, dims=("repetition", "presentation", "neuroid"), coords={"neuroid_id": ("neuroid", ["s", "n"])})
    rel = split_half_reliability(stacked)
    assert rel.sel(neuroid=0) > 0.95 and abs(float(rel.sel(neuroid=1))) < 0.3
    with pytest.raises(AssemblyError, match="at least 2 repetitions, got 1"):
        split_half_reliability(stacked.isel(repetition=[0]))


def test_to_representation_labels_and_errors(make_assembly):
    rep = to_representation(make_assembly(n_stimuli=8), region="IT", label_coord="category_name", modality="test")
    assert rep.dims == ("presentation", "neuroid") and rep.shape == (8, 4)
    assert rep["label"].values.tolist()[:3] == ["Animals", "Boats", "Cars"]
    assert rep.attrs["modality"] == "test" and not rep["is_labelled"].values.any()
    with pytest.raises(AssemblyError, match=r"label_coord='repetition' is not .* allowed: \["):
        to_representation(make_assembly(), label_coord="repetition")


def test_brainio_modality_from_file_or_object(tmp_path, make_assembly):
    data = make_assembly(n_stimuli=5, n_repetitions=2, time_bins=((70, 120), (120, 170)))
    write_assembly(data, tmp_path / "a.nc")
    from_file = fa.make("modality", "brainio", path=tmp_path / "a.nc", region="V4", time_bin=(120, 170)).represent()
    from_object = fa.make("modality", "brainio", assembly=data, region="V4", time_bin=(120, 170)).represent()
    xr.testing.assert_equal(from_file, from_object)
    expected = data.values[:, 4:, 1].reshape(2, 5, 3).mean(0)
    np.testing.assert_allclose(from_file.values, expected, atol=1e-6)
    with pytest.raises(AssemblyError, match="exactly one of path="):
        BrainioRecording()


def test_to_brainio_without_brainio_says_how_to_install(make_assembly, monkeypatch):
    monkeypatch.setitem(sys.modules, "brainio", None)  # as if brainscore-brainio were not installed
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps brainscore-brainio"):
        to_brainio(make_assembly())

"""Round trip with the real brainio: brainio assembly -> file -> our loader -> file -> brainio."""

import numpy as np
import pytest
import xarray as xr

import flowalign_nb as fa

brainio_assemblies = pytest.importorskip(
    "brainio.assemblies",
    reason="brainscore-brainio (optional) or its import-time dependency boto3 is not installed; "
    "`make setup` installs both (brainio with --no-deps)",
    exc_type=ImportError,
)
from brainio.packaging import write_netcdf  # noqa: E402
from flowalign_neural import open_assembly, to_brainio, to_representation, write_assembly  # noqa: E402


def brainio_assembly(make_assembly):
    data = make_assembly(n_stimuli=5, n_repetitions=3, time_bins=((70, 120), (120, 170)))
    return brainio_assemblies.NeuronRecordingAssembly(data.values, coords=dict(data.coords), dims=data.dims, attrs=data.attrs)


def assert_same_assembly(a, b):
    assert a.dims == b.dims
    np.testing.assert_array_equal(a.values, b.values)
    walk = brainio_assemblies.walk_coords
    coords_a = {name: (dims, values) for name, dims, values in walk(a)}
    coords_b = {name: (dims, values) for name, dims, values in walk(b)}
    assert coords_a.keys() == coords_b.keys()
    for name, (dims, values) in coords_a.items():
        assert coords_b[name][0] == dims, name
        np.testing.assert_array_equal(coords_b[name][1], values, err_msg=name)


@pytest.mark.parametrize("compress", [True, False])
def test_brainio_file_our_loader_our_file_brainio(tmp_path, make_assembly, compress):
    original = brainio_assembly(make_assembly)
    assert isinstance(original.indexes["presentation"], __import__("pandas").MultiIndex)
    write_netcdf(original, tmp_path / "brainio.nc", compress=compress)
    ours = open_assembly(tmp_path / "brainio.nc")
    assert type(ours) is xr.DataArray and not ours.indexes
    write_assembly(ours, tmp_path / "ours.nc", compress=compress)
    back = brainio_assemblies.NeuronRecordingAssembly.from_files(tmp_path / "ours.nc")
    assert_same_assembly(back, original)
    assert back.equals(original)
    assert back.attrs["identifier"] == original.attrs["identifier"]


def test_our_arrays_work_as_brainio_assemblies(make_assembly):
    wrapped = to_brainio(make_assembly(n_it=4, n_v4=3), cls="NeuroidAssembly")
    assert isinstance(wrapped, brainio_assemblies.NeuroidAssembly)
    assert wrapped.sel(region="V4")["neuroid_id"].size == 3  # brainio's MultiIndex selection
    averaged = wrapped.multi_groupby(["stimulus_id", "category_name"]).mean("presentation")
    rep = to_representation(wrapped, time_bin=0)
    ours = rep.sortby("stimulus_id").transpose("presentation", "neuroid").values
    theirs = averaged.isel(time_bin=0).sortby("stimulus_id").transpose("presentation", "neuroid").values
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    with pytest.raises(Exception, match="cls='Nope' is not a brainio assembly class; allowed: .*NeuroidAssembly"):
        to_brainio(make_assembly(), cls="Nope")


def test_brainio_modality_accepts_an_assembly_object(make_assembly):
    original = brainio_assembly(make_assembly)
    rep = fa.make("modality", "brainio", assembly=original, region="IT", time_bin=(70, 120), label_coord="category_name").represent()
    expected = original.sel(region="IT").isel(time_bin=0).multi_groupby(["stimulus_id", "category_name"]).mean("presentation")
    expected = expected.transpose("presentation", ...).sortby("stimulus_id")
    np.testing.assert_allclose(rep.sortby("stimulus_id").values, expected.values, atol=1e-6)
    assert rep["label"].values.tolist() == ["Animals", "Boats", "Cars", "Chairs", "Faces"]

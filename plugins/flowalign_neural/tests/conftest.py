import numpy as np
import pytest
import xarray as xr
from flowalign_neural.kriegeskorte import kriegeskorte92_folder


@pytest.fixture(scope="session")
def kriegeskorte_folder():
    """The real 92-image files: $FLOWALIGN_KRIEGESKORTE92 if set, else the copy shipped with flowalign_neural."""
    return kriegeskorte92_folder()


def _make_assembly(n_stimuli=6, n_repetitions=3, n_it=4, n_v4=3, time_bins=((70, 170),), seed=0):
    """A plain DataArray in the Majaj-Hong layout: (presentation, neuroid, time_bin), repetitions interleaved."""
    rng = np.random.default_rng(seed)
    categories = np.array(["Animals", "Boats", "Cars", "Chairs", "Faces", "Fruits", "Planes", "Tables"])
    stim = np.array([f"img{i:03d}" for i in range(n_stimuli)])
    n_pres = n_stimuli * n_repetitions
    return xr.DataArray(
        rng.normal(size=(n_pres, n_it + n_v4, len(time_bins))).astype(np.float32),
        dims=("presentation", "neuroid", "time_bin"),
        coords={
            "stimulus_id": ("presentation", np.tile(stim, n_repetitions)),
            "repetition": ("presentation", np.repeat(np.arange(n_repetitions), n_stimuli)),
            "object_name": ("presentation", np.tile([f"obj{i % 4}" for i in range(n_stimuli)], n_repetitions)),
            "category_name": ("presentation", np.tile(categories[np.arange(n_stimuli) % 8], n_repetitions)),
            "variation": ("presentation", np.tile(np.arange(n_stimuli) % 3, n_repetitions)),
            "neuroid_id": ("neuroid", [f"Chabo_L_M_{j}" for j in range(n_it + n_v4)]),
            "region": ("neuroid", ["IT"] * n_it + ["V4"] * n_v4),
            "animal": ("neuroid", ["Chabo"] * (n_it + n_v4)),
            "time_bin_start": ("time_bin", [b[0] for b in time_bins]),
            "time_bin_end": ("time_bin", [b[1] for b in time_bins]),
        },
        attrs={"identifier": "test.MajajHongLike", "stimulus_set_identifier": "test.hvm"},
    )


@pytest.fixture
def make_assembly():
    """Builder of small assemblies in the Majaj-Hong layout (options: n_stimuli, n_repetitions, n_it, n_v4, time_bins, seed)."""
    return _make_assembly

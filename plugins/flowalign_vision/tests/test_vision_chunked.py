"""fa.represent_chunked: lazy dask-backed extraction, cached per chunk, equal to fa.represent."""

import dask.array as da
import numpy as np
import pytest
from test_vision_cache import ForwardCounter

import flowalign_nb as fa


def test_chunks_are_extracted_lazily_cached_each_and_equal_the_whole(digits):
    stimuli = digits.iloc[:250]
    with ForwardCounter() as building:
        lazy = fa.represent_chunked("mnist_cnn", stimuli, chunk_size=100, progress=False)
    assert isinstance(lazy.data, da.Array) and lazy.data.chunks[0] == (100, 100, 50)
    with ForwardCounter() as first_chunk_again:
        fa.represent("mnist_cnn", stimuli.iloc[:100], progress=False)
    assert building.calls > 0 and first_chunk_again.calls == 0  # only the first chunk ran, and it is cached
    with ForwardCounter() as computing:
        loaded = fa.compute_representation(lazy, progress=False)
    assert computing.calls > 0 and isinstance(loaded.data, np.ndarray)
    whole = fa.represent("mnist_cnn", stimuli, cache=False, progress=False)
    np.testing.assert_allclose(loaded.values, whole.values, rtol=1e-5, atol=1e-5)
    assert (loaded["stimulus_id"].values == whole["stimulus_id"].values).all()
    assert (loaded["label"].values == whole["label"].values).all() and not loaded["is_labelled"].values.any()
    assert (loaded["neuroid_id"].values == whole["neuroid_id"].values).all() and loaded.attrs == whole.attrs
    with ForwardCounter() as again:  # every chunk is in the cache now
        fa.compute_representation(fa.represent_chunked("mnist_cnn", stimuli, chunk_size=100, progress=False), progress=False)
    assert again.calls == 0


def test_an_aligner_takes_the_lazy_representation_as_it_is(digits):
    source = fa.mask_labels(fa.represent_chunked("mnist_cnn", digits, chunk_size=70, progress=False), 0.2, seed=0)
    target = fa.mask_labels(fa.represent("mnist_cnn", digits, layer="conv2", progress=False), 0.2, seed=1)
    options = dict(coupling="exemplar", steps=30, seed=0, progress=False)
    lazy = fa.FlowAligner(**options).fit(source, target).transform(source)
    eager = fa.FlowAligner(**options).fit(fa.compute_representation(source, progress=False), target).transform(source)
    np.testing.assert_allclose(lazy.values, eager.values, rtol=1e-5, atol=1e-6)


def test_bad_chunk_size_is_named(digits):
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match=f"chunk_size must be a positive integer, got {bad!r}"):
            fa.represent_chunked("mnist_cnn", digits.iloc[:10], chunk_size=bad)

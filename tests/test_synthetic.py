"""The synthetic pair (flowalign_nb.tasks.synthetic): its summary repr."""

import flowalign_nb as fa


def test_synthetic_pair_repr_summarises_shapes_not_values():
    pair = fa.make_synthetic_pair(n_train=300, n_test=40, source_dim=16, target_dim=24, seed=0)
    text = repr(pair)
    assert text == ("SyntheticPair(source: 300 presentations x 16 neuroids, target: 300 x 24, "
                    "source_test: 40 x 16, target_test: 40 x 24, embedding: (24, 16))")

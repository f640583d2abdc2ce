"""One name per concept across the analysis API: ``label`` is a coord name, ``target`` a representation,
``method`` the RDM comparison; the old keywords still work for one release with a FutureWarning; a list of
references says whether it holds subjects or repetitions."""

import numpy as np
import pytest

import flowalign_nb as fa


def rep(values, labels, prefix="s"):
    return fa.make_representation(values, [f"{prefix}{i}" for i in range(len(values))], labels)


@pytest.fixture(scope="module")
def spaces():
    """60 stimuli of 3 classes; b = tanh of a linear map of a; c its noisy repetitions."""
    rng = np.random.default_rng(0)
    labels = np.repeat(list("abc"), 20)
    x = rng.normal(size=(60, 6)) + 2 * np.repeat(rng.normal(size=(3, 6)), 20, axis=0)
    y = np.tanh(x @ rng.normal(size=(6, 9)))
    reps = [rep(y + 0.3 * rng.normal(size=y.shape), labels) for _ in range(3)]
    return rep(x, labels), rep(y, labels), reps


def test_rsa_method_replaces_compare_which_warns_and_gives_the_same_value(spaces):
    a, b, _ = spaces
    new = fa.rsa(a, b, method="pearson", bootstrap=0).table
    with pytest.warns(FutureWarning, match=r"fa.rsa\(compare=...\) is deprecated.*use method="):
        old = fa.rsa(a, b, compare="pearson", bootstrap=0).table
    assert new.loc[0, "metric"] == old.loc[0, "metric"] == "pearson"
    assert new.loc[0, "value"] == old.loc[0, "value"] != fa.rsa(a, b, bootstrap=0).table.loc[0, "value"]
    with pytest.raises(TypeError, match=r"both compare= \(deprecated\) and method="):
        fa.rsa(a, b, method="pearson", compare="cosine", bootstrap=0)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'comparison'"):
        fa.rsa(a, b, comparison="pearson")


def test_rsa_analysis_takes_method_and_warns_on_compare(spaces):
    a, b, _ = spaces
    with pytest.warns(FutureWarning, match=r"compare=\.\.\.\) is deprecated.*use method="):
        old = fa.make("analysis", "rsa", compare="tau-a", bootstrap=0)
    new = fa.make("analysis", "rsa", method="tau-a", bootstrap=0)
    assert old.options == new.options and new(a, b).loc[0, "metric"] == "tau-a"


def test_decode_label_names_the_coord_and_target_warns(spaces):
    a, _, _ = spaces
    shuffled = a.assign_coords(object=("presentation", np.random.default_rng(1).permutation(a["label"].values)))
    new = fa.decode(shuffled, label="object", cv=3).table.loc[0, "value"]
    with pytest.warns(FutureWarning, match=r"fa.decode\(target=...\) is deprecated.*use label="):
        old = fa.decode(shuffled, target="object", cv=3).table.loc[0, "value"]
    assert new == old < fa.decode(shuffled, cv=3).table.loc[0, "value"] - 0.3  # shuffled classes decode worse
    with pytest.warns(FutureWarning, match=r"analysis 'decoding'\(target=...\) is deprecated.*use label="):
        analysis = fa.make("analysis", "decoding", target="object", cv=3)
    assert analysis.options == fa.make("analysis", "decoding", label="object", cv=3).options


def test_a_list_as_target_of_compare_is_refused_naming_subjects_and_repetitions(spaces):
    a, b, reps = spaces
    with pytest.raises(ValueError, match=r"target is a list of 3.*subjects=\[...\].*repetitions=\[...\]"):
        fa.compare(a, b, reps, analyses=["rsa"])
    with pytest.raises(ValueError, match=r"exactly one reference.*\['target', 'subjects'\]"):
        fa.compare(a, b, b, subjects=reps, analyses=["rsa"])


def test_compare_subjects_give_rsa_a_noise_ceiling_and_repetitions_are_averaged(spaces):
    a, b, reps = spaces
    options = {"rsa": {"bootstrap": 0}, "transfer_decoding": {}}
    by_subject = fa.compare(a, b, subjects=reps, analyses={"rsa": {"bootstrap": 0}}).table.set_index("condition")
    direct = fa.rsa(a, reps, bootstrap=0).table.iloc[0]
    assert by_subject.loc["before", "value"] == pytest.approx(direct["value"], abs=1e-12)
    assert by_subject.loc["before", "noise_ceiling_lower"] == pytest.approx(direct["noise_ceiling_lower"], abs=1e-12)
    by_rep = fa.compare(a, b, repetitions=reps, analyses=options).table.set_index(["analysis", "condition"])
    mean = reps[0].copy(data=np.mean([r.values for r in reps], axis=0))
    assert by_rep.loc[("rsa", "before"), "value"] == pytest.approx(fa.rsa(a, mean, bootstrap=0).table.loc[0, "value"], abs=1e-12)
    assert np.isnan(by_rep.loc[("rsa", "before"), "noise_ceiling_lower"])  # one recording: no ceiling across subjects
    assert by_rep.loc[("transfer_decoding", "after"), "value"] == fa.transfer_decode(b, mean).table.loc[0, "value"]
    with pytest.raises(fa.analysis.inputs.NotApplicableError, match="does not apply to subjects="):
        fa.compare(a, b, subjects=reps, analyses=["transfer_decoding"])

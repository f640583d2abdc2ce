"""The coupling plugin of README's "Writing a plugin", run from README's own code blocks (so they cannot drift)."""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

import flowalign_nb as fa
from flowalign_nb.analysis import nearest_class_mean_accuracy

pytestmark = pytest.mark.usefixtures("one_thread")

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(first_line: str) -> str:
    """The README python code block that starts with ``first_line`` (exactly one)."""
    section = README.read_text().split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, flags=re.S) if b.startswith(first_line)]
    assert len(blocks) == 1, f"README's 'Writing a plugin' has {len(blocks)} python blocks starting with {first_line!r}"
    return blocks[0]


@pytest.fixture(scope="module")
def nearest_plugin():
    module = types.ModuleType("my_package.hooks")
    exec(compile(readme_block("# my_package/hooks.py"), f"{README}:my_package/hooks.py", "exec"), module.__dict__)
    name = fa.register_plugin(module, name="readme-nearest", replace=True)
    yield module
    fa.unregister_plugin(name)


@pytest.fixture(scope="module")
def pair():
    p = fa.make_synthetic_pair(n_train=400, n_test=200, seed=0)
    return p, fa.mask_labels(p.source, 0.1, seed=0), fa.mask_labels(p.target, 0.1, seed=1)


def test_readme_coupling_is_registered_with_its_options(nearest_plugin):
    table = fa.list_plugins()
    row = table[(table["kind"] == "coupling") & (table["name"] == "nearest")]
    assert row["plugin"].tolist() == ["readme-nearest"]
    entry = fa.plugins.get_registry("coupling").get("nearest")
    assert [(o.name, o.default) for o in entry.options()] == [("chunk", 1024)]


def test_readme_coupling_pairs_each_item_with_itself_in_one_space(nearest_plugin, pair):
    """Source and target the same points: the cheapest target of item i is i, so plan = I / n."""
    _, src, _ = pair
    bridge = fa.make("bridge", "euclidean").fit(src, src)
    coupling = fa.make("coupling", "nearest", chunk=64).fit(src, src, bridge=bridge)
    n = src.sizes["presentation"]
    torch.testing.assert_close(coupling.plan(torch.arange(n), torch.arange(n)), torch.eye(n, dtype=torch.float64) / n)
    i_src, i_tgt = coupling.sample(300, torch.Generator().manual_seed(0))
    assert torch.equal(i_src, i_tgt)


def test_readme_coupling_needs_a_bridge_and_a_fit(nearest_plugin, pair):
    _, src, tgt = pair
    coupling = fa.make("coupling", "nearest")
    with pytest.raises(NotFittedError, match=r"NearestCoupling is not fitted yet; call fit\(src, tgt, bridge=fitted_bridge\)"):
        coupling.plan(torch.arange(3), torch.arange(3))
    with pytest.raises(ValueError, match="needs a bridge cost.*prototype"):
        coupling.fit(src, tgt)


def test_readme_coupling_trains_a_flow_that_aligns(nearest_plugin, pair):
    p, src, tgt = pair
    aligner = fa.FlowAligner(coupling="nearest", bridge="prototype", steps=300, progress=False).fit(src, tgt)
    accuracy = nearest_class_mean_accuracy(aligner.transform(p.source_test), p.target)
    assert accuracy > 0.8  # 5 classes: chance is 0.2


def test_readme_notebook_snippet_runs(nearest_plugin, pair):
    _, src, tgt = pair
    scope = {"fa": fa, "torch": torch, "src": src, "tgt": tgt}
    exec(readme_block('bridge = fa.make("bridge", "prototype")'), scope)
    plan = scope["coupling"].plan(torch.arange(10), torch.arange(10))
    assert plan.shape == (10, 10) and float(plan.sum()) == pytest.approx(1.0)
    assert np.all(plan.numpy() >= 0)

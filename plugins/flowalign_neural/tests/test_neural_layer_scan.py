"""fa.layer_scan: EfficientNet-Lite0 against the Kriegeskorte monkey-IT RDM from one forward pass,
reproducing the per-layer Spearman values of the benchmark's former per-layer loop."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

import flowalign_nb as fa

#: Spearman RSA vs monkey IT per layer, as benchmarks/neural_kriegeskorte92_effnet.py's per-layer loop
#: (scipy pdist correlation RDM, scipy spearmanr) wrote it at commit 8214622 (README table)
LOOP_MONKEY_IT = {
    "stem": 0.138269852463, "block0": 0.160623850568, "block1": 0.150891056706, "block2": 0.200303942506,
    "block3": 0.128147853442, "block4": 0.138877463446, "block5": 0.179560240189, "block6": 0.180592620869,
    "block7": 0.191228021093, "block8": 0.212092228145, "block9": 0.228156196679, "block10": 0.246372136885,
    "block11": 0.403254837251, "block12": 0.459286367171, "block13": 0.446752026244, "block14": 0.416078017121,
    "block15": 0.24834722804, "head": 0.21703963249, "logits": 0.168963845013,
}


class StemCounter:
    """Counts forward calls of EfficientNet's stem convolution (one per batch of a pass)."""

    def __enter__(self):
        self.calls = 0
        self.handle = torch.nn.modules.module.register_module_forward_hook(self._hook)
        return self

    def _hook(self, module, args, output):
        if isinstance(module, torch.nn.Conv2d) and module.in_channels == 3:
            self.calls += 1

    def __exit__(self, *exc):
        self.handle.remove()


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWALIGN_CACHE_DIR", str(tmp_path / "cache"))


def test_layer_scan_reproduces_the_per_layer_loop_in_one_pass(kriegeskorte_folder, private_cache):
    from flowalign_neural import load_kriegeskorte92

    data = load_kriegeskorte92(kriegeskorte_folder)
    stimuli = data.stimuli[["stimulus_id", "label", "image"]]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with StemCounter() as counter:
            table, figure = fa.layer_scan("efficientnet_lite", stimuli, data.rdm_array("monkey_it"),
                                          analysis_options={"bootstrap": 0}, variant="lite0", image_size=224, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert counter.calls == 2  # 92 images in batches of 64: one pass through the network for all 19 layers
    assert table["layer"].tolist() == list(LOOP_MONKEY_IT) and (table["metric"] == "spearman").all()
    np.testing.assert_allclose(table["value"], list(LOOP_MONKEY_IT.values()), rtol=0, atol=1e-6)
    assert table["n_features"].tolist()[:3] == [32, 16, 24] and (table["n_stimuli"] == 92).all()
    assert figure.axes[0].get_ylabel() == "spearman" and len(figure.axes[0].get_xticks()) == 19


def test_layer_scan_with_subjects_draws_their_noise_ceiling_and_refuses_layer(kriegeskorte_folder, private_cache):
    from flowalign_neural import load_kriegeskorte92

    data = load_kriegeskorte92(kriegeskorte_folder)
    stimuli = data.stimuli[["stimulus_id", "label", "image"]].iloc[::4]
    subjects = [data.rdm_array(n) for n in data.rdms["rdm"].values if str(n).startswith("human_it_")]
    table, figure = fa.layer_scan("efficientnet_lite", stimuli, subjects, layers=["block11", "block12"],
                                  analysis_options={"bootstrap": 20}, image_size=64, progress=False)
    direct = fa.rsa(fa.represent("efficientnet_lite", stimuli, layer="block12", image_size=64, progress=False),
                    subjects, bootstrap=20).table.iloc[0]
    row = table.set_index("layer").loc["block12"]
    assert row["value"] == pytest.approx(direct["value"], abs=1e-12) and row["n_rdms_b"] == 8
    assert 0 < row["noise_ceiling_lower"] == pytest.approx(direct["noise_ceiling_lower"], abs=1e-12)
    assert any("noise ceiling" in t.get_text() for t in figure.axes[0].get_legend().get_texts())
    with pytest.raises(ValueError, match=r"layers=\[...\], not layer="):
        fa.layer_scan("efficientnet_lite", stimuli, subjects, layer="block12")

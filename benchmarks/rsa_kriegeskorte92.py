"""Monkey IT vs human IT on the Kriegeskorte 92-image set, against the human-IT noise ceiling.

Reads the 92-image files shipped with ``flowalign_neural`` (or ``$FLOWALIGN_KRIEGESKORTE92``; Kriegeskorte et al. 2008; monkey IT from Kiani et al. 2007,
674 neurons; human IT fMRI, 4 subjects x 2 sessions = 8 RDMs), compares the monkey-IT RDM with the
8 human-IT RDMs by ``fa.rsa`` (bootstrap over the 92 stimuli) for each comparison method, and reports
the noise ceiling of the human RDMs. Writes ``benchmarks/rsa_kriegeskorte92.json`` and prints a table;
``--figures DIR`` also saves the RDM heatmaps and the bar plot as PNG.

    .venv/bin/python benchmarks/rsa_kriegeskorte92.py [--bootstrap 1000] [--figures runs/k92]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
from rsatoolbox.rdm import RDMs

import flowalign_nb as fa
from flowalign_nb.analysis.plots import plot_bars, plot_rdm
from flowalign_neural.kriegeskorte import kriegeskorte92_folder



def load(folder: Path) -> tuple[RDMs, RDMs]:
    """(monkey IT, human IT) as rsatoolbox RDMs with ``stimulus_id`` and ``label`` (6 categories)."""
    read = lambda name: scipy.io.loadmat(folder / name, squeeze_me=True, struct_as_record=False)
    supplement = read("Kriegeskorte_Neuron2008_supplementalData.mat")
    patterns = {"stimulus_id": [f"img{i:02d}" for i in range(92)],
                "label": [s.category for s in supplement["stimuli_92objs"]]}
    monkey = next(r for r in supplement["RDMs_mIT_hIT_fig1"] if r.name.startswith("mIT"))
    human = read("92_brainRDMs.mat")["RDMs"].ravel()  # row-major: subject x session
    return (
        RDMs(monkey.RDM[None], dissimilarity_measure="1 - r", pattern_descriptors=dict(patterns),
             rdm_descriptors={"name": [monkey.name]}),
        RDMs(np.stack([r.RDM for r in human]), dissimilarity_measure="1 - r", pattern_descriptors=dict(patterns),
             rdm_descriptors={"name": [r.name for r in human]}),
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--figures", type=Path, default=None, help="folder for PNG figures (optional)")
    args = parser.parse_args()
    monkey, human = load(kriegeskorte92_folder())
    results = {c: fa.rsa(monkey, human, method=c, bootstrap=args.bootstrap, seed=0) for c in ("spearman", "tau-a", "pearson")}
    table = pd.concat([r.table for r in results.values()], ignore_index=True)
    table["share_of_lower_ceiling"] = table["value"] / table["noise_ceiling_lower"]
    columns = ["metric", "value", "ci_low", "ci_high", "noise_ceiling_lower", "noise_ceiling_upper", "share_of_lower_ceiling"]
    print("monkey IT (674 neurons) vs 8 human IT RDMs (4 subjects x 2 sessions), 92 images, "
          f"{args.bootstrap} stimulus bootstraps, 95 % CI")
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(table.to_dict(orient="records"), indent=2))
    print(f"written {out}")
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        spearman = results["spearman"]
        plot_rdm(spearman.rdm_a, title="monkey IT").savefig(args.figures / "rdm_monkey_it.png", dpi=120)
        plot_rdm(spearman.rdm_b, title="human IT (mean of 8)").savefig(args.figures / "rdm_human_it.png", dpi=120)
        plot_bars(table, title="monkey IT vs human IT").savefig(args.figures / "rsa_bars.png", dpi=120)
        print(f"figures in {args.figures}")


if __name__ == "__main__":
    main()

"""EfficientNet-Lite0 layers vs real monkey IT on the Kriegeskorte 92-image set: RSA and a Gromov-Wasserstein test.

RSA: for every Lite0 layer (stem, blocks 0-15, head, logits; average-pooled, 224 px, the vision
plugin's ``efficientnet_lite`` modality), the Spearman correlation between its correlation-distance
RDM and the monkey IT RDM (Kiani et al. 2007, 674 neurons; human IT too, for reference).

GW: an unsupervised Gromov-Wasserstein plan (the core ``gw`` coupling) between monkey IT (classical
MDS points, whose squared distances are the IT RDM) and the best block (rows centred and scaled so
that squared distances are correlation distances), entropic (epsilon 5e-3) and exact; the share of
its mass on same-category pairs, against chance, with a permutation p-value (target labels permuted
over items, plan fixed). Also with every feature z-scored first, as FlowAligner does before coupling.

Writes ``benchmarks/neural_kriegeskorte92_effnet.json`` and prints markdown tables.

    .venv/bin/python benchmarks/neural_kriegeskorte92_effnet.py [--permutations 10000]
"""

import argparse
import json
from pathlib import Path

import numpy as np
from flowalign_neural import classical_mds, load_kriegeskorte92
from flowalign_neural.similarity import correlation_geometry, correlation_rdm, gw_category_test, rsa_spearman
from tqdm.auto import tqdm

import flowalign_nb as fa

LAYERS = ["stem", *(f"block{i}" for i in range(16)), "head", "logits"]


def zscore(x):
    return (x - x.mean(0)) / np.where(x.std(0) > 1e-12, x.std(0), 1.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--permutations", type=int, default=10_000)
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    data = load_kriegeskorte92()
    stimuli = data.stimuli[["stimulus_id", "label", "image"]]
    monkey, human = data.rdm("monkey_it"), data.rdm("human_it")
    features, rows = {}, []
    for layer in tqdm(LAYERS, desc="EfficientNet-Lite0 layers"):
        rep = fa.represent("efficientnet_lite", stimuli, variant="lite0", layer=layer, image_size=args.image_size, progress=False)
        features[layer] = rep.values
        rdm = correlation_rdm(rep.values)
        rows.append({"layer": layer, "n_features": rep.sizes["neuroid"],
                     "rsa_monkey_it": rsa_spearman(rdm, monkey), "rsa_human_it": rsa_spearman(rdm, human)})
    best = max((r for r in rows if r["layer"].startswith("block")), key=lambda r: r["rsa_monkey_it"])["layer"]
    labels = data.stimuli["label"].to_numpy()
    it_points = classical_mds(monkey).points
    gw = []
    for name, source, target, epsilon in [
        ("entropic, correlation geometry", it_points, correlation_geometry(features[best]), 5e-3),
        ("exact, correlation geometry", it_points, correlation_geometry(features[best]), 0.0),
        ("entropic, features z-scored (as FlowAligner)", zscore(it_points), zscore(features[best]), 5e-3),
    ]:
        result = gw_category_test(source, target, labels, labels, epsilon=epsilon, n_permutations=args.permutations, seed=0)
        gw.append({"setting": name, "layer": best, "epsilon": epsilon, "identity_mass": float(np.trace(result["plan"])),
                   **{k: result[k] for k in ("share", "chance", "null_mean", "p_value")}})
    summary = {"rsa": rows, "best_block": best, "monkey_vs_human_it": rsa_spearman(monkey, human), "gw": gw,
               "permutations": args.permutations, "image_size": args.image_size}
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(summary, indent=2))
    print("| layer | features | RSA vs monkey IT | RSA vs human IT |\n|---|---|---|---|")
    for r in rows:
        mark = "**" if r["layer"] == best else ""
        print(f"| {mark}{r['layer']}{mark} | {r['n_features']} | {mark}{r['rsa_monkey_it']:.3f}{mark} | {r['rsa_human_it']:.3f} |")
    print(f"\nmonkey IT vs human IT: {summary['monkey_vs_human_it']:.3f}\n")
    print("| GW plan (monkey IT -> best block) | same-category mass | chance | permutation p | mass on identical images |\n|---|---|---|---|---|")
    for g in gw:
        print(f"| {g['setting']}, {g['layer']} | {g['share']:.3f} | {g['chance']:.3f} | {g['p_value']:.4f} | {g['identity_mass']:.3f} |")
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()

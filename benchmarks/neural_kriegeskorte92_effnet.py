"""EfficientNet-Lite0 layers vs real monkey IT on the Kriegeskorte 92-image set: RSA and a Gromov-Wasserstein test.

RSA: for every Lite0 layer (stem, blocks 0-15, head, logits; average-pooled, 224 px, the vision
plugin's ``efficientnet_lite`` modality), the Spearman correlation between its correlation-distance
RDM and the monkey IT RDM (Kiani et al. 2007, 674 neurons; human IT too, for reference), by
``fa.layer_scan`` (all layers from one forward pass; 95 % bootstrap CI over stimuli), and against the 8
single-subject human-IT RDMs with their noise ceiling. Figure: ``docs/layer_scan_kriegeskorte92.png``.
Timing: the 19 layers in one pass against one pass for the deepest layer alone (``--time``; features
not cached, one torch thread).

GW: an unsupervised Gromov-Wasserstein plan (the core ``gw`` coupling) between monkey IT (classical
MDS points, whose squared distances are the IT RDM) and the best block (rows centred and scaled so
that squared distances are correlation distances), entropic (epsilon 5e-3) and exact; the share of
its mass on same-category pairs, against chance, with a permutation p-value (target labels permuted
over items, plan fixed). Also with every feature z-scored first, as FlowAligner does before coupling.

Writes ``benchmarks/neural_kriegeskorte92_effnet.json`` and prints markdown tables.

    .venv/bin/python benchmarks/neural_kriegeskorte92_effnet.py [--permutations 10000] [--bootstrap 1000] [--time]
"""

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import torch
from flowalign_neural import classical_mds, load_kriegeskorte92
from flowalign_neural.similarity import correlation_geometry, gw_category_test, rsa_spearman
from matplotlib.figure import Figure

import flowalign_nb as fa
from flowalign_nb.analysis.layer_scan import plot_layer_scan

FIGURE = Path(__file__).resolve().parents[1] / "docs" / "layer_scan_kriegeskorte92.png"

LAYERS = ["stem", *(f"block{i}" for i in range(16)), "head", "logits"]


def zscore(x):
    return (x - x.mean(0)) / np.where(x.std(0) > 1e-12, x.std(0), 1.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--permutations", type=int, default=10_000)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--time", action="store_true", help="time one pass for all layers vs the deepest layer alone")
    args = parser.parse_args()
    data = load_kriegeskorte92()
    stimuli = data.stimuli[["stimulus_id", "label", "image"]]
    monkey, human = data.rdm("monkey_it"), data.rdm("human_it")
    subjects = [data.rdm_array(n) for n in data.rdms["rdm"].values.tolist() if n.startswith("human_it_")]
    model = dict(variant="lite0", image_size=args.image_size, progress=False)
    timing = time_extraction(stimuli, model) if args.time else None
    scan = lambda reference: fa.layer_scan("efficientnet_lite", stimuli, reference, layers=LAYERS,
                                           analysis_options={"bootstrap": args.bootstrap}, **model).table.set_index("layer")
    scans = {"monkey_it": scan(data.rdm_array("monkey_it")), "human_it": scan(data.rdm_array("human_it")),
             "human_it_subjects": scan(subjects)}
    features = {layer: rep.values for layer, rep in fa.represent("efficientnet_lite", stimuli, layer=LAYERS, **model).items()}
    rows = [{"layer": layer, "n_features": int(scans["monkey_it"].loc[layer, "n_features"]),
             **{f"rsa_{name}": float(table.loc[layer, "value"]) for name, table in scans.items()},
             **{f"rsa_{name}_ci": [float(table.loc[layer, "ci_low"]), float(table.loc[layer, "ci_high"])]
                for name, table in scans.items()}} for layer in LAYERS]
    ceiling = [float(scans["human_it_subjects"][c].iloc[0]) for c in ("noise_ceiling_lower", "noise_ceiling_upper")]
    draw_figure(scans)
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
               "human_it_subjects_noise_ceiling": ceiling, "extraction_seconds": timing,
               "permutations": args.permutations, "bootstrap": args.bootstrap, "image_size": args.image_size}
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(summary, indent=2))
    print("| layer | features | RSA vs monkey IT | RSA vs human IT |\n|---|---|---|---|")
    for r in rows:
        mark = "**" if r["layer"] == best else ""
        print(f"| {mark}{r['layer']}{mark} | {r['n_features']} | {mark}{r['rsa_monkey_it']:.3f}{mark} | {r['rsa_human_it']:.3f} |")
    print(f"\nmonkey IT vs human IT: {summary['monkey_vs_human_it']:.3f}; 8 human-IT subjects' noise ceiling "
          f"{ceiling[0]:.3f} - {ceiling[1]:.3f}\n")
    if timing:
        print(f"extraction, 92 images, one thread: 19 layers in one pass {timing['all_layers_one_pass']:.1f} s, "
              f"deepest layer alone {timing['logits_alone']:.1f} s\n")
    print("| GW plan (monkey IT -> best block) | same-category mass | chance | permutation p | mass on identical images |\n|---|---|---|---|---|")
    for g in gw:
        print(f"| {g['setting']}, {g['layer']} | {g['share']:.3f} | {g['chance']:.3f} | {g['p_value']:.4f} | {g['identity_mass']:.3f} |")
    print(f"\nwritten {out}")


def time_extraction(stimuli, model) -> dict:
    """Seconds for all 19 layers in one pass and for the deepest layer (logits) alone, uncached, one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fa.represent("efficientnet_lite", stimuli.iloc[:2], layer="stem", cache=False, **model)  # load weights
        out = {}
        for name, layer in (("all_layers_one_pass", LAYERS), ("logits_alone", "logits")):
            start = time.perf_counter()
            fa.represent("efficientnet_lite", stimuli, layer=layer, cache=False, **model)
            out[name] = time.perf_counter() - start
        return out
    finally:
        torch.set_num_threads(threads)


def draw_figure(scans) -> None:
    """Spearman vs layer for monkey IT and the 8 human-IT subjects (with their noise ceiling), 95 % CI bands."""
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, label in (("monkey_it", "monkey IT (Kiani 2007)"), ("human_it_subjects", "human IT, 8 subject RDMs (mean)")):
        plot_layer_scan(scans[name].reset_index(), label=label, ax=ax)
    ax.set_title("EfficientNet-Lite0 layers vs IT, Kriegeskorte 92 images (Spearman of correlation RDMs)")
    FIGURE.parent.mkdir(exist_ok=True)
    fig.savefig(FIGURE, dpi=110)


if __name__ == "__main__":
    main()

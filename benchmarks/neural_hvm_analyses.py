"""Analyses on real IT responses (the HvM subset) and Brain-Score-style predictivity of EfficientNet blocks.

Real HvM IT (640 images of 16 objects x 168 sites; object = block index; ``$FLOWALIGN_HVM_IT`` or ``../shared``):
- 16-way object decoding from all 168 sites (``fa.decode``, 5 folds);
- the sites split at random into two disjoint populations A and B of 84 (``--splits`` random splits, seeds 0..):
  RSA between them over all 640 images (Spearman of correlation RDMs) with a split-half noise ceiling (B's
  sites halved into two RDMs: rsatoolbox's ceiling over them); linear and debiased CKA, the Procrustes
  (alpha 1), alpha 0.5 and CCA (alpha 0) shape distances and the cross-validated Procrustes distance, and
  mutual k-NN (k 10), each with its permutation null; Brain-Score-style predictivity of B's sites from A's
  (``fa.predictivity``, protocol ``brainscore``; no repetitions here, so no ceiling).
SIMULATED Majaj-Hong-style IT (``simulated_it``, 168 sites, 10 repetitions, on 500 MNIST images):
``fa.layer_scan`` of EfficientNet-Lite0 blocks 0-15 with ``analysis="predictivity"`` (raw, ceiling, ceiled).

Writes ``benchmarks/neural_hvm_analyses.json`` and prints markdown tables.

    .venv/bin/python benchmarks/neural_hvm_analyses.py [--splits 3] [--null 1000]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from flowalign_neural import load_hvm_it
from flowalign_neural.simulated import SimulatedIT

import flowalign_nb as fa

from shared_data import use_shared_data  # this workplace's data copies, when beside the repository

use_shared_data()

BLOCKS = [f"block{i}" for i in range(16)]


def real_it(splits: int, null: int) -> dict:
    rep = load_hvm_it()
    out = {"decoding_16way": fa.decode(rep, cv=5).table.iloc[0][["value", "ci_low", "ci_high", "chance"]].astype(float).to_dict()}
    rows = []
    for seed in range(splits):
        sites = np.random.default_rng(seed).permutation(rep.sizes["neuroid"])
        a, b = rep.isel(neuroid=np.sort(sites[:84])), rep.isel(neuroid=np.sort(sites[84:]))
        halves = [b.isel(neuroid=slice(0, 42)), b.isel(neuroid=slice(42, 84))]
        r = fa.rsa(a, [b], bootstrap=200, seed=seed).table.iloc[0]
        ceiling = fa.rsa(a, halves, bootstrap=0).table.iloc[0]
        row = {"seed": seed, "rsa_spearman": float(r["value"]), "rsa_ci": [float(r["ci_low"]), float(r["ci_high"])],
               "rsa_vs_b_halves": float(ceiling["value"]),
               "noise_ceiling_b_halves": [float(ceiling["noise_ceiling_lower"]), float(ceiling["noise_ceiling_upper"])]}
        for name, result in [
            ("linear_cka", fa.cka(a, b, null=null, seed=seed)),
            ("debiased_cka", fa.cka(a, b, debiased=True, null=null, seed=seed)),
            ("procrustes_distance", fa.shape_metric(a, b, alpha=1.0, null=null, seed=seed)),
            ("shape_distance_alpha0.5", fa.shape_metric(a, b, alpha=0.5, null=null, seed=seed)),
            ("cca_distance", fa.shape_metric(a, b, alpha=0.0, null=null, seed=seed)),
            ("cv_procrustes_distance", fa.shape_metric(a, b, alpha=1.0, cv=5, null=min(null, 200), seed=seed)),
            ("mutual_knn", fa.mutual_knn_alignment(a, b, k=10, null=null, seed=seed)),
        ]:
            t = result.table.iloc[0]
            row[name] = {"value": float(t["value"]), "chance": float(t["chance"]), "null_std": float(t["null_std"]),
                         "p_value": float(t["p_value"]), "n_null": int(t["n_null"])}
        row["predictivity_a_to_b"] = float(fa.predictivity(a, b, seed=seed).table.iloc[0]["value"])
        rows.append(row)
    out["across_populations"] = rows
    return out


def simulated_predictivity() -> dict:
    sim = SimulatedIT(n_images=500, progress=False)
    stimuli = sim.stimuli()
    assembly = sim.simulate(stimuli)
    assembly = assembly.mean("time_bin") if "time_bin" in assembly.dims else assembly
    it = assembly.isel(neuroid=np.flatnonzero(assembly["region"].values == "IT"))
    reps = []
    for k in np.unique(it["repetition"].values):
        part = it.isel(presentation=np.flatnonzero(it["repetition"].values == k))
        reps.append(fa.make_representation(part.values, part["stimulus_id"].values, part["category_name"].values.astype(str)))
    table = fa.layer_scan("efficientnet_lite", stimuli[["stimulus_id", "label", "image"]], reps, layers=BLOCKS,
                          analysis="predictivity", image_size=96, progress=False).table
    wide = table.pivot(index="layer", columns="metric", values="value").loc[BLOCKS]
    best = wide["ceiled_r"].idxmax()
    return {"per_block": {layer: {"r": float(wide.loc[layer, "r"]), "ceiled_r": float(wide.loc[layer, "ceiled_r"])} for layer in BLOCKS},
            "ceiling": float(table["ceiling"].iloc[0]), "best_block": best,
            "n_images": len(stimuli), "n_sites": it.sizes["neuroid"], "n_repetitions": len(reps)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--null", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    summary = {"real_hvm_it": real_it(args.splits, args.null), "simulated_it": simulated_predictivity(), "null": args.null}
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(summary, indent=2))
    real, sim = summary["real_hvm_it"], summary["simulated_it"]
    d = real["decoding_16way"]
    print(f"16-way object decoding, 168 real IT sites: {d['value']:.3f} ({d['ci_low']:.3f}-{d['ci_high']:.3f}), chance {d['chance']:.4f}\n")
    print("| measure (A vs B, 84 sites each, 640 images) | value (mean over splits) | chance (null mean) | p (max over splits) |\n|---|---|---|---|")
    rows = real["across_populations"]
    for name in ("linear_cka", "debiased_cka", "procrustes_distance", "shape_distance_alpha0.5", "cca_distance",
                 "cv_procrustes_distance", "mutual_knn"):
        print(f"| {name} | {np.mean([r[name]['value'] for r in rows]):.3f} | {np.mean([r[name]['chance'] for r in rows]):.3f} "
              f"| {max(r[name]['p_value'] for r in rows):.4f} |")
    print(f"\nRSA A vs B: {np.mean([r['rsa_spearman'] for r in rows]):.3f}; A vs B's two 42-site halves "
          f"{np.mean([r['rsa_vs_b_halves'] for r in rows]):.3f}, noise ceiling of the halves "
          f"{np.mean([r['noise_ceiling_b_halves'][0] for r in rows]):.3f}-{np.mean([r['noise_ceiling_b_halves'][1] for r in rows]):.3f}")
    print(f"Brain-Score-style predictivity of B's sites from A's: {np.mean([r['predictivity_a_to_b'] for r in rows]):.3f}\n")
    print("| block | r | ceiled r |\n|---|---|---|")
    for layer, v in sim["per_block"].items():
        mark = "**" if layer == sim["best_block"] else ""
        print(f"| {mark}{layer}{mark} | {v['r']:.3f} | {mark}{v['ceiled_r']:.3f}{mark} |")
    print(f"\nSIMULATED IT ceiling {sim['ceiling']:.3f}; best block {sim['best_block']}; written {out}")


if __name__ == "__main__":
    main()

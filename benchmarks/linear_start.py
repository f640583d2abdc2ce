"""Linear start of FlowAligner (issue 17 item 6): flows with and without ``init`` against ridge / Procrustes.

Pairs (5 % labels on each side, held-out source items transported and scored by transfer decoding,
``fa.transfer_decode``: a decoder fit on the target space, tested on the transported items):

``digits`` (linear)
    scikit-learn digits. Source: raw pixels (64) of one half of the images; target: the other half's
    pixels through a random linear map to 40 dimensions (a random rotation of the 64 pixels, the
    first 40 coordinates) plus Gaussian noise of std 1 (pixel values are 0-16). Unpaired: only
    classes link the two sides.
``synthetic-linear`` / ``synthetic``
    ``fa.make_synthetic_pair`` (16 -> 24 dimensions, 5 classes) with ``warp=0`` (the target is an
    orthogonal embedding of the source distribution: linear) and the default ``warp=1`` (nonlinear).

    python benchmarks/linear_start.py --out benchmarks/linear_start.json   # seeds 0-2, 800 steps
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import ortho_group
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flowalign_nb as fa  # noqa: E402

PAIRS = ("digits", "synthetic-linear", "synthetic")
FLOWS = {  # FlowAligner options; "default" is FlowAligner's own defaults (coupling "ot", bridge "auto" = posterior)
    "default": {},
    "exemplar": {"coupling": "exemplar"},
}
INITS = (None, "ridge", "procrustes")


def digits_pair(seed: int, fraction: float):
    rng = np.random.default_rng(seed)
    digits = load_digits()
    order = rng.permutation(len(digits.target))
    half = len(order) // 2
    src_idx, tgt_idx = order[:half], order[half:]
    projection = ortho_group.rvs(64, random_state=seed)[:, :40]
    tgt_x = digits.data[tgt_idx] @ projection + rng.standard_normal((len(tgt_idx), 40))
    n_test = len(src_idx) // 4
    def rep(x, y, name):
        return fa.make_representation(x, stimulus_id=[f"{name}{i}" for i in range(len(y))], label=y)
    source = rep(digits.data[src_idx[n_test:]], digits.target[src_idx[n_test:]], "s")
    source_test = rep(digits.data[src_idx[:n_test]], digits.target[src_idx[:n_test]], "q")
    target = rep(tgt_x, digits.target[tgt_idx], "t")
    return fa.mask_labels(source, fraction, seed=seed), fa.mask_labels(target, fraction, seed=seed + 1), source_test


def synthetic_pair(seed: int, fraction: float, warp: float):
    p = fa.make_synthetic_pair(n_train=2000, n_test=500, warp=warp, seed=seed)
    return fa.mask_labels(p.source, fraction, seed=seed), fa.mask_labels(p.target, fraction, seed=seed + 1), p.source_test


def make_pair(name: str, seed: int, fraction: float):
    if name == "digits":
        return digits_pair(seed, fraction)
    return synthetic_pair(seed, fraction, warp=0.0 if name == "synthetic-linear" else 1.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=PAIRS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--flows", nargs="+", default=list(FLOWS), choices=list(FLOWS))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    command = "python benchmarks/linear_start.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = []
    for pair in args.pairs:
        for seed in args.seeds:
            source, target, source_test = make_pair(pair, seed, args.fraction)
            methods = {"ridge": fa.RidgeAligner(), "procrustes": fa.ProcrustesAligner()}
            for flow in args.flows:
                for init in INITS:
                    methods[flow + ("" if init is None else f" init={init}")] = fa.FlowAligner(
                        **FLOWS[flow], init=init, steps=args.steps, seed=seed, progress=False, device="cpu")
            for name, aligner in methods.items():
                start = time.perf_counter()
                moved = aligner.fit(source, target).transform(source_test)
                score = fa.transfer_decode(moved, target).table["value"].iloc[0]
                rows.append({"pair": pair, "seed": seed, "method": name, "accuracy": float(score), "fit_s": time.perf_counter() - start})
                print(rows[-1], flush=True)
                if args.out is not None:
                    args.out.write_text(json.dumps({"command": command, "runs": rows}, indent=1))
    names = list(dict.fromkeys(r["method"] for r in rows))
    lines = [f"Command: `{command}` (transfer-decoding accuracy, mean ± std over seeds {args.seeds})", "",
             "| method | " + " | ".join(args.pairs) + " |", "|---|" + "---|" * len(args.pairs)]
    for name in names:
        cells = []
        for pair in args.pairs:
            values = np.array([r["accuracy"] for r in rows if r["pair"] == pair and r["method"] == name])
            cells.append(f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out is not None:
        args.out.write_text(json.dumps({"command": command, "runs": rows, "table": table}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

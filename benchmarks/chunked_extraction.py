"""Peak memory of chunked feature extraction (``fa.represent_chunked``) of 20,000 image files.

Writes 20,000 PNG digits (the MNIST-5k images, each also shifted by 1 pixel right, down and
diagonally) to a temporary folder; the stimulus table holds ``pathlib.Path`` cells, so the images are
read only when their chunk is extracted. Each measurement runs in a fresh process with an empty
feature cache and reports its peak resident memory above and the memory after imports and
model set-up (memory sampled every 5 ms), for:

* ``chunked``: ``represent_chunked("mnist_cnn", ..., chunk_size=1000)``, computed with tqdm progress,
  then an ``exemplar`` FlowAligner (20 steps) fitted on the 20,000 items (labels of 10 % known);
* the same for the first 2,000 stimuli (the bound must not grow with N);
* ``whole``: ``fa.represent`` of the whole table in one call, for comparison.

Writes ``benchmarks/chunked_extraction.json``.

    .venv/bin/python benchmarks/chunked_extraction.py
"""

from __future__ import annotations

import json
import os
import threading
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

SHIFTS = ((0, 0), (0, 1), (1, 0), (1, 1))
CHUNK_SIZE = 1000


def write_images(folder: Path) -> pd.DataFrame:
    """20,000 PNG files in ``folder`` and their stimulus table (``stimulus_id``, ``label``, ``image`` as Path)."""
    from PIL import Image

    from flowalign_vision import load_mnist5k

    mnist = load_mnist5k()
    rows = []
    for dy, dx in SHIFTS:
        for sid, label, image in mnist[["stimulus_id", "label", "image"]].itertuples(index=False):
            path = folder / f"{sid}_{dy}{dx}.png"
            Image.fromarray(np.roll(image, (dy, dx), axis=(0, 1))).save(path)
            rows.append((f"{sid}_{dy}{dx}", int(label), path))
    return pd.DataFrame(rows, columns=["stimulus_id", "label", "image"])


class PeakRSS:
    """Peak resident memory (MB) of this process while the block runs, sampled every 5 ms by a thread."""

    def __enter__(self):
        self.process, self.peak, self.running = psutil.Process(), 0.0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss / 2**20)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss / 2**20)


def measure(mode: str, n: int, folder: str) -> dict:
    """One measurement, in this (fresh) process."""
    import torch

    import flowalign_nb as fa

    torch.set_num_threads(1)
    paths = sorted(Path(folder).glob("*.png"))[:n]
    labels = json.loads((Path(folder) / "labels.json").read_text())
    stimuli = pd.DataFrame({"stimulus_id": [p.stem for p in paths], "label": [labels[p.stem] for p in paths], "image": paths})
    fa.make("modality", "mnist_cnn", progress=False).net  # imports and weights, as a baseline
    baseline, start = psutil.Process().memory_info().rss / 2**20, time.perf_counter()
    with PeakRSS() as extraction:
        if mode == "whole":
            rep = fa.represent("mnist_cnn", stimuli, progress=False)
        else:
            rep = fa.compute_representation(fa.represent_chunked("mnist_cnn", stimuli, chunk_size=CHUNK_SIZE, progress=False))
    extract_s = time.perf_counter() - start
    source = fa.mask_labels(rep, 0.1, seed=0)
    target = fa.mask_labels(rep.isel(neuroid=slice(0, 64)), 0.1, seed=1)
    with PeakRSS() as fit:
        fa.FlowAligner("exemplar", steps=20, seed=0, progress=False).fit(source, target)
    return {"mode": mode, "n_stimuli": n, "chunk_size": CHUNK_SIZE if mode != "whole" else None,
            "features_mb": rep.nbytes / 2**20, "baseline_rss_mb": baseline,
            "extraction_peak_over_baseline_mb": extraction.peak - baseline,
            "exemplar_fit_peak_over_baseline_mb": fit.peak - baseline, "extraction_s": extract_s}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), os.environ["BENCH_IMAGES"])))
        return
    results = []
    with tempfile.TemporaryDirectory() as images, tempfile.TemporaryDirectory() as cache:
        table = write_images(Path(images))
        (Path(images) / "labels.json").write_text(json.dumps(dict(zip(table["stimulus_id"], table["label"]))))
        env = {**os.environ, "BENCH_IMAGES": images, "FLOWALIGN_CACHE_DIR": cache, "OMP_NUM_THREADS": "1"}
        for mode, n in (("chunked", 2000), ("chunked", 20000), ("whole", 20000)):
            for entry in Path(cache).iterdir():  # an empty feature cache for every measurement
                subprocess.run(["rm", "-rf", str(entry)], check=True)
            out = subprocess.run([sys.executable, __file__, "--measure", mode, str(n)], env=env, check=True,
                                 capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(results[-1], flush=True)
    small, large = results[0], results[1]
    summary = {"results": results,
               "extraction_peak_growth_2k_to_20k_mb": large["extraction_peak_over_baseline_mb"] - small["extraction_peak_over_baseline_mb"],
               "features_growth_2k_to_20k_mb": large["features_mb"] - small["features_mb"]}
    Path(__file__).with_suffix(".json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

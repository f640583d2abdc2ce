"""Peak memory of exemplar training on memory-mapped synthetic latents at several N (one process each)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .common import DIM, N_CLASSES


def write_latents(folder: Path, n: int, seed: int, fraction: float = 0.1, chunk: int = 100_000) -> None:
    """Memory-mapped files of one space: x (n, 128) float32, labels (-1: unlabelled) and ids int64."""
    rng = np.random.default_rng(seed)
    for side in ("src", "tgt"):
        centres = 0.2 * rng.standard_normal((N_CLASSES, DIM)).astype(np.float32)
        x = np.memmap(folder / f"{side}_x.f32", dtype=np.float32, mode="w+", shape=(n, DIM))
        labels = np.memmap(folder / f"{side}_labels.i64", dtype=np.int64, mode="w+", shape=(n,))
        ids = np.memmap(folder / f"{side}_ids.i64", dtype=np.int64, mode="w+", shape=(n,))
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            y = rng.integers(0, N_CLASSES, m)
            x[start : start + m] = centres[y] + rng.standard_normal((m, DIM), dtype=np.float32)
            labels[start : start + m] = np.where(rng.random(m) < fraction, y, -1)
            ids[start : start + m] = np.arange(start, start + m)
        for arr in (x, labels, ids):
            arr.flush()
        del x, labels, ids


def run(sizes, device, steps: int = 30, batch: int = 256, log=print) -> dict:
    """Peak anonymous memory per N and its growth from the smallest to the largest N."""
    worker = Path(__file__).with_name("memory_worker.py")
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="flowalign-mem-") as tmp:
            write_latents(Path(tmp), n, seed=0)
            proc = subprocess.run([sys.executable, str(worker), "--dir", tmp, "--n", str(n), "--steps", str(steps),
                                   "--batch", str(batch), "--device", str(device)], capture_output=True, text=True, check=False)
            if proc.returncode:
                raise RuntimeError(f"memory worker failed for N={n}:\n{proc.stderr[-3000:]}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        log(f"exemplar N={n}: peak anonymous {rows[-1]['peak_anon_bytes'] / 2**20:.1f} MiB, "
            f"peak RSS {rows[-1]['peak_rss_bytes'] / 2**20:.1f} MiB, mapped data {rows[-1]['data_bytes'] / 2**20:.1f} MiB")
    growth = rows[-1]["peak_anon_bytes"] / rows[0]["peak_anon_bytes"] - 1
    return {"rows": rows, "growth_first_to_last": growth, "steps": steps, "batch": batch}

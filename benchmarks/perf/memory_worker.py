"""One exemplar-training run on memory-mapped latents; prints peak memory as JSON (run by memory.py).

    python benchmarks/perf/memory_worker.py --dir DIR --n N --steps S --batch B --device cpu

Peak anonymous memory (``RssAnon``, sampled every 2 ms) excludes the pages of the memory-mapped
files, so it is the memory training needs beyond the data itself; ``VmHWM`` (peak resident,
mapped pages included) is reported too.
"""

import argparse
import json
import sys
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    peak = {"anon": 0}
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak["anon"] = max(peak["anon"], status("RssAnon"))
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    from flowalign_nb.data.model import Latents
    from flowalign_nb.transport.couplings import ExemplarCoupling
    from flowalign_nb.flow import FlowTrainer
    from perf.common import DIM, N_CLASSES, make_net

    device = torch.device(args.device)
    folder = Path(args.dir)
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    spaces = []
    for side in ("src", "tgt"):
        x = torch.from_numpy(np.memmap(folder / f"{side}_x.f32", dtype=np.float32, mode="r", shape=(args.n, DIM)))
        labels = torch.from_numpy(np.memmap(folder / f"{side}_labels.i64", dtype=np.int64, mode="r", shape=(args.n,)))
        ids = np.memmap(folder / f"{side}_ids.i64", dtype=np.int64, mode="r", shape=(args.n,))
        spaces.append(Latents(x, labels, ids, list(range(N_CLASSES))))
    src, tgt = spaces
    coupling = ExemplarCoupling().fit(src, tgt)
    before_training = status("RssAnon")

    def draw(generator):
        i, j = coupling.sample(args.batch, generator)
        return src.x[i].to(device), tgt.x[j].to(device), None  # rows of the memory-mapped data, as FlowAligner draws them

    FlowTrainer(make_net(), args.steps, device=device, progress=False).run(draw)
    done.set()
    watcher.join()
    out = {"n": args.n, "peak_anon_bytes": max(peak["anon"], status("RssAnon")), "anon_after_fit_bytes": before_training,
           "peak_rss_bytes": status("VmHWM"), "data_bytes": 2 * args.n * (DIM * 4 + 16)}
    if device.type == "cuda":
        out["peak_cuda_bytes"] = torch.cuda.max_memory_allocated(device)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

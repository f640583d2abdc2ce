"""Performance suite for issue #10: couplings, training loop, memory, transport and FLOP/s.

Writes ``benchmarks/results.json`` and ``benchmarks/results.md``. Runs on the GPU when there is
one (``--device`` forces a device); every timing synchronises the device.

    make bench                                   # installs torchcfm --no-deps, then runs this
    .venv/bin/python benchmarks/perf_suite.py [--quick] [--device cpu|cuda] [--only couplings loop ...]

Timings are wall-clock medians on whatever else the machine is doing; ratios (ours vs TorchCFM,
prefetch vs inline) are measured within one run so both sides see the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ot  # noqa: E402
import torch  # noqa: E402

from flowalign_nb.devices import resolve_device  # noqa: E402
from perf import couplings, loop, memory, report, throughput  # noqa: E402

SECTIONS = ("couplings", "loop", "prefetch", "memory", "transport", "flops")


KEPT_SECTIONS = (
    ("TorchCFM 2-D benchmark (benchmarks/cfm_2d.py)", "cfm_2d.md"),
    ("Flow-engine ablations on the 2-D tasks (benchmarks/cfm_2d_ablation.py)", "cfm_2d_ablation.md"),
    ("MNIST 10 % cells after the engine changes of issue 17", "mnist_engine_cells.md"),
)


def _cpu_native_bf16() -> bool | None:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 / AMX); None when torch cannot say."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes, repeats and memory sizes (a few minutes)")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when present)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads of every measurement (default: all usable cores, torch's own default)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile measurements")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json and results.md")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    # all cores by default, as torch uses them and as the TorchCFM baseline was measured
    # (make exports OMP_NUM_THREADS=1 for the tests; that does not apply here)
    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    quick = args.quick
    batches = (256, 1024) if quick else (256, 512, 1024, 2048)
    try:
        import torchcfm
    except ImportError:
        sys.exit("torchcfm is missing: .venv/bin/pip install --no-deps torchcfm (make bench does this)")
    results = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]) if argv is None else "perf_suite.main(" + repr(argv) + ")",
        "machine": {"device": str(device) if device.type == "cpu" else f"{device} ({torch.cuda.get_device_name(device)})",
                    "torch": torch.__version__, "pot": ot.__version__, "torchcfm": getattr(torchcfm, "__version__", "?"),
                    "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "load_start": os.getloadavg()[0],
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_native_bf16": _cpu_native_bf16(),
                    "note": "Measured on a shared machine: other jobs were running (see the load average); "
                            "absolute times are loaded, ratios are measured within one run."},
        "quick": quick,
    }
    start = time.perf_counter()
    if "flops" in args.only:
        results["flops"] = throughput.step_flops(1024, device, compile_too=not args.no_compile, repeat=4 if quick else 8)
    if "couplings" in args.only:
        results["couplings"] = couplings.run(batches, device, n_items=20_000, repeat=3 if quick else 5)
    if "loop" in args.only:
        # fp32 as FlowAligner trains by default; + prefetch; + torch.compile; + bf16 autocast (our side only)
        variants = [(False, False, None), (False, True, None)] + ([(True, True, None)] if not args.no_compile else []) + [(False, True, "bf16")]
        # pinned to one thread (CPU, when more are in use): the plan prefetch then has a core to itself
        if device.type == "cpu" and torch.get_num_threads() > 1:
            variants += [(False, False, None, 1), (False, True, None, 1)]
        results["loop"] = [loop.run(1024, device, 20_000, rounds=2 if quick else 4, chunk=5, compile=c, prefetch=p, autocast=a,
                                    threads=v[0] if v else None)
                           for c, p, a, *v in variants]
    if "prefetch" in args.only:
        results["prefetch"] = loop.prefetch_effect(1024, device, 20_000, steps=10 if quick else 20, compile=False)
    if "memory" in args.only:
        results["memory"] = memory.run((10_000, 100_000) if quick else (10_000, 100_000, 1_000_000), device, steps=20 if quick else 30)
    if "transport" in args.only:
        results["transport"] = throughput.transport(100_000, device)
    results["machine"]["load_end"] = os.getloadavg()[0]
    results["seconds"] = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    # the sections other benchmarks write (their own commands) are kept: results.md is regenerated, they are not
    sections = "".join(f"\n## {title}\n\n{(HERE / name).read_text()}" for title, name in KEPT_SECTIONS if (HERE / name).exists())
    (out / "results.md").write_text(report.markdown(results) + sections)
    print(report.markdown(results))
    print(f"written {out / 'results.json'} and {out / 'results.md'} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()

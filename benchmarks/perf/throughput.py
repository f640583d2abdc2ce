"""Transport throughput (items/s) and the training step's FLOP/s relative to a plain fp32 matmul."""

from __future__ import annotations

import time

import torch

from flowalign_nb.flow import integrate

from .common import DIM, linear_flops, make_net, sync, timed
from .couplings import step_time


def transport(n: int, device: torch.device, method: str = "midpoint", steps: int = 20, log=print) -> dict:
    """Items/s of ``integrate`` (batched, inference mode) on ``n`` items of the benchmark network."""
    net = make_net().to(device).eval()
    z0 = torch.randn(n, DIM, device=device)
    integrate(net, z0[:256], None, method, steps)
    sync(device)
    start = time.perf_counter()
    integrate(net, z0, None, method, steps)
    sync(device)
    seconds = time.perf_counter() - start
    out = {"n": n, "method": method, "ode_steps": steps, "seconds": seconds, "items_per_s": n / seconds}
    log(f"transport {n} items ({method}, {steps} steps): {out['items_per_s']:.0f} items/s")
    return out


def matmul_flops(device: torch.device, size: int = 2048, repeat: int = 10) -> float:
    """FLOP/s of a plain fp32 ``size x size`` matmul (median of ``repeat``)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    return 2.0 * size**3 / timed(lambda: a @ b, device, repeat, warmup=2)


def step_flops(batch: int, device: torch.device, compile_too: bool, repeat: int, log=print) -> dict:
    """Matmul FLOP/s of our training step (eager, and compiled when asked) vs :func:`matmul_flops`."""
    peak = matmul_flops(device)
    net_flops = linear_flops(make_net(), batch)
    out = {"batch": batch, "matmul_flops_per_s": peak, "step_flops": net_flops}
    for key in (("eager", "compiled", "bf16") if compile_too else ("eager", "bf16")):
        seconds = step_time(batch, device, compile=key == "compiled", steps=repeat, warm=3, autocast="bf16" if key == "bf16" else None)
        out[f"step_s_{key}"] = seconds
        out[f"step_flops_per_s_{key}"] = net_flops / seconds
        out[f"fraction_of_matmul_{key}"] = net_flops / seconds / peak
        log(f"step B={batch} {key}: {seconds * 1e3:.1f} ms, {net_flops / seconds / 1e9:.1f} GFLOP/s = "
            f"{out[f'fraction_of_matmul_{key}']:.0%} of the fp32 matmul's {peak / 1e9:.1f} GFLOP/s")
    return out

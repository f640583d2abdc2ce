"""Coupling time per minibatch, its share of a training step, and plan quality.

For each batch size ``B``: the median wall-clock time of drawing one training batch of pairs
(cost, plan and sampling) with our couplings and with TorchCFM's flow matchers on the same data,
and ``share = t_coupling / (t_coupling + t_step)`` with ``t_step`` the network step of our training
loop (same network, same batch). Plan quality: ``<C, pi_ours> / <C, pi_exact>`` with ``C`` the bridge
cost of one balanced minibatch and ``pi_exact = ot.emd`` on the whole minibatch.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import ot
import torch

import flowalign_nb as fa
from flowalign_nb.transport.blocks import block_layout
from flowalign_nb.flow import FlowTrainer

from .common import class_blobs, make_net, sync, timed

#: name -> (coupling factory, options, label fraction of the data)
OURS = {
    "ot": ("ot", {"blocks": True}, 1.0),
    "ot (10% labels + pseudo-labels)": ("ot", {"blocks": True}, 0.1),
    "sinkhorn": ("sinkhorn", {"blocks": True, "reg": 0.01, "tol": 1e-4}, 1.0),
    "sinkhorn (reg 0.02)": ("sinkhorn", {"blocks": True, "reg": 0.02, "tol": 1e-4}, 1.0),
    "sinkhorn (POT batched log-domain)": ("sinkhorn", {"blocks": True, "reg": 0.01, "tol": 1e-4, "method": "sinkhorn_log"}, 1.0),
    "unbalanced": ("unbalanced", {"blocks": True, "reg": 0.05, "reg_m": 1.0, "tol": 1e-4}, 1.0),
    "exemplar": ("exemplar", {}, 0.1),
    "ot, one B x B plan (no blocks)": ("ot", {}, 1.0),
}


def make_data(n: int, fraction: float):
    src, y_src = class_blobs(n, seed=1, fraction=fraction)
    tgt, y_tgt = class_blobs(n, seed=2, fraction=fraction)
    return src, tgt, y_src, y_tgt


def step_time(batch: int, device: torch.device, compile: bool, steps: int, warm: int, autocast="auto") -> float:
    """Median seconds of one step of our training loop (FlowTrainer: CFM loss, AdamW, clip, EMA) on a fixed batch.

    ``autocast`` as in :class:`FlowTrainer` (``"auto"``: fp32 on the CPU, bf16 autocast on CUDA).
    """
    x0 = torch.randn(batch, 128, device=device)
    x1 = torch.randn(batch, 128, device=device)
    stamps = []

    def draw(generator):
        sync(device)
        stamps.append(time.perf_counter())
        return x0, x1, None

    FlowTrainer(make_net(), steps + warm + 1, device=device, compile=compile, autocast=autocast, progress=False).run(draw)
    return float(np.median(np.diff(stamps)[warm:]))


def torchcfm_matchers():
    from torchcfm.conditional_flow_matching import (
        ExactOptimalTransportConditionalFlowMatcher,
        SchrodingerBridgeConditionalFlowMatcher,
    )

    return {
        "TorchCFM ExactOptimalTransportCFM": ExactOptimalTransportConditionalFlowMatcher(sigma=0.1),
        "TorchCFM SchrodingerBridgeCFM (sinkhorn)": SchrodingerBridgeConditionalFlowMatcher(sigma=1.0, ot_method="sinkhorn"),
    }


def run(batches, device: torch.device, n_items: int, repeat: int, log=print) -> dict:
    """Coupling times, shares and plan quality at each batch size; see the module docstring."""
    warnings.filterwarnings("ignore", message=".*did not converge.*")
    out = {"batches": list(batches), "n_items": n_items, "step_s": {}, "coupling_s": {}, "share": {}, "quality": {}, "pseudo_label_accuracy": {}}
    data = {f: make_data(n_items, f) for f in (1.0, 0.1)}
    bridges = {f: fa.make("bridge", "prototype").fit(s, t) for f, (s, t, _, _) in data.items()}
    src, tgt, _, _ = data[1.0]
    xs, xt = src.x.to(device), tgt.x.to(device)
    from flowalign_nb.transport.blocks import block_labels

    for f, (s, t, ys, yt) in data.items():
        out["pseudo_label_accuracy"][f] = float(((block_labels(s).numpy() == ys).mean() + (block_labels(t).numpy() == yt).mean()) / 2)
    matchers = torchcfm_matchers()
    for batch in batches:
        g = torch.Generator().manual_seed(batch)
        out["step_s"][batch] = step_time(batch, device, compile=False, steps=repeat + 2, warm=2)
        log(f"B={batch}: network step {out['step_s'][batch] * 1e3:.1f} ms")
        times, quality = {}, {}
        for name, (kind, options, fraction) in OURS.items():
            s, t, _, _ = data[fraction]
            opts = dict(options)
            if kind != "exemplar":
                opts.update(plan_size=batch, full_plan_max=1024)
            if kind in ("sinkhorn", "unbalanced"):
                opts["device"] = device  # entropic plans on the training device
            coupling = fa.make("coupling", kind, **opts).fit(s, t, bridge=bridges[fraction] if kind != "exemplar" else None)

            def draw(c=coupling):
                i, j = c.sample(batch, g)
                return xs[i.to(device)], xt[j.to(device)]

            reps = 1 if (not options.get("blocks") and kind == "ot" and batch >= 2048) else repeat
            times[name] = timed(draw, device, reps)
            if options.get("blocks"):
                quality[name] = plan_quality(coupling, batch, g)
            elif kind == "exemplar":
                quality[name] = exemplar_quality(coupling, bridges[fraction], batch, g)
            log(f"  {name}: {times[name] * 1e3:.1f} ms" + (f", cost / exact {quality[name]:.4f}" if name in quality else ""))
        for name, matcher in matchers.items():
            def draw_cfm(m=matcher):
                i = torch.randint(src.n, (batch,), generator=g).to(device)
                j = torch.randint(tgt.n, (batch,), generator=g).to(device)
                return m.sample_location_and_conditional_flow(xs[i], xt[j])

            times[name] = timed(draw_cfm, device, 1 if batch >= 2048 else repeat)
            log(f"  {name}: {times[name] * 1e3:.1f} ms")
        out["coupling_s"][batch] = times
        out["share"][batch] = {k: v / (v + out["step_s"][batch]) for k, v in times.items()}
        out["quality"][batch] = quality
    return out


def exact_cost(cost: torch.Tensor) -> float:
    u = torch.full((cost.shape[0],), 1.0 / cost.shape[0], dtype=torch.float64)
    return float((ot.emd(u, u, cost, numItermax=10_000_000) * cost).sum())


def plan_quality(coupling, batch: int, generator: torch.Generator) -> float:
    """``<C, pi_blocked> / <C, pi_exact>`` on one balanced minibatch of the coupling (``C``: its bridge cost)."""
    i_src, i_tgt, counts = coupling.block_sampler_.draw(batch, generator)
    plan = coupling.block_plan(i_src, i_tgt, counts)
    cost = coupling.bridge_.cost(i_src, i_tgt)
    return float(plan.cost(cost).cpu()) / exact_cost(cost)


def exemplar_quality(coupling, bridge, batch: int, generator: torch.Generator) -> float:
    """The same ratio for exemplar pairing: uniform pairs within each class of a balanced labelled minibatch."""
    from flowalign_nb.transport.blocks import BlockSampler

    src, tgt = coupling.src_, coupling.tgt_
    ls, lt = torch.nonzero(src.labels >= 0).squeeze(1), torch.nonzero(tgt.labels >= 0).squeeze(1)
    sampler = BlockSampler(src.labels[ls], tgt.labels[lt])
    i_src, i_tgt, counts = sampler.draw(batch, generator)
    i_src, i_tgt = ls[i_src], lt[i_tgt]
    pos, sizes = block_layout(counts)
    plan = torch.zeros(batch, batch, dtype=torch.float64)
    for b in range(len(sizes)):
        p = pos[b, : sizes[b]]
        plan[p[:, None], p[None, :]] = 1.0 / (batch * len(p))
    cost = bridge.cost(i_src, i_tgt)
    return float((plan * cost).sum()) / exact_cost(cost)

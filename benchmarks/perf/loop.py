"""Steps per second of the whole OT-CFM training loop: ours vs a TorchCFM loop, in one run.

Ours: :class:`flowalign_nb.flow.FlowTrainer` (AdamW, cosine schedule, gradient clipping, EMA)
drawing each batch from the class-blocked exact-OT coupling (``ot``, ``blocks=True``) on the
prototype bridge. TorchCFM: the loop of its README, ``ExactOptimalTransportConditionalFlowMatcher``
on random minibatches of the same data, the same network (a fresh copy, same seed), AdamW.

To share the machine's background load equally, the two loops are interleaved: after every
``chunk`` steps of ours, the trainer's ``should_stop`` callback runs ``chunk`` TorchCFM steps, timed
on their own; ours is the loop's wall time minus those.
"""

from __future__ import annotations

import time

import torch

import flowalign_nb as fa
from flowalign_nb.flow import FlowTrainer

from .common import make_net, sync
from .couplings import make_data


def torchcfm_step_fn(xs, xt, batch, device, generator):
    from torchcfm.conditional_flow_matching import ExactOptimalTransportConditionalFlowMatcher

    matcher = ExactOptimalTransportConditionalFlowMatcher(sigma=0.1)
    net = make_net().to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-5)

    def step():
        i = torch.randint(xs.shape[0], (batch,), generator=generator).to(device)
        j = torch.randint(xt.shape[0], (batch,), generator=generator).to(device)
        t, x_t, u_t = matcher.sample_location_and_conditional_flow(xs[i], xt[j])
        loss = torch.mean((net(t, x_t) - u_t) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def run(batch: int, device: torch.device, n_items: int, rounds: int, chunk: int, compile: bool, prefetch: bool,
        autocast=None, threads: int | None = None, log=print) -> dict:
    """Interleaved steps/s of ours and TorchCFM's loop at one batch size.

    ``autocast``: our loop's mixed precision (:class:`FlowTrainer`); the TorchCFM loop stays fp32.
    ``threads``: torch CPU threads of both loops for this measurement (default: as set).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        return _run(batch, device, n_items, rounds, chunk, compile, prefetch, autocast, log)
    finally:
        torch.set_num_threads(before)


def _run(batch, device, n_items, rounds, chunk, compile, prefetch, autocast, log) -> dict:
    src, tgt, _, _ = make_data(n_items, 1.0)
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    coupling = fa.make("coupling", "ot", plan_size=batch, full_plan_max=1024, blocks=True).fit(src, tgt, bridge=bridge)
    xs, xt = src.x.to(device), tgt.x.to(device)
    other = torchcfm_step_fn(xs, xt, batch, device, torch.Generator().manual_seed(1))
    warm = 3
    total = warm + rounds * chunk

    def draw(generator):
        i, j = coupling.sample(batch, generator)
        return xs[i.to(device)], xt[j.to(device)], None

    clock = {"theirs": 0.0, "start": None, "end": None}

    def should_stop(step, loss):
        if step == warm:
            other()  # TorchCFM warm-up
            sync(device)
            clock["start"] = time.perf_counter()
        elif step > warm and (step - warm) % chunk == 0:
            sync(device)
            start = time.perf_counter()
            for _ in range(chunk):
                other()
            sync(device)
            clock["theirs"] += time.perf_counter() - start
            if step == total:
                clock["end"] = time.perf_counter()
        return False

    trainer = FlowTrainer(make_net(), total, device=device, compile=compile, prefetch=prefetch, autocast=autocast, progress=False)
    trainer.run(draw, should_stop=should_stop)
    ours_s = clock["end"] - clock["start"] - clock["theirs"]
    steps = rounds * chunk
    result = {"batch": batch, "steps": steps, "threads": torch.get_num_threads(), "compile": compile, "prefetch": prefetch,
              "precision": "bf16 autocast" if trainer.autocast else "fp32",
              "final_loss": float(trainer.losses[-1]), "ours_steps_per_s": steps / ours_s, "torchcfm_steps_per_s": steps / clock["theirs"]}
    result["ratio"] = result["ours_steps_per_s"] / result["torchcfm_steps_per_s"]
    log(f"loop B={batch} threads={result['threads']} compile={compile} prefetch={prefetch} {result['precision']}: ours {result['ours_steps_per_s']:.2f} steps/s, "
        f"TorchCFM {result['torchcfm_steps_per_s']:.2f} steps/s, ratio {result['ratio']:.2f}")
    return result


def prefetch_effect(batch: int, device: torch.device, n_items: int, steps: int, compile: bool, log=print) -> dict:
    """Steps/s of our loop with and without prefetching the next batch's plan (A B A B order)."""
    src, tgt, _, _ = make_data(n_items, 1.0)
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    xs, xt = src.x.to(device), tgt.x.to(device)
    seconds = {False: 0.0, True: 0.0}
    for prefetch in (False, True, False, True):
        coupling = fa.make("coupling", "ot", plan_size=batch, full_plan_max=1024, blocks=True).fit(src, tgt, bridge=bridge)

        def draw(generator, c=coupling):
            i, j = c.sample(batch, generator)
            return xs[i.to(device)], xt[j.to(device)], None

        stamps = {}

        def should_stop(step, loss):
            if step in (3, steps + 3):
                sync(device)
                stamps[step] = time.perf_counter()
            return False

        FlowTrainer(make_net(), steps + 3, device=device, compile=compile, prefetch=prefetch, progress=False).run(draw, should_stop=should_stop)
        seconds[prefetch] += stamps[steps + 3] - stamps[3]
    result = {"batch": batch, "compile": compile, "steps_per_s_inline": 2 * steps / seconds[False], "steps_per_s_prefetch": 2 * steps / seconds[True]}
    result["speedup"] = result["steps_per_s_prefetch"] / result["steps_per_s_inline"]
    log(f"prefetch B={batch}: inline {result['steps_per_s_inline']:.2f}, prefetch {result['steps_per_s_prefetch']:.2f} steps/s")
    return result

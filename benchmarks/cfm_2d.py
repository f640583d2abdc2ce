"""TorchCFM's 2-D benchmark, run side by side with FlowAligner's label-free couplings (issue 17).

Tasks (TorchCFM's ``torchcfm.utils`` samplers): 8gaussians -> moons, moons -> 8gaussians,
N(0, I) -> 8gaussians, N(0, I) -> moons; 8 Gaussians of scale 5 and variance 0.1; moons with noise 0.2,
then ``x * 3 - 1``. Protocol of TorchCFM's runner (``runner/configs``, ``two-dim-cfm.sh``): a
10k/1k/1k split per side, MLP 3 x 64, AdamW lr 1e-3, weight decay 1e-5, sigma 0.1, batch 512,
1000 epochs (``ceil(10000 / 512) = 20`` steps each), seeds 42-46, Euler transport, and

    W2 = sqrt(ot.emd2(u, u, ||x_i - y_j||^2))

between the transported held-out source points and the held-out target points. Also reported: the
normalised path energy ``NPE = |E int_0^1 ||v_t(x_t)||^2 dt - W2(x0, x1)^2| / W2(x0, x1)^2`` along
the 100-step Euler paths (0: straight, constant-speed OT paths), fit wall time, steps/s, and W2
against the number of Euler steps.

Methods (same width, steps and batch): TorchCFM's ``ExactOptimalTransportConditionalFlowMatcher``
(``tcfm-ot``), ``ConditionalFlowMatcher`` (``tcfm-i``, I-CFM) and
``SchrodingerBridgeConditionalFlowMatcher`` with ``ot_method="sinkhorn"`` (``tcfm-sb``), each
trained by the plain loop of TorchCFM's examples (its SELU ``MLP``) at its runner's constant lr 1e-3,
and ``tcfm-ot-lr-auto``: the exact-OT loop at the constant peak lr FlowAligner's ``lr="auto"`` picks
for the width (4e-3 at 64), so that lr is not what separates the two; against
``FlowAligner(coupling=..., bridge="euclidean")`` with ``ot``, ``sinkhorn`` and ``independent``
(``fa-ot``, ``fa-sinkhorn``, ``fa-independent``; ``hidden=64``, ``depth=3``, every other option at
FlowAligner's default: ``lr="auto"`` is 4e-3 at width 64, cosine-decayed to 1 %, where TorchCFM's
loop keeps its runner's constant 1e-3), plus ``fa-default``: FlowAligner with only
``coupling="ot", bridge="euclidean"`` and the same number of steps.

The defaults are the full protocol; ``--epochs`` / ``--seeds`` / ``--tasks`` / ``--methods`` give a
reduced one. ``--out`` writes JSON, ``--markdown`` a table.

    python benchmarks/cfm_2d.py --epochs 50 --out benchmarks/cfm_2d.json --markdown benchmarks/cfm_2d.md   # the reduced protocol of results.md
    python benchmarks/cfm_2d.py --floor   # the W2 noise floor of two fresh test samples
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import ot
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASKS = ("8gaussians-moons", "moons-8gaussians", "gaussian-8gaussians", "gaussian-moons")
TORCHCFM_METHODS = ("tcfm-ot", "tcfm-i", "tcfm-sb", "tcfm-ot-lr-auto")
OUR_METHODS = ("fa-ot", "fa-sinkhorn", "fa-independent", "fa-default")
METHODS = TORCHCFM_METHODS + OUR_METHODS
ODE_STEPS = (1, 2, 5, 10, 20, 100)
SPLIT = (10_000, 1_000, 1_000)


def eight_gaussians(n: int) -> torch.Tensor:
    """``torchcfm.utils.sample_8gaussians``: centres of radius 5, ``MultivariateNormal(0, sqrt(0.1) I)`` noise
    (TorchCFM passes ``var=0.1`` as ``sqrt(var) * eye``), one centre per point drawn uniformly."""
    centres = torch.tensor([(1, 0), (-1, 0), (0, 1), (0, -1), (1 / math.sqrt(2), 1 / math.sqrt(2)),
                            (1 / math.sqrt(2), -1 / math.sqrt(2)), (-1 / math.sqrt(2), 1 / math.sqrt(2)),
                            (-1 / math.sqrt(2), -1 / math.sqrt(2))]) * 5
    noise = torch.distributions.MultivariateNormal(torch.zeros(2), math.sqrt(0.1) * torch.eye(2)).sample((n,))
    return (centres[torch.multinomial(torch.ones(8), n, replacement=True)] + noise).float()


def moons(n: int) -> torch.Tensor:
    """``torchcfm.utils.sample_moons``: ``torchdyn.datasets.generate_moons(n, noise=0.2) * 3 - 1``.

    torchdyn's moons are two evenly spaced half circles, each point shifted along ``(1, 1)`` by
    ``U(0, 1) * noise`` (its ``X += np.random.rand(n, 1) * noise``); points come out ordered by moon,
    so they are shuffled here (torchdyn itself is not installed: it only provides this sampler).
    """
    n_out = n // 2
    n_in = n - n_out
    outer = np.stack([np.cos(np.linspace(0, np.pi, n_out)), np.sin(np.linspace(0, np.pi, n_out))], 1)
    inner = np.stack([1 - np.cos(np.linspace(0, np.pi, n_in)), 1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5], 1)
    x = np.concatenate([outer, inner]) + np.random.rand(n, 1) * 0.2
    return torch.as_tensor(x[np.random.permutation(n)] * 3 - 1).float()


def sample(name: str, n: int) -> torch.Tensor:
    """``n`` points of a TorchCFM 2-D distribution (uses numpy's and torch's global generators)."""
    if name == "8gaussians":
        return eight_gaussians(n)
    if name == "moons":
        return moons(n)
    if name == "gaussian":
        return torch.randn(n, 2)
    raise ValueError(f"distribution {name!r} is unknown; choose 8gaussians, moons or gaussian")


def task_data(task: str, seed: int) -> dict:
    """Train and test sets of both sides, each drawn on its own (the 1k validation set is not needed)."""
    np.random.seed(seed)
    torch.manual_seed(seed)
    source, target = task.split("-")
    n_train, _, n_test = SPLIT
    return {"train": (sample(source, n_train), sample(target, n_train)), "test": (sample(source, n_test), sample(target, n_test))}


def w2(x: torch.Tensor, y: torch.Tensor) -> float:
    """``sqrt(ot.emd2)`` on squared-Euclidean cost with uniform weights."""
    x, y = x.double().numpy(), y.double().numpy()
    return math.sqrt(ot.emd2(ot.unif(len(x)), ot.unif(len(y)), ot.dist(x, y), numItermax=int(1e7)))


def euler_paths(velocity, x0: torch.Tensor, steps: int) -> tuple[torch.Tensor, float]:
    """Euler transport ``x_{k+1} = x_k + h v(t_k, x_k)``; returns ``x(1)`` and ``E sum_k h ||v_k||^2``."""
    h, x, energy = 1.0 / steps, x0.clone(), torch.zeros(())
    with torch.inference_mode():
        for k in range(steps):
            v = velocity(torch.full((x.shape[0],), k * h), x)
            energy += h * (v**2).sum(1).mean()
            x = x + h * v
    return x, float(energy)


# ---------------------------------------------------------------- TorchCFM (its example loop)
def fit_torchcfm(method: str, xs: torch.Tensor, xt: torch.Tensor, steps: int, batch: int, seed: int, width: int):
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
        SchrodingerBridgeConditionalFlowMatcher,
    )
    from torchcfm.models.models import MLP

    from flowalign_nb.align.aligner import resolve_lr

    torch.manual_seed(seed)
    np.random.seed(seed)
    matcher = {
        "tcfm-ot": lambda: ExactOptimalTransportConditionalFlowMatcher(sigma=0.1),
        "tcfm-ot-lr-auto": lambda: ExactOptimalTransportConditionalFlowMatcher(sigma=0.1),
        "tcfm-i": lambda: ConditionalFlowMatcher(sigma=0.1),
        "tcfm-sb": lambda: SchrodingerBridgeConditionalFlowMatcher(sigma=0.1, ot_method="sinkhorn"),
    }[method]()
    model = MLP(dim=2, w=width, time_varying=True)
    lr = resolve_lr("auto", width) if method == "tcfm-ot-lr-auto" else 1e-3
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    start = time.perf_counter()
    for _ in range(steps):
        x0 = xs[torch.randint(len(xs), (batch,))]
        x1 = xt[torch.randint(len(xt), (batch,))]
        optimizer.zero_grad()
        t, x_t, u_t = matcher.sample_location_and_conditional_flow(x0, x1)
        loss = torch.mean((model(torch.cat([x_t, t[:, None]], dim=-1)) - u_t) ** 2)
        loss.backward()
        optimizer.step()
    fit_s = time.perf_counter() - start
    model.eval()
    return (lambda t, x: model(torch.cat([x, t[:, None]], dim=-1))), fit_s


# ---------------------------------------------------------------- FlowAligner
def fit_ours(method: str, xs: torch.Tensor, xt: torch.Tensor, steps: int, batch: int, seed: int, width: int):
    import flowalign_nb as fa
    from flowalign_nb.align.aligner import _pad

    coupling = method.removeprefix("fa-")
    options = dict(bridge=None if coupling == "independent" else "euclidean", steps=steps, batch_size=batch, seed=seed,
                   device="cpu", progress=False)
    if coupling == "default":
        aligner = fa.FlowAligner(coupling="ot", bridge="euclidean", steps=steps, seed=seed, device="cpu", progress=False)
    else:
        aligner = fa.FlowAligner(coupling=coupling, hidden=width, depth=3, **options)
    source, target = fa.make_representation(xs.numpy()), fa.make_representation(xt.numpy())
    start = time.perf_counter()
    aligner.fit(source, target)
    fit_s = time.perf_counter() - start
    scalers = [torch.as_tensor(v, dtype=torch.float32) for v in
               (aligner.source_mean_, aligner.source_scale_, aligner.target_mean_, aligner.target_scale_)]
    return aligner, fit_s, (*scalers, _pad)


def evaluate_ours(aligner, scalers, x0: torch.Tensor) -> dict:
    """W2 inputs for FlowAligner: transported points for each Euler step count and the path energy.

    The flow runs in standardised coordinates ``z = (x - m) / s`` (source scalers at ``t = 0``,
    target scalers at ``t = 1``); the path energy is that of the de-standardised path, which blends
    the two scalers linearly in ``t``.
    """
    from flowalign_nb.flow import integrate

    mean_s, scale_s, mean_t, scale_t, pad = scalers
    z0 = (x0 - mean_s) / scale_s
    state0 = pad(z0, aligner.net_dim_) if aligner.dim_handling == "pad" else None
    moved = {}
    for steps in ODE_STEPS:
        z1 = integrate(aligner.net_, state0, z0, "euler", steps)[:, :2]
        moved[steps] = z1 * scale_t + mean_t
    # path energy of the 100-step paths in original coordinates, x(t) = (1 - t) (z(t) s_src + m_src) + t (z(t) s_tgt + m_tgt)
    h, z, energy = 0.01, state0.clone(), 0.0
    prev = x0
    with torch.inference_mode():
        for k in range(100):
            z = z + h * aligner.net_(torch.full((z.shape[0],), k * h), z, z0)
            t = (k + 1) * h
            x = (1 - t) * (z[:, :2] * scale_s + mean_s) + t * (z[:, :2] * scale_t + mean_t)
            energy += float((((x - prev) / h) ** 2).sum(1).mean()) * h
            prev = x
    return {"moved": moved, "energy": energy}


def run_one(task: str, method: str, seed: int, epochs: int, batch: int, width: int) -> dict:
    data = task_data(task, seed)
    xs, xt = data["train"]
    x0, x1 = data["test"]
    steps = epochs * math.ceil(len(xs) / batch)
    torch.set_num_threads(1)
    if method in TORCHCFM_METHODS:
        velocity, fit_s = fit_torchcfm(method, xs, xt, steps, batch, seed, width)
        moved = {k: euler_paths(velocity, x0, k)[0] for k in ODE_STEPS}
        energy = euler_paths(velocity, x0, 100)[1]
    else:
        aligner, fit_s, scalers = fit_ours(method, xs, xt, steps, batch, seed, width)
        out = evaluate_ours(aligner, scalers, x0)
        moved, energy = out["moved"], out["energy"]
    w2_ode = {str(k): w2(moved[k], x1) for k in ODE_STEPS}
    w2_pairs = w2(x0, x1) ** 2
    return {
        "task": task, "method": method, "seed": seed, "epochs": epochs, "steps": steps, "batch": batch, "width": width,
        "w2": w2_ode["100"], "w2_by_ode_steps": w2_ode, "npe": abs(energy - w2_pairs) / w2_pairs,
        "fit_s": fit_s, "steps_per_s": steps / fit_s,
    }


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and std over seeds per (task, method)."""
    out = []
    keys = sorted({(r["task"], r["method"]) for r in rows}, key=lambda k: (TASKS.index(k[0]), METHODS.index(k[1])))
    for task, method in keys:
        group = [r for r in rows if r["task"] == task and r["method"] == method]
        entry = {"task": task, "method": method, "seeds": [r["seed"] for r in group]}
        for name in ("w2", "npe", "fit_s", "steps_per_s"):
            values = np.array([r[name] for r in group])
            entry[name] = float(values.mean())
            entry[name + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        entry["w2_by_ode_steps"] = {k: float(np.mean([r["w2_by_ode_steps"][k] for r in group])) for k in map(str, ODE_STEPS)}
        ref = [r for r in rows if r["task"] == task and r["method"] == "tcfm-ot"]
        if ref:
            entry["fit_time_vs_tcfm_ot"] = entry["fit_s"] / float(np.mean([r["fit_s"] for r in ref]))
        out.append(entry)
    return out


def markdown(summary: list[dict], command: str, rows: list[dict], combined_by: str | None = None) -> str:
    commands = " and ".join(f"`{c.strip()}`" for c in command.split(";"))
    if combined_by is not None:
        commands += f", then `{combined_by}`"
    epochs, steps, batch, seeds = (", ".join(map(str, sorted({r[k] for r in rows}))) for k in ("epochs", "steps", "batch", "seed"))
    lines = [
        f"Protocol: epochs {epochs} ({steps} steps at batch {batch}; TorchCFM's runner: 1000 epochs), seeds {seeds}, "
        "10k training / 1k test points per side, width 64 for every method but `fa-default` (FlowAligner's own "
        "defaults with `coupling=\"ot\", bridge=\"euclidean\"`: hidden 256, batch 256); TorchCFM's loop at its runner's "
        "constant lr 1e-3 (`tcfm-ot-lr-auto`: at the constant peak lr of our rule, 4e-3 at width 64), ours at FlowAligner's `lr=\"auto\"` (4e-3 at width 64, 1e-3 at 256, cosine-decayed to 1 %); "
        "W2 = sqrt(ot.emd2) after 100 "
        "Euler steps. Each process runs one method at a time (torch on 1 thread; our prefetch may use the second "
        "core, TorchCFM's loop cannot): fit times are ratios within a run. `tcfm-sb` "
        "(SchrodingerBridgeConditionalFlowMatcher, `ot_method=\"sinkhorn\"`, reg 2 sigma^2 = 0.02 on raw costs) "
        "fails numerically here (POT: numerical errors at iteration 0) and falls back to uniform plans: its W2 "
        "is not a fair SB-CFM figure. NPE: normalised path energy (0: straight constant-speed paths).", "",
        f"Command(s): {commands}", "",
        "| task | method | W2 (mean ± std) | NPE | fit s | x tcfm-ot time | steps/s | W2 @ Euler " + " / ".join(map(str, ODE_STEPS)) + " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        ode = " / ".join(f"{e['w2_by_ode_steps'][str(k)]:.3f}" for k in ODE_STEPS)
        lines.append(
            f"| {e['task']} | {e['method']} | {e['w2']:.3f} ± {e['w2_std']:.3f} | {e['npe']:.3f} | {e['fit_s']:.1f} | "
            f"{e.get('fit_time_vs_tcfm_ot', float('nan')):.2f} | {e['steps_per_s']:.0f} | {ode} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44, 45, 46])
    parser.add_argument("--epochs", type=int, default=1000, help="epochs of ceil(10000 / batch) steps (TorchCFM: 1000)")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--out", type=Path, default=None, help="JSON with every run and the summary")
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs already in --out that match --epochs / --batch / --width and run only the missing ones "
                             "(a long run can go on in another process or session)")
    parser.add_argument("--combine", nargs="+", type=Path, default=None,
                        help="only summarise the runs of these JSON files (e.g. tasks run in two processes) into --out / --markdown")
    parser.add_argument("--floor", action="store_true",
                        help="only print W2 between two fresh 1,000-point samples of each target (5 draws): the metric's noise floor")
    args = parser.parse_args(argv)
    if args.floor:
        for name in ("8gaussians", "moons"):
            values = []
            for draw in range(5):
                np.random.seed(100 + draw)
                torch.manual_seed(100 + draw)
                values.append(w2(sample(name, SPLIT[2]), sample(name, SPLIT[2])))
            print(f"{name}: W2 between two fresh {SPLIT[2]}-point samples {np.mean(values):.2f} ± {np.std(values):.2f} (5 draws)")
        return 0
    if args.combine:
        parts = [json.loads(path.read_text()) for path in args.combine]
        rows = [row for part in parts for row in part["runs"]]
        command = "; ".join(part["command"] for part in parts)
        if args.out is not None:
            _write(args.out, rows, command)
        combined_by = "python benchmarks/cfm_2d.py " + " ".join(argv if argv is not None else sys.argv[1:])
        table = markdown(summarise(rows), command, rows, combined_by)
        print(table)
        if args.markdown is not None:
            args.markdown.write_text(table)
        return 0
    if args.epochs < 1 or args.batch < 1 or args.width < 1:
        parser.error(f"--epochs, --batch and --width must be >= 1, got {args.epochs}, {args.batch}, {args.width}")
    command = "python benchmarks/cfm_2d.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = _resumed_rows(args) if args.resume else []
    done = {(r["task"], r["method"], r["seed"]) for r in rows}
    for seed in args.seeds:  # seed-major: an interrupted run leaves whole seeds of every task
        for task in args.tasks:
            for method in args.methods:
                if (task, method, seed) in done:
                    continue
                row = run_one(task, method, seed, args.epochs, args.batch, args.width)
                rows.append(row)
                print(f"{task:20s} {method:15s} seed {seed}: W2 {row['w2']:.3f}  NPE {row['npe']:.3f}  fit {row['fit_s']:.1f} s",
                      flush=True)
                if args.out is not None:  # partial results survive an interrupted run
                    _write(args.out, rows, command)
    summary = summarise(rows)
    if args.out is not None:
        _write(args.out, rows, command)
    table = markdown(summary, command, rows)
    print(table)
    if args.markdown is not None:
        args.markdown.write_text(table)
    return 0


def _resumed_rows(args) -> list[dict]:
    """The runs already in ``args.out``; all must share ``--epochs``, ``--batch`` and ``--width`` (rows without a width were width 64)."""
    if args.out is None:
        raise SystemExit("error: --resume needs --out (the JSON to go on from)")
    if not args.out.exists():
        return []
    rows = json.loads(args.out.read_text())["runs"]
    other = sorted({(r["epochs"], r["batch"], r.get("width", 64)) for r in rows} - {(args.epochs, args.batch, args.width)})
    if other:
        raise SystemExit(f"error: {args.out} holds runs at (epochs, batch, width) {other}, not "
                         f"{(args.epochs, args.batch, args.width)}: resume into another --out file")
    return rows


def _write(path: Path, rows: list[dict], command: str) -> None:
    machine = {"python": platform.python_version(), "torch": torch.__version__, "pot": ot.__version__,
               "cpus": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"command": command, "machine": machine, "runs": rows, "summary": summarise(rows)}, indent=1))
    tmp.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())

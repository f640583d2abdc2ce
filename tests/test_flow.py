"""Flow internals: CFM path, velocity field, ODE transport, training checkpoints and resume."""

import math

import pytest
import torch

from flowalign_nb.flow import FlowTrainer, VelocityField, conditional_path, integrate
from flowalign_nb.safeio import SavedFileError


def test_conditional_path_endpoints_and_velocity():
    x0, x1 = torch.randn(8, 3), torch.randn(8, 3)
    eps = torch.randn(8, 3)
    xt, ut = conditional_path(x0, x1, torch.zeros(8), eps, sigma=0.0)
    torch.testing.assert_close(xt, x0)
    xt, _ = conditional_path(x0, x1, torch.ones(8), eps, sigma=0.0)
    torch.testing.assert_close(xt, x1)
    t = torch.full((8,), 0.25)
    xt, ut = conditional_path(x0, x1, t, eps, sigma=0.1)
    torch.testing.assert_close(xt, 0.75 * x0 + 0.25 * x1 + 0.1 * eps)
    torch.testing.assert_close(ut, x1 - x0)


def _output_layer(net):
    """The velocity field's last linear layer (the one that starts at zero)."""
    return [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]


def test_integrating_a_velocity_field_moves_points_by_its_velocity():
    """With a constant output (last layer: weights 0, bias c) the flow is ``z(1) = z0 + c``; zero-initialised: the identity."""
    net = VelocityField(dim=5, cond_dim=2)
    z0, cond = torch.randn(10, 5), torch.randn(10, 2)
    torch.testing.assert_close(integrate(net, z0, cond), z0)  # as built: the last layer is zero
    c = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0])
    with torch.no_grad():
        _output_layer(net).bias.copy_(c)
    torch.testing.assert_close(integrate(net, z0, cond), z0 + c)
    torch.testing.assert_close(integrate(net, z0, cond, method="rk4", steps=7, chunk=3), z0 + c)


def test_velocity_field_reads_state_condition_and_time_per_item():
    torch.manual_seed(0)
    net = VelocityField(dim=4, cond_dim=3, hidden=32, depth=2)
    torch.nn.init.normal_(_output_layer(net).weight)
    t, x, cond = torch.rand(6), torch.randn(6, 4), torch.randn(6, 3)
    v = net(t, x, cond)
    assert v.shape == (6, 4)
    for changed in (net(t, x + 1.0, cond), net(t, x, cond + 1.0), net((t + 0.3) % 1, x, cond)):
        assert (changed - v).abs().min() > 1e-4  # every item's velocity depends on x, the condition and t
    # items do not interact: an item's velocity is the same alone or in a batch
    torch.testing.assert_close(net(t[2:3], x[2:3], cond[2:3]), v[2:3])
    torch.testing.assert_close(net(t[0], x, cond), net(t[0].expand(6), x, cond))  # a scalar time is broadcast


def test_integrate_solves_a_known_ode():
    # dz/dt = -z  ->  z(1) = z0 * exp(-1)
    field = lambda t, z, c: -z  # noqa: E731
    z0 = torch.randn(20, 4, dtype=torch.float64)
    torch.testing.assert_close(integrate(field, z0, method="dopri5"), z0 * torch.exp(torch.tensor(-1.0, dtype=torch.float64)), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(integrate(field, z0, method="rk4", steps=50, chunk=7), z0 * torch.exp(torch.tensor(-1.0, dtype=torch.float64)), rtol=1e-6, atol=1e-6)


def make_batches(shift=3.0):
    """Pairs (x0, x0 + shift): the flow must learn a constant velocity."""
    def draw(generator):
        x0 = torch.randn(64, 4, generator=generator)
        return x0, x0 + shift, None
    return draw


def trainer(tmp_path=None, steps=60, seed=0):
    torch.manual_seed(seed)
    net = VelocityField(dim=4, hidden=32, depth=2)
    return FlowTrainer(net, steps=steps, lr=1e-2, sigma=0.0, seed=seed, checkpoint_dir=tmp_path, checkpoint_every=20, progress=False)


def test_trained_flow_learns_a_constant_translation():
    t = trainer(steps=400).run(make_batches())
    z0 = torch.randn(100, 4)
    moved = integrate(t.ema.module, z0)
    assert (moved - z0 - 3.0).abs().mean() < 0.2


@pytest.mark.parametrize("stop_at", [1, 20, 21, 46, 60])
def test_interrupted_run_keeps_its_checkpoint_and_resumes_bitwise(tmp_path, stop_at):
    reference = trainer(tmp_path / "ref").run(make_batches())
    draw = make_batches()
    calls = {"n": 0}

    def interrupting(generator):
        calls["n"] += 1
        if calls["n"] == stop_at:  # the notebook's stop button, while drawing batch number stop_at
            raise KeyboardInterrupt
        return draw(generator)

    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "run").run(interrupting)
    last_checkpoint = 20 * ((stop_at - 1) // 20)
    assert (tmp_path / "run" / "checkpoint.safetensors").exists() == (last_checkpoint > 0)
    if last_checkpoint:
        interrupted = trainer(tmp_path / "other")
        interrupted.load_checkpoint(tmp_path / "run" / "checkpoint.safetensors")
        assert interrupted.step == last_checkpoint
    resumed = trainer(tmp_path / "run").run(make_batches(), resume=True)
    assert resumed.step == 60
    for a, b in zip(reference.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(reference.ema.state_dict().values(), resumed.ema.state_dict().values()):
        assert torch.equal(a, b)
    torch.testing.assert_close(reference.losses, resumed.losses, rtol=0, atol=0)


def test_checkpoint_of_another_model_fails_clearly(tmp_path):
    trainer(tmp_path).run(make_batches())
    torch.manual_seed(0)
    other = FlowTrainer(VelocityField(dim=7, hidden=8, depth=1), steps=10, progress=False)
    with pytest.raises(SavedFileError, match=r"checkpoint.safetensors: checkpoint does not match"):
        other.load_checkpoint(tmp_path / "checkpoint.safetensors")


# ------------------------------------------------------------------ prefetch, autocast, compile options


def prefetching_trainer(tmp_path=None, steps=60, seed=0, prefetch=2):
    torch.manual_seed(seed)
    net = VelocityField(dim=4, hidden=32, depth=2)
    return FlowTrainer(net, steps=steps, lr=1e-2, sigma=0.0, seed=seed, checkpoint_dir=tmp_path, checkpoint_every=20,
                       progress=False, prefetch=prefetch)


@pytest.mark.parametrize("workers", [1, 3])
def test_prefetcher_gives_the_inline_batches_and_restores_the_generator(workers):
    from flowalign_nb.flow.prefetch import Prefetcher, step_generator

    draw = make_batches()
    inline_gen = torch.Generator().manual_seed(5)
    inline = [draw(step_generator(inline_gen))[0] for _ in range(4)]
    gen = torch.Generator().manual_seed(5)
    fetcher = Prefetcher(draw, gen, total=7, workers=workers)
    for expected in inline:
        assert torch.equal(fetcher.next()[0], expected)
    fetcher.close()  # draws were pending: discarded, generator back to where the inline loop is
    assert torch.equal(gen.get_state(), inline_gen.get_state())


def test_prefetch_training_equals_inline_training_and_resumes_bitwise(tmp_path):
    reference = prefetching_trainer(tmp_path / "ref", prefetch=False).run(make_batches())
    fetched = prefetching_trainer(tmp_path / "pre").run(make_batches())
    for a, b in zip(reference.net.state_dict().values(), fetched.net.state_dict().values()):
        assert torch.equal(a, b)
    torch.testing.assert_close(reference.losses, fetched.losses, rtol=0, atol=0)
    stop = lambda step, loss: step == 30  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        prefetching_trainer(tmp_path / "run").run(make_batches(), should_stop=stop)
    resumed = prefetching_trainer(tmp_path / "run").run(make_batches(), resume=True)
    for a, b in zip(reference.ema.state_dict().values(), resumed.ema.state_dict().values()):
        assert torch.equal(a, b)


def test_prefetch_with_a_blocked_ot_coupling_draws_the_same_pairs():
    import numpy as np

    import flowalign_nb as fa
    from flowalign_nb.data.model import Latents
    from flowalign_nb.flow.prefetch import Prefetcher, step_generator

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    src = Latents.from_arrays(rng.standard_normal((400, 4)) + 3 * y[:, None], np.where(rng.random(400) < 0.3, y, -1), classes=[0, 1, 2])
    tgt = Latents.from_arrays(rng.standard_normal((400, 5)) + 3 * y[:, None], np.where(rng.random(400) < 0.3, y, -1), classes=[0, 1, 2])
    bridge = fa.make("bridge", "prototype").fit(src, tgt)
    coupling = fa.make("coupling", "ot", plan_size=96, full_plan_max=100, blocks=True).fit(src, tgt, bridge=bridge)
    draw = lambda g: coupling.sample(64, g)  # noqa: E731
    inline_gen = torch.Generator().manual_seed(3)
    inline = [draw(step_generator(inline_gen)) for _ in range(5)]
    fetcher = Prefetcher(draw, torch.Generator().manual_seed(3), total=5, workers=2)
    for i_src, i_tgt in inline:
        j_src, j_tgt = fetcher.next()
        assert torch.equal(i_src, j_src) and torch.equal(i_tgt, j_tgt)
    fetcher.close()


def test_autocast_option_is_checked():
    with pytest.raises(ValueError, match="autocast="):
        FlowTrainer(VelocityField(dim=2, hidden=4, depth=1), steps=1, autocast="fp8")
    bf16 = FlowTrainer(VelocityField(dim=4, hidden=8, depth=1), steps=3, autocast="bf16", progress=False).run(make_batches())
    assert torch.isfinite(bf16.losses).all()



# ------------------------------------------------------------------ time embedding (issue 17)


def test_time_embedding_is_smooth_over_an_ode_step_and_matches_its_formula():
    from flowalign_nb.flow.net import SinusoidalTimeEmbedding

    emb = SinusoidalTimeEmbedding(64)
    t = torch.linspace(0, 0.99, 100)
    # before issue 17 (frequencies up to 1,000 cycles): cosine 0.39 between t = 0.5 and 0.51
    assert float(torch.nn.functional.cosine_similarity(emb(t), emb(t + 0.01)).min()) > 0.99
    f = torch.logspace(math.log10(0.25), math.log10(20 / (2 * math.pi)), 32)
    expected = torch.cat([torch.sin(2 * math.pi * f * 0.3), torch.cos(2 * math.pi * f * 0.3)])
    torch.testing.assert_close(emb(torch.tensor([0.3]))[0], expected)
    with pytest.raises(ValueError, match=r"max_frequency=0.1 is not allowed"):
        SinusoidalTimeEmbedding(8, max_frequency=0.1)


def test_trainer_ema_equals_averaged_model_update_parameters():
    """The trainer's one-lerp EMA step gives AveragedModel.update_parameters' weights exactly, step by step."""
    import copy

    from torch.optim.swa_utils import AveragedModel

    from flowalign_nb.flow.train import ema_with_warmup

    torch.manual_seed(0)
    net = VelocityField(3, hidden=16, depth=2)
    trainer = FlowTrainer(net, steps=12, progress=False, sigma=0.1, ema_decay=0.9)
    reference = AveragedModel(copy.deepcopy(net), multi_avg_fn=ema_with_warmup(0.9), use_buffers=True)
    update = trainer._update_ema

    def both(ema, params, count):
        reference.update_parameters(trainer.net)
        return update(ema, params, count)

    trainer._update_ema = both
    trainer.run(lambda g: (lambda x: (x, x + 1, None))(torch.randn(32, 3, generator=g)))
    for ours, theirs in zip(trainer.ema.state_dict().values(), reference.state_dict().values()):
        assert torch.equal(ours, theirs)
    assert int(trainer.ema.n_averaged) == 12

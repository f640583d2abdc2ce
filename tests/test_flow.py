"""Flow internals: CFM path, velocity field, ODE transport, training checkpoints and resume."""

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


def test_untrained_field_is_the_identity_map():
    net = VelocityField(dim=5, cond_dim=2)
    z0 = torch.randn(10, 5)
    torch.testing.assert_close(integrate(net, z0, torch.randn(10, 2)), z0)


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

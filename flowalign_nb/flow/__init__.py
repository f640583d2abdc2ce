"""Conditional flow matching: paths and loss, the velocity field, the training loop, ODE transport."""

from .net import VelocityField
from .ode import integrate
from .paths import cfm_loss, conditional_path
from .train import FlowTrainer

__all__ = ["VelocityField", "integrate", "cfm_loss", "conditional_path", "FlowTrainer"]

"""Denoising Hamiltonian Network (Deng et al., 2025): block Hamiltonians trained by denoising,
with autodecoder latent codes, on pendulum and mass-spring trajectories."""

from .model import DHN, HamiltonianTransformer, ModelConfig
from .systems import DoublePendulum, HamiltonianSystem, MassSpring, SinglePendulum, get_system

__all__ = [
    "DHN",
    "DoublePendulum",
    "HamiltonianSystem",
    "HamiltonianTransformer",
    "MassSpring",
    "ModelConfig",
    "SinglePendulum",
    "get_system",
]

"""Top-level experiment config (dataclasses loaded from YAML; unknown keys are rejected)."""

from __future__ import annotations

from dataclasses import dataclass, field

from symlab.runs import load_scale_config

from .experiments import BoussinesqExperiment, RDExperiment, WeakExperiment
from .gp_experiments import GPExperiment
from .systems import DarcyConfig

__all__ = ["Config", "load", "STAGES"]

STAGES = ("boussinesq", "reaction_diffusion", "weak_noise", "symmetry_breaking", "gp")


@dataclass
class Config:
    """Everything one reproduction needs; ``stages`` selects the experiments that run."""

    seed: int = 0
    run_name: str | None = None
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    boussinesq: BoussinesqExperiment = field(default_factory=BoussinesqExperiment)
    reaction_diffusion: RDExperiment = field(default_factory=RDExperiment)
    weak: WeakExperiment = field(default_factory=WeakExperiment)
    darcy: DarcyConfig = field(default_factory=DarcyConfig)
    gp: GPExperiment = field(default_factory=GPExperiment)

    def __post_init__(self) -> None:
        bad = [s for s in self.stages if s not in STAGES]
        if bad:
            raise ValueError(f"unknown stages {bad}; choose from {list(STAGES)}")


def load(name_or_path: str, overrides: list[str] | None = None) -> Config:
    """Load a shipped config (``smoke``, ``cpu``, ``paper``) or a YAML path."""
    return load_scale_config(Config, "invariant_eqdisc", name_or_path, overrides)

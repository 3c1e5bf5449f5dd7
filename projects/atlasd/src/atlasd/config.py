"""Dataclass configs (loaded from YAML with unknown keys rejected)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from symlab.runs import load_scale_config

CONFIG_DIR = Path(__file__).parent / "configs"
TASKS = ("pde", "probes", "lorentz", "digits")


@dataclass
class PDEConfig:
    """Heat equation with obstacle; the whole pipeline runs once per atlas in ``atlases``."""

    atlases: list[int] = field(default_factory=lambda: [1, 2])
    n_train: int = 384
    n_test: int = 64
    batch: int = 16
    pred_epochs: int = 4
    pred_lr: float = 1e-3
    pred_cosine: bool = True
    basis_epochs: int = 2
    basis_batch: int = 16
    basis_lr: float = 1e-2
    r3: float = 0.1
    batch_stats: bool = True
    ks: list[int] = field(default_factory=lambda: [1, 2])
    coset_K: int = 16
    coset_q: int = 8
    coset_n: int = 128
    coset_steps: int = 150
    coset_lr: float = 0.03
    coset_batch: int = 8
    random_generators: int = 8
    global_check: bool = True
    global_n: int = 32


@dataclass
class ProbeConfig:
    """D4 and two-coset probes (cosets only)."""

    n_points: int = 2048
    batch: int = 512
    d4_K: int = 256
    d4_q: int = 128
    tc_K: int = 64
    tc_q: int = 24
    steps: int = 300
    lr: float = 0.02


@dataclass
class LorentzConfig:
    """Synthetic Lorentz-invariant jet task."""

    n_events: int = 20000
    test_fraction: float = 0.2
    n_const: int = 30
    max_rapidity: float = 1.0
    hidden: int = 256
    batch: int = 128
    pred_epochs: int = 15
    pred_lr: float = 1e-3
    basis_epochs: int = 15
    basis_lr: float = 1e-2
    r1: float = 0.1
    r3: float = 1.0
    ks: list[int] = field(default_factory=lambda: [6, 7])
    coset_K: int = 16
    coset_q: int = 8
    coset_n: int = 2048
    coset_steps: int = 300
    coset_lr: float = 0.03


@dataclass
class DigitsConfig:
    """Digits on the sphere: discovery and the downstream CNN comparison."""

    width: int = 60
    digit_size: int = 14
    chart_radius: int = 7
    n_train: int = 1000
    n_test: int = 500
    train_degrees: float = 60.0
    test_degrees: float = 180.0
    batch: int = 32
    pred_epochs: int = 10
    pred_width: int = 16
    pred_lr: float = 3e-3
    pred_cosine: bool = True
    pred_bg_weight: float = 0.1
    basis_epochs: int = 4
    basis_batch: int = 32
    basis_lr: float = 1e-2
    r3: float = 1.0
    down_epochs: int = 12
    down_width: int = 12
    down_depth: int = 6
    down_lr: float = 3e-3
    down_batch: int = 16
    down_cosine: bool = True
    down_bg_weight: float = 0.05


@dataclass
class LieFitConfig:
    """The identity-component test (Adam fit of exp(sum w_i L_i))."""

    steps: int = 1500
    lr: float = 0.05
    restarts: int = 4
    threshold: float = 0.1


@dataclass
class Config:
    """Everything one reproduction runs; ``tasks`` picks the experiments."""

    seed: int = 0
    device: str = "auto"
    threads: int = 2
    run_name: str = ""
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    pde: PDEConfig = field(default_factory=PDEConfig)
    probes: ProbeConfig = field(default_factory=ProbeConfig)
    lorentz: LorentzConfig = field(default_factory=LorentzConfig)
    digits: DigitsConfig = field(default_factory=DigitsConfig)
    lie_fit: LieFitConfig = field(default_factory=LieFitConfig)

    def __post_init__(self) -> None:
        bad = [t for t in self.tasks if t not in TASKS]
        if bad:
            raise ValueError(f"unknown tasks {bad}; choose from {list(TASKS)}")
        bad_atlas = [a for a in self.pde.atlases if a not in (1, 2)]
        if bad_atlas or not self.pde.atlases:
            raise ValueError(f"pde.atlases must list atlases 1 and/or 2, got {self.pde.atlases}")


def get_config(name_or_path: str | Path, overrides: list[str] | None = None) -> Config:
    """Load a shipped config (``smoke``, ``cpu``, ``paper``) or a YAML path, with overrides."""
    return load_scale_config(Config, "atlasd", name_or_path, overrides)

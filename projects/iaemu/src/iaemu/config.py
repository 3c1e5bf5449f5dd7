"""Dataclass configs, loaded from YAML with unknown keys rejected (``symlab.runs.load_config``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from symlab.runs import SCALES as SCALES  # re-exported
from symlab.runs import load_scale_config

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# Parameter box: [mu_cen, mu_sat, logMmin, sigma_logM, logM0, logM1, alpha]. The paper's priors
# are not published; this box lies inside the ranges of the generator's parameter files and keeps
# galaxy counts high enough for a 100 Mpc/h box (see README, deviations).
DEFAULT_LOW = [-1.0, -1.0, 11.7, 0.1, 11.0, 13.0, 0.7]
DEFAULT_HIGH = [1.0, 1.0, 12.7, 1.0, 13.0, 14.2, 1.2]


@dataclass
class HaloConfig:
    """Synthetic halo catalog (replaces the Bolshoi-Planck catalog, which needs a download).

    Attributes
    ----------
    lbox : float
        Box side in Mpc/h.
    log_mass_min, log_mass_max : float
        log10 range of halo masses (Msun/h).
    grid : int
        Cells per side of the lognormal density / tidal field grid.
    smoothing : float
        Gaussian smoothing length of the field in Mpc/h.
    sigma_g : float
        Standard deviation of the Gaussian field whose exponential is the halo density.
    axis_noise : float
        Scatter added to the tidal stretching direction to make the halo major axis (0 = exact).
    seed : int
        Seed of the catalog (one catalog serves all parameter draws, as Bolshoi does in the paper).
    """

    lbox: float = 100.0
    log_mass_min: float = 10.5
    log_mass_max: float = 15.5
    grid: int = 64
    smoothing: float = 2.0
    sigma_g: float = 1.0
    axis_noise: float = 0.5
    seed: int = 1


@dataclass
class MockConfig:
    """Parameter draws and mock generation."""

    n_draws: int = 500
    n_realizations: int = 4
    low: list[float] = field(default_factory=lambda: list(DEFAULT_LOW))
    high: list[float] = field(default_factory=lambda: list(DEFAULT_HIGH))
    backend: Literal["halotools", "kdtree"] = "halotools"
    workers: int = 2
    chunk_size: int = 20
    max_attempts: int = 5
    test_fraction: float = 0.2
    # Realizations of each held-out draw (topped up with new seeds; <= n_realizations: none).
    test_realizations: int = 0
    seed: int = 0
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if len(self.low) != 7 or len(self.high) != 7:
            raise ValueError("low and high must have 7 entries (one per input parameter)")
        if any(h <= lo for lo, h in zip(self.low, self.high)):
            raise ValueError(f"every high must exceed its low: low={self.low} high={self.high}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.n_realizations < 1 or self.n_draws < 2:
            raise ValueError("need n_draws >= 2 and n_realizations >= 1")


@dataclass
class ModelConfig:
    """The network; ``width`` 1 is the paper's architecture."""

    width: float = 1.0
    dropout: float = 0.2
    # Output scaler: one per statistic over all bins (the paper) or one per statistic and bin.
    y_scaling: Literal["pooled", "per_bin"] = "pooled"


@dataclass
class TrainConfig:
    """Optimisation (paper: 500 epochs, warm-up 100, batch 128, AdamW 1e-2)."""

    epochs: int = 150
    batch_size: int = 128
    lr: float = 1.0e-2
    weight_decay: float = 1.0e-4
    warmup_epochs: int = 30
    beta_warmup: float = 1.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.5, 0.5])
    grad_clip: float = 10.0
    val_fraction: float = 0.1
    report_interval: int = 5
    patience: int = 100
    val_mse_weight: float = 0.7
    # CPU threads for torch (0 = torch's default). OpenMP threads spin-wait, so on a shared,
    # loaded machine 2 threads can be 20x slower than 1 for this small network.
    threads: int = 1


@dataclass
class EvalConfig:
    """Evaluation: MC-dropout passes, out-of-box shift, xi variance transform, speed timing."""

    mc_passes: int = 30
    # Prediction scored by C1-C4: the MC-dropout pass average (the released code's prediction
    # with passes > 1) or the single pass with dropout off. NUTS always uses dropout off.
    prediction: Literal["mc", "deterministic"] = "mc"
    ood_fraction: float = 0.2
    n_ood: int = 256
    xi_variance: Literal["delta", "original"] = "delta"
    n_speed_mocks: int = 5


@dataclass
class InferenceConfig:
    """NUTS over (mu_cen, mu_sat) on omega of a held-out mock."""

    warmup: int = 500
    samples: int = 500
    chains: int = 2
    step_size: float = 0.005
    n_cov_realizations: int = 48
    target_mu_cen: float = 0.6
    target_mu_sat: float = -0.4


@dataclass
class ShiftConfig:
    """Distribution-shift mock: distance-dependent satellite alignment a (r / r_vir)^gamma."""

    a: float = 0.6
    gamma: float = -0.5
    mu_cen: float = 0.6


@dataclass
class Config:
    """Everything one reproduction needs."""

    scale: str = "cpu"
    seed: int = 0
    halos: HaloConfig = field(default_factory=HaloConfig)
    mocks: MockConfig = field(default_factory=MockConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    shift: ShiftConfig = field(default_factory=ShiftConfig)


def load(name_or_path: str | Path, overrides: list[str] | None = None) -> Config:
    """Load a shipped config (``smoke``, ``cpu``, ``paper``) or a YAML path.

    Raises
    ------
    symlab.runs.ConfigError
        For a missing file, invalid YAML or an unknown key (naming it).
    """
    return load_scale_config(Config, "iaemu", name_or_path, overrides)

"""Dataclass configs, loaded from ``configs/<scale>.yaml`` with unknown keys rejected.

``load_experiment_config("cpu")`` reads the packaged file; a path reads any YAML file with the same
schema; ``overrides`` are dotted ``key=value`` strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from symlab.runs import SCALES as SCALES  # re-exported for the CLI and tests
from symlab.runs import ConfigError, load_scale_config, scale_config_path

PACKAGE = "equact"


@dataclass
class ModelConfig:
    """Network sizes. ``kind`` selects EquAct or the non-equivariant baseline."""

    kind: Literal["equact", "baseline"] = "equact"
    lmax: int = 2
    # Channels per U-Net level (level 0 = full resolution); the last level is the middle block.
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    out_channels: int = 32
    heads: int = 4
    knn: int = 16
    n_rbf: int = 32
    # Gaussian RBF cutoff per level (metres); the paper uses 0.2 / 0.4 / 0.8 / 1.6.
    cutoffs: list[float] = field(default_factory=lambda: [0.2, 0.4, 0.8])
    pool_ratio: float = 0.25
    film: Literal["ifilm", "film", "none"] = "ifilm"
    ffn_ratio: float = 2.0  # FFN hidden width / channels (paper: 2)
    n_proprio: int = 10
    # Language readout transformer (paper: 128 wide, 4 layers).
    cond_dim: int = 64
    lang_layers: int = 2
    lang_heads: int = 4
    lang_mlp: int = 128
    max_tokens: int = 16
    # Translation field: one attention layer from scene points to each ghost point.
    trans_lmax: int = 1
    trans_channels: int = 16
    trans_knn: int = 32
    trans_cutoff: float = 1.0
    # Rotation / gripper field at the chosen position.
    rot_lmax: int = 2
    rot_channels: int = 16
    rot_knn: int = 64
    rot_cutoff: float = 1.0
    # Baseline point transformer (same inputs, heads and losses).
    baseline_width: int = 64
    baseline_layers: int = 2
    baseline_token_ratio: float = 0.25


@dataclass
class ActionConfig:
    """Coarse-to-fine translation and the SO(3) rotation grid."""

    c2f_levels: int = 3
    ghost_train: int = 64  # ghost points per level in training
    ghost_eval: int = 300  # ghost points per level at evaluation
    topk_train: int = 4
    topk_eval: int = 3
    ball_diameter: float = 0.25  # level-1 ball diameter; each further level divides it by 4
    rot_grid: Literal["octahedral", "octahedral_healpix", "healpix"] = "octahedral_healpix"
    rot_level_train: int = 2
    rot_level_eval: int = 3
    rot_temperature_deg: float = 2.5


@dataclass
class DataConfig:
    """``source: synthetic``: the synthetic keyframe tasks of :mod:`equact.data`; ``source:
    benchmark``: the shared benchmark's keyframe suite (:mod:`equact.sim`; ``tasks`` are suite
    task names, demos recorded with 4 RGB-D cameras at ``image_size`` and reduced to
    ``raw_points`` (``raw_focused`` above the table) before the model's ``n_points``)."""

    source: Literal["synthetic", "benchmark"] = "synthetic"
    tasks: list[str] = field(
        default_factory=lambda: ["pick", "handle", "hover", "push", "touch", "reach"]
    )
    demos_per_task: int = 10
    test_episodes_per_task: int = 25
    n_points: int = 512
    n_focused: int = 384
    object_tilt_deg: float = 0.0  # > 0: random object tilts (the paper's "10*" SE(3) setting)
    seed: int = 0
    image_size: int = 128
    raw_points: int = 1024
    raw_focused: int = 768


@dataclass
class TrainConfig:
    """AdamW (paper: lr 1e-4, wd 5e-4, batch 2), augmentation, checkpoints."""

    steps: int = 2000
    batch_size: int = 4
    lr: float = 1e-4
    weight_decay: float = 5e-4
    grad_clip: float = 10.0
    aug_rot_deg: list[float] = field(default_factory=lambda: [5.0, 5.0, 45.0])
    aug_retries: int = 50
    jitter: float = 1e-4
    log_every: int = 50
    checkpoint_every: int = 500
    threads: int = 0  # torch intra-op threads; 0 leaves the default


@dataclass
class EvalConfig:
    """Keyframe success: position, rotation and gripper all within tolerance."""

    perturbations: list[str] = field(default_factory=lambda: ["none", "se2", "se3"])
    pos_tol: float = 0.03
    rot_tol_deg: float = 20.0
    se2_translation: float = 0.1
    se3_tilt_deg: float = 45.0
    batch_size: int = 8
    # Keyframe suite (closed loop): at most (most expert keyframes of a training demo of the
    # task + ``extra_keyframes``) keyframes per test episode.
    extra_keyframes: int = 1

    def keyframe_limit(self, expert_max: int) -> int:
        return expert_max + self.extra_keyframes


@dataclass
class ReproduceConfig:
    """What ``reproduce`` runs besides training EquAct."""

    baseline: bool = True
    film_ablation: bool = True
    equivariance_samples: int = 4
    timing_repeats: int = 3
    overfit_steps: int = 60


@dataclass
class ExperimentConfig:
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    action: ActionConfig = field(default_factory=ActionConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    reproduce: ReproduceConfig = field(default_factory=ReproduceConfig)

    def __post_init__(self) -> None:
        m, a = self.model, self.action
        if len(m.cutoffs) != len(m.channels):
            raise ConfigError("model.cutoffs needs one cutoff per U-Net level (model.channels)")
        if any(c % m.heads for c in m.channels + [m.out_channels]):
            raise ConfigError("model.heads must divide every entry of model.channels/out_channels")
        if m.lmax < 1 or m.rot_lmax < 1:
            raise ConfigError("model.lmax and model.rot_lmax must be >= 1")
        if not 1 <= a.c2f_levels <= 4:
            raise ConfigError("action.c2f_levels must be in 1..4")
        for name, n, k in (
            ("train", a.ghost_train, a.topk_train),
            ("eval", a.ghost_eval, a.topk_eval),
        ):
            if n < k or k < 1:
                raise ConfigError(f"action.ghost_{name} must be >= action.topk_{name} >= 1")
        if self.data.n_focused > self.data.n_points:
            raise ConfigError("data.n_focused must be <= data.n_points")
        if not self.data.n_points <= self.data.raw_points or self.data.raw_focused > (
            self.data.raw_points
        ):
            raise ConfigError("need data.n_points <= data.raw_points and raw_focused <= raw_points")
        bad = set(self.eval.perturbations) - {"none", "se2", "se3"}
        if bad:
            raise ConfigError(f"eval.perturbations: unknown {sorted(bad)}; use none, se2, se3")


def config_path(name_or_path: str | Path) -> Path:
    return scale_config_path(PACKAGE, name_or_path)


def load_experiment_config(
    name_or_path: str | Path, overrides: list[str] | None = None
) -> ExperimentConfig:
    """Load a shipped scale (``smoke``/``cpu``/``paper``) or a YAML file, with overrides."""
    return load_scale_config(ExperimentConfig, PACKAGE, name_or_path, overrides)

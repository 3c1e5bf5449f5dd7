"""Dataclass configs, loaded from ``configs/<scale>.yaml`` with unknown keys rejected.

One file per scale (``smoke``, ``cpu``, ``paper``) holds the data, model, training and evaluation
settings; ``load_experiment_config("cpu", ["train.steps=100"])`` reads the packaged file with
overrides, and a path reads any YAML file with the same schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from symlab.policy import TrainConfig
from symlab.runs import load_scale_config

EYE_IN_HAND = "robot0_eye_in_hand_image"
AGENTVIEW = "agentview_image"


@dataclass
class DataConfig:
    """Demonstrations (robomimic HDF5 layout).

    ``source: synthetic`` writes ``n_demos`` generated demonstrations (a gripper reaching for,
    grasping and lifting a block; rendered eye-in-hand and top-down views) to an HDF5 file with
    :class:`symlab.data.ReplayBuffer` and reads them back; ``source: hdf5`` reads ``path`` (a
    robomimic/MimicGen-layout file with absolute OSC actions, e.g. the benchmark's scripted
    demonstrations); ``source: sim`` collects ``n_demos`` scripted demonstrations of the task
    being trained on the closed-loop benchmark (``symlab.sim``, eye-in-hand + agentview RGB at
    ``image_size``) and caches them under ``cache_dir`` (default ``projects/sym_in_dp/data/``)
    with ``workers`` collection processes (see :mod:`sym_in_dp.sim`).
    """

    source: Literal["synthetic", "hdf5", "sim"] = "synthetic"
    path: str = ""
    cache_dir: str = ""
    workers: int = 1
    n_demos: int = 2
    episode_length: int = 40
    image_size: int = 84
    crop: int = 76
    val_fraction: float = 0.0
    seed: int = 0


@dataclass
class ModelConfig:
    """Architecture and diffusion settings (paper values by default)."""

    horizon: int = 16
    n_obs_steps: int = 2
    n_action_steps: int = 8
    # CNN Enc: ResNet-18 (first-stage width 64), spatial softmax, 64 features per camera.
    cnn_width: int = 64
    num_kp: int = 32
    feature_dim: int = 64
    # Equi Enc: escnn rot2dOnR2(N) residual encoder, 8/16/32/64 -> 128 regular fields.
    N: int = 8
    equi_widths: list[int] = field(default_factory=lambda: [8, 16, 32, 64])
    equi_out: int = 128
    # FA: the CNN encoder with feature_dim = fa_blocks * N, averaged over C_N image rotations.
    fa_blocks: int = 64
    fa_down_dims: list[int] = field(default_factory=lambda: [256, 512, 1024])
    # Denoiser (ConditionalUnet1D).
    down_dims: list[int] = field(default_factory=lambda: [512, 1024, 2048])
    diffusion_step_embed_dim: int = 128
    kernel_size: int = 5
    n_groups: int = 8
    # EquiDiff baseline.
    equidiff_n_hidden: int = 128
    equidiff_act_emb: int = 64
    equidiff_down_dims: list[int] = field(default_factory=lambda: [256, 512, 1024])
    # Diffusion.
    num_train_timesteps: int = 100
    sampler: Literal["ddpm", "ddim"] = "ddpm"
    num_inference_steps: int = 100
    workspace_center: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.8])

    def __post_init__(self) -> None:
        if len(self.equi_widths) != 4:
            raise ValueError("model.equi_widths needs 4 stage widths")
        if len(self.workspace_center) != 3:
            raise ValueError("model.workspace_center needs 3 values")
        if not 1 <= self.num_inference_steps <= self.num_train_timesteps:
            raise ValueError("model.num_inference_steps must be in [1, num_train_timesteps]")


@dataclass
class EvalConfig:
    """Closed-loop evaluation (through an env runner) and offline evaluation.

    With ``data.source: sim`` (or an explicit ``--env-runner``) every ``train.eval_every`` steps
    the EMA policy is rolled out for ``periodic_episodes`` test episodes (0: ``n_episodes``) and
    the best success rate is kept (the paper's protocol); after training the final EMA policy is
    evaluated on ``n_episodes`` test episodes (seeds ``100000 + i``). ``max_steps`` overrides the
    task's horizon (0: the task's). ``offline_windows`` demonstration windows measure the action
    error of the trained policy without a simulator.
    """

    tasks: list[str] = field(default_factory=lambda: ["lift", "stack_d1"])
    n_episodes: int = 50
    periodic_episodes: int = 0
    max_steps: int = 0
    eval_every: int = 0
    seeds: list[int] = field(default_factory=lambda: [0])
    offline_windows: int = 64


@dataclass
class ProbeConfig:
    """The generalisation probe (spec 7.2): train in half of the workspace, test rotated.

    Every method of ``methods`` is trained on ``train_task`` (the benchmark's Lift D1 with the
    cube only in the half ``y >= 0``) exactly like a row of the closed-loop table (same data
    size, training, periodic evaluation, run name ``reproduce-<scale>-<train_task>-<method>-
    s<seed>``). Its best periodic checkpoint, scored on ``eval.n_episodes`` test episodes of
    ``train_task`` (in distribution), is then scored on the same test seeds of every task of
    ``test_tasks`` (``lift_d1_half_yaw180``: the same scenes turned by 180 degrees about the
    workspace centre, i.e. the cube in the unseen half, the robot in place) and, with
    ``scene_yaw``, of ``train_task`` with the whole scene (table, robot, lights and cube)
    turned by a random yaw in +-180 degrees about the workspace centre. Empty ``methods``: no
    probe.
    """

    methods: list[str] = field(default_factory=list)
    train_task: str = "lift_d1_half"
    test_tasks: list[str] = field(default_factory=lambda: ["lift_d1_half_yaw180"])
    scene_yaw: bool = True


@dataclass
class BenchmarkConfig:
    """Throughput (training samples/s) and latency (one action chunk) measurement."""

    batch_size: int = 32
    train_steps: int = 5
    warmup_steps: int = 1
    latency_repeats: int = 3


@dataclass
class ExperimentConfig:
    """Everything one scale runs."""

    seed: int = 0
    methods: list[str] = field(
        default_factory=lambda: [
            "cnn_abs",
            "cnn_delta",
            "cnn_rel",
            "equienc_rel",
            "fa_rel",
            "equidiff_abs",
        ]
    )
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    # Overfitting check of ``reproduce``: every method trained on the two-demonstration
    # synthetic dataset; the acceptance is a >= 10x drop of the loss within 500 steps.
    overfit: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=500, batch_size=32, lr=1e-3, warmup_steps=20, log_every=1, use_ema=False
        )
    )

    def __post_init__(self) -> None:
        from .methods import METHODS

        for key, methods in (("methods", self.methods), ("probe.methods", self.probe.methods)):
            unknown = [m for m in methods if m not in METHODS]
            if unknown:
                raise ValueError(f"{key}: unknown methods {unknown}; known: {sorted(METHODS)}")


def load_experiment_config(
    config: str | Path, overrides: list[str] | None = None
) -> ExperimentConfig:
    """Load and validate an :class:`ExperimentConfig` (a scale name or a YAML path).

    Raises
    ------
    symlab.runs.ConfigError
        On unknown keys (with the closest valid key), wrong types or invalid values.
    """
    return load_scale_config(ExperimentConfig, "sym_in_dp", config, overrides)

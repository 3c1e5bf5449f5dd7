"""Dataclass configs, loaded from ``configs/<scale>.yaml`` with unknown keys rejected.

One file per scale holds everything: the training settings used by ``train`` and every experiment
run by ``reproduce``. ``load_experiment_config("cpu")`` reads the packaged file; a path reads any
other YAML file with the same schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from symlab.runs import SCALES as SCALES  # re-exported for the tests and CLI
from symlab.runs import load_config, scale_config_path


@dataclass
class ComponentsConfig:
    """Cor. 4.2: sampled minima of deep linear networks and their sign classes."""

    depths: list[int] = field(default_factory=lambda: [2, 3])
    widths: list[int] = field(default_factory=lambda: [1, 2])
    n_minima: int = 20
    n_curve_points: int = 21
    # Random polygonal paths tried between every pair of sign classes (besides the straight line).
    n_random_paths: int = 3
    n_path_vertices: int = 2
    path_points_per_segment: int = 201
    x_cond_max: float = 1e3
    weight_cond_max: float = 1e6
    minimum_loss_tol: float = 1e-10
    curve_loss_tol: float = 1e-8


@dataclass
class CurvatureConfig:
    """Thm. 6.2: closed-form curvature of orbit curves and the sagitta bound on the chord."""

    depths: list[int] = field(default_factory=lambda: [2, 3])
    widths: list[int] = field(default_factory=lambda: [1, 2])
    # One-parameter-subgroup curves exp(t xi).w per (depth, width), with ||xi|| log-spaced.
    n_subgroup_curves: int = 6
    log_norm_min: float = 0.01
    log_norm_max: float = 2.0
    # Polar curves between sampled minima of the same sign class per (depth, width).
    n_polar_curves: int = 4
    n_curve_points: int = 1001
    n_chord_points: int = 101
    n_tube_samples: int = 16
    n_segment_points: int = 11
    fd_step: float = 1e-2  # in units of the curve's time scale 1 / ||generator||
    distance_slack: float = 1e-9


@dataclass
class SkipConfig:
    """Prop. 4.3 / Fig. 1: scalar network with a skip connection, components on a grid."""

    grid_points: int = 101
    box: float = 3.0
    epsilons: list[float] = field(default_factory=lambda: [0.0, 0.5])
    x: float = 1.0
    y: float = 1.0


@dataclass
class PermutationConfig:
    """Prop. 5.2: odd hidden-unit permutations move a minimum to the other sign class."""

    depths: list[int] = field(default_factory=lambda: [2])
    widths: list[int] = field(default_factory=lambda: [2])
    n_samples: int = 20
    n_curve_points: int = 21


@dataclass
class LMCConfig:
    """Prop. 5.3 / Fig. 4: rescaling (m^-k W_l, m W_(l-1)) and the midpoint loss."""

    multipliers: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0])
    # Points on each straight line W -> W'(m), for the loss-along-the-line panel of the figure.
    n_interpolation_points: int = 21


@dataclass
class ApproxActionConfig:
    """Prop. 6.1 / Fig. 3a: approximate GL(h) action on random sigmoid networks."""

    n_networks: int = 10
    min_dim: int = 2
    max_dim: int = 20
    exact_tol: float = 1e-8


@dataclass
class NetworkTrainConfig:
    """One small network trained by full-batch gradient descent (sum-of-squares loss)."""

    widths: list[int] = field(default_factory=lambda: [16, 32, 4])
    activation: Literal["leaky_relu", "linear"] = "leaky_relu"
    negative_slope: float = 0.01
    batch: int = 8
    # "teacher": X ~ N(0, 1), Y from a random teacher of the same architecture.
    # "gaussian_square": the paper's linear-network data, square X, Y ~ N(0, 1), cond(X) < 1e3.
    data: Literal["teacher", "gaussian_square"] = "teacher"
    data_seed: int = 1234
    seeds: list[int] = field(default_factory=lambda: [0])
    steps: int = 500
    lr: float = 0.01
    optimizer: Literal["sgd", "adam"] = "adam"
    init_gain: float = 1.0
    checkpoint_every: int = 100
    log_every: int = 50


def _two_layer() -> NetworkTrainConfig:
    return NetworkTrainConfig()


def _five_layer() -> NetworkTrainConfig:
    return NetworkTrainConfig(widths=[8, 16, 16, 16, 16, 4], batch=32, steps=300)


def _deep_linear() -> NetworkTrainConfig:
    return NetworkTrainConfig(
        widths=[4, 4, 4, 4],
        activation="linear",
        batch=4,
        data="gaussian_square",
        seeds=[0, 1],
        steps=2000,
        lr=0.01,
        optimizer="sgd",
    )


@dataclass
class TrainingConfig:
    """The three networks trained by ``python -m mode_connectivity.train``."""

    two_layer: NetworkTrainConfig = field(default_factory=_two_layer)
    five_layer: NetworkTrainConfig = field(default_factory=_five_layer)
    deep_linear: NetworkTrainConfig = field(default_factory=_deep_linear)


@dataclass
class TrainedCurvesConfig:
    """Fig. 3b-c: symmetry curves vs linear interpolation on the trained networks."""

    n_group_elements: int = 10
    log_norm_min: float = 0.5
    log_norm_max: float = 5.0
    n_curve_points: int = 51
    group_seed: int = 7


@dataclass
class ExperimentConfig:
    """Everything one scale runs."""

    seed: int = 0
    time_budget_s: float = 60.0
    components: ComponentsConfig = field(default_factory=ComponentsConfig)
    curvature: CurvatureConfig = field(default_factory=CurvatureConfig)
    skip: SkipConfig = field(default_factory=SkipConfig)
    permutations: PermutationConfig = field(default_factory=PermutationConfig)
    lmc: LMCConfig = field(default_factory=LMCConfig)
    approx_action: ApproxActionConfig = field(default_factory=ApproxActionConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    trained_curves: TrainedCurvesConfig = field(default_factory=TrainedCurvesConfig)

    def __post_init__(self) -> None:
        # Checks the schema alone cannot express; they fail at load time with the key's name.
        if any(d < 2 for d in self.components.depths + self.curvature.depths):
            raise ValueError("components/curvature depths must be >= 2 (one hidden layer)")
        if any(h < 2 for h in self.permutations.widths):
            raise ValueError("permutations.widths must be >= 2 (an odd permutation needs 2 units)")
        if self.training.five_layer.activation != "leaky_relu":
            raise ValueError("training.five_layer.activation must be leaky_relu (Prop. 5.3)")
        if len(self.training.deep_linear.seeds) < 2:
            raise ValueError("training.deep_linear.seeds needs two seeds (a pair of solutions)")
        two = self.training.two_layer
        if len(two.widths) != 3 or two.widths[1] < two.batch:
            raise ValueError(
                "training.two_layer must be a two-layer network with hidden width >= batch, "
                "so that the approximate action of Prop. 6.1 is exact on the data"
            )


def config_path(config: str | Path) -> Path:
    """The YAML file for a scale name (``smoke``, ``cpu``, ``paper``) or a path."""
    return scale_config_path("mode_connectivity", config)


def load_experiment_config(
    config: str | Path, overrides: list[str] | None = None
) -> ExperimentConfig:
    """Load and validate an :class:`ExperimentConfig`.

    Parameters
    ----------
    config : str or path
        A scale name or a YAML file.
    overrides : list of str, optional
        ``dotted.key=value`` overrides (values parsed as YAML).

    Raises
    ------
    symlab.runs.ConfigError
        On unknown keys (with the closest valid key), wrong types or invalid values.
    """
    return load_config(ExperimentConfig, config_path(config), overrides)

"""Scene perturbations: a rigid transform ``g`` of the whole workspace, drawn from the seed.

``g`` is a ``4 x 4`` world transform. The environment applies it to every top-level body of the
scene (table, fixtures, robot base, lights by default) and to every object the task places, and
rotates gravity by ``g``'s rotation; external cameras stay fixed in the world. The physics of the
perturbed scene is therefore exactly the transformed physics of the unperturbed one, so a policy
that is equivariant to ``g`` keeps its success rate.

Tasks never see ``g`` when they place objects: they return poses in the unperturbed frame (the
"workspace frame") and the environment maps them through ``g``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .geometry import make_pose

__all__ = ["PERTURBATION_KINDS", "PerturbationConfig", "episode_rngs", "sample_perturbation"]

PERTURBATION_KINDS = ("none", "se2", "se3")

# Independent random streams per episode seed. Scene, expert noise and perturbation never share a
# stream, so an episode with seed s has the same objects (in the workspace frame) and the same
# expert noise whatever the perturbation is.
_STREAMS = {"scene": 0, "perturbation": 1, "expert": 2, "robot": 3, "policy": 4, "variation": 5}


def episode_rngs(seed: int) -> dict[str, np.random.Generator]:
    """Named, independent generators for one episode seed: scene, perturbation, expert, ..."""
    if seed < 0:
        raise ValueError(f"episode seed must be non-negative, found {seed}")
    return {k: np.random.default_rng([int(seed), v]) for k, v in _STREAMS.items()}


@dataclass(frozen=True)
class PerturbationConfig:
    """Distribution of the workspace transform ``g``.

    Parameters
    ----------
    kind : {'none', 'se2', 'se3'}
        ``se2``: rotation about the vertical axis through ``center`` plus a planar translation.
        ``se3``: the same followed by a rigid tilt (roll and pitch) about ``center``, plus an
        optional vertical translation; gravity is rotated with the workspace.
    max_yaw_deg : float
        Yaw uniform in ``[-max_yaw_deg, max_yaw_deg]``.
    max_translation : float
        Planar translation uniform in the square ``[-t, t]^2`` (metres).
    max_tilt_deg : float
        ``se3`` only: roll and pitch each uniform in ``[-max_tilt_deg, max_tilt_deg]``.
    max_height : float
        ``se3`` only: vertical translation uniform in ``[-h, h]`` (metres).
    center : (3,) or None
        Rotation centre; ``None`` uses the task's ``workspace_center``.
    fixed_lights : bool
        Keep the scene lights fixed in the world instead of moving them with the workspace.
    """

    kind: str = "none"
    max_yaw_deg: float = 180.0
    max_translation: float = 0.1
    max_tilt_deg: float = 15.0
    max_height: float = 0.05
    center: tuple[float, float, float] | None = None
    fixed_lights: bool = False

    def __post_init__(self):
        if self.kind not in PERTURBATION_KINDS:
            raise ValueError(
                f"unknown perturbation kind {self.kind!r}; expected one of {PERTURBATION_KINDS}"
            )
        for name in ("max_yaw_deg", "max_translation", "max_tilt_deg", "max_height"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"PerturbationConfig.{name} must be finite and >= 0, found {v}")


def sample_perturbation(
    config: PerturbationConfig, rng: np.random.Generator, center=(0.0, 0.0, 0.8)
) -> np.ndarray:
    """Draw ``g = T(c + t) R T(-c)`` (``4 x 4``); identity for ``kind='none'``.

    The same number of random draws is used for every kind, so switching the kind does not
    shift the stream.
    """
    c = np.asarray(config.center if config.center is not None else center, dtype=float)
    u = rng.uniform(-1.0, 1.0, size=6)
    if config.kind == "none":
        return np.eye(4)
    yaw = np.deg2rad(config.max_yaw_deg) * u[0]
    t = np.array([config.max_translation * u[1], config.max_translation * u[2], 0.0])
    R = Rotation.from_euler("z", yaw).as_matrix()
    if config.kind == "se3":
        tilt = np.deg2rad(config.max_tilt_deg) * u[3:5]
        R = R @ Rotation.from_euler("xy", tilt).as_matrix()
        t[2] = config.max_height * u[5]
    return make_pose(c + t - R @ c, R)

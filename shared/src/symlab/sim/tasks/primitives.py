"""Reusable pieces for scripted experts and scene sampling (numpy only).

All poses here are in the **workspace frame** (the unperturbed world) unless a function says
otherwise; map them to the world with ``env.from_workspace`` before building a
:class:`~symlab.sim.tasks.base.Waypoint`. The gripper frame is robosuite's ``grip_site``: z points
out of the hand along the fingers, the fingers close along x.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from ..geometry import make_pose

__all__ = [
    "R_DOWN",
    "planar_pose",
    "sample_separated_xy",
    "symmetric_yaw",
    "topdown_pose",
    "wrap_angle",
    "yaw_of",
]

#: Top-down gripper orientation at yaw 0: fingers close along world y, approach along -z. This is
#: (up to the Panda's 7 degree tilt) the orientation robosuite's Panda starts in.
R_DOWN = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


def wrap_angle(a):
    """Wrap angles to ``[-pi, pi)``."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def rot_z(yaw: float) -> np.ndarray:
    """Rotation about z."""
    return Rotation.from_euler("z", yaw).as_matrix()


def topdown_pose(pos, yaw: float) -> np.ndarray:
    """Top-down gripper pose at ``pos``; ``yaw`` rotates the fingers about the vertical."""
    return make_pose(pos, rot_z(yaw) @ R_DOWN)


def planar_pose(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    """Object pose with a yaw about the vertical."""
    return make_pose((x, y, z), rot_z(yaw))


def yaw_of(R: np.ndarray) -> float:
    """Heading of a rotation's x axis projected on the horizontal plane."""
    return float(np.arctan2(R[1, 0], R[0, 0]))


def symmetric_yaw(yaw: float, period: float, reference: float = 0.0) -> float:
    """The member of ``yaw + k * period`` closest to ``reference``."""
    return float(reference + (yaw - reference + period / 2) % period - period / 2)


def sample_separated_xy(
    rng: np.random.Generator,
    ranges: Sequence[tuple[tuple[float, float], tuple[float, float]]],
    min_dist: float,
    fixed: Sequence[Sequence[float]] = (),
    max_tries: int = 1000,
) -> np.ndarray:
    """Rejection-sample one ``(x, y)`` per range box with pairwise distances ``>= min_dist``
    (also from the ``fixed`` points). Deterministic for a given generator state."""
    for _ in range(max_tries):
        pts = np.array([[rng.uniform(*rx), rng.uniform(*ry)] for rx, ry in ranges])
        allp = np.concatenate([pts, np.asarray(fixed, dtype=float).reshape(-1, 2)])
        d = np.linalg.norm(allp[:, None] - allp[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        if d.min() >= min_dist:
            return pts
    raise RuntimeError(f"could not place {len(ranges)} objects {min_dist} m apart")

"""Keyframe extraction from demonstrations (PerAct / C2F-ARM convention).

A step is a keyframe when the gripper open state changes there, or when the arm is at rest (all
joint velocities within ``stopping_delta``) while the gripper state is steady, and never within
the ``stopped_buffer`` steps after a previous rest keyframe. The last step is always a keyframe.
This follows ``keypoint_discovery`` of ``MohitShridhar/peract`` (``helpers/demo_loading_utils``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["extract_keyframes"]


def extract_keyframes(
    gripper_open: np.ndarray,
    joint_velocities: np.ndarray,
    stopping_delta: float = 0.1,
    stopped_buffer: int = 4,
) -> list[int]:
    """Indices of the keyframes of one demonstration.

    Parameters
    ----------
    gripper_open : (T,) array
        Gripper open state per step (bool or 0/1).
    joint_velocities : (T, J) array
        Arm joint velocities per step.
    stopping_delta : float
        Velocity tolerance (rad/s) for "at rest" (PerAct uses 0.1).
    stopped_buffer : int
        Steps after a rest keyframe during which no other rest keyframe is taken.

    Returns
    -------
    list of int
        Increasing step indices, always ending with ``T - 1``.
    """
    g = np.asarray(gripper_open).astype(bool).reshape(-1)
    v = np.asarray(joint_velocities, dtype=float)
    n = len(g)
    if v.shape[0] != n:
        raise ValueError(f"gripper_open has {n} steps but joint_velocities has {v.shape[0]}")
    if n == 0:
        return []
    small = np.all(np.abs(v) <= stopping_delta, axis=-1)
    # Gripper steady over i-2 .. i+1 (PerAct's gripper_state_no_change), vectorized.
    steady = np.zeros(n, dtype=bool)
    if n >= 4:
        i = np.arange(2, n - 2)
        steady[i] = (g[i] == g[i + 1]) & (g[i] == g[i - 1]) & (g[i - 2] == g[i - 1])
    changed = np.zeros(n, dtype=bool)
    changed[1:] = g[1:] != g[:-1]
    keys: list[int] = []
    buffer = 0
    for i in range(n):  # the rest buffer makes this a scan over time (not over points)
        stopped = buffer <= 0 and small[i] and i != n - 2 and steady[i]
        buffer = stopped_buffer if stopped else buffer - 1
        if i != 0 and (changed[i] or i == n - 1 or stopped):
            keys.append(i)
    if len(keys) > 1 and keys[-1] - 1 == keys[-2]:
        keys.pop(-2)
    return keys

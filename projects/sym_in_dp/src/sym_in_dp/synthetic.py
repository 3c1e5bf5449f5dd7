"""Synthetic demonstrations in the robomimic HDF5 layout (until the benchmark's tasks exist).

A gripper (pointing down, random start) reaches a block at a random position and yaw, closes its
fingers and lifts it. Each step records robomimic's observations - ``robot0_eef_pos``,
``robot0_eef_quat`` (x y z w), ``robot0_gripper_qpos``, an 84x84 eye-in-hand image and a
top-down ``agentview`` image - and robosuite's absolute OSC action ``[pos, axis-angle, gripper]``
(the next pose). The eye-in-hand image is rendered from the block's pose in the gripper frame
only, so, as with a real wrist camera, it does not change under a change of world frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from symlab.data import ReplayBuffer
from symlab.groups import matrix_to_axis_angle, matrix_to_quaternion

from .config import AGENTVIEW, EYE_IN_HAND, DataConfig

TABLE_Z = 0.8
BLOCK_HALF = 0.025


def _smooth(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3 - 2 * s)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*a.shape, 3, 3)


def _blobs(centers: np.ndarray, radii: np.ndarray, colors: np.ndarray, size: int) -> np.ndarray:
    """Render soft discs: centers (T, K, 2) pixels (u right, v down), radii (T, K), colors (K, 3)
    onto a grey background; returns (T, size, size, 3) uint8."""
    grid = np.arange(size, dtype=np.float64)
    du = grid[None, None, None, :] - centers[..., 0][..., None, None]  # (T, K, 1, W)
    dv = grid[None, None, :, None] - centers[..., 1][..., None, None]  # (T, K, H, 1)
    alpha = np.exp(-0.5 * (du**2 + dv**2) / np.maximum(radii, 0.5)[..., None, None] ** 2)
    img = np.full((centers.shape[0], size, size, 3), 0.35)
    for k in range(centers.shape[1]):  # a handful of objects, vectorised over time and pixels
        a = alpha[:, k, :, :, None]
        img = img * (1 - a) + a * colors[k]
    return (255 * np.clip(img, 0, 1)).astype(np.uint8)


def render_eye_in_hand(block_in_gripper: np.ndarray, marker_in_gripper: np.ndarray, size: int):
    """Pinhole view along the gripper's z axis of the block and of a marker on its +x face."""
    pts = np.stack([block_in_gripper, marker_in_gripper], axis=1)  # (T, 2, 3)
    depth = np.maximum(pts[..., 2], 0.02)
    focal = 0.9 * size
    uv = focal * pts[..., :2] / depth[..., None] + (size - 1) / 2
    radii = focal * np.array([BLOCK_HALF, 0.4 * BLOCK_HALF]) / depth
    colors = np.array([[0.85, 0.15, 0.1], [0.1, 0.8, 0.2]])
    return _blobs(uv, radii, colors, size)


def render_agentview(block_xy: np.ndarray, gripper_xy: np.ndarray, size: int) -> np.ndarray:
    """Top-down orthographic view of the 0.6 m x 0.6 m workspace (x right, y up)."""
    scale = size / 0.6
    pts = np.stack([block_xy, gripper_xy], axis=1)
    uv = np.stack([pts[..., 0] * scale, -pts[..., 1] * scale], -1) + (size - 1) / 2
    radii = np.broadcast_to(np.array([BLOCK_HALF * scale, 0.6 * BLOCK_HALF * scale]), uv.shape[:2])
    colors = np.array([[0.85, 0.15, 0.1], [0.2, 0.3, 0.9]])
    return _blobs(uv, radii, colors, size)


def make_demo(rng: np.random.Generator, length: int, image_size: int) -> dict:
    """One demonstration as a robomimic episode dict."""
    block = np.array([*rng.uniform(-0.15, 0.15, 2), TABLE_Z + BLOCK_HALF])
    block_yaw = rng.uniform(-np.pi, np.pi)
    start = np.array([*rng.uniform(-0.2, 0.2, 2), TABLE_Z + rng.uniform(0.15, 0.25)])
    start_yaw = rng.uniform(-np.pi, np.pi)
    # Grasp yaw: the block's yaw modulo its 90-degree symmetry, closest to the start yaw.
    grasp_yaw = start_yaw + ((block_yaw - start_yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)

    s = np.linspace(0.0, 1.0, length + 1)
    reach = _smooth(s / 0.5)
    lift = _smooth((s - 0.6) / 0.4)
    pos = start + reach[:, None] * (block - start) + lift[:, None] * np.array([0, 0, 0.15])
    yaw = start_yaw + reach * (grasp_yaw - start_yaw)
    down = np.diag([1.0, -1.0, -1.0])  # gripper z axis pointing at the table
    R = _rot_z(yaw) @ down
    closed = s >= 0.55
    width = np.where(closed, 0.02, 0.04)

    # Once grasped, the block moves with the gripper.
    block_pos = np.where((s >= 0.6)[:, None], pos, block)
    Rt = np.swapaxes(R, -1, -2)
    marker = block_pos + _rot_z(np.full(length + 1, block_yaw)) @ np.array([BLOCK_HALF, 0, 0])
    block_g = np.einsum("tij,tj->ti", Rt, block_pos - pos)
    marker_g = np.einsum("tij,tj->ti", Rt, marker - pos)

    R_t = torch.from_numpy(R)
    quat_xyzw = matrix_to_quaternion(R_t)[:, [1, 2, 3, 0]].numpy()
    axis_angle = matrix_to_axis_angle(R_t).numpy()
    T = length
    actions = np.concatenate(
        [pos[1:], axis_angle[1:], np.where(closed[1:], 1.0, -1.0)[:, None]], axis=1
    )
    obs = {
        "robot0_eef_pos": pos[:T],
        "robot0_eef_quat": quat_xyzw[:T],
        "robot0_gripper_qpos": np.stack([width[:T] / 2, -width[:T] / 2], -1),
        EYE_IN_HAND: render_eye_in_hand(block_g[:T], marker_g[:T], image_size),
        AGENTVIEW: render_agentview(block_pos[:T, :2], pos[:T, :2], image_size),
    }
    rewards = (s[1:] >= 0.95).astype(np.float64)
    return {"actions": actions, "obs": obs, "rewards": rewards, "dones": rewards}


def synthetic_buffer(cfg: DataConfig) -> ReplayBuffer:
    """``cfg.n_demos`` demonstrations, seeded by ``cfg.seed``."""
    rng = np.random.default_rng(cfg.seed)
    buf = ReplayBuffer(env_args={"env_name": "SyntheticReachLift", "type": "synthetic"})
    for _ in range(cfg.n_demos):
        buf.add_episode(make_demo(rng, cfg.episode_length, cfg.image_size))
    return buf


def write_synthetic_hdf5(cfg: DataConfig, path: str | Path) -> Path:
    """Write the synthetic demonstrations to ``path`` in robomimic layout (atomically)."""
    path = Path(path)
    synthetic_buffer(cfg).write_robomimic_hdf5(path)
    return path

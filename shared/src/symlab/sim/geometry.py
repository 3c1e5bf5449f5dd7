"""Pose, camera and point-cloud geometry (numpy only; no MuJoCo needed).

Conventions
-----------
* Poses are ``4 x 4`` homogeneous matrices ``T_world_frame`` (frame -> world).
* Quaternions in observations follow robosuite: ``xyzw``.
* Camera extrinsics are camera-to-world in the **OpenCV** convention (x right, y down, z forward);
  intrinsics ``K`` map camera coordinates to pixel coordinates whose integer values are pixel
  centres, so ``cx = (W - 1) / 2``. Images are stored top row first (OpenCV convention).
* Depth images are metric (metres along the optical axis, i.e. the camera z coordinate).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "crop_points",
    "depth_to_points",
    "farthest_point_sample",
    "fuse_point_clouds",
    "intrinsics_from_fovy",
    "invert_pose",
    "look_at",
    "make_pose",
    "pose_error",
    "pose_from_pos_quat",
    "pose_from_vec",
    "pose_to_pos_quat",
    "pose_to_vec",
    "project_points",
    "transform_points",
    "voxelize",
]


def make_pose(pos=None, rot=None) -> np.ndarray:
    """``4 x 4`` pose from a position (3,) and a rotation matrix (3, 3) (identity if omitted)."""
    T = np.eye(4)
    if rot is not None:
        T[:3, :3] = rot
    if pos is not None:
        T[:3, 3] = pos
    return T


def invert_pose(T: np.ndarray) -> np.ndarray:
    """Inverse of (a batch of) rigid transforms, shape ``(..., 4, 4)``."""
    T = np.asarray(T, dtype=float)
    R = T[..., :3, :3]
    Rt = np.swapaxes(R, -1, -2)
    out = np.zeros_like(T)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", Rt, T[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def pose_from_pos_quat(pos, quat_xyzw) -> np.ndarray:
    """Pose from position and ``xyzw`` quaternion."""
    return make_pose(pos, Rotation.from_quat(np.asarray(quat_xyzw, dtype=float)).as_matrix())


def pose_to_pos_quat(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position and ``xyzw`` quaternion (with ``w >= 0``) of a pose."""
    q = Rotation.from_matrix(T[:3, :3]).as_quat()
    if q[3] < 0:
        q = -q
    return T[:3, 3].copy(), q


def pose_from_vec(vec) -> np.ndarray:
    """Pose from the 6-vector ``(x, y, z, rx, ry, rz)`` (axis-angle rotation)."""
    vec = np.asarray(vec, dtype=float)
    return make_pose(vec[:3], Rotation.from_rotvec(vec[3:6]).as_matrix())


def pose_to_vec(T: np.ndarray) -> np.ndarray:
    """The 6-vector ``(x, y, z, rx, ry, rz)`` of a pose (axis-angle rotation)."""
    return np.concatenate([T[:3, 3], Rotation.from_matrix(T[:3, :3]).as_rotvec()])


def pose_error(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Translation distance (m) and rotation angle (rad) between pose batches ``(..., 4, 4)``."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    dpos = np.linalg.norm(A[..., :3, 3] - B[..., :3, 3], axis=-1)
    Rrel = np.einsum("...ji,...jk->...ik", A[..., :3, :3], B[..., :3, :3])
    cos = (np.trace(Rrel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return dpos, np.arccos(np.clip(cos, -1.0, 1.0))


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a ``4 x 4`` transform to points ``(..., 3)``."""
    return points @ T[:3, :3].T + T[:3, 3]


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """OpenCV camera-to-world pose at ``eye`` looking at ``target`` (image y points down)."""
    eye = np.asarray(eye, dtype=float)
    z = np.asarray(target, dtype=float) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=float))
    if np.linalg.norm(x) < 1e-6:  # looking straight along `up`: pick any perpendicular
        x = np.cross(z, np.array([1.0, 0.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return make_pose(eye, np.stack([x, y, z], axis=1))


def intrinsics_from_fovy(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """Pinhole intrinsics of a MuJoCo camera (vertical field of view, square pixels)."""
    f = 0.5 * height / np.tan(np.deg2rad(fovy_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def depth_to_points(depth: np.ndarray, K: np.ndarray, cam_to_world: np.ndarray | None = None):
    """Back-project a metric depth image ``(H, W)`` to points ``(H, W, 3)``.

    Points are in the camera (OpenCV) frame, or the world frame when ``cam_to_world`` is given.
    """
    depth = np.asarray(depth, dtype=np.float64)
    h, w = depth.shape
    u = np.arange(w, dtype=np.float64)[None, :]
    v = np.arange(h, dtype=np.float64)[:, None]
    x = (u - K[0, 2]) / K[0, 0] * depth
    y = (v - K[1, 2]) / K[1, 1] * depth
    pts = np.stack([x, np.broadcast_to(y, depth.shape), depth], axis=-1)
    if cam_to_world is not None:
        pts = transform_points(cam_to_world, pts)
    return pts


def project_points(points: np.ndarray, K: np.ndarray, cam_to_world: np.ndarray | None = None):
    """Project world (or camera-frame) points ``(..., 3)`` to pixels ``(..., 2)`` and depth."""
    pts = np.asarray(points, dtype=np.float64)
    if cam_to_world is not None:
        pts = transform_points(invert_pose(cam_to_world), pts)
    z = pts[..., 2]
    uv = np.stack(
        [K[0, 0] * pts[..., 0] / z + K[0, 2], K[1, 1] * pts[..., 1] / z + K[1, 2]], axis=-1
    )
    return uv, z


def crop_points(points: np.ndarray, bounds, *features: np.ndarray):
    """Keep points inside the axis-aligned box ``bounds = (lo, hi)``; filter features alike."""
    lo, hi = np.asarray(bounds[0], dtype=float), np.asarray(bounds[1], dtype=float)
    keep = np.all((points >= lo) & (points <= hi), axis=-1)
    if not features:
        return points[keep]
    return (points[keep], *(f[keep] for f in features))


def fuse_point_clouds(depths, intrinsics, extrinsics, colors=None, bounds=None, max_depth=10.0):
    """Fuse several depth images into one world-frame cloud.

    Parameters
    ----------
    depths : sequence of (H_i, W_i) arrays
        Metric depth; pixels with depth ``<= 0`` or ``>= max_depth`` (background) are dropped.
    intrinsics, extrinsics : sequences of (3, 3) and (4, 4) arrays
        Per-camera ``K`` and OpenCV camera-to-world poses.
    colors : sequence of (H_i, W_i, C) arrays, optional
        Per-pixel features carried along (e.g. RGB).
    bounds : (lo, hi), optional
        World-frame crop box.

    Returns
    -------
    points : (N, 3) float32, and features (N, C) when ``colors`` is given.
    """
    pts_all, col_all = [], []
    for i, (d, K, E) in enumerate(zip(depths, intrinsics, extrinsics)):
        pts = depth_to_points(d, K, E).reshape(-1, 3)
        valid = (d.reshape(-1) > 0) & (d.reshape(-1) < max_depth)
        pts_all.append(pts[valid])
        if colors is not None:
            c = np.asarray(colors[i])
            col_all.append(c.reshape(-1, c.shape[-1])[valid])
    points = np.concatenate(pts_all, axis=0) if pts_all else np.zeros((0, 3))
    feats = np.concatenate(col_all, axis=0) if colors is not None else None
    if bounds is not None:
        if feats is None:
            points = crop_points(points, bounds)
        else:
            points, feats = crop_points(points, bounds, feats)
    points = points.astype(np.float32)
    return points if feats is None else (points, feats)


def voxelize(points: np.ndarray, bounds, resolution: int, features: np.ndarray | None = None):
    """Scatter points into a dense ``resolution^3`` grid over ``bounds``.

    Returns an array ``(C + 1, R, R, R)`` float32: the mean of each feature channel over the
    points in a voxel, and a final occupancy channel (1 where any point fell). Points outside
    the bounds are ignored. Axis order is ``(x, y, z)``.
    """
    lo, hi = np.asarray(bounds[0], dtype=float), np.asarray(bounds[1], dtype=float)
    r = int(resolution)
    idx = np.floor((points - lo) / (hi - lo) * r).astype(np.int64)
    keep = np.all((idx >= 0) & (idx < r), axis=-1)
    idx = idx[keep]
    flat = (idx[:, 0] * r + idx[:, 1]) * r + idx[:, 2]
    n_feat = 0 if features is None else features.shape[-1]
    grid = np.zeros((n_feat + 1, r * r * r), dtype=np.float64)
    counts = np.bincount(flat, minlength=r**3).astype(np.float64)
    if features is not None:
        f = np.asarray(features, dtype=np.float64)[keep]
        for c in range(n_feat):  # loop over channels only; points are scattered at once
            grid[c] = np.bincount(flat, weights=f[:, c], minlength=r**3)
        grid[:n_feat] /= np.maximum(counts, 1.0)
    grid[n_feat] = counts > 0
    return grid.reshape(n_feat + 1, r, r, r).astype(np.float32)


def farthest_point_sample(points: np.ndarray, n: int, rng: np.random.Generator | None = None):
    """Indices of ``n`` points chosen by farthest-point sampling (vectorized over points).

    When the cloud has fewer than ``n`` points, indices repeat (sampled with replacement) so the
    output always has ``n`` entries; an empty cloud raises ``ValueError``.
    """
    m = len(points)
    if m == 0:
        raise ValueError("farthest_point_sample: the point cloud is empty")
    rng = rng or np.random.default_rng(0)
    if m <= n:
        extra = rng.integers(0, m, size=n - m)
        return np.concatenate([np.arange(m), extra])
    pts = np.asarray(points, dtype=np.float64)
    chosen = np.empty(n, dtype=np.int64)
    chosen[0] = rng.integers(m)
    dist = np.sum((pts - pts[chosen[0]]) ** 2, axis=-1)
    for i in range(1, n):  # sequential by definition; each iteration is vectorized over points
        chosen[i] = int(np.argmax(dist))
        dist = np.minimum(dist, np.sum((pts - pts[chosen[i]]) ** 2, axis=-1))
    return chosen

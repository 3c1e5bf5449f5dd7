"""Rendered depth, intrinsics and extrinsics agree with the simulator's geometry: clouds from
four cameras put a known cube's points on its surface, and depth equals ray-cast distance."""

import numpy as np
import pytest

pytest.importorskip("robosuite", reason="robosuite not installed (pip install symlab[sim])")

from symlab.sim import CameraConfig, ObservationConfig
from symlab.sim.env import SimEnv
from symlab.sim.geometry import depth_to_points, invert_pose, project_points

pytestmark = pytest.mark.sim

CAMS = ("front", "left_shoulder", "right_shoulder", "overhead", "agentview")


@pytest.fixture(scope="module")
def scene():
    cams = tuple(CameraConfig(c, 128, 128, depth=True, segmentation=True) for c in CAMS)
    obs_cfg = ObservationConfig(
        cameras=cams, camera_params=True, point_cloud=True, voxel_resolution=16
    )
    env = SimEnv("stack_d0", obs=obs_cfg)
    obs = env.reset(4)
    yield env, obs
    env.close()


def box_distance(points_local, half):
    """Unsigned distance of points (box frame) to the surface of a centred box."""
    q = np.abs(points_local) - half
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
    inside = np.minimum(np.max(q, axis=-1), 0.0)
    return np.abs(outside + inside)


def test_cube_points_lie_on_its_surface_in_every_camera(scene):
    env, obs = scene
    body = env._id("body", "cubeB_main")
    T = env.body_pose("cubeB_main")
    seen = 0
    for cam in CAMS:
        mask = obs[f"{cam}_segmentation"] == body
        if mask.sum() < 5:
            continue
        seen += 1
        pts = depth_to_points(
            obs[f"{cam}_depth"], obs[f"{cam}_intrinsics"], obs[f"{cam}_extrinsics"]
        )[mask]
        local = (pts - T[:3, 3]) @ T[:3, :3]
        dist = box_distance(local, 0.025)
        assert dist.max() < 0.01, (cam, dist.max())
        assert np.median(dist) < 0.003, (cam, np.median(dist))
    assert seen >= 3


def test_depth_matches_ray_casting(scene):
    import mujoco

    env, obs = scene
    rng = np.random.default_rng(0)
    for cam in ("front", "overhead"):
        K, E, depth = obs[f"{cam}_intrinsics"], obs[f"{cam}_extrinsics"], obs[f"{cam}_depth"]
        uv = rng.integers(10, 118, size=(20, 2))
        for u, v in uv:
            d_cam = np.linalg.solve(K, np.array([u, v, 1.0]))
            ray = E[:3, :3] @ d_cam
            geomid = np.zeros(1, dtype=np.int32)
            visual = np.array([0, 1, 0, 0, 0, 0], dtype=np.uint8)  # rendered geom groups
            dist = mujoco.mj_ray(
                env.model, env.data, E[:3, 3], ray / np.linalg.norm(ray), visual, 1, -1, geomid
            )
            if dist < 0:
                continue
            expected = dist / np.linalg.norm(ray)  # distance along the optical axis
            assert abs(depth[v, u] - expected) < 1e-3, (cam, u, v, depth[v, u], expected)


def test_reprojection_roundtrip_with_env_cameras(scene):
    env, obs = scene
    for cam in CAMS:
        K, E = obs[f"{cam}_intrinsics"], obs[f"{cam}_extrinsics"]
        pts = depth_to_points(obs[f"{cam}_depth"], K, E)
        uv, _ = project_points(pts, K, E)
        u, v = np.meshgrid(np.arange(128), np.arange(128))
        assert np.abs(uv[..., 0] - u).max() < 1e-3 and np.abs(uv[..., 1] - v).max() < 1e-3
        np.testing.assert_allclose(invert_pose(E) @ E, np.eye(4), atol=1e-9)


def test_fused_cloud_and_voxels(scene):
    env, obs = scene
    pts, rgb = obs["point_cloud"], obs["point_cloud_rgb"]
    lo, hi = map(np.asarray, env.task.workspace_bounds)
    assert pts.shape[1] == 3 and len(pts) == len(rgb) > 1000
    assert np.all(pts >= lo - 1e-6) and np.all(pts <= hi + 1e-6)
    vox = obs["voxels"]
    assert vox.shape == (4, 16, 16, 16)
    assert set(np.unique(vox[3])) <= {0.0, 1.0} and vox[3].sum() > 10

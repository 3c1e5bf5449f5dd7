"""Camera and point-cloud geometry, perturbation sampling, keyframe extraction, Wilson
intervals, configs and the task registry (no simulator needed)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from symlab.sim import (
    CameraConfig,
    ObservationConfig,
    PerturbationConfig,
    TaskError,
    episode_rngs,
    list_tasks,
    make_task,
    sample_perturbation,
)
from symlab.sim.evaluate import wilson_interval
from symlab.sim.geometry import (
    depth_to_points,
    farthest_point_sample,
    fuse_point_clouds,
    intrinsics_from_fovy,
    invert_pose,
    look_at,
    make_pose,
    pose_error,
    pose_from_pos_quat,
    pose_from_vec,
    pose_to_pos_quat,
    pose_to_vec,
    project_points,
    voxelize,
)
from symlab.sim.keyframes import extract_keyframes


def random_pose(rng):
    return make_pose(
        rng.normal(size=3), Rotation.random(random_state=rng.integers(1 << 30)).as_matrix()
    )


def test_depth_points_reprojection_roundtrip():
    rng = np.random.default_rng(0)
    K = intrinsics_from_fovy(45.0, 64, 48)
    E = random_pose(rng)
    depth = rng.uniform(0.3, 2.0, size=(48, 64))
    pts = depth_to_points(depth, K, E)
    uv, z = project_points(pts, K, E)
    u, v = np.meshgrid(np.arange(64), np.arange(48))
    assert np.abs(uv[..., 0] - u).max() < 1e-6
    assert np.abs(uv[..., 1] - v).max() < 1e-6
    assert np.abs(z - depth).max() < 1e-9


def test_intrinsics_centre_and_focal():
    K = intrinsics_from_fovy(90.0, 100, 100)
    # fovy 90: the top image edge (v = -0.5) is at 45 degrees.
    assert K[0, 0] == pytest.approx(50.0)
    assert K[0, 2] == pytest.approx(49.5)


def test_look_at_axes():
    E = look_at([1.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    z = E[:3, 2]
    np.testing.assert_allclose(z, np.array([-1.0, 0.0, -1.0]) / np.sqrt(2), atol=1e-12)
    assert E[2, 1] < 0  # image y (down) points downwards in the world
    np.testing.assert_allclose(E[:3, :3] @ E[:3, :3].T, np.eye(3), atol=1e-12)
    assert np.linalg.det(E[:3, :3]) == pytest.approx(1.0)


def test_pose_conversions_roundtrip():
    rng = np.random.default_rng(1)
    T = random_pose(rng)
    np.testing.assert_allclose(pose_from_vec(pose_to_vec(T)), T, atol=1e-12)
    p, q = pose_to_pos_quat(T)
    np.testing.assert_allclose(pose_from_pos_quat(p, q), T, atol=1e-12)
    np.testing.assert_allclose(invert_pose(T) @ T, np.eye(4), atol=1e-12)
    d, a = pose_error(T, T @ make_pose([0.01, 0, 0], Rotation.from_euler("z", 0.1).as_matrix()))
    assert d == pytest.approx(0.01) and a == pytest.approx(0.1)


def test_fuse_crops_and_drops_background():
    K = intrinsics_from_fovy(60.0, 8, 8)
    E = np.eye(4)
    depth = np.full((8, 8), 1.0)
    depth[0, 0] = 0.0  # invalid
    depth[1, 1] = 100.0  # background
    pts, col = fuse_point_clouds(
        [depth, depth],
        [K, K],
        [E, E],
        colors=[np.ones((8, 8, 3))] * 2,
        bounds=([-10, -10, 0.5], [10, 10, 2.0]),
    )
    assert pts.shape == (2 * 62, 3) and col.shape == (2 * 62, 3)
    assert pts.dtype == np.float32


def test_voxelize_matches_reference_loop():
    rng = np.random.default_rng(2)
    pts = rng.uniform(-1.2, 1.2, size=(500, 3))
    feats = rng.uniform(size=(500, 3))
    grid = voxelize(pts, ([-1, -1, -1], [1, 1, 1]), 4, feats)
    ref = np.zeros((4, 4, 4, 4))
    cnt = np.zeros((4, 4, 4))
    for p, f in zip(pts, feats):
        i = np.floor((p + 1) / 2 * 4).astype(int)
        if np.all((i >= 0) & (i < 4)):
            ref[:3, i[0], i[1], i[2]] += f
            cnt[tuple(i)] += 1
    ref[:3] /= np.maximum(cnt, 1)
    ref[3] = cnt > 0
    np.testing.assert_allclose(grid, ref, atol=1e-6)


def test_farthest_point_sampling_covers_clusters():
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0, 0], [5, 0, 0], [0, 5, 0], [0, 0, 5]], dtype=float)
    pts = np.concatenate([c + 0.01 * rng.normal(size=(50, 3)) for c in centres])
    idx = farthest_point_sample(pts, 4)
    assert sorted(idx // 50) == [0, 1, 2, 3]
    assert len(farthest_point_sample(pts[:3], 10)) == 10
    with pytest.raises(ValueError, match="empty"):
        farthest_point_sample(pts[:0], 4)


@pytest.mark.parametrize("kind", ["se2", "se3"])
def test_perturbation_sampling(kind):
    cfg = PerturbationConfig(kind, max_tilt_deg=15.0, max_translation=0.1, max_height=0.05)
    c = np.array([0.0, 0.0, 0.8])
    for seed in range(20):
        g = sample_perturbation(cfg, episode_rngs(seed)["perturbation"], c)
        R = g[:3, :3]
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        moved = g[:3, :3] @ c + g[:3, 3] - c
        if kind == "se2":
            np.testing.assert_allclose(R[:, 2], [0, 0, 1], atol=1e-12)
            assert abs(moved[2]) < 1e-12 and np.all(np.abs(moved[:2]) <= 0.1)
        else:
            tilt = np.degrees(np.arccos(np.clip(R[2, 2], -1, 1)))
            assert tilt <= 15.0 * np.sqrt(2) + 1e-9 and abs(moved[2]) <= 0.05
    g0 = sample_perturbation(PerturbationConfig("none"), episode_rngs(0)["perturbation"], c)
    np.testing.assert_array_equal(g0, np.eye(4))


def test_episode_streams_are_independent_and_reproducible():
    a, b = episode_rngs(7), episode_rngs(7)
    assert a["scene"].random() == b["scene"].random()
    # drawing from one stream does not shift another
    x = episode_rngs(7)
    x["perturbation"].random(100)
    assert x["scene"].random() == episode_rngs(7)["scene"].random()
    with pytest.raises(ValueError):
        episode_rngs(-1)
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        PerturbationConfig("se4")


def test_keyframe_extraction_gripper_changes_and_stops():
    T = 40
    open_ = np.ones(T, bool)
    open_[15:] = False  # close at 15
    vel = np.ones((T, 7))
    vel[8:11] = 0.0  # at rest 8..10
    vel[25:27] = 0.0  # at rest 25..26
    keys = extract_keyframes(open_, vel)
    assert 15 in keys and keys[-1] == T - 1
    assert 8 in keys and 25 in keys
    assert 9 not in keys and 10 not in keys  # within the stopped buffer
    assert all(np.diff(keys) > 0)
    with pytest.raises(ValueError):
        extract_keyframes(open_, vel[:-1])


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and lo == pytest.approx(0.9287, abs=1e-4)


def test_configs_validate():
    with pytest.raises(ValueError, match="unknown camera"):
        CameraConfig("frontt")
    with pytest.raises(ValueError, match="depth"):
        ObservationConfig(cameras=(CameraConfig("front"),), point_cloud=True)
    with pytest.raises(ValueError, match="duplicate"):
        ObservationConfig(cameras=(CameraConfig("front"), CameraConfig("front")))


def test_registry():
    names = list_tasks("closed_loop")
    for t in [
        "lift",
        "stack_d1",
        "stack_three_d1",
        "square_d0",
        "square_d2",
        "pick_place_can",
        "door",
    ]:
        assert t in names
    with pytest.raises(TaskError, match="did you mean"):
        make_task("stak_d1")
    with pytest.raises(TaskError, match="unknown option"):
        make_task("lift", colour="red")
    assert make_task("stack_d0", level="D1").config["level"] == "D1"


def test_half_workspace_and_turned_scenes():
    """The generalisation-probe tasks: the cube in the half y >= 0 of Lift D1, and the same
    scenes turned by 180 degrees about the workspace centre (the other half, same heights)."""
    half, turned = make_task("lift_d1_half"), make_task("lift_d1_half_yaw180")
    assert half.config["region"] == "half" and turned.config["scene_yaw_deg"] == 180.0
    c = np.asarray(half.workspace_center)
    flip = np.diag([-1.0, -1.0, 1.0])
    xy = []
    for seed in range(200):
        (p,) = half.sample_scene(np.random.default_rng(seed), 0).object_poses.values()
        (q,) = turned.sample_scene(np.random.default_rng(seed), 0).object_poses.values()
        # q = T(c) Rz(180) T(-c) p, exactly.
        np.testing.assert_allclose(q[:3, :3], flip @ p[:3, :3], atol=1e-12)
        np.testing.assert_allclose(q[:3, 3], c + flip @ (p[:3, 3] - c), atol=1e-12)
        xy.append(p[:2, 3])
    xy = np.array(xy)
    assert xy[:, 1].min() >= 0.0 and xy[:, 1].max() > 0.15
    # x is cut to be symmetric (the D1 region stops at x = 0.12) so the turned half is reachable.
    assert np.abs(xy[:, 0]).max() <= 0.12 and xy[:, 0].min() < -0.1
    # Full D1 reaches y < 0 (the default region is unchanged).
    full = make_task("lift_d1")
    ys = [
        next(iter(full.sample_scene(np.random.default_rng(s), 0).object_poses.values()))[1, 3]
        for s in range(50)
    ]
    assert min(ys) < 0 < max(ys)
    with pytest.raises(TaskError, match="unknown region 'left'"):
        make_task("lift_d1", region="left")
    with pytest.raises(TaskError, match="scene_yaw_deg must be a finite number"):
        make_task("stack_d1", scene_yaw_deg=float("nan"))


def test_collect_config_needs_fixed_size_clouds():
    from symlab.sim.collect import CollectConfig

    with pytest.raises(ValueError, match="point_cloud_points"):
        CollectConfig("lift", 2, obs=ObservationConfig.rlbench())
    cfg = CollectConfig("lift", 2, obs=ObservationConfig.rlbench(point_cloud_points=256))
    assert cfg.key() != CollectConfig("lift", 3).key()

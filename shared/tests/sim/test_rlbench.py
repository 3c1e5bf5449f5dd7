"""RLBench adapter: conversion code on synthetic RLBench observations and files; the live
environment only when RLBench is installed."""

import pickle
import sys
import types

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.transform import Rotation

from symlab.sim.geometry import depth_to_points, intrinsics_from_fovy, look_at
from symlab.sim.rlbench import (
    RLBenchEnv,
    camera_params_to_opencv,
    convert_observation,
    decode_depth_png,
    encode_depth_png,
    load_dat_episode,
    load_episode,
    pointcloud_from_depth_and_camera_params,
    rlbench_available,
)

FLIP = np.diag([-1.0, -1.0, 1.0])


def camera():
    K = intrinsics_from_fovy(50.0, 16, 12)
    E = look_at([1.0, 0.3, 1.5], [0.0, 0.0, 0.8])
    # CoppeliaSim's convention: negative focal lengths with the pose's x and y flipped.
    K_rl = K @ FLIP
    E_rl = E.copy()
    E_rl[:3, :3] = E[:3, :3] @ FLIP
    return K, E, K_rl, E_rl


def test_depth_png_roundtrip():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 1, size=(12, 16))
    png = encode_depth_png(d)
    assert png.dtype == np.uint8 and png.shape == (12, 16, 3)
    np.testing.assert_allclose(decode_depth_png(png), d, atol=1e-7)
    np.testing.assert_allclose(decode_depth_png(png, 0.1, 3.1), 0.1 + 3.0 * d, atol=1e-6)


def test_rlbench_pointcloud_matches_opencv_backprojection():
    K, E, K_rl, E_rl = camera()
    depth = np.random.default_rng(1).uniform(0.5, 2.0, size=(12, 16))
    ours = depth_to_points(depth, K, E)
    np.testing.assert_allclose(
        pointcloud_from_depth_and_camera_params(depth, E, K), ours, atol=1e-9
    )
    np.testing.assert_allclose(
        pointcloud_from_depth_and_camera_params(depth, E_rl, K_rl), ours, atol=1e-9
    )
    K2, E2 = camera_params_to_opencv(K_rl, E_rl)
    np.testing.assert_allclose(K2, K, atol=1e-12)
    np.testing.assert_allclose(E2, E, atol=1e-12)
    with pytest.raises(ValueError, match="one negative focal"):
        camera_params_to_opencv(K @ np.diag([-1.0, 1.0, 1.0]), E)


def synthetic_obs(i, K_rl, E_rl):
    rng = np.random.default_rng(i)
    q = Rotation.random(random_state=i).as_quat()
    return {
        "front_rgb": rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8),
        "front_depth": rng.uniform(0, 1, size=(12, 16)),
        "front_mask": rng.integers(0, 5, size=(12, 16)),
        "gripper_pose": np.concatenate([rng.normal(size=3), q]),
        "gripper_open": float(i < 3),
        "joint_positions": rng.normal(size=7),
        "joint_velocities": np.zeros(7) if i in (2, 5) else np.ones(7),
        "gripper_joint_positions": np.array([0.04, 0.04]),
        "misc": {
            "front_camera_intrinsics": K_rl,
            "front_camera_extrinsics": E_rl,
            "front_camera_near": 0.1,
            "front_camera_far": 4.1,
        },
    }


def test_convert_observation_units_and_frames():
    K, E, K_rl, E_rl = camera()
    ob = synthetic_obs(0, K_rl, E_rl)
    out = convert_observation(ob, cameras=("front",))
    np.testing.assert_allclose(out["front_depth"], 0.1 + 4.0 * ob["front_depth"], rtol=1e-6)
    np.testing.assert_allclose(out["front_intrinsics"], K, atol=1e-12)
    np.testing.assert_allclose(out["front_extrinsics"], E, atol=1e-12)
    np.testing.assert_allclose(out["robot0_eef_pose"][:3, 3], ob["gripper_pose"][:3])
    R = Rotation.from_quat(ob["gripper_pose"][3:]).as_matrix()
    np.testing.assert_allclose(out["robot0_eef_pose"][:3, :3], R, atol=1e-12)
    assert out["robot0_gripper_open"][0] == 1.0 and out["front_image"].dtype == np.uint8


def test_load_episode_folder_without_rlbench(tmp_path, monkeypatch):
    K, E, K_rl, E_rl = camera()
    # Pickle objects whose classes live in (fake) rlbench modules, as RLBench writes them.
    obs_mod = types.ModuleType("rlbench.backend.observation")
    demo_mod = types.ModuleType("rlbench.demo")

    class Observation:
        pass

    class Demo:
        pass

    Observation.__module__, Observation.__qualname__ = obs_mod.__name__, "Observation"
    Demo.__module__, Demo.__qualname__ = demo_mod.__name__, "Demo"
    obs_mod.Observation, demo_mod.Demo = Observation, Demo
    for name, mod in (
        ("rlbench", types.ModuleType("rlbench")),
        ("rlbench.backend", None),
        (obs_mod.__name__, obs_mod),
        (demo_mod.__name__, demo_mod),
    ):
        monkeypatch.setitem(sys.modules, name, mod or types.ModuleType(name))
    steps = []
    ep = tmp_path / "variation0" / "episodes" / "episode0"
    for i in range(8):
        raw = synthetic_obs(i, K_rl, E_rl)
        o = Observation()
        for k, v in raw.items():
            if k.startswith("front_"):
                continue
            setattr(o, k, v)
        steps.append(o)
        for kind in ("rgb", "depth", "mask"):
            (ep / f"front_{kind}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(raw["front_rgb"]).save(ep / "front_rgb" / f"{i}.png")
        Image.fromarray(encode_depth_png(raw["front_depth"])).save(ep / "front_depth" / f"{i}.png")
        m = raw["front_mask"].astype(np.uint8)
        Image.fromarray(np.stack([0 * m, 0 * m, m], -1)).save(ep / "front_mask" / f"{i}.png")
    demo = Demo()
    demo._observations = steps
    (ep / "low_dim_obs.pkl").write_bytes(pickle.dumps(demo))
    (tmp_path / "variation0" / "variation_descriptions.pkl").write_bytes(
        pickle.dumps(["stack the red block", "put red on green"])
    )
    monkeypatch.undo()  # loading must work with rlbench absent again
    assert "rlbench" not in sys.modules or rlbench_available()

    out = load_episode(ep, cameras=("front",))
    assert len(out["observations"]) == 8
    assert out["descriptions"][0] == "stack the red block"
    o3 = out["observations"][3]
    ref = synthetic_obs(3, K_rl, E_rl)
    np.testing.assert_array_equal(o3["front_image"], ref["front_rgb"])
    np.testing.assert_allclose(o3["front_depth"], 0.1 + 4.0 * ref["front_depth"], atol=1e-5)
    np.testing.assert_array_equal(o3["front_segmentation"], ref["front_mask"])
    np.testing.assert_allclose(o3["front_extrinsics"], E, atol=1e-12)
    assert out["keyframes"][-1] == 7 and 3 in out["keyframes"]  # gripper closes at step 3


def test_load_dat_episode_with_stub_blosc(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "blosc", types.SimpleNamespace(decompress=lambda b: b))
    rng = np.random.default_rng(0)
    T, n_cam = 3, 2
    obs = [rng.uniform(-1, 1, size=(n_cam, 2, 3, 8, 8)).astype(np.float32) for _ in range(T)]
    acts = [np.concatenate([rng.normal(size=3), [0, 0, 0, 1], [1]])[None] for _ in range(T)]
    cams = [{"left_shoulder": {}, "wrist": {}} for _ in range(T)]
    path = tmp_path / "ep0.dat"
    path.write_bytes(pickle.dumps([list(range(T)), obs, acts, cams, acts]))
    ep = load_dat_episode(path)
    assert ep["rgb"].shape == (T, n_cam, 8, 8, 3) and ep["rgb"].dtype == np.uint8
    np.testing.assert_allclose(ep["points"][1, 0, ..., 2], obs[1][0, 1, 2], atol=1e-7)
    np.testing.assert_allclose(ep["action_poses"][2][:3, 3], acts[2][0, :3])
    assert ep["cameras"] == ["left_shoulder", "wrist"]
    (tmp_path / "bad.dat").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="blosc-compressed"):
        load_dat_episode(tmp_path / "bad.dat")


@pytest.mark.skipif(rlbench_available(), reason="checks the error raised without RLBench")
def test_live_env_needs_rlbench():
    with pytest.raises(ImportError, match="rlbench"):
        RLBenchEnv("reach_target")


@pytest.mark.sim
@pytest.mark.skipif(
    not rlbench_available(), reason="RLBench (CoppeliaSim + PyRep) is not installed here"
)
def test_live_rlbench_keyframe_interface():
    env = RLBenchEnv("reach_target", cameras=("front",), image_size=64)
    obs = env.reset(0)
    assert obs["front_image"].shape == (64, 64, 3) and "robot0_eef_pose" in obs
    T = obs["robot0_eef_pose"].copy()
    T[2, 3] += 0.05
    assert env.execute_keyframe(T, gripper_open=True)
    env.close()

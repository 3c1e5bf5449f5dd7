"""SimEnv: every closed-loop task steps, actions reach their targets, perturbations move the
workspace rigidly (robot, table, objects, gravity) and leave the external cameras fixed."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytest.importorskip("robosuite", reason="robosuite not installed (pip install symlab[sim])")

from symlab.sim import CameraConfig, ObservationConfig, PerturbationConfig
from symlab.sim.env import DELTA_SCALE, SimEnv
from symlab.sim.geometry import make_pose, pose_error
from symlab.sim.tasks.base import list_tasks

pytestmark = pytest.mark.sim

SMOKE_TASKS = list_tasks(suite="closed_loop")  # every registered level of every task


@pytest.mark.parametrize("task", SMOKE_TASKS)
def test_task_smoke(task):
    env = SimEnv(task, obs=ObservationConfig.low_dim(), action_mode="delta_pose")
    obs = env.reset(0)
    assert env._renderer is None  # no camera configured: nothing rendered
    assert obs["object_poses"].shape == (len(env.task.object_bodies), 4, 4)
    assert not env.is_success()
    for a in ([0.2, 0, 0, 0, 0, 0, -1], [0, -0.2, 0.1, 0, 0, 0.1, 1], [0, 0, 0, 0, 0, 0, 1]):
        obs, r, done, info = env.step(np.array(a, dtype=float))
        assert set(info) == {"success", "timestep"} and not done
    assert env.t == 3
    assert np.all(np.isfinite(obs["robot0_joint_pos"]))
    env.close()


@pytest.fixture(scope="module")
def lift_env():
    env = SimEnv("lift", obs=ObservationConfig(object_state=True))
    yield env
    env.close()


def test_absolute_pose_reached(lift_env):
    env = lift_env
    env.reset(1)
    start = env.eef_pose
    rot = Rotation.from_euler("zy", [0.5, 0.2]).as_matrix()
    target = make_pose(start[:3, 3] + [0.08, -0.06, 0.05], rot @ start[:3, :3])
    assert env.execute_keyframe(target, gripper_open=True, tolerance=(0.01, 3.0))
    d, a = pose_error(env.eef_pose, target)
    assert d < 0.01 and np.degrees(a) < 3.0
    # Holding an absolute action keeps the pose.
    act = np.concatenate([target[:3, 3], Rotation.from_matrix(target[:3, :3]).as_rotvec(), [-1]])
    for _ in range(5):
        env.step(act)
    d, a = pose_error(env.eef_pose, target)
    assert d < 0.01 and np.degrees(a) < 3.0


def test_delta_actions_match_robosuite_scaling(lift_env):
    env = lift_env
    env.reset(2)
    env.action_mode = "delta_pose"
    try:
        rng = np.random.default_rng(0)
        abs_target = np.concatenate(
            [env.eef_pose[:3, 3] + [0.02, 0.01, -0.01], rng.normal(size=3) * 0.1, [1.0]]
        )
        abs_target[3:6] = (
            Rotation.from_rotvec(abs_target[3:6]) * Rotation.from_matrix(env.eef_pose[:3, :3])
        ).as_rotvec()
        delta = env.absolute_to_action(abs_target)
        back = env._to_absolute(delta)
        np.testing.assert_allclose(back[:3], abs_target[:3], atol=1e-12)
        ang = (
            Rotation.from_rotvec(back[3:6]).inv() * Rotation.from_rotvec(abs_target[3:6])
        ).magnitude()
        assert ang < 1e-9
        # A unit delta in x moves the target by DELTA_SCALE[0].
        p0 = env.eef_pose[:3, 3].copy()
        tgt = env._to_absolute(np.array([1.0, 0, 0, 0, 0, 0, -1]))
        assert tgt[0] - p0[0] == pytest.approx(DELTA_SCALE[0])
    finally:
        env.action_mode = "abs_pose"


def test_same_seed_same_episode(lift_env):
    a = lift_env.reset(5)
    b = lift_env.reset(5)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    c = lift_env.reset(6)
    assert not np.allclose(a["object_poses"], c["object_poses"])


def test_bad_actions_raise(lift_env):
    lift_env.reset(0)
    with pytest.raises(ValueError, match="7 entries"):
        lift_env.step(np.zeros(6))
    with pytest.raises(ValueError, match="NaN"):
        lift_env.step(np.full(7, np.nan))


PERTURB_OBS = ObservationConfig(
    cameras=(CameraConfig("front", 16, 16), CameraConfig("wrist", 16, 16)),
    camera_params=True,
    object_state=True,
)


@pytest.fixture(scope="module")
def stack_env():
    env = SimEnv("stack_d0", obs=PERTURB_OBS)
    yield env
    env.close()


@pytest.mark.parametrize("kind", ["se2", "se3"])
def test_perturbation_moves_workspace_rigidly(kind, stack_env):
    env0 = stack_env
    env1 = SimEnv("stack_d0", obs=PERTURB_OBS, perturbation=PerturbationConfig(kind))
    o0, o1 = env0.reset(3), env1.reset(3)
    g = env1.g
    assert not np.allclose(g, np.eye(4))
    if kind == "se2":
        np.testing.assert_allclose(g[:3, 2], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(
        env1.model.opt.gravity, g[:3, :3] @ env0.model.opt.gravity, atol=1e-9
    )
    # Robot base, table, objects and gripper all transform by g ...
    for body in ["robot0_base", "table", "cubeA_main", "cubeB_main", "gripper0_right_eef"]:
        d, a = pose_error(env1.body_pose(body), g @ env0.body_pose(body))
        assert d < 1e-6 and a < 1e-6, body
    np.testing.assert_allclose(o1["object_poses"], g @ o0["object_poses"], atol=1e-6)
    d, a = pose_error(o1["robot0_eef_pose"], g @ o0["robot0_eef_pose"])
    assert d < 1e-6 and a < 1e-6
    # ... the wrist camera with the gripper, while the external camera stays fixed.
    np.testing.assert_allclose(o1["front_extrinsics"], o0["front_extrinsics"], atol=1e-9)
    d, a = pose_error(o1["wrist_extrinsics"], g @ o0["wrist_extrinsics"])
    assert d < 1e-6 and a < 1e-6
    # Physics is transformed exactly: the same (transformed) actions give transformed states.
    for _ in range(10):
        rotvec = Rotation.from_matrix(o0["robot0_eef_pose"][:3, :3]).as_rotvec()
        a0 = np.concatenate([o0["robot0_eef_pos"] + [0.01, 0.01, -0.01], rotvec, [1]])
        T1 = g @ make_pose(a0[:3], Rotation.from_rotvec(a0[3:6]).as_matrix())
        a1 = np.concatenate([T1[:3, 3], Rotation.from_matrix(T1[:3, :3]).as_rotvec(), [1]])
        o0, *_ = env0.step(a0)
        o1, *_ = env1.step(a1)
    d, a = pose_error(o1["robot0_eef_pose"], g @ o0["robot0_eef_pose"])
    assert d < 1e-4 and a < 1e-3
    np.testing.assert_allclose(o1["robot0_joint_pos"], o0["robot0_joint_pos"], atol=1e-3)
    env1.close()


def test_fast_controller_matches_robosuite():
    import mujoco

    from symlab.sim._controller import FastOSC

    env = SimEnv("stack_d0", controller="robosuite")
    env.reset(0)
    m, d = env.model, env.data
    fast = FastOSC(env)
    fast.reset(env._robot)
    gm = env._robot.gripper["right"]
    rng = np.random.default_rng(0)
    for _ in range(5):
        d.qpos[env._arm_qpos] += rng.normal(0, 0.1, size=7)
        d.qvel[env._arm_qvel] = rng.normal(0, 0.3, size=7)
        mujoco.mj_step1(m, d)
        T = env.eef_pose
        pos = T[:3, 3] + rng.normal(0, 0.03, size=3)
        R = Rotation.from_rotvec(rng.normal(0, 0.2, size=3)).as_matrix() @ T[:3, :3]
        grip = rng.choice([-1.0, 1.0])
        cur = gm.current_action.copy()
        env._robot.part_controllers["right"].new_update = True  # re-read the modified state
        env._rs._pre_action(
            np.concatenate([pos, Rotation.from_matrix(R).as_rotvec(), [grip]]), True
        )
        ctrl_rs = d.ctrl.copy()
        gm.current_action = cur.copy()
        fast.grip_action = cur.copy()
        fast._update_grip_ctrl()
        fast.set_goal(pos, R, grip)
        fast.apply()
        np.testing.assert_allclose(d.ctrl, ctrl_rs, rtol=1e-8, atol=1e-8)
    env.close()


def test_camera_observations_have_configured_shapes():
    cams = (
        CameraConfig("agentview", 24, 16),
        CameraConfig("robot0_eye_in_hand_wide", 12, 12, rgb=False, depth=True),
    )
    env = SimEnv("lift", obs=ObservationConfig(cameras=cams, camera_params=True))
    obs = env.reset(0)
    assert obs["agentview_image"].shape == (16, 24, 3) and obs["agentview_image"].dtype == np.uint8
    assert "agentview_depth" not in obs and "robot0_eye_in_hand_wide_image" not in obs
    depth = obs["robot0_eye_in_hand_wide_depth"]
    assert depth.shape == (12, 12) and depth.dtype == np.float32 and np.all(depth > 0)
    # the ISP camera has the 130 degree field of view
    K = obs["robot0_eye_in_hand_wide_intrinsics"]
    assert np.degrees(2 * np.arctan(6.0 / K[1, 1])) == pytest.approx(130.0, abs=1e-3)
    env.close()


@pytest.mark.gpu
@pytest.mark.skipif(
    not __import__("pathlib").Path("/dev/nvidia0").exists(), reason="no NVIDIA GPU for EGL"
)
def test_egl_rendering_matches_osmesa_geometry():
    """On a GPU machine, EGL renders the same depth as the CPU backend (run in subprocesses,
    since the GL backend is fixed per process)."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, numpy as np\n"
        "from symlab.sim import CameraConfig, ObservationConfig\n"
        "from symlab.sim.env import SimEnv\n"
        "cam = (CameraConfig('front', 32, 32, depth=True),)\n"
        "env = SimEnv('lift', obs=ObservationConfig(cameras=cam))\n"
        "print(json.dumps(env.reset(0)['front_depth'].tolist()))\n"
    )
    depths = {}
    for backend in ("egl", "osmesa"):
        env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        depths[backend] = np.array(json.loads(out.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(depths["egl"], depths["osmesa"], atol=1e-3)

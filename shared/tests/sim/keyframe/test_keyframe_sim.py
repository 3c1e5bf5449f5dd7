"""Keyframe suite in the simulator (smoke size): every task builds, places its scene under a
perturbation, renders, starts its expert; success checks are true exactly in solved states;
one full expert episode with keyframe extraction and perturbation consistency."""

import numpy as np
import pytest

pytest.importorskip("robosuite", reason="robosuite not installed (pip install symlab[sim])")

from symlab.sim import CameraConfig, ObservationConfig, PerturbationConfig, list_tasks
from symlab.sim.env import SimEnv
from symlab.sim.expert import run_expert
from symlab.sim.geometry import make_pose, pose_error
from symlab.sim.keyframe.expert_table import extraction_matches

pytestmark = pytest.mark.sim

TASKS = sorted(list_tasks("keyframe"))
OBS = ObservationConfig(
    cameras=(CameraConfig("front", 32, 32, depth=True, segmentation=True),), object_state=True
)
_ENVS: dict[str, SimEnv] = {}


def env_for(name: str) -> SimEnv:
    """One SE(3)-perturbed environment per task, shared by the tests of this module."""
    if name not in _ENVS:
        _ENVS[name] = SimEnv(name, obs=OBS, perturbation=PerturbationConfig("se3"))
    return _ENVS[name]


@pytest.fixture(scope="module", autouse=True)
def _close_envs():
    yield
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


def set_object(env, joint: str, T_ws: np.ndarray) -> None:
    """Place a free object at a workspace-frame pose (mapped through the env's g)."""
    import mujoco
    from scipy.spatial.transform import Rotation

    T = env.from_workspace(T_ws)
    adr = env.model.jnt_qposadr[env._id("joint", joint)]
    q = Rotation.from_matrix(T[:3, :3]).as_quat()
    env.data.qpos[adr : adr + 3] = T[:3, 3]
    env.data.qpos[adr + 3 : adr + 7] = [q[3], q[0], q[1], q[2]]
    env.data.qvel[:] = 0
    mujoco.mj_forward(env.model, env.data)


def set_joint(env, joint: str, value: float) -> None:
    import mujoco

    env.data.qpos[env.model.jnt_qposadr[env._id("joint", joint)]] = value
    mujoco.mj_forward(env.model, env.data)


def hold(env, n: int = 1) -> None:
    """Step with the gripper held where it is."""
    from scipy.spatial.transform import Rotation

    T = env.eef_pose
    a = np.concatenate([T[:3, 3], Rotation.from_matrix(T[:3, :3]).as_rotvec(), [-1.0]])
    for _ in range(n):
        env.step(a)


@pytest.mark.parametrize("name", TASKS)
def test_task_smoke(name):
    env = env_for(name)
    v = env.task.n_variations - 1
    obs = env.reset(seed=5, variation=v)
    assert env.variation == v and not np.allclose(env.g, np.eye(4))
    assert obs["front_image"].shape == (32, 32, 3) and np.isfinite(obs["front_depth"]).all()
    assert obs["object_poses"].shape == (len(env.task.object_bodies), 4, 4)
    # the sampled scene is where the task put it, moved by g
    scene = env.scene
    for joint, T in scene.object_poses.items():
        body = env.model.body(env.model.jnt_bodyid[env._id("joint", joint)]).name
        d, a = pose_error(env.body_pose(body), env.g @ T)
        assert d < 0.003 and np.degrees(a) < 1.0, (joint, d)
    for body, T in scene.fixture_poses.items():
        d, _ = pose_error(env.body_pose(body), env.g @ T)
        assert d < 1e-6, body
    assert not env.is_success()
    assert env.episode_info()["instruction"] == env.task.instructions(v)[0]
    # the expert's first two keyframes are reachable
    expert = iter(env.task.expert(env, env._expert_rng))
    for _ in range(2):
        wp = next(expert)
        for a in env.waypoint_actions(wp):
            env._step_physics(a)
        assert env.last_reached, (name, pose_error(env.eef_pose, wp.pose))
    obs, reward, done, info = env.step(np.r_[env.eef_pose[:3, 3], 0, 0, 0, -1.0])
    assert np.isfinite(obs["robot0_eef_pos"]).all() and info["timestep"] == env.t


def test_success_pick_and_lift():
    env = env_for("pick_and_lift")
    env.reset(seed=1, variation=3)
    goal = env.to_workspace(env.body_pose("goal_main"))
    set_object(env, "block1_joint0", goal)
    assert not env.is_success()  # a distractor in the target
    set_object(env, "block0_joint0", goal @ make_pose((0.01, 0.0, 0.0)))
    assert env.is_success()


def test_success_place_block_in_bowl():
    env = env_for("place_block_in_bowl")
    env.reset(seed=2, variation=0)
    bowl = env.to_workspace(env.body_pose("bowl_main"))
    inside = bowl @ make_pose((0.01, 0.0, 0.008 + 0.02 + 0.001))
    set_object(env, "block2_joint0", inside)
    assert not env.is_success()
    set_object(env, "block0_joint0", inside)
    assert env.is_success()


@pytest.mark.parametrize("variation", [0, 1])  # stack 2 / stack 3 red blocks
def test_success_stack_blocks(variation):
    env = env_for("stack_blocks")
    env.reset(seed=3, variation=variation)
    n = 2 + variation
    pad = env.to_workspace(env.body_pose("pad_main"))
    for k in range(n - 1):
        set_object(env, f"block{k}_joint0", pad @ make_pose((0, 0, 0.02 * (2 * k + 1))))
    assert not env.is_success()  # one block short
    set_object(env, "block3_joint0", pad @ make_pose((0, 0, 0.02 * (2 * n - 1))))
    assert not env.is_success()  # a distractor on top
    set_object(env, f"block{n - 1}_joint0", pad @ make_pose((0, 0, 0.02 * (2 * n - 1))))
    set_object(env, "block3_joint0", pad @ make_pose((0.2, 0, 0.02)))
    assert env.is_success()


def test_success_slide_block():
    env = env_for("slide_block_to_color_target")
    env.reset(seed=4, variation=2)
    target = env.scene.info["target"]
    other = (target + 1) % 4
    z = make_pose((0.0, 0.0, 0.025))
    set_object(env, "block_joint0", env.to_workspace(env.body_pose(f"target{other}_main")) @ z)
    assert not env.is_success()
    set_object(env, "block_joint0", env.to_workspace(env.body_pose(f"target{target}_main")) @ z)
    assert env.is_success()


def test_success_close_jar():
    env = env_for("close_jar")
    env.reset(seed=5, variation=4)
    on = make_pose((0.0, 0.0, 0.08))
    set_object(env, "lid_joint0", env.to_workspace(env.body_pose("jar1_main")) @ on)
    assert not env.is_success()  # the other jar
    set_object(env, "lid_joint0", env.to_workspace(env.body_pose("jar0_main")) @ on)
    assert env.is_success()


def test_success_insert_onto_square_peg():
    env = env_for("insert_onto_square_peg")
    env.reset(seed=6, variation=1)
    target = env.scene.info["target"]
    for i, expected in ((target + 1) % 3, False), (target, True):
        top = env.to_workspace(env.site_pose(f"pegs_peg{i}_top"))
        set_object(env, "ring_joint0", make_pose(top[:3, 3] - [0, 0, 0.04], top[:3, :3]))
        assert env.is_success() == expected


def test_success_peg_in_tilted_hole():
    env = env_for("peg_in_tilted_hole")
    env.reset(seed=10, variation=2)
    for hole, expected in (("hole1", False), ("hole0", True)):
        tube = env.to_workspace(env.body_pose(f"{hole}_main"))
        set_object(env, "peg_joint0", tube @ make_pose((0.0, 0.0, 0.05 - 0.03 + 0.06)))
        assert env.is_success() == expected
    tube = env.to_workspace(env.body_pose("hole0_main"))
    set_object(env, "peg_joint0", tube @ make_pose((0.0, 0.0, 0.05 + 0.06)))
    assert not env.is_success()  # resting on the mouth, not inserted


def test_success_open_drawer():
    env = env_for("open_drawer")
    env.reset(seed=7, variation=1)  # middle
    set_joint(env, "cabinet_slide0", 0.15)
    assert not env.is_success()
    set_joint(env, "cabinet_slide1", 0.15)
    assert env.is_success()


def test_success_put_item_in_drawer():
    env = env_for("put_item_in_drawer")
    env.reset(seed=8, variation=2)  # top
    for d in (0, 2):
        set_joint(env, f"cabinet_slide{d}", 0.15)
    for d, expected in ((0, False), (2, True)):
        drawer = env.to_workspace(env.body_pose(f"cabinet_drawer{d}"))
        set_object(env, "item_joint0", drawer @ make_pose((-0.03, 0.0, 0.005 + 0.021)))
        assert env.is_success() == expected


def test_success_push_buttons_needs_the_order():
    env = env_for("push_buttons")
    # variation 4: the first two-button sequence (red, then green)
    seq = env.task.instructions(4)[0]
    assert seq == "push the red button, then push the green button"
    for order, expected in (((1, 0), False), ((0,), False), ((0, 1), True), ((0, 2, 1), False)):
        env.reset(seed=9, variation=4)
        for i in order:
            set_joint(env, f"button{i}_press", -0.011)
            hold(env)
            assert env.task.pressed(env)[-1] == i
        assert env.is_success() == expected, order


def test_pick_and_lift_expert_extraction_and_consistency():
    env0 = SimEnv("pick_and_lift")
    d0 = run_expert(env0, 21, record_obs=True)
    assert d0.success and len(d0.keyframe_poses) == 3
    ok, n_extracted = extraction_matches(d0)
    assert ok and n_extracted >= 3
    env1 = env_for("pick_and_lift")
    d1 = run_expert(env1, 21, record_obs=False)
    assert d1.success and d1.keyframe_gripper_open == d0.keyframe_gripper_open
    d, a = pose_error(np.stack(d1.keyframe_poses), env1.g @ np.stack(d0.keyframe_poses))
    assert d.max() < 0.01 and np.degrees(a).max() < 2.0
    env0.close()


def test_push_buttons_through_keyframe_execution():
    """Keyframe policies run through ``execute_keyframe`` with a success check after every
    keyframe (as ``symlab.sim.evaluate`` does); the press order is recorded at that rate."""
    env = env_for("push_buttons")
    env.reset(seed=11, variation=39)  # the last 3-button sequence
    assert len(env.scene.info["sequence"]) == 3
    success = False
    for wp in env.task.expert(env, env._expert_rng):
        env.execute_keyframe(wp.pose, wp.gripper_open)
        success = env.is_success()
    assert success and env.task.pressed(env) == [0, 1, 2]

"""Scripted experts: success, equivariance of their keyframes under scene perturbations, and
keyframe extraction recovering the expert's own keyframes."""

import numpy as np
import pytest

pytest.importorskip("robosuite", reason="robosuite not installed (pip install symlab[sim])")

from symlab.sim import ObservationConfig, PerturbationConfig
from symlab.sim.env import SimEnv
from symlab.sim.expert import run_expert
from symlab.sim.geometry import make_pose, pose_error
from symlab.sim.keyframes import extract_keyframes

pytestmark = pytest.mark.sim


def assert_keyframes_transform(demo0, demo1, g, pos_tol=0.01, rot_tol_deg=2.0):
    assert len(demo0.keyframe_poses) == len(demo1.keyframe_poses) > 0
    assert demo0.keyframe_gripper_open == demo1.keyframe_gripper_open
    for name in ("keyframe_poses", "keyframe_eef_poses"):
        P0, P1 = np.stack(getattr(demo0, name)), np.stack(getattr(demo1, name))
        d, a = pose_error(P1, g @ P0)
        assert d.max() < pos_tol, (name, d)
        assert np.degrees(a).max() < rot_tol_deg, (name, np.degrees(a))


@pytest.mark.parametrize("kind", ["se2", "se3"])
def test_expert_keyframes_are_equivariant(kind):
    env0 = SimEnv("lift")
    env1 = SimEnv("lift", perturbation=PerturbationConfig(kind))
    d0 = run_expert(env0, 11, record_obs=False)
    d1 = run_expert(env1, 11, record_obs=False)
    assert d0.success and d1.success
    assert not np.allclose(env1.g, np.eye(4))
    assert_keyframes_transform(d0, d1, env1.g)
    env0.close()
    env1.close()


def test_transformed_expert_actions_succeed_under_tilt():
    """Replaying the unperturbed expert's absolute actions mapped through g in the SE(3)-tilted
    scene (gravity rotated) reproduces the episode: same joints, same success."""
    from scipy.spatial.transform import Rotation

    env0 = SimEnv("lift")
    env1 = SimEnv("lift", perturbation=PerturbationConfig("se3"))
    demo = run_expert(env0, 4, record_obs=False)
    env1.reset(4)
    g = env1.g
    for a in demo.abs_actions:
        T = g @ make_pose(a[:3], Rotation.from_rotvec(a[3:6]).as_matrix())
        env1.step(np.concatenate([T[:3, 3], Rotation.from_matrix(T[:3, :3]).as_rotvec(), a[6:]]))
    assert demo.success and env1.is_success()
    env0.reset(4)
    for a in demo.abs_actions:
        env0.step(a)
    np.testing.assert_allclose(
        env1.data.qpos[env1._arm_qpos], env0.data.qpos[env0._arm_qpos], atol=2e-3
    )
    env0.close()
    env1.close()


def test_keyframe_extraction_recovers_expert_keyframes():
    env = SimEnv("lift", obs=ObservationConfig())
    demo = run_expert(env, 3, record_obs=True, extra_steps=3)
    assert demo.success
    keys = extract_keyframes(demo.obs["robot0_gripper_open"][:, 0], demo.obs["robot0_joint_vel"])
    eef = demo.obs["robot0_eef_pose"]
    expert = np.stack(demo.keyframe_poses)
    # every expert keyframe is found ...
    for P in expert:
        d, a = pose_error(eef[keys], P)
        assert np.any((d < 0.01) & (np.degrees(a) < 5.0)), (d.min(), np.degrees(a).min())
    # ... and every extracted keyframe is one of them (no spurious stops)
    for i in keys:
        d, a = pose_error(expert, eef[i])
        assert np.any((d < 0.015) & (np.degrees(a) < 5.0)), (i, d.min())
    # the gripper states of the extracted keyframes follow the expert's sequence
    states = [bool(demo.obs["robot0_gripper_open"][i, 0]) for i in keys]
    dedup = [s for j, s in enumerate(states) if j == 0 or s != states[j - 1]]
    assert dedup == [True, False]
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("task", ["stack_d1", "square_d2", "door"])
@pytest.mark.parametrize("kind", ["se2", "se3"])
def test_expert_keyframes_are_equivariant_slow(task, kind):
    env0 = SimEnv(task)
    env1 = SimEnv(task, perturbation=PerturbationConfig(kind))
    for seed in range(3):
        d0 = run_expert(env0, seed, record_obs=False)
        d1 = run_expert(env1, seed, record_obs=False)
        assert d0.success and d1.success
        assert_keyframes_transform(d0, d1, env1.g)

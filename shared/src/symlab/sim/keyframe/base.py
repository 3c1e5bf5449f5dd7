"""Base class and expert building blocks of the keyframe (RLBench-like) suite.

Scripted experts are sequences of :class:`~symlab.sim.tasks.base.Waypoint` s, every one of them a
keyframe (the pose where RLBench's motion planner would stop, plus the gripper command), executed
by the benchmark's interpolated OSC keyframe execution. Keyframes are computed in the workspace
frame from the sampled scene (``env.scene``, identical with and without a perturbation) and, after
a grasp, from the measured in-hand pose; they are mapped to the world with
``env.from_workspace``. Hence the expert's keyframes under a perturbation ``g`` are ``g`` times the
unperturbed ones (up to the tiny physical differences of the in-hand pose).

The core's keyframe execution holds every keyframe until the arm is at rest, so PerAct's keyframe
extraction (gripper change or all joint velocities near zero) finds it again in the recorded
demonstration; no extra pause is added here.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..geometry import invert_pose, make_pose
from ..tasks.base import Scene, Task, Waypoint
from ..tasks.primitives import rot_z, symmetric_yaw, topdown_pose
from .objects import COLOURS, ObjectSpec

__all__ = [
    "TABLE_Z",
    "KeyframeTask",
    "Pose",
    "colour_names",
    "gripper_pose",
    "pick",
    "place",
    "topdown_grasp",
    "waypoint",
    "yaw_pose",
]

#: Height of the table top in the workspace frame.
TABLE_Z = 0.8
#: Extra control steps after every keyframe (the core already holds keyframes until at rest;
#: pauses would only add spurious rest keyframes for PerAct's extraction).
SETTLE = 0

Pose = np.ndarray


def colour_names() -> list[str]:
    """The colour palette used by colour variations (order fixes the variation index)."""
    return list(COLOURS)


def gripper_pose(pos, approach, fingers) -> Pose:
    """Gripper pose from its position, approach direction (gripper z) and finger-closing
    direction (gripper x), both in the workspace frame; ``fingers`` is orthogonalised."""
    z = np.asarray(approach, dtype=float)
    z = z / np.linalg.norm(z)
    x = np.asarray(fingers, dtype=float)
    x = x - z * (x @ z)
    x = x / np.linalg.norm(x)
    return make_pose(pos, np.stack([x, np.cross(z, x), z], axis=1))


def waypoint(env, pose_ws: Pose, gripper_open: bool, **kw) -> Waypoint:
    """A keyframe waypoint from a workspace-frame gripper pose (mapped through ``g``)."""
    kw.setdefault("settle_steps", SETTLE)
    return Waypoint(env.from_workspace(pose_ws), bool(gripper_open), **kw)


def pick(
    env,
    rng: np.random.Generator,
    grasp_ws: Pose,
    approach: float = 0.1,
    lift: float = 0.12,
    lift_to: Pose | None = None,
) -> Iterator[Waypoint]:
    """Pre-grasp above ``grasp_ws`` (along the gripper's -z), grasp (close), lift.

    ``lift_to`` replaces the default straight-up lift target.
    """
    back = make_pose((0, 0, -(approach + rng.uniform(0.0, 0.02))))
    yield waypoint(env, grasp_ws @ back, True, max_speed=rng.uniform(0.25, 0.35))
    yield waypoint(env, grasp_ws, False, max_speed=0.15, tolerance=(0.005, 3.0))
    if lift_to is None:
        lift_to = make_pose((0, 0, lift + rng.uniform(0.0, 0.02))) @ grasp_ws
    yield waypoint(env, lift_to, False, max_speed=rng.uniform(0.2, 0.3))


def place(
    env,
    rng: np.random.Generator,
    body: str,
    target_ws: Pose,
    approach: float = 0.08,
    retreat: float = 0.1,
    release: bool = True,
    descent_speed: float = 0.12,
    symmetry: int = 1,
    reference: Pose | None = None,
) -> Iterator[Waypoint]:
    """Carry the grasped ``body`` so that its pose becomes ``target_ws``: above the target,
    down, release (open), retreat straight up. Uses the in-hand pose measured now.

    ``symmetry``: the object looks the same after rotations by ``2 pi / symmetry`` about its
    z axis; of the equivalent targets, the gripper orientation closest to ``reference``
    (workspace frame; default: the current gripper orientation) is used.
    """
    eef_ws = env.to_workspace(env.eef_pose)
    obj_ws = env.to_workspace(env.body_pose(body))
    obj_in_eef = invert_pose(eef_ws) @ obj_ws
    candidates = [
        target_ws @ make_pose(rot=rot_z(2 * np.pi * k / symmetry)) @ invert_pose(obj_in_eef)
        for k in range(symmetry)
    ]
    ref = eef_ws if reference is None else reference
    angle = [
        np.arccos(np.clip((np.trace(ref[:3, :3].T @ c[:3, :3]) - 1) / 2, -1, 1)) for c in candidates
    ]
    eef_target = candidates[int(np.argmin(angle))]
    up = make_pose((0, 0, approach + rng.uniform(0.0, 0.02)))
    yield waypoint(env, up @ eef_target, False, max_speed=rng.uniform(0.25, 0.35))
    yield waypoint(env, eef_target, not release, max_speed=descent_speed, tolerance=(0.008, 3.0))
    if release:
        yield waypoint(env, make_pose((0, 0, retreat)) @ eef_target, True, max_speed=0.25)


def topdown_grasp(pos, yaw: float, period: float = np.pi, reference: float = 0.0) -> Pose:
    """Top-down grasp at ``pos`` with the finger yaw reduced by the object's symmetry
    ``period`` to the member closest to ``reference`` (workspace frame)."""
    return topdown_pose(pos, symmetric_yaw(yaw, period, reference))


class KeyframeTask(Task):
    """A task of the keyframe suite: MJCF primitive objects, colour/target variations and
    language instructions.

    Subclasses define :meth:`object_specs`, :meth:`sample_scene`, :meth:`check_success`,
    :meth:`expert` and :meth:`instructions`. ``button_joints`` lists push-button slide joints
    whose press order the robosuite model records.
    """

    max_steps = 400
    button_joints: tuple[str, ...] = ()

    def object_specs(self) -> tuple[ObjectSpec, ...]:
        """The MJCF bodies of the scene (fixed across episodes; colours vary via the scene)."""
        raise NotImplementedError

    def robosuite_env_class(self):
        from ._models import KeyframeSceneEnv

        return KeyframeSceneEnv

    def robosuite_env_kwargs(self):
        return {"objects": self.object_specs(), "button_joints": self.button_joints}

    # -------------------------------------------------------------- helpers for subclasses
    @staticmethod
    def ws_pose(env, body: str) -> Pose:
        """Workspace-frame pose of a body."""
        return env.to_workspace(env.body_pose(body))

    @staticmethod
    def ws_site(env, site: str) -> Pose:
        """Workspace-frame pose of a site."""
        return env.to_workspace(env.site_pose(site))

    @staticmethod
    def scene_pose(env, key: str) -> Pose:
        """A pose of the sampled scene (workspace frame): object or fixture ``key``."""
        s: Scene = env.scene
        if key in s.object_poses:
            return np.asarray(s.object_poses[key], dtype=float)
        return np.asarray(s.fixture_poses[key], dtype=float)

    @staticmethod
    def gripper_touches(env, body: str) -> bool:
        """Whether any gripper geom touches ``body``."""
        return env.in_contact(env.gripper_geoms, env.body_geoms(body))


def yaw_pose(x: float, y: float, z: float, yaw: float) -> Pose:
    """Pose with a rotation about the vertical."""
    return make_pose((x, y, z), rot_z(yaw))

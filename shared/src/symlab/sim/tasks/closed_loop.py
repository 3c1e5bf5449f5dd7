"""Closed-loop suite modelled on the MimicGen tasks (Lift, Stack, StackThree, Square,
PickPlace, Door), on robosuite models.

Difficulty levels approximate MimicGen's (the exact ranges were not checked): D0 is robosuite's
reset distribution, D1 widens the object region with full yaw, D2 also moves the fixture (the
peg in Square). Each task documents its ranges in the class docstring.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.spatial.transform import Rotation

from ..geometry import invert_pose, make_pose
from .base import Scene, Task, TaskError, Waypoint, register_task
from .primitives import (
    R_DOWN,
    planar_pose,
    sample_separated_xy,
    symmetric_yaw,
    topdown_pose,
    yaw_of,
)

__all__ = ["DoorTask", "LiftTask", "PickPlaceCanTask", "SquareTask", "StackTask", "StackThreeTask"]

TABLE_Z = 0.8


def _noise(rng: np.random.Generator, scale: float, n: int = 3) -> np.ndarray:
    return rng.uniform(-scale, scale, size=n)


def _gripper_touches(env, body: str) -> bool:
    return env.in_contact(env.gripper_geoms, env.body_geoms(body))


class _PickPlaceExpert:
    """Shared top-down pick and place waypoints (workspace frame in, world frame out)."""

    @staticmethod
    def pick(env, rng, obj_body: str, half_height: float, yaw_period, grasp_dz=0.0, speed=1.0):
        """Pre-grasp, grasp (close) and lift waypoints for an upright object. ``speed`` scales
        the transit (not the grasp) speeds."""
        T = env.to_workspace(env.body_pose(obj_body))
        # The grasp yaw closest to the gripper's current yaw (least wrist rotation);
        # rotationally symmetric objects (yaw_period None) are grasped at the current yaw.
        current = yaw_of(env.to_workspace(env.eef_pose)[:3, :3] @ R_DOWN.T)
        yaw = (
            current
            if yaw_period is None
            else symmetric_yaw(yaw_of(T[:3, :3]), yaw_period, reference=current)
        )
        yaw += rng.uniform(-0.08, 0.08)
        p = T[:3, 3] + np.r_[_noise(rng, 0.003, 2), grasp_dz + rng.uniform(-0.003, 0.003)]
        above = p + np.r_[0, 0, rng.uniform(0.07, 0.11)]
        W = env.from_workspace
        yield Waypoint(W(topdown_pose(above, yaw)), True, max_speed=speed * rng.uniform(0.2, 0.3))
        yield Waypoint(
            W(topdown_pose(p, yaw)), False, max_speed=0.12, tolerance=(0.004, 3.0), settle_steps=4
        )
        lift = p + np.r_[0, 0, rng.uniform(0.1, 0.14) + half_height]
        yield Waypoint(W(topdown_pose(lift, yaw)), False, max_speed=speed * rng.uniform(0.15, 0.25))

    @staticmethod
    def place(env, rng, obj_body: str, target_ws: np.ndarray, approach=0.06, speed=1.0):
        """Carry the grasped object so that its pose becomes ``target_ws`` (workspace frame):
        above the target, down, open, retreat. Uses the in-hand pose measured now."""
        eef_ws = env.to_workspace(env.eef_pose)
        obj_ws = env.to_workspace(env.body_pose(obj_body))
        obj_in_eef = invert_pose(eef_ws) @ obj_ws
        eef_target = target_ws @ invert_pose(obj_in_eef)
        up = make_pose((0, 0, approach + rng.uniform(0.0, 0.03)))
        W = env.from_workspace
        yield Waypoint(W(up @ eef_target), False, max_speed=speed * rng.uniform(0.2, 0.3))
        # The held object's weight is not compensated: allow the OSC's steady-state sag.
        yield Waypoint(
            W(eef_target), True, max_speed=0.1, tolerance=(0.008, 4.0), settle_steps=2, max_steps=60
        )
        yield Waypoint(W(make_pose((0, 0, 0.08)) @ eef_target), True, max_speed=speed * 0.25)


# ---------------------------------------------------------------------- blocks
class _BlocksTask(Task):
    """Cubes on the table.

    Options: ``level`` (the region of the cube centres, see ``levels``); ``region``
    (``"full"``: the level's region; ``"half"``: its half ``y >= 0``, with ``x`` cut to be
    symmetric about the workspace centre so that a half-turn of the scene stays reachable);
    ``scene_yaw_deg`` (the sampled cube poses are rotated by this yaw about the vertical axis
    through ``workspace_center``; the table and the robot stay). ``region="half"`` with
    ``scene_yaw_deg=180`` puts every cube in the other half: the generalisation probe of
    sym_in_dp (train in one half, test in the rotated half).
    """

    blocks: tuple[tuple[str, float, str], ...] = ()
    options = {"level": "D0", "region": "full", "scene_yaw_deg": 0.0}
    regions = ("full", "half")
    #: Half-width of the square region of the cube centres per level. D1 regions stop at
    #: x = +0.12: further from the robot (base at x = -0.56) a top-down grasp at table height
    #: straightens the elbow to its joint limit and the arm cannot lift.
    levels: dict[str, float] = {"D0": 0.08, "D1": 0.2}
    max_x: float = 0.12

    def __init__(self, **options):
        super().__init__(**options)
        if self.config["level"] not in self.levels:
            raise TaskError(
                f"{type(self).__name__}: unknown level {self.config['level']!r}; "
                f"expected one of {sorted(self.levels)}"
            )
        if self.config["region"] not in self.regions:
            raise TaskError(
                f"{type(self).__name__}: unknown region {self.config['region']!r}; "
                f"expected one of {list(self.regions)}"
            )
        yaw = self.config["scene_yaw_deg"]
        if isinstance(yaw, bool) or not isinstance(yaw, (int, float)) or not np.isfinite(yaw):
            raise TaskError(
                f"{type(self).__name__}: scene_yaw_deg must be a finite number of degrees, "
                f"found {yaw!r}"
            )
        self.object_bodies = tuple(f"{n}_main" for n, _, _ in self.blocks)

    def robosuite_env_class(self):
        from ._models import BlocksEnv

        return BlocksEnv

    def robosuite_env_kwargs(self):
        return {"blocks": self.blocks}

    def _half(self, name: str) -> float:
        return next(h for n, h, _ in self.blocks if n == name)

    def sample_scene(self, rng, variation):
        r = self.levels[self.config["level"]]
        if self.config["region"] == "full":
            box = ((-r, min(r, self.max_x)), (-r, r))
        else:
            x = min(r, self.max_x)
            box = ((-x, x), (0.0, r))
        min_dist = 0.1 if len(self.blocks) > 1 else 0.0
        xy = sample_separated_xy(rng, [box] * len(self.blocks), min_dist)
        yaw = rng.uniform(-np.pi, np.pi, size=len(self.blocks))
        poses = {
            f"{n}_joint0": planar_pose(x, y, TABLE_Z + h + 0.001, a)
            for (n, h, _), (x, y), a in zip(self.blocks, xy, yaw)
        }
        if self.config["scene_yaw_deg"]:
            c = np.asarray(self.workspace_center, dtype=float)
            turn = make_pose(c) @ planar_pose(
                0.0, 0.0, 0.0, np.radians(self.config["scene_yaw_deg"])
            )
            turn = turn @ make_pose(-c)
            poses = {k: turn @ p for k, p in poses.items()}
        return Scene(object_poses=poses)

    def _pos_ws(self, env, name):
        return env.to_workspace(env.body_pose(f"{name}_main"))[:3, 3]

    def _on(self, env, top: str, bottom: str) -> bool:
        pt, pb = self._pos_ws(env, top), self._pos_ws(env, bottom)
        dz = pt[2] - pb[2] - self._half(top) - self._half(bottom)
        return bool(
            np.linalg.norm(pt[:2] - pb[:2]) < self._half(bottom)
            and abs(dz) < 0.01
            and env.in_contact(env.body_geoms(f"{top}_main"), env.body_geoms(f"{bottom}_main"))
            and not _gripper_touches(env, f"{top}_main")
        )

    #: Transit speed multiplier of the expert (StackThree must fit two pick-and-places into
    #: MimicGen's 400-step horizon).
    expert_speed = 1.0

    def _stack(self, env, rng, top: str, bottom: str) -> Iterator[Waypoint]:
        s = self.expert_speed
        yield from _PickPlaceExpert.pick(
            env, rng, f"{top}_main", self._half(top), np.pi / 2, speed=s
        )
        Tb = env.to_workspace(env.body_pose(f"{bottom}_main"))
        Tt = env.to_workspace(env.body_pose(f"{top}_main"))
        yaw = symmetric_yaw(yaw_of(Tb[:3, :3]), np.pi / 2, reference=yaw_of(Tt[:3, :3]))
        z = Tb[2, 3] + self._half(bottom) + self._half(top) + 0.004
        target = planar_pose(Tb[0, 3], Tb[1, 3], z, yaw)
        yield from _PickPlaceExpert.place(env, rng, f"{top}_main", target, speed=s)


class LiftTask(_BlocksTask):
    """Lift a red cube (half size 2 cm) by 4 cm. D0: centre in a +/-3 cm square, full yaw
    (robosuite Lift); D1: x in [-0.2, 0.12], y in +/-0.2."""

    max_steps = 200
    blocks = (("cube", 0.02, "red"),)
    levels = {"D0": 0.03, "D1": 0.2}

    def instructions(self, variation):
        return ["lift the red cube"]

    def check_success(self, env):
        return bool(self._pos_ws(env, "cube")[2] > TABLE_Z + 0.04)

    def expert(self, env, rng):
        yield from _PickPlaceExpert.pick(env, rng, "cube_main", 0.02, np.pi / 2)


class StackTask(_BlocksTask):
    """Stack the red cube (2 cm) on the green cube (2.5 cm). D0: both in a +/-8 cm square
    (robosuite Stack); D1: x in [-0.2, 0.12], y in +/-0.2; full yaw, at least 10 cm apart."""

    max_steps = 400
    blocks = (("cubeA", 0.02, "red"), ("cubeB", 0.025, "green"))

    def instructions(self, variation):
        return ["stack the red cube on the green cube"]

    def check_success(self, env):
        return self._on(env, "cubeA", "cubeB")

    def expert(self, env, rng):
        yield from self._stack(env, rng, "cubeA", "cubeB")


class StackThreeTask(_BlocksTask):
    """Red (2 cm) on green (2.5 cm), then blue (2 cm) on red. D0: +/-10 cm, D1: x in
    [-0.2, 0.12], y in +/-0.2.
    Horizon 500 (MimicGen: 400): the scripted expert needs 300-450 steps."""

    max_steps = 500
    blocks = (("cubeA", 0.02, "red"), ("cubeB", 0.025, "green"), ("cubeC", 0.02, "blue"))
    levels = {"D0": 0.1, "D1": 0.2}
    expert_speed = 1.0

    def instructions(self, variation):
        return ["stack the red cube on the green cube, then the blue cube on the red cube"]

    def check_success(self, env):
        return self._on(env, "cubeA", "cubeB") and self._on(env, "cubeC", "cubeA")

    def expert(self, env, rng):
        yield from self._stack(env, rng, "cubeA", "cubeB")
        yield from self._stack(env, rng, "cubeC", "cubeA")


# ---------------------------------------------------------------------- square nut
class SquareTask(Task):
    """Put the square nut on the square peg (robosuite NutAssemblySquare).

    D0: nut centre x in [-0.115, -0.11], y in [0.11, 0.225], full yaw; peg at (0.23, 0.1)
    (robosuite). D1: nut x in [-0.2, -0.02], y in [-0.15, 0.25]. D2: as D1 and the pegs moved
    together, square peg x in [0.1, 0.2], y in [0.0, 0.2], yaw +/-45 degrees.
    """

    max_steps = 400
    options = {"level": "D0"}
    levels = ("D0", "D1", "D2")
    object_bodies = ("SquareNut_main",)
    table_z = 0.82

    def robosuite_env_class(self):
        from robosuite.environments.manipulation.nut_assembly import NutAssemblySquare

        return NutAssemblySquare

    def setup(self, env):
        # robosuite parks the unused round nut at (10, 10, 10), from where it falls and rests on
        # the floor with dozens of contacts; make it float without collisions instead.
        m = env.model
        rn = env._id("body", "RoundNut_main")
        m.body_gravcomp[rn] = 1.0
        m.geom_contype[m.geom_bodyid == rn] = 0
        m.geom_conaffinity[m.geom_bodyid == rn] = 0
        self._peg_offset = (
            env._body_world0[env._id("body", "peg2")][:3, 3]
            - (env._body_world0[env._id("body", "peg1")][:3, 3])
        )
        self._peg_z = float(env._body_world0[env._id("body", "peg1")][2, 3])

    def sample_scene(self, rng, variation):
        level = self.config["level"]
        if level == "D0":
            nx, ny = rng.uniform(-0.115, -0.11), rng.uniform(0.11, 0.225)
        else:
            nx, ny = rng.uniform(-0.2, -0.02), rng.uniform(-0.15, 0.25)
        nut = planar_pose(nx, ny, self.table_z + 0.011, rng.uniform(-np.pi, np.pi))
        scene = Scene(object_poses={"SquareNut_joint0": nut})
        # The round nut is parked far away by robosuite; keep it there.
        scene.object_poses["RoundNut_joint0"] = planar_pose(10.0, 10.0, 10.0, 0.0)
        if level == "D2":
            px, py = rng.uniform(0.1, 0.2), rng.uniform(0.0, 0.2)
            peg = planar_pose(px, py, self._peg_z, rng.uniform(-np.pi / 4, np.pi / 4))
            scene.fixture_poses["peg1"] = peg
            scene.fixture_poses["peg2"] = make_pose(peg[:3, 3] + self._peg_offset)
        return scene

    def instructions(self, variation):
        return ["put the square nut on the square peg"]

    def check_success(self, env):
        nut = env.to_workspace(env.body_pose("SquareNut_main"))[:3, 3]
        peg = env.to_workspace(env.body_pose("peg1"))[:3, 3]
        return bool(np.all(np.abs(nut[:2] - peg[:2]) < 0.03) and nut[2] < self.table_z + 0.05)

    def expert(self, env, rng):
        W = env.from_workspace
        handle = env.to_workspace(env.geom_pose("SquareNut_g4"))
        # Fingers close across the handle's narrow side (geom y axis).
        yaw = symmetric_yaw(yaw_of(handle[:3, :3]), np.pi)
        yaw += rng.uniform(-0.08, 0.08)
        # 1.2 cm out from the handle's centre (at its centre the fingers brush the ring's wall)
        # and 5 mm above it (lower, the fingertips touch the table first).
        nut_ws = env.to_workspace(env.body_pose("SquareNut_main"))
        out = handle[:3, 3] - nut_ws[:3, 3]
        out[2] = 0.0
        out /= np.linalg.norm(out)
        p = handle[:3, 3] + 0.012 * out
        p += np.r_[_noise(rng, 0.003, 2), 0.005 + rng.uniform(-0.002, 0.002)]
        yield Waypoint(
            W(topdown_pose(p + np.r_[0, 0, rng.uniform(0.07, 0.1)], yaw)),
            True,
            max_speed=rng.uniform(0.2, 0.3),
        )
        yield Waypoint(
            W(topdown_pose(p, yaw)), False, max_speed=0.12, tolerance=(0.004, 3.0), settle_steps=4
        )
        yield Waypoint(W(topdown_pose(p + np.r_[0, 0, 0.16], yaw)), False, max_speed=0.25)
        nut = env.to_workspace(env.body_pose("SquareNut_main"))
        peg = env.to_workspace(env.body_pose("peg1"))
        eef_ws = env.to_workspace(env.eef_pose)
        nut_in_eef = invert_pose(eef_ws) @ nut
        top = peg[2, 3] + 0.1 + 0.03  # peg geom half height is 0.1
        # The square hole fits the peg at four yaws. Among those that turn the wrist by at most
        # 100 degrees, take the one that keeps the gripper nearest the robot (the far side of
        # the peg is at the edge of the Panda's reach).
        base = symmetric_yaw(yaw_of(peg[:3, :3]), np.pi / 2)

        def gripper(k):
            nut_k = planar_pose(peg[0, 3], peg[1, 3], top, base + k * np.pi / 2)
            T = nut_k @ invert_pose(nut_in_eef)
            return abs(symmetric_yaw(yaw_of(T[:3, :3] @ R_DOWN.T), 2 * np.pi)), T[0, 3]

        ok = [k for k in range(4) if gripper(k)[0] <= np.deg2rad(100)]
        nut_yaw = base + min(ok or range(4), key=lambda k: gripper(k)[1]) * np.pi / 2
        above = planar_pose(peg[0, 3], peg[1, 3], top, nut_yaw)
        down = planar_pose(peg[0, 3], peg[1, 3], self.table_z + 0.03, nut_yaw)
        yield Waypoint(
            W(above @ invert_pose(nut_in_eef)),
            False,
            max_speed=rng.uniform(0.2, 0.3),
            # the held nut's weight is not compensated: allow the OSC's sag (the hole has
            # 6.5 mm of clearance per side and the descent centres the nut)
            tolerance=(0.012, 3.0),
        )
        yield Waypoint(
            W(down @ invert_pose(nut_in_eef)),
            True,
            max_speed=0.1,
            tolerance=(0.01, 5.0),
            settle_steps=2,
            max_steps=60,
        )
        yield Waypoint(
            W(make_pose((0, 0, 0.08)) @ down @ invert_pose(nut_in_eef)), True, max_steps=40
        )


# ---------------------------------------------------------------------- pick place
class PickPlaceCanTask(Task):
    """Pick the can from the left bin and place it in its quadrant of the right bin
    (robosuite PickPlaceCan). D0: can uniform in the source bin (+/-12 cm, +/-15 cm), full yaw."""

    max_steps = 500
    options = {"level": "D0"}
    levels = ("D0",)
    object_bodies = ("Can_main",)
    workspace_center = (0.1, 0.0, 0.8)
    workspace_bounds = ((-0.35, -0.6, 0.78), (0.55, 0.6, 1.3))
    source = (0.1, -0.25)
    target_box = ((0.1, 0.28), (0.3, 0.53))  # the can's quadrant of bin2 (robosuite)

    def robosuite_env_class(self):
        from robosuite.environments.manipulation.pick_place import PickPlaceCan

        return PickPlaceCan

    def setup(self, env):
        self._floor = 0.8 + 0.02  # bin floor top (bin body at 0.8, floor half height 0.02)

    def sample_scene(self, rng, variation):
        x = self.source[0] + rng.uniform(-0.12, 0.12)
        y = self.source[1] + rng.uniform(-0.15, 0.15)
        can = planar_pose(x, y, self._floor + 0.041, rng.uniform(-np.pi, np.pi))
        far = {
            f"{n}_joint0": planar_pose(10.0 + i, 10.0, 10.0, 0.0)
            for i, n in enumerate(("Milk", "Bread", "Cereal"))
        }
        return Scene(object_poses={"Can_joint0": can, **far})

    def instructions(self, variation):
        return ["put the can in the bin"]

    def check_success(self, env):
        p = env.to_workspace(env.body_pose("Can_main"))[:3, 3]
        (x0, y0), (x1, y1) = self.target_box
        inside = x0 < p[0] < x1 and y0 < p[1] < y1 and p[2] < self._floor + 0.06
        return bool(inside and not _gripper_touches(env, "Can_main"))

    def expert(self, env, rng):
        yield from _PickPlaceExpert.pick(env, rng, "Can_main", 0.041, None, grasp_dz=0.01)
        # The quadrant's near corner (clear of the dividers) is within the Panda's reach with a
        # top-down grasp; its far corner is not.
        cx, cy = 0.165 + rng.uniform(-0.01, 0.01), 0.35 + rng.uniform(-0.015, 0.015)
        can = env.to_workspace(env.body_pose("Can_main"))
        # Only the position is targeted: the can keeps its orientation, so the gripper its yaw.
        target = make_pose((cx, cy, self._floor + 0.041 + 0.01), can[:3, :3])
        yield from _PickPlaceExpert.place(env, rng, "Can_main", target, approach=0.08)


# ---------------------------------------------------------------------- door
class DoorTask(Task):
    """Open the door past 0.3 rad by pulling its handle (robosuite Door without latch).
    D0: door base x offset in [0.07, 0.09], y in [-0.01, 0.01], yaw in [-pi/2 - 0.25, -pi/2]
    (robosuite); D1: offsets +/-5 cm wider and yaw in [-pi/2 - 0.4, -pi/2 + 0.15]."""

    max_steps = 400
    options = {"level": "D0"}
    levels = ("D0", "D1")
    object_bodies = ("Door_door",)
    workspace_center = (-0.2, -0.35, 0.8)
    workspace_bounds = ((-0.7, -0.8, 0.75), (0.3, 0.2, 1.5))

    def robosuite_env_class(self):
        from robosuite.environments.manipulation.door import Door

        return Door

    def robosuite_env_kwargs(self):
        return {"use_latch": False}

    def sample_scene(self, rng, variation):
        level = self.config["level"]
        w = 0.0 if level == "D0" else 0.05
        x = -0.2 + rng.uniform(0.07 - w, 0.09 + w)
        y = -0.35 + rng.uniform(-0.01 - w, 0.01 + w)
        lo, hi = (
            (-np.pi / 2 - 0.25, -np.pi / 2)
            if level == "D0"
            else (-np.pi / 2 - 0.4, -np.pi / 2 + 0.15)
        )
        door = planar_pose(x, y, 1.1, rng.uniform(lo, hi))
        return Scene(fixture_poses={"Door_main": door}, joint_qpos={"Door_hinge": 0.0})

    def instructions(self, variation):
        return ["open the door"]

    def check_success(self, env):
        return env.joint_qpos("Door_hinge") > 0.3

    def expert(self, env, rng):
        W = env.from_workspace
        handle = env.to_workspace(env.geom_pose("Door_handle"))
        panel = env.to_workspace(env.geom_pose("Door_panel"))
        # Approach horizontally against the panel normal (towards the door), fingers closing
        # vertically around the bar.
        normal = panel[:3, 1] * np.sign(panel[:3, 1] @ (handle[:3, 3] - panel[:3, 3]))
        z_axis = -normal
        # The gripper is symmetric: fingers up or down; take the one nearer the current
        # orientation (the other can drive the wrist into its joint limits).
        current = env.to_workspace(env.eef_pose)[:3, :3]
        candidates = []
        for up in (1.0, -1.0):
            x_axis = np.array([0.0, 0.0, up])
            candidates.append(np.stack([x_axis, np.cross(z_axis, x_axis), z_axis], axis=1))
        R = min(
            candidates, key=lambda C: np.arccos(np.clip((np.trace(C.T @ current) - 1) / 2, -1, 1))
        )
        R = R @ Rotation.from_euler("z", rng.uniform(-0.05, 0.05)).as_matrix()
        along = handle[:3, :3] @ np.r_[rng.uniform(-0.02, 0.02), 0.0, 0.0]
        p = handle[:3, 3] + along + np.r_[0.0, 0.0, rng.uniform(-0.004, 0.004)]
        back = normal * rng.uniform(0.07, 0.1)
        yield Waypoint(W(make_pose(p + back, R)), True, max_speed=rng.uniform(0.2, 0.3))
        yield Waypoint(
            W(make_pose(p, R)), False, max_speed=0.1, tolerance=(0.004, 3.0), settle_steps=4
        )
        j = env._id("joint", "Door_hinge")
        anchor = env.to_workspace(make_pose(env.data.xanchor[j]))[:3, 3]
        axis = env.g_inv[:3, :3] @ env.data.xaxis[j]
        grasp = env.to_workspace(env.eef_pose)
        goal = rng.uniform(0.36, 0.39)
        for k, theta in enumerate(np.linspace(goal / 4, goal, 4)):
            R = Rotation.from_rotvec(axis * theta).as_matrix()
            T = make_pose(anchor + R @ (grasp[:3, 3] - anchor), R @ grasp[:3, :3])
            yield Waypoint(
                W(T), False, keyframe=k == 3, max_speed=0.08, tolerance=(0.01, 6.0), max_steps=60
            )


register_task("lift", LiftTask, description="lift a cube", level="D0")
register_task("lift_d1", LiftTask, description="lift a cube, wide init", level="D1")
# sym_in_dp's generalisation probe: train in the half y >= 0 of the D1 region, test in it and
# in its half-turn about the workspace centre (the other half; the robot does not move).
register_task(
    "lift_d1_half", LiftTask, description="lift a cube, D1 half y >= 0", level="D1", region="half"
)
register_task(
    "lift_d1_half_yaw180",
    LiftTask,
    description="lift a cube, lift_d1_half turned 180 deg about the workspace centre",
    level="D1",
    region="half",
    scene_yaw_deg=180.0,
)
register_task("stack_d0", StackTask, description="stack two cubes", level="D0")
register_task("stack_d1", StackTask, description="stack two cubes, wide init", level="D1")
register_task("stack_three_d0", StackThreeTask, description="stack three cubes", level="D0")
register_task("stack_three_d1", StackThreeTask, description="stack three cubes, wide", level="D1")
register_task("square_d0", SquareTask, description="square nut on peg", level="D0")
register_task("square_d1", SquareTask, description="square nut on peg, wide nut", level="D1")
register_task("square_d2", SquareTask, description="square nut on peg, peg moves", level="D2")
register_task("pick_place_can", PickPlaceCanTask, description="can into bin", level="D0")
register_task("door", DoorTask, description="open a door (no latch)", level="D0")
register_task("door_d1", DoorTask, description="open a door, wider init", level="D1")

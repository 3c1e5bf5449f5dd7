"""Placement where the in-hand pose matters (Keyframe Transporter): peg_in_tilted_hole."""

from __future__ import annotations

import numpy as np

from ..geometry import invert_pose, make_pose
from ..tasks.base import Scene, register_task
from ..tasks.primitives import rot_z, sample_separated_xy, topdown_pose, yaw_of
from .base import TABLE_Z, KeyframeTask, pick, waypoint, yaw_pose
from .base import topdown_grasp as _grasp
from .objects import COLOURS, pedestal, peg_socket, square_peg, square_tube

__all__ = ["PegInTiltedHole"]

HOLE_COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta")
PEG_HALF, PEG_HALF_LEN = 0.01, 0.06
SOCKET_FLOOR = 0.008  # socket floor top above the table
PEDESTAL_H = 0.05
TUBE_INNER, TUBE_DEPTH = 0.016, 0.05
INSERT = 0.03  # how far the peg's end goes into the hole (m)


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


class PegInTiltedHole(KeyframeTask):
    """Insert the square peg (2 x 2 x 12 cm, standing in a socket) into the tilted square hole
    of a colour (3.2 cm wide, 5 cm deep). Two holes on pedestals, each tilted by 15-30 degrees
    in a random direction except within 75 degrees of pointing away from the robot. The grasp
    height along the peg varies, so the insertion keyframe depends on the in-hand pose (the
    Keyframe Transporter's bi-equivariant placement).
    Variations: the target hole's colour (6). Success: the peg is at least 2.5 cm inside the
    target hole, aligned with it (25 deg), not held."""

    max_steps = 400
    n_variations = len(HOLE_COLOURS)
    object_bodies = ("peg_main",)

    def object_specs(self):
        return (
            square_peg("peg", PEG_HALF, PEG_HALF_LEN),
            peg_socket("socket"),
            pedestal("pedestal0", height=PEDESTAL_H),
            pedestal("pedestal1", height=PEDESTAL_H),
            square_tube("hole0", TUBE_INNER, TUBE_DEPTH),
            square_tube("hole1", TUBE_INNER, TUBE_DEPTH),
        )

    def instructions(self, variation):
        c = HOLE_COLOURS[variation]
        return [
            f"put the peg in the {c} hole",
            f"insert the peg into the tilted {c} hole",
            f"pick up the peg and insert it in the {c} hole",
        ]

    def sample_scene(self, rng, variation):
        other = [c for c in HOLE_COLOURS if c != HOLE_COLOURS[variation]]
        colours = [HOLE_COLOURS[variation], other[int(rng.integers(len(other)))]]
        socket_xy = sample_separated_xy(rng, [((-0.14, -0.06), (-0.15, 0.15))], 0.0)[0]
        ped_xy = sample_separated_xy(
            rng, [((0.02, 0.14), (-0.17, 0.17))] * 2, 0.16, fixed=[socket_xy]
        )
        socket = yaw_pose(socket_xy[0], socket_xy[1], TABLE_Z, rng.uniform(-np.pi, np.pi))
        peg = socket @ make_pose((0, 0, SOCKET_FLOOR + PEG_HALF_LEN + 0.0005))
        fixtures = {"socket_main": socket}
        tilts = []
        for i, (x, y) in enumerate(ped_xy):
            ped = yaw_pose(x, y, TABLE_Z, rng.uniform(-np.pi, np.pi))
            # Holes leaning away from the robot (|direction| < 75 deg) need a gripper pointing
            # back at the robot, which the Panda's OSC cannot reach without joint limits.
            direction = rng.uniform(np.deg2rad(75), np.deg2rad(285))
            tilt = np.deg2rad(rng.uniform(15.0, 30.0))
            tilts.append([float(direction), float(tilt)])
            base = make_pose((x, y, TABLE_Z + PEDESTAL_H + 0.008 + 0.012))
            fixtures[f"pedestal{i}_main"] = ped
            fixtures[f"hole{i}_main"] = base @ make_pose(rot=rot_z(direction) @ _rot_y(tilt))
        rgba = {
            f"hole{i}_{g}_visual": COLOURS[c]
            for i, c in enumerate(colours)
            for g in ("floor", "wx0", "wx1", "wy0", "wy1")
        }
        return Scene(
            object_poses={"peg_joint0": peg},
            fixture_poses=fixtures,
            geom_rgba=rgba,
            info={"colours": colours, "target": 0, "tilts": tilts},
        )

    def check_success(self, env):
        tube = self.ws_pose(env, "hole0_main")
        peg = invert_pose(tube) @ self.ws_pose(env, "peg_main")
        inside = np.all(np.abs(peg[:2, 3]) < 0.012)
        deep = peg[2, 3] < TUBE_DEPTH + PEG_HALF_LEN - 0.025
        # Fully inserted, the peg can lean ~16 deg in the 3.2 cm hole.
        aligned = abs(peg[2, 2]) > np.cos(np.deg2rad(25.0))
        return bool(inside and deep and aligned and not self.gripper_touches(env, "peg_main"))

    def expert(self, env, rng):
        peg = self.scene_pose(env, "peg_joint0")
        top = peg[:3, 3] + [0, 0, PEG_HALF_LEN - 0.025 + rng.uniform(-0.01, 0.01)]
        yield from pick(env, rng, _grasp(top, yaw_of(peg[:3, :3]), np.pi / 2), lift=0.15)
        # Final peg pose: along the hole's axis, its end INSERT deep.
        tube = self.scene_pose(env, "hole0_main")
        axis = tube[:3, 2]
        target = tube @ make_pose((0, 0, TUBE_DEPTH - INSERT + PEG_HALF_LEN))
        eef_ws = env.to_workspace(env.eef_pose)
        peg_in_eef = invert_pose(eef_ws) @ env.to_workspace(env.body_pose("peg_main"))
        candidates = [
            target @ make_pose(rot=rot_z(k * np.pi / 2)) @ invert_pose(peg_in_eef) for k in range(4)
        ]
        # Of the four equivalent grasps, the one closest to the neutral top-down gripper (the
        # wrist's joint range does not allow every yaw).
        neutral = topdown_pose((0, 0, 0), 0.0)[:3, :3]
        angle = [
            np.arccos(np.clip((np.trace(neutral.T @ c[:3, :3]) - 1) / 2, -1, 1)) for c in candidates
        ]
        eef_target = candidates[int(np.argmin(angle))]

        def along(d):
            T = eef_target.copy()
            T[:3, 3] += d * axis
            return T

        yield waypoint(
            env, along(0.08 + rng.uniform(0, 0.02)), False, max_speed=rng.uniform(0.2, 0.3)
        )
        yield waypoint(env, eef_target, True, max_speed=0.06, tolerance=(0.006, 3.0))
        yield waypoint(env, along(0.1), True, max_speed=0.2)


register_task(
    "peg_in_tilted_hole",
    PegInTiltedHole,
    suite="keyframe",
    description="insert a peg into the tilted hole of a colour (in-hand pose matters)",
)

"""Articulated cabinet tasks: open_drawer and put_item_in_drawer."""

from __future__ import annotations

import numpy as np

from ..geometry import make_pose
from ..tasks.base import Scene, register_task
from ..tasks.primitives import topdown_pose, yaw_of
from .base import TABLE_Z, KeyframeTask, gripper_pose, pick, place, waypoint, yaw_pose
from .base import topdown_grasp as _grasp
from .objects import COLOURS, block, cabinet

__all__ = ["OpenDrawer", "PutItemInDrawer"]

DRAWERS = ("bottom", "middle", "top")
#: Approach tilt of the handle grasp from the vertical (towards the cabinet): the hand stays
#: clear of the handle of the drawer above.
HANDLE_TILT = np.deg2rad(32.0)
PULL = 0.15  # opening distance commanded by the expert (m)
OPEN_THRESHOLD = 0.12  # a drawer counts as open beyond this (m)
ITEM_HALF = 0.02


class _CabinetTask(KeyframeTask):
    """A three-drawer cabinet facing the robot: position x in [0.25, 0.3], y in [-0.1, 0.1],
    yaw in [-25, 25] degrees (workspace frame)."""

    n_variations = len(DRAWERS)

    def object_specs(self):
        return (cabinet("cabinet"),)

    def _sample_cabinet(self, rng) -> np.ndarray:
        return yaw_pose(
            rng.uniform(0.25, 0.3),
            rng.uniform(-0.1, 0.1),
            TABLE_Z,
            np.deg2rad(rng.uniform(-25, 25)),
        )

    def _opening(self, env, d: int) -> float:
        return env.joint_qpos(f"cabinet_slide{d}")

    def _open_drawer(self, env, rng, d: int):
        """Grasp drawer ``d``'s handle, pull it open, release, back off."""
        handle = self.ws_site(env, f"cabinet_handle{d}")[:3, 3]
        cab = self.scene_pose(env, "cabinet_main")
        inward, lateral = cab[:3, 0], cab[:3, 1]
        tilt = HANDLE_TILT + np.deg2rad(rng.uniform(-3, 3))
        approach = np.cos(tilt) * np.array([0.0, 0.0, -1.0]) + np.sin(tilt) * inward
        grasp = gripper_pose(handle + rng.uniform(-0.003, 0.003, 3), approach, lateral)
        back = make_pose((0, 0, -(0.1 + rng.uniform(0, 0.02))))
        yield waypoint(env, grasp @ back, True, max_speed=rng.uniform(0.12, 0.16))
        yield waypoint(env, grasp, False, max_speed=0.15, tolerance=(0.005, 3.0))
        pulled = grasp.copy()
        pulled[:3, 3] -= (PULL + rng.uniform(0, 0.01)) * inward
        yield waypoint(env, pulled, True, max_speed=0.15, tolerance=(0.01, 5.0))
        yield waypoint(env, pulled @ make_pose((0, 0, -0.08)), True, max_speed=0.25)


class OpenDrawer(_CabinetTask):
    """Open the bottom, middle or top drawer (RLBench ``open_drawer``, 3 variations). Success:
    that drawer opened by more than 12 cm."""

    max_steps = 400

    def instructions(self, variation):
        d = DRAWERS[variation]
        return [
            f"open the {d} drawer",
            f"grip the {d} handle and pull the {d} drawer open",
            f"slide the {d} drawer open",
        ]

    def sample_scene(self, rng, variation):
        return Scene(
            fixture_poses={"cabinet_main": self._sample_cabinet(rng)},
            info={"drawer": DRAWERS[variation]},
        )

    def check_success(self, env):
        return bool(self._opening(env, env.variation) > OPEN_THRESHOLD)

    def expert(self, env, rng):
        yield from self._open_drawer(env, rng, env.variation)


register_task(
    "open_drawer",
    OpenDrawer,
    suite="keyframe",
    description="open one of three drawers of a cabinet",
)


class PutItemInDrawer(_CabinetTask):
    """Open a drawer and put the block lying beside the cabinet into it (RLBench
    ``put_item_in_drawer``, 3 variations: bottom / middle / top). The block starts on the table
    in front of the cabinet, to one side of the drawer's path
    (x in [-0.18, -0.08], |y| in [0.12, 0.2]). Success: the block rests inside that
    drawer (below its wall tops, not held)."""

    max_steps = 800

    def object_specs(self):
        return (*super().object_specs(), block("item", ITEM_HALF))

    object_bodies = ("item_main",)

    def instructions(self, variation):
        d = DRAWERS[variation]
        return [
            f"put the item in the {d} drawer",
            f"open the {d} drawer and put the block inside",
            f"place the block into the {d} drawer",
        ]

    def sample_scene(self, rng, variation):
        cab = self._sample_cabinet(rng)
        side = -1.0 if cab[1, 3] > 0 else 1.0
        item = yaw_pose(
            rng.uniform(-0.18, -0.08),
            side * rng.uniform(0.12, 0.2),
            TABLE_Z + ITEM_HALF + 0.0005,
            rng.uniform(-np.pi, np.pi),
        )
        return Scene(
            object_poses={"item_joint0": item},
            fixture_poses={"cabinet_main": cab},
            geom_rgba={"item_g_visual": COLOURS["yellow"]},
            info={"drawer": DRAWERS[variation]},
        )

    def _item_in_drawer(self, env, d: int) -> bool:
        T = np.linalg.inv(self.ws_pose(env, f"cabinet_drawer{d}")) @ self.ws_pose(env, "item_main")
        x, y, z = T[:3, 3]
        inside = abs(x) < 0.095 and abs(y) < 0.11 and 0.0 < z < 0.04
        return bool(inside and not self.gripper_touches(env, "item_main"))

    def check_success(self, env):
        return self._item_in_drawer(env, env.variation)

    def expert(self, env, rng):
        d = env.variation
        yield from self._open_drawer(env, rng, d)
        # Back to a neutral top-down pose: the operational-space controller reaches the item
        # reliably from there, not from the tilted handle grasp.
        home = topdown_pose((rng.uniform(-0.08, -0.04), rng.uniform(-0.03, 0.03), 1.05), 0.0)
        yield waypoint(env, home, True, max_speed=rng.uniform(0.25, 0.35))
        # Target: near the drawer's front wall, so that the hand stays clear of the handle of
        # the drawer above (which sticks out over the opened part).
        drawer = self.ws_pose(env, f"cabinet_drawer{d}")
        local = make_pose(
            (
                -0.056 + rng.uniform(-0.005, 0.005),
                rng.uniform(-0.02, 0.02),
                0.005 + ITEM_HALF + 0.006,
            )
        )
        target = drawer @ local @ yaw_pose(0, 0, 0, rng.uniform(-0.2, 0.2))
        approach = 0.1
        # Lift the block straight up above the drawer's handle before carrying it over.
        T = self.scene_pose(env, "item_joint0")
        grasp = _grasp(T[:3, 3], yaw_of(T[:3, :3]), np.pi / 2)
        lift_to = grasp.copy()
        lift_to[2, 3] = target[2, 3] + approach + rng.uniform(0.0, 0.02)
        yield from pick(env, rng, grasp, lift_to=lift_to)
        # Fingers across the drawer: the hand's long side stays clear of the cabinet front.
        ref = topdown_pose((0, 0, 0), yaw_of(drawer[:3, :3]))
        yield from place(
            env, rng, "item_main", target, approach=approach, symmetry=4, reference=ref
        )


register_task(
    "put_item_in_drawer",
    PutItemInDrawer,
    suite="keyframe",
    description="open a drawer and put a block into it",
)

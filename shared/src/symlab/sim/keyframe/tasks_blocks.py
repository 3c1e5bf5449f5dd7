"""Block tasks: pick_and_lift, stack_blocks, slide_block_to_color_target, place_block_in_bowl."""

from __future__ import annotations

import numpy as np

from ..geometry import make_pose
from ..tasks.base import Scene, register_task
from ..tasks.primitives import sample_separated_xy, yaw_of
from .base import TABLE_Z, KeyframeTask, colour_names, gripper_pose, pick, place, waypoint, yaw_pose
from .base import topdown_grasp as _grasp
from .objects import COLOURS, block, bowl, target_pad, target_sphere

__all__ = ["PickAndLift", "PlaceBlockInBowl", "SlideBlockToColorTarget", "StackBlocks"]

HALF = 0.02  # block half size
PALETTE = colour_names()


def _distinct_colours(rng, n: int, exclude: tuple[str, ...]) -> list[str]:
    pool = [c for c in PALETTE if c not in exclude]
    return [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]


class _ColouredBlocks(KeyframeTask):
    """Scenes of ``n_blocks`` cubes; block 0.. are recoloured per episode."""

    n_blocks = 3
    region = ((-0.14, 0.14), (-0.2, 0.2))
    min_dist = 0.1

    def object_specs(self):
        return tuple(block(f"block{i}", HALF) for i in range(self.n_blocks))

    @property
    def object_bodies(self):  # type: ignore[override]
        return tuple(f"block{i}_main" for i in range(self.n_blocks))

    def _blocks_scene(self, rng, colours, fixed=(), region=None):
        xy = sample_separated_xy(rng, [region or self.region] * self.n_blocks, self.min_dist, fixed)
        yaw = rng.uniform(-np.pi, np.pi, size=self.n_blocks)
        poses = {
            f"block{i}_joint0": yaw_pose(x, y, TABLE_Z + HALF + 0.0005, a)
            for i, ((x, y), a) in enumerate(zip(xy, yaw))
        }
        rgba = {f"block{i}_g_visual": COLOURS[c] for i, c in enumerate(colours)}
        return poses, rgba

    def _block_grasp(self, env, i: int, dz: float = 0.0):
        T = self.scene_pose(env, f"block{i}_joint0")
        return _grasp(T[:3, 3] + np.r_[0, 0, dz], yaw_of(T[:3, :3]), np.pi / 2)

    def _block_pos(self, env, i: int) -> np.ndarray:
        return self.ws_pose(env, f"block{i}_main")[:3, 3]


# ---------------------------------------------------------------------- pick_and_lift
class PickAndLift(_ColouredBlocks):
    """Pick up the block of the variation's colour (among three) and lift it into a target
    sphere. RLBench ``pick_and_lift``. Variation: the target colour (12). Success: the block's
    centre within 4 cm of the sphere's centre."""

    max_steps = 250
    n_variations = len(PALETTE)

    def object_specs(self):
        return (*super().object_specs(), target_sphere("goal", 0.04))

    def instructions(self, variation):
        c = PALETTE[variation]
        return [
            f"pick up the {c} block and lift it up to the target",
            f"grasp the {c} block to the target",
            f"lift the {c} block up to the target",
        ]

    def sample_scene(self, rng, variation):
        colours = [PALETTE[variation], *_distinct_colours(rng, 2, (PALETTE[variation],))]
        poses, rgba = self._blocks_scene(rng, colours)
        goal = yaw_pose(
            rng.uniform(-0.1, 0.1), rng.uniform(-0.15, 0.15), TABLE_Z + rng.uniform(0.18, 0.28), 0.0
        )
        return Scene(
            object_poses=poses,
            fixture_poses={"goal_main": goal},
            geom_rgba=rgba,
            info={"colours": colours, "target": 0},
        )

    def check_success(self, env):
        goal = self.ws_pose(env, "goal_main")[:3, 3]
        return bool(np.linalg.norm(self._block_pos(env, 0) - goal) < 0.04)

    def expert(self, env, rng):
        grasp = self._block_grasp(env, 0)
        lift_to = grasp.copy()
        lift_to[:3, 3] = self.scene_pose(env, "goal_main")[:3, 3]
        yield from pick(env, rng, grasp, lift_to=lift_to)


register_task(
    "pick_and_lift",
    PickAndLift,
    suite="keyframe",
    description="pick the block of a colour and lift it to a target sphere",
)


# ---------------------------------------------------------------------- stack_blocks
STACK_COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta")
STACK_COUNTS = (2, 3)


class StackBlocks(_ColouredBlocks):
    """Stack ``n`` blocks of a colour on the grey pad (RLBench ``stack_blocks``). Three blocks
    have the variation's colour, two have a distractor colour. Variations: 6 colours x
    n in {2, 3} (12). Success: ``n`` blocks of the colour stacked on the pad (each within 2.5 cm
    of the pad's centre horizontally, at the heights of an ``n``-high stack), gripper clear."""

    max_steps = 800
    n_blocks = 5
    n_variations = len(STACK_COLOURS) * len(STACK_COUNTS)
    region = ((-0.16, 0.16), (-0.22, 0.22))

    def object_specs(self):
        return (*super().object_specs(), target_pad("pad", 0.045, COLOURS["gray"]))

    @staticmethod
    def _variation(variation: int) -> tuple[str, int]:
        return STACK_COLOURS[variation // 2], STACK_COUNTS[variation % 2]

    def instructions(self, variation):
        c, n = self._variation(variation)
        word = {2: "two", 3: "three"}[n]
        return [
            f"stack {n} {c} blocks",
            f"place {word} of the {c} cubes on top of each other",
            f"build a tall tower out of {word} {c} cubes",
        ]

    def sample_scene(self, rng, variation):
        c, n = self._variation(variation)
        other = _distinct_colours(rng, 1, (c,))[0]
        colours = [c, c, c, other, other]
        xy = sample_separated_xy(rng, [self.region] * (self.n_blocks + 1), self.min_dist)
        yaw = rng.uniform(-np.pi, np.pi, size=self.n_blocks + 1)
        poses = {
            f"block{i}_joint0": yaw_pose(x, y, TABLE_Z + HALF + 0.0005, a)
            for i, ((x, y), a) in enumerate(zip(xy[1:], yaw[1:]))
        }
        pad = yaw_pose(xy[0, 0], xy[0, 1], TABLE_Z, yaw[0])
        rgba = {f"block{i}_g_visual": COLOURS[k] for i, k in enumerate(colours)}
        return Scene(
            object_poses=poses,
            fixture_poses={"pad_main": pad},
            geom_rgba=rgba,
            info={"colours": colours, "count": n},
        )

    def check_success(self, env):
        _, n = self._variation(env.variation)
        pad = self.ws_pose(env, "pad_main")[:3, 3]
        pos = np.array([self._block_pos(env, i) for i in range(3)])
        near = np.linalg.norm(pos[:, :2] - pad[:2], axis=1) < 0.025
        z = np.sort(pos[near, 2])
        levels = TABLE_Z + HALF * (2 * np.arange(n) + 1)
        if len(z) < n or not np.all(np.abs(z[:n] - levels) < 0.01):
            return False
        return not any(self.gripper_touches(env, f"block{i}_main") for i in range(3))

    def expert(self, env, rng):
        _, n = self._variation(env.variation)
        pad = self.scene_pose(env, "pad_main")
        for k in range(n):
            yield from pick(env, rng, self._block_grasp(env, k), lift=0.1 + 2 * HALF * k)
            target = pad @ make_pose((0, 0, HALF * (2 * k + 1) + 0.004))
            yield from place(
                env, rng, f"block{k}_main", target, approach=0.06, symmetry=4, retreat=0.06
            )


register_task(
    "stack_blocks",
    StackBlocks,
    suite="keyframe",
    description="stack two or three blocks of a colour on a pad",
)


# ---------------------------------------------------------------------- slide_block
SLIDE_COLOURS = ("green", "blue", "pink", "yellow")
SLIDE_HALF = 0.025
PAD_HALF = 0.05


class SlideBlockToColorTarget(KeyframeTask):
    """Push a block onto the square target of a colour (RLBench
    ``slide_block_to_color_target``, 4 variations). Four targets surround the block at 16 cm in
    four directions (random overall rotation, random colour order). The expert pushes with the
    closed fingers. Success: the block's centre on the target (within 4 cm of its centre along
    both of its axes)."""

    max_steps = 300
    n_variations = len(SLIDE_COLOURS)
    object_bodies = ("block_main",)

    def object_specs(self):
        pads = tuple(target_pad(f"target{i}", PAD_HALF) for i in range(4))
        return (block("block", SLIDE_HALF, COLOURS["red"]), *pads)

    def instructions(self, variation):
        c = SLIDE_COLOURS[variation]
        return [
            f"slide the block to the {c} target",
            f"push the block onto the {c} square",
            f"slide the block towards the {c} plane",
        ]

    def sample_scene(self, rng, variation):
        bx, by = rng.uniform(-0.04, 0.04), rng.uniform(-0.08, 0.08)
        theta = rng.uniform(-np.pi, np.pi)
        order = rng.permutation(4)  # order[i]: colour index of target i
        fixtures, rgba = {}, {}
        for i in range(4):
            a = theta + i * np.pi / 2
            r = 0.16
            fixtures[f"target{i}_main"] = yaw_pose(
                bx + r * np.cos(a), by + r * np.sin(a), TABLE_Z, a
            )
            rgba[f"target{i}_g"] = COLOURS[SLIDE_COLOURS[order[i]]]
        block_pose = yaw_pose(bx, by, TABLE_Z + SLIDE_HALF + 0.0005, rng.uniform(-np.pi, np.pi))
        target = int(np.flatnonzero(order == variation)[0])
        return Scene(
            object_poses={"block_joint0": block_pose},
            fixture_poses=fixtures,
            geom_rgba=rgba,
            info={"target": target, "colours": [SLIDE_COLOURS[o] for o in order]},
        )

    def _target(self, env) -> str:
        return f"target{env.scene.info['target']}_main"

    def check_success(self, env):
        T = np.linalg.inv(self.ws_pose(env, self._target(env))) @ self.ws_pose(env, "block_main")
        return bool(np.all(np.abs(T[:2, 3]) < PAD_HALF - 0.01))

    def expert(self, env, rng):
        b = self.scene_pose(env, "block_joint0")[:3, 3]
        t = self.scene_pose(env, self._target(env))[:3, 3]
        u = (t - b) * np.array([1.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        # Fingers across the push direction: both closed fingers touch the block face.
        fingers = np.cross([0.0, 0.0, 1.0], u)
        z = TABLE_Z + 0.018 + rng.uniform(-0.003, 0.003)
        start = b - (SLIDE_HALF + 0.035 + rng.uniform(0, 0.01)) * u
        start[2] = z
        end = t - (SLIDE_HALF + 0.01 + rng.uniform(-0.005, 0.005)) * u
        end[2] = z
        down = np.array([0.0, 0.0, -1.0])
        pre = gripper_pose(start + [0, 0, 0.1 + rng.uniform(0, 0.02)], down, fingers)
        pre = _flip_towards_robot(pre)
        R = pre[:3, :3]
        yield waypoint(env, pre, False, max_speed=rng.uniform(0.25, 0.35))
        yield waypoint(env, make_pose(start, R), False, max_speed=0.15, tolerance=(0.006, 3.0))
        yield waypoint(env, make_pose(end, R), False, max_speed=0.08, tolerance=(0.01, 5.0))
        yield waypoint(env, make_pose(end + [0, 0, 0.08], R), False, max_speed=0.2)


def _flip_towards_robot(T):
    """The same top-down grasp rotated by 180 degrees about its approach axis if that keeps
    the gripper yaw closer to the robot's neutral yaw (fingers closing along workspace y)."""
    x = T[:3, 0]
    if x[1] < 0:
        T = T.copy()
        T[:3, 0] *= -1
        T[:3, 1] *= -1
    return T


register_task(
    "slide_block_to_color_target",
    SlideBlockToColorTarget,
    suite="keyframe",
    description="push a block onto the target square of a colour",
)


# ---------------------------------------------------------------------- place_block_in_bowl
class PlaceBlockInBowl(_ColouredBlocks):
    """Put the block of a colour (among three) into the bowl (the pick-and-place task of HEP
    and the Keyframe Transporter). Variation: the colour (12). Success: the block lies inside
    the bowl, not held."""

    max_steps = 300
    n_variations = len(PALETTE)
    bowl_radius = 0.075

    def object_specs(self):
        return (*super().object_specs(), bowl("bowl", self.bowl_radius))

    def instructions(self, variation):
        c = PALETTE[variation]
        return [
            f"put the {c} block in the bowl",
            f"place the {c} cube into the bowl",
            f"pick up the {c} block and drop it in the bowl",
        ]

    def sample_scene(self, rng, variation):
        colours = [PALETTE[variation], *_distinct_colours(rng, 2, (PALETTE[variation],))]
        region = ((-0.16, 0.16), (-0.22, 0.22))
        xy = sample_separated_xy(rng, [region] * 4, 0.1)
        bowl_xy, block_xy = xy[0], xy[1:]
        while np.min(np.linalg.norm(block_xy - bowl_xy, axis=1)) < 0.14:
            xy = sample_separated_xy(rng, [region] * 4, 0.1)
            bowl_xy, block_xy = xy[0], xy[1:]
        yaw = rng.uniform(-np.pi, np.pi, size=3)
        poses = {
            f"block{i}_joint0": yaw_pose(x, y, TABLE_Z + HALF + 0.0005, a)
            for i, ((x, y), a) in enumerate(zip(block_xy, yaw))
        }
        rgba = {f"block{i}_g_visual": COLOURS[c] for i, c in enumerate(colours)}
        bowl_pose = yaw_pose(bowl_xy[0], bowl_xy[1], TABLE_Z, 0.0)
        return Scene(
            object_poses=poses,
            fixture_poses={"bowl_main": bowl_pose},
            geom_rgba=rgba,
            info={"colours": colours, "target": 0},
        )

    def check_success(self, env):
        bowl_c = self.ws_pose(env, "bowl_main")[:3, 3]
        p = self._block_pos(env, 0)
        inside = np.linalg.norm(p[:2] - bowl_c[:2]) < self.bowl_radius - 0.01
        low = p[2] < TABLE_Z + 0.008 + HALF + 0.02
        return bool(inside and low and not self.gripper_touches(env, "block0_main"))

    def expert(self, env, rng):
        yield from pick(env, rng, self._block_grasp(env, 0))
        c = self.scene_pose(env, "bowl_main")[:3, 3]
        target = yaw_pose(
            c[0] + rng.uniform(-0.015, 0.015),
            c[1] + rng.uniform(-0.015, 0.015),
            TABLE_Z + 0.008 + HALF + 0.01,
            0.0,
        )
        yield from place(env, rng, "block0_main", target, approach=0.08, symmetry=4)


register_task(
    "place_block_in_bowl",
    PlaceBlockInBowl,
    suite="keyframe",
    description="put the block of a colour into the bowl",
)

"""Tasks with static fixtures: push_buttons, insert_onto_square_peg, close_jar."""

from __future__ import annotations

import itertools

import numpy as np

from ..geometry import make_pose
from ..tasks.base import Scene, register_task
from ..tasks.primitives import sample_separated_xy, topdown_pose, yaw_of
from .base import TABLE_Z, KeyframeTask, pick, place, waypoint, yaw_pose
from .base import topdown_grasp as _grasp
from .objects import COLOURS, button_panel, jar, jar_lid, peg_stand, square_ring

__all__ = ["CloseJar", "InsertOntoSquarePeg", "PushButtons"]


def _robosuite_env(env):
    """The robosuite environment inside a :class:`~symlab.sim.SimEnv` (our model class)."""
    return env._rs


# ---------------------------------------------------------------------- push_buttons
BUTTON_COLOURS = ("red", "green", "blue", "yellow")
#: Variation i presses the colours ``BUTTON_SEQUENCES[i]`` in order (1, 2 or 3 buttons).
BUTTON_SEQUENCES = tuple(
    seq for n in (1, 2, 3) for seq in itertools.permutations(BUTTON_COLOURS, n)
)
BUTTON_TOP = 2 * 0.015 + 2 * 0.008 + 0.001  # cap top above the table when released
PRESS_DEPTH = 0.011


class PushButtons(KeyframeTask):
    """Push one, two or three of three coloured buttons in a given order (RLBench
    ``push_buttons``). Variations: every ordered sequence of 1-3 distinct colours from
    red/green/blue/yellow (40). Buttons are caps on slide joints that stay down once pushed by
    more than 7 mm; the press order is recorded whenever success is checked (after every control
    step or keyframe). Success: exactly the variation's buttons were pushed, in order."""

    max_steps = 450
    n_variations = len(BUTTON_SEQUENCES)
    button_joints = tuple(f"button{i}_press" for i in range(3))
    object_bodies = ("button0_main", "button1_main", "button2_main")

    def object_specs(self):
        return tuple(button_panel(f"button{i}") for i in range(3))

    def instructions(self, variation):
        seq = BUTTON_SEQUENCES[variation]
        first = f"push the {seq[0]} button"
        rest = "".join(f", then push the {c} button" for c in seq[1:])
        names = " and ".join(seq) if len(seq) < 3 else f"{seq[0]}, {seq[1]} and {seq[2]}"
        return [first + rest, f"press the {names} buttons in that order"]

    def sample_scene(self, rng, variation):
        seq = list(BUTTON_SEQUENCES[variation])
        rest = [c for c in BUTTON_COLOURS if c not in seq]
        colours = seq + [rest[i] for i in rng.permutation(len(rest))[: 3 - len(seq)]]
        xy = sample_separated_xy(rng, [((-0.12, 0.14), (-0.2, 0.2))] * 3, 0.12)
        yaw = rng.uniform(-np.pi, np.pi, size=3)
        fixtures = {
            f"button{i}_main": yaw_pose(x, y, TABLE_Z, a)
            for i, ((x, y), a) in enumerate(zip(xy, yaw))
        }
        rgba = {f"button{i}_cap_visual": COLOURS[c] for i, c in enumerate(colours)}
        return Scene(
            fixture_poses=fixtures, geom_rgba=rgba, info={"colours": colours, "sequence": seq}
        )

    def on_reset(self, env):
        _robosuite_env(env).clear_presses()

    def pressed(self, env) -> list[int]:
        """Indices of the buttons pressed so far, in order (updated from the current state)."""
        return list(_robosuite_env(env).record_presses())

    def check_success(self, env):
        # Also records newly pressed buttons: the benchmark checks success after every control
        # step and after every executed keyframe, which gives the press order at that
        # granularity (buttons stay down once pressed).
        n = len(BUTTON_SEQUENCES[env.variation])
        return self.pressed(env) == list(range(n))

    def expert(self, env, rng):
        n = len(BUTTON_SEQUENCES[env.variation])
        for i in range(n):
            top = self.scene_pose(env, f"button{i}_main")[:3, 3] + [0, 0, BUTTON_TOP]
            yaw = rng.uniform(-0.3, 0.3)
            above = topdown_pose(top + [0, 0, 0.06 + rng.uniform(0, 0.02)], yaw)
            press = topdown_pose(top + [0, 0, 0.004 - PRESS_DEPTH], yaw)
            yield waypoint(env, above, False, max_speed=rng.uniform(0.25, 0.35))
            yield waypoint(env, press, False, max_speed=0.1, tolerance=(0.004, 5.0))
        yield waypoint(env, above, False, max_speed=0.2)


register_task(
    "push_buttons",
    PushButtons,
    suite="keyframe",
    description="push coloured buttons in a given order",
)


# ---------------------------------------------------------------------- insert_onto_square_peg
PEG_COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta", "orange", "purple")
PEG_HEIGHT = 0.08
RING_HALF_HEIGHT = 0.01


class InsertOntoSquarePeg(KeyframeTask):
    """Put the square ring onto the peg of a colour (RLBench ``insert_onto_square_peg``).
    Three square pegs (3 cm) on a stand; the ring's hole is 6 cm wide and it is grasped by its
    handle. Variations: the target peg's colour (8); the other two pegs get other colours and
    the target's position on the stand is random. Success: the ring encircles the target peg
    (hole centre within 1.5 cm of the peg's axis, ring below the peg's top), not held."""

    max_steps = 450
    n_variations = len(PEG_COLOURS)
    object_bodies = ("ring_main",)

    def object_specs(self):
        return (square_ring("ring"), peg_stand("pegs", peg_height=PEG_HEIGHT))

    def instructions(self, variation):
        c = PEG_COLOURS[variation]
        return [
            f"put the ring on the {c} spoke",
            f"slide the ring onto the {c} colored spoke",
            f"place the ring onto the {c} peg",
        ]

    def sample_scene(self, rng, variation):
        others = [c for c in PEG_COLOURS if c != PEG_COLOURS[variation]]
        colours = [others[i] for i in rng.choice(len(others), size=3, replace=False)]
        target = int(rng.integers(3))
        colours[target] = PEG_COLOURS[variation]
        # The stand close enough for precise motion of the (stretched) arm.
        stand = yaw_pose(
            rng.uniform(0.04, 0.1), rng.uniform(-0.06, 0.06), TABLE_Z, rng.uniform(-0.4, 0.4)
        )
        ring = yaw_pose(
            rng.uniform(-0.2, -0.14),
            rng.uniform(-0.18, 0.18),
            TABLE_Z + RING_HALF_HEIGHT + 0.0005,
            rng.uniform(-np.pi, np.pi),
        )
        rgba = {f"pegs_peg{i}_visual": COLOURS[c] for i, c in enumerate(colours)}
        return Scene(
            object_poses={"ring_joint0": ring},
            fixture_poses={"pegs_main": stand},
            geom_rgba=rgba,
            info={"colours": colours, "target": target},
        )

    def _peg_top(self, env) -> np.ndarray:
        return self.ws_site(env, f"pegs_peg{env.scene.info['target']}_top")[:3, 3]

    def check_success(self, env):
        top = self._peg_top(env)
        c = self.ws_site(env, "ring_center")[:3, 3]
        around = np.linalg.norm(c[:2] - top[:2]) < 0.015 and c[2] < top[2] - 0.01
        return bool(around and not self.gripper_touches(env, "ring_main"))

    def expert(self, env, rng):
        ring = self.scene_pose(env, "ring_joint0")
        handle = ring @ make_pose((0.045 + 0.03, 0, 0))
        # Fingers close across the handle (along the ring's y axis).
        grasp = _grasp(handle[:3, 3], yaw_of(ring[:3, :3]), np.pi)
        yield from pick(env, rng, grasp, lift=0.14)
        top = self._peg_top(env)
        # Ring centre above the peg, then lowered until it sits 3 cm down the peg.
        target = yaw_pose(top[0], top[1], top[2] - 0.03, 0.0)
        stand_yaw = yaw_of(self.scene_pose(env, "pegs_main")[:3, :3])
        target = target @ make_pose(rot=yaw_pose(0, 0, 0, stand_yaw)[:3, :3])
        # Handle along the stand's x axis, away from the neighbouring pegs; of the two such
        # orientations, the one closest to the neutral top-down gripper yaw (the wrist's joint
        # range does not allow every yaw).
        yield from place(
            env,
            rng,
            "ring_main",
            target,
            approach=0.1,
            symmetry=2,
            descent_speed=0.08,
            reference=topdown_pose((0, 0, 0), 0.0),
        )


register_task(
    "insert_onto_square_peg",
    InsertOntoSquarePeg,
    suite="keyframe",
    description="put a square ring onto the peg of a colour",
)


# ---------------------------------------------------------------------- close_jar
JAR_COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta", "orange", "purple")
JAR_HEIGHT = 0.08


class CloseJar(KeyframeTask):
    """Put the lid on the jar of a colour (RLBench ``close_jar``; the lid is placed, not
    screwed). Two jars of different colours; variations: the target jar's colour (8). Success:
    the lid rests on the target jar (centred within 1.5 cm, tilted less than 15 degrees),
    not held."""

    max_steps = 300
    n_variations = len(JAR_COLOURS)
    object_bodies = ("lid_main",)

    def object_specs(self):
        return (jar("jar0", height=JAR_HEIGHT), jar("jar1", height=JAR_HEIGHT), jar_lid("lid"))

    def instructions(self, variation):
        c = JAR_COLOURS[variation]
        return [
            f"close the {c} jar",
            f"put the lid on the {c} jar",
            f"cover the {c} jar with the lid",
        ]

    def sample_scene(self, rng, variation):
        other = [c for c in JAR_COLOURS if c != JAR_COLOURS[variation]]
        colours = [JAR_COLOURS[variation], other[int(rng.integers(len(other)))]]
        xy = sample_separated_xy(rng, [((-0.12, 0.15), (-0.2, 0.2))] * 3, 0.13)
        fixtures = {f"jar{i}_main": yaw_pose(x, y, TABLE_Z, 0.0) for i, (x, y) in enumerate(xy[:2])}
        # The lid stands on its plug (1.2 cm below the disk).
        lid = yaw_pose(xy[2, 0], xy[2, 1], TABLE_Z + 0.0125, rng.uniform(-np.pi, np.pi))
        rgba = {
            f"jar{i}_{g}_visual": COLOURS[c]
            for i, c in enumerate(colours)
            for g in ["base", *(f"wall{k}" for k in range(14))]
        }
        return Scene(
            object_poses={"lid_joint0": lid},
            fixture_poses=fixtures,
            geom_rgba=rgba,
            info={"colours": colours, "target": 0},
        )

    def check_success(self, env):
        rim = self.ws_site(env, "jar0_rim")[:3, 3]
        lid = self.ws_pose(env, "lid_main")
        centred = np.linalg.norm(lid[:2, 3] - rim[:2]) < 0.015 and abs(lid[2, 3] - rim[2]) < 0.01
        level = lid[2, 2] > np.cos(np.deg2rad(15))
        return bool(centred and level and not self.gripper_touches(env, "lid_main"))

    def expert(self, env, rng):
        lid = self.scene_pose(env, "lid_joint0")
        knob = lid @ make_pose((0, 0, 0.028))
        grasp = topdown_pose(knob[:3, 3], rng.uniform(-0.3, 0.3))
        yield from pick(env, rng, grasp, lift=0.16)
        rim = self.scene_pose(env, "jar0_main") @ make_pose((0, 0, JAR_HEIGHT + 0.004))
        yield from place(env, rng, "lid_main", rim, approach=0.08, symmetry=36, descent_speed=0.08)


register_task(
    "close_jar", CloseJar, suite="keyframe", description="put the lid on the jar of a colour"
)

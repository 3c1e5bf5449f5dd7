"""The robosuite environment class of the keyframe suite (imports robosuite; load lazily).

One class serves every keyframe task: a table (robosuite ``TableArena``, top at z = 0.8), the
Panda, and the task's :class:`~symlab.sim.keyframe.objects.ObjectSpec` bodies built from MJCF
strings. It also keeps the order in which push buttons were pressed (the success condition of
``push_buttons``), updated by :meth:`KeyframeSceneEnv.record_presses`.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from robosuite.environments.manipulation.manipulation_env import ManipulationEnv
from robosuite.models.arenas import TableArena
from robosuite.models.objects import MujocoXMLObject
from robosuite.models.tasks import ManipulationTask

from .objects import ObjectSpec

__all__ = ["KeyframeSceneEnv", "XMLStringObject"]


class XMLStringObject(MujocoXMLObject):
    """A robosuite object from an MJCF body string (``ObjectSpec``).

    Collision geoms (group 0) get visual copies in group 1 named ``<geom>_visual``, the ones the
    benchmark renders (and the ones tasks recolour).
    """

    def __init__(self, spec: ObjectSpec):
        xml = (
            f'<mujoco model="{spec.name}"><worldbody><body><body name="object">'
            f"{spec.body_xml}</body></body></worldbody></mujoco>"
        )
        # robosuite's XML objects parse from a file path.
        fd, path = tempfile.mkstemp(suffix=".xml", prefix="symlab_kf_")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(xml)
            super().__init__(
                path,
                name=spec.name,
                joints="default" if spec.free else None,
                obj_type="all",
                duplicate_collision_geoms=True,
            )
        finally:
            os.remove(path)


class KeyframeSceneEnv(ManipulationEnv):
    """Table, Panda and the task's objects.

    Parameters
    ----------
    robots : str
        Robot name (the benchmark passes ``"Panda"``).
    objects : tuple of ObjectSpec
        The task's bodies.
    button_joints : tuple of str
        Slide joints of push buttons whose press order :meth:`record_presses` tracks.
    press_threshold : float
        A button counts as pressed once its joint is below ``-press_threshold`` (metres).
    """

    def __init__(
        self,
        robots,
        objects: tuple[ObjectSpec, ...] = (),
        button_joints: tuple[str, ...] = (),
        press_threshold: float = 0.007,
        table_full_size=(0.8, 0.8, 0.05),
        table_friction=(1.0, 5e-3, 1e-4),
        **kwargs,
    ):
        self.object_specs = tuple(objects)
        self.button_joints = tuple(button_joints)
        self.press_threshold = float(press_threshold)
        self.table_full_size = table_full_size
        self.table_friction = table_friction
        self.table_offset = np.array((0.0, 0.0, 0.8))
        self.pressed_order: list[int] = []
        self._button_adr = np.zeros(0, dtype=np.int64)
        super().__init__(robots=robots, **kwargs)

    def reward(self, action=None):
        return 0.0

    def _check_success(self):
        return False

    def _load_model(self):
        super()._load_model()
        robot = self.robots[0].robot_model
        robot.set_base_xpos(robot.base_xpos_offset["table"](self.table_full_size[0]))
        arena = TableArena(
            table_full_size=self.table_full_size,
            table_friction=self.table_friction,
            table_offset=self.table_offset,
        )
        arena.set_origin([0, 0, 0])
        self.scene_objects = [XMLStringObject(s) for s in self.object_specs]
        self.model = ManipulationTask(
            mujoco_arena=arena,
            mujoco_robots=[r.robot_model for r in self.robots],
            mujoco_objects=self.scene_objects,
        )

    def _setup_references(self):
        super()._setup_references()
        m = self.sim.model
        self._button_adr = np.array(
            [m.jnt_qposadr[m.joint_name2id(j)] for j in self.button_joints], dtype=np.int64
        )

    def _reset_internal(self):
        super()._reset_internal()
        self.pressed_order = []

    def clear_presses(self) -> None:
        """Forget recorded button presses (a new episode)."""
        self.pressed_order = []

    def record_presses(self) -> list[int]:
        """Append buttons pressed since the last call to :attr:`pressed_order` and return it.

        Buttons stay down once pressed (see ``objects.button_panel``), so calling this after
        every control step or keyframe recovers the press order.
        """
        if len(self._button_adr):
            q = self.sim.data.qpos[self._button_adr]
            for i in np.flatnonzero(q < -self.press_threshold):
                if int(i) not in self.pressed_order:
                    self.pressed_order.append(int(i))
        return self.pressed_order

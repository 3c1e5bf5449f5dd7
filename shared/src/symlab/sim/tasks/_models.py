"""robosuite environment classes the benchmark needs beyond robosuite's own (imports robosuite).

Only imported from ``Task.robosuite_env_class`` so that the registry works without robosuite.
"""

from __future__ import annotations

import numpy as np
from robosuite.environments.manipulation.manipulation_env import ManipulationEnv
from robosuite.models.arenas import TableArena
from robosuite.models.objects import BoxObject
from robosuite.models.tasks import ManipulationTask
from robosuite.utils.mjcf_utils import CustomMaterial

_TEXTURES = {"red": "WoodRed", "green": "WoodGreen", "blue": "WoodBlue", "yellow": "WoodLight"}


class BlocksEnv(ManipulationEnv):
    """A table with cubes (robosuite Lift/Stack layout): Lift, Stack and StackThree.

    Parameters
    ----------
    blocks : sequence of (name, half_size, colour)
        One ``BoxObject`` per entry: body ``<name>_main``, free joint ``<name>_joint0``,
        collision geom ``<name>_g0``. ``colour`` is a key of ``_TEXTURES``.
    """

    def __init__(
        self,
        robots,
        blocks=(("cube", 0.02, "red"),),
        table_full_size=(0.8, 0.8, 0.05),
        table_friction=(1.0, 5e-3, 1e-4),
        **kwargs,
    ):
        self.blocks = tuple(blocks)
        self.table_full_size = table_full_size
        self.table_friction = table_friction
        self.table_offset = np.array((0.0, 0.0, 0.8))
        super().__init__(robots=robots, **kwargs)

    def reward(self, action=None):
        return 0.0

    def _load_model(self):
        super()._load_model()
        xpos = self.robots[0].robot_model.base_xpos_offset["table"](self.table_full_size[0])
        self.robots[0].robot_model.set_base_xpos(xpos)
        arena = TableArena(
            table_full_size=self.table_full_size,
            table_friction=self.table_friction,
            table_offset=self.table_offset,
        )
        arena.set_origin([0, 0, 0])
        self.block_objects = []
        for name, half, colour in self.blocks:
            mat = CustomMaterial(
                texture=_TEXTURES[colour],
                tex_name=f"{name}_tex",
                mat_name=f"{name}_mat",
                tex_attrib={"type": "cube"},
                mat_attrib={"texrepeat": "1 1", "specular": "0.4", "shininess": "0.1"},
            )
            rgba = {"red": (1, 0, 0, 1), "green": (0, 1, 0, 1), "blue": (0, 0, 1, 1)}.get(
                colour, (1, 1, 0, 1)
            )
            self.block_objects.append(
                BoxObject(name=name, size=[half, half, half], rgba=rgba, material=mat)
            )
        self.model = ManipulationTask(
            mujoco_arena=arena,
            mujoco_robots=[r.robot_model for r in self.robots],
            mujoco_objects=self.block_objects,
        )

    def _check_success(self):
        return False

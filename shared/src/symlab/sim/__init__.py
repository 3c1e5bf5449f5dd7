"""Simulated manipulation benchmark on robosuite 1.5 / MuJoCo 3.3 (optional extra ``sim``).

Importing this package does not import robosuite or mujoco; :class:`SimEnv` and the task
modules import them on first use. The GL backend defaults to ``osmesa`` (CPU) or ``egl`` (when an
NVIDIA device is present) unless ``MUJOCO_GL`` is set.

Main API
--------
SimEnv
    The environment: ``reset(seed)``, ``step(action)``, ``execute_keyframe(pose, gripper_open)``.
ObservationConfig, CameraConfig, EnvConfig
    What to observe (cameras x modalities, point cloud, voxels, proprioception).
PerturbationConfig
    SE(2)/SE(3) workspace perturbation drawn from each episode's seed.
Task, Scene, Waypoint, register_task, make_task, list_tasks
    Task definition and registry; scripted experts are waypoint iterables.
"""

from ._gl import configure_gl_backend

configure_gl_backend()

from .config import (  # noqa: E402
    ACTION_MODES,
    CAMERA_NAMES,
    CameraConfig,
    EnvConfig,
    ObservationConfig,
)
from .perturbation import PerturbationConfig, episode_rngs, sample_perturbation  # noqa: E402
from .tasks.base import (  # noqa: E402
    Scene,
    Task,
    TaskError,
    Waypoint,
    list_tasks,
    make_task,
    register_task,
    task_spec,
)

__all__ = [
    "ACTION_MODES",
    "CAMERA_NAMES",
    "CameraConfig",
    "EnvConfig",
    "ObservationConfig",
    "PerturbationConfig",
    "Scene",
    "SimEnv",
    "Task",
    "TaskError",
    "Waypoint",
    "configure_gl_backend",
    "episode_rngs",
    "list_tasks",
    "make_task",
    "register_task",
    "sample_perturbation",
    "task_spec",
]


def __getattr__(name):
    if name == "SimEnv":
        from .env import SimEnv

        return SimEnv
    raise AttributeError(f"module 'symlab.sim' has no attribute {name!r}")

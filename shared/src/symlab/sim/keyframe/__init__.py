"""Keyframe suite of the simulated manipulation benchmark: RLBench-like tasks with language
instructions, variations, success checks and scripted keyframe experts (robosuite + MuJoCo).

Tasks are registered in the benchmark's task registry (suite ``"keyframe"``)::

    from symlab.sim import SimEnv, PerturbationConfig, ObservationConfig
    from symlab.sim.keyframe import keyframe_tasks, make_keyframe_env

    keyframe_tasks()                       # {name: {"variations": n, "instructions": [...]}}
    env = make_keyframe_env("push_buttons", obs=ObservationConfig.rlbench(128),
                            perturbation=PerturbationConfig("se3"))
    obs = env.reset(seed=0, variation=5)   # the variation fixes the instruction
    env.task.instructions(5)[0]            # 'push the red button, then push the blue button'
    env.execute_keyframe(pose, gripper_open=False)

Importing this package does not import robosuite (only building an environment does).
"""

from __future__ import annotations

from typing import Any

from . import tasks_blocks, tasks_drawer, tasks_fixtures, tasks_insertion  # noqa: F401
from .language import tokenize, vocabulary

__all__ = ["keyframe_tasks", "make_keyframe_env", "tokenize", "vocabulary"]


def keyframe_tasks() -> dict[str, dict[str, Any]]:
    """Every keyframe task: number of variations, canonical instruction per variation, horizon."""
    from ..tasks.base import list_tasks, make_task, task_spec

    out = {}
    for name in list_tasks("keyframe"):
        task = make_task(name)
        out[name] = {
            "variations": task.n_variations,
            "instructions": [task.instructions(v)[0] for v in range(task.n_variations)],
            "max_steps": task.max_steps,
            "description": task_spec(name)["description"],
        }
    return out


def make_keyframe_env(name: str, *, obs=None, perturbation=None, **kwargs):
    """A :class:`~symlab.sim.SimEnv` on a keyframe task (``reset(seed, variation)`` picks the
    episode and variation). Raises :class:`~symlab.sim.TaskError` for a task of another suite."""
    from ..env import SimEnv
    from ..tasks.base import TaskError, list_tasks

    names = list_tasks("keyframe")
    if name not in names:
        raise TaskError(f"{name!r} is not a keyframe task; keyframe tasks: {names}")
    return SimEnv(name, obs=obs, perturbation=perturbation, **kwargs)

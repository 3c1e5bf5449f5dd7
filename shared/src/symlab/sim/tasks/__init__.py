"""Task base class, waypoints, scenes and the registry; the closed-loop (MimicGen-like) suite."""

from .base import Scene, Task, TaskError, Waypoint, list_tasks, make_task, register_task, task_spec

__all__ = [
    "Scene",
    "Task",
    "TaskError",
    "Waypoint",
    "list_tasks",
    "make_task",
    "register_task",
    "task_spec",
]

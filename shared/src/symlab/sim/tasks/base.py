"""Task definition, scripted-expert waypoints and the task registry.

A task is a :class:`Task` subclass. It names the robosuite environment class that builds its
MuJoCo model (a ``ManipulationEnv`` subclass, imported lazily), samples a scene per episode in
the *workspace frame* (the unperturbed world), checks success, and provides a scripted expert.

The environment (:class:`symlab.sim.SimEnv`) owns the perturbation ``g``: it maps every pose a
task returns through ``g`` and offers ``env.to_workspace`` / ``env.from_workspace`` so task code
can work in the workspace frame and stay correct under any perturbation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..env import SimEnv

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


class TaskError(ValueError):
    """Unknown task name or invalid task options."""


@dataclass
class Scene:
    """Per-episode scene sampled by a task, all poses in the workspace (unperturbed) frame.

    Attributes
    ----------
    object_poses : dict
        Free-joint name -> ``4 x 4`` pose of the body that owns the joint.
    fixture_poses : dict
        Name of a body without a free joint -> ``4 x 4`` pose (world frame of the unperturbed
        scene, even when the body is nested; the environment converts to its parent frame).
    joint_qpos : dict
        Hinge/slide joint name -> position (e.g. a drawer opening).
    geom_rgba : dict
        Geom name -> RGBA (colour variations).
    info : dict
        Task-specific data the expert and success check need (target index, colour names, ...).
        Must be JSON-serialisable: it is stored with every demonstration.
    """

    object_poses: dict[str, np.ndarray] = field(default_factory=dict)
    fixture_poses: dict[str, np.ndarray] = field(default_factory=dict)
    joint_qpos: dict[str, float] = field(default_factory=dict)
    geom_rgba: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Waypoint:
    """One target of a scripted expert.

    Attributes
    ----------
    pose : (4, 4) array
        Gripper pose (the robosuite ``grip_site`` frame: z along the fingers, fingers closing
        along y) in the **world** frame.
    gripper_open : bool
        Gripper command applied once the pose is reached (and kept while moving to the next one).
    keyframe : bool
        Whether this waypoint is a keyframe (a pose a keyframe policy should predict). Pre-grasp
        approach points are usually keyframes; intermediate straight-line helpers are not.
    max_speed : float or None
        Translation speed limit (m/s) of the interpolated motion to this pose.
    tolerance : tuple (metres, degrees)
        When the pose counts as reached.
    settle_steps : int
        Extra control steps after reaching the pose and issuing the gripper command (time for
        the gripper to close or open).
    max_steps : int
        Timeout of this segment, in control steps.
    """

    pose: np.ndarray
    gripper_open: bool
    keyframe: bool = True
    max_speed: float | None = None
    tolerance: tuple[float, float] = (0.01, 5.0)
    settle_steps: int = 0
    max_steps: int = 100


class Task:
    """Base class of every task.

    Subclasses set the class attributes and implement :meth:`robosuite_env_class`,
    :meth:`sample_scene`, :meth:`check_success` and :meth:`expert`. Options (for example the
    difficulty level) are constructor keyword arguments validated by :meth:`__init__`; the
    registry binds names such as ``"stack_d1"`` to a class plus options.
    """

    #: Registry name of the instance (set by :func:`make_task`).
    name: str = ""
    #: Default episode horizon in control steps (20 Hz).
    max_steps: ClassVar[int] = 400
    #: Centre of SE(2)/SE(3) perturbations (world frame of the unperturbed scene).
    workspace_center: ClassVar[tuple[float, float, float]] = (0.0, 0.0, 0.8)
    #: Default point-cloud crop box ``(lo, hi)`` in the world frame.
    workspace_bounds: ClassVar[tuple[tuple[float, float, float], tuple[float, float, float]]] = (
        (-0.45, -0.45, 0.78),
        (0.45, 0.45, 1.3),
    )
    #: Number of variations (colour, target, order ...); ``reset(variation=...)`` picks one.
    n_variations: ClassVar[int] = 1
    #: Names of the bodies listed (in this order) by the ``object_poses`` observation.
    object_bodies: ClassVar[tuple[str, ...]] = ()
    #: Allowed constructor options and their defaults.
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options):
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise TaskError(
                f"{type(self).__name__}: unknown option(s) {unknown}; "
                f"allowed: {sorted(self.options)}"
            )
        self.config = {**self.options, **options}
        levels = getattr(self, "levels", None)
        if levels is not None and "level" in self.config and self.config["level"] not in levels:
            raise TaskError(
                f"{type(self).__name__}: unknown level {self.config['level']!r}; "
                f"expected one of {sorted(levels)}"
            )

    # ------------------------------------------------------------------ model
    def robosuite_env_class(self) -> type:
        """The robosuite ``ManipulationEnv`` subclass that builds the model (import lazily)."""
        raise NotImplementedError

    def robosuite_env_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for the robosuite constructor (e.g. ``single_object_mode``)."""
        return {}

    def setup(self, env: SimEnv) -> None:
        """Called once after the MuJoCo model is compiled (cache ids, geometry)."""

    # ------------------------------------------------------------------ episode
    def sample_scene(self, rng: np.random.Generator, variation: int) -> Scene:
        """Object, fixture and joint configuration of one episode, in the workspace frame."""
        raise NotImplementedError

    def on_reset(self, env: SimEnv) -> None:
        """Called at the end of every ``reset`` (scene applied, before the first observation)."""

    def instructions(self, variation: int) -> list[str]:
        """Language instructions for a variation (first one is the canonical one)."""
        return [self.name.replace("_", " ")]

    def check_success(self, env: SimEnv) -> bool:
        """Whether the task is solved in the current state (must be invariant to ``g``)."""
        raise NotImplementedError

    def expert(self, env: SimEnv, rng: np.random.Generator) -> Iterable[Waypoint]:
        """Scripted expert: waypoints in the world frame, consumed lazily.

        May be a generator: the runner executes each yielded waypoint before asking for the
        next, so later waypoints can depend on the state reached (e.g. the in-hand pose).
        ``rng`` is the episode's expert stream; use it for the noise that makes demos vary.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, config={self.config})"


# ---------------------------------------------------------------------- registry
@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., Task]
    options: dict[str, Any]
    suite: str
    description: str


_REGISTRY: dict[str, _Entry] = {}
# Modules that register tasks on import. Looked up lazily so `import symlab.sim` stays cheap.
_TASK_MODULES = ("symlab.sim.tasks.closed_loop", "symlab.sim.keyframe")
_loaded = False


def register_task(
    name: str,
    factory: Callable[..., Task],
    *,
    suite: str = "closed_loop",
    description: str = "",
    **options,
) -> None:
    """Register ``name`` -> ``factory(**options)`` (a Task subclass plus bound options)."""
    if name in _REGISTRY and _REGISTRY[name].factory is not factory:
        raise TaskError(f"task {name!r} is already registered by {_REGISTRY[name].factory}")
    _REGISTRY[name] = _Entry(factory, dict(options), suite, description)


def _load_task_modules() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _TASK_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            # The keyframe suite is optional while it is being written; any other missing
            # module is a real error.
            if e.name != mod:
                raise


def list_tasks(suite: str | None = None) -> list[str]:
    """Registered task names, optionally only one suite (``closed_loop`` or ``keyframe``)."""
    _load_task_modules()
    return sorted(n for n, e in _REGISTRY.items() if suite is None or e.suite == suite)


def task_spec(name: str) -> dict[str, Any]:
    """Registry entry of a task: suite, description and bound options."""
    _load_task_modules()
    if name not in _REGISTRY:
        raise TaskError(_unknown(name))
    e = _REGISTRY[name]
    return {"suite": e.suite, "description": e.description, "options": dict(e.options)}


def _unknown(name: str) -> str:
    import difflib

    names = sorted(_REGISTRY)
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {close}?" if close else ""
    return f"unknown task {name!r}{hint} Registered tasks: {names}"


def make_task(name: str, **options) -> Task:
    """Instantiate a registered task; ``options`` override the registered ones."""
    _load_task_modules()
    if name not in _REGISTRY:
        raise TaskError(_unknown(name))
    e = _REGISTRY[name]
    task = e.factory(**{**e.options, **options})
    task.name = name
    return task

"""Evaluation runner: N seeded episodes across processes, success rate with a Wilson interval,
per-episode JSON and optional rollout videos.

A *policy factory* is a picklable callable (a module-level function or class, or a
``functools.partial`` of one) that builds a policy inside each worker process. A policy has
``reset(env_info: dict)`` (optional) and ``act(obs) -> action``; the action is either a 7-vector
in the environment's ``action_mode`` or a :class:`KeyframeAction`, executed with
``SimEnv.execute_keyframe`` (one keyframe per policy call, as RLBench keyframe agents are run).
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .config import CameraConfig, ObservationConfig
from .perturbation import PerturbationConfig

__all__ = [
    "EvalConfig",
    "EvalResult",
    "ExpertPolicy",
    "KeyframeAction",
    "evaluate",
    "wilson_interval",
]

#: First test seed, as in the diffusion-policy papers (training demos use seeds from 0).
TEST_SEED_START = 100_000


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must be in [0, n={n}]")
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclasses.dataclass
class KeyframeAction:
    """A keyframe policy output: world gripper pose (4x4) and gripper command."""

    pose: np.ndarray
    gripper_open: bool


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluation settings (everything but the policy)."""

    task: str
    n_episodes: int = 50
    seed_start: int = TEST_SEED_START
    obs: ObservationConfig = dataclasses.field(default_factory=ObservationConfig)
    perturbation: PerturbationConfig = dataclasses.field(default_factory=PerturbationConfig)
    action_mode: str = "abs_pose"
    max_steps: int | None = None
    max_keyframes: int = 25
    video: bool = False
    video_camera: str = "agentview"
    video_size: int = 128
    task_options: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class EvalResult:
    """Aggregate and per-episode results."""

    success_rate: float
    ci_low: float
    ci_high: float
    n_episodes: int
    episodes: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ExpertPolicy:
    """The task's scripted expert as a closed-loop policy (for tests and upper bounds)."""

    def __init__(self, env=None):
        self.env = env
        self._actions = None

    def bind(self, env) -> None:
        self.env = env

    def reset(self, info=None) -> None:
        env = self.env

        def gen():
            for wp in env.task.expert(env, env._expert_rng):
                yield from env.waypoint_actions(wp)

        self._actions = gen()

    def act(self, obs):
        a = next(self._actions, None)
        if a is None:  # expert finished: hold the pose
            T = self.env.eef_pose
            from scipy.spatial.transform import Rotation

            a = np.concatenate(
                [
                    T[:3, 3],
                    Rotation.from_matrix(T[:3, :3]).as_rotvec(),
                    [-1.0 if self.env.gripper_open else 1.0],
                ]
            )
        return self.env.absolute_to_action(a)


_WORKER: dict[str, Any] = {}


def _init(cfg: EvalConfig, policy_factory: Callable) -> None:
    from .env import SimEnv

    env = SimEnv(
        cfg.task,
        obs=cfg.obs,
        perturbation=cfg.perturbation,
        action_mode=cfg.action_mode,
        max_steps=cfg.max_steps,
        **cfg.task_options,
    )
    policy = policy_factory()
    if hasattr(policy, "bind"):
        policy.bind(env)
    _WORKER.update(env=env, policy=policy, cfg=cfg)


def _save_video(frames: list[np.ndarray], path: Path) -> str:
    try:
        import imageio.v2 as imageio

        imageio.mimwrite(path.with_suffix(".mp4"), frames, fps=20)
        return str(path.with_suffix(".mp4"))
    except ImportError:
        np.savez_compressed(path.with_suffix(".npz"), frames=np.stack(frames))
        return str(path.with_suffix(".npz"))


def _episode(args: tuple[int, str | None]) -> dict[str, Any]:
    seed, out_dir = args
    env, policy, cfg = _WORKER["env"], _WORKER["policy"], _WORKER["cfg"]
    t_start = time.time()
    t0 = time.perf_counter()
    obs = env.reset(seed)
    if hasattr(policy, "reset"):
        policy.reset(env.episode_info())
    cam = CameraConfig(cfg.video_camera, cfg.video_size, cfg.video_size)
    frames = [env.render(cam)["rgb"]] if cfg.video else []
    success, steps, keyframes, unreached = False, 0, 0, 0
    done = False
    while not done:
        action = policy.act(obs)
        if isinstance(action, KeyframeAction):
            reached = env.execute_keyframe(action.pose, action.gripper_open)
            unreached += not reached
            keyframes += 1
            obs = env.get_observation()
            success = env.is_success()
            done = success or keyframes >= cfg.max_keyframes or env.t >= env.max_steps
        else:
            obs, _, done, info = env.step(action)
            success = info["success"]
        steps = env.t
        if cfg.video:
            frames.append(env.render(cam)["rgb"])
    rec = {
        "seed": seed,
        "success": bool(success),
        "steps": int(steps),
        "keyframes": keyframes,
        "unreached_keyframes": unreached,
        "wall_time_s": time.perf_counter() - t0,
        "pid": os.getpid(),
        "t_start": t_start,
        "t_end": time.time(),
        **{k: v for k, v in env.episode_info().items() if k != "scene_info"},
    }
    if out_dir is not None:
        d = Path(out_dir) / "episodes"
        d.mkdir(parents=True, exist_ok=True)
        if cfg.video:
            rec["video"] = _save_video(frames, d / f"episode_{seed}")
        (d / f"episode_{seed}.json").write_text(json.dumps(rec, indent=1))
    return rec


def evaluate(
    policy_factory: Callable[[], Any],
    cfg: EvalConfig,
    *,
    workers: int = 1,
    out_dir: str | os.PathLike | None = None,
    seeds: Sequence[int] | None = None,
    progress: bool = True,
) -> EvalResult:
    """Run ``cfg.n_episodes`` seeded episodes (seeds ``cfg.seed_start + i``) of a policy.

    Writes ``<out_dir>/episodes/episode_<seed>.json`` (and videos) and ``<out_dir>/summary.json``
    when ``out_dir`` is given. Episodes are distributed over ``workers`` spawned processes; the
    result does not depend on the number of workers. With ``workers > 1`` a calling script needs
    the ``if __name__ == "__main__":`` guard (spawned workers re-import the main module).
    """
    seeds = (
        list(seeds) if seeds is not None else [cfg.seed_start + i for i in range(cfg.n_episodes)]
    )
    jobs = [(s, None if out_dir is None else str(out_dir)) for s in seeds]
    bar = tqdm(total=len(jobs), desc=f"eval {cfg.task}", disable=not progress)
    recs = []
    if workers <= 1:
        _init(cfg, policy_factory)
        try:
            for j in jobs:
                recs.append(_episode(j))
                bar.update(1)
        finally:
            _WORKER["env"].close()
            _WORKER.clear()
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, initializer=_init, initargs=(cfg, policy_factory)) as pool:
            for r in pool.imap_unordered(_episode, jobs):
                recs.append(r)
                bar.update(1)
    bar.close()
    recs.sort(key=lambda r: r["seed"])
    k = sum(r["success"] for r in recs)
    lo, hi = wilson_interval(k, len(recs))
    res = EvalResult(k / max(len(recs), 1), lo, hi, len(recs), recs)
    if out_dir is not None:
        summary = {k: v for k, v in res.to_dict().items() if k != "episodes"}
        summary["config"] = json.loads(json.dumps(dataclasses.asdict(cfg)))
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "summary.json").write_text(json.dumps(summary, indent=1))
    return res

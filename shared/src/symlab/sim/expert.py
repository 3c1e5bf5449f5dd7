"""Running scripted experts and recording demonstrations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .env import SimEnv

__all__ = ["Demo", "run_expert"]


@dataclass
class Demo:
    """One expert episode.

    ``actions`` are in the env's ``action_mode``; ``abs_actions`` always absolute; ``states`` the
    flattened MuJoCo state *before* each action; ``obs`` per-step observations (before each
    action) when recorded; ``keyframe_steps`` the step index at which each keyframe waypoint was
    completed (the state after that step is the keyframe), with the commanded ``keyframe_poses``
    and the achieved ``keyframe_eef_poses``.
    """

    actions: np.ndarray
    abs_actions: np.ndarray
    states: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    obs: dict[str, np.ndarray]
    success: bool
    keyframe_steps: list[int] = field(default_factory=list)
    keyframe_poses: list[np.ndarray] = field(default_factory=list)
    keyframe_gripper_open: list[bool] = field(default_factory=list)
    keyframe_eef_poses: list[np.ndarray] = field(default_factory=list)
    all_reached: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return len(self.actions)


def run_expert(
    env: SimEnv,
    seed: int,
    variation: int | None = None,
    record_obs: bool = True,
    stop_on_success: bool = False,
    extra_steps: int = 0,
) -> Demo:
    """Reset ``env`` to ``seed`` and execute the task's scripted expert.

    Parameters
    ----------
    record_obs : bool
        Record the observation before every action (renders the configured cameras each step).
        Without it, only actions and states are recorded (observations can be re-rendered from
        the states later).
    stop_on_success : bool
        End as soon as the task succeeds (otherwise the expert finishes its waypoints).
    extra_steps : int
        Steps to hold the final target after the last waypoint (lets objects settle).
    """
    obs = env.reset(seed, variation)
    acts, abs_acts, states, rewards, obs_list = [], [], [], [], []
    kf_steps, kf_poses, kf_open, kf_eef = [], [], [], []
    all_reached = True
    success = False
    last = None

    def do(a_abs):
        nonlocal obs, success
        a = env.absolute_to_action(a_abs)
        states.append(env.get_state())
        if record_obs:
            obs_list.append(obs)
        acts.append(a)
        abs_acts.append(a_abs)
        obs_next = env.get_observation if record_obs else None
        env._step_physics(env._to_absolute(a))
        success = env.is_success()
        rewards.append(float(success))
        obs = obs_next() if obs_next is not None else None

    expert = env.task.expert(env, env._expert_rng)
    done = False
    for wp in expert:
        for a_abs in env.waypoint_actions(wp):
            do(a_abs)
            last = a_abs
            if env.t >= env.max_steps or (stop_on_success and success):
                done = True
                break
        all_reached &= env.last_reached
        if wp.keyframe and not done:
            kf_steps.append(len(acts) - 1)
            kf_poses.append(np.asarray(wp.pose, dtype=float))
            kf_open.append(bool(wp.gripper_open))
            kf_eef.append(env.eef_pose)
        if done:
            break
    if last is not None:
        for _ in range(extra_steps):
            if env.t >= env.max_steps:
                break
            do(last)
    n = len(acts)
    dones = np.zeros(n, dtype=np.int64)
    if n:
        dones[-1] = 1
    obs_arrays = (
        {k: np.stack([o[k] for o in obs_list]) for k in obs_list[0]} if record_obs and n else {}
    )
    return Demo(
        actions=np.asarray(acts, dtype=np.float64).reshape(n, 7),
        abs_actions=np.asarray(abs_acts, dtype=np.float64).reshape(n, 7),
        states=np.asarray(states, dtype=np.float64),
        rewards=np.asarray(rewards, dtype=np.float64),
        dones=dones,
        obs=obs_arrays,
        success=bool(success),
        keyframe_steps=kf_steps,
        keyframe_poses=kf_poses,
        keyframe_gripper_open=kf_open,
        keyframe_eef_poses=kf_eef,
        all_reached=all_reached,
        info=env.episode_info(),
    )

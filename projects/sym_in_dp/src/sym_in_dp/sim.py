"""The closed-loop benchmark (``symlab.sim``): scripted demonstrations and the env runner.

* :func:`collect_demos` collects ``data.n_demos`` scripted demonstrations of a task with
  :func:`symlab.sim.collect.collect` (eye-in-hand + agentview RGB at ``data.image_size`` and
  proprioception, absolute OSC actions, robomimic HDF5), cached under ``data.cache_dir``
  (default ``projects/sym_in_dp/data/``, git-ignored) by a hash of the collection config.
* :class:`SimPolicy` runs a :class:`~symlab.policy.DiffusionPolicy` step by step in a
  :class:`symlab.sim.SimEnv` through :class:`~symlab.policy.ActionChunkController` (two
  observations in, ``n_action_steps`` of the ``horizon`` predicted absolute pose actions executed
  open loop, then replan) and converts its 10-d pose actions to the env's 7-d absolute OSC action
  with :func:`~symlab.policy.pose_to_axis_angle_action`. Relative and delta policies decode their
  chunk to absolute poses inside ``predict_action``, so the env always receives absolute targets.
* :class:`SimRunner` (an :class:`~symlab.policy.EnvRunner`) evaluates a policy on the test seeds
  of :func:`symlab.sim.evaluate.evaluate` (``100000 + i``) and returns the success rate with its
  Wilson interval; :func:`make_runner` is the ``--env-runner`` factory
  (``sym_in_dp.sim:make_runner``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from symlab.policy import ActionChunkController, pose_to_axis_angle_action

from .config import DataConfig, ExperimentConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_DIR / "data"


def _sim():
    try:
        import symlab.sim  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the sim extra is part of the environment
        raise ValueError(
            "data.source 'sim' needs the benchmark (pip install -e 'shared[sim]'): " + str(exc)
        ) from exc
    from symlab.sim import CameraConfig, ObservationConfig

    return CameraConfig, ObservationConfig


def collect_config(task: str, data: DataConfig):
    """The :class:`symlab.sim.collect.CollectConfig` of ``task``'s training demonstrations."""
    _, ObservationConfig = _sim()
    from symlab.sim.collect import CollectConfig

    return CollectConfig(
        task=task,
        n_demos=data.n_demos,
        obs=ObservationConfig.mimicgen(data.image_size),
        seed_start=data.seed,
    )


def data_dir(data: DataConfig) -> Path:
    return Path(data.cache_dir) if data.cache_dir else DEFAULT_DATA_DIR


def collect_demos(task: str, data: DataConfig, progress: bool = True) -> Path:
    """Collect (or reuse the cached) scripted demonstrations of ``task``; returns the HDF5 path.

    The collection time is written next to the file (``<file>.json``) the first time.
    """
    from symlab.sim.collect import collect

    cfg = collect_config(task, data)
    root = data_dir(data)
    path = root / "sim_demos" / f"{task}-{cfg.key()}.hdf5"
    if path.exists():
        return path
    t0 = time.perf_counter()
    collect(cfg, path, workers=data.workers, progress=progress)
    info = {
        "task": task,
        "n_demos": data.n_demos,
        "image_size": data.image_size,
        "workers": data.workers,
        "collect_seconds": time.perf_counter() - t0,
    }
    path.with_suffix(".json").write_text(json.dumps(info, indent=1))
    return path


class SimPolicy:
    """A diffusion policy as a :mod:`symlab.sim.evaluate` policy (``reset``, ``act``).

    Parameters
    ----------
    policy : DiffusionPolicy
        In eval mode.
    keys : list of str
        Raw observation keys the policy reads (cameras + proprioception).
    seed : int
        Base seed of the diffusion noise; episode ``s`` uses ``seed * 1_000_003 + s``, so a
        rollout does not depend on which episodes ran before it.
    """

    def __init__(self, policy, keys: list[str], seed: int = 0) -> None:
        self.policy = policy
        self.keys = list(keys)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.controller = ActionChunkController(policy, generator=self.generator, keys=self.keys)
        self.latencies: list[float] = []

    def reset(self, info: dict | None = None) -> None:
        episode_seed = int((info or {}).get("seed", 0))
        self.generator.manual_seed(self.seed * 1_000_003 + episode_seed)
        self.controller.reset()

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        batch = {}
        for k in self.keys:
            x = np.asarray(obs[k])
            # The training windows hold float32 proprioception (PolicyDataset); match it.
            batch[k] = (x.astype(np.float32) if x.dtype.kind == "f" else x)[None]
        calls = self.controller.n_policy_calls
        t0 = time.perf_counter()
        pose = self.controller.act(batch)  # (1, 10) absolute pose action
        if self.controller.n_policy_calls != calls:
            self.latencies.append(time.perf_counter() - t0)
        action = pose_to_axis_angle_action(torch.from_numpy(np.asarray(pose, dtype=np.float64)))
        return action[0].numpy()


class SimRunner:
    """Closed-loop evaluation of a policy on a ``symlab.sim`` task (:class:`EnvRunner`).

    Renders only the cameras the method reads, at the training image size. ``run(policy)``
    executes ``n_episodes`` episodes on the test seeds ``100000 + i`` (in this process, so the
    policy object is used directly) and returns ``success_rate``, the Wilson 95% interval, the
    episode count, mean steps, seconds per episode and the mean latency per action chunk.
    ``perturbation`` (a :class:`symlab.sim.PerturbationConfig`) moves the whole scene by a
    seeded rigid transform in every episode (default: none).
    """

    def __init__(
        self,
        task: str,
        n_episodes: int,
        keys: list[str],
        image_size: int,
        seed: int = 0,
        out_dir: str | Path | None = None,
        max_steps: int | None = None,
        progress: bool = False,
        perturbation=None,
    ) -> None:
        CameraConfig, ObservationConfig = _sim()
        from symlab.sim import PerturbationConfig
        from symlab.sim.evaluate import EvalConfig

        cams = tuple(
            CameraConfig(k.removesuffix("_image"), image_size, image_size)
            for k in keys
            if k.endswith("_image")
        )
        self.keys = list(keys)
        self.seed = seed
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress = progress
        self.n_runs = 0
        self.config = EvalConfig(
            task=task,
            n_episodes=n_episodes,
            obs=ObservationConfig(cameras=cams),
            max_steps=max_steps,
            perturbation=perturbation or PerturbationConfig(),
        )

    def run(self, policy, first_episode: int = 0) -> dict[str, Any]:
        """Episodes ``first_episode .. n_episodes - 1`` (seeds ``100000 + i``)."""
        from symlab.sim.evaluate import evaluate

        adapter = SimPolicy(policy, self.keys, self.seed)
        out = None
        if self.out_dir is not None:
            out = self.out_dir / f"eval_{self.n_runs:03d}"
        self.n_runs += 1
        t0 = time.perf_counter()
        seeds = [self.config.seed_start + i for i in range(first_episode, self.config.n_episodes)]
        res = evaluate(
            lambda: adapter,
            self.config,
            workers=1,
            out_dir=out,
            seeds=seeds,
            progress=self.progress,
        )
        wall = time.perf_counter() - t0
        eps = res.episodes
        return {
            "success_rate": float(res.success_rate),
            "ci_low": float(res.ci_low),
            "ci_high": float(res.ci_high),
            "n_episodes": int(res.n_episodes),
            "n_success": int(sum(e["success"] for e in eps)),
            "first_seed": seeds[0] if seeds else None,
            "mean_steps": float(np.mean([e["steps"] for e in eps])) if eps else float("nan"),
            "seconds_per_episode": wall / max(1, len(eps)),
            "policy_calls": len(adapter.latencies),
            "latency_s_per_chunk": float(np.mean(adapter.latencies))
            if adapter.latencies
            else float("nan"),
        }


def extend_evaluation(runner: SimRunner, policy, first: dict[str, Any]) -> dict[str, Any]:
    """``runner``'s evaluation of ``policy`` reusing ``first``, an evaluation of the same policy
    on the first ``first["n_episodes"]`` test seeds: only the remaining seeds are run (episodes
    are deterministic given the seed), and the counts, Wilson interval and means are merged."""
    from symlab.sim.evaluate import wilson_interval

    n0 = int(first["n_episodes"])
    if n0 >= runner.config.n_episodes:
        return dict(first)
    rest = runner.run(policy, first_episode=n0)
    n1 = int(rest["n_episodes"])
    n, k = n0 + n1, int(first["n_success"]) + int(rest["n_success"])
    lo, hi = wilson_interval(k, n)

    def mean(key: str) -> float:
        return (first[key] * n0 + rest[key] * n1) / n

    calls = int(first["policy_calls"]) + int(rest["policy_calls"])
    latency = (
        first["latency_s_per_chunk"] * first["policy_calls"]
        + rest["latency_s_per_chunk"] * rest["policy_calls"]
    ) / max(calls, 1)
    return {
        "success_rate": k / n,
        "ci_low": lo,
        "ci_high": hi,
        "n_episodes": n,
        "n_success": k,
        "first_seed": first.get("first_seed"),
        "mean_steps": mean("mean_steps"),
        "seconds_per_episode": mean("seconds_per_episode"),
        "policy_calls": calls,
        "latency_s_per_chunk": latency,
        "reused_episodes": n0,
    }


def make_runner(
    *,
    task: str,
    n_episodes: int,
    seed: int,
    method: str,
    config: ExperimentConfig,
    out_dir: str | Path | None = None,
    progress: bool = False,
) -> SimRunner:
    """The ``--env-runner`` factory of the benchmark (``sym_in_dp.sim:make_runner``)."""
    from .methods import obs_keys

    return SimRunner(
        task,
        n_episodes,
        obs_keys(method),
        config.data.image_size,
        seed=seed,
        out_dir=out_dir,
        max_steps=config.eval.max_steps or None,
        progress=progress,
    )

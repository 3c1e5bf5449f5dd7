"""Demonstration datasets from the scripted experts, in the robomimic HDF5 layout.

``collect`` runs the expert on consecutive episode seeds in parallel processes, keeps the first
``n_demos`` successful episodes in seed order, and writes them through
:class:`symlab.data.ReplayBuffer` (so real robomimic / MimicGen files load through the same
reader). Each finished episode is saved as a shard first, so an interrupted collection resumes
where it stopped; a finished dataset is cached under a hash of its configuration.

Command line::

    python -m symlab.sim.collect --task stack_d1 --n-demos 100 --workers 2 --obs mimicgen
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm.auto import tqdm

from ..data import ReplayBuffer, cache_key, default_cache_dir, split_episodes
from .config import CameraConfig, ObservationConfig
from .perturbation import PerturbationConfig

__all__ = ["CollectConfig", "collect", "reconvert", "replay_demo", "replay_dataset"]

_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    """What to collect. Hashed (with the format version) to name the cached dataset."""

    task: str
    n_demos: int
    obs: ObservationConfig = dataclasses.field(default_factory=ObservationConfig)
    perturbation: PerturbationConfig = dataclasses.field(default_factory=PerturbationConfig)
    action_mode: str = "abs_pose"
    seed_start: int = 0
    only_success: bool = True
    extra_steps: int = 5
    val_fraction: float = 0.1
    task_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.obs.point_cloud and not self.obs.point_cloud_points:
            raise ValueError(
                "datasets store fixed-size arrays: set ObservationConfig.point_cloud_points when "
                "collecting point clouds (or store depth images and fuse them at training time)"
            )

    def key(self) -> str:
        return cache_key("sim_demos", dataclasses.asdict(self), version=_FORMAT_VERSION)[:16]


# ---------------------------------------------------------------------- workers
_ENV = None


def _worker_init(cfg: CollectConfig) -> None:
    global _ENV
    from .env import SimEnv

    _ENV = SimEnv(
        cfg.task,
        obs=cfg.obs,
        perturbation=cfg.perturbation,
        action_mode=cfg.action_mode,
        **cfg.task_options,
    )
    _ENV._collect_cfg = cfg


def _atomic_savez(path: Path, **arrays) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _run_seed(args: tuple[CollectConfig, int, str]) -> tuple[int, bool, int]:
    cfg, seed, shard_dir = args
    from .expert import run_expert

    demo = run_expert(_ENV, seed, record_obs=True, extra_steps=cfg.extra_steps)
    arrays = {
        "actions": demo.actions,
        "actions_abs": demo.abs_actions,
        "states": demo.states,
        "rewards": demo.rewards,
        "dones": demo.dones,
        **{f"obs/{k}": v for k, v in demo.obs.items()},
        "_success": np.array(demo.success),
        "_info": np.array(json.dumps(demo.info)),
        "_keyframe_steps": np.asarray(demo.keyframe_steps, dtype=np.int64),
    }
    _atomic_savez(Path(shard_dir) / f"seed_{seed:08d}.npz", **arrays)
    return seed, demo.success, demo.length


def _read_shard(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# ---------------------------------------------------------------------- main entry
def collect(
    cfg: CollectConfig,
    path: str | os.PathLike | None = None,
    *,
    workers: int = 1,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    max_seeds: int | None = None,
) -> Path:
    """Collect ``cfg.n_demos`` expert demonstrations; return the HDF5 path.

    Parameters
    ----------
    path : path, optional
        Output file; default ``<cache_dir>/sim_demos/<task>-<config hash>.hdf5``.
    workers : int
        Parallel processes (``spawn``ed; each builds its own environment).
    cache_dir : path, optional
        Default ``symlab.data.default_cache_dir()``.
    max_seeds : int, optional
        Give up after trying this many seeds (default ``3 * n_demos + 10``).

    An existing output file is returned as is (cached). Shards of finished episodes live in
    ``<path>.parts/`` until the file is written, so a killed run resumes.
    """
    if cfg.n_demos <= 0:
        raise ValueError(f"n_demos must be positive, found {cfg.n_demos}")
    if path is None:
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        path = root / "sim_demos" / f"{cfg.task}-{cfg.key()}.hdf5"
    path = Path(path)
    if path.exists():
        return path
    shard_dir = path.with_name(path.name + ".parts")
    shard_dir.mkdir(parents=True, exist_ok=True)
    (shard_dir / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
    max_seeds = max_seeds or 3 * cfg.n_demos + 10

    results: dict[int, bool] = {}
    for f in shard_dir.glob("seed_*.npz"):
        try:
            with np.load(f, allow_pickle=False) as z:
                results[int(f.stem.split("_")[1])] = bool(z["_success"])
        except (OSError, ValueError, KeyError):
            f.unlink()  # a damaged shard is recomputed

    def successes_in_order() -> list[int]:
        return [s for s in sorted(results) if results[s] or not cfg.only_success]

    bar = tqdm(total=cfg.n_demos, desc=f"collect {cfg.task}", disable=not progress)
    bar.update(min(len(successes_in_order()), cfg.n_demos))
    next_seed = cfg.seed_start
    pool = None
    try:
        while len(successes_in_order()) < cfg.n_demos:
            need = cfg.n_demos - len(successes_in_order())
            todo = []
            while len(todo) < need:
                if next_seed - cfg.seed_start >= max_seeds:
                    break
                if next_seed not in results:
                    todo.append(next_seed)
                next_seed += 1
            if not todo:
                raise RuntimeError(
                    f"collect {cfg.task}: only {len(successes_in_order())} successful episodes "
                    f"in {max_seeds} seeds; the expert fails too often"
                )
            jobs = [(cfg, s, str(shard_dir)) for s in todo]
            if workers <= 1:
                if _ENV is None or getattr(_ENV, "_collect_cfg", None) != cfg:
                    _worker_init(cfg)
                it: Iterable = map(_run_seed, jobs)
            else:
                if pool is None:
                    ctx = mp.get_context("spawn")
                    pool = ctx.Pool(workers, initializer=_worker_init, initargs=(cfg,))
                it = pool.imap_unordered(_run_seed, jobs)
            for seed, ok, _ in it:
                results[seed] = ok
                if ok or not cfg.only_success:
                    bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()

    seeds = successes_in_order()[: cfg.n_demos]
    _write_dataset(cfg, seeds, shard_dir, path)
    for f in shard_dir.glob("*"):
        f.unlink()
    shard_dir.rmdir()
    return path


def _env_args(cfg: CollectConfig) -> dict[str, Any]:
    return {
        "env_name": cfg.task,
        "type": "symlab.sim",
        "env_kwargs": {
            "task_options": dict(cfg.task_options),
            "obs": dataclasses.asdict(cfg.obs),
            "perturbation": dataclasses.asdict(cfg.perturbation),
            "action_mode": cfg.action_mode,
            "control_freq": 20,
            "max_steps": None,
            "joint_noise": 0.02,
        },
    }


def _write_dataset(cfg: CollectConfig, seeds: list[int], shard_dir: Path, path: Path) -> None:
    buf = ReplayBuffer(env_args=_env_args(cfg))
    infos, keyframes = [], []
    for s in seeds:
        shard = _read_shard(shard_dir / f"seed_{s:08d}.npz")
        infos.append(str(shard.pop("_info")))
        keyframes.append(shard.pop("_keyframe_steps"))
        shard.pop("_success")
        buf.add_episode(shard)
    tmp = path.with_name(f".{path.name}.writing")
    buf.write_robomimic_hdf5(tmp)
    train, valid = split_episodes(len(seeds), cfg.val_fraction, seed=0)
    with h5py.File(tmp, "r+") as f:
        for i, (info, kf) in enumerate(zip(infos, keyframes)):
            g = f[f"data/demo_{i}"]
            g.attrs["seed"] = seeds[i]
            g.attrs["episode_info"] = info
            g.attrs["keyframe_steps"] = kf
        names = np.array([f"demo_{i}" for i in range(len(seeds))], dtype="S")
        f.create_dataset("mask/train", data=names[train])
        f.create_dataset("mask/valid", data=names[valid])
    os.replace(tmp, path)


# ---------------------------------------------------------------------- replay
def replay_demo(env, demo_group: h5py.Group, render: bool = False) -> dict[str, Any]:
    """Replay one stored demo open-loop: reset to its seed, restore its first state, apply its
    actions. Returns ``success`` (at any step) and, with ``render``, the re-rendered obs."""
    info = json.loads(demo_group.attrs["episode_info"])
    env.reset(int(demo_group.attrs["seed"]), info["variation"])
    states = demo_group["states"][()]
    actions = demo_group["actions"][()]
    env.set_state(states[0])
    success = False
    frames = [env.get_observation()] if render else []
    for t, a in enumerate(actions):
        env._step_physics(env._to_absolute(a))
        success |= env.is_success()
        if render and t + 1 < len(actions):
            frames.append(env.get_observation())
    out: dict[str, Any] = {"success": bool(success)}
    if render:
        out["obs"] = {k: np.stack([f[k] for f in frames]) for k in frames[0]}
    return out


def reconvert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    obs: ObservationConfig,
    n_demos: int | None = None,
    progress: bool = True,
) -> Path:
    """Re-render a collected dataset's observations from its stored ``states`` with another
    observation config (new cameras, resolutions, point clouds), keeping actions, rewards, dones,
    states, masks and per-demo attributes. The result is written atomically to ``dst``.
    ``n_demos`` converts only the first demos (masks are then dropped)."""
    from .env import SimEnv

    src, dst = Path(src), Path(dst)
    with h5py.File(src, "r") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
        if env_args.get("type") != "symlab.sim":
            raise ValueError(f"{src}: env_args were not written by symlab.sim; cannot re-render")
        env = SimEnv.from_env_args(env_args, obs=obs)
        names = sorted(f["data"], key=lambda s: int(s.split("_")[1]))[:n_demos]
        buf = ReplayBuffer(env_args=env.env_args())
        attrs = []
        for name in tqdm(names, desc=f"reconvert {src.name}", disable=not progress):
            g = f[f"data/{name}"]
            info = json.loads(g.attrs["episode_info"])
            env.reset(int(g.attrs["seed"]), info["variation"])
            frames = []
            for state in g["states"][()]:
                env.set_state(state)
                frames.append(env.get_observation())
            ep = {k: g[k][()] for k in g if isinstance(g[k], h5py.Dataset)}
            ep.update({f"obs/{k}": np.stack([fr[k] for fr in frames]) for k in frames[0]})
            buf.add_episode(ep)
            attrs.append(dict(g.attrs))
        keep_masks = "mask" in f and (n_demos is None or n_demos >= len(f["data"]))
        masks = {k: f[f"mask/{k}"][()] for k in f["mask"]} if keep_masks else {}
        env.close()
    tmp = dst.with_name(f".{dst.name}.writing")
    buf.write_robomimic_hdf5(tmp)
    with h5py.File(tmp, "r+") as f:
        for i, a in enumerate(attrs):
            for k, v in a.items():
                f[f"data/demo_{i}"].attrs[k] = v
        for k, v in masks.items():
            f.create_dataset(f"mask/{k}", data=v)
    os.replace(tmp, dst)
    return dst


def replay_dataset(path: str | os.PathLike, n: int | None = None, progress: bool = True):
    """Replay the first ``n`` demos of a collected file; returns per-demo success booleans."""
    from .env import SimEnv

    with h5py.File(path, "r") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
        env = SimEnv.from_env_args(env_args, obs=ObservationConfig())
        names = sorted(f["data"], key=lambda s: int(s.split("_")[1]))[:n]
        out = [
            replay_demo(env, f[f"data/{k}"])["success"] for k in tqdm(names, disable=not progress)
        ]
        env.close()
    return out


def _obs_preset(name: str, size: int) -> ObservationConfig:
    presets = {
        "none": ObservationConfig,
        "low_dim": ObservationConfig.low_dim,
        "mimicgen": lambda: ObservationConfig.mimicgen(size),
        "rlbench": lambda: ObservationConfig.rlbench(size),
        "eye_in_hand": lambda: ObservationConfig(
            cameras=(CameraConfig("robot0_eye_in_hand", size, size),)
        ),
    }
    if name not in presets:
        raise ValueError(f"unknown observation preset {name!r}; expected one of {sorted(presets)}")
    return presets[name]()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--task", required=True)
    p.add_argument("--n-demos", type=int, default=100)
    p.add_argument(
        "--obs", default="mimicgen", help="none, low_dim, mimicgen, rlbench, eye_in_hand"
    )
    p.add_argument("--image-size", type=int, default=84)
    p.add_argument("--perturbation", default="none", choices=["none", "se2", "se3"])
    p.add_argument("--action-mode", default="abs_pose")
    p.add_argument("--seed-start", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    cfg = CollectConfig(
        task=a.task,
        n_demos=a.n_demos,
        obs=_obs_preset(a.obs, a.image_size),
        perturbation=PerturbationConfig(a.perturbation),
        action_mode=a.action_mode,
        seed_start=a.seed_start,
    )
    print(collect(cfg, a.out, workers=a.workers))


if __name__ == "__main__":
    main()

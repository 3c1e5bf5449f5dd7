"""Demonstration datasets: robomimic HDF5 files -> pose-action replay buffers and windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from symlab.data import DatasetError, ReplayBuffer, split_episodes
from symlab.policy import PolicyDataset, axis_angle_action_to_pose

from .config import DataConfig, ModelConfig
from .synthetic import write_synthetic_hdf5


def load_demonstrations(path: str | Path, obs_keys: list[str]) -> ReplayBuffer:
    """Read a robomimic-layout file and convert its actions to 10-d pose actions.

    Absolute OSC actions ``[pos, axis-angle, gripper]`` (7-d, robosuite / MimicGen ``abs``
    datasets) become ``[pos, rot6d rows, gripper]``; 10-d actions are kept. Relative and delta
    actions are derived from these in the policy (:class:`symlab.policy.ActionConversion`).
    """
    return pose_action_buffer(ReplayBuffer.from_robomimic_hdf5(path, obs_keys=obs_keys), path)


def pose_action_buffer(buf: ReplayBuffer, source: str | Path = "buffer") -> ReplayBuffer:
    """The buffer with its actions converted to 10-d pose actions (see
    :func:`load_demonstrations`)."""
    path = source
    actions = buf["actions"]
    if actions.shape[-1] == 7:
        actions = axis_angle_action_to_pose(torch.from_numpy(actions.astype(np.float64))).numpy()
    elif actions.shape[-1] != 10:
        raise DatasetError(
            f"{path}: actions have dimension {actions.shape[-1]}; expected absolute pose actions "
            "(7-d [pos, axis-angle, gripper] or 10-d [pos, rot6d, gripper])"
        )
    data = {k: v for k, v in buf.data.items() if k != "actions"}
    data["actions"] = actions.astype(np.float32)
    return ReplayBuffer(data, buf.episode_ends, env_args=buf.env_args)


def dataset_path(cfg: DataConfig, workdir: str | Path, task: str | None = None) -> Path:
    """The HDF5 file of ``cfg``: the given path, the benchmark's scripted demonstrations of
    ``task`` (``source: sim``, collected once and cached), or synthetic demos written under
    ``workdir``."""
    if cfg.source == "sim":
        if not task:
            raise DatasetError("data.source is 'sim' but no benchmark task was given")
        from .sim import collect_demos

        return collect_demos(task, cfg)
    if cfg.source == "hdf5":
        if not cfg.path:
            raise DatasetError("data.source is 'hdf5' but data.path is empty")
        return Path(cfg.path)
    path = Path(workdir) / f"synthetic_{cfg.n_demos}demos_seed{cfg.seed}_{cfg.image_size}px.hdf5"
    if not path.is_file():
        write_synthetic_hdf5(cfg, path)
    return path


def make_datasets(
    buffer: ReplayBuffer, cfg: DataConfig, model: ModelConfig, obs_keys: list[str], device=None
) -> tuple[PolicyDataset, PolicyDataset | None]:
    """Training windows and (when ``val_fraction > 0``) held-out windows."""
    train_mask, val_mask = split_episodes(buffer.n_episodes, cfg.val_fraction, seed=cfg.seed)
    kw = {
        "horizon": model.horizon,
        "n_obs_steps": model.n_obs_steps,
        "n_action_steps": model.n_action_steps,
        "device": device,
    }
    train = PolicyDataset(buffer, obs_keys, episode_mask=train_mask, **kw)
    val = PolicyDataset(buffer, obs_keys, episode_mask=val_mask, **kw) if val_mask.any() else None
    return train, val

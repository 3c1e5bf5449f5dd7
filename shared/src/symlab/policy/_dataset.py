"""Training windows of demonstrations for chunking policies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from symlab.data import DatasetError, ReplayBuffer, SequenceSampler


class PolicyDataset:
    """Observation-history / action-chunk windows of a :class:`~symlab.data.ReplayBuffer`.

    Every window starts at step ``s`` of an episode with ``n_obs_steps`` observations
    ``s .. s + To - 1`` and ``horizon`` actions ``s .. s + H - 1``; windows may start
    ``To - 1`` steps before the episode and end ``Ta - 1`` steps after it (padding repeats the
    first/last frame), as in diffusion policy. Frames are stored once; a batch gathers them with
    one index per key, so memory is the buffer itself plus an index table.

    Parameters
    ----------
    buffer : ReplayBuffer
        Demonstrations (e.g. from ``ReplayBuffer.from_robomimic_hdf5``).
    obs_keys : sequence of str
        Observation names without the ``obs/`` prefix.
    horizon, n_obs_steps, n_action_steps : int
        Chunking (16, 2, 8).
    action_key : str
        The action field.
    episode_mask : array-like of bool, optional
        Episodes to use (see :func:`symlab.data.split_episodes`).
    device : torch.device or str, optional
        Where the frames live (batches are gathered there).

    Notes
    -----
    Floating-point fields are stored as float32; images keep their dtype (uint8).
    """

    def __init__(
        self,
        buffer: ReplayBuffer,
        obs_keys: Sequence[str],
        horizon: int = 16,
        n_obs_steps: int = 2,
        n_action_steps: int = 8,
        action_key: str = "actions",
        episode_mask=None,
        device=None,
    ) -> None:
        keys = [action_key, *[f"obs/{k}" for k in obs_keys]]
        for key in keys:
            if key not in buffer:
                raise DatasetError(f"dataset has no field {key!r}; fields: {buffer.keys()}")
        sampler = SequenceSampler(
            buffer,
            horizon,
            n_obs_steps,
            pad_before=n_obs_steps - 1,
            pad_after=n_action_steps - 1,
            keys=keys,
            episode_mask=episode_mask,
        )
        if len(sampler) == 0:
            raise DatasetError("the dataset has no training windows (no episodes selected?)")
        self.obs_keys = list(obs_keys)
        self.action_key = action_key
        self.horizon, self.n_obs_steps = horizon, n_obs_steps
        ends = buffer.episode_ends
        starts = ends - buffer.episode_lengths
        ep, start = sampler.indices[:, 0], sampler.indices[:, 1]
        lo, hi = starts[ep][:, None], ends[ep][:, None] - 1
        self.action_index = torch.from_numpy(np.clip(start[:, None] + np.arange(horizon), lo, hi))
        self.obs_index = torch.from_numpy(np.clip(start[:, None] + np.arange(n_obs_steps), lo, hi))
        self.frames: dict[str, Tensor] = {}
        for key in keys:
            arr = torch.from_numpy(np.ascontiguousarray(buffer[key]))
            if arr.is_floating_point():
                arr = arr.to(torch.float32)
            self.frames[key] = arr.to(device)
        self.action_index = self.action_index.to(device)
        self.obs_index = self.obs_index.to(device)

    def __len__(self) -> int:
        return len(self.action_index)

    def batch(self, idx: Tensor, obs_keys: Sequence[str] | None = None) -> dict:
        """Windows ``idx`` as ``{"obs": {key: (B, To, ...)}, "action": (B, H, Da)}``."""
        idx = torch.as_tensor(idx, device=self.action_index.device)
        keys = self.obs_keys if obs_keys is None else obs_keys
        oi = self.obs_index[idx]
        return {
            "obs": {k: self.frames[f"obs/{k}"][oi] for k in keys},
            "action": self.frames[self.action_key][self.action_index[idx]],
        }

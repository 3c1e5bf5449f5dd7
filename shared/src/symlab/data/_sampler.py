"""Fixed-length sequence windows over the episodes of a :class:`ReplayBuffer`.

Follows diffusion policy's ``SequenceSampler``: every window of ``horizon`` consecutive steps
that overlaps an episode by enough (given the allowed padding) is a sample, and steps outside
the episode are filled by repeating its first or last frame. A window is stored as
``(episode, start, end)`` in buffer coordinates, where ``start`` may precede the episode start
and ``end`` may pass the episode end; the frames of a window are then simply
``clip(start + arange(horizon), episode_start, episode_end - 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._replay import ReplayBuffer


class SequenceSampler:
    """All valid fixed-length windows of a replay buffer, with edge padding.

    Parameters
    ----------
    buffer : ReplayBuffer
        Source episodes. The sampler keeps views of the buffer's arrays as they are at
        construction.
    horizon : int
        Window length.
    n_obs_steps : int, optional
        Length kept for the keys in ``obs_keys`` (the first ``n_obs_steps`` frames of the
        window). ``None`` keeps the full horizon for every key.
    pad_before, pad_after : int, default 0
        How many steps a window may extend before the episode start / after its end; the
        missing frames repeat the first / last frame. Clamped to ``horizon - 1``.
    keys : sequence of str, optional
        Fields to sample; default all fields of the buffer.
    obs_keys : sequence of str, optional
        Fields cut to ``n_obs_steps``; default the sampled keys starting with ``"obs/"``.
    episode_mask : array-like of bool, optional
        Shape ``(n_episodes,)``; only windows of episodes marked True are sampled (see
        :func:`split_episodes`).

    Attributes
    ----------
    indices : numpy.ndarray
        ``(n_samples, 3)`` int64 array of ``(episode, start, end)`` per window.

    Examples
    --------
    >>> buf = ReplayBuffer()
    >>> buf.add_episode({"actions": np.arange(5.0)[:, None], "obs": {"x": np.arange(5.0)}})
    >>> s = SequenceSampler(buf, horizon=4, n_obs_steps=2, pad_before=1, pad_after=3)
    >>> s.sample_sequence(0)["actions"][:, 0]
    array([0., 0., 1., 2.])
    >>> s.sample_sequence(0)["obs/x"]
    array([0., 0.])
    """

    def __init__(
        self,
        buffer: ReplayBuffer,
        horizon: int,
        n_obs_steps: int | None = None,
        pad_before: int = 0,
        pad_after: int = 0,
        keys: Sequence[str] | None = None,
        obs_keys: Sequence[str] | None = None,
        episode_mask: Sequence[bool] | np.ndarray | None = None,
    ) -> None:
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be a positive int, found {horizon!r}")
        if n_obs_steps is not None and not 1 <= n_obs_steps <= horizon:
            raise ValueError(f"n_obs_steps must be in [1, horizon={horizon}], found {n_obs_steps}")
        if pad_before < 0 or pad_after < 0:
            raise ValueError(
                f"pad_before and pad_after must be non-negative, found {pad_before}, {pad_after}"
            )
        available = buffer.keys()
        keys = list(available if keys is None else keys)
        for key in keys:
            if key not in buffer:
                raise KeyError(f"key {key!r} not in the replay buffer; available: {available}")
        if obs_keys is None:
            obs_keys = [k for k in keys if k.startswith("obs/")]
        for key in obs_keys:
            if key not in keys:
                raise KeyError(f"obs key {key!r} is not among the sampled keys {keys}")

        n_eps = buffer.n_episodes
        if episode_mask is None:
            mask = np.ones(n_eps, dtype=bool)
        else:
            mask = np.asarray(episode_mask, dtype=bool)
            if mask.shape != (n_eps,):
                raise ValueError(
                    f"episode_mask has shape {mask.shape}, expected ({n_eps},) "
                    "(one entry per episode)"
                )

        self.horizon = horizon
        self.n_obs_steps = n_obs_steps
        # A pad of horizon-1 already admits windows holding a single real frame; more would
        # only add windows made entirely of padding.
        self.pad_before = min(pad_before, horizon - 1)
        self.pad_after = min(pad_after, horizon - 1)
        self.keys = keys
        self.obs_keys = list(obs_keys)
        self.episode_mask = mask
        self._arrays = {k: buffer[k] for k in keys}
        self._steps = {
            k: (n_obs_steps if n_obs_steps is not None and k in self.obs_keys else horizon)
            for k in keys
        }
        ends = buffer.episode_ends
        starts = ends - np.diff(ends, prepend=0)
        self._ep_start = starts
        self._ep_end = ends
        self.indices = self._create_indices(starts, ends, mask)

    def _create_indices(self, starts: np.ndarray, ends: np.ndarray, mask: np.ndarray) -> np.ndarray:
        lengths = ends - starts
        # Window offsets relative to the episode start run over
        # [-pad_before, length - horizon + pad_after], inclusive.
        counts = lengths - self.horizon + self.pad_before + self.pad_after + 1
        counts = np.where(mask, np.maximum(counts, 0), 0)
        total = int(counts.sum())
        episode = np.repeat(np.arange(len(lengths), dtype=np.int64), counts)
        first = np.cumsum(counts) - counts
        offset = np.arange(total, dtype=np.int64) - np.repeat(first, counts) - self.pad_before
        start = starts[episode] + offset
        return np.stack([episode, start, start + self.horizon], axis=1).astype(np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def sample_sequence(self, idx: int) -> dict[str, np.ndarray]:
        """Return window ``idx`` as a dict of arrays of length ``horizon`` (or ``n_obs_steps``).

        Frames outside the episode repeat its first or last frame.
        """
        n = len(self.indices)
        if not -n <= idx < n:
            raise IndexError(f"sample index {idx} out of range for sampler with {n} windows")
        ep, start, _ = self.indices[idx]
        lo, hi = self._ep_start[ep], self._ep_end[ep]
        out = {}
        for key, arr in self._arrays.items():
            t = np.clip(start + np.arange(self._steps[key]), lo, hi - 1)
            out[key] = arr[t]
        return out

    __getitem__ = sample_sequence

    def as_tensors(
        self, device: torch.device | str | None = None, keys: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Materialise every window as stacked tensors, e.g. to feed a ``DeviceLoader``.

        Equivalent to stacking :meth:`sample_sequence` over all indices, computed with one
        fancy-indexing gather per key. Memory is ``len(self) * horizon`` frames per key.

        Parameters
        ----------
        device : torch.device or str, optional
            Where to put the tensors; default CPU.
        keys : sequence of str, optional
            Subset of the sampled keys; default all.

        Returns
        -------
        dict[str, torch.Tensor]
            Tensors of shape ``(len(self), steps, *per_step_shape)``.
        """
        keys = self.keys if keys is None else list(keys)
        ep = self.indices[:, 0]
        lo = self._ep_start[ep][:, None]
        hi = self._ep_end[ep][:, None] - 1
        start = self.indices[:, 1:2]
        out = {}
        for key in keys:
            if key not in self._arrays:
                raise KeyError(f"key {key!r} is not sampled; sampled keys: {self.keys}")
            t = np.clip(start + np.arange(self._steps[key]), lo, hi)
            out[key] = torch.from_numpy(self._arrays[key][t]).to(device)
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_samples={len(self)}, horizon={self.horizon}, "
            f"n_obs_steps={self.n_obs_steps}, pad_before={self.pad_before}, "
            f"pad_after={self.pad_after}, keys={self.keys})"
        )

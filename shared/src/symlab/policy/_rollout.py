"""Closed-loop execution: observation history, action chunking and the env-runner interface."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor


@runtime_checkable
class EnvRunner(Protocol):
    """Evaluates a policy in closed loop (diffusion policy's ``BaseImageRunner``).

    ``run(policy)`` rolls the policy out (typically through :class:`ActionChunkController`) and
    returns plain metrics, at least ``{"success_rate": float}``; the training loop calls it
    periodically with the EMA policy and keeps the best score.
    """

    def run(self, policy: Any) -> dict[str, float]: ...


def _to_tensor(x: Any, device: torch.device | str | None) -> Tensor:
    # Keeps the dtype: float64 poses stay float64 until the policy's preprocessor has done its
    # SE(3) algebra.
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x, device=device)


class ObservationHistory:
    """The last ``n_obs_steps`` observations of a batch of environments.

    The first observation of an episode is repeated to fill the history, as diffusion policy pads
    the start of a demonstration.
    """

    def __init__(self, n_obs_steps: int) -> None:
        if n_obs_steps < 1:
            raise ValueError(f"n_obs_steps must be >= 1, found {n_obs_steps}")
        self.n_obs_steps = n_obs_steps
        self._frames: deque[dict[str, Tensor]] = deque(maxlen=n_obs_steps)

    def reset(self) -> None:
        self._frames.clear()

    def __len__(self) -> int:
        return len(self._frames)

    def append(self, obs: Mapping[str, Tensor]) -> None:
        """Add one step ``obs[key]: (B, ...)``."""
        frame = dict(obs)
        if not self._frames:
            self._frames.extend([frame] * self.n_obs_steps)
        else:
            self._frames.append(frame)

    def window(self) -> dict[str, Tensor]:
        """The stacked history ``obs[key]: (B, n_obs_steps, ...)``."""
        if not self._frames:
            raise RuntimeError("the observation history is empty; append an observation first")
        return {k: torch.stack([f[k] for f in self._frames], dim=1) for k in self._frames[0]}


class ActionChunkController:
    """Run a chunking policy step by step (diffusion policy's ``MultiStepWrapper``).

    Every call of :meth:`act` records the newest observation; when the queue of planned actions
    is empty the policy is queried on the observation history and its ``n_action_steps``
    actions are queued. The environment thus executes each chunk open loop and the policy
    replans every ``n_action_steps`` steps.

    Parameters
    ----------
    policy : object
        Has ``predict_action(obs) -> {"action": (B, Ta, Da)}``, ``reset()``, ``n_obs_steps``.
    device : torch.device or str, optional
        Where observations are sent (default: the policy's parameters' device).
    generator : torch.Generator, optional
        Diffusion noise source passed to ``predict_action`` (reproducible rollouts).
    keys : sequence of str, optional
        Observation keys forwarded to the policy (default: all).
    """

    def __init__(self, policy: Any, device=None, generator=None, keys=None) -> None:
        self.policy = policy
        if device is None:
            params = list(policy.parameters()) if hasattr(policy, "parameters") else []
            device = params[0].device if params else "cpu"
        self.device = device
        self.generator = generator
        self.keys = None if keys is None else list(keys)
        self.history = ObservationHistory(policy.n_obs_steps)
        self._queue: deque[Tensor] = deque()
        self.n_policy_calls = 0

    def reset(self) -> None:
        """Start a new episode."""
        self.history.reset()
        self._queue.clear()
        self.policy.reset()

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        """The action ``(B, Da)`` to execute after observing ``obs[key]: (B, ...)``."""
        keys = self.keys if self.keys is not None else list(obs)
        self.history.append({k: _to_tensor(obs[k], self.device) for k in keys})
        if not self._queue:
            out = self.policy.predict_action(self.history.window(), generator=self.generator)
            self._queue.extend(out["action"].unbind(1))
            self.n_policy_calls += 1
        return self._queue.popleft().cpu().numpy()

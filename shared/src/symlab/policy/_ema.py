"""Exponential moving average of model weights with diffusion policy's warm-up schedule."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMAModel(nn.Module):
    """A frozen copy of ``model`` whose weights track an EMA of the training weights.

    The decay at optimisation step ``s`` (counted from ``update_after_step``) is
    ``1 - (1 + s / inv_gamma) ** -power``, clamped to ``[min_value, max_value]`` (diffusion
    policy: ``power=0.75``, ``inv_gamma=1``, ``max_value=0.9999``). Early on the average follows
    the model closely; the horizon grows with training. Buffers (normalizer statistics, ...) are
    copied, not averaged.

    Parameters
    ----------
    model : nn.Module
        The model being trained; deep-copied once.
    power, inv_gamma, min_value, max_value : float
        Decay schedule.
    update_after_step : int
        Steps before averaging starts (the copy follows the model exactly until then).

    Attributes
    ----------
    averaged_model : nn.Module
        The EMA weights, without gradients; switch it to eval mode before evaluating it.
    """

    def __init__(
        self,
        model: nn.Module,
        power: float = 0.75,
        inv_gamma: float = 1.0,
        min_value: float = 0.0,
        max_value: float = 0.9999,
        update_after_step: int = 0,
    ) -> None:
        super().__init__()
        # The copy stays in training mode between updates: some modules (escnn's R2Conv) cache
        # weights expanded from the parameters when switched to eval mode, and the cache would
        # go stale as the average moves. Call ``averaged_model.eval()`` right before using it.
        self.averaged_model = copy.deepcopy(model).train().requires_grad_(False)
        self.power = power
        self.inv_gamma = inv_gamma
        self.min_value = min_value
        self.max_value = max_value
        self.update_after_step = update_after_step
        self.optimization_step = 0

    def decay(self, step: int) -> float:
        """The decay used at optimisation step ``step``."""
        s = max(0, step - self.update_after_step - 1)
        if s <= 0:
            return 0.0
        value = 1.0 - (1.0 + s / self.inv_gamma) ** -self.power
        return max(self.min_value, min(value, self.max_value))

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        """Update the average with the current weights of ``model``."""
        decay = self.decay(self.optimization_step)
        ema_params, params = [], []
        for p_ema, p in zip(self.averaged_model.parameters(), model.parameters()):
            if p.requires_grad:
                ema_params.append(p_ema)
                params.append(p.detach())
            else:
                p_ema.copy_(p)
        if ema_params:
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, params, alpha=1.0 - decay)
        ema_buffers = dict(self.averaged_model.named_buffers())
        for name, b in model.named_buffers():
            target = ema_buffers.get(name)
            if target is not None and target.shape == b.shape:
                target.copy_(b)
        self.optimization_step += 1

    def get_extra_state(self) -> dict[str, Any]:
        return {"optimization_step": self.optimization_step}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.optimization_step = int(state["optimization_step"])

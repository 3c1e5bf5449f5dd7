"""beta-NLL (Seitzer et al. 2022, arXiv 2203.09168), its schedule, and the validation metric."""

from __future__ import annotations

import torch
import torch.nn.functional as F

VAR_MIN = 1e-6


def beta_nll(
    mean: torch.Tensor, var: torch.Tensor, target: torch.Tensor, beta: float
) -> torch.Tensor:
    """``0.5 [(mean - y)^2 / s2 + log s2] * stopgrad(s2)^beta``, summed over bins, batch-averaged.

    ``s2 = max(var, 1e-6)``. beta = 0 is the Gaussian NLL (no weighting); beta = 1 makes the mean's
    gradient ``(mean - y)``, as for the MSE.
    """
    var = var.clamp_min(VAR_MIN)
    nll = 0.5 * ((mean - target) ** 2 / var + torch.log(var))
    if beta != 0:
        nll = nll * var.detach() ** beta
    return nll.sum(-1).mean()


def betas_for_epoch(epoch: int, warmup_epochs: int, beta_warmup: float, betas) -> list[float]:
    """beta per head: ``beta_warmup`` (1) during warm-up, then (0.9, 0.5, 0.5) for xi/omega/eta."""
    if epoch < warmup_epochs:
        return [float(beta_warmup)] * 3
    return [float(b) for b in betas]


def training_loss(out: torch.Tensor, target: torch.Tensor, betas) -> torch.Tensor:
    """Sum over the three heads of beta-NLL; ``out`` (B, 3, 40), ``target`` (B, 3, 20)."""
    return sum(beta_nll(out[:, i, :20], out[:, i, 20:], target[:, i], betas[i]) for i in range(3))


def validation_metric(out: torch.Tensor, target: torch.Tensor, mse_weight: float = 0.7):
    """``0.7 MSE + 0.3 GaussianNLL``, each summed over heads (element means); returns
    ``(combined, mse, nll)`` as floats."""
    mse = sum(F.mse_loss(out[:, i, :20], target[:, i]) for i in range(3))
    nll = sum(
        F.gaussian_nll_loss(out[:, i, :20], target[:, i], out[:, i, 20:].clamp_min(VAR_MIN))
        for i in range(3)
    )
    mse, nll = float(mse), float(nll)
    return mse_weight * mse + (1.0 - mse_weight) * nll, mse, nll

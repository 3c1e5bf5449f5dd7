"""Prop. 5.3 / Fig. 4: failure of linear mode connectivity through the homogeneous rescaling.

For ``sigma(c z) = c^k sigma(z)`` (``c > 0``) and a zero-loss minimum ``W``,
``W' = (..., m W_(l-1), m^-k W_l)`` is a minimum too, and the midpoint of the straight line
between them outputs ``((1 + m^-k)/2) ((1 + m)/2)^k Y``, so its loss is

    (1 - 2^-(k+1) (1 + m^-k) (1 + m)^k)^2 ||Y||^2,

which is unbounded in ``m``. The teacher is the student: ``Y`` is the network's own output at
``W``, so the loss at ``W`` is exactly zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .linear import Params
from .networks import HOMOGENEITY_DEGREE, mlp_forward, mlp_loss


def rescale_last_two(weights: Sequence[Tensor], m: float, degree: int = 1) -> Params:
    """``(W_1, ..., m W_(l-1), m^-degree W_l)``: a symmetry of a degree-``k`` homogeneous net."""
    if m <= 0:
        raise ValueError(f"the rescaling needs m > 0, got {m}")
    out = list(weights)
    out[-2] = m * weights[-2]
    out[-1] = m ** (-degree) * weights[-1]
    return out


def interpolate(a: Sequence[Tensor], b: Sequence[Tensor], t: Tensor) -> Params:
    """Straight line ``(1 - t) a + t b`` at times ``t`` (shape ``T``; adds a leading dim)."""
    tt = t.reshape(-1, 1, 1)
    return [(1 - tt) * x + tt * y for x, y in zip(a, b)]


def midpoint_loss_closed_form(m: float | np.ndarray, degree: int = 1, y_norm_sq: float = 1.0):
    """``(1 - 2^-(k+1) (1 + m^-k) (1 + m)^k)^2 ||Y||^2``."""
    m = np.asarray(m, dtype=np.float64)
    factor = 2.0 ** (-(degree + 1)) * (1 + m ** (-degree)) * (1 + m) ** degree
    return (1 - factor) ** 2 * y_norm_sq


@dataclass
class LMCRecord:
    """Midpoint loss for one multiplier ``m``."""

    m: float
    measured: float  # midpoint loss / ||Y||^2
    closed_form: float  # (1 - (1+m)^2/(4m))^2 for k = 1
    relative_error: float
    endpoint_loss: float  # loss of the rescaled network W' / ||Y||^2 (zero up to rounding)
    path_losses: np.ndarray  # loss / ||Y||^2 along the straight line


def lmc_barrier(
    weights: Sequence[Tensor],
    X: Tensor,
    multipliers: Sequence[float],
    activation: str = "leaky_relu",
    negative_slope: float = 0.01,
    n_interpolation_points: int = 21,
) -> list[LMCRecord]:
    """Measure the midpoint loss of ``W -> W'(m)`` against the closed form (teacher = student).

    Returns
    -------
    list of LMCRecord
        Losses are divided by ``||Y||^2``, so they compare directly with the reference table
        (``||Y||^2 = 1``). The relative error uses ``max(closed form, 1e-12)`` as the scale, so
        ``m = 1`` (closed form 0) demands an exactly zero midpoint loss.
    """
    degree = HOMOGENEITY_DEGREE[activation]
    if degree is None:
        raise ValueError(f"{activation} is not positively homogeneous")
    with torch.no_grad():
        Y = mlp_forward(weights, X, activation, negative_slope)
        y_norm_sq = float(Y.pow(2).sum())
        t = torch.linspace(0.0, 1.0, n_interpolation_points, dtype=X.dtype)
        records = []
        for m in multipliers:
            rescaled = rescale_last_two(weights, m, degree)
            midpoint = [(a + b) / 2 for a, b in zip(weights, rescaled)]
            measured = float(mlp_loss(midpoint, X, Y, activation, negative_slope)) / y_norm_sq
            closed = float(midpoint_loss_closed_form(m, degree))
            path = mlp_loss(interpolate(weights, rescaled, t), X, Y, activation, negative_slope)
            records.append(
                LMCRecord(
                    m=float(m),
                    measured=measured,
                    closed_form=closed,
                    relative_error=abs(measured - closed) / max(closed, 1e-12),
                    endpoint_loss=float(mlp_loss(rescaled, X, Y, activation, negative_slope))
                    / y_norm_sq,
                    path_losses=(path / y_norm_sq).numpy(),
                )
            )
    return records

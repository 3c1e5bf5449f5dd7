"""Small private helpers shared by the group modules (shapes, tolerances, series)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

BatchShape = int | Sequence[int] | torch.Size


def as_batch_shape(batch_shape: BatchShape) -> tuple[int, ...]:
    """Normalise an ``int`` or a sequence of ints to a tuple batch shape."""
    if isinstance(batch_shape, int):
        return (batch_shape,)
    return tuple(int(b) for b in batch_shape)


def check_last_dims(x: Tensor, trailing: tuple[int, ...], name: str) -> None:
    """Raise a ``ValueError`` unless ``x`` has shape ``(..., *trailing)``."""
    k = len(trailing)
    if x.dim() < k or tuple(x.shape[x.dim() - k :]) != trailing:
        want = ", ".join(["..."] + [str(t) for t in trailing])
        raise ValueError(f"{name}: expected a tensor of shape ({want}), got {tuple(x.shape)}")


def default_atol(dtype: torch.dtype) -> float:
    """Membership tolerance: sqrt(eps) leaves room for a few compositions of rounded matrices."""
    return float(torch.finfo(dtype).eps) ** 0.5


def small_angle_threshold(dtype: torch.dtype) -> float:
    """Angle below which the Taylor series (through theta^6) is used instead of the closed form.

    At ``eps ** (1/8)`` the first omitted series term (~theta^8 / 8!) is below ``eps``, while the
    cancellation error of the closed forms (~eps / theta^2 relative) is multiplied by a factor of
    order theta^2 wherever those coefficients are used, so both branches are accurate to ``eps``.
    """
    return float(torch.finfo(dtype).eps) ** 0.125


def series_or_closed_form(
    theta2: Tensor,
    closed_form: Callable[[Tensor], Tensor],
    coeffs: Sequence[float],
) -> Tensor:
    """Evaluate ``f(theta)`` given ``theta^2``, switching to a series in ``theta^2`` near zero.

    The closed form only ever sees a "safe" angle (1 where the series is used), so neither its
    value nor its gradient can produce NaN from a 0/0 in the branch that ``torch.where`` discards.

    Parameters
    ----------
    theta2 : Tensor
        Squared angles, any shape.
    closed_form : callable
        ``theta -> f(theta)``, valid for ``theta`` away from zero.
    coeffs : sequence of float
        Taylor coefficients ``c_k`` of ``f(theta) = sum_k c_k theta^(2k)``.
    """
    thr = small_angle_threshold(theta2.dtype)
    small = theta2 < thr * thr
    safe_theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    series = torch.full_like(theta2, coeffs[-1])
    for c in reversed(coeffs[:-1]):  # Horner; loops over series terms, not over the batch
        series = series * theta2 + c
    return torch.where(small, series, closed_form(safe_theta))


def eye_like(x: Tensor, n: int | None = None) -> Tensor:
    """Identity of size ``n`` (default: ``x.shape[-1]``) with ``x``'s dtype and device."""
    n = x.shape[-1] if n is None else n
    return torch.eye(n, dtype=x.dtype, device=x.device)

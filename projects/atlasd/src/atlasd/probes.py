"""Probe functions with known discrete symmetries (no learned predictor).

* D4 probe: ``f(x, y) = |x| + |y|``, invariant under the 8 signed permutation matrices.
* Two-coset probe: ``f(x, y) = atan((y + 0.1) / x)``, nearly invariant under scaling (the given
  algebra) and under ``-I``; its discrete part is ``{I, -I}``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symlab.groups import DN


class D4Function(nn.Module):
    """``|x| + |y|`` of points ``(B, 1, 2)`` -> ``(B, 1)``."""

    def forward(self, u: Tensor) -> Tensor:
        return u[..., 0, 0].abs().unsqueeze(-1) + u[..., 0, 1].abs().unsqueeze(-1)


class TwoCosetFunction(nn.Module):
    """``atan((y + 0.1) / x)`` of points ``(B, 1, 2)`` -> ``(B, 1)``."""

    def forward(self, u: Tensor) -> Tensor:
        return torch.atan((u[..., 0, 1] + 0.1) / u[..., 0, 0]).unsqueeze(-1)


def probe_points(n: int, seed: int) -> Tensor:
    """``n`` standard normal points in the plane, shape ``(n, 1, 2)``."""
    return torch.randn(n, 1, 2, generator=torch.Generator().manual_seed(seed))


SCALING_ALGEBRA = torch.eye(2).unsqueeze(0)
#: D4 is discrete: its Lie algebra is empty (symlab's DN(4).lie_algebra, shape (0, 2, 2)).
EMPTY_ALGEBRA = DN(4).lie_algebra.float()

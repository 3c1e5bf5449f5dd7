"""Prop. 6.1 / Fig. 3a: the approximate GL(h) action on two-layer networks ``f = U sigma(V X)``.

``g . (U, V) = (U sigma(V X) sigma(g V X)^+, g V)`` with ``U (m x h)``, ``V (h x n)``,
``X (n x k)``. The output changes from ``A = U sigma(V X)`` to ``A Pi``, with
``Pi = sigma(g V X)^+ sigma(g V X)`` the orthogonal projector onto the row space of
``sigma(g V X)``; hence ``||A - A Pi|| <= ||A||``, and the action is exact on the data when
``sigma(g V X)`` has full column rank, which needs ``h >= k``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .linear import DTYPE

Activation = Callable[[Tensor], Tensor]


def approximate_action(
    g: Tensor, U: Tensor, V: Tensor, X: Tensor, activation: Activation
) -> tuple[Tensor, Tensor]:
    """Apply ``g`` in GL(h) to ``(U, V)`` with the data-dependent action of Prop. 6.1.

    Batched: ``g`` may carry leading dimensions (for instance the points of a curve
    ``g_t = exp(t log g)``), which broadcast against ``U`` and ``V``.

    Returns
    -------
    U_new, V_new : Tensor
        ``U sigma(V X) sigma(g V X)^+`` and ``g V``.
    """
    V_new = g @ V
    hidden_new = activation(V_new @ X)
    U_new = (U @ activation(V @ X)) @ torch.linalg.pinv(hidden_new)
    return U_new, V_new


def two_layer_output(U: Tensor, V: Tensor, X: Tensor, activation: Activation) -> Tensor:
    """``U sigma(V X)``."""
    return U @ activation(V @ X)


@dataclass
class ApproxActionRecord:
    """One random sigmoid network of the Prop. 6.1 experiment."""

    m: int
    h: int
    n: int
    k: int
    ratio: float  # ||A - A'||_F / ||A||_F


def run_approx_action_experiment(
    n_networks: int, min_dim: int, max_dim: int, generator: torch.Generator
) -> list[ApproxActionRecord]:
    """Error ratios of the approximate action on random sigmoid networks.

    Dimensions ``m, h, n, k`` are uniform on ``min_dim..max_dim``; weights are ``N(0, 1/fan_in)``
    (``U``: fan-in ``h``, ``V``: fan-in ``n``), the data ``X`` and the group element are
    ``N(0, 1)`` and ``N(0, 1/h)`` Gaussian matrices.
    """
    records = []
    dims = torch.randint(min_dim, max_dim + 1, (n_networks, 4), generator=generator)
    for m, h, n, k in dims.tolist():  # dimensions differ per network, so one at a time
        U = torch.randn(m, h, generator=generator, dtype=DTYPE) / np.sqrt(h)
        V = torch.randn(h, n, generator=generator, dtype=DTYPE) / np.sqrt(n)
        X = torch.randn(n, k, generator=generator, dtype=DTYPE)
        g = torch.randn(h, h, generator=generator, dtype=DTYPE) / np.sqrt(h)
        A = two_layer_output(U, V, X, torch.sigmoid)
        U_new, V_new = approximate_action(g, U, V, X, torch.sigmoid)
        A_new = two_layer_output(U_new, V_new, X, torch.sigmoid)
        ratio = float(torch.linalg.norm(A - A_new) / torch.linalg.norm(A))
        records.append(ApproxActionRecord(m, h, n, k, ratio))
    return records

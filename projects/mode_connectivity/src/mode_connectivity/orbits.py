"""Symmetry groups of the package's MLPs, orbit dimensions, and group elements between networks.

Used by the ``eval`` CLI (beyond the paper). Three continuous symmetry families are covered:

* ``gl``: GL(h_i) on every hidden layer of a linear MLP (the action of
  :func:`mode_connectivity.linear.act`), group dimension ``sum h_i^2``;
* ``rescaling``: positive diagonal rescaling of hidden units, a symmetry of any positively
  homogeneous activation of degree 1 (leaky-ReLU), group dimension ``sum h_i``;
* ``data_gl``: the data-dependent GL(h) action of Prop. 6.1 on a two-layer network, exact on the
  data when the hidden width is at least the batch size.

The orbit dimension is computed numerically as the rank of the Jacobian of the action map
``xi -> exp(xi) . w`` at ``xi = 0`` (the tangent space of the orbit), and compared with the
analytic group dimension; the difference is the dimension of the stabilizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .approx_action import approximate_action
from .linear import Params, act, flatten
from .networks import activation_fn

FAMILIES = ("gl", "rescaling", "data_gl")


def hidden_widths(weights: Sequence[Tensor]) -> list[int]:
    """Widths of the hidden layers ``h_1..h_(l-1)``."""
    return [int(W.shape[-2]) for W in weights[:-1]]


def rescaling_act(scales: Sequence[Tensor], weights: Sequence[Tensor]) -> Params:
    """Positive diagonal rescaling ``diag(d_i)`` of the hidden units (a special case of ``act``)."""
    return act([torch.diag_embed(d) for d in scales], weights)


def _split(vector: Tensor, sizes: Sequence[int]) -> list[Tensor]:
    return list(torch.split(vector, list(sizes)))


def action_map(
    family: str,
    weights: Sequence[Tensor],
    X: Tensor | None = None,
    activation: str = "linear",
    negative_slope: float = 0.01,
) -> tuple[Callable[[Tensor], Tensor], int]:
    """The map ``xi -> flatten(exp(xi) . w)`` from Lie algebra coordinates, and its input size.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.
    weights : sequence of Tensor
        The network ``w``.
    X : Tensor, optional
        Data (needed by ``data_gl``).
    """
    widths = hidden_widths(weights)
    if family == "gl":

        def f(xi: Tensor) -> Tensor:
            blocks = [b.reshape(h, h) for b, h in zip(_split(xi, [h * h for h in widths]), widths)]
            return flatten(act([torch.linalg.matrix_exp(b) for b in blocks], weights))

        return f, sum(h * h for h in widths)
    if family == "rescaling":

        def f(xi: Tensor) -> Tensor:
            return flatten(rescaling_act([torch.exp(b) for b in _split(xi, widths)], weights))

        return f, sum(widths)
    if family == "data_gl":
        if len(weights) != 2 or X is None:
            raise ValueError("the data-dependent action needs a two-layer network and its data")
        V, U = weights
        h = V.shape[0]
        sigma = activation_fn(activation, negative_slope)

        def f(xi: Tensor) -> Tensor:
            U_new, V_new = approximate_action(
                torch.linalg.matrix_exp(xi.reshape(h, h)), U, V, X, sigma
            )
            return flatten([V_new, U_new])

        return f, h * h
    raise ValueError(f"unknown symmetry family {family!r}; expected one of {FAMILIES}")


@dataclass
class OrbitDimension:
    """Numerical orbit dimension of one symmetry family at one network."""

    family: str
    group_dimension: int  # sum h_i^2 (gl), sum h_i (rescaling), h^2 (data_gl)
    analytic_orbit_dimension: int
    analytic_formula: str
    numerical_rank: int
    singular_value_gap: float  # smallest kept / largest dropped singular value (inf if none)

    @property
    def stabilizer_dimension(self) -> int:
        return self.group_dimension - self.numerical_rank


def _analytic_orbit_dimension(family: str, weights: Sequence[Tensor]) -> tuple[int, str]:
    """Analytic orbit dimension and how it was obtained."""
    widths = hidden_widths(weights)
    if family == "gl":
        if len(weights) == 2:
            # Stabilizer: xi with xi W_1 = 0 and W_2 xi = 0, i.e. maps from R^h / col(W_1) into
            # ker(W_2): dimension (h - rank W_1)(h - rank W_2).
            h = widths[0]
            r1 = int(torch.linalg.matrix_rank(weights[0]))
            r2 = int(torch.linalg.matrix_rank(weights[1]))
            return h * h - (h - r1) * (h - r2), "h^2 - (h - rank W1)(h - rank W2)"
        square = all(W.shape[-1] == W.shape[-2] for W in weights)
        if square and all(int(torch.linalg.matrix_rank(W)) == W.shape[-1] for W in weights):
            return sum(h * h for h in widths), "sum h_i^2 (square invertible layers)"
        return sum(h * h for h in widths), "sum h_i^2 (group dimension; an upper bound here)"
    if family == "rescaling":
        return sum(widths), "sum h_i"
    # data_gl: xi is in the stabilizer iff xi V = 0, a space of dimension h (h - rank V).
    V = weights[0]
    h = int(V.shape[0])
    return h * int(torch.linalg.matrix_rank(V)), "h rank(V)"


def orbit_dimension(
    family: str,
    weights: Sequence[Tensor],
    X: Tensor | None = None,
    activation: str = "linear",
    negative_slope: float = 0.01,
    rtol: float = 1e-9,
) -> OrbitDimension:
    """Rank of the Jacobian of the group action at the identity.

    The singular values below ``rtol`` times the largest are counted as zero; the reported gap
    shows how clear-cut that decision is.
    """
    f, n = action_map(family, weights, X, activation, negative_slope)
    zero = torch.zeros(n, dtype=weights[0].dtype)
    jac = torch.autograd.functional.jacobian(f, zero, vectorize=True)
    s = torch.linalg.svdvals(jac)
    keep = s > rtol * s[0]
    rank = int(keep.sum())
    gap = float(s[rank - 1] / s[rank]) if 0 < rank < len(s) else float("inf")
    analytic, formula = _analytic_orbit_dimension(family, weights)
    return OrbitDimension(family, n, analytic, formula, rank, gap)


def _kron_rows(W: Tensor, n: int) -> Tensor:
    """Matrix of ``delta -> delta W`` on row-major ``vec(delta)`` (``delta`` is ``n x n``)."""
    return torch.kron(torch.eye(n, dtype=W.dtype), W.mT.contiguous())


def _kron_left(W: Tensor, n: int) -> Tensor:
    """Matrix of ``delta -> W delta`` on row-major ``vec(delta)``."""
    return torch.kron(W, torch.eye(n, dtype=W.dtype))


@dataclass
class GroupElementFit:
    """A group element ``g`` with ``g . w_a ~ w_b``, from a least-squares fit."""

    family: str
    group_elements: list[Tensor]
    relative_residual: float  # ||g . w_a - w_b|| / ||w_b||
    dets: list[float]  # det g_i (gl) or min entry of d_i (rescaling)

    @property
    def connected(self) -> bool:
        """All ``det g_i > 0`` (gl) or all scales positive (rescaling)."""
        return all(d > 0 for d in self.dets)


def fit_group_element(
    family: str, weights_a: Sequence[Tensor], weights_b: Sequence[Tensor]
) -> GroupElementFit:
    """Least-squares ``g`` with ``g . w_a = w_b`` (the solution nearest the identity).

    The conditions ``g_1 W_1 = W'_1``, ``g_i W_i = W'_i g_(i-1)`` and ``W_l = W'_l g_(l-1)`` are
    linear in ``delta = g - I``; the minimum-norm least-squares solution is taken, so directions
    in the stabilizer stay at the identity. For ``rescaling`` only the diagonal of ``delta`` is
    free.
    """
    if family not in ("gl", "rescaling"):
        raise ValueError(f"fit_group_element supports 'gl' and 'rescaling', not {family!r}")
    widths = hidden_widths(weights_a)
    offsets = [0]
    for h in widths:
        offsets.append(offsets[-1] + h * h)
    blocks_rows, rhs = [], []
    n_layers = len(weights_a)
    for i in range(n_layers):
        W, Wp = weights_a[i], weights_b[i]
        row = torch.zeros(W.numel(), offsets[-1], dtype=W.dtype)
        if i < n_layers - 1:  # + delta_i W_i
            h = widths[i]
            row[:, offsets[i] : offsets[i + 1]] += _kron_rows(W, h)
        if i > 0:  # - W'_i delta_(i-1), or + W'_l delta_(l-1) for the last layer
            h = widths[i - 1]
            sign = 1.0 if i == n_layers - 1 else -1.0
            row[:, offsets[i - 1] : offsets[i]] += sign * _kron_left(Wp, h)
        blocks_rows.append(row)
        rhs.append((W - Wp if i == n_layers - 1 else Wp - W).reshape(-1))
    A = torch.cat(blocks_rows)
    b = torch.cat(rhs)
    if family == "rescaling":
        diagonal = torch.cat([offsets[i] + torch.arange(h) * (h + 1) for i, h in enumerate(widths)])
        A = A[:, diagonal]
    solution = torch.linalg.lstsq(A, b[:, None], driver="gelsd").solution[:, 0]
    if family == "rescaling":
        scales = [1.0 + d for d in _split(solution, widths)]
        gs = [torch.diag(s) for s in scales]
        dets = [float(s.min()) for s in scales]
    else:
        gs = [
            torch.eye(h, dtype=b.dtype) + solution[offsets[i] : offsets[i + 1]].reshape(h, h)
            for i, h in enumerate(widths)
        ]
        dets = [float(torch.linalg.det(g)) for g in gs]
    try:
        moved = act(gs, weights_a)
        residual = float(
            torch.linalg.norm(flatten(moved) - flatten(weights_b))
            / torch.linalg.norm(flatten(weights_b))
        )
    except torch.linalg.LinAlgError:  # a singular g: certainly not a group element
        residual = float("inf")
    return GroupElementFit(family, gs, residual, dets)

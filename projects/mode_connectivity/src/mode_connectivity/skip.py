"""Prop. 4.3 / Fig. 1: scalar network with a skip connection, ``L = (Y - W3 (W2 W1 X + eps X))^2``.

For ``X, Y != 0`` the minimum is the graph of ``W3 = Y / ((W1 W2 + eps) X)`` over the plane minus
the curve ``W1 W2 = -eps``, so its components are those of that set: 4 for ``eps = 0`` (the plane
minus both axes), 3 for ``eps != 0`` (the plane minus a hyperbola).

Components are counted on a grid: grid points within one grid step of the curve are removed (so
that no pair of 4-neighbours on opposite sides of the curve survives), the others are joined to
their surviving 4-neighbours with :class:`~mode_connectivity.unionfind.UnionFind`, and the result
is checked against ``scipy.ndimage.label``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
from scipy.spatial import cKDTree

from .unionfind import UnionFind, same_partition


def skip_loss(w1: np.ndarray, w2: np.ndarray, w3: np.ndarray, eps: float, x: float, y: float):
    """``(Y - W3 (W2 W1 X + eps X))^2`` elementwise."""
    return (y - w3 * (w2 * w1 * x + eps * x)) ** 2


def skip_minimum_w3(w1: np.ndarray, w2: np.ndarray, eps: float, x: float, y: float) -> np.ndarray:
    """The ``W3`` that makes the loss zero, ``Y / ((W1 W2 + eps) X)`` (inf on the curve)."""
    with np.errstate(divide="ignore"):
        return y / ((w1 * w2 + eps) * x)


def _curve_points(eps: float, limit: float, spacing: float) -> np.ndarray:
    """Dense points of ``{w1 w2 = -eps}`` in ``[-limit, limit]^2``, at most ``spacing`` apart."""
    s = np.arange(-limit, limit + spacing, spacing)
    if eps == 0.0:
        zeros = np.zeros_like(s)
        return np.concatenate([np.stack([s, zeros], 1), np.stack([zeros, s], 1)])
    # Both parametrisations (w1 -> w2 and w2 -> w1) keep the sampling dense where the branch is
    # steep as well as where it is flat.
    s = s[np.abs(s) >= abs(eps) / limit]
    return np.concatenate([np.stack([s, -eps / s], 1), np.stack([-eps / s, s], 1)])


@dataclass
class GridComponents:
    """Connected components of ``{w1 w2 + eps != 0}`` on a square grid."""

    eps: float
    axis: np.ndarray
    valid: np.ndarray
    labels: np.ndarray  # -1 on removed cells, else 0 .. n_components-1 (union-find)
    n_components: int
    n_components_ndimage: int
    agrees_with_ndimage: bool
    step: float


def grid_components(eps: float, grid_points: int = 401, box: float = 3.0) -> GridComponents:
    """Count the components of ``{(w1, w2) in [-box, box]^2 : w1 w2 + eps != 0}`` on a grid.

    Parameters
    ----------
    eps : float
        Skip-connection weight.
    grid_points : int
        Grid points per axis (spacing ``2 box / (grid_points - 1)``).
    box : float
        Half-width of the square.

    Returns
    -------
    GridComponents
        Labels from the union-find and the ``scipy.ndimage.label`` count, with a flag saying
        whether the two partitions agree.
    """
    axis = np.linspace(-box, box, grid_points)
    step = float(axis[1] - axis[0])
    w1, w2 = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([w1.ravel(), w2.ravel()], 1)
    spacing = step / 20
    tree = cKDTree(_curve_points(eps, box + 2 * step, spacing))
    # Only "is there a curve point within ~one step" matters, so the search is bounded (fast).
    distance, _ = tree.query(points, distance_upper_bound=2 * step)
    # The sampled curve over-estimates the distance by at most half a sample spacing.
    near_curve = distance <= step + spacing
    valid = ~near_curve.reshape(w1.shape)

    index = np.arange(valid.size).reshape(valid.shape)
    right = valid[:-1, :] & valid[1:, :]
    down = valid[:, :-1] & valid[:, 1:]
    a = np.concatenate([index[:-1, :][right], index[:, :-1][down]])
    b = np.concatenate([index[1:, :][right], index[:, 1:][down]])
    uf = UnionFind(valid.size)
    uf.union(a, b)
    all_labels = uf.labels().reshape(valid.shape)
    _, labels_valid = np.unique(all_labels[valid], return_inverse=True)
    labels = np.full(valid.shape, -1, dtype=np.int64)
    labels[valid] = labels_valid
    n_uf = int(labels_valid.max()) + 1 if labels_valid.size else 0

    nd_labels, n_nd = scipy.ndimage.label(valid)  # 4-connectivity, the same neighbourhood
    agree = n_uf == n_nd and same_partition(labels[valid], nd_labels[valid])
    return GridComponents(
        eps=eps,
        axis=axis,
        valid=valid,
        labels=labels,
        n_components=n_uf,
        n_components_ndimage=int(n_nd),
        agrees_with_ndimage=bool(agree),
        step=step,
    )


def run_skip_experiment(
    epsilons: list[float], grid_points: int, box: float, x: float = 1.0, y: float = 1.0
) -> dict:
    """Component counts for each ``eps`` and the check that the sampled graph is a minimum.

    Returns
    -------
    dict
        ``{"grids": [GridComponents], "max_minimum_loss": float}``; the latter is the largest
        loss of ``(w1, w2, W3(w1, w2))`` over the kept grid cells (zero up to rounding).
    """
    grids, worst = [], 0.0
    for eps in epsilons:
        grid = grid_components(eps, grid_points, box)
        w1, w2 = np.meshgrid(grid.axis, grid.axis, indexing="ij")
        w3 = skip_minimum_w3(w1[grid.valid], w2[grid.valid], eps, x, y)
        loss = skip_loss(w1[grid.valid], w2[grid.valid], w3, eps, x, y)
        worst = max(worst, float(loss.max()))
        grids.append(grid)
    return {"grids": grids, "max_minimum_loss": worst}

"""Cor. 4.2: the minimum of an ``l``-layer linear network has exactly ``2^(l-1)`` components.

For each ``(l, h)``:

1. sample minima (Gaussian ``W_1..W_(l-1)``, ``W_l`` solved) and label them by
   ``(sign det W_1, ..., sign det W_(l-1))``;
2. inside each sign class, join every minimum to the class representative by the polar symmetry
   curve ``polar_path(g, t) . w`` and accept the edge only if the loss stays below the tolerance
   at every point and no ``det W_i`` changes sign; a union-find over the minima then counts the
   components these curves connect;
3. between every two classes, try the straight line and random polygonal paths and show that each
   crosses a wall ``det W_i = 0`` (located by bisection). There the product ``W_l..W_1`` is
   singular, so by Eckart-Young the loss is at least ``sigma_min(Y)^2 > 0``: every such path
   leaves the minimum.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .curves import polar_curve
from .linear import (
    DTYPE,
    Params,
    class_index,
    group_element_between,
    linear_loss,
    sample_data,
    sample_minima,
    sign_classes,
)
from .unionfind import UnionFind


@dataclass
class ComponentResult:
    """Outcome of the component experiment for one ``(depth, width)``."""

    depth: int
    width: int
    n_minima: int
    n_sign_classes: int
    n_components: int
    class_sizes: list[int]
    max_minimum_loss: float
    max_curve_loss: float
    curves_with_sign_change: int
    max_endpoint_error: float
    n_cross_paths: int
    n_cross_paths_with_wall: int
    min_wall_loss_ratio: float  # loss at the det = 0 crossing / sigma_min(Y)^2 (theory: >= 1)
    dets: np.ndarray = field(repr=False)  # (n_minima, depth - 1), for the figure


def _polygon(vertices: list[Params], points_per_segment: int) -> Params:
    """Discretise polygonal paths: vertices are per-layer tensors ``(n_paths, ...)``."""
    s = torch.linspace(0.0, 1.0, points_per_segment, dtype=DTYPE)[:-1]
    layers = []
    for layer in range(len(vertices[0])):
        pieces = []
        for a, b in itertools.pairwise(vertices):
            pa, pb = a[layer], b[layer]
            pieces.append(pa[:, None] + s[None, :, None, None] * (pb - pa)[:, None])
        pieces.append(vertices[-1][layer][:, None])
        layers.append(torch.cat(pieces, dim=1))  # (n_paths, n_points, rows, cols)
    return layers


def _wall_crossings(
    paths: Params, X: Tensor, Y: Tensor, n_bisect: int = 80
) -> tuple[Tensor, Tensor, Tensor]:
    """First crossing of a ``det W_i = 0`` wall (``i <= l-1``) on each discretised path.

    Returns
    -------
    crossed : Tensor (bool, n_paths)
    wall_loss : Tensor (n_paths,)
        Loss at the bisected crossing (nan where none was found).
    max_path_loss : Tensor (n_paths,)
    """
    signs = sign_classes(paths)  # (n_paths, n_points, l - 1)
    change = (signs[:, 1:] != signs[:, :-1]).any(dim=-1)  # (n_paths, n_points - 1)
    crossed = change.any(dim=1)
    first = change.to(torch.int64).argmax(dim=1)  # first segment with a flip
    rows = torch.arange(signs.shape[0])
    flipped = signs[rows, first + 1] != signs[rows, first]  # (n_paths, l - 1)
    layer = flipped.to(torch.int64).argmax(dim=1)
    lo = [W[rows, first] for W in paths]
    hi = [W[rows, first + 1] for W in paths]

    def det_of_layer(tau: Tensor) -> Tensor:
        dets = torch.stack(
            [torch.linalg.det(a + tau[:, None, None] * (b - a)) for a, b in zip(lo[:-1], hi[:-1])],
            dim=-1,
        )
        return dets[rows, layer]

    left = torch.zeros(len(rows), dtype=DTYPE)
    right = torch.ones(len(rows), dtype=DTYPE)
    sign_left = torch.sign(det_of_layer(left))
    for _ in range(n_bisect):  # bisection rounds, all paths at once
        mid = (left + right) / 2
        same = torch.sign(det_of_layer(mid)) == sign_left
        left = torch.where(same, mid, left)
        right = torch.where(same, right, mid)
    tau = (left + right) / 2
    point = [a + tau[:, None, None] * (b - a) for a, b in zip(lo, hi)]
    # The bisection pins the wall down to rounding; putting the crossing layer exactly on it
    # (dropping its smallest singular value) keeps the other layers' size from amplifying that
    # rounding into the loss.
    U, S, Vh = torch.linalg.svd(torch.stack(point[:-1], dim=1)[rows, layer])
    S[:, -1] = 0.0
    on_wall = (U * S[:, None, :]) @ Vh
    for i in range(len(point) - 1):
        mask = (layer == i)[:, None, None]
        point[i] = torch.where(mask, on_wall, point[i])
    wall_loss = torch.where(crossed, linear_loss(point, X, Y), torch.nan)
    max_path_loss = linear_loss(paths, X, Y).max(dim=1).values
    return crossed, wall_loss, max_path_loss


def count_components(
    depth: int,
    width: int,
    n_minima: int,
    generator: torch.Generator,
    n_curve_points: int = 101,
    n_random_paths: int = 3,
    n_path_vertices: int = 2,
    path_points_per_segment: int = 201,
    x_cond_max: float = 1e3,
    weight_cond_max: float = 1e6,
    curve_loss_tol: float = 1e-8,
) -> ComponentResult:
    """Run steps 1-3 of the module docstring for one ``(depth, width)``."""
    X, Y = sample_data(width, generator, x_cond_max)
    minima = sample_minima(X, Y, depth, n_minima, generator, weight_cond_max)
    losses = linear_loss(minima, X, Y)
    signs = sign_classes(minima)
    codes = class_index(signs).numpy()
    classes, first_index, sizes = np.unique(codes, return_index=True, return_counts=True)
    representative = first_index[np.searchsorted(classes, codes)]
    member = np.flatnonzero(representative != np.arange(n_minima))
    rep = representative[member]

    # Step 2: polar curves representative -> member, all pairs at once.
    uf = UnionFind(n_minima)
    max_curve_loss, sign_change_count, endpoint_error = 0.0, 0, 0.0
    if member.size:
        start = [W[rep] for W in minima]
        end = [W[member] for W in minima]
        gs = group_element_between(start, end)
        t = torch.linspace(0.0, 1.0, n_curve_points, dtype=DTYPE)
        curve = polar_curve(gs, start, t)  # per layer (T, pairs, h, h)
        curve_losses = linear_loss(curve, X, Y)
        curve_signs = sign_classes(curve)
        changed = (curve_signs != curve_signs[:1]).any(dim=-1).any(dim=0)
        error = torch.stack(
            [
                (c[-1] - e).flatten(1).norm(dim=1) / e.flatten(1).norm(dim=1)
                for c, e in zip(curve, end)
            ]
        ).amax(dim=0)
        # The endpoint must be the member itself (up to the conditioning of g).
        ok = (curve_losses.max(dim=0).values < curve_loss_tol) & ~changed & (error < 1e-6)
        uf.union(rep[ok.numpy()], member[ok.numpy()])
        max_curve_loss = float(curve_losses.max())
        sign_change_count = int(changed.sum())
        endpoint_error = float(error.max())

    # Step 3: paths between the representatives of every two classes.
    n_paths = n_crossed = 0
    min_ratio = float("inf")
    sigma_min_sq = float(torch.linalg.svdvals(Y).min()) ** 2
    pairs = list(itertools.combinations(first_index.tolist(), 2))
    if pairs:
        a_idx = torch.tensor([p[0] for p in pairs])
        b_idx = torch.tensor([p[1] for p in pairs])
        wa = [W[a_idx] for W in minima]
        wb = [W[b_idx] for W in minima]
        # Vertex noise on the scale of each layer (the solved last layer can be much larger).
        scales = [W.pow(2).mean().sqrt() for W in minima]
        for trial in range(1 + n_random_paths):  # trial 0: the straight line
            vertices = [wa]
            for k in range(1, n_path_vertices + 1):
                s = k / (n_path_vertices + 1)
                on_line = [a + s * (b - a) for a, b in zip(wa, wb)]
                if trial:
                    on_line = [
                        p + scale * torch.randn(p.shape, generator=generator, dtype=DTYPE)
                        for p, scale in zip(on_line, scales)
                    ]
                vertices.append(on_line)
            vertices.append(wb)
            paths = _polygon(vertices, path_points_per_segment)
            crossed, wall_loss, _ = _wall_crossings(paths, X, Y)
            n_paths += len(pairs)
            n_crossed += int(crossed.sum())
            if bool(crossed.any()):
                min_ratio = min(min_ratio, float(wall_loss[crossed].min()) / sigma_min_sq)

    dets = torch.stack([torch.linalg.det(W) for W in minima[:-1]], dim=-1).numpy()
    return ComponentResult(
        depth=depth,
        width=width,
        n_minima=n_minima,
        n_sign_classes=len(classes),
        n_components=uf.n_components,
        class_sizes=sizes.tolist(),
        max_minimum_loss=float(losses.max()),
        max_curve_loss=max_curve_loss,
        curves_with_sign_change=sign_change_count,
        max_endpoint_error=endpoint_error,
        n_cross_paths=n_paths,
        n_cross_paths_with_wall=n_crossed,
        min_wall_loss_ratio=min_ratio,
        dets=dets,
    )

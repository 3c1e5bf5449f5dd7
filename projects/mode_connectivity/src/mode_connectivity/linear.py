"""Deep linear networks, their GL(h)^(l-1) symmetry and the minimum L^-1(0) (Prop. 4.1, Cor. 4.2).

Parameters of an ``l``-layer network are a list ``[W_1, ..., W_l]`` of tensors with shapes
``(..., n_i, n_(i-1))``; leading dimensions are batch dimensions (many networks at once, or many
points of a curve). Data are column matrices: ``X`` is ``(n_0, k)`` for ``k`` samples and the
network computes ``W_l ... W_1 X``. The loss is the squared Frobenius norm (a sum, not a mean),
as in the paper. Everything runs in float64.

The hidden-layer symmetry acts by

    g . W = (g_1 W_1, g_2 W_2 g_1^-1, ..., g_(l-1) W_(l-1) g_(l-2)^-1, W_l g_(l-1)^-1),

which is linear in ``W`` for fixed ``g`` (so the same function acts on tangent vectors), and its
Lie algebra acts by ``d rho(xi) W = (xi_1 W_1, xi_2 W_2 - W_2 xi_1, ..., -W_l xi_(l-1))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

DTYPE = torch.float64
Params = list[Tensor]


def sample_data(
    h: int, generator: torch.Generator, cond_max: float = 1e3, max_tries: int = 1000
) -> tuple[Tensor, Tensor]:
    """Square data ``X, Y``, i.i.d. N(0, 1) entries, ``X`` resampled until ``cond(X) < cond_max``.

    Parameters
    ----------
    h : int
        Size (inputs = outputs = samples = ``h``).
    generator : torch.Generator
        Source of randomness.
    cond_max : float
        Rejection threshold on the condition number of ``X`` (the brief uses 1e3).

    Returns
    -------
    X, Y : Tensor
        ``(h, h)`` float64 matrices.
    """
    for _ in range(max_tries):
        X = torch.randn(h, h, generator=generator, dtype=DTYPE)
        if float(torch.linalg.cond(X)) < cond_max:
            break
    else:
        raise RuntimeError(f"no X with cond < {cond_max} in {max_tries} draws")
    Y = torch.randn(h, h, generator=generator, dtype=DTYPE)
    return X, Y


def end_to_end(weights: Sequence[Tensor]) -> Tensor:
    """The product ``W_l ... W_1`` (batched)."""
    product = weights[0]
    for W in weights[1:]:
        product = W @ product
    return product


def linear_loss(weights: Sequence[Tensor], X: Tensor, Y: Tensor) -> Tensor:
    """``||Y - W_l ... W_1 X||_F^2`` for every leading batch index."""
    residual = Y - end_to_end(weights) @ X
    return residual.pow(2).sum(dim=(-2, -1))


def act(group_elements: Sequence[Tensor], weights: Sequence[Tensor]) -> Params:
    """The hidden-layer GL action ``g . W`` (batched; leading dimensions broadcast).

    Parameters
    ----------
    group_elements : sequence of Tensor
        ``g_1, ..., g_(l-1)``, each ``(..., n_i, n_i)`` for hidden layer ``i``.
    weights : sequence of Tensor
        ``W_1, ..., W_l``.

    Returns
    -------
    list of Tensor
        The transformed weights. Since the action is linear in ``W``, the same call maps tangent
        vectors (for instance the derivatives of a curve).
    """
    if len(group_elements) != len(weights) - 1:
        raise ValueError(
            f"act: {len(weights)} layers need {len(weights) - 1} group elements, "
            f"got {len(group_elements)}"
        )
    out = [group_elements[0] @ weights[0]]
    for i in range(1, len(weights) - 1):
        # W g^-1 as a solve (X g = W) instead of an explicit inverse.
        right = torch.linalg.solve(group_elements[i - 1], weights[i], left=False)
        out.append(group_elements[i] @ right)
    out.append(torch.linalg.solve(group_elements[-1], weights[-1], left=False))
    return out


def lie_action(generators: Sequence[Tensor], weights: Sequence[Tensor]) -> Params:
    """The Lie algebra action ``d rho(xi) W``: the velocity of ``exp(t xi) . W`` at ``t = 0``.

    Parameters
    ----------
    generators : sequence of Tensor
        ``xi_1, ..., xi_(l-1)``, each ``(..., n_i, n_i)``.
    weights : sequence of Tensor
        ``W_1, ..., W_l``.
    """
    out = [generators[0] @ weights[0]]
    for i in range(1, len(weights) - 1):
        out.append(generators[i] @ weights[i] - weights[i] @ generators[i - 1])
    out.append(-(weights[-1] @ generators[-1]))
    return out


def sample_minima(
    X: Tensor,
    Y: Tensor,
    depth: int,
    n: int,
    generator: torch.Generator,
    cond_max: float = 1e6,
) -> Params:
    """Sample ``n`` minima: ``W_1..W_(l-1)`` Gaussian, ``W_l = Y X^-1 (W_(l-1)...W_1)^-1``.

    Draws whose free factors or product have a condition number above ``cond_max`` are rejected
    (the brief: products of Gaussian matrices can be ill-conditioned, which would spoil the
    float64 accuracy of ``W_l``).

    Returns
    -------
    list of Tensor
        ``depth`` tensors of shape ``(n, h, h)``.
    """
    h = X.shape[0]
    target = torch.linalg.solve(X, Y, left=False)  # Y X^-1
    kept: list[Tensor] = []
    total = 0
    for _ in range(1000):
        free = torch.randn(2 * n, depth - 1, h, h, generator=generator, dtype=DTYPE)
        product = end_to_end(list(free.unbind(1)))
        conds = torch.cat([torch.linalg.cond(free), torch.linalg.cond(product)[:, None]], dim=1)
        good = free[(conds < cond_max).all(dim=1)]
        kept.append(good)
        total += good.shape[0]
        if total >= n:
            break
    else:
        raise RuntimeError(f"could not draw {n} well-conditioned minima (cond < {cond_max})")
    free = torch.cat(kept)[:n]
    layers = list(free.unbind(1))
    last = torch.linalg.solve(end_to_end(layers), target.expand(n, h, h), left=False)
    return [*layers, last]


def sign_classes(weights: Sequence[Tensor]) -> Tensor:
    """Component labels ``(sign det W_1, ..., sign det W_(l-1))``, shape ``(..., l-1)``, int8."""
    dets = torch.stack([torch.linalg.det(W) for W in weights[:-1]], dim=-1)
    return torch.sign(dets).to(torch.int8)


def class_index(signs: Tensor) -> Tensor:
    """Pack sign vectors (``+-1``, last dim) into integers ``sum_i [s_i < 0] 2^i``."""
    bits = (signs < 0).to(torch.int64)
    powers = 2 ** torch.arange(signs.shape[-1], dtype=torch.int64)
    return (bits * powers).sum(dim=-1)


def group_element_between(weights_a: Sequence[Tensor], weights_b: Sequence[Tensor]) -> Params:
    """The ``g`` with ``g . w_a = w_b`` for two minima (Sec. 3.2 of the brief).

    ``g_1 = W'_1 W_1^-1`` and ``g_i = W'_i g_(i-1) W_i^-1``; on the minimum the last layer then
    matches automatically. ``w_a, w_b`` lie in the same component iff every ``det g_i > 0``.
    """
    gs = [torch.linalg.solve(weights_a[0], weights_b[0], left=False)]
    for i in range(1, len(weights_a) - 1):
        gs.append(torch.linalg.solve(weights_a[i], weights_b[i] @ gs[-1], left=False))
    return gs


def random_group_elements(
    h: int, depth: int, n: int, generator: torch.Generator, cond_max: float = 1e3
) -> list[Params]:
    """``n`` random tuples ``(g_1, ..., g_(l-1))`` of Gaussian GL(h) elements, ``cond < cond_max``.

    Returns a list of ``n`` tuples, so that it can serve as a group sampler for
    :func:`symlab.testing.assert_invariant`.
    """
    out = []
    while len(out) < n:
        g = torch.randn(depth - 1, h, h, generator=generator, dtype=DTYPE)
        if bool((torch.linalg.cond(g) < cond_max).all()):
            out.append(list(g.unbind(0)))
    return out


def flatten(weights: Sequence[Tensor]) -> Tensor:
    """Concatenate the flattened layers along the last dimension: ``(..., D)``."""
    return torch.cat([W.flatten(start_dim=W.dim() - 2) for W in weights], dim=-1)


def unflatten(vector: Tensor, shapes: Sequence[tuple[int, int]]) -> Params:
    """Inverse of :func:`flatten` for layer shapes ``[(n_1, n_0), ...]``."""
    out, start = [], 0
    for rows, cols in shapes:
        size = rows * cols
        out.append(vector[..., start : start + size].reshape(*vector.shape[:-1], rows, cols))
        start += size
    return out


def shapes_of(weights: Sequence[Tensor]) -> list[tuple[int, int]]:
    """Layer shapes ``(n_i, n_(i-1))``."""
    return [(int(W.shape[-2]), int(W.shape[-1])) for W in weights]

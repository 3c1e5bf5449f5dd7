"""Lemma 5.1 / Prop. 5.2: hidden-unit permutations and the sign classes of deep linear networks.

Permuting the units of hidden layer ``i`` by ``P`` (``W_i -> P W_i``, ``W_(i+1) -> W_(i+1) P^T``)
leaves the network function unchanged and multiplies ``det W_i`` and ``det W_(i+1)`` by
``det P``. An odd permutation therefore flips the signs of two consecutive determinants, which is
enough to reach every sign class: modulo permutations, any two minima of a full-rank linear
network are connected (Entezari's conjecture holds there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def odd_permutation(h: int, dtype: torch.dtype = DTYPE) -> Tensor:
    """The transposition of units 0 and 1 as an ``h x h`` permutation matrix (``det = -1``)."""
    if h < 2:
        raise ValueError("an odd permutation needs at least two hidden units")
    perm = torch.arange(h)
    perm[[0, 1]] = perm[[1, 0]]
    return torch.eye(h, dtype=dtype)[perm]


def permute_hidden_layer(weights: Sequence[Tensor], layer: int, P: Tensor) -> Params:
    """Permute hidden layer ``layer`` (1-based: the output units of ``W_layer``) by ``P``."""
    if not 1 <= layer <= len(weights) - 1:
        raise ValueError(f"hidden layer {layer} does not exist in a {len(weights)}-layer network")
    out = list(weights)
    out[layer - 1] = P @ weights[layer - 1]
    out[layer] = weights[layer] @ P.mT
    return out


def align_sign_class(weights: Sequence[Tensor], target_signs: Tensor) -> tuple[Params, list[int]]:
    """Permute hidden layers of a single network until its sign class equals ``target_signs``.

    Layers are processed left to right: a transposition in hidden layer ``i`` flips
    ``sign det W_i`` (and ``sign det W_(i+1)``, fixed later or not a label when ``i = l-1``).

    Returns
    -------
    weights : list of Tensor
        The permuted network (the same function).
    layers : list of int
        The hidden layers that were permuted.
    """
    out = list(weights)
    permuted = []
    for layer in range(1, len(weights)):
        signs = sign_classes(out)
        if int(signs[layer - 1]) != int(target_signs[layer - 1]):
            out = permute_hidden_layer(out, layer, odd_permutation(out[layer - 1].shape[-2]))
            permuted.append(layer)
    return out, permuted


@dataclass
class PermutationResult:
    """Prop. 5.2 for one ``(depth, width)``."""

    depth: int
    width: int
    n_samples: int
    max_loss_change: float  # |L(P . w) - L(w)|
    fraction_moved: float  # share of minima whose sign class changed
    n_connected: int  # permuted minima joined to a target of their new class by a polar curve
    max_curve_loss: float
    curves_with_sign_change: int


def run_permutation_experiment(
    depth: int,
    width: int,
    n_samples: int,
    generator: torch.Generator,
    n_curve_points: int = 101,
) -> PermutationResult:
    """Apply the transposition of hidden units 0, 1 in layer 1 to sampled minima.

    Each permuted minimum is then joined by the polar symmetry curve to an independently sampled
    minimum of its new sign class (the target), showing that after the permutation the two are
    in one component.
    """
    X, Y = sample_data(width, generator)
    minima = sample_minima(X, Y, depth, n_samples, generator)
    P = odd_permutation(width)
    permuted = permute_hidden_layer(minima, 1, P)
    change = (linear_loss(permuted, X, Y) - linear_loss(minima, X, Y)).abs()
    before, after = class_index(sign_classes(minima)), class_index(sign_classes(permuted))
    moved = before != after

    # Targets: fresh minima, one per needed class (drawn until every class is present).
    pool = sample_minima(X, Y, depth, 8 * 2 ** (depth - 1), generator)
    pool_class = class_index(sign_classes(pool))
    lookup = {int(c): i for i, c in reversed(list(enumerate(pool_class.tolist())))}
    has_target = torch.tensor([int(c) in lookup for c in after.tolist()])
    target_index = torch.tensor([lookup.get(int(c), 0) for c in after.tolist()])
    start = [W[has_target] for W in permuted]
    target = [W[target_index[has_target]] for W in pool]
    gs = group_element_between(start, target)
    t = torch.linspace(0.0, 1.0, n_curve_points, dtype=DTYPE)
    curve = polar_curve(gs, start, t)
    losses = linear_loss(curve, X, Y)
    signs = sign_classes(curve)
    changed = (signs != signs[:1]).any(dim=-1).any(dim=0)
    return PermutationResult(
        depth=depth,
        width=width,
        n_samples=n_samples,
        max_loss_change=float(change.max()),
        fraction_moved=float(moved.to(DTYPE).mean()),
        n_connected=int(((losses.max(dim=0).values < 1e-8) & ~changed).sum()),
        max_curve_loss=float(losses.max()),
        curves_with_sign_change=int(changed.sum()),
    )

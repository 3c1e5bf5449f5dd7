"""Symmetry-induced curves on the minimum, their curvature, and the sagitta bound of Thm. 6.2.

Two kinds of orbit curves of the deep linear network are used (``rho`` is the hidden-layer GL
action of :mod:`mode_connectivity.linear`, linear in the weights):

* one-parameter subgroups ``gamma(t) = exp(t xi) . w = exp(t A) w`` with ``A = d rho(xi)``, so in
  closed form ``gamma' = A gamma`` and ``gamma'' = A^2 gamma``;
* polar curves between two minima, ``gamma(t) = exp(t Omega) exp(t S) . w`` factor-wise, with
  ``g_i = R_i P_i``, ``Omega_i = log R_i`` (real Schur log of a rotation) and ``S_i = log P_i``
  (the path of :func:`symlab.groups.polar_path`). With ``u(t) = exp(t S) . w`` and
  ``B = d rho(Omega)``, ``C = d rho(S)``, differentiating the product gives the closed form
  ``gamma' = exp(t Omega) . (B + C) u`` and ``gamma'' = exp(t Omega) . (B^2 + 2 B C + C^2) u``.

Curvature is ``kappa = sqrt(|g'|^2 |g''|^2 - (g'.g'')^2) / |g'|^3`` on the flattened parameters,
cross-checked against Richardson-extrapolated central finite differences.

Thm. 6.2 (as reconstructed in the brief): if a constant-loss curve of curvature <= kappa joins
``w1`` and ``w2``, every chord point is within the sagitta
``d_max = (1/kappa) (1 - sqrt(1 - (kappa |w2 - w1| / 2)^2))`` of the level set, and
``|L - c| <= C_L d_max``. The formula only makes sense when ``kappa |w2 - w1| <= 2`` (a circle of
radius ``1/kappa`` must be able to span the chord); curves beyond that are reported as
"bound not applicable", not as passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from symlab.groups import polar_decomposition, polar_path, so_log, spd_log

from .linear import (
    DTYPE,
    Params,
    act,
    class_index,
    flatten,
    group_element_between,
    lie_action,
    linear_loss,
    sample_data,
    sample_minima,
    shapes_of,
    sign_classes,
    unflatten,
)


def _times(t: Tensor, generator: Tensor) -> Tensor:
    """Reshape times for broadcasting against ``(*batch, h, h)`` generators.

    ``(T,)`` are shared by every curve of the batch; ``(T, *batch)`` gives each curve its own.
    """
    shared_dims = generator.dim() - (t.dim() - 1)
    return t.reshape(*t.shape, *([1] * shared_dims))


def subgroup_curve(generators: Sequence[Tensor], weights: Sequence[Tensor], t: Tensor) -> Params:
    """``exp(t xi) . w`` at times ``t``; outputs have ``t``'s leading dimensions.

    ``t`` is ``(T,)`` (shared times) or ``(T, N)`` (own times per curve of a batch of ``N``).
    """
    gs = [torch.linalg.matrix_exp(_times(t, xi) * xi) for xi in generators]
    return act(gs, weights)


def subgroup_derivatives(
    generators: Sequence[Tensor], weights: Sequence[Tensor], t: Tensor
) -> tuple[Params, Params, Params]:
    """``gamma, gamma', gamma''`` of ``exp(t xi) . w``, closed form ``A gamma``, ``A^2 gamma``."""
    gamma = subgroup_curve(generators, weights, t)
    first = lie_action(generators, gamma)
    second = lie_action(generators, first)
    return gamma, first, second


@dataclass
class PolarGenerators:
    """``Omega_i = log R_i`` and ``S_i = log P_i`` of the polar decompositions ``g_i = R_i P_i``."""

    rotation: Params
    stretch: Params


def polar_generators(group_elements: Sequence[Tensor]) -> PolarGenerators:
    """Factor-wise polar logarithms of ``g_i`` in GL+(h) (raises for ``det g_i <= 0``)."""
    rotation, stretch = [], []
    for g in group_elements:
        if bool((torch.linalg.det(g) <= 0).any()):
            raise ValueError("polar_generators: det g <= 0, no path from the identity exists")
        R, P = polar_decomposition(g)
        rotation.append(so_log(R))
        stretch.append(spd_log(P))
    return PolarGenerators(rotation, stretch)


def polar_curve(group_elements: Sequence[Tensor], weights: Sequence[Tensor], t: Tensor) -> Params:
    """``gamma(t) = polar_path(g, t) . w`` factor-wise: stays in GL+(h)^(l-1), ends at ``g . w``.

    Parameters
    ----------
    group_elements : sequence of Tensor
        ``g_1..g_(l-1)``, each ``(..., h, h)`` with ``det > 0``.
    weights : sequence of Tensor
        The start point ``w``, broadcastable against ``g``'s batch shape.
    t : Tensor
        Times, shape ``(T,)``; outputs get a leading ``T`` dimension.
    """
    path = [polar_path(g, t) for g in group_elements]
    return act(path, weights)


def polar_derivatives(
    generators: PolarGenerators, weights: Sequence[Tensor], t: Tensor
) -> tuple[Params, Params, Params]:
    """``gamma, gamma', gamma''`` of ``exp(t Omega) exp(t S) . w``, closed form (module doc)."""
    u = subgroup_curve(generators.stretch, weights, t)
    cu = lie_action(generators.stretch, u)
    bu = lie_action(generators.rotation, u)
    velocity = [b + c for b, c in zip(bu, cu)]
    bb = lie_action(generators.rotation, bu)
    bc = lie_action(generators.rotation, cu)
    cc = lie_action(generators.stretch, cu)
    acceleration = [x + 2 * y + z for x, y, z in zip(bb, bc, cc)]
    rot = [torch.linalg.matrix_exp(_times(t, om) * om) for om in generators.rotation]
    return act(rot, u), act(rot, velocity), act(rot, acceleration)


def curvature(velocity: Tensor, acceleration: Tensor) -> Tensor:
    """``sqrt(|v|^2 |a|^2 - (v.a)^2) / |v|^3`` over the last dimension (flattened parameters)."""
    vv = (velocity * velocity).sum(-1)
    aa = (acceleration * acceleration).sum(-1)
    va = (velocity * acceleration).sum(-1)
    # Lagrange's identity can go slightly negative by rounding when v and a are parallel.
    return torch.sqrt(torch.clamp(vv * aa - va * va, min=0.0)) / vv.pow(1.5)


def finite_difference_curvature(
    curve: Callable[[Tensor], Tensor], t: Tensor, step: float = 1e-3
) -> Tensor:
    """Curvature from central differences with one Richardson step (error ``O(step^4)``).

    Parameters
    ----------
    curve : callable
        ``t (T,) -> points (T, ..., D)`` on the flattened parameters.
    t : Tensor
        Interior times (``t +- step`` are evaluated).
    """

    def derivatives(h: float) -> tuple[Tensor, Tensor]:
        plus, mid, minus = curve(t + h), curve(t), curve(t - h)
        return (plus - minus) / (2 * h), (plus - 2 * mid + minus) / (h * h)

    v1, a1 = derivatives(step)
    v2, a2 = derivatives(step / 2)
    return curvature((4 * v2 - v1) / 3, (4 * a2 - a1) / 3)


def max_curvature(
    derivatives: Callable[[Tensor], tuple[Tensor, Tensor]], n_points: int, n_refinements: int = 2
) -> tuple[Tensor, Tensor]:
    """Maximum curvature over ``t`` in ``[0, 1]``: a grid of ``n_points``, then finer grids of the
    same size around each curve's current maximum (all curves at once).

    Each refinement shrinks the bracket by ``(n_points - 1) / 2``, so the located maximum is
    accurate to second order in a spacing of ``(2 / (n_points - 1))^(n_refinements + 1) / 2``.

    Parameters
    ----------
    derivatives : callable
        ``t -> (velocity, acceleration)`` for ``N`` curves: ``t`` of shape ``(T,)`` (shared) or
        ``(T, N)`` (per curve) gives two ``(T, N, D)`` tensors.

    Returns
    -------
    kappa_max, t_max : Tensor
        Shape ``(N,)``.
    """
    t = torch.linspace(0.0, 1.0, n_points, dtype=torch.float64)
    kappa = curvature(*derivatives(t))  # (T, N)
    best_kappa, best = kappa.max(dim=0)
    best_t = t[best]
    half_width = 1.0 / (n_points - 1)
    for _ in range(n_refinements):
        # Each curve is refined on its own bracket around its current maximum.
        offsets = torch.linspace(-half_width, half_width, n_points, dtype=torch.float64)
        fine_t = (best_t[None, :] + offsets[:, None]).clamp(0.0, 1.0)  # (F, N)
        fine_kappa = curvature(*derivatives(fine_t))
        value, index = fine_kappa.max(dim=0)
        better = value > best_kappa
        best_kappa = torch.where(better, value, best_kappa)
        best_t = torch.where(better, fine_t.gather(0, index[None])[0], best_t)
        half_width = 2 * half_width / (n_points - 1)
    return best_kappa, best_t


def sagitta(kappa: Tensor, chord: Tensor) -> Tensor:
    """``d_max = (1/kappa)(1 - sqrt(1 - (kappa c / 2)^2))``, ``inf`` where ``kappa c > 2``.

    Written as ``kappa c^2 / (4 (1 + sqrt(1 - (kappa c / 2)^2)))`` to avoid the cancellation at
    small ``kappa c`` (and to give 0 for a straight curve).
    """
    x = kappa * chord / 2
    root = torch.sqrt(torch.clamp(1 - x * x, min=0.0))
    d_max = kappa * chord * chord / (4 * (1 + root))
    return torch.where(x <= 1, d_max, torch.full_like(d_max, torch.inf))


def point_to_polyline(
    points: Tensor, polyline: Tensor, n_candidates: int = 8
) -> tuple[Tensor, Tensor]:
    """Distance from each point to a polyline, and the nearest polyline point.

    All point-segment distances are first computed with matrix products (fast, but with
    cancellation error of order ``sqrt(eps)`` times the coordinates); the ``n_candidates``
    closest segments per point are then measured again with the direct, accurate formula.

    Parameters
    ----------
    points : Tensor
        ``(P, D)``.
    polyline : Tensor
        ``(T, D)`` vertices in order.

    Returns
    -------
    distance : Tensor
        ``(P,)``.
    nearest : Tensor
        ``(P, D)``.
    """
    # Centre everything first: it makes the cancellation in the expanded form much smaller.
    centre = points.mean(dim=0)
    points, polyline = points - centre, polyline - centre
    start, seg = polyline[:-1], polyline[1:] - polyline[:-1]  # (S, D)
    seg_len2 = (seg * seg).sum(-1).clamp_min(torch.finfo(seg.dtype).tiny)
    proj = points @ seg.T - (start * seg).sum(-1)[None]  # (p - a).d, (P, S)
    s = (proj / seg_len2[None]).clamp(0.0, 1.0)
    rel2 = (points * points).sum(-1)[:, None] - 2 * points @ start.T + (start * start).sum(-1)
    approx = rel2 - 2 * s * proj + s * s * seg_len2[None]
    k = min(n_candidates, start.shape[0])
    candidates = torch.topk(approx, k, dim=1, largest=False).indices  # (P, K)
    a, d = start[candidates], seg[candidates]  # (P, K, D)
    s = (((points[:, None] - a) * d).sum(-1) / seg_len2[candidates]).clamp(0.0, 1.0)
    foot = a + s[..., None] * d
    dist = (points[:, None] - foot).norm(dim=-1)
    j = dist.argmin(dim=1, keepdim=True)
    nearest = foot.gather(1, j[..., None].expand(-1, 1, d.shape[-1]))[:, 0]
    return dist.gather(1, j)[:, 0], nearest + centre


@dataclass
class SagittaCheck:
    """Thm. 6.2 on one curve."""

    chord_length: float
    kappa_max: float
    d_max: float
    applicable: bool
    chord_distance: float  # max over chord points of the distance to the curve (polyline)
    distance_ok: bool
    loss_deviation: float  # max over chord points of |L(p) - c|
    lipschitz: float  # C_L: max gradient norm on the tube and on the chord-to-curve segments
    loss_ok: bool
    discretisation: float = 0.0  # ~ accuracy of chord_distance: kappa (longest segment)^2 / 8


def check_sagitta_bound(
    curve_points: Tensor,
    kappa_max: float,
    loss_fn: Callable[[Tensor], Tensor],
    level: float,
    generator: torch.Generator,
    n_chord_points: int = 101,
    n_tube_samples: int = 16,
    n_segment_points: int = 11,
    slack: float = 1e-9,
) -> SagittaCheck:
    """Check ``dist(chord, curve) <= d_max`` and ``|L - c| <= C_L d_max`` for one curve.

    Parameters
    ----------
    curve_points : Tensor
        ``(T, D)`` flattened points of the constant-loss curve from ``w1`` to ``w2``.
    kappa_max : float
        Maximal curvature of the curve.
    loss_fn : callable
        Flattened parameters ``(..., D)`` to losses ``(...)`` (differentiable).
    level : float
        The loss ``c`` on the curve.
    generator : torch.Generator
        For the tube samples.

    Notes
    -----
    ``C_L`` is estimated locally as the largest gradient norm over (i) points drawn uniformly in
    balls of radius ``d_max`` around every chord point (the tube), and (ii) points on the segments
    from every chord point to its nearest curve point (the segments the mean-value argument uses).
    """
    w1, w2 = curve_points[0], curve_points[-1]
    chord_length = float((w2 - w1).norm())
    d_max = float(
        sagitta(torch.tensor(kappa_max, dtype=DTYPE), torch.tensor(chord_length, dtype=DTYPE))
    )
    s = torch.linspace(0.0, 1.0, n_chord_points, dtype=curve_points.dtype)
    chord = w1 + s[:, None] * (w2 - w1)
    distance, nearest = point_to_polyline(chord, curve_points)
    chord_distance = float(distance.max())
    # The polyline deviates from the curve by about the sagitta of its longest segment: the
    # accuracy of the discretised distance (reported, not added: at equality, e.g. an exact
    # circular arc, adding it would flag the tight case as a violation).
    longest = float((curve_points[1:] - curve_points[:-1]).norm(dim=-1).max())
    discretisation = kappa_max * longest**2 / 8
    losses = loss_fn(chord)
    loss_deviation = float((losses - level).abs().max())
    applicable = math.isfinite(d_max)
    if not applicable:
        return SagittaCheck(
            chord_length,
            kappa_max,
            d_max,
            False,
            chord_distance,
            True,
            loss_deviation,
            0.0,
            True,
            discretisation,
        )
    dim = chord.shape[1]
    direction = torch.randn(n_chord_points, n_tube_samples, dim, generator=generator, dtype=s.dtype)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    radius = torch.rand(n_chord_points, n_tube_samples, 1, generator=generator, dtype=s.dtype)
    tube = chord[:, None] + d_max * radius.pow(1.0 / dim) * direction
    u = torch.linspace(0.0, 1.0, n_segment_points, dtype=s.dtype)
    segments = chord[:, None] + u[None, :, None] * (nearest - chord)[:, None]
    probe = torch.cat([tube.reshape(-1, dim), segments.reshape(-1, dim)]).requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(probe).sum(), probe)
    lipschitz = float(grad.norm(dim=-1).max())
    return SagittaCheck(
        chord_length=chord_length,
        kappa_max=kappa_max,
        d_max=d_max,
        applicable=True,
        chord_distance=chord_distance,
        distance_ok=chord_distance <= d_max + slack,
        loss_deviation=loss_deviation,
        lipschitz=lipschitz,
        loss_ok=loss_deviation <= lipschitz * d_max + slack,
        discretisation=discretisation,
    )


@dataclass
class CurveRecord:
    """One orbit curve of the curvature experiment."""

    kind: str  # "subgroup" (exp(t xi).w) or "polar" (between two minima of one sign class)
    depth: int
    width: int
    log_norm: float  # ||xi||_F, or ||(Omega, S)||_F for polar curves
    check: SagittaCheck
    max_curve_loss_change: float


def curvature_experiment(
    depth: int,
    width: int,
    generator: torch.Generator,
    n_subgroup_curves: int = 6,
    log_norm_min: float = 0.01,
    log_norm_max: float = 2.0,
    n_polar_curves: int = 4,
    n_curve_points: int = 1001,
    n_chord_points: int = 101,
    n_tube_samples: int = 16,
    n_segment_points: int = 11,
    fd_step: float = 1e-2,
    slack: float = 1e-9,
) -> tuple[list[CurveRecord], float]:
    """Thm. 6.2 on orbit curves of one ``(depth, width)`` linear network.

    Returns
    -------
    records : list of CurveRecord
    fd_error : float
        Largest relative difference between closed-form and finite-difference curvature over all
        curves at ten interior times.
    """
    X, Y = sample_data(width, generator)
    minima = sample_minima(X, Y, depth, n_subgroup_curves + 4 * n_polar_curves, generator)
    shapes = shapes_of(minima)

    def loss_fn(flat: Tensor) -> Tensor:
        return linear_loss(unflatten(flat, shapes), X, Y)

    t = torch.linspace(0.0, 1.0, n_curve_points, dtype=torch.float64)
    t_fd = torch.linspace(0.05, 0.95, 10, dtype=torch.float64)
    records: list[CurveRecord] = []
    fd_error = 0.0

    def analyse(kind, derivs, points_fn, starts, log_norms):
        nonlocal fd_error
        kappa_max, _ = max_curvature(derivs, n_curve_points)
        points = points_fn(t)  # (T, N, D)
        closed = curvature(*derivs(t_fd))  # (10, N)
        for j in range(points.shape[1]):  # per curve: its own time scale 1 / ||generator||
            step = fd_step / max(float(log_norms[j]), 1e-12)
            fd = finite_difference_curvature(lambda tt, j=j: points_fn(tt)[:, j], t_fd, step)
            fd_error = max(fd_error, float(((fd - closed[:, j]).abs() / closed[:, j]).max()))
        levels = loss_fn(flatten(starts))
        curve_losses = loss_fn(points)
        for j in range(points.shape[1]):  # one sagitta check per curve
            check = check_sagitta_bound(
                points[:, j],
                float(kappa_max[j]),
                loss_fn,
                float(levels[j]),
                generator,
                n_chord_points,
                n_tube_samples,
                n_segment_points,
                slack,
            )
            change = float((curve_losses[:, j] - levels[j]).abs().max())
            records.append(CurveRecord(kind, depth, width, float(log_norms[j]), check, change))

    # One-parameter subgroups exp(t xi).w with ||xi||_F log-spaced.
    starts = [W[:n_subgroup_curves] for W in minima]
    xi = [
        torch.randn(n_subgroup_curves, width, width, generator=generator, dtype=torch.float64)
        for _ in range(depth - 1)
    ]
    norm = torch.stack([x.flatten(1).pow(2).sum(1) for x in xi]).sum(0).sqrt()
    log_norms = torch.logspace(
        math.log10(log_norm_min), math.log10(log_norm_max), n_subgroup_curves, dtype=DTYPE
    )
    xi = [x * (log_norms / norm)[:, None, None] for x in xi]

    def sub_derivs(tt):
        _, v, a = subgroup_derivatives(xi, starts, tt)
        return flatten(v), flatten(a)

    analyse(
        "subgroup",
        sub_derivs,
        lambda tt: flatten(subgroup_curve(xi, starts, tt)),
        starts,
        log_norms,
    )

    # Polar curves between minima of the same sign class.
    rest = [W[n_subgroup_curves:] for W in minima]
    codes = class_index(sign_classes(rest))
    pairs = [
        (i, j) for i in range(len(codes)) for j in range(i + 1, len(codes)) if codes[i] == codes[j]
    ]
    pairs = pairs[:n_polar_curves]
    if pairs:
        a_idx = torch.tensor([p[0] for p in pairs])
        b_idx = torch.tensor([p[1] for p in pairs])
        start = [W[a_idx] for W in rest]
        gs = group_element_between(start, [W[b_idx] for W in rest])
        gens = polar_generators(gs)
        size = (
            torch.stack([x.flatten(1).pow(2).sum(1) for x in gens.rotation + gens.stretch])
            .sum(0)
            .sqrt()
        )

        def polar_derivs(tt):
            _, v, a = polar_derivatives(gens, start, tt)
            return flatten(v), flatten(a)

        analyse("polar", polar_derivs, lambda tt: flatten(polar_curve(gs, start, tt)), start, size)
    return records, fd_error

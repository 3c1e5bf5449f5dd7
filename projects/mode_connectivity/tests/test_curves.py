"""Curvature of orbit curves and the sagitta bound of Thm. 6.2 (7.1.7)."""

import math

import pytest
import torch
from mode_connectivity.curves import (
    check_sagitta_bound,
    curvature,
    curvature_experiment,
    finite_difference_curvature,
    max_curvature,
    point_to_polyline,
    polar_curve,
    polar_derivatives,
    polar_generators,
    sagitta,
    subgroup_curve,
    subgroup_derivatives,
)
from mode_connectivity.linear import (
    flatten,
    group_element_between,
    sample_data,
    sample_minima,
    sign_classes,
)

F64 = torch.float64


def circle(radius: float, angle: float):
    """A circular arc of the given radius in R^3, as a batched curve function."""

    def points(t):
        theta = angle * t
        return torch.stack(
            [radius * torch.cos(theta), radius * torch.sin(theta), 0 * theta], dim=-1
        )

    return points


def test_curvature_of_a_circle():
    t = torch.linspace(0, 1, 5, dtype=F64)
    r, a = 2.5, 1.3
    velocity = torch.stack([-r * a * torch.sin(a * t), r * a * torch.cos(a * t), 0 * t], -1)
    acceleration = torch.stack(
        [-r * a * a * torch.cos(a * t), -r * a * a * torch.sin(a * t), 0 * t], -1
    )
    torch.testing.assert_close(curvature(velocity, acceleration), torch.full_like(t, 1 / r))
    fd = finite_difference_curvature(circle(r, a), t[1:-1], 1e-2)
    torch.testing.assert_close(fd, torch.full_like(fd, 1 / r), rtol=1e-8, atol=0)


def minima_pair(gen, depth=3, h=2):
    X, Y = sample_data(h, gen)
    minima = sample_minima(X, Y, depth, 60, gen)
    signs = sign_classes(minima)
    same = (signs == signs[0]).all(dim=-1).nonzero()[:, 0][:4]
    a = [W[same[:2]] for W in minima]
    b = [W[same[2:4]] for W in minima]
    return a, b


def test_closed_form_curvature_matches_finite_differences(gen):
    a, b = minima_pair(gen)
    t = torch.linspace(0.1, 0.9, 9, dtype=F64)
    # One-parameter subgroup exp(t xi).w: gamma' = A gamma, gamma'' = A^2 gamma.
    xi = [0.3 * torch.randn(2, 2, 2, generator=gen, dtype=F64) for _ in range(2)]
    _, v, acc = subgroup_derivatives(xi, a, t)
    closed = curvature(flatten(v), flatten(acc))
    for j in range(2):
        fd = finite_difference_curvature(
            lambda s, j=j: flatten(subgroup_curve(xi, a, s))[:, j], t, 0.03
        )
        assert float(((fd - closed[:, j]).abs() / closed[:, j]).max()) < 1e-5
    # Polar curve between two minima (the symlab polar_path) against its closed form.
    gs = group_element_between(a, b)
    gens = polar_generators(gs)
    points, v, acc = polar_derivatives(gens, a, t)
    torch.testing.assert_close(flatten(points), flatten(polar_curve(gs, a, t)))
    closed = curvature(flatten(v), flatten(acc))
    for j in range(2):
        fd = finite_difference_curvature(
            lambda s, j=j: flatten(polar_curve(gs, a, s))[:, j], t, 2e-3
        )
        assert float(((fd - closed[:, j]).abs() / closed[:, j]).max()) < 1e-5


def test_sagitta_formula():
    # A circle of radius 2 over a chord of length 2: sagitta 2 - sqrt(3).
    assert float(sagitta(torch.tensor(0.5), torch.tensor(2.0))) == pytest.approx(2 - math.sqrt(3))
    assert float(sagitta(torch.tensor(0.0), torch.tensor(3.0))) == 0.0  # straight line
    assert math.isinf(float(sagitta(torch.tensor(1.0), torch.tensor(2.5))))  # kappa c > 2
    small = float(sagitta(torch.tensor(1e-4), torch.tensor(1.0)))
    assert small == pytest.approx(1e-4 / 8, rel=1e-6)


def test_point_to_polyline_against_brute_force(gen):
    polyline = torch.cumsum(torch.randn(300, 5, generator=gen, dtype=F64), 0)
    points = torch.randn(40, 5, generator=gen, dtype=F64) * 5
    distance, nearest = point_to_polyline(points, polyline)
    s = torch.linspace(0, 1, 2001, dtype=F64)
    dense = polyline[:-1, None] + s[None, :, None] * (polyline[1:] - polyline[:-1])[:, None]
    brute = torch.cdist(points, dense.reshape(-1, 5)).min(dim=1).values
    assert torch.all(distance <= brute + 1e-12)
    assert torch.all(brute - distance < 1e-2)
    torch.testing.assert_close((points - nearest).norm(dim=-1), distance)


def test_sagitta_bound_on_an_exact_arc_is_tight_and_detects_violations(gen):
    r, angle = 2.0, 1.0
    points = circle(r, angle)(torch.linspace(0, 1, 2001, dtype=F64))
    level_loss = lambda w: (w.pow(2).sum(-1) - r * r).pow(2)  # zero on the circle
    check = check_sagitta_bound(points, 1 / r, level_loss, 0.0, gen)
    assert check.applicable and check.distance_ok and check.loss_ok
    assert check.chord_distance == pytest.approx(r * (1 - math.cos(angle / 2)), rel=1e-6)
    assert check.chord_distance == pytest.approx(check.d_max, rel=1e-6)
    # Claiming a smaller curvature than the arc has must be caught.
    bad = check_sagitta_bound(points, 0.8 / r, level_loss, 0.0, gen)
    assert not bad.distance_ok


def test_max_curvature_finds_the_peak():
    # Curves t -> (t, c t^2 / 2) shifted so the vertex is at t0: curvature peaks at t0 with c.
    c = torch.tensor([1.0, 3.0], dtype=F64)
    t0 = torch.tensor([0.3337, 0.9], dtype=F64)

    def derivs(t):
        t = t if t.dim() == 2 else t[:, None].expand(-1, 2)
        v = torch.stack([torch.ones_like(t), c * (t - t0)], -1)
        a = torch.stack([torch.zeros_like(t), c.expand_as(t)], -1)
        return v, a

    kappa, where = max_curvature(derivs, 101)
    torch.testing.assert_close(kappa, c, rtol=1e-9, atol=0)
    torch.testing.assert_close(where, t0, rtol=0, atol=1e-4)


def test_orbit_curves_satisfy_the_bound():
    records, fd_error = curvature_experiment(
        3,
        2,
        torch.Generator().manual_seed(0),
        n_subgroup_curves=4,
        n_polar_curves=2,
        n_curve_points=301,
        n_chord_points=21,
        n_tube_samples=8,
    )
    assert fd_error < 1e-5
    applicable = [r for r in records if r.check.applicable]
    assert len(applicable) >= 4
    for r in applicable:
        assert r.check.chord_distance <= r.check.d_max + 1e-9
        assert r.check.loss_deviation <= r.check.lipschitz * r.check.d_max + 1e-9
        assert r.max_curve_loss_change < 1e-8

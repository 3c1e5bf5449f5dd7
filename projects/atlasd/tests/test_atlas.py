import pytest
import torch
from atlasd.atlas import crop_centre, extract_charts, warp_charts

from symlab.testing import assert_equivariant


def test_identity_warp_returns_the_chart(generator):
    x = torch.randn(3, 2, 1, 17, 17, generator=generator)
    eye = torch.eye(2).expand(3, 2, 2, 2)
    assert (warp_charts(x, eye) - x).abs().max() < 1e-6


@pytest.mark.parametrize("n", [9, 16])
def test_rotation_by_90_degrees_is_rot90(n, generator):
    x = torch.randn(4, 1, 2, n, n, generator=generator)
    R = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # rotation by +90 degrees
    out = warp_charts(x, R.T.expand(4, 1, 2, 2))  # g^{-1} = R^T
    # +90 degrees in (column, row) coordinates, with rows pointing down, is torch.rot90 with
    # k=-1 over the (row, column) dims: out[i, j] = x[n-1-j, i]
    assert (out - torch.rot90(x, -1, dims=(-2, -1))).abs().max() < 1e-5
    back = warp_charts(x, R.expand(4, 1, 2, 2))  # rotation by -90 degrees
    assert (back - torch.rot90(x, 1, dims=(-2, -1))).abs().max() < 1e-5


def test_warp_is_a_group_action_on_the_interior(generator):
    # composing two rotations equals the rotation by the sum (away from the border)
    t = torch.arange(41.0)
    x = (torch.sin(0.21 * t[:, None] + 0.13 * t[None]) + torch.cos(0.17 * t[None]))[
        None, None, None
    ]

    def rot(t):
        t = torch.tensor(t)
        return torch.stack([torch.stack([t.cos(), -t.sin()]), torch.stack([t.sin(), t.cos()])])

    a, b = 0.3, 0.5
    two = warp_charts(warp_charts(x, rot(-a)[None, None]), rot(-b)[None, None])
    one = warp_charts(x, rot(-(a + b))[None, None])
    assert (crop_centre(two - one, 12)).abs().max() < 0.02 * x.abs().max()


def test_extract_charts_layout_and_bounds():
    f = torch.arange(2 * 1 * 10 * 12, dtype=torch.float32).reshape(2, 1, 10, 12)
    c = extract_charts(f, [(4, 5), (6, 8)], 2)
    assert c.shape == (2, 2, 1, 5, 5)
    assert torch.equal(c[1, 1, 0], f[1, 0, 4:9, 6:11])
    with pytest.raises(ValueError, match="leaves"):
        extract_charts(f, [(1, 5)], 2)


def test_warp_with_rotations_is_equivariant_on_square_charts(generator):
    """Elementwise maps commute with every rot90 warp (the warp is exact there)."""
    x = torch.randn(2, 1, 1, 11, 11, generator=generator)

    def act(k, x):
        return torch.rot90(x, int(k), dims=(-2, -1))

    assert_equivariant(torch.tanh, x, lambda n: torch.arange(n) % 4, act, act, n_samples=4)


def _linear_chart(n, a, b):
    """The field ``a * x + b * y`` on an ``n x n`` chart, offsets ``(x=column, y=row)``."""
    t = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return (a * xx + b * yy)[None, None, None], xx, yy


def test_warp_samples_the_inverse_on_an_analytic_field():
    # bilinear interpolation is exact for a linear field, so out(p) = f(g^{-1} p) holds to
    # rounding wherever g^{-1} p stays on the chart (|p| <= 6 here, |g^{-1} p| <= 11)
    n = 31
    f, xx, yy = _linear_chart(n, 0.7, -1.3)
    g = torch.tensor([[1.2, 0.5], [-0.3, 0.9]], dtype=torch.float64)
    gi = torch.linalg.inv(g)
    out = warp_charts(f, gi[None, None])[0, 0, 0]
    qx = gi[0, 0] * xx + gi[0, 1] * yy
    qy = gi[1, 0] * xx + gi[1, 1] * yy
    expect = 0.7 * qx - 1.3 * qy
    inner = (xx.abs() <= 6) & (yy.abs() <= 6)
    assert (out - expect)[inner].abs().max() < 1e-9
    # the transposed convention samples f(g^T p), which differs for this non-orthogonal g
    assert (warp_charts(f, g.T[None, None])[0, 0, 0] - expect)[inner].abs().max() > 0.1


def test_warp_is_a_left_action_for_non_commuting_elements():
    # warp(g1) after warp(g2) must equal warp(g1 g2): out(p) = f(g2^{-1} g1^{-1} p)
    f, xx, yy = _linear_chart(41, 0.4, 0.9)
    g1 = torch.linalg.matrix_exp(torch.tensor([[0.0, 0.4], [0.0, 0.0]], dtype=torch.float64))
    g2 = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.5], [0.5, 0.0]], dtype=torch.float64))
    assert (g1 @ g2 - g2 @ g1).abs().max() > 0.1

    def warp(x, g):
        return warp_charts(x, torch.linalg.inv(g)[None, None])

    inner = (xx.abs() <= 8) & (yy.abs() <= 8)
    two = warp(warp(f, g2), g1)[0, 0, 0]
    assert (two - warp(f, g1 @ g2)[0, 0, 0])[inner].abs().max() < 1e-9
    assert (two - warp(f, g2 @ g1)[0, 0, 0])[inner].abs().max() > 0.1


def test_warp_about_a_centre_matches_the_chart_warp(generator):
    from atlasd.atlas import warp_about

    field = torch.randn(2, 1, 40, 50, generator=generator, dtype=torch.float64)
    centre, r = (17, 29), 8
    t = torch.tensor(0.6, dtype=torch.float64)
    g_inv = torch.stack([torch.stack([t.cos(), t.sin()]), torch.stack([-t.sin(), t.cos()])])
    whole = extract_charts(warp_about(field, centre, g_inv.expand(2, 2, 2)), [centre], r)
    chart = warp_charts(extract_charts(field, [centre], r), g_inv.expand(2, 1, 2, 2))
    # equal wherever the rotated sample point stays on the chart (radius <= r)
    assert (crop_centre(whole - chart, 5)).abs().max() < 1e-9

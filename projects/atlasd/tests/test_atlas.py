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

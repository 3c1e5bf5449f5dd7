"""xi, omega, eta: halotools vs cKDTree, exact values on a line, zero on Poisson points,
invariance under the symmetries of the periodic box."""

import numpy as np
import torch
from iaemu.statistics import (
    bin_centres,
    compute_statistics,
    jackknife_statistics,
    radial_bins,
)

from symlab.testing import assert_invariant


def _clustered(rng, n, lbox):
    centres = rng.uniform(0, lbox, (n // 10, 3))
    pos = np.repeat(centres, 10, axis=0) + rng.normal(scale=1.5, size=(n, 3))
    ori = rng.normal(size=(n, 3))
    # Orientation partly along the offset from the centre: non-zero omega and eta.
    ori += 2 * (pos - np.repeat(centres, 10, axis=0))
    return np.mod(pos, lbox), ori


def test_bins_are_the_papers():
    edges = radial_bins()
    assert len(edges) == 21 and np.isclose(edges[0], 0.1) and np.isclose(edges[-1], 10**1.2)
    np.testing.assert_allclose(bin_centres(edges), 0.5 * (edges[1:] + edges[:-1]))


def test_halotools_and_kdtree_agree():
    rng = np.random.default_rng(0)
    pos, ori = _clustered(rng, 3000, 60.0)
    a = compute_statistics(pos, ori, 60.0, "halotools")
    b = compute_statistics(pos, ori, 60.0, "kdtree")
    assert np.isfinite(a).sum() >= 55  # an empty smallest bin is NaN in both
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-12)
    assert np.nanmax(np.abs(a[1])) > 0.01  # a non-trivial signal was compared


def test_line_with_orientations_along_it_gives_two_thirds():
    lbox = 1000.0
    x = np.arange(0.0, 60.0, 0.037)
    pos = np.stack([x + 100.0, np.full_like(x, 500.0), np.full_like(x, 500.0)], axis=1)
    ori = np.tile([1.0, 0.0, 0.0], (len(x), 1))
    for backend in ("halotools", "kdtree"):
        s = compute_statistics(pos, ori, lbox, backend)
        populated = np.isfinite(s[1])
        assert populated.sum() >= 19
        np.testing.assert_allclose(s[1][populated], 2 / 3, atol=1e-12)
        np.testing.assert_allclose(s[2][populated], 2 / 3, atol=1e-12)


def test_poisson_points_are_consistent_with_zero():
    rng = np.random.default_rng(1)
    lbox, n = 60.0, 6000
    pos = rng.uniform(0, lbox, (n, 3))
    ori = rng.normal(size=(n, 3))
    value, sigma = jackknife_statistics(pos, ori, lbox, n_side=3)
    z = value / sigma
    ok = np.isfinite(z)
    # The smallest bins hold about one Poisson pair and may be empty; the rest must be tested.
    assert ok[:, 6:].all()
    zt = z[:, 6:]
    # 42 bins: consistent with zero within 3 sigma (allowing ~2 excursions of a 27-cube jackknife)
    # and a reduced chi^2 near 1, i.e. the jackknife errors are neither too small nor too large.
    assert (np.abs(zt) < 3).mean() >= 0.95, np.round(zt, 2)
    assert 0.3 < (zt**2).mean() < 2.0
    # ...and the test has power: the same estimator on clustered points is far from zero.
    pos_c, ori_c = _clustered(rng, n, lbox)
    vc, sc = jackknife_statistics(pos_c, ori_c, lbox, n_side=3)
    assert (np.abs(vc[0, 6:14] / sc[0, 6:14]) > 3).all()


def _cube_group(n):
    """Signed axis permutations (the box's rotation/reflection group) with periodic shifts."""
    rng = np.random.default_rng(7)
    out = []
    for _ in range(n):
        perm = np.eye(3)[rng.permutation(3)]
        signs = np.diag(rng.choice([-1.0, 1.0], 3))
        out.append((perm @ signs, rng.uniform(0, 50.0, 3)))
    return out


def test_statistics_are_invariant_under_box_symmetries():
    rng = np.random.default_rng(2)
    lbox = 50.0
    pos, ori = _clustered(rng, 1500, lbox)

    def fn(p, o):
        s = compute_statistics(p.numpy(), o.numpy(), lbox, "kdtree")
        return torch.as_tensor(np.nan_to_num(s))

    def act(g, p, o):
        rot, shift = g
        rot_t = torch.as_tensor(rot)
        return torch.remainder(p @ rot_t.T + torch.as_tensor(shift), lbox), o @ rot_t.T

    assert_invariant(
        fn,
        (torch.as_tensor(pos), torch.as_tensor(ori)),
        _cube_group,
        act,
        n_samples=6,
        tolerance=1e-9,
    )

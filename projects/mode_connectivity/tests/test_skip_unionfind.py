"""Prop. 4.3 (7.1.3): components of the skip-connection minimum, and the union-find itself."""

import numpy as np
import pytest
import scipy.sparse
from mode_connectivity.skip import grid_components, run_skip_experiment, skip_loss
from mode_connectivity.unionfind import UnionFind, same_partition
from scipy.sparse.csgraph import connected_components


def test_union_find_matches_scipy_on_random_graphs():
    rng = np.random.default_rng(0)
    for n, m in [(1, 0), (10, 5), (500, 400), (2000, 3000)]:
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        uf = UnionFind(n)
        uf.union(a, b)
        graph = scipy.sparse.coo_matrix((np.ones(m), (a, b)), shape=(n, n))
        count, labels = connected_components(graph, directed=False)
        assert uf.n_components == count
        assert same_partition(uf.labels(), labels)


def test_union_find_small_example():
    uf = UnionFind(6)
    uf.union([0, 2, 4], [1, 3, 5])
    assert uf.n_components == 3
    uf.union([1], [2])
    assert uf.n_components == 2
    assert uf.find(0) == uf.find(3) != uf.find(4)
    with pytest.raises(ValueError):
        uf.union([0, 1], [2])


def test_same_partition_detects_a_different_grouping():
    assert same_partition([0, 0, 1], [5, 5, 7])
    assert not same_partition([0, 0, 1], [5, 6, 6])


@pytest.mark.parametrize(("eps", "expected"), [(0.0, 4), (0.5, 3), (-0.5, 3)])
def test_skip_connection_components(eps, expected):
    grid = grid_components(eps, grid_points=101, box=3.0)
    assert grid.n_components == expected
    assert grid.n_components_ndimage == expected
    assert grid.agrees_with_ndimage


def test_removed_band_separates_the_sides_of_the_curve():
    grid = grid_components(0.5, grid_points=101, box=3.0)
    w1, w2 = np.meshgrid(grid.axis, grid.axis, indexing="ij")
    side = np.sign(w1 * w2 + 0.5)
    # Every component lies on one side of the hyperbola, and no kept cell touches it.
    for label in range(grid.n_components):
        assert np.unique(side[grid.labels == label]).size == 1
    assert np.all(np.abs(w1 * w2 + 0.5)[grid.valid] > 0)


def test_skip_minimum_has_zero_loss():
    out = run_skip_experiment([0.0, 0.5], grid_points=51, box=3.0)
    assert out["max_minimum_loss"] < 1e-10
    assert skip_loss(np.array(1.0), np.array(1.0), np.array(1.0), 0.0, 1.0, 1.0) == 0.0

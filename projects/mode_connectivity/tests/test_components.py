"""Cor. 4.2 (7.1.2): 2^(l-1) components, constant-loss curves inside a class, walls between."""

import pytest
import torch
from mode_connectivity.components import count_components
from mode_connectivity.curves import polar_curve, polar_generators
from mode_connectivity.linear import (
    group_element_between,
    linear_loss,
    sample_data,
    sample_minima,
    sign_classes,
)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("h", [1, 2])
def test_minimum_has_two_to_the_l_minus_one_components(depth, h, gen):
    result = count_components(depth, h, 20, gen, n_curve_points=101, n_random_paths=2)
    assert result.max_minimum_loss < 1e-10
    assert result.n_sign_classes == 2 ** (depth - 1)
    assert result.n_components == 2 ** (depth - 1)
    assert result.max_curve_loss < 1e-8
    assert result.curves_with_sign_change == 0
    assert result.max_endpoint_error < 1e-8
    # Every cross-class path crosses a det = 0 wall, where the loss is >= sigma_min(Y)^2 > 0.
    assert result.n_cross_paths == 3 * (2 ** (depth - 1) * (2 ** (depth - 1) - 1) // 2)
    assert result.n_cross_paths_with_wall == result.n_cross_paths
    assert result.min_wall_loss_ratio >= 1 - 1e-6


def test_polar_curve_stays_in_the_class_at_constant_loss(gen):
    X, Y = sample_data(2, gen)
    minima = sample_minima(X, Y, 3, 40, gen)
    signs = sign_classes(minima)
    same = (signs == signs[0]).all(dim=-1).nonzero()[:, 0]
    assert len(same) >= 2
    a = [W[same[:1]] for W in minima]
    b = [W[same[1:2]] for W in minima]
    gs = group_element_between(a, b)
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    curve = polar_curve(gs, a, t)
    assert float(linear_loss(curve, X, Y).max()) < 1e-8
    assert torch.equal(sign_classes(curve), signs[0].expand(101, 1, 2))
    for c, w in zip(curve, b):
        torch.testing.assert_close(c[-1], w, rtol=1e-8, atol=1e-8)


def test_no_group_path_across_classes(gen):
    X, Y = sample_data(2, gen)
    minima = sample_minima(X, Y, 2, 40, gen)
    signs = sign_classes(minima)[:, 0]
    i = int((signs > 0).nonzero()[0])
    j = int((signs < 0).nonzero()[0])
    gs = group_element_between([W[i] for W in minima], [W[j] for W in minima])
    assert float(torch.linalg.det(gs[0])) < 0
    with pytest.raises(ValueError, match="det g <= 0"):
        polar_generators(gs)

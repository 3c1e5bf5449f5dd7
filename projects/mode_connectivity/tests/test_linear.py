"""Deep linear networks: the GL(h)^(l-1) action, loss invariance (7.1.1) and minima sampling."""

import pytest
import torch
from mode_connectivity.linear import (
    act,
    end_to_end,
    group_element_between,
    lie_action,
    linear_loss,
    random_group_elements,
    sample_data,
    sample_minima,
    sign_classes,
)

from symlab.testing import assert_invariant

F64 = torch.float64


def random_weights(depth, h, gen, batch=()):
    return [torch.randn(*batch, h, h, generator=gen, dtype=F64) for _ in range(depth)]


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("h", [1, 2, 3])
def test_loss_is_invariant_under_random_group_elements(depth, h, gen):
    X, Y = sample_data(h, gen)
    weights = tuple(random_weights(depth, h, gen))  # a generic point, not a minimum

    report = assert_invariant(
        lambda *w: linear_loss(w, X, Y),
        weights,
        lambda n: random_group_elements(h, depth, n, gen),
        lambda g, *w: tuple(act(g, w)),
        n_samples=16,
        tolerance=1e-10,
    )
    assert report.max_error < 1e-10


def test_invariance_check_fails_for_a_wrong_action(gen):
    """The invariance test can fail: acting on the last layer with g instead of g^-1 breaks it."""
    X, Y = sample_data(2, gen)
    weights = tuple(random_weights(2, 2, gen))

    def wrong_action(g, w1, w2):
        return g[0] @ w1, w2 @ g[0]

    with pytest.raises(AssertionError):
        assert_invariant(
            lambda *w: linear_loss(w, X, Y),
            weights,
            lambda n: random_group_elements(2, 2, n, gen),
            wrong_action,
            tolerance=1e-10,
        )


def test_action_is_a_group_action(gen):
    weights = random_weights(3, 3, gen)
    g, h = random_group_elements(3, 3, 2, gen)
    composed = act([a @ b for a, b in zip(g, h)], weights)
    sequential = act(g, act(h, weights))
    for a, b in zip(composed, sequential):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    # The end-to-end map is what the action preserves.
    torch.testing.assert_close(end_to_end(composed), end_to_end(weights), rtol=1e-9, atol=1e-10)


def test_lie_action_is_the_derivative_of_the_action(gen):
    weights = random_weights(4, 3, gen)
    xi = [torch.randn(3, 3, generator=gen, dtype=F64) for _ in range(3)]
    step = 1e-6
    plus = act([torch.linalg.matrix_exp(step * x) for x in xi], weights)
    minus = act([torch.linalg.matrix_exp(-step * x) for x in xi], weights)
    for p, m, d in zip(plus, minus, lie_action(xi, weights)):
        torch.testing.assert_close((p - m) / (2 * step), d, rtol=1e-7, atol=1e-7)


def test_sampled_data_and_minima(gen):
    X, Y = sample_data(3, gen, cond_max=1e3)
    assert torch.linalg.cond(X) < 1e3
    minima = sample_minima(X, Y, 4, 50, gen, cond_max=1e6)
    assert all(W.shape == (50, 3, 3) for W in minima)
    assert float(linear_loss(minima, X, Y).max()) < 1e-10
    for W in minima[:-1]:
        assert float(torch.linalg.cond(W).max()) < 1e6
    # W_l is solved: the product is exactly Y X^-1.
    torch.testing.assert_close(
        end_to_end(minima),
        torch.linalg.solve(X, Y, left=False).expand(50, 3, 3),
        rtol=1e-8,
        atol=1e-8,
    )


def test_group_element_between_two_minima(gen):
    X, Y = sample_data(2, gen)
    a = sample_minima(X, Y, 3, 10, gen)
    b = sample_minima(X, Y, 3, 10, gen)
    gs = group_element_between(a, b)
    for moved, target in zip(act(gs, a), b):
        torch.testing.assert_close(moved, target, rtol=1e-8, atol=1e-8)
    # Same component iff every det g_i > 0 iff the sign classes agree.
    same_class = (sign_classes(a) == sign_classes(b)).all(dim=-1)
    positive = torch.stack([torch.linalg.det(g) > 0 for g in gs], -1).all(dim=-1)
    assert torch.equal(same_class, positive)

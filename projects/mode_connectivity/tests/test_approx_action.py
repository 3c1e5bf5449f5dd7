"""Prop. 6.1 (7.1.6): the approximate action and its error bound."""

import torch
from mode_connectivity.approx_action import (
    approximate_action,
    run_approx_action_experiment,
    two_layer_output,
)


def test_error_ratio_is_bounded_and_zero_when_wide():
    records = run_approx_action_experiment(10, 2, 20, torch.Generator().manual_seed(0))
    assert len(records) == 10
    for r in records:
        assert r.ratio <= 1 + 1e-12
        if r.h >= r.k:
            assert r.ratio < 1e-8
    assert any(r.h >= r.k for r in records) and any(r.h < r.k for r in records)


def test_output_is_projected_onto_the_row_space(gen):
    m, h, n, k = 3, 4, 5, 9  # h < k: only approximate
    U = torch.randn(m, h, generator=gen, dtype=torch.float64)
    V = torch.randn(h, n, generator=gen, dtype=torch.float64)
    X = torch.randn(n, k, generator=gen, dtype=torch.float64)
    g = torch.randn(h, h, generator=gen, dtype=torch.float64)
    U2, V2 = approximate_action(g, U, V, X, torch.sigmoid)
    A = two_layer_output(U, V, X, torch.sigmoid)
    S = torch.sigmoid(g @ V @ X)
    projector = torch.linalg.pinv(S) @ S
    torch.testing.assert_close(two_layer_output(U2, V2, X, torch.sigmoid), A @ projector)
    torch.testing.assert_close(projector @ projector, projector)
    error = torch.linalg.norm(A - A @ projector) / torch.linalg.norm(A)
    assert 1e-6 < float(error) <= 1  # really approximate here, and within the bound

"""Prop. 5.3 (7.1.5): the rescaling barrier and its closed form."""

import numpy as np
import pytest
import torch
from mode_connectivity.lmc import lmc_barrier, midpoint_loss_closed_form, rescale_last_two
from mode_connectivity.networks import MLP, mlp_forward, mlp_loss

# (m, midpoint loss for ||Y||^2 = 1, k = 1) from the brief's reference table.
REFERENCE = [
    (1, 0.0),
    (2, 0.015625),
    (4, 0.31640625),
    (8, 2.3447265625),
    (16, 12.35961914),
    (32, 56.36724854),
    (64, 240.37110901),
]


def five_layer_network(gen):
    model = MLP([8, 16, 16, 16, 16, 4], "leaky_relu", 0.01)
    model.reset_parameters(gen)
    X = torch.randn(8, 32, generator=gen, dtype=torch.float64)
    return model.weight_list(), X


def test_closed_form_matches_the_reference_table():
    for m, value in REFERENCE:
        assert midpoint_loss_closed_form(m) == pytest.approx(value, rel=1e-8, abs=1e-12)


def test_measured_midpoint_loss_matches_the_table(gen):
    weights, X = five_layer_network(gen)
    records = lmc_barrier(weights, X, [m for m, _ in REFERENCE])
    for record, (m, value) in zip(records, REFERENCE):
        assert record.m == m
        if value == 0:
            assert record.measured == 0.0
        else:
            assert abs(record.measured - value) <= 1e-6 * value
        assert record.relative_error <= 1e-6
        assert record.endpoint_loss < 1e-12  # W' is a minimum too
    measured = [r.measured for r in records]
    assert np.all(np.diff(measured) > 0)


def test_rescaling_is_a_symmetry_but_not_for_sigmoid(gen):
    weights, X = five_layer_network(gen)
    Y = mlp_forward(weights, X, "leaky_relu")
    rescaled = rescale_last_two(weights, 7.0)
    assert float(mlp_loss(rescaled, X, Y, "leaky_relu")) < 1e-20
    Y_sig = mlp_forward(weights, X, "sigmoid")
    assert float(mlp_loss(rescale_last_two(weights, 7.0), X, Y_sig, "sigmoid")) > 1e-3
    with pytest.raises(ValueError, match="not positively homogeneous"):
        lmc_barrier(weights, X, [2.0], activation="sigmoid")


def test_general_degree_k(gen):
    """k = 2 (squared ReLU): midpoint loss (1 - 2^-3 (1 + m^-2)(1 + m)^2)^2 ||Y||^2."""
    weights, X = five_layer_network(gen)
    records = lmc_barrier(weights, X, [1.0, 3.0, 10.0], activation="squared_relu")
    for r in records:
        expected = (1 - 2.0**-3 * (1 + r.m**-2) * (1 + r.m) ** 2) ** 2
        assert r.measured == pytest.approx(expected, rel=1e-9, abs=1e-15)

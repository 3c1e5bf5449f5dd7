"""Prop. 5.2 (7.1.4): odd permutations move minima between sign classes at unchanged loss."""

import itertools

import torch
from mode_connectivity.curves import polar_curve
from mode_connectivity.linear import (
    class_index,
    group_element_between,
    linear_loss,
    sample_data,
    sample_minima,
    sign_classes,
)
from mode_connectivity.permutations import (
    align_sign_class,
    odd_permutation,
    permute_hidden_layer,
    run_permutation_experiment,
)


def test_odd_permutation_moves_a_minimum_to_the_other_class(gen):
    X, Y = sample_data(2, gen)
    minima = sample_minima(X, Y, 2, 20, gen)
    P = odd_permutation(2)
    assert float(torch.linalg.det(P)) == -1.0
    permuted = permute_hidden_layer(minima, 1, P)
    change = (linear_loss(permuted, X, Y) - linear_loss(minima, X, Y)).abs()
    assert float(change.max()) < 1e-10
    assert torch.equal(sign_classes(permuted), -sign_classes(minima))

    # After the permutation a constant-loss polar path to a minimum of the new class exists.
    targets = sample_minima(X, Y, 2, 40, gen)
    for i in range(20):
        j = int((sign_classes(targets)[:, 0] == sign_classes(permuted)[i, 0]).nonzero()[0])
        start = [W[i : i + 1] for W in permuted]
        end = [W[j : j + 1] for W in targets]
        curve = polar_curve(
            group_element_between(start, end), start, torch.linspace(0, 1, 101, dtype=torch.float64)
        )
        assert float(linear_loss(curve, X, Y).max()) < 1e-8


def test_permutation_experiment_h2():
    result = run_permutation_experiment(2, 2, 20, torch.Generator().manual_seed(0), 101)
    assert result.max_loss_change < 1e-10
    assert result.fraction_moved == 1.0
    assert result.n_connected == 20
    assert result.max_curve_loss < 1e-8


def test_permutations_reach_every_sign_class(gen):
    X, Y = sample_data(3, gen)
    w = [W[0] for W in sample_minima(X, Y, 4, 1, gen)]
    for target in itertools.product([1, -1], repeat=3):
        aligned, _ = align_sign_class(w, torch.tensor(target, dtype=torch.int8))
        assert sign_classes(aligned).tolist() == list(target)
        assert float(linear_loss(aligned, X, Y)) < 1e-10
    assert int(class_index(sign_classes(w))) in range(8)

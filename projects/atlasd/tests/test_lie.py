import math

import torch
from atlasd.lie import (
    closed_under_multiplication,
    filter_cosets,
    frobenius_cosine,
    in_lie_algebra,
    invariant_metric,
    lie_algebra_residual,
    nearest_signed_permutation,
    normalize_det,
    regularizer,
    signed_permutation_distance,
)
from atlasd.lorentz import MINKOWSKI

from symlab.groups import DN, O2, SO2

SO2_ALG = SO2().lie_algebra.float()


def rot(deg):
    return SO2().from_angle(torch.tensor(math.radians(deg)))


def test_regularizer_matches_hand_computation():
    L = torch.tensor([[[1.0, 2.0], [0.0, -1.0]], [[0.0, 1.0], [3.0, 0.0]]])
    # normalised: L / sqrt(tr(L^T L)/2): norms^2 = 6 and 10
    n0, n1 = L[0] / math.sqrt(3.0), L[1] / math.sqrt(5.0)
    sim = abs(float((n0 * n1).sum()))
    mag = (math.sqrt(1 + 1 + 1) + math.sqrt(1 + 1)) / 2  # entries clamped to [-1, 1]
    expect = 0.05 * sim - 0.35 * mag
    assert abs(float(regularizer(L, 0.05, 1.0, 0.35)) - expect) < 1e-6
    sbr = 0.05 * float((n0.abs() * n1.abs()).sum()) - 0.35 * mag
    assert abs(float(regularizer(L, sparse=True)) - sbr) < 1e-6


def test_sparse_regularizer_ignores_signs(generator):
    L = torch.randn(3, 4, 4, generator=generator)
    signs = torch.randint(0, 2, L.shape, generator=generator) * 2 - 1
    a, b = regularizer(L, sparse=True), regularizer(L * signs, sparse=True)
    assert abs(float(a - b)) < 1e-6
    assert abs(float(regularizer(L) - regularizer(L * signs))) > 1e-4  # the cosine one does not


def test_in_lie_algebra_accepts_the_identity_component_and_rejects_reflections():
    A = torch.stack([0.4 * SO2_ALG[0], -2.5 * SO2_ALG[0], 3.0 * SO2_ALG[0]])
    assert in_lie_algebra(torch.linalg.matrix_exp(A), SO2_ALG, steps=150, lr=0.1).all()
    assert (
        lie_algebra_residual(torch.linalg.matrix_exp(A), SO2_ALG, steps=150, lr=0.1) < 1e-3
    ).all()
    refl = torch.diag(torch.tensor([1.0, -1.0]))[None]
    assert not in_lie_algebra(refl, SO2_ALG, steps=150, lr=0.1).any()
    assert not in_lie_algebra(refl, torch.zeros(0, 2, 2)).any()


def test_filter_keeps_one_representative_per_component():
    cands = torch.stack([torch.eye(2), rot(30), torch.diag(torch.tensor([1.0, -1.0]))])
    kept, _ = filter_cosets(cands, torch.tensor([0.0, 0.1, 0.2]), SO2_ALG, q=3, steps=150, lr=0.1)
    assert len(kept) == 2
    dets = torch.linalg.det(kept)
    assert dets.max() > 0 and dets.min() < 0


def test_filter_on_o2_elements_finds_two_components(generator):
    g = O2().sample((12,), generator=generator)
    kept, _ = filter_cosets(
        g, torch.rand(12, generator=generator), SO2_ALG, q=12, steps=150, lr=0.1
    )
    assert len(kept) == 2


def test_invariant_metric_recovers_minkowski_from_so13():
    gens = []
    for i in range(1, 4):  # boosts
        K = torch.zeros(4, 4)
        K[0, i] = K[i, 0] = 1
        gens.append(K)
    for i, j in ((1, 2), (1, 3), (2, 3)):  # rotations
        R = torch.zeros(4, 4)
        R[i, j], R[j, i] = -1, 1
        gens.append(R)
    L = torch.stack(gens)
    L = torch.einsum("ab,bij->aij", torch.randn(6, 6, dtype=torch.float32), L)  # any basis
    assert abs(frobenius_cosine(invariant_metric(L), MINKOWSKI)) > 0.9999


def test_signed_permutations_and_closure():
    D4 = DN(4).elements(dtype=torch.float64)
    assert signed_permutation_distance(D4).max() < 1e-9
    assert torch.equal(nearest_signed_permutation(D4 + 0.01), D4)
    assert closed_under_multiplication(D4)
    assert not closed_under_multiplication(D4[:5])


def test_normalize_det(generator):
    C = normalize_det(torch.randn(5, 3, 3, generator=generator))
    assert torch.allclose(torch.linalg.det(C).abs(), torch.ones(5), atol=1e-5)

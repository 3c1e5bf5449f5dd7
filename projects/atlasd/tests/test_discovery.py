"""The discovery loops find known symmetries of fixed, hand-made predictors."""

import torch
import torch.nn.functional as F
from atlasd.discovery import Action, choose_k, discover_cosets, train_basis
from atlasd.lie import LieBasis, filter_cosets, frobenius_cosine, signed_permutation_distance
from atlasd.probes import EMPTY_ALGEBRA, D4Function, probe_points


class GaussianBlur(torch.nn.Module):
    """An isotropic blur per chart: rotation-equivariant, not scale- or shear-equivariant."""

    def __init__(self, sigma=2.0, r=6):
        super().__init__()
        t = torch.arange(-r, r + 1.0)
        k = torch.exp(-(t[:, None] ** 2 + t[None] ** 2) / (2 * sigma**2))
        self.register_buffer("k", (k / k.sum())[None, None])

    def forward(self, x):
        b, c = x.shape[:2]
        y = F.conv2d(x.reshape(b * c, 1, *x.shape[-2:]), self.k, padding=self.k.shape[-1] // 2)
        return y.reshape(x.shape)


def smooth_fields(n, size, gen):
    x = torch.randn(n, 1, 1, size, size, generator=gen)
    return GaussianBlur(1.0, 3)(x) * 3


def _rotation_discovery(seed):
    gen = torch.Generator().manual_seed(seed)
    X = smooth_fields(32, 25, gen)
    basis = LieBasis(1, 2, generator=gen)
    train_basis(
        basis, GaussianBlur(), X, Action("local", "l1", 5), epochs=10, batch=16, lr=0.03,
        r3=0.05, gen=gen,
    )  # fmt: skip
    return basis.L.detach()


def test_local_discovery_finds_rotation_and_is_repeatable():
    L = _rotation_discovery(0)
    J = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    assert abs(frobenius_cosine(L[0], J)) > 0.9
    assert torch.equal(L, _rotation_discovery(0))  # same seed, same matrices


def test_choose_k_stops_when_the_weakest_generator_collapses():
    norms = {1: [1.0], 2: [1.1, 0.9], 3: [1.0, 0.9, 0.05]}

    def fit(k):
        return torch.stack([n * torch.eye(2) / 2**0.5 for n in norms[k]])

    k, found = choose_k(fit, [1, 2, 3])
    assert k == 2 and set(found) == {1, 2, 3}
    k, _ = choose_k(fit, [1, 2])
    assert k == 2  # no collapse seen: the largest tried


def test_d4_cosets_are_signed_permutations():
    gen = torch.Generator().manual_seed(0)
    X = probe_points(512, 0)
    C, loss = discover_cosets(
        D4Function(), X, Action("global", "l1"), K=32, dim=2, steps=120, batch=512, lr=0.05,
        gen=gen,
    )  # fmt: skip
    kept, _ = filter_cosets(C, loss, EMPTY_ALGEBRA, q=8, steps=1)
    assert signed_permutation_distance(kept).max() < 0.1
    assert len(kept) >= 4

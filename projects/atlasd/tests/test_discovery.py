"""The discovery loops find known symmetries of fixed, hand-made predictors."""

import torch
import torch.nn.functional as F
from atlasd.discovery import (
    Action,
    choose_k,
    discover_cosets,
    recalibrate_batchnorm,
    train_basis,
)
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


class RowBlur(torch.nn.Module):
    """A blur along each row: it commutes with shifting each row by its own amount (the shear
    ``x -> x + s y``) and with mixing rows (``y -> e^s y``), not with rotations or the other
    shear ``y -> y + s x``."""

    def __init__(self, r=4):
        super().__init__()
        t = torch.arange(-r, r + 1.0)
        k = torch.exp(-(t**2) / 8)
        self.register_buffer("k", (k / k.sum())[None, None, None])

    def forward(self, x):
        b, c = x.shape[:2]
        y = F.conv2d(x.reshape(b * c, 1, *x.shape[-2:]), self.k, padding=(0, self.k.shape[-1] // 2))
        return y.reshape(x.shape)


def test_local_discovery_respects_the_warp_convention():
    # With offsets (x = column, y = row) and out(p) = in(g^{-1} p), the symmetries of RowBlur
    # are spanned by E01 = [[0, 1], [0, 0]] and E11 = [[0, 0], [0, 1]]; a transposed convention
    # (sampling at g^T p) would find E10 instead of E01.
    gen = torch.Generator().manual_seed(0)
    X = smooth_fields(32, 25, gen)
    basis = LieBasis(1, 2, generator=gen)
    train_basis(
        basis, RowBlur(), X, Action("local", "l1", 5), epochs=10, batch=16, lr=0.03, r3=0.05,
        gen=gen,
    )  # fmt: skip
    L = basis.L.detach()[0]
    assert float(L.norm()) > 0.5  # a symmetry was found, the generator did not collapse
    off = (L[0, 0] ** 2 + L[1, 0] ** 2).sqrt()
    assert float(off) < 0.15 * float(L.norm())


def test_batch_statistics_mode_finds_rotation_and_leaves_the_predictor_as_trained():
    # a blur followed by BatchNorm, used with batch statistics (as the reference uses its chart
    # predictors during discovery): rotation is still found, and afterwards the running
    # statistics are untouched and the predictor is back in eval mode
    gen = torch.Generator().manual_seed(1)
    X = smooth_fields(32, 25, gen)
    bn = torch.nn.BatchNorm2d(1)
    bn.running_mean.fill_(0.3)
    bn.running_var.fill_(2.0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blur, self.bn = GaussianBlur(), bn

        def forward(self, x):
            b, c = x.shape[:2]
            return self.bn(self.blur(x).flatten(0, 1)).reshape(x.shape)

    net = Net()
    basis = LieBasis(1, 2, generator=gen)
    train_basis(
        basis, net, X, Action("local", "l1", 5), epochs=10, batch=16, lr=0.03, r3=0.15, gen=gen,
        batch_stats=True,
    )  # fmt: skip
    J = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    assert abs(frobenius_cosine(basis.L.detach()[0], J)) > 0.9
    assert not net.training and bn.momentum == 0.1
    assert torch.all(bn.running_mean == 0.3) and torch.all(bn.running_var == 2.0)


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


def test_batchnorm_recalibration_uses_exact_averages(generator):
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3))
    X = torch.randn(40, 1, 9, 9, generator=generator) * 2 + 1
    recalibrate_batchnorm(net, X, batch=8)
    with torch.no_grad():
        h = net[0](X)
    bn = net[1]
    assert not net.training and bn.momentum == 0.1
    assert torch.allclose(bn.running_mean, h.mean(dim=(0, 2, 3)), atol=1e-5)
    # running_var is the average of the per-batch unbiased variances (equal-size batches)
    per_batch = torch.stack([h[i : i + 8].var(dim=(0, 2, 3)) for i in range(0, 40, 8)])
    assert torch.allclose(bn.running_var, per_batch.mean(dim=0), atol=1e-4)


def test_elliptic_scan_is_minimal_at_the_rotation_for_an_isotropic_predictor():
    from atlasd.pipeline import elliptic_scan

    gen = torch.Generator().manual_seed(3)
    X = smooth_fields(16, 25, gen).expand(16, 2, 1, 25, 25).contiguous()
    s = torch.linspace(-0.4, 0.4, 5)
    scan = elliptic_scan(GaussianBlur(), X, 8, s, batch_stats=False, seed=0)
    assert scan.shape == (5, 2)
    assert (scan.argmin(dim=0) == 2).all()  # s = 0: the pure rotation
    assert (scan[[0, -1]] > 1.5 * scan[2]).all()


def test_seed_robustness_counts_the_seeds_that_pass():
    from atlasd.reproduce import _Sink, seed_robustness

    per_seed = {}
    for seed, value in ((0, 0.99), (1, 0.97), (2, 0.5)):
        sink = _Sink("smoke")
        sink.results.add("|cos|", value, lower=0.95, table="PDE (A1)")
        sink.results.add("info", 1.0, table="PDE (A1)")
        per_seed[seed] = sink.results
    out = _Sink("smoke")
    seed_robustness(out, per_seed, ["PDE (A1)"])
    (row,) = out.results.metrics  # informational rows are left out
    assert row.value == 2 and row.lower == 3 and row.passed is False
    assert "0.99, 0.97, 0.5" in row.note

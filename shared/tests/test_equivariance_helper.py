"""The equivariance helpers catch broken symmetry and pass exact symmetry, in both dtypes."""

import pytest
import torch

from symlab.groups import SO3
from symlab.testing import (
    EquivarianceError,
    assert_equivariant,
    assert_invariant,
    equivariance_errors,
)


def rotate(g, x):
    return x @ g.T


class EquivariantVectorNet(torch.nn.Module):
    """Scales each vector by an MLP of invariants (norms): exactly SO(3)-equivariant."""

    def __init__(self, dtype):
        super().__init__()
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(1, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
        ).to(dtype)

    def forward(self, x):
        return x * self.mlp(x.norm(dim=-1, keepdim=True))


class BrokenVectorNet(torch.nn.Module):
    """A linear map on the coordinates: not equivariant."""

    def __init__(self, dtype):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3, bias=False).to(dtype)

    def forward(self, x):
        return self.lin(x)


def group(dtype):
    gen = torch.Generator().manual_seed(1)
    return lambda n: SO3().sample((n,), generator=gen, dtype=dtype)


def test_equivariant_module_passes(dtype):
    net = EquivariantVectorNet(dtype)
    x = torch.randn(32, 3, dtype=dtype)
    report = assert_equivariant(net, x, group(dtype), rotate, rotate)
    assert report.passed
    assert report.max_error < (1e-5 if dtype == torch.float32 else 1e-12)


def test_non_equivariant_module_is_caught(dtype):
    net = BrokenVectorNet(dtype)
    x = torch.randn(32, 3, dtype=dtype)
    with pytest.raises(EquivarianceError, match="not equivariant.*worst sample"):
        assert_equivariant(net, x, group(dtype), rotate, rotate)


def test_invariance_and_multiple_inputs(dtype):
    def pairwise_distance_sum(x, y):
        return (x[:, None] - y[None]).norm(dim=-1).sum()

    x, y = torch.randn(8, 3, dtype=dtype), torch.randn(5, 3, dtype=dtype)
    assert_invariant(
        pairwise_distance_sum, (x, y), group(dtype), lambda g, a, b: (rotate(g, a), rotate(g, b))
    )
    with pytest.raises(EquivarianceError):
        assert_invariant(
            lambda a, b: a.sum(), (x, y), group(dtype), lambda g, a, b: (rotate(g, a), b)
        )


def test_error_distribution_for_approximate_component():
    """A slightly broken map: the report returns the distribution, worst case and quantiles."""
    eps = 1e-3
    skew = torch.tensor([[1.0, eps, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    f = lambda x: x @ skew.T
    x = torch.randn(64, 3, dtype=torch.float64)
    report = equivariance_errors(f, x, group(torch.float64), rotate, rotate, n_samples=50)
    assert report.errors.shape == (50,)
    assert 0 < report.max_error < 10 * eps
    q = report.quantiles((0.5, 1.0))
    assert q[0.5] <= q[1.0] == pytest.approx(report.max_error)
    assert not report.passed  # far above the float64 tolerance
    assert "q50" in str(report)


def test_output_structure_mismatch_is_reported():
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="structure"):
        assert_equivariant(lambda x: x, x, group(torch.float32), rotate, lambda g, y: y[:2])

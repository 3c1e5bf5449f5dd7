"""Equivariance testing helpers and the pytest plugin of the repository."""

from ._equivariance import (
    DEFAULT_TOLERANCES,
    EquivarianceError,
    EquivarianceReport,
    assert_equivariant,
    assert_invariant,
    equivariance_errors,
)

__all__ = [
    "DEFAULT_TOLERANCES",
    "EquivarianceError",
    "EquivarianceReport",
    "assert_equivariant",
    "assert_invariant",
    "equivariance_errors",
]

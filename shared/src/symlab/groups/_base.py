"""The :class:`MatrixGroup` base class.

Groups are represented, as in emlp, by their defining matrix representation: an element is an
``(n, n)`` matrix, and a batch of elements is a tensor of shape ``(..., n, n)``. A group is
described by a basis of its Lie algebra (``lie_algebra``, shape ``(d, n, n)``) and by discrete
generators of its component group (``discrete_generators``, shape ``(k, n, n)``).
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor

from ._utils import BatchShape, as_batch_shape, check_last_dims, default_atol


class MatrixGroup(abc.ABC):
    """A group of invertible ``n x n`` real matrices under matrix multiplication.

    Subclasses implement :meth:`sample`, :meth:`log`, :meth:`contains` and :attr:`lie_algebra`;
    the remaining operations have generic matrix implementations that subclasses override with
    cheaper or more accurate closed forms.

    All methods work on tensors with arbitrary leading batch dimensions ``...`` (which broadcast
    where two tensors are combined) and keep the dtype and device of their inputs.

    Parameters
    ----------
    n : int
        Size of the matrices.
    """

    def __init__(self, n: int) -> None:
        self.n = int(n)

    # ------------------------------------------------------------------ structure
    def _repr_args(self) -> str:
        return str(self.n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._repr_args()})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    @property
    @abc.abstractmethod
    def lie_algebra(self) -> Tensor:
        """Basis of the Lie algebra as matrices, shape ``(d, n, n)`` (``d = 0`` if finite).

        Like all structure constants (:attr:`discrete_generators`), returned as float64 on the CPU
        so no precision is lost; cast with ``.to(x)`` to combine with a tensor ``x``.
        """

    @property
    def discrete_generators(self) -> Tensor:
        """Generators of the group modulo its identity component, shape ``(k, n, n)``.

        Together with ``exp`` of the Lie algebra they generate the whole group. Connected groups
        return an empty ``(0, n, n)`` tensor. Float64 on the CPU, like :attr:`lie_algebra`.
        """
        return torch.zeros(0, self.n, self.n, dtype=torch.float64)

    @property
    def lie_algebra_dim(self) -> int:
        """Dimension ``d`` of the Lie algebra."""
        return int(self.lie_algebra.shape[0])

    def hat(self, xi: Tensor) -> Tensor:
        """Lie algebra matrices ``sum_i xi[..., i] lie_algebra[i]`` from coordinates ``xi``."""
        basis = self.lie_algebra.to(dtype=xi.dtype, device=xi.device)
        check_last_dims(xi, (basis.shape[0],), f"{self!r}.hat")
        return torch.einsum("...d,dij->...ij", xi, basis)

    def vee(self, X: Tensor) -> Tensor:
        """Coordinates ``(..., d)`` of the orthogonal (Frobenius) projection of ``X`` on the
        Lie algebra in the basis :attr:`lie_algebra`; the inverse of :meth:`hat` on the algebra."""
        check_last_dims(X, (self.n, self.n), f"{self!r}.vee")
        basis = self.lie_algebra.to(dtype=X.dtype, device=X.device)
        gram = torch.einsum("aij,bij->ab", basis, basis)
        return torch.einsum("...ij,dij->...d", X, basis) @ torch.linalg.inv(gram)

    # ------------------------------------------------------------------ elements
    def identity(
        self,
        batch_shape: BatchShape = (),
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Identity elements of shape ``(*batch_shape, n, n)``."""
        eye = torch.eye(self.n, dtype=dtype, device=device)
        return eye.expand(*as_batch_shape(batch_shape), self.n, self.n).clone()

    @abc.abstractmethod
    def sample(
        self,
        batch_shape: BatchShape = (),
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Random elements of shape ``(*batch_shape, n, n)``.

        For compact groups this samples the normalised Haar measure; other groups document
        their distribution. ``generator`` must live on ``device``.
        """

    def compose(self, a: Tensor, b: Tensor) -> Tensor:
        """Group product ``a @ b`` (leading dimensions broadcast)."""
        return a @ b

    def inverse(self, g: Tensor) -> Tensor:
        """Group inverse ``g^{-1}``."""
        return torch.linalg.inv(g)

    def exp(self, X: Tensor) -> Tensor:
        """Exponential map from Lie algebra matrices ``(..., n, n)`` to the group."""
        check_last_dims(X, (self.n, self.n), f"{self!r}.exp")
        return torch.linalg.matrix_exp(X)

    @abc.abstractmethod
    def log(self, g: Tensor) -> Tensor:
        """Logarithm ``(..., n, n)`` in the Lie algebra with ``exp(log(g)) == g``.

        Raises
        ------
        ValueError
            If some element has no real logarithm in the Lie algebra.
        """

    @abc.abstractmethod
    def contains(self, g: Tensor, atol: float | None = None) -> Tensor:
        """Elementwise membership test, a bool tensor of shape ``g.shape[:-2]``.

        ``atol`` is the absolute tolerance of the defining equations (default ``sqrt(eps)`` of
        ``g``'s dtype).
        """

    # ------------------------------------------------------------------ actions
    def act_on_points(self, g: Tensor, x: Tensor) -> Tensor:
        """Apply ``g`` to points stored as rows, ``x @ g^T``.

        Parameters
        ----------
        g : Tensor
            Group elements ``(..., n, n)``.
        x : Tensor
            Points ``(..., P, n)``; ``g``'s batch dims broadcast against ``x.shape[:-2]``.

        Returns
        -------
        Tensor
            Transformed points ``(..., P, n)``.
        """
        check_last_dims(x, (self.n,), f"{self!r}.act_on_points")
        return x @ g.mT

    # ------------------------------------------------------------------ helpers
    def _check(self, g: Tensor, what: str) -> None:
        check_last_dims(g, (self.n, self.n), f"{self!r}.{what}")

    @staticmethod
    def _atol(g: Tensor, atol: float | None) -> float:
        return default_atol(g.dtype) if atol is None else float(atol)


class OrthogonalMatrixGroup(MatrixGroup):
    """Subgroups of ``O(n)``: the inverse is the transpose and membership checks ``g g^T = I``."""

    def inverse(self, g: Tensor) -> Tensor:
        """Group inverse, the transpose ``g^T``."""
        return g.mT

    def _is_orthogonal(self, g: Tensor, atol: float | None) -> Tensor:
        self._check(g, "contains")
        eye = torch.eye(self.n, dtype=g.dtype, device=g.device)
        err = (g @ g.mT - eye).abs().amax(dim=(-2, -1))
        # NaN compares False, so non-finite inputs are never members.
        return err <= self._atol(g, atol)

"""Planar groups: SO(2), O(2) and their finite subgroups C_N and D_N as 2x2 matrices.

Convention: ``R(theta) = [[cos, -sin], [sin, cos]]`` rotates counter-clockwise in a frame with
``x`` to the right and ``y`` up; the reflection used by O(2) and D_N is ``F = diag(1, -1)``
(``y -> -y``). Elements with ``det = -1`` are written ``R(theta) @ F``, so the angle of an
element is always the angle of its first column.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._base import OrthogonalMatrixGroup
from ._utils import BatchShape, as_batch_shape, check_last_dims

_TWO_PI = 2.0 * math.pi


def _rotation_2d(theta: Tensor) -> Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack([c, -s, s, c], dim=-1).unflatten(-1, (2, 2))


def _det_2d(g: Tensor) -> Tensor:
    return g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] * g[..., 1, 0]


def _generator_2d(dtype: torch.dtype | None = None, device=None) -> Tensor:
    # The so(2) generator J = d/dtheta R(theta) at 0.
    return torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=dtype, device=device)


class _PlanarGroup(OrthogonalMatrixGroup):
    """Shared code for subgroups of O(2)."""

    def __init__(self) -> None:
        super().__init__(2)

    def _repr_args(self) -> str:
        return ""

    @property
    def lie_algebra(self) -> Tensor:
        """The so(2) generator ``[[0, -1], [1, 0]]``, shape ``(1, 2, 2)``."""
        return _generator_2d(torch.float64)[None]

    @staticmethod
    def from_angle(theta: Tensor) -> Tensor:
        """Rotation matrices ``R(theta)`` of shape ``(*theta.shape, 2, 2)``."""
        return _rotation_2d(torch.as_tensor(theta))

    @staticmethod
    def to_angle(g: Tensor) -> Tensor:
        """Angle in ``(-pi, pi]`` of the first column of ``g`` (the rotation angle for SO(2)).

        Computed with ``atan2``; ``-pi`` (from a signed zero) is mapped to ``pi``.
        """
        check_last_dims(g, (2, 2), "to_angle")
        theta = torch.atan2(g[..., 1, 0], g[..., 0, 0])
        return torch.where(theta <= -math.pi, theta + _TWO_PI, theta)

    def exp(self, X: Tensor) -> Tensor:
        """Rotation ``R(theta)`` for ``X = theta * J``; only the skew part of ``X`` is used."""
        self._check(X, "exp")
        return _rotation_2d(0.5 * (X[..., 1, 0] - X[..., 0, 1]))

    @staticmethod
    def _angle_to_algebra(theta: Tensor) -> Tensor:
        return theta[..., None, None] * _generator_2d(theta.dtype, theta.device)


class SO2(_PlanarGroup):
    """The rotation group SO(2) of 2x2 rotation matrices.

    ``sample`` draws the Haar measure (a uniform angle); ``exp``/``log`` go through the rotation
    angle, with ``log`` returning ``theta * J`` for ``theta`` in ``(-pi, pi]``.
    """

    def _repr_args(self) -> str:
        return ""

    def sample(
        self,
        batch_shape: BatchShape = (),
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Haar-random rotations (uniform angle), shape ``(*batch_shape, 2, 2)``."""
        shape = as_batch_shape(batch_shape)
        u = torch.rand(shape, generator=generator, dtype=dtype, device=device)
        return _rotation_2d((2.0 * u - 1.0) * math.pi)

    def log(self, g: Tensor) -> Tensor:
        """``theta * J`` with ``theta = to_angle(g)`` in ``(-pi, pi]``."""
        self._check(g, "log")
        return self._angle_to_algebra(self.to_angle(g))

    def contains(self, g: Tensor, atol: float | None = None) -> Tensor:
        """True where ``g`` is orthogonal with positive determinant."""
        return self._is_orthogonal(g, atol) & (_det_2d(g) > 0)


class O2(_PlanarGroup):
    """The orthogonal group O(2): rotations ``R(theta)`` and reflections ``R(theta) @ F``.

    ``sample`` draws the Haar measure (uniform angle, independent fair determinant sign).
    ``exp`` maps onto the identity component SO(2); ``log`` therefore raises for reflections.
    """

    @property
    def discrete_generators(self) -> Tensor:
        """The reflection ``F = diag(1, -1)``, shape ``(1, 2, 2)``."""
        return torch.tensor([[[1.0, 0.0], [0.0, -1.0]]], dtype=torch.float64)

    @staticmethod
    def from_angle(theta: Tensor, reflection: Tensor | bool | None = None) -> Tensor:
        """``R(theta)``, or ``R(theta) @ F`` where ``reflection`` is true (broadcasts)."""
        theta = torch.as_tensor(theta)
        g = _rotation_2d(theta)
        if reflection is None:
            return g
        reflection = torch.as_tensor(reflection, device=theta.device)
        # Right-multiplying by F = diag(1, -1) negates the second column.
        col_sign = torch.where(reflection, -1.0, 1.0).to(g.dtype)
        ones = torch.ones_like(col_sign)
        return g * torch.stack([ones, col_sign], dim=-1)[..., None, :]

    def sample(
        self,
        batch_shape: BatchShape = (),
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Haar-random elements of O(2), shape ``(*batch_shape, 2, 2)``."""
        shape = as_batch_shape(batch_shape)
        u = torch.rand((*shape, 2), generator=generator, dtype=dtype, device=device)
        return self.from_angle((2.0 * u[..., 0] - 1.0) * math.pi, u[..., 1] < 0.5)

    def log(self, g: Tensor) -> Tensor:
        """``theta * J`` for rotations; raises ``ValueError`` if any element is a reflection."""
        self._check(g, "log")
        reflections = _det_2d(g) < 0
        if bool(reflections.any()):
            raise ValueError(
                f"O2.log: {int(reflections.sum())} of {reflections.numel()} elements have "
                "det = -1; reflections are not in the identity component SO(2) = exp(so(2)), "
                "so they have no logarithm."
            )
        return self._angle_to_algebra(self.to_angle(g))

    def contains(self, g: Tensor, atol: float | None = None) -> Tensor:
        """True where ``g`` is orthogonal."""
        return self._is_orthogonal(g, atol)


class _FinitePlanarGroup(_PlanarGroup):
    """Shared code for C_N and D_N; elements are indexed rotations first, then reflections."""

    _reflections: bool = False

    def __init__(self, N: int) -> None:
        super().__init__()
        if int(N) < 1:
            raise ValueError(f"{type(self).__name__}: N must be a positive integer, got {N}")
        self.N = int(N)

    def _repr_args(self) -> str:
        return str(self.N)

    @property
    def order(self) -> int:
        """Number of elements."""
        return self.N * (2 if self._reflections else 1)

    @property
    def lie_algebra(self) -> Tensor:
        """Empty ``(0, 2, 2)``: a finite group has a zero-dimensional Lie algebra."""
        return torch.zeros(0, 2, 2, dtype=torch.float64)

    def elements(
        self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> Tensor:
        """All elements in index order, shape ``(order, 2, 2)``.

        Index ``k < N`` is the rotation ``R(2 pi k / N)``; for D_N index ``N + k`` is the
        reflection ``R(2 pi k / N) @ F``. Entries are computed in float64 and snapped to exact
        integers where within rounding of one (e.g. every entry of C_4), so that products of
        such elements stay exactly in the group.
        """
        theta = torch.arange(self.N, dtype=torch.float64) * (_TWO_PI / self.N)
        g = _rotation_2d(theta)
        if self._reflections:
            g = torch.cat([g, g * torch.tensor([1.0, -1.0], dtype=torch.float64)], dim=0)
        snapped = torch.round(g) + 0.0  # "+ 0.0" turns -0.0 into 0.0
        g = torch.where((g - snapped).abs() < 1e-12, snapped, g)
        return g.to(dtype=dtype, device=device)

    @property
    def discrete_generators(self) -> Tensor:
        """The rotation ``R(2 pi / N)`` (omitted for N = 1) and, for D_N, the reflection ``F``."""
        elems = self.elements(dtype=torch.float64)
        gens = [elems[1:2]] if self.N > 1 else []
        if self._reflections:
            gens.append(elems[self.N : self.N + 1])
        return torch.cat(gens, dim=0) if gens else torch.zeros(0, 2, 2, dtype=torch.float64)

    def sample(
        self,
        batch_shape: BatchShape = (),
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Uniformly random elements (the Haar measure), shape ``(*batch_shape, 2, 2)``."""
        shape = as_batch_shape(batch_shape)
        idx = torch.randint(self.order, shape, generator=generator, device=device)
        return self.elements(dtype=dtype, device=device)[idx]

    def index_of(self, g: Tensor) -> Tensor:
        """Indices into :meth:`elements` (int64, shape ``g.shape[:-2]``) of the nearest elements.

        Rounds the angle of ``g`` to the nearest multiple of ``2 pi / N`` (and, for D_N, reads
        the reflection from the sign of the determinant); use :meth:`contains` to check that
        ``g`` actually is an element.
        """
        self._check(g, "index_of")
        k = torch.round(self.to_angle(g) * (self.N / _TWO_PI)).long() % self.N
        if self._reflections:
            k = k + self.N * (_det_2d(g) < 0).long()
        return k

    def contains(self, g: Tensor, atol: float | None = None) -> Tensor:
        """True where ``g`` equals some element of the group up to ``atol``."""
        nearest = self.elements(dtype=g.dtype, device=g.device)[self.index_of(g)]
        close = (g - nearest).abs().amax(dim=(-2, -1)) <= self._atol(g, atol)
        return self._is_orthogonal(g, atol) & close

    def exp(self, X: Tensor) -> Tensor:
        """The SO(2) exponential ``R(theta)`` of ``X = theta * J``.

        The result lies in the group only when ``theta`` is a multiple of ``2 pi / N``.
        """
        return super().exp(X)

    def log(self, g: Tensor) -> Tensor:
        """``theta * J`` in so(2) with ``theta = 2 pi k / N`` in ``(-pi, pi]`` for ``R(2 pi k/N)``.

        The angle comes from :meth:`index_of`, so it is exactly a multiple of ``2 pi / N``.
        """
        self._check(g, "log")
        k = self.index_of(g)
        if self._reflections and bool((k >= self.N).any()):
            n_ref = int((k >= self.N).sum())
            raise ValueError(
                f"{self!r}.log: {n_ref} of {k.numel()} elements are reflections (det = -1); "
                "they are not in the identity component SO(2), so they have no logarithm."
            )
        # Map k in [0, N) to the representative in (-N/2, N/2] so the angle lies in (-pi, pi].
        k = torch.where(2 * k > self.N, k - self.N, k)
        return self._angle_to_algebra(k.to(g.dtype) * (_TWO_PI / self.N))


class CN(_FinitePlanarGroup):
    """The cyclic group C_N of rotations by multiples of ``2 pi / N``, as 2x2 matrices.

    Parameters
    ----------
    N : int
        Number of rotations (the group order).
    """

    _reflections = False


class DN(_FinitePlanarGroup):
    """The dihedral group D_N (order ``2N``): C_N plus the reflections ``R(2 pi k / N) @ F``.

    ``F = diag(1, -1)`` reflects ``y -> -y``. :meth:`elements` lists the N rotations first and
    then the N reflections, both in order of ``k``.

    Parameters
    ----------
    N : int
        Number of rotations.
    """

    _reflections = True

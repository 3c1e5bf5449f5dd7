"""Spatial groups: rotations SO(3) and rigid motions SE(3) (4x4 homogeneous matrices)."""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import MatrixGroup, OrthogonalMatrixGroup
from ._rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    one_minus_cos_over_sq,
    quaternion_to_matrix,
    sinc,
    skew,
    vee,
)
from ._utils import BatchShape, as_batch_shape, check_last_dims, series_or_closed_form

# (theta - sin theta) / theta^3 and (1 - (theta/2) cot(theta/2)) / theta^2 in powers of theta^2.
_C_COEFFS = (1.0 / 6.0, -1.0 / 120.0, 1.0 / 5040.0, -1.0 / 362880.0)
_D_COEFFS = (1.0 / 12.0, 1.0 / 720.0, 1.0 / 30240.0, 1.0 / 1209600.0)


def _so3_basis() -> Tensor:
    return skew(torch.eye(3, dtype=torch.float64))


class SO3(OrthogonalMatrixGroup):
    """The rotation group SO(3) of 3x3 rotation matrices.

    ``sample`` draws the Haar measure by normalising standard Gaussian quaternions (uniform on
    the 3-sphere, which double covers SO(3)). ``exp`` is Rodrigues' formula and ``log`` goes
    through :func:`matrix_to_axis_angle`, so both are accurate near the identity and ``log`` is
    robust near rotations by ``pi``. The Lie algebra basis is ``skew(e_x), skew(e_y),
    skew(e_z)``.
    """

    def __init__(self) -> None:
        super().__init__(3)

    def _repr_args(self) -> str:
        return ""

    @property
    def lie_algebra(self) -> Tensor:
        """``skew(e_i)`` for ``i = x, y, z``, shape ``(3, 3, 3)``."""
        return _so3_basis()

    def sample(
        self,
        batch_shape: BatchShape = (),
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Haar-random rotations, shape ``(*batch_shape, 3, 3)``."""
        shape = as_batch_shape(batch_shape)
        q = torch.randn((*shape, 4), generator=generator, dtype=dtype, device=device)
        # quaternion_to_matrix divides by |q|^2, so the quaternion need not be normalised here.
        return quaternion_to_matrix(q)

    def exp(self, X: Tensor) -> Tensor:
        """Rodrigues' formula for ``X = skew(omega)``; only the skew part of ``X`` is used."""
        self._check(X, "exp")
        return axis_angle_to_matrix(vee(X))

    def log(self, g: Tensor) -> Tensor:
        """``skew(omega)`` with rotation angle ``|omega|`` in ``[0, pi]``."""
        self._check(g, "log")
        return skew(matrix_to_axis_angle(g))

    def contains(self, g: Tensor, atol: float | None = None) -> Tensor:
        """True where ``g`` is orthogonal with positive determinant."""
        return self._is_orthogonal(g, atol) & (torch.linalg.det(g) > 0)

    @staticmethod
    def from_axis_angle(v: Tensor) -> Tensor:
        """Rotation matrices from axis-angle vectors ``(..., 3)``."""
        return axis_angle_to_matrix(v)

    @staticmethod
    def to_axis_angle(g: Tensor) -> Tensor:
        """Axis-angle vectors ``(..., 3)`` (angle in ``[0, pi]``) of rotation matrices."""
        return matrix_to_axis_angle(g)

    @staticmethod
    def from_quaternion(q: Tensor) -> Tensor:
        """Rotation matrices from (w, x, y, z) quaternions ``(..., 4)``."""
        return quaternion_to_matrix(q)

    @staticmethod
    def to_quaternion(g: Tensor) -> Tensor:
        """Unit (w, x, y, z) quaternions with ``w >= 0`` from rotation matrices."""
        return matrix_to_quaternion(g)


class SE3(MatrixGroup):
    """Rigid motions of 3D space as 4x4 homogeneous matrices ``[[R, t], [0, 1]]``.

    The Lie algebra basis is ordered rotations first (``skew(e_i)`` in the top-left block), then
    translations (``e_i`` in the last column). ``exp`` and ``log`` use the closed-form
    ``V(omega) = I + B K + C K^2`` (``t = V v``) with Taylor series at small angles.

    SE(3) is not compact and has no normalisable Haar measure, so :meth:`sample` draws a Haar
    rotation and an independent isotropic Gaussian translation instead.
    """

    def __init__(self) -> None:
        super().__init__(4)

    def _repr_args(self) -> str:
        return ""

    @property
    def lie_algebra(self) -> Tensor:
        """Shape ``(6, 4, 4)``: three rotation generators, then three translation generators."""
        basis = torch.zeros(6, 4, 4, dtype=torch.float64)
        basis[:3, :3, :3] = _so3_basis()
        basis[3:, :3, 3] = torch.eye(3, dtype=torch.float64)
        return basis

    # -------------------------------------------------------------- construction
    @staticmethod
    def from_rotation_translation(R: Tensor, t: Tensor) -> Tensor:
        """Homogeneous matrices ``(..., 4, 4)`` from rotations ``(..., 3, 3)`` and translations
        ``(..., 3)``; leading dimensions broadcast."""
        check_last_dims(R, (3, 3), "SE3.from_rotation_translation")
        check_last_dims(t, (3,), "SE3.from_rotation_translation")
        batch = torch.broadcast_shapes(R.shape[:-2], t.shape[:-1])
        top = torch.cat([R.expand(*batch, 3, 3), t.expand(*batch, 3)[..., None]], dim=-1)
        bottom = torch.zeros(4, dtype=top.dtype, device=top.device)
        bottom[3] = 1.0
        return torch.cat([top, bottom.expand(*batch, 1, 4)], dim=-2)

    @staticmethod
    def to_rotation_translation(g: Tensor) -> tuple[Tensor, Tensor]:
        """Split ``(..., 4, 4)`` homogeneous matrices into ``R (..., 3, 3)`` and ``t (..., 3)``."""
        check_last_dims(g, (4, 4), "SE3.to_rotation_translation")
        return g[..., :3, :3], g[..., :3, 3]

    def sample(
        self,
        batch_shape: BatchShape = (),
        *,
        translation_scale: float = 1.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Haar rotation times ``N(0, translation_scale^2 I)`` translation (not a Haar measure,
        which does not exist for SE(3)), shape ``(*batch_shape, 4, 4)``."""
        shape = as_batch_shape(batch_shape)
        R = SO3().sample(shape, generator=generator, dtype=dtype, device=device)
        t = translation_scale * torch.randn(
            (*shape, 3), generator=generator, dtype=dtype, device=device
        )
        return self.from_rotation_translation(R, t)

    # -------------------------------------------------------------- group operations
    def inverse(self, g: Tensor) -> Tensor:
        """Closed-form inverse ``[[R^T, -R^T t], [0, 1]]``."""
        R, t = self.to_rotation_translation(g)
        Rt = R.mT
        return self.from_rotation_translation(Rt, -(Rt @ t[..., None])[..., 0])

    def exp(self, X: Tensor) -> Tensor:
        """Exponential of ``X = [[skew(omega), v], [0, 0]]``: ``R = exp(skew(omega))``,
        ``t = V(omega) v``."""
        self._check(X, "exp")
        omega, v = vee(X[..., :3, :3]), X[..., :3, 3]
        theta2 = (omega * omega).sum(-1)
        K = skew(omega)
        K2 = K @ K
        eye = torch.eye(3, dtype=X.dtype, device=X.device)
        a = sinc(theta2)[..., None, None]
        b = one_minus_cos_over_sq(theta2)[..., None, None]
        c = series_or_closed_form(theta2, lambda t: (t - torch.sin(t)) / t**3, _C_COEFFS)
        R = eye + a * K + b * K2
        V = eye + b * K + c[..., None, None] * K2
        return self.from_rotation_translation(R, (V @ v[..., None])[..., 0])

    def log(self, g: Tensor) -> Tensor:
        """Logarithm ``[[skew(omega), V(omega)^{-1} t], [0, 0]]`` with ``|omega|`` in ``[0, pi]``.

        ``V^{-1} = I - K / 2 + D K^2`` with ``D = (1 - (theta/2) cot(theta/2)) / theta^2``, which
        stays finite up to ``theta = pi``.
        """
        self._check(g, "log")
        R, t = self.to_rotation_translation(g)
        omega = matrix_to_axis_angle(R)
        theta2 = (omega * omega).sum(-1)
        K = skew(omega)
        d = series_or_closed_form(
            theta2, lambda th: (1.0 - 0.5 * th / torch.tan(0.5 * th)) / th**2, _D_COEFFS
        )
        eye = torch.eye(3, dtype=g.dtype, device=g.device)
        V_inv = eye - 0.5 * K + d[..., None, None] * (K @ K)
        v = (V_inv @ t[..., None])[..., 0]
        top = torch.cat([K, v[..., None]], dim=-1)
        return torch.cat([top, torch.zeros_like(top[..., :1, :])], dim=-2)

    def contains(self, g: Tensor, atol: float | None = None) -> Tensor:
        """True where ``g = [[R, t], [0, 1]]`` with ``R`` in SO(3)."""
        self._check(g, "contains")
        tol = self._atol(g, atol)
        bottom = g.new_tensor([0.0, 0.0, 0.0, 1.0])
        bottom_ok = (g[..., 3, :] - bottom).abs().amax(dim=-1) <= tol
        finite_t = torch.isfinite(g[..., :3, 3]).all(dim=-1)
        return SO3().contains(g[..., :3, :3], tol) & bottom_ok & finite_t

    # -------------------------------------------------------------- actions
    def act_on_points(self, g: Tensor, x: Tensor) -> Tensor:
        """Rigidly transform points stored as rows: ``x @ R^T + t``.

        Parameters
        ----------
        g : Tensor
            ``(..., 4, 4)`` homogeneous matrices.
        x : Tensor
            ``(..., P, 3)`` points; ``g``'s batch dims broadcast against ``x.shape[:-2]``.
        """
        check_last_dims(x, (3,), "SE3.act_on_points")
        R, t = self.to_rotation_translation(g)
        return x @ R.mT + t[..., None, :]

    def act_on_vectors(self, g: Tensor, v: Tensor) -> Tensor:
        """Rotate direction vectors ``(..., P, 3)`` (translation does not act): ``v @ R^T``."""
        check_last_dims(v, (3,), "SE3.act_on_vectors")
        return v @ g[..., :3, :3].mT

    def act_on_poses(self, g: Tensor, T: Tensor) -> Tensor:
        """Left-multiply poses ``T (..., 4, 4)`` (e.g. object-to-world) by ``g``: ``g @ T``."""
        check_last_dims(T, (4, 4), "SE3.act_on_poses")
        return g @ T

"""Batched conversions between 3D rotation representations.

Conventions
-----------
* Rotation matrices ``R`` have shape ``(..., 3, 3)`` and act on column vectors, ``x' = R x``.
* Quaternions are ``(w, x, y, z)`` (scalar first) with shape ``(..., 4)``. Functions returning
  quaternions return unit quaternions with ``w >= 0`` (``q`` and ``-q`` are the same rotation).
* Axis-angle vectors ``v = theta * axis`` have shape ``(..., 3)``; returned angles lie in
  ``[0, pi]``.
* The 6D representation (Zhou et al., "On the Continuity of Rotation Representations in Neural
  Networks", CVPR 2019) is the first two *columns* of ``R`` concatenated, ``[R[:, 0], R[:, 1]]``.

All functions accept arbitrary leading batch dimensions, keep the input dtype and device, and are
differentiable (small-angle branches use Taylor series so gradients stay finite at zero).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._utils import check_last_dims, series_or_closed_form, small_angle_threshold

# Taylor coefficients in theta^2 of the Rodrigues-type functions; see ``series_or_closed_form``.
SINC_COEFFS = (1.0, -1.0 / 6.0, 1.0 / 120.0, -1.0 / 5040.0)  # sin(t) / t
ONE_MINUS_COS_COEFFS = (0.5, -1.0 / 24.0, 1.0 / 720.0, -1.0 / 40320.0)  # (1 - cos t) / t^2
HALF_SINC_HALF_COEFFS = (0.5, -1.0 / 48.0, 1.0 / 3840.0, -1.0 / 645120.0)  # sin(t/2) / t


def sinc(theta2: Tensor) -> Tensor:
    """``sin(theta) / theta`` as a function of ``theta^2``."""
    return series_or_closed_form(theta2, lambda t: torch.sin(t) / t, SINC_COEFFS)


def one_minus_cos_over_sq(theta2: Tensor) -> Tensor:
    """``(1 - cos(theta)) / theta^2`` as a function of ``theta^2``.

    The closed form uses the half-angle identity ``1 - cos t = 2 sin^2(t/2)``, which avoids the
    catastrophic cancellation of ``1 - cos t`` for small ``t``.
    """
    return series_or_closed_form(
        theta2, lambda t: 0.5 * (torch.sin(0.5 * t) / (0.5 * t)) ** 2, ONE_MINUS_COS_COEFFS
    )


def skew(v: Tensor) -> Tensor:
    """Hat map ``R^3 -> so(3)``: the skew-symmetric matrix with ``skew(v) @ x == cross(v, x)``.

    Parameters
    ----------
    v : Tensor
        Vectors of shape ``(..., 3)``.

    Returns
    -------
    Tensor
        Skew-symmetric matrices of shape ``(..., 3, 3)``.
    """
    check_last_dims(v, (3,), "skew")
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).unflatten(-1, (3, 3))


def vee(X: Tensor) -> Tensor:
    """Vee map ``so(3) -> R^3``, the inverse of :func:`skew`.

    Only the skew-symmetric part of ``X`` is used, so ``vee(X) == vee((X - X^T) / 2)``.

    Parameters
    ----------
    X : Tensor
        Matrices of shape ``(..., 3, 3)``.

    Returns
    -------
    Tensor
        Vectors of shape ``(..., 3)``.
    """
    check_last_dims(X, (3, 3), "vee")
    return 0.5 * torch.stack(
        [X[..., 2, 1] - X[..., 1, 2], X[..., 0, 2] - X[..., 2, 0], X[..., 1, 0] - X[..., 0, 1]],
        dim=-1,
    )


def standardize_quaternion(q: Tensor) -> Tensor:
    """Flip the sign of quaternions with negative real part so that ``w >= 0``."""
    check_last_dims(q, (4,), "standardize_quaternion")
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product ``a * b`` of (w, x, y, z) quaternions.

    The result is not sign-standardised, so that
    ``quaternion_to_matrix(quaternion_multiply(a, b)) == quaternion_to_matrix(a) @
    quaternion_to_matrix(b)`` holds exactly as a quaternion identity.

    Parameters
    ----------
    a, b : Tensor
        Quaternions of shape ``(..., 4)``; leading dimensions broadcast.

    Returns
    -------
    Tensor
        The product, shape ``(..., 4)``.
    """
    check_last_dims(a, (4,), "quaternion_multiply")
    check_last_dims(b, (4,), "quaternion_multiply")
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def quaternion_conjugate(q: Tensor) -> Tensor:
    """Conjugate ``(w, -x, -y, -z)``; the inverse rotation for unit quaternions."""
    check_last_dims(q, (4,), "quaternion_conjugate")
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def quaternion_to_matrix(q: Tensor) -> Tensor:
    """Rotation matrices from (w, x, y, z) quaternions.

    Non-unit quaternions are accepted; the formula divides by ``|q|^2`` so the result is the
    rotation of ``q / |q|``.

    Parameters
    ----------
    q : Tensor
        Quaternions of shape ``(..., 4)``, nonzero.

    Returns
    -------
    Tensor
        Rotation matrices of shape ``(..., 3, 3)``.
    """
    check_last_dims(q, (4,), "quaternion_to_matrix")
    w, x, y, z = q.unbind(-1)
    two_s = 2.0 / (q * q).sum(-1)
    m = torch.stack(
        [
            1 - two_s * (y * y + z * z),
            two_s * (x * y - z * w),
            two_s * (x * z + y * w),
            two_s * (x * y + z * w),
            1 - two_s * (x * x + z * z),
            two_s * (y * z - x * w),
            two_s * (x * z - y * w),
            two_s * (y * z + x * w),
            1 - two_s * (x * x + y * y),
        ],
        dim=-1,
    )
    return m.unflatten(-1, (3, 3))


def _sqrt_positive_part(x: Tensor) -> Tensor:
    # sqrt(max(x, 0)) whose gradient is 0 (not inf/NaN) where x <= 0.
    pos = x > 0
    safe = torch.where(pos, x, torch.ones_like(x))
    return torch.where(pos, torch.sqrt(safe), torch.zeros_like(x))


def matrix_to_quaternion(R: Tensor) -> Tensor:
    """Unit (w, x, y, z) quaternions with ``w >= 0`` from rotation matrices.

    Four candidate quaternions are formed, each dividing by one of ``4|w|, 4|x|, 4|y|, 4|z|``;
    the candidate with the largest divisor is selected per element (as in pytorch3d), so the
    conversion is well conditioned for every rotation, including those by ``pi``.

    Parameters
    ----------
    R : Tensor
        Rotation matrices of shape ``(..., 3, 3)``.

    Returns
    -------
    Tensor
        Quaternions of shape ``(..., 4)``.
    """
    check_last_dims(R, (3, 3), "matrix_to_quaternion")
    batch = R.shape[:-2]
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = R.reshape(*batch, 9).unbind(-1)
    # q_abs = 2 * (|w|, |x|, |y|, |z|)
    q_abs = _sqrt_positive_part(
        torch.stack(
            [
                1.0 + m00 + m11 + m22,
                1.0 + m00 - m11 - m22,
                1.0 - m00 + m11 - m22,
                1.0 - m00 - m11 + m22,
            ],
            dim=-1,
        )
    )
    # Row i is 4 * q_i * q (q_i = |i-th component|), derived from the i-th diagonal combination.
    cand = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    )
    # The floor only guards rows that are never selected (the largest q_abs is >= 1).
    cand = cand / (2.0 * q_abs[..., :, None].clamp_min(0.1))
    idx = q_abs.argmax(dim=-1)[..., None, None].expand(*batch, 1, 4)
    q = torch.gather(cand, -2, idx).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return standardize_quaternion(q)


def axis_angle_to_quaternion(v: Tensor) -> Tensor:
    """Unit (w, x, y, z) quaternions from axis-angle vectors ``theta * axis``.

    The result has ``w >= 0`` for ``|v| <= pi``.
    """
    check_last_dims(v, (3,), "axis_angle_to_quaternion")
    theta2 = (v * v).sum(-1)
    half_sinc = series_or_closed_form(
        theta2, lambda t: torch.sin(0.5 * t) / t, HALF_SINC_HALF_COEFFS
    )
    w = series_or_closed_form(
        theta2, lambda t: torch.cos(0.5 * t), (1.0, -1.0 / 8.0, 1.0 / 384.0, -1.0 / 46080.0)
    )
    return torch.cat([w[..., None], half_sinc[..., None] * v], dim=-1)


def quaternion_to_axis_angle(q: Tensor) -> Tensor:
    """Axis-angle vectors with angle in ``[0, pi]`` from (w, x, y, z) quaternions.

    The angle is ``2 * atan2(|xyz|, w)`` (after normalising and flipping to ``w >= 0``), which is
    well conditioned both near the identity and near rotations by ``pi``.
    """
    check_last_dims(q, (4,), "quaternion_to_axis_angle")
    q = standardize_quaternion(q / torch.linalg.vector_norm(q, dim=-1, keepdim=True))
    w, xyz = q[..., 0], q[..., 1:]
    s2 = (xyz * xyz).sum(-1)
    thr = small_angle_threshold(q.dtype)
    small = s2 < thr * thr
    s = torch.sqrt(torch.where(small, torch.ones_like(s2), s2))
    # Near the identity w ~ 1, and 2 atan(s / w) / s = (2 / w) (1 - u^2/3 + u^4/5 - u^6/7), u = s/w.
    w_safe = torch.where(small, w, torch.ones_like(w))
    u2 = s2 / (w_safe * w_safe)
    series = (2.0 / w_safe) * (1.0 + u2 * (-1.0 / 3.0 + u2 * (1.0 / 5.0 - u2 / 7.0)))
    factor = torch.where(small, series, 2.0 * torch.atan2(s, w) / s)
    return factor[..., None] * xyz


def axis_angle_to_matrix(v: Tensor) -> Tensor:
    """Rotation matrices from axis-angle vectors via Rodrigues' formula.

    ``R = I + A(theta) K + B(theta) K^2`` with ``K = skew(v)``, ``A = sin(theta) / theta`` and
    ``B = (1 - cos(theta)) / theta^2``; both coefficients switch to Taylor series for small
    ``theta``, so the result and its gradient are accurate (and finite) at ``v = 0``.

    Parameters
    ----------
    v : Tensor
        Axis-angle vectors ``theta * axis`` of shape ``(..., 3)``.

    Returns
    -------
    Tensor
        Rotation matrices of shape ``(..., 3, 3)``.
    """
    check_last_dims(v, (3,), "axis_angle_to_matrix")
    theta2 = (v * v).sum(-1)
    a = sinc(theta2)[..., None, None]
    b = one_minus_cos_over_sq(theta2)[..., None, None]
    K = skew(v)
    eye = torch.eye(3, dtype=v.dtype, device=v.device)
    return eye + a * K + b * (K @ K)


def matrix_to_axis_angle(R: Tensor) -> Tensor:
    """Axis-angle vectors (angle in ``[0, pi]``) from rotation matrices.

    Goes through :func:`matrix_to_quaternion`, whose branch selection keeps the conversion
    accurate near the identity (where ``arccos`` of the trace loses precision) and near rotations
    by ``pi`` (where the skew part of ``R`` vanishes and does not determine the axis). At exactly
    ``pi`` the sign of the axis is arbitrary, as both signs describe the same rotation.

    Parameters
    ----------
    R : Tensor
        Rotation matrices of shape ``(..., 3, 3)``.

    Returns
    -------
    Tensor
        Axis-angle vectors of shape ``(..., 3)``.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


def rotation_6d_to_matrix(d6: Tensor) -> Tensor:
    """Rotation matrices from the 6D representation of Zhou et al. (2019).

    The two 3-vectors ``a1 = d6[..., :3]`` and ``a2 = d6[..., 3:]`` are orthonormalised by
    Gram-Schmidt into the first two columns of ``R``; the third column is their cross product.

    Parameters
    ----------
    d6 : Tensor
        Shape ``(..., 6)``; ``a1`` and ``a2`` must be linearly independent.

    Returns
    -------
    Tensor
        Rotation matrices of shape ``(..., 3, 3)``.
    """
    check_last_dims(d6, (6,), "rotation_6d_to_matrix")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation_6d(R: Tensor) -> Tensor:
    """6D representation ``[R[..., :, 0], R[..., :, 1]]`` (first two columns) of rotations.

    Parameters
    ----------
    R : Tensor
        Rotation matrices of shape ``(..., 3, 3)``.

    Returns
    -------
    Tensor
        Shape ``(..., 6)``.
    """
    check_last_dims(R, (3, 3), "matrix_to_rotation_6d")
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)

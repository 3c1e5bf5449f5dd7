"""Tests for the batched rotation conversions in ``symlab.groups``."""

from __future__ import annotations

import math

import pytest
import torch

from symlab.groups import (
    SO3,
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rotation_6d,
    quaternion_conjugate,
    quaternion_multiply,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rotation_6d_to_matrix,
    skew,
    vee,
)

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _edge_rotations(dtype: torch.dtype) -> torch.Tensor:
    """Identity, rotations by pi about coordinate and diagonal axes, and rotations near 0/pi."""
    axes = torch.tensor(
        [[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, -1, 1], [0, -2, 1]], dtype=torch.float64
    )
    axes = axes / axes.norm(dim=-1, keepdim=True)
    angles = torch.tensor([0.0, 1e-9, 1e-4, math.pi - 1e-6, math.pi], dtype=torch.float64)
    v = (angles[:, None, None] * axes[None]).reshape(-1, 3)
    # Build in float64 (exact pi rotations are then exact to rounding) and cast.
    return axis_angle_to_matrix(v).to(dtype)


def _rotations(dtype: torch.dtype, n: int = 256) -> torch.Tensor:
    haar = SO3().sample((n,), generator=_gen(1), dtype=dtype)
    return torch.cat([haar, _edge_rotations(dtype)])


def _assert_rotation(R: torch.Tensor, tol: float) -> None:
    eye = torch.eye(3, dtype=R.dtype)
    torch.testing.assert_close(R @ R.mT, eye.expand_as(R), atol=tol, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones_like(R[..., 0, 0]), atol=tol, rtol=0)


# --------------------------------------------------------------------------- hat maps
def test_skew_vee_roundtrip_and_cross_product(dtype):
    v, w = torch.randn(2, 7, 3, generator=_gen(), dtype=dtype)
    K = skew(v)
    torch.testing.assert_close(K, -K.mT, atol=0, rtol=0)
    torch.testing.assert_close(vee(K), v, atol=0, rtol=0)
    torch.testing.assert_close(
        (K @ w[..., None])[..., 0], torch.linalg.cross(v, w, dim=-1), atol=TOL[dtype], rtol=0
    )


def test_shapes_dtype_and_leading_dims(dtype):
    q = torch.randn(2, 3, 5, 4, generator=_gen(), dtype=dtype)
    R = quaternion_to_matrix(q)
    assert R.shape == (2, 3, 5, 3, 3) and R.dtype == dtype
    assert matrix_to_quaternion(R).shape == (2, 3, 5, 4)
    assert matrix_to_axis_angle(R).shape == (2, 3, 5, 3)
    assert matrix_to_rotation_6d(R).shape == (2, 3, 5, 6)
    assert axis_angle_to_matrix(torch.zeros(3, dtype=dtype)).shape == (3, 3)
    with pytest.raises(ValueError, match="shape"):
        quaternion_to_matrix(torch.zeros(3, 3, dtype=dtype))


# --------------------------------------------------------------------------- quaternions
def test_quaternion_matrix_roundtrip(dtype):
    R = _rotations(dtype)
    q = matrix_to_quaternion(R)
    assert bool((q[..., 0] >= 0).all())
    torch.testing.assert_close(q.norm(dim=-1), torch.ones_like(q[..., 0]), atol=TOL[dtype], rtol=0)
    torch.testing.assert_close(quaternion_to_matrix(q), R, atol=TOL[dtype], rtol=0)


def test_quaternion_roundtrip_up_to_sign(dtype):
    q = torch.randn(512, 4, generator=_gen(2), dtype=dtype)
    q = q / q.norm(dim=-1, keepdim=True)
    q2 = matrix_to_quaternion(quaternion_to_matrix(q))
    sign = torch.sign((q * q2).sum(-1, keepdim=True))
    torch.testing.assert_close(q2 * sign, q, atol=TOL[dtype], rtol=0)


def test_quaternion_identity_and_pi(dtype):
    one = matrix_to_quaternion(torch.eye(3, dtype=dtype))
    torch.testing.assert_close(one, torch.tensor([1.0, 0, 0, 0], dtype=dtype), atol=0, rtol=0)
    flip_z = torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=dtype))
    q = matrix_to_quaternion(flip_z)
    expected = torch.tensor([0.0, 0, 0, 1], dtype=dtype)
    torch.testing.assert_close(q.abs(), expected, atol=TOL[dtype], rtol=0)


def test_quaternion_multiply_is_matrix_product(dtype):
    a, b = torch.randn(2, 64, 4, generator=_gen(3), dtype=dtype)
    torch.testing.assert_close(
        quaternion_to_matrix(quaternion_multiply(a, b)),
        quaternion_to_matrix(a) @ quaternion_to_matrix(b),
        atol=TOL[dtype],
        rtol=0,
    )
    a = a / a.norm(dim=-1, keepdim=True)
    unit = torch.zeros_like(a)
    unit[..., 0] = 1
    torch.testing.assert_close(
        quaternion_multiply(a, quaternion_conjugate(a)), unit, atol=TOL[dtype], rtol=0
    )


# --------------------------------------------------------------------------- axis-angle
def test_axis_angle_matrix_roundtrip(dtype):
    R = _rotations(dtype)
    v = matrix_to_axis_angle(R)
    assert bool((v.norm(dim=-1) <= math.pi + TOL[dtype]).all())
    torch.testing.assert_close(axis_angle_to_matrix(v), R, atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize(
    "angle", [0.0, 1e-12, 1e-7, 1e-3, 0.5, 2.0, math.pi - 1e-3, math.pi - 1e-7]
)
def test_axis_angle_roundtrip_vectors(dtype, angle):
    axis = torch.randn(32, 3, generator=_gen(4), dtype=torch.float64)
    v = (angle * axis / axis.norm(dim=-1, keepdim=True)).to(dtype)
    R = axis_angle_to_matrix(v)
    _assert_rotation(R, TOL[dtype])
    if dtype == torch.float32 and angle > math.pi - 1e-6:
        # pi - 1e-7 rounds to float32 pi (which exceeds pi), where the axis sign is arbitrary:
        # only the rotation itself round-trips.
        torch.testing.assert_close(
            axis_angle_to_matrix(matrix_to_axis_angle(R)), R, atol=1e-5, rtol=0
        )
        return
    # The vector carries float32's relative precision near pi, hence the looser float32 bound.
    tol = TOL[dtype] if dtype == torch.float64 else 2e-5
    torch.testing.assert_close(matrix_to_axis_angle(R), v, atol=tol, rtol=0)


def test_axis_angle_exact_pi(dtype):
    axes = torch.eye(3, dtype=torch.float64)
    # A rotation by pi about the unit axis a is 2 a a^T - I.
    R = 2 * axes[:, :, None] * axes[:, None, :] - torch.eye(3, dtype=torch.float64)
    v = matrix_to_axis_angle(R.to(dtype))
    torch.testing.assert_close(v.abs(), (math.pi * axes).to(dtype), atol=TOL[dtype], rtol=0)
    torch.testing.assert_close(axis_angle_to_matrix(v), R.to(dtype), atol=TOL[dtype], rtol=0)


def test_axis_angle_matches_matrix_exp(dtype):
    v = torch.randn(64, 3, generator=_gen(5), dtype=dtype)
    torch.testing.assert_close(
        axis_angle_to_matrix(v), torch.linalg.matrix_exp(skew(v)), atol=TOL[dtype], rtol=0
    )


def test_axis_angle_quaternion_consistency(dtype):
    v = torch.randn(64, 3, generator=_gen(6), dtype=dtype)
    v = v / v.norm(dim=-1, keepdim=True) * torch.rand(64, 1, generator=_gen(7), dtype=dtype) * 3
    q = axis_angle_to_quaternion(v)
    torch.testing.assert_close(
        quaternion_to_matrix(q), axis_angle_to_matrix(v), atol=TOL[dtype], rtol=0
    )
    torch.testing.assert_close(quaternion_to_axis_angle(q), v, atol=TOL[dtype], rtol=0)


def test_gradients_finite_at_identity(dtype):
    v = torch.zeros(2, 3, dtype=dtype, requires_grad=True)
    axis_angle_to_matrix(v).sum().backward()
    assert bool(torch.isfinite(v.grad).all())
    R = torch.eye(3, dtype=dtype).repeat(2, 1, 1).requires_grad_(True)
    matrix_to_axis_angle(R).sum().backward()
    assert bool(torch.isfinite(R.grad).all())


def test_axis_angle_gradient_matches_finite_differences():
    v = (0.3 * torch.randn(4, 3, generator=_gen(8), dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (v,))
    R = SO3().sample((4,), generator=_gen(9), dtype=torch.float64)
    # Perturb along the tangent space only, so the function stays on its domain.
    assert torch.autograd.gradcheck(
        lambda w: matrix_to_axis_angle(axis_angle_to_matrix(w) @ R), (v,)
    )


# --------------------------------------------------------------------------- 6D
def test_rotation_6d_roundtrip(dtype):
    R = _rotations(dtype)
    d6 = matrix_to_rotation_6d(R)
    # Zhou et al. convention: the first two *columns*.
    torch.testing.assert_close(d6[..., :3], R[..., :, 0], atol=0, rtol=0)
    torch.testing.assert_close(d6[..., 3:], R[..., :, 1], atol=0, rtol=0)
    torch.testing.assert_close(rotation_6d_to_matrix(d6), R, atol=TOL[dtype], rtol=0)


def test_rotation_6d_gram_schmidt(dtype):
    d6 = torch.randn(128, 6, generator=_gen(10), dtype=dtype)
    R = rotation_6d_to_matrix(d6)
    _assert_rotation(R, TOL[dtype])
    # The first column is the normalised first vector; the second lies in span(a1, a2).
    a1, a2 = d6[..., :3], d6[..., 3:]
    torch.testing.assert_close(
        R[..., :, 0], a1 / a1.norm(dim=-1, keepdim=True), atol=TOL[dtype], rtol=0
    )
    normal = torch.linalg.cross(a1, a2, dim=-1)
    torch.testing.assert_close(
        (R[..., :, 1] * normal).sum(-1), torch.zeros_like(a1[..., 0]), atol=TOL[dtype], rtol=0
    )
    # Scaling the inputs does not change the rotation.
    torch.testing.assert_close(rotation_6d_to_matrix(3.0 * d6), R, atol=TOL[dtype], rtol=0)

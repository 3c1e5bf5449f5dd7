"""SE(3) / 6D conversions and the invariance of relative and delta actions (sym_in_dp Thm.)."""

from __future__ import annotations

import math

import pytest
import torch

from symlab.groups import SE3, SO3, matrix_to_quaternion
from symlab.policy import (
    ActionConversion,
    absolute_to_delta,
    absolute_to_relative,
    delta_to_absolute,
    eef_pose,
    gripper_frame_proprio,
    invert_pose,
    join_pose_action,
    matrix_to_rot6d,
    relative_to_absolute,
    rot6d_to_matrix,
    split_pose_action,
)
from symlab.testing import assert_equivariant, assert_invariant

# The acceptance tolerances of the issue: float64 < 1e-10, float32 < 1e-5.
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def random_actions(gen, shape, dtype):
    T = SE3().sample(shape, generator=gen, dtype=dtype, translation_scale=0.3)
    grip = torch.rand((*shape, 1), generator=gen, dtype=dtype)
    return join_pose_action(T, grip)


def act_on_actions(g, actions):
    """World-frame change of absolute pose actions: A -> g A."""
    T, grip = split_pose_action(actions)
    return join_pose_action(g @ T, grip)


@pytest.mark.parametrize("convention", ["rows", "columns"])
def test_rot6d_round_trip(convention, dtype, generator):
    R = SO3().sample((200,), generator=generator, dtype=dtype)
    d6 = matrix_to_rot6d(R, convention)
    assert (rot6d_to_matrix(d6, convention) - R).abs().max() < 1e-6
    # Gram-Schmidt projects perturbed 6D vectors back onto rotations.
    R2 = rot6d_to_matrix(d6 + 0.05 * torch.randn(d6.shape, generator=generator, dtype=dtype))
    eye = torch.eye(3, dtype=dtype)
    assert (R2.mT @ R2 - eye).abs().max() < 1e-5
    assert torch.allclose(torch.linalg.det(R2), torch.ones((), dtype=dtype), atol=1e-5)


def test_rows_convention_matches_pytorch3d_layout(generator):
    R = SO3().sample((5,), generator=generator, dtype=torch.float64)
    d6 = matrix_to_rot6d(R, "rows")
    assert torch.equal(d6, R[:, :2, :].reshape(5, 6))
    assert torch.equal(matrix_to_rot6d(R, "columns"), torch.cat([R[..., 0], R[..., 1]], -1))


def test_rows_6d_column_pairs_rotate_as_planar_vectors(generator):
    """EquiDiff's field typing: under a z rotation the pairs (R[0, j], R[1, j]) rotate."""
    R = SO3().sample((7,), generator=generator, dtype=torch.float64)
    a = 0.7
    Rz = torch.tensor(
        [[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]],
        dtype=torch.float64,
    )
    d6, d6z = matrix_to_rot6d(R), matrix_to_rot6d(Rz @ R)
    pairs = torch.stack([d6[:, :3], d6[:, 3:]], dim=-1)  # (7, 3 columns, 2)
    pairs_z = torch.stack([d6z[:, :3], d6z[:, 3:]], dim=-1)
    assert torch.allclose(pairs_z, pairs @ Rz[:2, :2].T, atol=1e-12)


def test_invert_pose(dtype, generator):
    T = SE3().sample((10,), generator=generator, dtype=dtype)
    eye = torch.eye(4, dtype=dtype).expand(10, 4, 4)
    assert (invert_pose(T) @ T - eye).abs().max() < TOL[dtype]


@pytest.mark.parametrize(
    "encode,decode",
    [(absolute_to_relative, relative_to_absolute), (absolute_to_delta, delta_to_absolute)],
    ids=["relative", "delta"],
)
def test_absolute_round_trip(encode, decode, dtype, generator):
    actions = random_actions(generator, (6, 16), dtype)
    current = SE3().sample((6,), generator=generator, dtype=dtype)
    back = decode(encode(actions, current), current)
    assert (back - actions).abs().max() < 1e-6


@pytest.mark.parametrize("kind", ["relative", "delta"])
def test_relative_and_delta_actions_are_se3_invariant(kind, dtype, generator):
    """Theorem: T -> gT, A -> gA leaves rel = T^-1 A and d_j = A_{j-1}^-1 A_j unchanged, and the
    decoded absolute actions transform by g."""
    conv = ActionConversion(kind)
    actions = random_actions(generator, (8, 16), dtype)
    current = SE3().sample((8,), generator=generator, dtype=dtype, translation_scale=0.3)
    sample = lambda n: SE3().sample((n,), generator=generator, dtype=dtype, translation_scale=2.0)

    def act_in(g, a, T):
        return act_on_actions(g, a), g @ T

    report = assert_invariant(
        conv.encode, (actions, current), sample, act_in, n_samples=16, tolerance=TOL[dtype]
    )
    assert report.max_error < TOL[dtype]
    params = conv.encode(actions, current)
    assert_equivariant(
        lambda p, T: conv.decode(p, T),
        (params, current),
        sample,
        lambda g, p, T: (p, g @ T),
        act_on_actions,
        n_samples=16,
        tolerance=TOL[dtype],
    )


def test_absolute_actions_are_not_invariant(generator):
    conv = ActionConversion("absolute", workspace_center=(0.1, 0.0, 0.8))
    actions = random_actions(generator, (4, 16), torch.float64)
    current = SE3().sample((4,), generator=generator, dtype=torch.float64)
    g = SE3().sample((), generator=generator, dtype=torch.float64)
    moved = conv.encode(act_on_actions(g, actions), g @ current)
    assert (moved - conv.encode(actions, current)).abs().max() > 1e-2
    assert torch.allclose(conv.decode(conv.encode(actions, current), current), actions)


def test_delta_is_body_frame_increment(generator):
    actions = random_actions(generator, (3, 4), torch.float64)
    current = SE3().sample((3,), generator=generator, dtype=torch.float64)
    d = absolute_to_delta(actions, current)
    A, _ = split_pose_action(actions)
    D, _ = split_pose_action(d)
    assert torch.allclose(current @ D[:, 0], A[:, 0], atol=1e-12)
    assert torch.allclose(A[:, 1] @ D[:, 2], A[:, 2], atol=1e-12)


def test_unknown_kind_and_bad_shapes_fail_clearly():
    with pytest.raises(ValueError, match="unknown action kind 'relatve'"):
        ActionConversion("relatve")
    with pytest.raises(ValueError, match="last dim 10"):
        absolute_to_relative(torch.zeros(2, 16, 7), torch.eye(4).expand(2, 4, 4))
    with pytest.raises(ValueError, match="convention"):
        matrix_to_rot6d(torch.eye(3), "diagonal")


def test_gripper_frame_proprio_is_invariant(dtype, generator):
    T = SE3().sample((5, 2), generator=generator, dtype=dtype, translation_scale=0.5)
    q = matrix_to_quaternion(T[..., :3, :3])[..., [1, 2, 3, 0]]  # xyzw
    pos = T[..., :3, 3]
    grip = torch.rand((5, 2, 2), generator=generator, dtype=dtype)
    assert torch.allclose(eef_pose(pos, q), T, atol=TOL[dtype])
    feats = gripper_frame_proprio(T, grip)
    assert feats.shape == (5, 9 + 4)
    sample = lambda n: SE3().sample((n,), generator=generator, dtype=dtype, translation_scale=2.0)
    assert_invariant(
        gripper_frame_proprio, (T, grip), sample, lambda g, T, q: (g @ T, q), tolerance=TOL[dtype]
    )


def test_robosuite_axis_angle_actions_round_trip(generator):
    from symlab.policy import axis_angle_action_to_pose, pose_to_axis_angle_action

    aa = torch.randn(20, 3, generator=generator, dtype=torch.float64)
    aa = aa / aa.norm(dim=-1, keepdim=True) * torch.rand(20, 1, generator=generator) * 3.0
    a7 = torch.cat([torch.randn(20, 3, dtype=torch.float64), aa, torch.ones(20, 1)], -1)
    a10 = axis_angle_action_to_pose(a7)
    assert a10.shape == (20, 10)
    assert (pose_to_axis_angle_action(a10) - a7).abs().max() < 1e-9
    with pytest.raises(ValueError, match="7-d actions"):
        axis_angle_action_to_pose(a10)

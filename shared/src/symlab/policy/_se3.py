"""SE(3) poses, the 6D rotation representation and action parameterisations.

Conventions
-----------
* Poses are homogeneous ``(..., 4, 4)`` matrices ``T = [[R, p], [0, 1]]`` mapping gripper-frame
  coordinates to world coordinates.
* A *pose action* is the 10-vector ``[p (3), rot6d (6), gripper (1)]`` of diffusion policy.
* ``rot6d`` comes in two conventions. ``"rows"`` (default) is pytorch3d's
  ``matrix_to_rotation_6d``, the first two *rows* of ``R``, used by diffusion policy and
  EquiDiff; under a rotation about the world z axis the pairs ``(R[0, j], R[1, j])`` rotate as
  planar vectors. ``"columns"`` is the first two columns (Zhou et al.; :mod:`symlab.groups`),
  which rotate as 3-vectors under any world rotation (use it for SO(3)-equivariant processing).
* Quaternions from robosuite/robomimic observations (``robot0_eef_quat``) are ``(x, y, z, w)``;
  :mod:`symlab.groups` uses ``(w, x, y, z)``.

Action parameterisations (``T`` is the current gripper pose, ``A_j`` the absolute targets of a
chunk of ``H`` actions):

* ``absolute``: ``A_j`` with the position taken relative to a fixed workspace centre;
* ``relative`` (relative trajectory): ``rel_j = T^-1 A_j``; inverse ``A_j = T rel_j``;
* ``delta`` (body-frame increments): ``d_0 = T^-1 A_0``, ``d_j = A_{j-1}^-1 A_j``; inverse by
  the running product ``A_j = A_{j-1} d_j``.

Under a change of world frame ``g``, ``T -> g T`` and ``A -> g A``, so ``rel`` and ``d`` are
unchanged: they are the invariant action representations of the paper's theorem.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from symlab.groups import matrix_to_rotation_6d as _matrix_to_6d_columns
from symlab.groups import quaternion_to_matrix
from symlab.groups import rotation_6d_to_matrix as _columns_6d_to_matrix

ROT6D_CONVENTIONS = ("rows", "columns")
ACTION_KINDS = ("absolute", "relative", "delta")
POSE_ACTION_DIM = 10


def _check_convention(convention: str) -> None:
    if convention not in ROT6D_CONVENTIONS:
        raise ValueError(
            f"unknown rot6d convention {convention!r}; expected one of {ROT6D_CONVENTIONS}"
        )


def matrix_to_rot6d(R: Tensor, convention: str = "rows") -> Tensor:
    """6D representation of rotation matrices ``(..., 3, 3) -> (..., 6)``.

    ``"rows"``: ``[R[0, :], R[1, :]]`` (pytorch3d / diffusion policy); ``"columns"``:
    ``[R[:, 0], R[:, 1]]`` (Zhou et al., :func:`symlab.groups.matrix_to_rotation_6d`).
    """
    _check_convention(convention)
    if convention == "columns":
        return _matrix_to_6d_columns(R)
    return torch.cat([R[..., 0, :], R[..., 1, :]], dim=-1)


def rot6d_to_matrix(d6: Tensor, convention: str = "rows") -> Tensor:
    """Rotation matrices from the 6D representation (Gram-Schmidt), inverse of
    :func:`matrix_to_rot6d` on rotations.

    For ``"rows"`` the two 3-vectors are orthonormalised into the first two rows and the third
    row is their cross product, i.e. the transpose of the ``"columns"`` construction.
    """
    _check_convention(convention)
    R = _columns_6d_to_matrix(d6)
    return R if convention == "columns" else R.transpose(-1, -2)


def quat_xyzw_to_matrix(q: Tensor) -> Tensor:
    """Rotation matrices from robomimic ``(x, y, z, w)`` quaternions."""
    return quaternion_to_matrix(q[..., [3, 0, 1, 2]])


def make_pose(position: Tensor, rotation: Tensor) -> Tensor:
    """Homogeneous ``(..., 4, 4)`` poses from positions ``(..., 3)``, rotations ``(..., 3, 3)``."""
    batch = torch.broadcast_shapes(position.shape[:-1], rotation.shape[:-2])
    T = torch.zeros(*batch, 4, 4, dtype=rotation.dtype, device=rotation.device)
    T[..., :3, :3] = rotation
    T[..., :3, 3] = position
    T[..., 3, 3] = 1.0
    return T


def eef_pose(position: Tensor, quat_xyzw: Tensor) -> Tensor:
    """Gripper poses from robomimic ``robot0_eef_pos`` and ``robot0_eef_quat`` observations."""
    return make_pose(position, quat_xyzw_to_matrix(quat_xyzw))


def invert_pose(T: Tensor) -> Tensor:
    """Inverse of rigid transforms, ``[[R^T, -R^T p], [0, 1]]`` (exact, no matrix inverse)."""
    Rt = T[..., :3, :3].transpose(-1, -2)
    p = T[..., :3, 3:]
    return make_pose(-(Rt @ p)[..., 0], Rt)


def pose_to_vector(T: Tensor, convention: str = "rows") -> Tensor:
    """``(..., 4, 4) -> (..., 9)``: position and 6D rotation."""
    return torch.cat([T[..., :3, 3], matrix_to_rot6d(T[..., :3, :3], convention)], dim=-1)


def vector_to_pose(v: Tensor, convention: str = "rows") -> Tensor:
    """``(..., 9) -> (..., 4, 4)``, inverse of :func:`pose_to_vector`."""
    return make_pose(v[..., :3], rot6d_to_matrix(v[..., 3:9], convention))


def _check_pose_action(actions: Tensor, name: str) -> None:
    if actions.shape[-1] != POSE_ACTION_DIM:
        raise ValueError(
            f"{name}: expected pose actions [pos (3), rot6d (6), gripper (1)] with last dim "
            f"{POSE_ACTION_DIM}, found shape {tuple(actions.shape)}"
        )


def split_pose_action(actions: Tensor, convention: str = "rows") -> tuple[Tensor, Tensor]:
    """``(..., 10) -> ((..., 4, 4) poses, (..., 1) gripper)``."""
    _check_pose_action(actions, "split_pose_action")
    return vector_to_pose(actions[..., :9], convention), actions[..., 9:]


def join_pose_action(T: Tensor, gripper: Tensor, convention: str = "rows") -> Tensor:
    """``((..., 4, 4), (..., 1)) -> (..., 10)``, inverse of :func:`split_pose_action`."""
    return torch.cat([pose_to_vector(T, convention), gripper], dim=-1)


def absolute_to_relative(actions: Tensor, current: Tensor, convention: str = "rows") -> Tensor:
    """Relative-trajectory actions ``T^-1 A_j``.

    Parameters
    ----------
    actions : Tensor
        Absolute pose actions ``(..., H, 10)``.
    current : Tensor
        Current gripper poses ``(..., 4, 4)``.
    """
    A, grip = split_pose_action(actions, convention)
    rel = invert_pose(current)[..., None, :, :] @ A
    return join_pose_action(rel, grip, convention)


def relative_to_absolute(rel: Tensor, current: Tensor, convention: str = "rows") -> Tensor:
    """Absolute pose actions ``T rel_j`` from relative-trajectory actions ``(..., H, 10)``."""
    R, grip = split_pose_action(rel, convention)
    return join_pose_action(current[..., None, :, :] @ R, grip, convention)


def absolute_to_delta(actions: Tensor, current: Tensor, convention: str = "rows") -> Tensor:
    """Body-frame increments ``d_j = A_{j-1}^-1 A_j`` with ``A_{-1} = T`` (``(..., H, 10)``)."""
    A, grip = split_pose_action(actions, convention)
    prev = torch.cat([current[..., None, :, :], A[..., :-1, :, :]], dim=-3)
    return join_pose_action(invert_pose(prev) @ A, grip, convention)


def delta_to_absolute(delta: Tensor, current: Tensor, convention: str = "rows") -> Tensor:
    """Absolute pose actions from body-frame increments: the running product ``T d_0 d_1 ...``.

    The product is sequential in the horizon (16 steps): one batched 4x4 matmul per step.
    """
    D, grip = split_pose_action(delta, convention)
    poses = []
    pose = current
    for j in range(D.shape[-3]):
        pose = pose @ D[..., j, :, :]
        poses.append(pose)
    return join_pose_action(torch.stack(poses, dim=-3), grip, convention)


def gripper_frame_proprio(poses: Tensor, gripper_qpos: Tensor, convention: str = "rows") -> Tensor:
    """Gripper-frame proprioception: an SE(3)-invariant summary of an observation window.

    Parameters
    ----------
    poses : Tensor
        Gripper poses of the window ``(..., To, 4, 4)``; the last step is the current pose.
    gripper_qpos : Tensor
        Finger joint positions ``(..., To, q)``.

    Returns
    -------
    Tensor
        ``(..., 9 (To - 1) + q To)``: the earlier poses expressed in the current gripper frame,
        ``T_t^-1 T_{t-i}`` (position and 6D rotation), followed by the finger positions of every
        step. The current pose itself is the identity in its own frame and carries no
        information, so it is left out.
    """
    current_inv = invert_pose(poses[..., -1, :, :])
    earlier = current_inv[..., None, :, :] @ poses[..., :-1, :, :]
    return torch.cat(
        [pose_to_vector(earlier, convention).flatten(-2), gripper_qpos.flatten(-2)], dim=-1
    )


class ActionConversion(nn.Module):
    """Convert absolute pose actions to a parameterisation and back.

    Parameters
    ----------
    kind : {'absolute', 'relative', 'delta'}
        Which parameterisation the policy predicts (see the module docstring).
    convention : {'rows', 'columns'}
        6D rotation convention of the pose actions.
    workspace_center : sequence of 3 floats
        Subtracted from positions by the ``absolute`` parameterisation.

    Notes
    -----
    ``encode(actions, current)`` maps absolute actions ``(..., H, 10)`` and the current gripper
    poses ``(..., 4, 4)`` to the parameterisation; ``decode`` inverts it. Both are exact
    algebraic inverses up to rounding (and the Gram-Schmidt projection of 6D vectors that are not
    exactly orthonormal).
    """

    workspace_center: Tensor

    def __init__(
        self,
        kind: str = "relative",
        convention: str = "rows",
        workspace_center: Sequence[float] = (0.0, 0.0, 0.0),
    ) -> None:
        super().__init__()
        if kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {kind!r}; expected one of {ACTION_KINDS}")
        _check_convention(convention)
        if len(workspace_center) != 3:
            raise ValueError(f"workspace_center needs 3 values, found {list(workspace_center)}")
        self.kind = kind
        self.convention = convention
        self.register_buffer(
            "workspace_center", torch.tensor(list(workspace_center), dtype=torch.float64)
        )

    def _center(self, like: Tensor) -> Tensor:
        c = torch.zeros(POSE_ACTION_DIM, dtype=like.dtype, device=like.device)
        c[:3] = self.workspace_center.to(like)
        return c

    def encode(self, actions: Tensor, current: Tensor) -> Tensor:
        """Absolute actions ``(..., H, 10)`` -> this parameterisation."""
        if self.kind == "absolute":
            _check_pose_action(actions, "ActionConversion.encode")
            return actions - self._center(actions)
        if self.kind == "relative":
            return absolute_to_relative(actions, current.to(actions), self.convention)
        return absolute_to_delta(actions, current.to(actions), self.convention)

    def decode(self, actions: Tensor, current: Tensor) -> Tensor:
        """This parameterisation ``(..., H, 10)`` -> absolute actions."""
        if self.kind == "absolute":
            _check_pose_action(actions, "ActionConversion.decode")
            return actions + self._center(actions)
        if self.kind == "relative":
            return relative_to_absolute(actions, current.to(actions), self.convention)
        return delta_to_absolute(actions, current.to(actions), self.convention)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, convention={self.convention!r}"


def axis_angle_action_to_pose(actions: Tensor, convention: str = "rows") -> Tensor:
    """robosuite absolute OSC actions ``[pos (3), axis-angle (3), gripper (1)]`` -> pose actions
    ``(..., 10)`` (how diffusion policy trains on robomimic ``abs`` datasets)."""
    if actions.shape[-1] != 7:
        raise ValueError(
            f"expected 7-d actions [pos, axis-angle, gripper], found shape {tuple(actions.shape)}"
        )
    from symlab.groups import axis_angle_to_matrix

    R = axis_angle_to_matrix(actions[..., 3:6])
    return torch.cat([actions[..., :3], matrix_to_rot6d(R, convention), actions[..., 6:]], -1)


def pose_to_axis_angle_action(actions: Tensor, convention: str = "rows") -> Tensor:
    """Pose actions ``(..., 10)`` -> robosuite absolute OSC actions ``(..., 7)`` (the 6D part is
    projected onto a rotation first)."""
    _check_pose_action(actions, "pose_to_axis_angle_action")
    from symlab.groups import matrix_to_axis_angle

    R = rot6d_to_matrix(actions[..., 3:9], convention)
    return torch.cat([actions[..., :3], matrix_to_axis_angle(R), actions[..., 9:]], dim=-1)

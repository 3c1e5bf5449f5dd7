"""Observation preprocessing and normalizers for pose-controlled manipulation policies.

Raw observations follow robomimic: images ``(..., H, W, 3)`` uint8, ``robot0_eef_pos`` (3),
``robot0_eef_quat`` (4, ``x y z w``), ``robot0_gripper_qpos`` (2), with a leading
``(B, To)`` batch and observation-history axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from symlab.data import Normalizer

from ._se3 import eef_pose, gripper_frame_proprio, matrix_to_rot6d

PROPRIO_MODES = ("absolute", "gripper_frame", "pose_steps", "none")


def fit_structured_normalizer(
    x: Tensor | np.ndarray,
    symmetric_groups: Sequence[Sequence[int]] = (),
    identity_dims: Sequence[int] = (),
) -> Normalizer:
    """A ``'limits'`` normalizer with some features scaled jointly about zero or left raw.

    Parameters
    ----------
    x : array-like
        Fit data ``(..., D)``.
    symmetric_groups : sequence of index lists
        Each group of features is scaled by one factor, ``1 / max |x[..., group]|``, with no
        offset: the origin stays the origin and planar rotations of the group commute with the
        normalization (needed for C_N equivariance of ``(x, y)``).
    identity_dims : sequence of int
        Features left unchanged (e.g. a 6D rotation, already in ``[-1, 1]``).

    Returns
    -------
    symlab.data.Normalizer
        Fitted; the other features map their min/max to ``[-1, 1]``.
    """
    norm = Normalizer("limits").fit(x)
    scale, offset = norm.scale.clone(), norm.offset.clone()
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).to(torch.float64)
    for group in symmetric_groups:
        idx = list(group)
        m = float(x[..., idx].abs().max())
        scale[idx] = 1.0 / max(m, norm.range_eps)
        offset[idx] = 0.0
    for i in identity_dims:
        scale[i], offset[i] = 1.0, 0.0
    norm._buffers["scale"] = scale
    norm._buffers["offset"] = offset
    return norm


def pose_action_normalizer(actions: Tensor | np.ndarray) -> Normalizer:
    """Normalizer of 10-d pose actions ``[x, y, z, rot6d, gripper]``.

    ``x`` and ``y`` are scaled jointly by their largest displacement (no offset), ``z`` and the
    gripper by min/max, and the 6D rotation is left unscaled (sym_in_dp's relative-action
    normalizer; it also keeps EquiDiff's absolute actions C_N-equivariant about the workspace
    centre).
    """
    return fit_structured_normalizer(actions, symmetric_groups=[(0, 1)], identity_dims=range(3, 9))


class ObsPreprocessor(nn.Module):
    """Raw observation window -> the tensors a policy's encoder consumes.

    Parameters
    ----------
    image_keys : sequence of str
        Camera observations; converted from ``(B, To, H, W, 3)`` uint8 (or float in
        ``[0, 255]``) to float ``(B, To, 3, H, W)`` in ``[0, 1]``.
    proprio : {'absolute', 'gripper_frame', 'pose_steps', 'none'}
        Proprioception written to the key ``"proprio"``:

        * ``absolute`` (as released by sym_in_dp): ``[eef_pos - center, eef_quat, gripper_qpos]``
          of every step, flattened, ``(B, 9 To)``; not SE(3)-invariant;
        * ``gripper_frame``: :func:`gripper_frame_proprio`, ``(B, 9 (To - 1) + 2 To)``; exactly
          SE(3)-invariant;
        * ``pose_steps`` (EquiDiff): per step ``[eef_pos - center, rot6d rows, gripper_qpos]``,
          ``(B, To, 11)``;
        * ``none``: no proprioception.
    pos_key, quat_key, gripper_key : str
        Raw observation names.
    workspace_center : sequence of 3 floats
        Subtracted from absolute positions.
    """

    def __init__(
        self,
        image_keys: Sequence[str] = ("robot0_eye_in_hand_image",),
        proprio: str = "gripper_frame",
        pos_key: str = "robot0_eef_pos",
        quat_key: str = "robot0_eef_quat",
        gripper_key: str = "robot0_gripper_qpos",
        workspace_center: Sequence[float] = (0.0, 0.0, 0.0),
    ) -> None:
        super().__init__()
        if proprio not in PROPRIO_MODES:
            raise ValueError(f"unknown proprio mode {proprio!r}; expected one of {PROPRIO_MODES}")
        self.image_keys = list(image_keys)
        self.proprio = proprio
        self.pos_key, self.quat_key, self.gripper_key = pos_key, quat_key, gripper_key
        self.register_buffer("center", torch.tensor(list(workspace_center), dtype=torch.float32))

    @property
    def raw_keys(self) -> list[str]:
        """Raw observation keys this preprocessor reads."""
        low = [] if self.proprio == "none" else [self.pos_key, self.quat_key, self.gripper_key]
        return self.image_keys + low

    @property
    def output_keys(self) -> list[str]:
        return self.image_keys + ([] if self.proprio == "none" else ["proprio"])

    def current_pose(self, obs: Mapping[str, Tensor]) -> Tensor:
        """Gripper pose ``(B, 4, 4)`` at the last observation step, in float64."""
        pos = torch.as_tensor(obs[self.pos_key])[:, -1].to(torch.float64)
        quat = torch.as_tensor(obs[self.quat_key])[:, -1].to(torch.float64)
        return eef_pose(pos, quat)

    def images(self, obs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        out = {}
        for key in self.image_keys:
            img = obs[key]
            if img.shape[-1] not in (1, 3, 4):
                raise ValueError(
                    f"image {key!r} must be channels-last (..., H, W, C), found {tuple(img.shape)}"
                )
            out[key] = img.movedim(-1, -3).to(torch.float32) / 255.0
        return out

    def forward(self, obs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        missing = [k for k in self.raw_keys if k not in obs]
        if missing:
            raise KeyError(f"observation is missing {missing}; it has {sorted(obs)}")
        out = self.images(obs)
        if self.proprio == "none":
            return out
        # SE(3) algebra in float64 (robosuite observations are float64), features in float32:
        # the gripper-frame features then lose no precision to a far-away world origin.
        pos, quat, grip = (
            torch.as_tensor(obs[k]).to(torch.float64)
            for k in (self.pos_key, self.quat_key, self.gripper_key)
        )
        center = self.center.to(torch.float64)
        if self.proprio == "absolute":
            out["proprio"] = torch.cat([pos - center, quat, grip], dim=-1).flatten(1)
        elif self.proprio == "gripper_frame":
            out["proprio"] = gripper_frame_proprio(eef_pose(pos, quat), grip)
        else:
            R = eef_pose(pos, quat)[..., :3, :3]
            out["proprio"] = torch.cat([pos - center, matrix_to_rot6d(R), grip], dim=-1)
        out["proprio"] = out["proprio"].to(torch.float32)
        return out

    def proprio_normalizer(self, proprio: Tensor) -> Normalizer:
        """The normalizer for this mode's ``"proprio"`` tensor (fit data from :meth:`forward`)."""
        if self.proprio == "pose_steps":
            # Equivariance about the workspace centre: joint xy scale, raw rotation.
            return fit_structured_normalizer(
                proprio, symmetric_groups=[(0, 1)], identity_dims=range(3, 9)
            )
        return Normalizer("limits").fit(proprio)

    def extra_repr(self) -> str:
        return f"image_keys={self.image_keys}, proprio={self.proprio!r}"

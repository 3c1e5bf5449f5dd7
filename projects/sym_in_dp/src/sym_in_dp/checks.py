"""The paper's symmetry properties as measurements (used by the tests and by ``reproduce``).

Every function returns the largest error it measured, so tests assert bounds and ``reproduce``
records the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from symlab.groups import SE3, matrix_to_quaternion, rotate_image_90, rotate_image_grid_sample
from symlab.policy import (
    ActionConversion,
    DiffusionPolicy,
    eef_pose,
    join_pose_action,
    roll_regular,
    split_pose_action,
)


def act_on_pose_actions(g: Tensor, actions: Tensor) -> Tensor:
    """Change of world frame of absolute pose actions ``(..., 10)``: ``A -> g A``."""
    T, grip = split_pose_action(actions.to(torch.float64))
    return join_pose_action(g.to(torch.float64) @ T, grip)


def transform_observation(g: Tensor, obs: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Move the world by ``g``: gripper poses ``T -> g T`` (float64); the eye-in-hand image,
    which moves with the gripper, and the finger positions are unchanged."""
    out = dict(obs)
    T = g.to(torch.float64) @ eef_pose(
        obs["robot0_eef_pos"].to(torch.float64), obs["robot0_eef_quat"].to(torch.float64)
    )
    out["robot0_eef_pos"] = T[..., :3, 3]
    out["robot0_eef_quat"] = matrix_to_quaternion(T[..., :3, :3])[..., [1, 2, 3, 0]]
    return out


def relative_action_invariance_error(
    dtype: torch.dtype, kind: str = "relative", n: int = 32, seed: int = 0
) -> float:
    """Largest change of relative (or delta) actions under random world-frame changes."""
    gen = torch.Generator().manual_seed(seed)
    se3 = SE3()
    A = se3.sample((n, 16), generator=gen, dtype=dtype, translation_scale=0.3)
    actions = join_pose_action(A, torch.rand((n, 16, 1), generator=gen, dtype=dtype))
    current = se3.sample((n,), generator=gen, dtype=dtype, translation_scale=0.3)
    g = se3.sample((n,), generator=gen, dtype=dtype, translation_scale=2.0)
    conv = ActionConversion(kind)
    T_a, grip = split_pose_action(actions)
    moved = join_pose_action(g[:, None] @ T_a, grip)
    return float((conv.encode(moved, g @ current) - conv.encode(actions, current)).abs().max())


@torch.no_grad()
def end_to_end_invariance_error(
    policy: DiffusionPolicy, obs: Mapping[str, Tensor], n_transforms: int = 3, seed: int = 0
) -> float:
    """``max |policy(g obs) - g policy(obs)|`` over random ``g`` in SE(3), with the same
    diffusion noise for both calls (so the policy is a deterministic function)."""
    policy.eval()
    gen = torch.Generator().manual_seed(seed)
    obs64 = {k: (v.to(torch.float64) if v.is_floating_point() else v) for k, v in obs.items()}
    base = policy.predict_action(obs64, generator=torch.Generator().manual_seed(seed))
    worst = 0.0
    for g in SE3().sample(
        (n_transforms,), generator=gen, dtype=torch.float64, translation_scale=0.5
    ):
        out = policy.predict_action(
            transform_observation(g, obs64), generator=torch.Generator().manual_seed(seed)
        )
        expected = act_on_pose_actions(g, base["action_pred"])
        worst = max(worst, float((out["action_pred"].to(torch.float64) - expected).abs().max()))
    return worst


def _non_invariant_scale(features: Tensor, N: int) -> float:
    """``max |f - mean_h f|`` over the regular blocks: the part of the features that a group
    element can move. Errors are relative to it, so an output dominated by an invariant bias
    cannot make a wrong shift look right."""
    blocks = features.unflatten(-1, (-1, N))
    return float((blocks - blocks.mean(-1, keepdim=True)).abs().max())


@torch.no_grad()
def frame_averaging_errors(fa_encoder, images: Tensor) -> dict[str, float]:
    """Errors of ``FA(R x) = P FA(x)`` for the 90-degree rotation (exact pixel permutation;
    shift by N/4) and the 45-degree rotation (interpolated; shift by N/8), relative to the
    non-invariant part of the features; ``rot90_wrong_direction`` compares with the shift by
    -N/4, relative to the non-invariant part (it must be large: it checks the direction
    convention; left out when the features are nearly invariant and the check says nothing)."""
    fa_encoder.eval()
    N = fa_encoder.N
    base = fa_encoder(images)
    scale = max(float(base.abs().max()), 1e-12)
    rot90 = fa_encoder(rotate_image_90(images, 1))
    err90 = float((rot90 - roll_regular(base, N // 4, N)).abs().max()) / scale
    rot45 = fa_encoder(rotate_image_grid_sample(images, math.pi / 4))
    err45 = float((rot45 - roll_regular(base, N // 8, N)).abs().max()) / scale
    out = {"rot90": err90, "rot45": err45}
    moving = _non_invariant_scale(base, N)
    if moving > 1e-3 * scale:
        wrong = rot90 - roll_regular(base, -(N // 4), N)
        out["rot90_wrong_direction"] = float(wrong.abs().max()) / moving
    return out


@torch.no_grad()
def equivariant_encoder_errors(encoder, images: Tensor) -> dict[str, float]:
    """Relative errors of the escnn encoder: 90 degrees (exact) and 45 degrees (approximate)."""
    encoder.eval()
    N = encoder.N
    base = encoder(images)
    scale = max(float(base.abs().max()), 1e-12)
    err90 = float((encoder(rotate_image_90(images, 1)) - roll_regular(base, N // 4, N)).abs().max())
    out = {"rot90": err90 / scale}
    if N % 8 == 0:
        rot45 = encoder(rotate_image_grid_sample(images, math.pi / 4))
        out["rot45"] = float((rot45 - roll_regular(base, N // 8, N)).abs().max()) / scale
    return out


class ProbeEncoder(torch.nn.Module):
    """A fixed, strongly image-dependent encoder (8x8 average pooling and a random projection).

    Frame Averaging is equivariant for *any* encoder; with a randomly initialised CNN the
    features are dominated by invariant biases, which makes a wrong shift hard to see. The probe
    makes the direction of the shift measurable.
    """

    def __init__(self, N: int, blocks: int = 4, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("weight", torch.randn(blocks * N, 3 * 64, generator=gen))
        self.feature_dim = blocks * N

    def forward(self, x: Tensor) -> Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1) @ self.weight.T


def pose_steps_rotation(k: int, N: int) -> Tensor:
    """Action of C_N element ``k`` on per-step ``[x, y, z, rot6d rows, q1, q2]`` (11-d) and, on
    its first 10 entries, on pose actions ``[x, y, z, rot6d rows, gripper]``."""
    a = 2 * math.pi * k / N
    c, s = math.cos(a), math.sin(a)
    M = torch.eye(11, dtype=torch.float64)
    for i, j in [(0, 1), (3, 6), (4, 7), (5, 8)]:
        M[i, i], M[i, j], M[j, i], M[j, j] = c, -s, s, c
    return M


@torch.no_grad()
def equidiff_equivariance_error(policy: DiffusionPolicy, nobs: Mapping[str, Tensor]) -> float:
    """Relative error of EquiDiff's denoiser under a 90-degree rotation about the workspace
    centre: ``eps(g a, g o, k) = g eps(a, o, k)``; ``nobs`` are normalized encoder inputs
    (``agentview_image``, ``robot0_eye_in_hand_image``, ``proprio`` (B, To, 11))."""
    policy.eval()
    N = policy.denoiser.N
    k = N // 4  # 90 degrees
    M = pose_steps_rotation(k, N).to(torch.float32)
    B = nobs["proprio"].shape[0]
    gen = torch.Generator().manual_seed(0)
    noisy = torch.randn(B, policy.horizon, 10, generator=gen)
    t = torch.randint(0, policy.scheduler_config.num_train_timesteps, (B,), generator=gen)
    rotated = dict(nobs)
    rotated["agentview_image"] = rotate_image_90(nobs["agentview_image"], 1)
    rotated["proprio"] = nobs["proprio"] @ M.T
    out = policy.denoiser(noisy, t, policy.obs_encoder(nobs))
    out_g = policy.denoiser(noisy @ M[:10, :10].T, t, policy.obs_encoder(rotated))
    return float((out_g - out @ M[:10, :10].T).abs().max()) / float(out.abs().max())

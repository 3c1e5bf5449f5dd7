"""The conditional U-Net, the C_N-equivariant layers and EquiDiff's denoiser."""

from __future__ import annotations

import math

import pytest
import torch

from symlab.policy import (
    POSE10_ROWS_FIELDS,
    POSE10_ROWS_ORDER,
    ConditionalUnet1D,
    CyclicUnet1D,
    LinearFromRegular,
    LinearToRegular,
    field_representation,
    roll_regular,
)
from symlab.testing import assert_equivariant

N = 8


def small_unet(**kw):
    return ConditionalUnet1D(
        10, diffusion_step_embed_dim=16, down_dims=(16, 32), n_groups=4, **kw
    ).eval()


def test_unet_shapes_and_conditioning():
    net = small_unet(global_cond_dim=6)
    x = torch.randn(3, 16, 10)
    cond = torch.randn(3, 6)
    out = net(x, torch.tensor([1, 50, 99]), cond)
    assert out.shape == x.shape
    # FiLM: the output depends on both the diffusion step and the observation features.
    assert (net(x, torch.tensor([2, 50, 99]), cond) - out)[0].abs().max() > 1e-6
    assert (net(x, 50, cond + 1) - net(x, 50, cond)).abs().max() > 1e-6
    # A scalar timestep is broadcast over the batch.
    t = torch.full((3,), 7)
    assert torch.allclose(net(x, 7, cond), net(x, t, cond))


def test_unet_rejects_bad_inputs():
    net = ConditionalUnet1D(10, 6, 16, (16, 32, 64), n_groups=4)
    with pytest.raises(ValueError, match="divisible by 2\\*\\*2"):
        net(torch.randn(1, 6, 10), 0, torch.randn(1, 6))
    with pytest.raises(ValueError, match="global_cond must have shape"):
        net(torch.randn(1, 16, 10), 0, torch.randn(1, 5))
    with pytest.raises(ValueError, match="divisible by n_groups"):
        ConditionalUnet1D(10, 0, 16, (12,), n_groups=8)


def test_field_representation_is_a_homomorphism():
    rho = field_representation(["trivial", "irrep1", "regular"], N)
    assert rho.shape == (N, 1 + 2 + N, 1 + 2 + N)
    for a in range(N):
        for b in range(N):
            assert torch.allclose(rho[a] @ rho[b], rho[(a + b) % N], atol=1e-12)
    # Regular fields act by roll: (rho(k) f)[h] = f[h - k].
    f = torch.randn(N, dtype=torch.float64)
    assert torch.allclose(field_representation(["regular"], N)[3] @ f, torch.roll(f, 3))


def _act(rho):
    return lambda k, x: x @ rho[k].T.to(x)


def test_equivariant_linear_layers(generator):
    rho_in = field_representation(list(POSE10_ROWS_FIELDS) + ["regular"], N)
    to_reg = LinearToRegular(rho_in, 5)
    x = torch.randn(7, rho_in.shape[-1], generator=generator)
    sample = lambda n: torch.arange(N)
    assert_equivariant(
        to_reg,
        x,
        sample,
        _act(rho_in),
        lambda k, y: roll_regular(y, k, N),
        n_samples=N,
        tolerance=1e-6,
    )
    rho_out = field_representation(POSE10_ROWS_FIELDS, N)
    from_reg = LinearFromRegular(5, rho_out)
    h = torch.randn(7, 5 * N, generator=generator)
    assert_equivariant(
        from_reg,
        h,
        sample,
        lambda k, y: roll_regular(y, k, N),
        _act(rho_out),
        n_samples=N,
        tolerance=1e-6,
    )
    # The bias only lives on the trivial (invariant) outputs.
    assert from_reg(torch.zeros(1, 5 * N))[0, :8].abs().max() < 1e-7


def pose_action_rotation(k: int, dtype=torch.float64) -> torch.Tensor:
    """10x10 action of the z rotation by 2 pi k / 8 on [x, y, z, rot6d rows, gripper]."""
    a = 2 * math.pi * k / N
    R2 = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=dtype)
    M = torch.eye(10, dtype=dtype)
    M[0:2, 0:2] = R2
    # rows-6D: row0 = R[0, :], row1 = R[1, :]; column j's pair (R[0, j], R[1, j]) rotates.
    for j in range(3):
        idx = [3 + j, 6 + j]
        M[idx[0], idx[0]], M[idx[0], idx[1]] = R2[0, 0], R2[0, 1]
        M[idx[1], idx[0]], M[idx[1], idx[1]] = R2[1, 0], R2[1, 1]
    return M


def test_pose_action_fields_match_the_z_rotation():
    rho = field_representation(POSE10_ROWS_FIELDS, N)
    order = list(POSE10_ROWS_ORDER)
    for k in range(N):
        M = pose_action_rotation(k)
        assert torch.allclose(M[order][:, order], rho[k], atol=1e-12)


def test_equidiff_unet_is_c8_equivariant_for_all_elements(generator):
    """f(g a, g o, k) = g f(a, o, k) for all 8 elements (vector-only inputs: exact)."""
    torch.manual_seed(0)
    net = CyclicUnet1D(
        N,
        global_cond_fields=3,
        act_emb_dim=8,
        diffusion_step_embed_dim=16,
        down_dims=(16, 32),
        n_groups=4,
    ).double()
    x = torch.randn(4, 16, 10, generator=generator, dtype=torch.float64)
    cond = torch.randn(4, 3 * N, generator=generator, dtype=torch.float64)
    t = torch.tensor([0, 10, 50, 99])
    f = lambda a, o: net(a, t, o)
    act_a = lambda k, a: a @ pose_action_rotation(int(k)).T.to(a)
    report = assert_equivariant(
        f,
        (x, cond),
        lambda n: torch.arange(N),
        lambda k, a, o: (act_a(k, a), roll_regular(o, k, N)),
        act_a,
        n_samples=N,
    )
    assert report.max_error < 1e-12
    # Not trivially equivariant: the output is not invariant.
    assert (f(act_a(1, x), roll_regular(cond, 1, N)) - f(x, cond)).abs().max() > 1e-3
    net32 = net.float()
    report32 = assert_equivariant(
        lambda a, o: net32(a, t, o),
        (x.float(), cond.float()),
        lambda n: torch.arange(N),
        lambda k, a, o: (act_a(k, a), roll_regular(o, k, N)),
        act_a,
        n_samples=N,
        tolerance=1e-5,
    )
    assert report32.max_error < 1e-5

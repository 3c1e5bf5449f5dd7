"""Symmetry checks of the paper's claims (E1-E5 of the brief), shared by tests and ``reproduce``.

Each returns a :class:`symlab.testing.EquivarianceReport` (relative errors over sampled group
elements) or plain numbers, so the tests assert bounds and ``reproduce`` records the measured
values. Group elements are rigid motions ``x -> R x + t`` with ``t ~ U[-1, 1]^3``.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from symlab.testing import EquivarianceReport, equivariance_errors

from .data import KeyframeBatch
from .model import EquAct
from .so3 import grid_permutation, octahedral_group, rotate_degrees, wigner_D


def random_rigid(generator: torch.Generator, dtype=torch.float64):
    """A sampler of ``n`` rigid motions ``(R, t)``: R Haar-random (QR of a Gaussian)."""

    def sample(n: int):
        out = []
        for _ in range(n):
            q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
            q = q * torch.sign(torch.diagonal(r))
            if torch.det(q) < 0:
                q[:, 0] = -q[:, 0]
            t = torch.rand(3, generator=generator, dtype=torch.float64) * 2 - 1
            out.append((q.to(dtype), t.to(dtype)))
        return out

    return sample


def octahedral_rigid(generator: torch.Generator, dtype=torch.float64):
    """All 24 octahedral rotations (cycled), each with a random translation."""
    group = octahedral_group(dtype)

    def sample(n: int):
        t = torch.rand(n, 3, generator=generator, dtype=torch.float64).to(dtype) * 2 - 1
        return [(group[i % 24], t[i]) for i in range(n)]

    return sample


def _move(g, batch: KeyframeBatch) -> KeyframeBatch:
    return batch.transformed(g[0], g[1])


def unet_equivariance(
    policy: EquAct, batch: KeyframeBatch, cond: torch.Tensor, sampler, n_samples: int
) -> EquivarianceReport:
    """E1: ``f(g x) = D(g) f(x)`` for the EPTU output features (scene + gripper points)."""

    def features(b: KeyframeBatch):
        pos, scalars, vectors = policy.points(b)
        return policy.unet(pos, scalars, vectors, cond)[1]

    return equivariance_errors(
        features,
        (batch,),
        sampler,
        _move,
        lambda g, f: rotate_degrees(f, g[0]),
        n_samples=n_samples,
    )


def instruction_sensitivity(policy: EquAct, batch: KeyframeBatch, cond_a, cond_b) -> float:
    """E2: relative change of the U-Net features when the condition is swapped."""
    with torch.no_grad():
        pos, scalars, vectors = policy.points(batch)
        fa = policy.unet(pos, scalars, vectors, cond_a)[1]
        fb = policy.unet(pos, scalars, vectors, cond_b)[1]
    scale = max(float(f.abs().max()) for f in fa)
    return max(float((a - b).abs().max()) for a, b in zip(fa, fb)) / scale


def translation_invariance(
    policy: EquAct, batch: KeyframeBatch, ghost: torch.Tensor, sampler, n_samples: int
) -> EquivarianceReport:
    """E3: ``Q_trans(g x, g q) = Q_trans(x, q)`` and the gripper logit at ``g p`` is invariant."""

    def scores(b: KeyframeBatch, q: torch.Tensor):
        cond = policy.condition(b)
        scene = policy.encode(b, cond)
        q_trans = policy.translation_scores(scene, q, cond)
        _, open_logit = policy.rotation_outputs(scene, b.target_pos, cond)
        return q_trans, open_logit

    def act(g, b, q):
        return _move(g, b), q @ g[0].T + g[1]

    return equivariance_errors(scores, (batch, ghost), sampler, act, None, n_samples=n_samples)


def fourier_equivariance(
    policy: EquAct, batch: KeyframeBatch, sampler, n_samples: int
) -> EquivarianceReport:
    """E4b: the SO(3) Fourier coefficients at the target position transform as ``D^l(R) F_l``."""
    lmax = policy.model_cfg.rot_lmax

    def coefficients(b: KeyframeBatch):
        cond = policy.condition(b)
        scene = policy.encode(b, cond)
        return policy.rotation_outputs(scene, b.target_pos, cond)[0]

    def act_out(g, coeffs):
        out, start = [], 0
        for deg in range(lmax + 1):
            d = 2 * deg + 1
            block = coeffs[:, start : start + d * d].view(-1, d, d)
            out.append((wigner_D(deg, g[0]) @ block).flatten(1))
            start += d * d
        return torch.cat(out, dim=1)

    return equivariance_errors(coefficients, (batch,), sampler, _move, act_out, n_samples=n_samples)


def rotation_permutation(
    policy: EquAct, batch: KeyframeBatch, sampler, n_samples: int, split: str = "eval"
) -> EquivarianceReport:
    """E4: with a grid closed under the octahedral group, ``Q(g x)[i] = Q(x)[pi_g(i)]`` where
    ``grid[pi_g(i)] = g^-1 grid[i]``."""
    grid, _ = policy.rotation_grid(split, batch.xyz.device, batch.xyz.dtype)

    def scores(b: KeyframeBatch):
        cond = policy.condition(b)
        scene = policy.encode(b, cond)
        return policy.rotation_scores(policy.rotation_outputs(scene, b.target_pos, cond)[0], split)

    def act_out(g, q):
        return q[:, grid_permutation(grid, g[0])]

    return equivariance_errors(scores, (batch,), sampler, _move, act_out, n_samples=n_samples)


def end_to_end(policy: EquAct, batch: KeyframeBatch, g, seed: int = 0) -> dict[str, float]:
    """E5: ``predict(g scene) = g predict(scene)`` with the same ghost-point draws; returns the
    position error (m) and rotation error (deg) of the transformed prediction."""
    from .so3 import geodesic_angle

    a = policy.predict(batch, torch.Generator().manual_seed(seed))
    b = policy.predict(_move(g, batch), torch.Generator().manual_seed(seed))
    expected_pos = a["position"] @ g[0].T + g[1]
    expected_rot = g[0] @ a["rotation"]
    return {
        "position": float((b["position"] - expected_pos).norm(dim=-1).max()),
        "rotation_deg": float(torch.rad2deg(geodesic_angle(b["rotation"], expected_rot)).max()),
        "open": float((b["open"] - a["open"]).abs().max()),
    }


def with_cond(batch: KeyframeBatch, cond_tokens: torch.Tensor) -> KeyframeBatch:
    return replace(batch, tokens=cond_tokens)

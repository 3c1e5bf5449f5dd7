"""Baselines: HNN-Transformer (Euler / leapfrog), vanilla Transformer and ResNet predicting state
increments (all with the same autodecoder codes as the DHN), and a 1D-CNN upsampler for
interpolation (without codes, as in the reference).

The vanilla Transformer attends over the three tokens ``[z, q, p]`` *of one trajectory state*.
The brief reports that the reference feeds ``[B, 3, d]`` into a sequence-first encoder layer, so
that attention runs across the batch; the revision of the reference we read (dhn-exps 2d9cb60)
sets ``batch_first=True`` for this network, i.e. attends within each state, as here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .model import EncoderLayer, ModelConfig, hamiltonian_grads


class StateTransformer(nn.Module):
    """Encoder over the tokens ``[z, q, p]`` of single states (``q, p``: ``[..., D]``)."""

    def __init__(self, cfg: ModelConfig, out: int) -> None:
        super().__init__()
        d = cfg.hidden
        self.z_emb = nn.Linear(cfg.z_dim, d)
        self.q_emb = nn.Linear(cfg.dim, d)
        self.p_emb = nn.Linear(cfg.dim, d)
        self.pos = nn.Parameter(torch.randn(3, d) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer(d, cfg.heads, 4 * d) for _ in range(cfg.layers))
        self.out = out
        self.heads = nn.ModuleList(nn.Linear(d, cfg.dim if out > 1 else 1) for _ in range(out))

    def tokens(self, q, p, z):
        x = torch.stack([self.z_emb(z), self.q_emb(q), self.p_emb(p)], dim=-2) + self.pos
        for layer in self.layers:
            x = layer(x)  # attention over the 3 tokens of each sample only
        return x


class AutodecoderModel(nn.Module):
    """Common codebook handling for the baselines."""

    def __init__(self, cfg: ModelConfig, n_codes: int, normalize_codes: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.normalize_codes = normalize_codes
        self.codes = nn.Embedding(n_codes, cfg.z_dim)
        nn.init.normal_(self.codes.weight, std=0.01)

    def code(self, idx, codes=None):
        z = self.codes(idx) if codes is None else codes[idx]
        return F.normalize(z, dim=-1) if self.normalize_codes else z

    def step_loss(self, q, p, q_next, p_next, z):
        qn, pn = self.step(q, p, z)
        return F.mse_loss(qn, q_next) + F.mse_loss(pn, p_next)

    def rollout(self, q, p, z, n_init, method: str = "euler"):
        """Autoregressive rollout from the first ``n_init`` states of ``[B, T, D]``."""
        q_pred, p_pred = q.clone(), p.clone()
        qc, pc = q[:, n_init - 1], p[:, n_init - 1]
        for t in range(n_init, q.shape[1]):
            qc, pc = self.step(qc, pc, z, method) if method != "euler" else self.step(qc, pc, z)
            qc, pc = qc.detach(), pc.detach()
            q_pred[:, t], p_pred[:, t] = qc, pc
        return q_pred, p_pred


class HNNTransformer(AutodecoderModel):
    """HNN: ``H(z, q, p)`` from a transformer over ``[z, q, p]``; ``q' = q + dH/dp``,
    ``p' = p - dH/dq`` (forward Euler, ``dt`` absorbed into ``H``), or leapfrog at rollout."""

    def __init__(self, cfg, n_codes, normalize_codes=False):
        super().__init__(cfg, n_codes, normalize_codes)
        self.net = StateTransformer(cfg, out=1)

    def hamiltonian(self, q, p, a_q, a_p, z):
        """Scalar ``H`` (the ``a`` arguments only keep the DHN signature)."""
        return self.net.heads[0](self.net.tokens(q, p, z)[..., 0, :])[..., 0]

    def grads(self, q, p, z):
        one = torch.ones_like(q)
        return hamiltonian_grads(self.hamiltonian, q, p, one, one, z, self.cfg.grad_backend)

    def step(self, q, p, z, method: str = "euler"):
        if method == "euler":
            d_q, d_p = self.grads(q, p, z)
            return q + d_p, p - d_q
        if method == "leapfrog":
            # standard kick-drift-kick with the learned unit step (the reference drifts q by only
            # half a step, inconsistent with its Euler training target)
            d_q, _ = self.grads(q, p, z)
            p_half = p - 0.5 * d_q
            _, d_p = self.grads(q, p_half, z)
            q_next = q + d_p
            d_q2, _ = self.grads(q_next, p_half, z)
            return q_next, p_half - 0.5 * d_q2
        raise ValueError(f"unknown integrator {method!r}; use 'euler' or 'leapfrog'")


class VanillaTransformer(AutodecoderModel):
    """Predicts the increments ``(dq, dp)`` from the ``q`` and ``p`` tokens of ``[z, q, p]``."""

    def __init__(self, cfg, n_codes, normalize_codes=False):
        super().__init__(cfg, n_codes, normalize_codes)
        self.net = StateTransformer(cfg, out=2)

    def step(self, q, p, z):
        x = self.net.tokens(q, p, z)
        return q + self.net.heads[0](x[..., 1, :]), p + self.net.heads[1](x[..., 2, :])


class VanillaResNet(AutodecoderModel):
    """MLP with ``n_blocks`` residual blocks on ``[z, q, p]`` predicting ``(dq, dp)``."""

    def __init__(self, cfg, n_codes, normalize_codes=False, n_blocks: int = 2):
        super().__init__(cfg, n_codes, normalize_codes)
        d = cfg.hidden
        self.inp = nn.Linear(cfg.z_dim + 2 * cfg.dim, d)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d)) for _ in range(n_blocks)
        )
        self.outp = nn.Linear(d, 2 * cfg.dim)

    def step(self, q, p, z):
        h = self.inp(torch.cat([z, q, p], -1))
        for blk in self.blocks:
            h = h + blk(F.relu(h))
        dq, dp = self.outp(F.relu(h)).chunk(2, -1)
        return q + dq, p + dp


class CNNUpsampler(nn.Module):
    """1D-CNN interpolation baseline, as in the reference (``models/baseline_cnn.py``): no latent
    code; a convolution on the given coarse states, then per factor-2 stage a linear x2
    interpolation of the features (``align_corners``) and a convolution + ReLU, then an output
    convolution to ``(q, p)`` on the fine grid (kernel 3 throughout)."""

    def __init__(self, cfg: ModelConfig, stages: int, channels: int | None = None) -> None:
        super().__init__()
        c = channels or cfg.hidden
        self.dim = cfg.dim
        self.inp = nn.Conv1d(2 * cfg.dim, c, 3, padding=1)
        self.convs = nn.ModuleList(nn.Conv1d(c, c, 3, padding=1) for _ in range(stages))
        self.outp = nn.Conv1d(c, 2 * cfg.dim, 3, padding=1)

    def forward(self, q: torch.Tensor, p: torch.Tensor):
        """``q, p``: the given states ``[B, T, D]`` -> ``[B, (T - 1) 2^stages + 1, D]`` each."""
        x = self.inp(torch.cat([q, p], -1).transpose(1, 2))
        for conv in self.convs:
            x = F.interpolate(x, size=2 * x.shape[-1] - 1, mode="linear", align_corners=True)
            x = F.relu(conv(x))
        out = self.outp(x).transpose(1, 2)
        return out[..., : self.dim], out[..., self.dim :]


def linear_upsample(x: torch.Tensor, gap: int) -> torch.Tensor:
    """Linear interpolation of every ``gap``-th state of ``[B, T, D]`` back onto all ``T``."""
    coarse = x[:, ::gap]
    w = torch.arange(gap, dtype=x.dtype) / gap
    left, right = coarse[:, :-1, None], coarse[:, 1:, None]
    fine = (left * (1 - w[:, None]) + right * w[:, None]).reshape(x.shape[0], -1, x.shape[-1])
    return torch.cat([fine, coarse[:, -1:]], 1)

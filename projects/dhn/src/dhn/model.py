"""The Denoising Hamiltonian Network: block Hamiltonians, masks, noising, losses and generation.

Shapes: a trajectory is ``[B, T, D]``; a block is ``[..., b, D]`` (``b`` consecutive states); noise
levels ``a`` have the shape of the entries they describe (``a = 1`` known/clean, ``a = 0`` pure
noise). ``H`` networks take one *unbatched* sample ``(q [b, D], p [b, D], a_q, a_p, z [z_dim])`` and
return a scalar, so ``vmap(jacrev(H))`` gives per-sample gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelConfig:
    """Network and block settings (paper: d = 128, 2 layers, 4 heads, FFN 4d, b/s = 4/2)."""

    dim: int = 1
    z_dim: int = 64
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    block: int = 4
    stride: int = 2
    noise_scales: int = 10
    grad_backend: str = "jacrev"


class EncoderLayer(nn.Module):
    """Post-norm transformer layer (ReLU FFN, no dropout), written with plain matmuls so it works
    for any leading batch dims, under ``vmap`` and with double backward (no fused SDPA kernel)."""

    def __init__(self, d: int, heads: int, ffn: int) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"hidden size {d} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ff1 = nn.Linear(d, ffn)
        self.ff2 = nn.Linear(ffn, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *lead, t, d = x.shape
        h = self.heads
        qkv = self.qkv(x).reshape(*lead, t, 3, h, d // h).movedim(-2, -4)  # [..., h, t, 3, dh]
        q, k, v = qkv.unbind(-2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        y = (att @ v).movedim(-3, -2).reshape(*lead, t, d)
        x = self.norm1(x + self.out(y))
        return self.norm2(x + self.ff2(F.relu(self.ff1(x))))


class HamiltonianTransformer(nn.Module):
    """Scalar block Hamiltonian over the tokens ``[z, q_1..q_b, p_1..p_b]``.

    Each token type has its own linear embedding; a learned positional embedding and a noise-level
    embedding ``Embedding(noise_scales + 1, d)`` indexed by ``round(noise_scales * a)`` are added
    (``a`` is averaged over the coordinates of a state; the reference reads coordinate 0 only).
    ``H`` is read from the ``z`` token.
    """

    def __init__(self, cfg: ModelConfig, block: int | None = None) -> None:
        super().__init__()
        b = cfg.block if block is None else block
        d = cfg.hidden
        self.noise_scales = cfg.noise_scales
        self.z_emb = nn.Linear(cfg.z_dim, d)
        self.q_emb = nn.Linear(cfg.dim, d)
        self.p_emb = nn.Linear(cfg.dim, d)
        self.pos = nn.Parameter(torch.randn(1 + 2 * b, d) * 0.02)
        self.level_emb = nn.Embedding(cfg.noise_scales + 1, d)
        self.layers = nn.ModuleList(EncoderLayer(d, cfg.heads, 4 * d) for _ in range(cfg.layers))
        self.head = nn.Linear(d, 1)

    def forward(self, q, p, a_q, a_p, z):
        """``q, p, a_q, a_p``: ``[..., b, D]``; ``z``: ``[..., z_dim]``; returns ``H`` ``[...]``."""
        x = torch.cat([self.z_emb(z).unsqueeze(-2), self.q_emb(q), self.p_emb(p)], dim=-2)
        level = torch.cat([torch.ones_like(a_q[..., :1, 0]), a_q.mean(-1), a_p.mean(-1)], dim=-1)
        idx = torch.round(level.detach() * self.noise_scales).long()
        x = x + self.pos + self.level_emb(idx)
        for layer in self.layers:
            x = layer(x)
        return self.head(x[..., 0, :])[..., 0]


HFn = Callable[..., torch.Tensor]


def hamiltonian_grads(h: HFn, x1, x2, a1, a2, z, backend: str = "jacrev"):
    """Per-sample ``(dH/dx1, dH/dx2)`` of ``h(x1, x2, a1, a2, z)`` over a batch (dim 0).

    ``backend="jacrev"`` uses ``vmap(jacrev(h))`` (the paper's implementation); ``"autograd"``
    sums ``H`` over the batch and differentiates once (same numbers, samples are independent).
    Both keep the graph so the gradients can be trained.
    """
    if backend == "jacrev":
        return torch.vmap(torch.func.jacrev(h, argnums=(0, 1)))(x1, x2, a1, a2, z)
    if backend == "autograd":
        with torch.enable_grad():
            if not x1.requires_grad:
                x1 = x1.detach().requires_grad_(True)
            if not x2.requires_grad:
                x2 = x2.detach().requires_grad_(True)
            out = h(x1, x2, a1, a2, z).sum()
            return torch.autograd.grad(out, (x1, x2), create_graph=torch.is_grad_enabled())
    raise ValueError(f"unknown grad_backend {backend!r}; use 'jacrev' or 'autograd'")


def h_plus_update(h, q_src, p_tgt, a_q, a_p, z, q_base=None, p_base=None, backend="jacrev"):
    """Forward block Hamiltonian: ``Q_tgt = Q_src + dH+/dP_tgt``, ``P_src = P_tgt + dH+/dQ_src``.

    The residual bases default to the inputs (``q_base``/``p_base`` select clean or noised bases).
    """
    d_q, d_p = hamiltonian_grads(h, q_src, p_tgt, a_q, a_p, z, backend)
    q_base = q_src if q_base is None else q_base
    p_base = p_tgt if p_base is None else p_base
    return q_base + d_p, p_base + d_q


def h_minus_update(h, q_tgt, p_src, a_q, a_p, z, q_base=None, p_base=None, backend="jacrev"):
    """Backward block Hamiltonian: ``Q_src = Q_tgt - dH-/dP_src``,
    ``P_tgt = P_src - dH-/dQ_tgt``."""
    d_q, d_p = hamiltonian_grads(h, q_tgt, p_src, a_q, a_p, z, backend)
    q_base = q_tgt if q_base is None else q_base
    p_base = p_src if p_base is None else p_base
    return q_base - d_p, p_base - d_q


# ---------------------------------------------------------------- blocks, masks and noise


def block_windows(x: torch.Tensor, b: int) -> torch.Tensor:
    """All windows of ``b`` consecutive states: ``[B, T, D] -> [B, T - b + 1, b, D]``."""
    return x.unfold(1, b, 1).movedim(-1, -2)


def src_tgt_blocks(x: torch.Tensor, b: int, s: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Source blocks ``x[t:t+b]`` and target blocks ``x[t+s:t+s+b]`` for every valid ``t``."""
    w = block_windows(x, b)
    n = w.shape[1] - s
    if n <= 0:
        raise ValueError(f"a trajectory of {x.shape[1]} states has no block pair with b={b}, s={s}")
    return w[:, :n], w[:, s:]


def unblock(blocks: torch.Tensor, s: int) -> torch.Tensor:
    """Re-assemble blocks taken every ``s`` states (``[B, N, b, D]``) into ``[B, T, D]``,
    averaging the entries that several blocks cover (the super-resolution merge)."""
    bsz, n, b, d = blocks.shape
    t = (n - 1) * s + b
    idx = (torch.arange(n)[:, None] * s + torch.arange(b)[None]).reshape(-1)
    total = blocks.new_zeros(bsz, t, d).index_add_(1, idx, blocks.reshape(bsz, n * b, d))
    count = blocks.new_zeros(t).index_add_(0, idx, blocks.new_ones(n * b))
    if (count == 0).any():
        raise ValueError(f"blocks of size {b} with stride {s} leave gaps")
    return total / count[None, :, None]


@dataclass
class Masks:
    """Known (1) / unknown (0) entries of the four blocks, each ``[b, D]``."""

    q_src: torch.Tensor
    p_src: torch.Tensor
    q_tgt: torch.Tensor
    p_tgt: torch.Tensor


def forward_masks(b: int, s: int, dim: int) -> Masks:
    """Forward simulation: the source block is known; the last ``s`` target states are unknown."""
    one = torch.ones(b, dim)
    tgt = one.clone()
    tgt[b - s :] = 0
    return Masks(one, one.clone(), tgt, tgt.clone())


def representation_masks(b: int, dim: int, generator: torch.Generator | None = None) -> Masks:
    """Representation learning: a random half of the block positions is unknown, drawn
    independently for the source and target blocks (shared by ``q`` and ``p`` and the batch)."""

    def half():
        m = torch.ones(b, dim)
        m[torch.randperm(b, generator=generator)[: b // 2]] = 0
        return m

    src, tgt = half(), half()
    return Masks(src, src.clone(), tgt, tgt.clone())


def superres_masks(dim: int) -> Masks:
    """Super-resolution with ``b = 2, s = 1``: only ``q_src[0], p_src[0], q_tgt[1], p_tgt[1]``
    (the two outer states) are known."""
    first = torch.tensor([[1.0], [0.0]]).expand(2, dim).clone()
    last = first.flip(0)
    return Masks(first, first.clone(), last, last.clone())


def add_noise(
    x: torch.Tensor,
    mask: torch.Tensor,
    level: float | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise the unknown entries: ``x~ = a x + (1 - a) eps``, ``eps ~ N(0, I)``.

    Unknown entries (``mask = 0``) get ``a ~ U[0, 1]`` per element, or ``a = level`` when given;
    known entries keep ``a = 1`` and are returned unchanged. Returns ``(x~, a)``.
    """
    mask = mask.expand_as(x)
    if level is None:
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    else:
        u = torch.full_like(x, float(level))
    a = mask + u * (1 - mask)
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return torch.where(mask.bool(), x, a * x + (1 - a) * eps), a


# ---------------------------------------------------------------- the network


class DHN(nn.Module):
    """One or more stages, each with a forward ``H+`` and backward ``H-`` block Hamiltonian, plus
    the autodecoder codebook (one latent code per training trajectory).

    Parameters
    ----------
    cfg : ModelConfig
    n_codes : int
        Number of trajectories (codes) in the codebook.
    stages : int
        Number of stages (3 for super-resolution, 1 otherwise).
    normalize_codes : bool
        L2-normalise the codes (representation learning).
    """

    def __init__(
        self, cfg: ModelConfig, n_codes: int, stages: int = 1, normalize_codes: bool = False
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.normalize_codes = normalize_codes
        self.h_plus = nn.ModuleList(HamiltonianTransformer(cfg) for _ in range(stages))
        self.h_minus = nn.ModuleList(HamiltonianTransformer(cfg) for _ in range(stages))
        self.codes = nn.Embedding(n_codes, cfg.z_dim)
        nn.init.normal_(self.codes.weight, std=0.01)

    def code(self, idx: torch.Tensor, codes: torch.Tensor | None = None) -> torch.Tensor:
        """Latent codes of trajectories ``idx`` (from ``codes`` when given, e.g. re-fit ones)."""
        z = self.codes(idx) if codes is None else codes[idx]
        return F.normalize(z, dim=-1) if self.normalize_codes else z

    def plus(self, stage, q_src, p_tgt, a_q, a_p, z, q_base=None, p_base=None):
        return h_plus_update(
            self.h_plus[stage], q_src, p_tgt, a_q, a_p, z, q_base, p_base, self.cfg.grad_backend
        )

    def minus(self, stage, q_tgt, p_src, a_q, a_p, z, q_base=None, p_base=None):
        return h_minus_update(
            self.h_minus[stage], q_tgt, p_src, a_q, a_p, z, q_base, p_base, self.cfg.grad_backend
        )

    def block_loss(
        self,
        stage: int,
        q_src,
        p_src,
        q_tgt,
        p_tgt,
        z,
        masks: Masks,
        base_with_noise: bool,
        use_out_mask: bool,
        w_eom: float = 1.0,
        w_denoise: float = 0.1,
        generator=None,
    ) -> tuple[torch.Tensor, dict]:
        """``w_eom L_eom + w_denoise L_denoise`` on flat blocks ``[N, b, D]`` with codes ``[N, z]``.

        ``L_eom``: the four MSE terms (``Q_tgt, P_src`` from ``H+``; ``Q_src, P_tgt`` from ``H-``)
        on clean inputs. ``L_denoise``: the same terms with the unknown input entries noised.
        """
        n = q_src.shape[0]

        def noised(x, m):
            xn, a = add_noise(x, m, generator=generator)
            return xn, a, (xn if base_with_noise else x)

        def paste(pred, gt, m):
            return torch.where(m.bool().expand_as(pred), gt, pred) if use_out_mask else pred

        def both(clean, noisy):
            # the clean (L_eom) and noised (L_denoise) samples go through one network call
            return torch.cat([clean, noisy], 0)

        one = torch.ones_like(q_src)
        qsn, aqs, qsb = noised(q_src, masks.q_src)
        ptn, apt, ptb = noised(p_tgt, masks.p_tgt)
        qtn, aqt, qtb = noised(q_tgt, masks.q_tgt)
        psn, aps, psb = noised(p_src, masks.p_src)
        zz = both(z, z)
        qt_all, ps_all = self.plus(
            stage,
            both(q_src, qsn),
            both(p_tgt, ptn),
            both(one, aqs),
            both(one, apt),
            zz,
            both(q_src, qsb),
            both(p_tgt, ptb),
        )
        qs_all, pt_all = self.minus(
            stage,
            both(q_tgt, qtn),
            both(p_src, psn),
            both(one, aqt),
            both(one, aps),
            zz,
            both(q_tgt, qtb),
            both(p_src, psb),
        )
        qt, qt_d = qt_all[:n], qt_all[n:]
        ps, ps_d = ps_all[:n], ps_all[n:]
        qs, qs_d = qs_all[:n], qs_all[n:]
        pt, pt_d = pt_all[:n], pt_all[n:]
        l_eom = (
            F.mse_loss(qt, q_tgt)
            + F.mse_loss(ps, p_src)
            + F.mse_loss(qs, q_src)
            + F.mse_loss(pt, p_tgt)
        )
        l_dn = (
            F.mse_loss(paste(qt_d, q_tgt, masks.q_tgt), q_tgt)
            + F.mse_loss(paste(ps_d, p_src, masks.p_src), p_src)
            + F.mse_loss(paste(qs_d, q_src, masks.q_src), q_src)
            + F.mse_loss(paste(pt_d, p_tgt, masks.p_tgt), p_tgt)
        )
        loss = w_eom * l_eom + w_denoise * l_dn
        return loss, {"eom": float(l_eom.detach()), "denoise": float(l_dn.detach())}


# ---------------------------------------------------------------- generation


def rollout(
    model: DHN,
    q: torch.Tensor,
    p: torch.Tensor,
    z: torch.Tensor,
    n_init: int,
    denoise_steps: int,
    update: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward simulation by block denoising (the reference ``gen_sequence``).

    The first ``n_init`` states of ``q, p`` (``[B, T, D]``) are given. A window ``src`` of the
    last ``b`` states and ``tgt = src + s`` slides along; for ``i = 0..K`` (``a_i = i / K``)
    ``H+`` predicts ``Q_tgt`` from ``(Q_src, P_tgt~)`` and ``H-`` predicts ``P_tgt`` from
    ``(Q_tgt~, P_src)``, the unknown entries being re-noised to level ``a_i`` before each call.
    Then ``update`` new states are written and the window moves on.
    """
    cfg = model.cfg
    b, s = cfg.block, cfg.stride
    update = s if update is None else update
    if not 1 <= update <= s:
        raise ValueError(f"update step {update} must be in [1, s={s}]")
    bsz, t_total, dim = q.shape
    q_pred, p_pred = q.clone(), p.clone()
    q_pred[:, n_init:] = 0
    p_pred[:, n_init:] = 0
    masks = forward_masks(b, s, dim)
    known = masks.q_tgt.bool().expand(bsz, b, dim)
    one = torch.ones(bsz, b, dim, dtype=q.dtype)
    start = n_init - b
    if start < 0:
        raise ValueError(f"n_init={n_init} is shorter than the block size {b}")
    while start + b < t_total:
        # near the end the window is moved back so that the target block stays inside the
        # trajectory; only the states not written yet are taken from it
        win = min(start, t_total - s - b)
        src = slice(win, win + b)
        tgt = slice(win + s, win + s + b)
        q_src, p_src = q_pred[:, src], p_pred[:, src]
        q_tgt, p_tgt = q_pred[:, tgt].clone(), p_pred[:, tgt].clone()
        for i in range(denoise_steps + 1):
            level = i / denoise_steps
            p_in, a_p = add_noise(p_tgt, masks.p_tgt, level, generator)
            q_new, _ = model.plus(0, q_src, p_in, one, a_p, z, q_src, p_in)
            q_tgt = torch.where(known, q_tgt, q_new.detach())
            q_in, a_q = add_noise(q_tgt, masks.q_tgt, level, generator)
            _, p_new = model.minus(0, q_in, p_src, a_q, one, z, q_in, p_src)
            p_tgt = torch.where(known, p_tgt, p_new.detach())
        first = start + b  # first state not written yet
        count = min(update, t_total - first)
        off = first - (win + s)  # its position inside the target block
        q_pred[:, first : first + count] = q_tgt[:, off : off + count]
        p_pred[:, first : first + count] = p_tgt[:, off : off + count]
        start += count
    return q_pred, p_pred


def superres(
    model: DHN,
    q: torch.Tensor,
    p: torch.Tensor,
    z: torch.Tensor,
    factor_log2: int,
    denoise_steps: int,
    generator: torch.Generator | None = None,
):
    """Trajectory interpolation: ``q, p`` are ``[B, T, D]`` on the fine grid of which every
    ``2**factor_log2``-th state is given; stage ``i`` fills the midpoints of gap
    ``2**(factor_log2 - i)`` with ``b = 2, s = 1`` blocks ``(x_l, x_m), (x_m, x_r)`` whose outer
    states are known, averaging the two predictions of the shared middle state."""
    bsz, t_total, dim = q.shape
    gap = 2**factor_log2
    if (t_total - 1) % gap:
        raise ValueError(f"{t_total} states do not split into gaps of {gap}")
    q_pred, p_pred = torch.zeros_like(q), torch.zeros_like(p)
    q_pred[:, ::gap], p_pred[:, ::gap] = q[:, ::gap], p[:, ::gap]
    masks = superres_masks(dim)
    for stage in range(factor_log2):
        step = gap // 2 ** (stage + 1)
        left = q_pred[:, : -2 * step : 2 * step], p_pred[:, : -2 * step : 2 * step]
        right = q_pred[:, 2 * step :: 2 * step], p_pred[:, 2 * step :: 2 * step]
        n = left[0].shape[1]
        zz = z[:, None].expand(bsz, n, z.shape[-1]).reshape(bsz * n, -1)
        ql, pl = (x.reshape(bsz * n, 1, dim) for x in left)
        qr, pr = (x.reshape(bsz * n, 1, dim) for x in right)
        qm = torch.zeros_like(ql)
        pm = torch.zeros_like(pl)
        for i in range(denoise_steps + 1):
            level = i / denoise_steps
            q_src, a_qs = add_noise(torch.cat([ql, qm], 1), masks.q_src, level, generator)
            p_tgt, a_pt = add_noise(torch.cat([pm, pr], 1), masks.p_tgt, level, generator)
            q_tgt_hat, p_src_hat = model.plus(stage, q_src, p_tgt, a_qs, a_pt, zz, q_src, p_tgt)
            q_tgt, a_qt = add_noise(
                torch.cat([q_tgt_hat[:, :1].detach(), qr], 1), masks.q_tgt, level, generator
            )
            p_src, a_ps = add_noise(
                torch.cat([pl, p_src_hat[:, 1:].detach()], 1), masks.p_src, level, generator
            )
            q_src_hat, p_tgt_hat = model.minus(stage, q_tgt, p_src, a_qt, a_ps, zz, q_tgt, p_src)
            qm = 0.5 * (q_tgt_hat[:, :1] + q_src_hat[:, 1:]).detach()
            pm = 0.5 * (p_src_hat[:, 1:] + p_tgt_hat[:, :1]).detach()
        q_pred[:, step :: 2 * step] = qm.reshape(bsz, n, dim)
        p_pred[:, step :: 2 * step] = pm.reshape(bsz, n, dim)
    return q_pred, p_pred

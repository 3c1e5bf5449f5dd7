"""SE(3)-equivariant layers on point clouds with spherical Fourier (steerable) features.

Features are lists over degrees ``l = 0..lmax`` of tensors ``(B, N, C, 2l+1)`` in e3nn's real
spherical-harmonic basis; a rotation ``R`` acts on degree ``l`` by the Wigner matrix ``D^l(R)``
(:func:`equact.so3.rotate_degrees`). Positions enter only through relative vectors, so every
layer here is exactly translation invariant and rotation equivariant.

* :class:`EquivariantPointAttention` -- graph attention over kNN edges. Messages are tensor
  products ``x_j (x) Y(r_ij)`` (Clebsch-Gordan coefficients from e3nn's ``wigner_3j``) weighted per
  path and head by a radial MLP of ``|r_ij|`` times the softmax attention weight; attention
  logits are computed from invariants only (l = 0 features and distances).
* :class:`IFiLMLinear` -- iFiLM: the language condition predicts one channel-mixing matrix per
  degree ``W_l`` (shared across ``m``, so it commutes with ``D^l``) and an l = 0 bias.
* :class:`FiLMLinear` -- plain FiLM (the ablation): a scale and shift for every (channel,
  component) entry. Not equivariant.
* :class:`RMSNormSH`, :class:`GatedActivation` (exact gate nonlinearity), :class:`FeedForward`,
  :class:`EquivariantBlock`, :class:`CoefficientMaxPool`, :func:`interpolate_features`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from e3nn import o3
from torch import nn

from .geometry import gather
from .so3 import spherical_harmonics

Features = list[torch.Tensor]


def _per_degree(c: int | Sequence[int], lmax: int) -> list[int]:
    return [int(c)] * (lmax + 1) if isinstance(c, int) else [int(x) for x in c]


def zeros_like_features(b: int, n: int, c: int, lmax: int, like: torch.Tensor) -> Features:
    return [like.new_zeros(b, n, c, 2 * deg + 1) for deg in range(lmax + 1)]


class GaussianRBF(nn.Module):
    """Gaussian radial basis of ``n`` functions on ``[0, cutoff]``."""

    def __init__(self, n: int, cutoff: float):
        super().__init__()
        self.register_buffer("centers", torch.linspace(0.0, cutoff, n), persistent=False)
        self.width = cutoff / n

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * ((d.unsqueeze(-1) - self.centers) / self.width).square())


class EquivariantLinear(nn.Module):
    """Per-degree channel mixing ``W_l`` (shared across ``m``) and an l = 0 bias."""

    def __init__(self, c_in: int | Sequence[int], c_out: int | Sequence[int], lmax: int, bias=True):
        super().__init__()
        self.c_in, self.c_out = _per_degree(c_in, lmax), _per_degree(c_out, lmax)
        self.weight = nn.ParameterList(
            nn.Parameter(torch.randn(o, i) / math.sqrt(i)) for i, o in zip(self.c_in, self.c_out)
        )
        self.bias = nn.Parameter(torch.zeros(self.c_out[0])) if bias else None

    def forward(self, x: Features) -> Features:
        out = [torch.einsum("oc,...cm->...om", w, f) for w, f in zip(self.weight, x)]
        if self.bias is not None:
            out[0] = out[0] + self.bias[:, None]
        return out


class RMSNormSH(nn.Module):
    """Equivariant RMS norm (EquiformerV2's ``rms_norm_sh``): centre the l = 0 channels, divide
    all degrees by one RMS over degrees (each degree weighted equally), affine per (l, channel)."""

    def __init__(self, c: int, lmax: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(lmax + 1, c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x: Features) -> Features:
        x = [x[0] - x[0].mean(dim=-2, keepdim=True)] + list(x[1:])
        ms = torch.stack([f.square().mean(dim=(-1, -2)) for f in x], 0).mean(0)
        inv = torch.rsqrt(ms + self.eps)[..., None, None]
        out = [f * inv * self.weight[deg][:, None] for deg, f in enumerate(x)]
        out[0] = out[0] + self.bias[:, None]
        return out


class GatedActivation(nn.Module):
    """Gate nonlinearity: the l = 0 block holds ``h`` scalars (SiLU) then ``lmax * h`` gates
    (sigmoid) that scale the ``h`` channels of each degree l >= 1. Exactly equivariant."""

    def __init__(self, h: int, lmax: int):
        super().__init__()
        self.h, self.lmax = h, lmax

    @staticmethod
    def in_channels(h: int, lmax: int) -> list[int]:
        return [h * (1 + lmax)] + [h] * lmax

    def forward(self, x: Features) -> Features:
        scalars, gates = x[0][..., : self.h, :], x[0][..., self.h :, 0]
        gates = torch.sigmoid(gates).unflatten(-1, (self.lmax, self.h))
        return [nn.functional.silu(scalars)] + [
            f * gates[..., deg - 1, :, None] for deg, f in enumerate(x) if deg > 0
        ]


class IFiLMLinear(nn.Module):
    """SE(3)-invariant FiLM (iFiLM, ``SO3_FiLM_Linear``): the condition predicts per-degree
    weights ``W_l`` in R^{C_out x C_in} and an l = 0 bias: Mish -> Linear(cond -> sum_l C_out C_in
    + C_out); weights scaled by ``1/sqrt(max(lmax, 1) C_in)``, bias by 1/10."""

    def __init__(self, c_in: int, c_out: Sequence[int], lmax: int, cond_dim: int):
        super().__init__()
        self.c_in, self.c_out, self.lmax = c_in, list(c_out), lmax
        self.sizes = [o * c_in for o in self.c_out] + [self.c_out[0]]
        self.proj = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, sum(self.sizes)))
        self.scale = 1.0 / math.sqrt(max(lmax, 1) * c_in)

    def forward(self, x: Features, cond: torch.Tensor) -> Features:
        parts = self.proj(cond).split(self.sizes, dim=-1)
        out = []
        for deg, f in enumerate(x):
            w = parts[deg].view(-1, self.c_out[deg], self.c_in) * self.scale
            out.append(torch.einsum("boc,bncm->bnom", w, f))
        out[0] = out[0] + parts[-1][:, None, :, None] / 10
        return out


class FiLMLinear(nn.Module):
    """Plain FiLM (the paper's negative control): ``x -> (1 + gamma) x + beta`` with one scale and
    shift per (channel, irrep component) entry, then a static equivariant linear layer. The
    per-component scales and the shifts of l > 0 components break rotation equivariance."""

    def __init__(self, c_in: int, c_out: Sequence[int], lmax: int, cond_dim: int):
        super().__init__()
        self.dims = [c_in * (2 * deg + 1) for deg in range(lmax + 1)]
        self.proj = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * sum(self.dims)))
        self.linear = EquivariantLinear(c_in, c_out, lmax)

    def forward(self, x: Features, cond: torch.Tensor) -> Features:
        gamma, beta = self.proj(cond).chunk(2, dim=-1)
        gammas, betas = gamma.split(self.dims, -1), beta.split(self.dims, -1)
        x = [
            f * (1 + g.view(-1, 1, *f.shape[-2:])) + s.view(-1, 1, *f.shape[-2:])
            for f, g, s in zip(x, gammas, betas)
        ]
        return self.linear(x)


class StaticLinear(EquivariantLinear):
    """An unconditioned first FFN layer (``film = "none"``); ignores the condition."""

    def __init__(self, c_in: int, c_out: Sequence[int], lmax: int, cond_dim: int):
        super().__init__(c_in, c_out, lmax)

    def forward(self, x: Features, cond: torch.Tensor | None = None) -> Features:
        return super().forward(x)


FILM_LAYERS = {"ifilm": IFiLMLinear, "film": FiLMLinear, "none": StaticLinear}


class FeedForward(nn.Module):
    """Conditioned first linear (iFiLM / FiLM / none) -> gate -> equivariant linear."""

    def __init__(self, c: int, lmax: int, hidden: int, cond_dim: int, film: str = "ifilm"):
        super().__init__()
        if film not in FILM_LAYERS:
            raise ValueError(f"unknown film type {film!r}; use one of {sorted(FILM_LAYERS)}")
        self.first = FILM_LAYERS[film](c, GatedActivation.in_channels(hidden, lmax), lmax, cond_dim)
        self.act = GatedActivation(hidden, lmax)
        self.second = EquivariantLinear(hidden, c, lmax)

    def forward(self, x: Features, cond: torch.Tensor) -> Features:
        return self.second(self.act(self.first(x, cond)))


class EquivariantPointAttention(nn.Module):
    """Equivariant graph attention from source points to query points over kNN edges.

    Message of edge ``j -> i`` into output degree ``l3`` from input degree ``l1``:
    ``a_ij^h sum_{l2} R_{l1 l2 l3}(|r_ij|) CG_{l1 l2 l3}(x_j^{l1}, Y^{l2}(r_ij))``, channel ``c``
    of ``x_j`` belongs to head ``h``, ``a`` is the softmax over the ``k`` neighbours of logits
    computed from invariants only (source l = 0 features, distance, query scalars) and ``R`` is a
    radial MLP per path. Messages are summed over neighbours, kept separate per input degree, then
    mixed by a per-degree linear layer. ``r_ij = p_j - q_i``: translation invariant and rotation
    equivariant (the Clebsch-Gordan coefficients are e3nn's ``wigner_3j``).

    For speed on CPU the per-edge kernel ``K[e] = sum_p R_p(e) Y^{l2}(e) . CG_p`` is built by one
    matrix product with a block-sparse CG table, and the contraction over neighbours and input
    components is one batched matrix product.

    Parameters
    ----------
    c_in, l_in : source channels and max degree
    c_out, l_out : output channels and max degree
    l_sh : max degree of the edge spherical harmonics
    heads : attention heads (must divide ``c_in``)
    n_rbf, cutoff : Gaussian radial basis on ``[0, cutoff]``
    query_dim : number of invariant query features entering the attention logits (0 for none)
    """

    def __init__(
        self,
        c_in: int,
        l_in: int,
        c_out: int,
        l_out: int,
        l_sh: int,
        heads: int,
        n_rbf: int,
        cutoff: float,
        query_dim: int = 0,
        hidden: int = 64,
    ):
        super().__init__()
        if c_in % heads:
            raise ValueError(f"heads ({heads}) must divide the input channels ({c_in})")
        self.c_in, self.l_in, self.l_out, self.l_sh, self.heads = c_in, l_in, l_out, l_sh, heads
        self.paths = [
            (l1, l2, l3)
            for l1 in range(l_in + 1)
            for l2 in range(l_sh + 1)
            for l3 in range(abs(l1 - l2), min(l1 + l2, l_out) + 1)
        ]
        # Output blocks ordered by (l3, l1); each block has 2 l3 + 1 columns.
        self.pairs = sorted({(l1, l3) for l1, _, l3 in self.paths}, key=lambda t: (t[1], t[0]))
        if {l3 for _, l3 in self.pairs} != set(range(l_out + 1)):
            raise ValueError("some output degree is unreachable from the input and edge degrees")
        in_offset = [deg * deg for deg in range(l_in + 2)]  # degree l starts at l^2
        col, offsets = 0, {}
        for pair in self.pairs:
            offsets[pair] = col
            col += 2 * pair[1] + 1
        self.n_cols = col
        self.block_sizes = [2 * l3 + 1 for _, l3 in self.pairs]
        rows = sum(2 * l2 + 1 for _, l2, _ in self.paths)
        table = torch.zeros(rows, (l_in + 1) ** 2, col, dtype=torch.float64)
        path_of_row, r = [], 0
        for p, (l1, l2, l3) in enumerate(self.paths):
            cg = o3.wigner_3j(l1, l2, l3, dtype=torch.float64) * math.sqrt(2 * l3 + 1)
            i0, j0 = in_offset[l1], offsets[(l1, l3)]
            table[r : r + 2 * l2 + 1, i0 : i0 + 2 * l1 + 1, j0 : j0 + 2 * l3 + 1] = cg.transpose(
                0, 1
            )
            path_of_row += [p] * (2 * l2 + 1)
            r += 2 * l2 + 1
        self.register_buffer("cg_table", table.flatten(1), persistent=False)
        self.register_buffer("path_of_row", torch.tensor(path_of_row), persistent=False)
        self.register_buffer(
            "sh_of_row",
            torch.cat([torch.arange(l2 * l2, (l2 + 1) ** 2) for _, l2, _ in self.paths]),
            persistent=False,
        )
        self.rbf = GaussianRBF(n_rbf, cutoff)
        self.radial = nn.Sequential(
            nn.Linear(n_rbf, hidden), nn.SiLU(), nn.Linear(hidden, len(self.paths))
        )
        self.attention = nn.Sequential(
            nn.Linear(c_in + n_rbf + query_dim, hidden), nn.SiLU(), nn.Linear(hidden, heads)
        )
        mid = [c_in * sum(1 for _, l3 in self.pairs if l3 == deg) for deg in range(l_out + 1)]
        self.out = EquivariantLinear(mid, c_out, l_out)

    def forward(
        self,
        src: Features,
        src_pos: torch.Tensor,
        query_pos: torch.Tensor,
        index: torch.Tensor,
        query_scalars: torch.Tensor | None = None,
    ) -> Features:
        b, m, k = index.shape
        rel = gather(src_pos, index) - query_pos.unsqueeze(2)
        rbf = self.rbf(rel.norm(dim=-1))
        sh = torch.cat(spherical_harmonics(self.l_sh, rel), dim=-1)  # (B, M, k, (l_sh+1)^2)
        x = gather(torch.cat(list(src[: self.l_in + 1]), dim=-1), index)  # (B, M, k, C, dim)
        logit_in = [x[..., 0], rbf]
        if query_scalars is not None:
            logit_in.append(query_scalars.unsqueeze(2).expand(-1, -1, k, -1))
        alpha = torch.softmax(self.attention(torch.cat(logit_in, -1)), dim=2)
        alpha = alpha.repeat_interleave(self.c_in // self.heads, dim=-1)  # (B, M, k, C)
        radial = self.radial(rbf)
        coeff = radial[..., self.path_of_row] * sh[..., self.sh_of_row]
        kernel = (coeff @ self.cg_table.to(coeff.dtype)).unflatten(-1, (x.shape[-1], self.n_cols))
        weighted = (x * alpha[..., None]).permute(0, 1, 3, 2, 4).flatten(3)  # (B, M, C, k*dim)
        msg = weighted @ kernel.flatten(2, 3)  # (B, M, C, n_cols)
        blocks = msg.split(self.block_sizes, dim=-1)
        mid: list[list[torch.Tensor]] = [[] for _ in range(self.l_out + 1)]
        for (_, l3), block in zip(self.pairs, blocks):
            mid[l3].append(block)
        return self.out([torch.cat(parts, dim=2) for parts in mid])


class EquivariantBlock(nn.Module):
    """Pre-norm transformer block: ``x + Attn(Norm x)``, then ``x + FFN(Norm x, cond)``."""

    def __init__(self, c, lmax, heads, n_rbf, cutoff, cond_dim, film="ifilm", ffn_ratio=2.0):
        super().__init__()
        self.norm1 = RMSNormSH(c, lmax)
        self.attn = EquivariantPointAttention(c, lmax, c, lmax, lmax, heads, n_rbf, cutoff)
        self.norm2 = RMSNormSH(c, lmax)
        self.ffn = FeedForward(c, lmax, max(1, int(round(ffn_ratio * c))), cond_dim, film)

    def forward(self, x: Features, pos: torch.Tensor, index: torch.Tensor, cond) -> Features:
        h = self.attn(self.norm1(x), pos, pos, index)
        x = [a + b for a, b in zip(x, h)]
        h = self.ffn(self.norm2(x), cond)
        return [a + b for a, b in zip(x, h)]


def coefficient_max_pool(x: Features, index: torch.Tensor) -> Features:
    """``CoefficientMaxPool``: for every degree and channel keep the neighbour (of ``index``,
    (B, M, k)) whose coefficient vector has the largest norm. Norms are invariant, so the choice
    is, and the kept vectors transform by ``D^l``: equivariant."""
    out = []
    for f in x:
        g = gather(f, index)  # (B, M, k, C, d)
        best = g.norm(dim=-1).argmax(dim=2, keepdim=True)  # (B, M, 1, C)
        out.append(torch.take_along_dim(g, best[..., None], dim=2).squeeze(2))
    return out


def interpolate_features(x: Features, index: torch.Tensor, weight: torch.Tensor) -> Features:
    """Inverse-distance interpolation: ``sum_j w_ij x_j`` over ``index`` (B, M, k)."""
    return [(gather(f, index) * weight[..., None, None]).sum(2) for f in x]

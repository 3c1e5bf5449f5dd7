"""The conditional 1D temporal U-Net of diffusion policy (Chi et al., RSS 2023).

A 1D convolutional U-Net over the action horizon. Every residual block is conditioned by FiLM
(per-channel scale and bias) on ``[diffusion-step embedding, global observation features]``.
Layout follows ``ConditionalUnet1D`` of real-stanford/diffusion_policy: ``len(down_dims)``
levels of two residual blocks each, downsampling between levels, two middle blocks, and a
mirrored upsampling path with skip connections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


class SinusoidalPosEmb(nn.Module):
    """Transformer-style sinusoidal embedding of (diffusion) time steps, ``(B,) -> (B, dim)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2 or dim < 4:
            raise ValueError(f"embedding dim must be even and >= 4, found {dim}")
        self.dim = dim

    def forward(self, t: Tensor) -> Tensor:
        half = self.dim // 2
        freq = torch.exp(
            torch.arange(half, device=t.device, dtype=torch.float32)
            * (-math.log(10000.0) / (half - 1))
        )
        arg = t.to(torch.float32)[:, None] * freq[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


class Conv1dBlock(nn.Sequential):
    """Conv1d -> GroupNorm -> Mish."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, n_groups: int = 8):
        if out_channels % n_groups:
            raise ValueError(
                f"GroupNorm needs channels ({out_channels}) divisible by n_groups ({n_groups})"
            )
        super().__init__(
            nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(n_groups, out_channels),
            nn.Mish(),
        )


class ConditionalResidualBlock1D(nn.Module):
    """Two :class:`Conv1dBlock` with FiLM conditioning between them and a residual path."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        cond_dim: int,
        kernel_size: int = 5,
        n_groups: int = 8,
        cond_predict_scale: bool = True,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [
                Conv1dBlock(in_channels, out_channels, kernel_size, n_groups),
                Conv1dBlock(out_channels, out_channels, kernel_size, n_groups),
            ]
        )
        self.out_channels = out_channels
        self.cond_predict_scale = cond_predict_scale
        film_dim = 2 * out_channels if cond_predict_scale else out_channels
        self.cond_encoder = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, film_dim))
        self.residual_conv = (
            nn.Conv1d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        out = self.blocks[0](x)
        film = self.cond_encoder(cond)[..., None]
        if self.cond_predict_scale:
            scale, bias = film.unflatten(1, (2, self.out_channels)).unbind(1)
            out = scale * out + bias
        else:
            out = out + film
        out = self.blocks[1](out)
        return out + self.residual_conv(x)


class ConditionalUnet1D(nn.Module):
    """Noise-prediction network ``eps(x_k, k, global_cond)`` over action sequences.

    Parameters
    ----------
    input_dim : int
        Action dimension ``Da``.
    global_cond_dim : int
        Dimension of the flattened observation features (0 for none).
    diffusion_step_embed_dim : int
        Width of the sinusoidal step embedding and of its MLP output.
    down_dims : sequence of int
        Channels per U-Net level; the horizon is halved ``len(down_dims) - 1`` times, so it must
        be divisible by ``2 ** (len(down_dims) - 1)``.
    kernel_size : int
        Temporal convolution kernel.
    n_groups : int
        GroupNorm groups.
    cond_predict_scale : bool
        FiLM with scale and bias (True) or bias only.

    Notes
    -----
    ``forward(sample (B, T, Da), timestep (B,) or scalar, global_cond (B, C)) -> (B, T, Da)``.
    """

    def __init__(
        self,
        input_dim: int,
        global_cond_dim: int = 0,
        diffusion_step_embed_dim: int = 128,
        down_dims: Sequence[int] = (256, 512, 1024),
        kernel_size: int = 5,
        n_groups: int = 8,
        cond_predict_scale: bool = True,
    ) -> None:
        super().__init__()
        down_dims = list(down_dims)
        if not down_dims:
            raise ValueError("down_dims must list at least one level")
        self.input_dim = input_dim
        self.global_cond_dim = global_cond_dim
        self.n_levels = len(down_dims)
        dsed = diffusion_step_embed_dim
        self.diffusion_step_encoder = nn.Sequential(
            SinusoidalPosEmb(dsed), nn.Linear(dsed, dsed * 4), nn.Mish(), nn.Linear(dsed * 4, dsed)
        )
        cond_dim = dsed + global_cond_dim

        def block(cin: int, cout: int) -> ConditionalResidualBlock1D:
            return ConditionalResidualBlock1D(
                cin, cout, cond_dim, kernel_size, n_groups, cond_predict_scale
            )

        all_dims = [input_dim, *down_dims]
        in_out = list(zip(all_dims[:-1], all_dims[1:]))
        self.down_modules = nn.ModuleList()
        for i, (cin, cout) in enumerate(in_out):
            last = i == len(in_out) - 1
            down = nn.Identity() if last else nn.Conv1d(cout, cout, 3, stride=2, padding=1)
            self.down_modules.append(nn.ModuleList([block(cin, cout), block(cout, cout), down]))
        mid = down_dims[-1]
        self.mid_modules = nn.ModuleList([block(mid, mid), block(mid, mid)])
        self.up_modules = nn.ModuleList()
        for cin, cout in reversed(in_out[1:]):
            up = nn.ConvTranspose1d(cin, cin, 4, stride=2, padding=1)
            self.up_modules.append(nn.ModuleList([block(cout * 2, cin), block(cin, cin), up]))
        self.final_conv = nn.Sequential(
            Conv1dBlock(down_dims[0], down_dims[0], kernel_size, n_groups),
            nn.Conv1d(down_dims[0], input_dim, 1),
        )

    def forward(
        self, sample: Tensor, timestep: Tensor | int, global_cond: Tensor | None = None
    ) -> Tensor:
        B, T = sample.shape[:2]
        if T % (2 ** (self.n_levels - 1)):
            raise ValueError(
                f"horizon {T} must be divisible by 2**{self.n_levels - 1} for {self.n_levels} "
                "U-Net levels"
            )
        t = torch.as_tensor(timestep, device=sample.device)
        t = t.reshape(-1).expand(B) if t.numel() == 1 else t
        step_emb = self.diffusion_step_encoder[0](t).to(sample.dtype)
        cond = self.diffusion_step_encoder[1:](step_emb)
        if self.global_cond_dim:
            if global_cond is None or global_cond.shape != (B, self.global_cond_dim):
                found = None if global_cond is None else tuple(global_cond.shape)
                raise ValueError(
                    f"global_cond must have shape ({B}, {self.global_cond_dim}), found {found}"
                )
            cond = torch.cat([cond, global_cond], dim=-1)
        x = sample.transpose(1, 2)
        skips = []
        for res1, res2, down in self.down_modules:
            x = res2(res1(x, cond), cond)
            skips.append(x)
            x = down(x)
        for mod in self.mid_modules:
            x = mod(x, cond)
        for res1, res2, up in self.up_modules:
            x = torch.cat([x, skips.pop()], dim=1)
            x = up(res2(res1(x, cond), cond))
        return self.final_conv(x).transpose(1, 2)

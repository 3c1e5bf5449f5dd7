"""Atlases of square charts on a 2D field and the warp of a chart about its centre.

A chart is a ``(2r+1) x (2r+1)`` window centred on a pixel. A matrix ``g`` acts on a chart by
``(g . x)(p) = x(g^{-1} p)`` where ``p = (column, row) - centre`` are pixel offsets; values are
bilinearly interpolated (``grid_sample``, ``align_corners=True``, border padding), so ``g = I``
returns the chart unchanged and a rotation by 90 degrees is exactly ``torch.rot90``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def chart_indices(centres: Tensor | list, radius: int, height: int, width: int) -> tuple:
    """Row and column indices of every chart, shape ``(C, 2r+1)`` each.

    Parameters
    ----------
    centres : (C, 2) integer pixel centres ``(row, col)``.
    radius : chart radius in pixels.
    height, width : field size; a chart that leaves the field raises ``ValueError``.
    """
    centres = torch.as_tensor(centres, dtype=torch.long).reshape(-1, 2)
    offs = torch.arange(-radius, radius + 1)
    rows = centres[:, :1] + offs
    cols = centres[:, 1:] + offs
    if rows.min() < 0 or rows.max() >= height or cols.min() < 0 or cols.max() >= width:
        raise ValueError(
            f"a chart of radius {radius} around centres {centres.tolist()} leaves the "
            f"{height}x{width} field"
        )
    return rows, cols


def extract_charts(field: Tensor, centres: Tensor | list, radius: int) -> Tensor:
    """Cut charts out of fields ``(B, F, H, W)``; returns ``(B, C, F, 2r+1, 2r+1)``."""
    rows, cols = chart_indices(centres, radius, field.shape[-2], field.shape[-1])
    rows, cols = rows.to(field.device), cols.to(field.device)
    out = field[:, :, rows[:, :, None], cols[:, None, :]]  # (B, F, C, n, n)
    return out.permute(0, 2, 1, 3, 4).contiguous()


def fractional_centres(fractions: list, height: int, width: int) -> list:
    """Pixel centres from fractional positions ``(u, v)`` (row, column), as the reference code."""
    return [(int(u * height), int(v * width)) for u, v in fractions]


def _base_grid(n: int, device, dtype) -> Tensor:
    # Normalised offsets in [-1, 1]: with align_corners=True, -1/+1 are the first/last pixel
    # centres, so the chart centre ((n-1)/2) is exactly 0 and square rotations are exact.
    t = torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx, yy], dim=-1)  # (n, n, 2) as (x=col, y=row)


def warp_charts(charts: Tensor, g_inv: Tensor, mode: str = "bilinear") -> Tensor:
    """Warp charts about their centres: ``out(p) = chart(g^{-1} p)``.

    Parameters
    ----------
    charts : (..., F, n, n) tensor; the leading dims are flattened.
    g_inv : (..., 2, 2) inverse group elements, one per chart (same leading dims).
    mode : ``grid_sample`` interpolation.
    """
    lead = charts.shape[:-3]
    f, h, w = charts.shape[-3:]
    if h != w:
        raise ValueError(f"charts must be square, got {h}x{w}")
    x = charts.reshape(-1, f, h, w)
    m = g_inv.reshape(-1, 2, 2).to(x.dtype)
    if m.shape[0] != x.shape[0]:
        raise ValueError(f"{m.shape[0]} matrices for {x.shape[0]} charts")
    base = _base_grid(h, x.device, x.dtype)
    grid = torch.einsum("bij,hwj->bhwi", m, base)
    out = F.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=True)
    return out.reshape(*lead, f, h, w)


def warp_about(field: Tensor, centre: tuple[float, float], g_inv: Tensor) -> Tensor:
    """Warp whole fields ``(B, F, H, W)`` about a pixel ``centre = (row, col)``.

    ``out(p) = field(centre + g^{-1} (p - centre))`` with the same conventions as
    ``warp_charts`` (offsets as ``(column, row)``, bilinear, border padding); ``g_inv`` is
    ``(B, 2, 2)``. Used to act on a region of a field that a simulator needs in full.
    """
    B, f, h, w = field.shape
    m = g_inv.reshape(-1, 2, 2).to(field.dtype)
    if m.shape[0] != B:
        raise ValueError(f"{m.shape[0]} matrices for {B} fields")
    rows = torch.arange(h, device=field.device, dtype=field.dtype)
    cols = torch.arange(w, device=field.device, dtype=field.dtype)
    yy, xx = torch.meshgrid(rows, cols, indexing="ij")
    c = torch.tensor([centre[1], centre[0]], device=field.device, dtype=field.dtype)
    q = torch.einsum("bij,hwj->bhwi", m, torch.stack([xx, yy], dim=-1) - c) + c
    scale = torch.tensor([w - 1, h - 1], device=field.device, dtype=field.dtype)
    grid = q / scale * 2 - 1
    return F.grid_sample(field, grid, mode="bilinear", padding_mode="border", align_corners=True)


def crop_centre(x: Tensor, radius: int) -> Tensor:
    """Central ``(2 radius + 1)^2`` window of the last two dims."""
    r, c = x.shape[-2] // 2, x.shape[-1] // 2
    return x[..., r - radius : r + radius + 1, c - radius : c + radius + 1]

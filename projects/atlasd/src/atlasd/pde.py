"""Heat equation with an obstacle: data generator, atlases and per-chart CNN predictors."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .atlas import extract_charts, fractional_centres, warp_about

GRID = 128
BOUNDARY_VALUE = math.sqrt(2.0)
OBSTACLE_U = (0.1, 0.3)
OBSTACLE_V = (0.2, 0.5)

#: Atlas 1 of the reference code: 19 chart centres (fractions of the grid), in_rad 14, out_rad 10.
ATLAS1 = [
    (0.5, 0.15), (0.675, 0.15), (0.85, 0.15),
    (0.5, 0.325), (0.675, 0.325), (0.85, 0.325),
    (0.5, 0.5), (0.675, 0.5), (0.85, 0.5),
    (0.15, 0.675), (0.325, 0.675), (0.5, 0.675), (0.675, 0.675), (0.85, 0.675),
    (0.15, 0.85), (0.325, 0.85), (0.5, 0.85), (0.675, 0.85), (0.85, 0.85),
]  # fmt: skip
#: Atlas 2: three large charts, in_rad 26, out_rad 20.
ATLAS2 = [(0.65, 0.3), (0.675, 0.625), (0.35, 0.75)]
ATLASES = {1: (ATLAS1, 14, 10), 2: (ATLAS2, 26, 20)}
#: A single chart covering the whole field (the "global" control of the locality check): centre
#: (64, 64), compared on all of it but a 3-pixel margin.
GLOBAL_ATLAS = ([(0.5, 0.5)], 63, 60)


def obstacle_mask(n: int = GRID) -> Tensor:
    """Boolean ``(n, n)`` mask of the obstacle ``u in (0.1, 0.3), v in (0.2, 0.5)``."""
    r = torch.arange(n, dtype=torch.float64) / n
    u, v = torch.meshgrid(r, r, indexing="ij")
    return (OBSTACLE_U[0] < u) & (u < OBSTACLE_U[1]) & (OBSTACLE_V[0] < v) & (v < OBSTACLE_V[1])


def heat_steps(
    x: Tensor, mask: Tensor, alpha: float = 1.0, dx: float = 0.1, dt: float = 0.01, steps: int = 50
) -> Tensor:
    """Explicit heat steps as specified: Laplacian by central differences of central differences
    (stencil spacing 2 px), padding 2 with ``sqrt(2)``, obstacle re-clamped after every step."""
    mask = mask.to(x.device)
    x = torch.where(mask, torch.full_like(x, BOUNDARY_VALUE), x)
    for _ in range(steps):
        p = nn.functional.pad(x, (2, 2, 2, 2), value=BOUNDARY_VALUE)
        ddx = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) / (2 * dx)
        ddy = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) / (2 * dx)
        lap = (ddx[..., 2:, 1:-1] - ddx[..., :-2, 1:-1]) / (2 * dx) + (
            ddy[..., 1:-1, 2:] - ddy[..., 1:-1, :-2]
        ) / (2 * dx)
        x = torch.where(mask, BOUNDARY_VALUE, x + dt * alpha * lap)
    return x


def make_pde_data(n: int, seed: int, grid: int = GRID) -> tuple[Tensor, Tensor]:
    """``n`` input fields and their heat-evolved outputs, each ``(n, 1, grid, grid)``.

    The input is clamped on the obstacle too (the reference code writes in place).
    """
    g = torch.Generator().manual_seed(seed)

    def randn():
        return torch.randn(n, 1, 1, generator=g, dtype=torch.float64)

    a, b, c = 6 * randn() + 15, 3 * randn(), (randn().abs() + 1) / 2
    d, e, f = 5 * randn() + 12, 3 * randn(), (randn().abs() + 1) / 2
    r = torch.arange(grid, dtype=torch.float64) / grid
    u, v = torch.meshgrid(r, r, indexing="ij")
    X = (c * torch.sin(a * u + b) + f * torch.cos(d * v + e)).float()
    mask = obstacle_mask(grid)
    X = torch.where(mask, torch.full_like(X, BOUNDARY_VALUE), X)
    Y = heat_steps(X, mask)
    if not torch.isfinite(Y).all():
        raise FloatingPointError("the explicit heat scheme blew up (non-finite output)")
    return X.unsqueeze(1), Y.unsqueeze(1)


def atlas_charts(field: Tensor, atlas: int | tuple) -> Tensor:
    """Charts ``(B, C, 1, n, n)`` of atlas 1, 2 or a ``(fractions, in_rad, out_rad)`` tuple."""
    fractions, in_rad, _ = ATLASES[atlas] if isinstance(atlas, int) else atlas
    centres = fractional_centres(fractions, field.shape[-2], field.shape[-1])
    return extract_charts(field, centres, in_rad)


class ChartCNN(nn.Module):
    """The reference per-chart predictor: 3x3 convs 1->w->w->w->1, LeakyReLU then BatchNorm."""

    def __init__(self, width: int = 16, c_in: int = 1, c_out: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = c_in
        for _ in range(3):
            layers += [
                nn.Conv2d(ch, width, 3, padding="same"),
                nn.LeakyReLU(),
                nn.BatchNorm2d(width),
            ]
            ch = width
        layers.append(nn.Conv2d(ch, c_out, 3, padding="same"))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class AtlasPredictor(nn.Module):
    """One independent network per chart: ``(B, C, F, n, n) -> (B, C, F', n, n)``."""

    def __init__(self, nets: list[nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] != len(self.nets):
            raise ValueError(f"{x.shape[1]} charts for {len(self.nets)} chart predictors")
        return torch.stack([net(x[:, i]) for i, net in enumerate(self.nets)], dim=1)


@torch.no_grad()
def simulator_equivariance_loss(
    X: Tensor,
    L: Tensor,
    fractions: list,
    out_rad: int,
    *,
    gen: torch.Generator,
    batch: int = 16,
) -> float:
    """Relative equivariance loss of the exact simulator about the given region centres.

    For each field and centre, ``g = exp(sum_i c_i L_i)`` with ``c ~ N(0, I)`` acts on the whole
    input field about the centre (``warp_about``), the heat equation is solved again with the
    obstacle and boundary where they are, and the window of radius ``out_rad`` is compared with
    the warped original solution. Returns ``mean |Y(g.X) - g.Y(X)|`` divided by the mean absolute
    deviation of ``Y`` on the window, averaged over centres: a property of the data (no learned
    predictor), small where the symmetry holds.
    """
    mask = obstacle_mask(X.shape[-1]).to(X.device)
    L = L.to(X.device, X.dtype)
    centres = fractional_centres(fractions, X.shape[-2], X.shape[-1])
    rels = []
    for centre in centres:
        diff, dev = 0.0, 0.0
        for s in range(0, len(X), batch):
            x = X[s : s + batch]
            c = torch.randn(len(x), L.shape[0], generator=gen).to(X)
            g_inv = torch.linalg.matrix_exp(-torch.einsum("bk,kij->bij", c, L))
            y = heat_steps(x, mask)
            y_of_gx = heat_steps(warp_about(x, centre, g_inv), mask)
            g_y = warp_about(y, centre, g_inv)
            win = extract_charts(y_of_gx - g_y, [centre], out_rad)
            yw = extract_charts(y, [centre], out_rad)
            diff += float(win.abs().sum())
            dev += float((yw - yw.mean(dim=(-1, -2), keepdim=True)).abs().sum())
        rels.append(diff / max(dev, 1e-12))
    return sum(rels) / len(rels)

"""Digits on the sphere (replacing MNIST on the sphere), built from scikit-learn's bundled digits.

Three digits sit on the equator of an equirectangular map (``H = W / 2`` latitude rows, ``W``
longitude columns), rotated by seeded random angles. They are first drawn on a cylinder (where
they are undistorted) and projected to the sphere with nearest-neighbour lookup; the charts used
for discovery undo that projection exactly (each chart row is a latitude row that shows the
matching cylinder row), so a digit is as flat inside its chart as it was on the cylinder. Every
random choice comes from a seeded ``torch.Generator`` (the reference code used Python's ``hash``
and was not repeatable).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

N_CLASSES = 11  # ten digits and the background
BACKGROUND = 10


def load_digit_images(size: int) -> tuple[Tensor, Tensor]:
    """scikit-learn's 1797 8x8 digits, scaled to [0, 1] and upsampled to ``size x size``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    img = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
    return img.clamp(0, 1), torch.tensor(d.target, dtype=torch.long)


def load_mnist_idx(images_path: str | Path, labels_path: str | Path) -> tuple[Tensor, Tensor]:
    """Read MNIST IDX files (``*-images-idx3-ubyte``, ``*-labels-idx1-ubyte``; gzip accepted).

    Returns images ``(N, 1, 28, 28)`` in [0, 1] and labels ``(N,)``.
    """
    import gzip

    def read(path: Path) -> bytes:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"MNIST IDX file not found: {path}")
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw

    ib, lb = read(Path(images_path)), read(Path(labels_path))
    if len(ib) < 16 or int.from_bytes(ib[:4], "big") != 2051:
        raise ValueError(f"{images_path} is not an IDX image file (magic 2051)")
    if len(lb) < 8 or int.from_bytes(lb[:4], "big") != 2049:
        raise ValueError(f"{labels_path} is not an IDX label file (magic 2049)")
    n, h, w = (int.from_bytes(ib[4 * i : 4 * i + 4], "big") for i in (1, 2, 3))
    if len(ib) != 16 + n * h * w or len(lb) != 8 + n:
        raise ValueError("IDX files are truncated or do not match in length")
    img = np.frombuffer(ib, np.uint8, offset=16).reshape(n, 1, h, w)
    lab = np.frombuffer(lb, np.uint8, offset=8)
    return torch.from_numpy(img.astype(np.float32) / 255.0), torch.from_numpy(lab.astype(np.int64))


def rotate_images(img: Tensor, degrees: Tensor) -> Tensor:
    """Rotate square images about their centres (bilinear, zero outside)."""
    t = torch.deg2rad(degrees.float())
    c, s = torch.cos(t), torch.sin(t)
    theta = torch.zeros(len(img), 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = c, -s, s, c
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def digit_columns(width: int) -> list[int]:
    """Longitude columns of the three digit centres (and charts)."""
    return [width // 6, width // 2, (5 * width) // 6]


def projection_offsets(width: int) -> Tensor:
    """Cylinder row offset shown by each latitude row of the equirectangular map, ``(W/2,)``.

    Latitude row ``i`` (centre latitude ``phi_i``) shows, by nearest-neighbour lookup, the cylinder
    row at height ``r sin(phi_i)`` above the cylinder's centre line (``r = W / 2 pi``). The
    cylinder has an even number of rows, so its centre line lies between two rows; the returned
    offset ``o_i = round(r sin(phi_i) + 1/2)`` names the row ``cyl_h / 2 - 1 + o_i``. The data
    generator and the charts both use this one table, so a chart reads back exactly the cylinder
    rows the map holds.
    """
    H = width // 2
    r = width / (2 * math.pi)
    phi = (torch.arange(H, dtype=torch.float64) - H / 2 + 0.5) * math.pi / H
    return torch.round(r * torch.sin(phi) + 0.5).long()


def chart_rows(width: int, radius: int) -> Tensor:
    """Latitude rows of a chart's ``2 radius + 1`` rows, undoing the projection exactly.

    Chart row ``k`` (``-radius..radius``) shows cylinder row ``cyl_h / 2 + k`` (the digit's first
    row is chart row ``-digit_size / 2``). Near the equator the map has one latitude row per
    cylinder row and further out it repeats rows, never skips one, so every such cylinder row is
    on the map; the first latitude row that shows it is taken. The earlier version rounded
    ``asin(k / r)`` to the nearest latitude row, which skipped the cylinder row at the chart
    centre and doubled the first and last rows: a horizontal seam that rotations move and
    horizontal shears keep, which biased discovery towards shears.
    """
    offs = projection_offsets(width)
    want = torch.arange(-radius, radius + 1) + 1
    hit = offs[None, :] == want[:, None]  # (2R+1, H)
    if not bool(hit.any(dim=1).all()):
        r = width / (2 * math.pi)
        raise ValueError(
            f"chart radius {radius} is too large for a {width}-px map (sphere radius {r:.1f} px):"
            " some chart rows are not on the map"
        )
    return hit.float().argmax(dim=1)


def make_sphere_digits(
    n: int, seed: int, width: int = 60, digit_size: int = 14, max_degrees: float = 60.0
) -> tuple[Tensor, Tensor]:
    """``n`` maps ``(n, 1, W/2, W)`` and per-pixel labels ``(n, W/2, W)`` (10 = background).

    Digits and angles (uniform in ``[-max_degrees, max_degrees]``) are drawn with a generator
    seeded by ``seed``; the same seed gives the same maps.
    """
    gen = torch.Generator().manual_seed(seed)
    imgs, labels = load_digit_images(digit_size)
    W = width
    cyl_h = 2 * digit_size
    pick = torch.randint(len(imgs), (n, 3), generator=gen)
    ang = (2 * torch.rand(n, 3, generator=gen) - 1) * max_degrees
    rot = rotate_images(imgs[pick.flatten()], ang.flatten()).reshape(n, 3, digit_size, digit_size)
    cyl = torch.zeros(n, cyl_h, W)
    lab = torch.full((n, cyl_h, W), BACKGROUND, dtype=torch.long)
    top = cyl_h // 2 - digit_size // 2
    for j, col in enumerate(digit_columns(W)):
        left = col - digit_size // 2
        cyl[:, top : top + digit_size, left : left + digit_size] = rot[:, j]
        ink = rot[:, j] > 0.2
        cls = labels[pick[:, j]][:, None, None].expand(-1, digit_size, digit_size)
        lab[:, top : top + digit_size, left : left + digit_size] = torch.where(
            ink, cls, torch.full_like(cls, BACKGROUND)
        )
    maps = project_cylinder(cyl, 0.0).unsqueeze(1)
    seg = project_cylinder(lab, BACKGROUND)
    return maps, seg


def project_cylinder(cyl: Tensor, fill: float) -> Tensor:
    """Equirectangular projection of cylinder images ``(..., cyl_h, W)`` -> ``(..., W/2, W)``.

    Latitude row ``i`` looks up, by nearest neighbour, the cylinder row at height
    ``r sin(phi_i)`` (``projection_offsets``); rows beyond the cylinder get ``fill``.
    """
    cyl_h, W = cyl.shape[-2:]
    if cyl_h % 2:
        raise ValueError(f"the cylinder needs an even number of rows, got {cyl_h}")
    y = cyl_h // 2 - 1 + projection_offsets(W).to(cyl.device)
    ok = (y >= 0) & (y < cyl_h)
    out = torch.full((*cyl.shape[:-2], W // 2, W), fill, dtype=cyl.dtype, device=cyl.device)
    out[..., ok, :] = cyl[..., y[ok], :]
    return out


def sphere_charts(field: Tensor, radius: int) -> Tensor:
    """Charts ``(B, 3, F, 2R+1, 2R+1)`` around the three digit centres that undo the projection:
    chart row ``k`` is the latitude row showing cylinder row ``cyl_h / 2 + k`` (``chart_rows``),
    so a digit is exactly as flat in its chart as it was drawn on the cylinder."""
    W = field.shape[-1]
    r = W / (2 * math.pi)
    if radius >= r:
        raise ValueError(f"chart radius {radius} must be below the sphere radius {r:.1f} px")
    offs = torch.arange(-radius, radius + 1)
    rows = chart_rows(W, radius).to(field.device)
    charts = []
    for col in digit_columns(W):
        cols = (col + offs).to(field.device)
        charts.append(field[..., rows[:, None], cols[None, :]])
    return torch.stack(charts, dim=1)


def one_hot_fields(seg: Tensor) -> Tensor:
    """``(B, H, W)`` labels -> ``(B, 11, H, W)`` one-hot float fields."""
    return F.one_hot(seg, N_CLASSES).permute(0, 3, 1, 2).float()


class DigitChartNet(nn.Module):
    """Per-chart segmentation predictor: the reference's encoder-decoder for digit charts.

    Three stride-2 3x3 convolutions down (``width, 2 width, 2 width`` channels), three stride-2
    transposed convolutions back up, cropped to the chart; LeakyReLU then BatchNorm after every
    layer, the logits included (as the reference, which keeps the class scores on a common scale).
    Downsampling lets a small network see the whole digit, which a classifier of the digit needs.
    """

    def __init__(self, width: int = 16, size: int = 15, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.size = size

        def block(conv: nn.Module, ch: int) -> list[nn.Module]:
            return [conv, nn.LeakyReLU(), nn.BatchNorm2d(ch)]

        w, w2 = width, 2 * width
        self.down = nn.Sequential(
            *block(nn.Conv2d(1, w, 3, 2, 1), w),
            *block(nn.Conv2d(w, w2, 3, 2, 1), w2),
            *block(nn.Conv2d(w2, w2, 3, 2, 1), w2),
        )
        self.up = nn.Sequential(
            *block(nn.ConvTranspose2d(w2, w2, 3, 2, 1, output_padding=1), w2),
            *block(nn.ConvTranspose2d(w2, w2, 3, 2, 1, output_padding=1), w2),
            *block(nn.ConvTranspose2d(w2, n_classes, 3, 2, 1, output_padding=1), n_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            raise ValueError(f"expected {self.size}x{self.size} charts, got {tuple(x.shape[-2:])}")
        return self.up(self.down(x))[..., : self.size, : self.size]

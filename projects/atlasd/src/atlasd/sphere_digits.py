"""Digits on the sphere (replacing MNIST on the sphere), built from scikit-learn's bundled digits.

Three digits sit on the equator of an equirectangular map (``H = W / 2`` latitude rows, ``W``
longitude columns), rotated by seeded random angles. They are first drawn on a cylinder (where
they are undistorted) and projected to the sphere with nearest-neighbour lookup; the charts used
for discovery undo that projection (rows at latitudes ``asin(k / r)``), so a digit is flat again
inside its chart. Every random choice comes from a seeded ``torch.Generator`` (the reference
code used Python's ``hash`` and was not repeatable).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

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


def latitude_rows(width: int, offsets: Tensor) -> Tensor:
    """Equirectangular row of the cylinder offsets ``k`` (pixels from the equator)."""
    H = width // 2
    r = width / (2 * math.pi)
    phi = torch.asin((offsets.double() / r).clamp(-1, 1))
    return torch.round(phi * H / math.pi + H / 2 - 0.5).long().clamp(0, H - 1)


def make_sphere_digits(
    n: int, seed: int, width: int = 60, digit_size: int = 14, max_degrees: float = 60.0
) -> tuple[Tensor, Tensor]:
    """``n`` maps ``(n, 1, W/2, W)`` and per-pixel labels ``(n, W/2, W)`` (10 = background).

    Digits and angles (uniform in ``[-max_degrees, max_degrees]``) are drawn with a generator
    seeded by ``seed``; the same seed gives the same maps.
    """
    gen = torch.Generator().manual_seed(seed)
    imgs, labels = load_digit_images(digit_size)
    H, W = width // 2, width
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
    # equirectangular projection: latitude row i looks up cylinder row r sin(phi_i) (nearest)
    r = W / (2 * math.pi)
    phi = (torch.arange(H, dtype=torch.float64) - H / 2 + 0.5) * math.pi / H
    y = torch.round(r * torch.sin(phi) + cyl_h / 2 - 0.5).long()
    ok = (y >= 0) & (y < cyl_h)
    maps = torch.zeros(n, 1, H, W)
    seg = torch.full((n, H, W), BACKGROUND, dtype=torch.long)
    maps[:, 0, ok] = cyl[:, y[ok]]
    seg[:, ok] = lab[:, y[ok]]
    return maps, seg


def sphere_charts(field: Tensor, radius: int) -> Tensor:
    """Charts ``(B, 3, F, 2R+1, 2R+1)`` around the three digit centres, undoing the projection
    (row offsets are mapped back through the latitude of cylinder offsets)."""
    W = field.shape[-1]
    r = W / (2 * math.pi)
    if radius >= r:
        raise ValueError(f"chart radius {radius} must be below the sphere radius {r:.1f} px")
    offs = torch.arange(-radius, radius + 1)
    rows = latitude_rows(W, offs).to(field.device)
    charts = []
    for col in digit_columns(W):
        cols = (col + offs).to(field.device)
        charts.append(field[..., rows[:, None], cols[None, :]])
    return torch.stack(charts, dim=1)


def one_hot_fields(seg: Tensor) -> Tensor:
    """``(B, H, W)`` labels -> ``(B, 11, H, W)`` one-hot float fields."""
    return F.one_hot(seg, N_CLASSES).permute(0, 3, 1, 2).float()

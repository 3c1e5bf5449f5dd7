"""Rotations, Wigner matrices and SO(3) grids for the rotation field.

Grids
-----
* :func:`healpix_so3_grid` -- the paper's HEALPix grid of ``72 * 8**r`` rotations (pixel centres
  of a HEALPix sphere at ``nside = 2**r`` times ``6 * 2**r`` in-plane angles), computed in numpy
  (healpy is not in the pinned environment).
* :func:`octahedral_group` -- the 24 rotations of the cube.
* :func:`octahedral_healpix_grid` -- ``O x S``: the HEALPix rotations in the Voronoi cell of the
  identity under left multiplication by the octahedral group ``O`` (the set ``S``), multiplied by
  all 24 elements. It has about the same size and resolution as the HEALPix grid but is closed
  under ``R -> g R`` for ``g`` in ``O``, so rotation scores permute exactly under that subgroup.

Wigner matrices are computed in float64 by fitting the real spherical harmonics of e3nn
(``component`` normalisation) at fixed sample points: ``Y(R x) = D(R) Y(x)``. This is exact to
rounding for every rotation (no Euler-angle singularities) and is the basis all features use.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import torch
from e3nn import o3


def spherical_harmonics(lmax: int, vectors: torch.Tensor) -> list[torch.Tensor]:
    """Real spherical harmonics ``[Y_0, ..., Y_lmax]`` of unit-normalised ``vectors`` (..., 3).

    Zero vectors give ``Y_0 = 1`` and ``Y_l = 0`` for ``l > 0`` (an isotropic self-edge).
    """
    sh = o3.spherical_harmonics(
        list(range(lmax + 1)), vectors, normalize=True, normalization="component"
    )
    return list(torch.split(sh, [2 * deg + 1 for deg in range(lmax + 1)], dim=-1))


@lru_cache(maxsize=16)
def _fit_points(deg: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(7 + deg)
    x = torch.randn(4 * (2 * deg + 1) + 8, 3, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=-1, keepdim=True)
    y = o3.spherical_harmonics(deg, x, normalize=True, normalization="component")
    return x, torch.linalg.pinv(y)


def wigner_D(deg: int, rotation: torch.Tensor) -> torch.Tensor:
    """Wigner matrix ``D^l(R)`` of shape (..., 2l+1, 2l+1) in e3nn's real SH basis.

    Satisfies ``Y_l(R x) = D^l(R) Y_l(x)``; computed in float64 and cast to ``rotation.dtype``.
    """
    x, pinv = _fit_points(deg)
    r = rotation.to(torch.float64)
    rx = torch.einsum("...ij,nj->...ni", r, x.to(r.device))
    y_rx = o3.spherical_harmonics(deg, rx, normalize=False, normalization="component")
    # y_rx = y_x D^T  ->  D^T = pinv(y_x) y_rx
    d_t = torch.einsum("kn,...nm->...km", pinv.to(r.device), y_rx)
    return d_t.transpose(-1, -2).to(rotation.dtype)


def rotate_degrees(features: list[torch.Tensor], rotation: torch.Tensor) -> list[torch.Tensor]:
    """Apply ``D^l(R)`` to per-degree features ``[(..., C, 2l+1)]`` (the action on the fibres)."""
    return [f @ wigner_D(deg, rotation).transpose(-1, -2) for deg, f in enumerate(features)]


def geodesic_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle in radians of ``a^T b`` for rotation matrices broadcast over leading dims."""
    trace = torch.einsum("...ij,...ij->...", a, b)
    return torch.arccos(((trace - 1) / 2).clamp(-1.0, 1.0))


def rotation_about_axes(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from XYZ Euler angles (..., 3) in radians: ``Rz @ Ry @ Rx``."""
    ax, ay, az = angles.unbind(-1)
    one, zero = torch.ones_like(ax), torch.zeros_like(ax)

    def stack(rows):
        return torch.stack([torch.stack(r, -1) for r in rows], -2)

    rx = stack([[one, zero, zero], [zero, ax.cos(), -ax.sin()], [zero, ax.sin(), ax.cos()]])
    ry = stack([[ay.cos(), zero, ay.sin()], [zero, one, zero], [-ay.sin(), zero, ay.cos()]])
    rz = stack([[az.cos(), -az.sin(), zero], [az.sin(), az.cos(), zero], [zero, zero, one]])
    return rz @ ry @ rx


def octahedral_group(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The 24 proper rotations mapping the cube to itself (signed permutation matrices)."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[np.arange(3), perm] = signs
            if np.linalg.det(m) > 0:
                mats.append(m)
    return torch.tensor(np.stack(mats), dtype=dtype)


def healpix_pix2ang(nside: int) -> tuple[np.ndarray, np.ndarray]:
    """Colatitude and longitude of all ``12 nside^2`` HEALPix pixel centres (RING order)."""
    npix = 12 * nside * nside
    ncap = 2 * nside * (nside - 1)
    pix = np.arange(npix)
    theta, phi = np.empty(npix), np.empty(npix)
    north = pix < ncap
    south = pix >= npix - ncap
    belt = ~(north | south)
    # north polar cap
    p = pix[north]
    ring = (1 + np.sqrt(1 + 2 * p).astype(np.int64)) // 2
    iphi = p + 1 - 2 * ring * (ring - 1)
    theta[north] = np.arccos(1 - ring**2 * 4.0 / npix)
    phi[north] = (iphi - 0.5) * (np.pi / 2) / ring
    # equatorial belt
    ip = pix[belt] - ncap
    ring = ip // (4 * nside) + nside
    iphi = ip % (4 * nside) + 1
    fodd = np.where((ring + nside) % 2 == 1, 1.0, 0.5)
    theta[belt] = np.arccos((2 * nside - ring) * 2.0 / (3 * nside))
    phi[belt] = (iphi - fodd) * np.pi / (2 * nside)
    # south polar cap
    ip = npix - pix[south]
    ring = (1 + np.sqrt(2 * ip - 1).astype(np.int64)) // 2
    iphi = 4 * ring + 1 - (ip - 2 * ring * (ring - 1))
    theta[south] = np.arccos(-1 + ring**2 * 4.0 / npix)
    phi[south] = (iphi - 0.5) * (np.pi / 2) / ring
    return theta, phi


def _zyz(alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    def rz(a):
        c, s = np.cos(a), np.sin(a)
        z, o = np.zeros_like(a), np.ones_like(a)
        return np.stack(
            [np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2
        )

    def ry(a):
        c, s = np.cos(a), np.sin(a)
        z, o = np.zeros_like(a), np.ones_like(a)
        return np.stack(
            [np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2
        )

    return rz(alpha) @ ry(beta) @ rz(gamma)


def healpix_so3_grid(level: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The HEALPix SO(3) grid of ``72 * 8**level`` rotations (as in image2sphere / EquAct)."""
    nside = 2**level
    theta, phi = healpix_pix2ang(nside)
    psi = np.linspace(0, 2 * np.pi, 6 * nside + 1)[:-1]
    beta = np.repeat(theta, len(psi))
    alpha = np.repeat(phi, len(psi))
    gamma = np.tile(psi, len(theta))
    return torch.tensor(_zyz(alpha, beta, gamma), dtype=dtype)


def octahedral_healpix_grid(level: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``O x S``: a HEALPix-resolution grid closed under left multiplication by the octahedral
    group (see the module docstring). ``level = -1`` gives the 24 group elements alone."""
    group = octahedral_group(torch.float64)
    if level < 0:
        return group.to(dtype)
    grid = healpix_so3_grid(level, torch.float64)
    traces = torch.einsum("gij,nji->gn", group, grid)  # trace(g R)
    identity = torch.einsum("nii->n", grid)
    cell = grid[identity >= traces.max(0).values - 1e-9]
    full = torch.einsum("gij,sjk->gsik", group, cell).reshape(-1, 3, 3)
    _, keep = np.unique(np.round(full.reshape(-1, 9).numpy(), 6), axis=0, return_index=True)
    return full[torch.as_tensor(np.sort(keep))].to(dtype)


def make_rotation_grid(kind: str, level: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``kind`` in {"octahedral", "octahedral_healpix", "healpix"}."""
    if kind == "octahedral":
        return octahedral_group(dtype)
    if kind == "octahedral_healpix":
        return octahedral_healpix_grid(level, dtype)
    if kind == "healpix":
        return healpix_so3_grid(level, dtype)
    raise ValueError(
        f"unknown rotation grid {kind!r}; use octahedral, octahedral_healpix or healpix"
    )


def wigner_basis(grid: torch.Tensor, lmax: int) -> torch.Tensor:
    """``[D^0(R_k), ..., D^lmax(R_k)]`` flattened per rotation: shape (K, sum (2l+1)^2)."""
    return torch.cat([wigner_D(deg, grid).flatten(1) for deg in range(lmax + 1)], dim=1)


def grid_permutation(grid: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Index map ``pi`` with ``grid[pi[i]] = g^{-1} grid[i]``; raises if the grid is not closed."""
    target = g.transpose(-1, -2).to(grid.dtype) @ grid
    dist = torch.cdist(target.reshape(-1, 9).double(), grid.reshape(-1, 9).double())
    value, index = dist.min(dim=1)
    if float(value.max()) > 1e-4:
        raise ValueError("the grid is not closed under this rotation")
    return index


def nearest_rotation(grid: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Index of the grid rotation closest (geodesically) to each rotation (..., 3, 3)."""
    trace = torch.einsum("kij,...ij->...k", grid.to(rotation.dtype), rotation)
    return trace.argmax(-1)


def grid_spacing_deg(grid: torch.Tensor) -> float:
    """Median geodesic distance (degrees) from a grid rotation to its nearest neighbour."""
    sub = grid[:: max(1, len(grid) // 512)].double()
    trace = torch.einsum("aij,bij->ab", sub, grid.double())
    angle = torch.arccos(((trace - 1) / 2).clamp(-1, 1))
    angle[angle < 1e-3] = math.inf  # itself (float32 grids round at ~3e-4 rad)
    return float(torch.rad2deg(angle.min(1).values).median())

"""Synthetic halo catalogs for halotools' ``UserSuppliedHaloCatalog``.

The paper populates the Bolshoi-Planck rockstar catalog, which halotools downloads and the
project environment cannot reach. This module builds a statistically similar stand-in:

* masses from a cumulative mass function ``n(>M) = n12 (M/1e12)^-0.9 exp(-(M/M*)^0.7)`` (a power
  law with an exponential cut-off, close to Sheth-Tormen at z = 0 for 1e11-1e15 Msun/h);
* clustered positions: a Gaussian random field ``delta_g`` on a grid (power-law spectrum with a
  Gaussian smoothing), halos of mass M placed in cells with probability ``exp(b(M) delta_g)``
  (lognormal, mass-dependent bias), uniformly within the cell;
* virial radii from a mean density of 360 times the matter density (halotools' ``vir``
  definition at z = 0 for Omega_m = 0.3), NFW concentrations ``c = 9 (M/1e12)^-0.1`` with
  0.14 dex scatter;
* halo major axes along the local tidal stretching direction (the eigenvector of the smallest
  eigenvalue of the tidal tensor of ``delta_g``) plus isotropic scatter, so that central
  alignment produces large-scale position-orientation (omega) and orientation-orientation (eta)
  correlations as halo shapes in N-body simulations do. Pure random axes would make omega and
  eta independent of mu_cen beyond the one-halo term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import HaloConfig

RHO_CRIT = 2.775e11  # (Msun/h) / (Mpc/h)^3
OMEGA_M = 0.3
DELTA_VIR = 360.0  # overdensity w.r.t. the mean matter density (vir definition at z = 0)
N12 = 3.0e-3  # (h/Mpc)^3, number density of halos above 1e12 Msun/h
M_STAR = 3.0e14


@dataclass
class HaloArrays:
    """Column arrays of a halo catalog (all of length ``n``) and the box side."""

    lbox: float
    mass: np.ndarray
    pos: np.ndarray
    vel: np.ndarray
    rvir: np.ndarray
    conc: np.ndarray
    axis: np.ndarray

    @property
    def n(self) -> int:
        return len(self.mass)


def cumulative_mass_function(mass: np.ndarray) -> np.ndarray:
    """Number density of halos above ``mass`` in (h/Mpc)^3."""
    mass = np.asarray(mass, dtype=float)
    return N12 * (mass / 1e12) ** -0.9 * np.exp(-((mass / M_STAR) ** 0.7))


def sample_masses(n: int, log_mmin: float, log_mmax: float, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` masses from the mass function between the two bounds (inverse CDF)."""
    logm = np.linspace(log_mmin, log_mmax, 4000)
    ncum = cumulative_mass_function(10**logm)
    u = rng.uniform(ncum[-1], ncum[0], n)
    # ncum decreases with mass; interp needs increasing abscissae.
    return 10 ** np.interp(u, ncum[::-1], logm[::-1])


def halo_bias(mass: np.ndarray) -> np.ndarray:
    """Linear bias of the lognormal placement: 1 at 1e12, about 2 at 1e14 Msun/h."""
    return 0.85 + 0.15 * (np.asarray(mass) / 1e12) ** 0.45


def virial_radius(mass: np.ndarray) -> np.ndarray:
    """Virial radius in Mpc/h for ``mass`` in Msun/h."""
    rho = DELTA_VIR * OMEGA_M * RHO_CRIT
    return (3.0 * np.asarray(mass) / (4.0 * np.pi * rho)) ** (1.0 / 3.0)


def gaussian_field(
    grid: int, lbox: float, smoothing: float, sigma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian random field on a periodic grid and its tidal tensor.

    Returns
    -------
    delta : ndarray, shape (grid, grid, grid)
        Field with standard deviation ``sigma``.
    tidal : ndarray, shape (grid, grid, grid, 3, 3)
        ``d_i d_j phi`` with ``laplacian(phi) = delta``.
    """
    k1 = 2 * np.pi * np.fft.fftfreq(grid, d=lbox / grid)
    kz1 = 2 * np.pi * np.fft.rfftfreq(grid, d=lbox / grid)
    kx, ky, kz = np.meshgrid(k1, k1, kz1, indexing="ij")
    k2 = kx**2 + ky**2 + kz**2
    kmag = np.sqrt(k2)
    # P(k) ~ k^-1.5 tilted spectrum with a Gaussian cut-off: a rough z = 0 shape on 1-20 Mpc/h.
    with np.errstate(divide="ignore"):
        amp = np.where(k2 > 0, kmag**-0.75, 0.0) * np.exp(-0.5 * k2 * smoothing**2)
    white = np.fft.rfftn(rng.standard_normal((grid, grid, grid)))
    field_k = white * amp
    delta = np.fft.irfftn(field_k, s=(grid, grid, grid))
    norm = sigma / delta.std()
    delta *= norm
    field_k *= norm
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(k2 > 0, 1.0 / k2, 0.0)
    ks = (kx, ky, kz)
    tidal = np.empty((grid, grid, grid, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            # phi_k = -delta_k / k^2, so d_i d_j phi -> k_i k_j delta_k / k^2.
            comp = np.fft.irfftn(ks[i] * ks[j] * inv * field_k, s=(grid, grid, grid))
            tidal[..., i, j] = comp
            tidal[..., j, i] = comp
    return delta, tidal


def build_halo_arrays(cfg: HaloConfig) -> HaloArrays:
    """Build the synthetic catalog described in the module docstring (deterministic in seed)."""
    rng = np.random.default_rng(cfg.seed)
    lbox, grid = float(cfg.lbox), int(cfg.grid)
    n_mean = (
        cumulative_mass_function(10**cfg.log_mass_min)
        - cumulative_mass_function(10**cfg.log_mass_max)
    ) * lbox**3
    n = int(rng.poisson(n_mean))
    mass = np.sort(sample_masses(n, cfg.log_mass_min, cfg.log_mass_max, rng))
    delta, tidal = gaussian_field(grid, lbox, cfg.smoothing, cfg.sigma_g, rng)
    flat = delta.ravel()
    cell = np.empty(n, dtype=np.int64)
    # Mass bins share one placement probability; 24 bins resolve the bias to a few per cent.
    edges = np.quantile(np.log10(mass), np.linspace(0, 1, 25))
    bins = np.clip(np.searchsorted(edges, np.log10(mass), side="right") - 1, 0, 23)
    for b in range(24):
        sel = np.flatnonzero(bins == b)
        if len(sel) == 0:
            continue
        bias = halo_bias(np.median(mass[sel]))
        w = np.exp(bias * (flat - flat.max()))
        cdf = np.cumsum(w)
        cell[sel] = np.searchsorted(cdf, rng.uniform(0, cdf[-1], len(sel)), side="right")
    cell = np.minimum(cell, flat.size - 1)
    ijk = np.stack(np.unravel_index(cell, (grid, grid, grid)), axis=1)
    pos = (ijk + rng.uniform(0, 1, (n, 3))) * (lbox / grid)
    pos = np.mod(pos, lbox)
    # Stretching direction = eigenvector of the smallest tidal eigenvalue (eigh sorts ascending).
    _, vecs = np.linalg.eigh(tidal[ijk[:, 0], ijk[:, 1], ijk[:, 2]])
    axis = vecs[:, :, 0] + cfg.axis_noise * rng.standard_normal((n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    rvir = virial_radius(mass)
    conc = 9.0 * (mass / 1e12) ** -0.1 * 10 ** (0.14 * rng.standard_normal(n))
    vel = 300.0 * rng.standard_normal((n, 3))
    return HaloArrays(lbox=lbox, mass=mass, pos=pos, vel=vel, rvir=rvir, conc=conc, axis=axis)


def to_halotools(halos: HaloArrays):
    """Wrap the arrays in a ``halotools.sim_manager.UserSuppliedHaloCatalog`` (host halos only)."""
    from halotools.sim_manager import UserSuppliedHaloCatalog

    n = halos.n
    ids = np.arange(n, dtype=np.int64)
    return UserSuppliedHaloCatalog(
        Lbox=halos.lbox,
        particle_mass=1.0e8,
        redshift=0.0,
        halo_id=ids,
        halo_upid=-np.ones(n, dtype=np.int64),
        halo_hostid=ids,
        halo_x=halos.pos[:, 0],
        halo_y=halos.pos[:, 1],
        halo_z=halos.pos[:, 2],
        halo_vx=halos.vel[:, 0],
        halo_vy=halos.vel[:, 1],
        halo_vz=halos.vel[:, 2],
        halo_mvir=halos.mass,
        halo_rvir=halos.rvir,
        halo_nfw_conc=halos.conc,
        halo_axisA_x=halos.axis[:, 0],
        halo_axisA_y=halos.axis[:, 1],
        halo_axisA_z=halos.axis[:, 2],
    )

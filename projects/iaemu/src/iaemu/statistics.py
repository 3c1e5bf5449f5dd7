"""The three correlation functions of the paper, in a periodic box, for all galaxies.

* ``xi(r)``: position-position, natural estimator ``DD / RR - 1`` with analytic
  ``RR = N^2 dV / V`` (halotools ``tpcf`` without randoms).
* ``omega(r)``: position-orientation, ``<(e_i . r_ij / |r_ij|)^2> - 1/3`` over ordered pairs
  (halotools ``ed_3d``).
* ``eta(r)``: orientation-orientation, ``<(e_i . e_j)^2> - 1/3`` (halotools ``ee_3d``).

``compute_statistics(..., backend="halotools")`` calls halotools' cython pair counters;
``backend="kdtree"`` is an independent re-implementation on ``scipy.spatial.cKDTree`` with the
same estimator definitions (the fallback and the cross-check of the tests).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

N_BINS = 20


def radial_bins(n_bins: int = N_BINS) -> np.ndarray:
    """The paper's bin edges ``logspace(-1, 1.2, 21)`` in Mpc/h."""
    return np.logspace(-1.0, 1.2, n_bins + 1)


def bin_centres(edges: np.ndarray | None = None) -> np.ndarray:
    """Arithmetic means of consecutive edges (as IAEmu's ``r_bins``)."""
    edges = radial_bins() if edges is None else edges
    return 0.5 * (edges[1:] + edges[:-1])


def _shell_volumes(edges: np.ndarray) -> np.ndarray:
    return np.diff(4.0 / 3.0 * np.pi * edges**3)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def halotools_statistics(
    pos: np.ndarray, ori: np.ndarray, lbox: float, edges: np.ndarray | None = None
) -> np.ndarray:
    """xi, omega, eta with halotools' ``tpcf``, ``ed_3d`` and ``ee_3d``; shape (3, n_bins)."""
    from halotools.mock_observables import tpcf
    from halotools.mock_observables.ia_correlations import ed_3d, ee_3d

    edges = radial_bins() if edges is None else edges
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    ori = np.ascontiguousarray(_unit(np.asarray(ori, dtype=np.float64)))
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = tpcf(pos, edges, period=lbox)
        omega = ed_3d(pos, ori, pos, edges, period=lbox)
        eta = ee_3d(pos, ori, pos, ori, edges, period=lbox)
    return np.stack([xi, omega, eta]).astype(np.float64)


def pair_list(pos: np.ndarray, lbox: float, rmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Unordered pairs ``(i < j)`` closer than ``rmax`` and their separation vectors ``x_j - x_i``
    (minimum image)."""
    pos = np.mod(np.asarray(pos, dtype=np.float64), lbox)
    tree = cKDTree(pos, boxsize=lbox)
    pairs = tree.query_pairs(rmax, output_type="ndarray")
    d = pos[pairs[:, 1]] - pos[pairs[:, 0]]
    d -= lbox * np.round(d / lbox)
    return pairs, d


def _pair_terms(pairs, d, ori, edges):
    """Bin index and the omega/eta contributions of each unordered pair (both orderings)."""
    r = np.linalg.norm(d, axis=1)
    b = np.searchsorted(edges, r, side="right") - 1
    ok = (b >= 0) & (b < len(edges) - 1) & (r > 0)
    pairs, d, r, b = pairs[ok], d[ok], r[ok], b[ok]
    rhat = d / r[:, None]
    ei, ej = ori[pairs[:, 0]], ori[pairs[:, 1]]
    ed = np.einsum("ij,ij->i", ei, rhat) ** 2 + np.einsum("ij,ij->i", ej, rhat) ** 2
    ee = 2.0 * np.einsum("ij,ij->i", ei, ej) ** 2
    return pairs, b, ed, ee


def kdtree_statistics(
    pos: np.ndarray, ori: np.ndarray, lbox: float, edges: np.ndarray | None = None
) -> np.ndarray:
    """xi, omega, eta on a cKDTree pair list (same estimators as halotools); shape (3, n_bins)."""
    edges = radial_bins() if edges is None else edges
    ori = _unit(np.asarray(ori, dtype=np.float64))
    pairs, d = pair_list(pos, lbox, edges[-1])
    _, b, ed, ee = _pair_terms(pairs, d, ori, edges)
    nb = len(edges) - 1
    dd = 2.0 * np.bincount(b, minlength=nb)  # ordered pairs
    n = len(pos)
    rr = n * n * _shell_volumes(edges) / lbox**3
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = dd / rr - 1.0
        omega = np.bincount(b, weights=ed, minlength=nb) / dd - 1.0 / 3.0
        eta = np.bincount(b, weights=ee, minlength=nb) / dd - 1.0 / 3.0
    return np.stack([xi, omega, eta])


def compute_statistics(
    pos: np.ndarray,
    ori: np.ndarray,
    lbox: float,
    backend: str = "halotools",
    edges: np.ndarray | None = None,
) -> np.ndarray:
    """xi, omega, eta of one galaxy catalog; shape (3, n_bins).

    Parameters
    ----------
    pos : ndarray, shape (n, 3)
        Positions in [0, lbox).
    ori : ndarray, shape (n, 3)
        Major axes (normalised here).
    backend : {"halotools", "kdtree"}
    """
    if backend == "halotools":
        return halotools_statistics(pos, ori, lbox, edges)
    if backend == "kdtree":
        return kdtree_statistics(pos, ori, lbox, edges)
    raise ValueError(f"unknown statistics backend {backend!r}; use 'halotools' or 'kdtree'")


def jackknife_statistics(
    pos: np.ndarray,
    ori: np.ndarray,
    lbox: float,
    n_side: int = 3,
    edges: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Statistics and their delete-one-subvolume jackknife errors ``(value, sigma)``.

    The box is cut into ``n_side^3`` cubes; a pair belongs to the cube of its first point (each
    unordered pair is split between its two points' cubes), and the analytic RR scales with the
    number of points kept.
    """
    edges = radial_bins() if edges is None else edges
    pos = np.mod(np.asarray(pos, dtype=np.float64), lbox)
    ori = _unit(np.asarray(ori, dtype=np.float64))
    nb, nsub = len(edges) - 1, n_side**3
    cube = np.ravel_multi_index(
        tuple(np.minimum((pos * n_side / lbox).astype(int), n_side - 1).T), (n_side,) * 3
    )
    pairs, d = pair_list(pos, lbox, edges[-1])
    pairs, b, ed, ee = _pair_terms(pairs, d, ori, edges)
    ci, cj = cube[pairs[:, 0]], cube[pairs[:, 1]]
    # Per-cube sums of the ordered-pair counts and numerators: the ordered pair (i, j) goes to
    # the cube of i, (j, i) to the cube of j.
    idx_i, idx_j = ci * nb + b, cj * nb + b
    size = nsub * nb

    def per_cube(w):
        return (np.bincount(idx_i, w, size) + np.bincount(idx_j, w, size)).reshape(nsub, nb)

    ones = np.ones(len(b))
    dd_c, ed_c, ee_c = per_cube(ones), per_cube(0.5 * ed), per_cube(0.5 * ee)
    n_c = np.bincount(cube, minlength=nsub)
    n = len(pos)
    dv = _shell_volumes(edges) / lbox**3
    full = kdtree_statistics(pos, ori, lbox, edges)
    jk = np.empty((nsub, 3, nb))
    with np.errstate(divide="ignore", invalid="ignore"):
        for s in range(nsub):  # loop over subvolumes (27), not points
            dd = dd_c.sum(0) - dd_c[s]
            nk = n - n_c[s]
            # Ordered pairs whose first point is kept: expected nk * n * dV / V.
            jk[s, 0] = dd / (nk * n * dv) - 1.0
            jk[s, 1] = (ed_c.sum(0) - ed_c[s]) / dd - 1.0 / 3.0
            jk[s, 2] = (ee_c.sum(0) - ee_c[s]) / dd - 1.0 / 3.0
    mean = jk.mean(0)
    sigma = np.sqrt((nsub - 1) / nsub * ((jk - mean) ** 2).sum(0))
    return full, sigma

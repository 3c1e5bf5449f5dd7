"""Dimroth-Watson orientation sampling, re-implemented in numpy.

halotools draws galaxy major axes with ``p(cos t) ~ exp(-k cos^2 t)`` about a reference vector,
``k = -tan(pi mu / 2)``: mu = 1 is perfect alignment, 0 random, -1 perpendicular. This module is
the cross-check and the fallback sampler (exact rejection/inverse-CDF sampling, vectorised over
galaxies; loops run over rejection rounds, not over points).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf, erfinv


def watson_k(mu: np.ndarray) -> np.ndarray:
    """Shape parameter ``k = -tan(pi mu / 2)`` (-inf for mu = 1, +inf for mu = -1)."""
    mu = np.asarray(mu, dtype=float)
    with np.errstate(over="ignore"):
        k = -np.tan(0.5 * np.pi * mu)
    k = np.where(mu >= 1.0, -np.inf, k)
    return np.where(mu <= -1.0, np.inf, k)


def sample_watson_cos(mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw ``cos t`` in [-1, 1] from the Dimroth-Watson law for each entry of ``mu``.

    Aligned case (k < 0, kappa = -k): rejection from the envelope ``exp(kappa (t - 1))`` on
    [0, 1], accepted with ``exp(-kappa t (1 - t))``. Girdle case (k > 0): a normal truncated to
    [0, 1], sampled by inverse CDF. The sign is uniform.
    """
    mu = np.asarray(mu, dtype=float)
    k = np.broadcast_to(watson_k(mu), mu.shape).ravel()
    t = np.empty(k.shape)
    u0 = rng.uniform(0, 1, k.shape)
    t[:] = u0  # k == 0: uniform
    aligned_inf = np.isneginf(k)
    girdle_inf = np.isposinf(k)
    t[aligned_inf] = 1.0
    t[girdle_inf] = 0.0
    gird = (k > 0) & ~girdle_inf
    if gird.any():
        s = np.sqrt(k[gird])
        t[gird] = erfinv(u0[gird] * erf(s)) / s
    todo = np.flatnonzero((k < 0) & ~aligned_inf)
    while todo.size:
        kappa = -k[todo]
        u = rng.uniform(0, 1, todo.size)
        cand = 1.0 + np.log(u + (1.0 - u) * np.exp(-kappa)) / kappa
        accept = rng.uniform(0, 1, todo.size) < np.exp(-kappa * cand * (1.0 - cand))
        t[todo[accept]] = np.clip(cand[accept], 0.0, 1.0)
        todo = todo[~accept]
    sign = np.where(rng.uniform(0, 1, k.shape) < 0.5, -1.0, 1.0)
    return (sign * t).reshape(mu.shape)


def orthonormal_frame(ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit ``n = ref/|ref|`` and two unit vectors ``u, v`` completing a right-handed frame."""
    n = ref / np.linalg.norm(ref, axis=-1, keepdims=True)
    # Cross with the coordinate axis least aligned with n: never degenerate.
    helper = np.zeros_like(n)
    helper[np.arange(len(n)), np.argmin(np.abs(n), axis=-1)] = 1.0
    u = np.cross(n, helper)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    return n, u, np.cross(n, u)


def watson_axes(ref: np.ndarray, mu: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors distributed Dimroth-Watson about ``ref`` (shape (n, 3)) with strength ``mu``."""
    ref = np.asarray(ref, dtype=float)
    mu = np.broadcast_to(np.asarray(mu, dtype=float), (len(ref),))
    n, u, v = orthonormal_frame(ref)
    c = sample_watson_cos(mu, rng)
    s = np.sqrt(np.clip(1.0 - c * c, 0.0, None))
    phi = rng.uniform(0, 2 * np.pi, len(ref))
    return c[:, None] * n + s[:, None] * (np.cos(phi)[:, None] * u + np.sin(phi)[:, None] * v)

"""Weak form: integrate the library against compactly supported test functions.

Test functions are separable bumps ``phi(s) = (1 - s^2)^p`` on random space-time boxes. Derivatives
move onto the test function by integration by parts (no boundary terms: ``phi`` and ``phi'`` vanish
on the box boundary for ``p >= 2``), so only the noisy fields themselves are integrated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["WeakBoxes", "sample_boxes", "weak_rd_system"]


@dataclass
class WeakBoxes:
    """``K`` boxes: start indices ``(K, 3)`` in ``(t, y, x)`` and the box size in grid points."""

    starts: np.ndarray
    size_t: int
    size_x: int


def sample_boxes(n_boxes, shape, size_t, size_x, rng) -> WeakBoxes:
    """Random boxes inside the time range; space is periodic so boxes may wrap around."""
    nt, ny, nx = shape
    if size_t > nt:
        raise ValueError(f"box of {size_t} time points does not fit {nt} snapshots")
    st = rng.integers(0, nt - size_t + 1, n_boxes)
    sy = rng.integers(0, ny, n_boxes)
    sx = rng.integers(0, nx, n_boxes)
    return WeakBoxes(np.stack([st, sy, sx], axis=1), size_t, size_x)


def _bump(n: int, spacing: float, power: int):
    """phi, phi', phi'' of ``(1 - s^2)^p`` on ``n`` points spanning [-1, 1] (physical units)."""
    s = np.linspace(-1, 1, n)
    half = spacing * (n - 1) / 2
    base = 1 - s**2
    phi = base**power
    d1 = -2 * power * s * base ** (power - 1) / half
    d2 = (
        -2 * power * base ** (power - 1) + 4 * power * (power - 1) * s**2 * base ** (power - 2)
    ) / half**2
    return phi, d1, d2


def _blocks(field: np.ndarray, boxes: WeakBoxes) -> np.ndarray:
    """Gather ``(K, size_t, size_x, size_x)`` blocks (space wraps periodically)."""
    nt, ny, nx = field.shape
    it = boxes.starts[:, 0, None] + np.arange(boxes.size_t)
    iy = (boxes.starts[:, 1, None] + np.arange(boxes.size_x)) % ny
    ix = (boxes.starts[:, 2, None] + np.arange(boxes.size_x)) % nx
    return field[it[:, :, None, None], iy[:, None, :, None], ix[:, None, None, :]]


def weak_rd_system(u, v, boxes: WeakBoxes, dt, dx, power: int = 4):
    """Weak-form 19-feature library and targets of the reaction-diffusion system.

    Returns
    -------
    theta : ndarray (K, 19)
        ``int phi * feature`` in the order of :data:`~.invariants.RD_RAW_NAMES`.
    target : ndarray (K, 2)
        ``int phi u_t = -int phi_t u`` and the same for ``v``.
    """
    pt, pt1, _ = _bump(boxes.size_t, dt, power)
    px, px1, px2 = _bump(boxes.size_x, dx, power)
    vol = dt * dx * dx
    U, V = _blocks(u, boxes), _blocks(v, boxes)

    def integ(block, a, b, c):
        return np.einsum("kabc,a,b,c->k", block, a, b, c) * vol

    mono = [U, V, U * U, U * V, V * V, U**3, U * U * V, U * V * V, V**3]
    cols = [integ(m, pt, px, px) for m in mono]
    for F in (U, V):
        # int phi D^a f = (-1)^{|a|} int (D^a phi) f; rows are (y, x) = (b, c).
        cols += [
            -integ(F, pt, px, px1),  # x
            -integ(F, pt, px1, px),  # y
            integ(F, pt, px, px2),  # xx
            integ(F, pt, px1, px1),  # xy
            integ(F, pt, px2, px),  # yy
        ]
    theta = np.stack(cols, axis=1)
    target = np.stack([-integ(U, pt1, px, px), -integ(V, pt1, px, px)], axis=1)
    return theta, target

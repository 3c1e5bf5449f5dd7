"""Derivative estimation: spectral (periodic axes) and central finite differences.

Both act along one axis of an array of any shape, so a whole space-time field is differentiated
in one vectorised call.
"""

from __future__ import annotations

import numpy as np

__all__ = ["spectral_derivative", "finite_difference", "wavenumbers"]

# Central-difference stencils (offsets -2..2) for the first and second derivative.
_FD = {
    (1, 2): np.array([0.0, -0.5, 0.0, 0.5, 0.0]),
    (1, 4): np.array([1 / 12, -2 / 3, 0.0, 2 / 3, -1 / 12]),
    (2, 2): np.array([0.0, 1.0, -2.0, 1.0, 0.0]),
    (2, 4): np.array([-1 / 12, 4 / 3, -5 / 2, 4 / 3, -1 / 12]),
    (1, 6): np.array([-1 / 60, 3 / 20, -3 / 4, 0.0, 3 / 4, -3 / 20, 1 / 60]),
}


def wavenumbers(n: int, length: float) -> np.ndarray:
    """Angular wavenumbers of an ``n``-point periodic grid of period ``length``."""
    return 2 * np.pi * np.fft.fftfreq(n, d=length / n)


def spectral_derivative(f: np.ndarray, order: int, length: float, axis: int = -1) -> np.ndarray:
    """``order``-th derivative of a periodic field along ``axis`` by FFT.

    Parameters
    ----------
    f : ndarray
        Samples on a uniform periodic grid (endpoint excluded).
    order : int
        Derivative order (>= 0).
    length : float
        Period of the domain along ``axis``.
    axis : int
        Axis to differentiate.
    """
    if order == 0:
        return np.array(f, dtype=float, copy=True)
    n = f.shape[axis]
    k = wavenumbers(n, length)
    mult = (1j * k) ** order
    if order % 2 == 1 and n % 2 == 0:
        # The Nyquist mode has no well-defined odd derivative of a real signal.
        mult[n // 2] = 0.0
    shape = [1] * f.ndim
    shape[axis] = n
    return np.real(np.fft.ifft(np.fft.fft(f, axis=axis) * mult.reshape(shape), axis=axis))


def finite_difference(
    f: np.ndarray, order: int, spacing: float, axis: int = -1, accuracy: int = 4
) -> np.ndarray:
    """Central finite-difference derivative (order 1 or 2, accuracy 2 or 4; order 1 also 6).

    Higher orders are obtained by repeated application. The two outermost points on each side
    are computed with one-sided differences of second order via ``numpy.gradient`` so the output
    has the input's shape; callers drop a border when they need the interior accuracy.
    """
    if order == 0:
        return np.array(f, dtype=float, copy=True)
    if order > 2:
        return finite_difference(
            finite_difference(f, 2, spacing, axis, accuracy), order - 2, spacing, axis, accuracy
        )
    if (order, accuracy) not in _FD:
        raise ValueError(f"unsupported finite difference order={order}, accuracy={accuracy}")
    f = np.moveaxis(np.asarray(f, dtype=float), axis, -1)
    w = _FD[(order, accuracy)]
    h = len(w) // 2
    if f.shape[-1] < len(w):
        raise ValueError(f"need at least {len(w)} points along axis {axis}, got {f.shape[-1]}")
    out = np.empty_like(f)
    n = f.shape[-1]
    inner = sum(w[j] * f[..., j : n - 2 * h + j] for j in range(len(w)))
    out[..., h:-h] = inner / spacing**order
    edge = np.gradient(f, spacing, axis=-1, edge_order=2)
    if order == 2:
        edge = np.gradient(edge, spacing, axis=-1, edge_order=2)
    out[..., :h] = edge[..., :h]
    out[..., -h:] = edge[..., -h:]
    return np.moveaxis(out, -1, axis)

"""Data generators for the three systems of the paper, cached by their config.

* Boussinesq water waves ``u_tt + (u^2/2)_xx + u_xxxx = 0``: pseudo-spectral in x, RK4 in t.
* Darcy flow ``-div(a grad u) = 1``, ``a = exp(-4(x^2+y^2))``: 5-point finite-volume system
  solved directly (sparse LU) with homogeneous Dirichlet data.
* Lambda-omega reaction-diffusion: spectral Laplacian, RK4, optional symmetry breaking
  (unequal diffusivities ``d2 = d1 + eps_d`` or forcing ``-eps_f (v, u)``).

Every generator is a pure function of a dataclass config; :func:`load_system` caches its output
with :func:`symlab.data.cached_dataset`. Noise is added afterwards by :func:`add_noise` so the
clean simulation is shared by every noise level.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from symlab.data import cached_dataset

from .derivatives import finite_difference, spectral_derivative, wavenumbers

__all__ = [
    "BoussinesqConfig",
    "DarcyConfig",
    "ReactionDiffusionConfig",
    "simulate_boussinesq",
    "boussinesq_derivatives",
    "boussinesq_rhs",
    "solve_darcy",
    "darcy_derivatives",
    "simulate_reaction_diffusion",
    "rd_rhs",
    "rd_derivatives",
    "add_noise",
    "load_system",
]


@dataclass
class BoussinesqConfig:
    """Boussinesq simulation settings (paper: N=256, dt=1e-3, T=20, test window 20)."""

    n: int = 256
    half_width: float = 20.0
    dt: float = 1e-3
    t_train: float = 20.0
    t_test: float = 20.0
    save_every: float = 0.1
    amplitude: float = 0.5


@dataclass
class DarcyConfig:
    """Darcy flow settings: ``n`` x ``n`` cells on ``[-half_width, half_width]^2`` + ``center``."""

    n: int = 128
    half_width: float = 0.5
    center_x: float = 0.0
    center_y: float = 0.0
    decay: float = 4.0


@dataclass
class ReactionDiffusionConfig:
    """Lambda-omega reaction-diffusion settings (paper: 128^2 on [-10, 10]^2, T=10)."""

    n: int = 64
    half_width: float = 10.0
    dt: float = 0.005
    t_train: float = 10.0
    t_test: float = 2.0
    save_every: float = 0.05
    d1: float = 0.1
    d2: float = 0.1
    beta: float = 1.0
    forcing: float = 0.0


# ----------------------------------------------------------------------------- Boussinesq


def boussinesq_rhs(u: np.ndarray, length: float) -> np.ndarray:
    """``u_tt = -(u^2/2)_xx - u_xxxx`` for periodic ``u`` of shape ``(..., n)``."""
    n = u.shape[-1]
    k = wavenumbers(n, length)
    nl = np.fft.fft(0.5 * u * u, axis=-1)
    uh = np.fft.fft(u, axis=-1)
    return np.real(np.fft.ifft(k**2 * nl - k**4 * uh, axis=-1))


def _rk4_second_order(u, w, accel, dt, steps):
    """RK4 for ``u' = w, w' = accel(u)``."""
    for _ in range(steps):
        k1u, k1w = w, accel(u)
        k2u, k2w = w + 0.5 * dt * k1w, accel(u + 0.5 * dt * k1u)
        k3u, k3w = w + 0.5 * dt * k2w, accel(u + 0.5 * dt * k2u)
        k4u, k4w = w + dt * k3w, accel(u + dt * k3u)
        u = u + dt / 6 * (k1u + 2 * k2u + 2 * k3u + k4u)
        w = w + dt / 6 * (k1w + 2 * k2w + 2 * k3w + k4w)
    return u, w


def _n_steps(interval: float, dt: float) -> int:
    steps = round(interval / dt)
    if steps < 1 or abs(steps * dt - interval) > 1e-9 * max(1.0, interval):
        raise ValueError(f"interval {interval} is not a multiple of the time step {dt}")
    return steps


def simulate_boussinesq(cfg: BoussinesqConfig) -> dict[str, np.ndarray]:
    """Simulate from ``u = A exp(-x^2), u_t = 0``; returns ``u, w=u_t, x, t`` (train + test)."""
    length = 2 * cfg.half_width
    x = -cfg.half_width + length * np.arange(cfg.n) / cfg.n
    u = cfg.amplitude * np.exp(-(x**2))
    w = np.zeros_like(u)
    sub = _n_steps(cfg.save_every, cfg.dt)
    n_out = _n_steps(cfg.t_train + cfg.t_test, cfg.save_every) + 1
    us, ws = [u], [w]

    def accel(v):
        return boussinesq_rhs(v, length)

    for _ in range(n_out - 1):
        u, w = _rk4_second_order(u, w, accel, cfg.dt, sub)
        if not np.all(np.isfinite(u)):
            raise FloatingPointError("Boussinesq simulation diverged; reduce dt")
        us.append(u)
        ws.append(w)
    t = cfg.save_every * np.arange(n_out)
    return {"u": np.array(us), "w": np.array(ws), "x": x, "t": t}


def boussinesq_derivatives(u: np.ndarray, w: np.ndarray, length: float) -> dict[tuple, np.ndarray]:
    """All ``u_{x^a t^b}`` with ``a + b <= 4`` from the solver state ``(u, u_t)``.

    Time derivatives follow from the equation (``u_tt = F(u)``, ``u_ttt = dF/du . u_t`` ...),
    space derivatives are spectral. Keys are ``(a, b)``.
    """

    def dxx(f):
        return spectral_derivative(f, 2, length)

    def d4(f):
        return spectral_derivative(f, 4, length)

    utt = -dxx(0.5 * u * u) - d4(u)
    uttt = -dxx(u * w) - d4(w)
    utttt = -dxx(w * w + u * utt) - d4(utt)
    time = {0: u, 1: w, 2: utt, 3: uttt, 4: utttt}
    out = {}
    for b, f in time.items():
        for a in range(0, 5 - b):
            out[(a, b)] = spectral_derivative(f, a, length)
    return out


# ----------------------------------------------------------------------------- Darcy


def _darcy_coefficient(x, y, cfg: DarcyConfig):
    return np.exp(-cfg.decay * (x**2 + y**2))


def solve_darcy(cfg: DarcyConfig) -> dict[str, np.ndarray]:
    """Solve ``-div(a grad u) = 1`` with ``u = 0`` on the square's boundary.

    Cell-centred finite volumes: the flux through each face uses ``a`` at the face centre; the
    boundary faces see the Dirichlet value at half a cell. Returns ``u`` of shape ``(n, n)``
    indexed ``[iy, ix]`` and the cell-centre coordinates ``x, y`` (1-D).
    """
    n = cfg.n
    h = 2 * cfg.half_width / n
    xc = cfg.center_x - cfg.half_width + h * (np.arange(n) + 0.5)
    yc = cfg.center_y - cfg.half_width + h * (np.arange(n) + 0.5)
    X, Y = np.meshgrid(xc, yc)
    idx = np.arange(n * n).reshape(n, n)
    rows, cols, vals = [], [], []
    diag = np.zeros((n, n))
    # Faces in x (east/west) and y (north/south); a face next to the boundary has its neighbour
    # replaced by the Dirichlet value at distance h/2, i.e. transmissibility 2 a / h^2.
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        a_face = _darcy_coefficient(X + dx * h / 2, Y + dy * h / 2, cfg) / h**2
        iy, ix = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        jy, jx = iy + dy, ix + dx
        inside = (jx >= 0) & (jx < n) & (jy >= 0) & (jy < n)
        diag += np.where(inside, a_face, 2 * a_face)
        rows.append(idx[inside])
        cols.append(idx[jy[inside], jx[inside]])
        vals.append(-a_face[inside])
    rows.append(idx.ravel())
    cols.append(idx.ravel())
    vals.append(diag.ravel())
    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n * n, n * n)
    )
    u = spla.spsolve(A.tocsc(), np.ones(n * n)).reshape(n, n)
    return {"u": u, "x": xc, "y": yc}


def darcy_derivatives(u: np.ndarray, h: float) -> dict[str, np.ndarray]:
    """Fourth-order central differences ``u_x, u_y, u_xx, u_xy, u_yy`` (arrays ``[iy, ix]``)."""
    ux = finite_difference(u, 1, h, axis=1)
    uy = finite_difference(u, 1, h, axis=0)
    return {
        "u": u,
        "u_x": ux,
        "u_y": uy,
        "u_xx": finite_difference(u, 2, h, axis=1),
        "u_yy": finite_difference(u, 2, h, axis=0),
        "u_xy": finite_difference(ux, 1, h, axis=0),
    }


# ----------------------------------------------------------------------------- reaction-diffusion


def rd_rhs(u, v, length, d1=0.1, d2=0.1, beta=1.0, forcing=0.0):
    """Right-hand side of the lambda-omega system for fields of shape ``(..., ny, nx)``."""
    lap_u = spectral_derivative(u, 2, length, -1) + spectral_derivative(u, 2, length, -2)
    lap_v = spectral_derivative(v, 2, length, -1) + spectral_derivative(v, 2, length, -2)
    A = u * u + v * v
    ut = d1 * lap_u + (1 - A) * u + beta * A * v - forcing * v
    vt = d2 * lap_v + (1 - A) * v - beta * A * u - forcing * u
    return ut, vt


def _rk4(state, f, dt, steps):
    for _ in range(steps):
        k1 = f(*state)
        k2 = f(*(s + 0.5 * dt * k for s, k in zip(state, k1)))
        k3 = f(*(s + 0.5 * dt * k for s, k in zip(state, k2)))
        k4 = f(*(s + dt * k for s, k in zip(state, k3)))
        state = tuple(
            s + dt / 6 * (a + 2 * b + 2 * c + d) for s, a, b, c, d in zip(state, k1, k2, k3, k4)
        )
    return state


def simulate_reaction_diffusion(cfg: ReactionDiffusionConfig) -> dict[str, np.ndarray]:
    """Spiral initial condition ``tanh(r) (cos, sin)(theta - r)``; ``u, v`` are ``(nt, n, n)``."""
    length = 2 * cfg.half_width
    x = -cfg.half_width + length * np.arange(cfg.n) / cfg.n
    X, Y = np.meshgrid(x, x)  # arrays indexed [iy, ix]
    r = np.sqrt(X**2 + Y**2)
    th = np.arctan2(Y, X)
    u = np.tanh(r) * np.cos(th - r)
    v = np.tanh(r) * np.sin(th - r)
    sub = _n_steps(cfg.save_every, cfg.dt)
    n_out = _n_steps(cfg.t_train + cfg.t_test, cfg.save_every) + 1

    def f(a, b):
        return rd_rhs(a, b, length, cfg.d1, cfg.d2, cfg.beta, cfg.forcing)

    us, vs = [u], [v]
    for _ in range(n_out - 1):
        u, v = _rk4((u, v), f, cfg.dt, sub)
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
            raise FloatingPointError("reaction-diffusion simulation diverged; reduce dt")
        us.append(u)
        vs.append(v)
    return {"u": np.array(us), "v": np.array(vs), "x": x, "t": cfg.save_every * np.arange(n_out)}


def rd_derivatives(u, v, dt, length, time_accuracy=6) -> dict[str, np.ndarray]:
    """Data-driven derivatives: finite differences in time, spectral in space.

    Returns ``u, v`` and ``u_mu, v_mu`` for ``mu`` in ``t, x, y, xx, xy, yy`` (fields
    ``(nt, ny, nx)``); the first and last three time slices carry one-sided time derivatives.
    """
    out = {"u": u, "v": v}
    for name, f in (("u", u), ("v", v)):
        fx = spectral_derivative(f, 1, length, -1)
        out[f"{name}_t"] = finite_difference(f, 1, dt, axis=0, accuracy=time_accuracy)
        out[f"{name}_x"] = fx
        out[f"{name}_y"] = spectral_derivative(f, 1, length, -2)
        out[f"{name}_xx"] = spectral_derivative(f, 2, length, -1)
        out[f"{name}_yy"] = spectral_derivative(f, 2, length, -2)
        out[f"{name}_xy"] = spectral_derivative(fx, 1, length, -2)
    return out


# ----------------------------------------------------------------------------- common


def add_noise(fields: dict[str, np.ndarray], level: float, seed: int) -> dict[str, np.ndarray]:
    """Add Gaussian noise of standard deviation ``level * std(field)`` to each field."""
    if level < 0:
        raise ValueError(f"noise level must be >= 0, got {level}")
    rng = np.random.default_rng(seed)
    return {k: f + level * np.std(f) * rng.standard_normal(f.shape) for k, f in fields.items()}


_BUILDERS = {
    "boussinesq": (BoussinesqConfig, simulate_boussinesq),
    "darcy": (DarcyConfig, solve_darcy),
    "reaction_diffusion": (ReactionDiffusionConfig, simulate_reaction_diffusion),
}


def load_system(name: str, cfg, cache_dir=None) -> dict[str, np.ndarray]:
    """Generate (or load from the cache) the data of system ``name`` for config ``cfg``."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown system {name!r}; choose one of {sorted(_BUILDERS)}")
    cls, build = _BUILDERS[name]
    if not isinstance(cfg, cls):
        raise TypeError(f"system {name!r} needs a {cls.__name__}, got {type(cfg).__name__}")
    return cached_dataset(
        f"invariant_eqdisc-{name}", dataclasses.asdict(cfg), lambda c: build(cls(**c)), cache_dir
    )

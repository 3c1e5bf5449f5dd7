"""Hamiltonian systems and their trajectory datasets.

A :class:`HamiltonianSystem` is defined by its Hamiltonian ``H(q, p, params)`` (torch, any leading
batch dims), a parameter sampler and an initial state. The equations of motion
``dq/dt = dH/dp, dp/dt = -dH/dq`` come from autograd, so adding a system means writing ``H`` and
the sampler; every trajectory of a dataset is integrated in one vectorised ``solve_ivp`` call.

Stored data follows the paper: ``q`` is multiplied by ``q_scale`` (``2/pi`` for the pendulums) and
``p`` is divided by its per-trajectory maximum ``|p|`` (``p_scale``, kept so energies can be
recovered from the normalised states).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp

G = 9.81


class HamiltonianSystem:
    """Base class: subclasses define ``hamiltonian``, ``sample_params`` and ``initial_state``.

    Attributes
    ----------
    name : str
        Registry name.
    dim : int
        Number of generalised coordinates.
    q_scale : float
        Multiplier applied to ``q`` when storing (the paper's ``2/pi`` for angles).
    param_names : tuple of str
        Names of the columns of the parameter array; the first one is the probe target.
    """

    name = "base"
    dim = 1
    q_scale = 1.0
    param_names: tuple[str, ...] = ()

    def hamiltonian(self, q: torch.Tensor, p: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Energy ``H(q, p)`` for states ``[..., dim]`` and parameters ``[..., n_params]``."""
        raise NotImplementedError

    def sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` parameter vectors, shape ``[n, n_params]``."""
        raise NotImplementedError

    def initial_state(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Initial ``(q0, p0)`` of shape ``[n, dim]`` each."""
        raise NotImplementedError

    def vector_field(self, q: torch.Tensor, p: torch.Tensor, params: torch.Tensor):
        """Hamilton's equations ``(dH/dp, -dH/dq)`` by autograd (float64)."""
        with torch.enable_grad():
            q = q.detach().requires_grad_(True)
            p = p.detach().requires_grad_(True)
            dq, dp = torch.autograd.grad(self.hamiltonian(q, p, params).sum(), (q, p))
        return dp, -dq

    def energy(self, q: np.ndarray, p: np.ndarray, params: np.ndarray) -> np.ndarray:
        """``H`` of raw (physical) states as numpy; ``params`` broadcasts over time."""
        with torch.no_grad():
            return self.hamiltonian(
                torch.as_tensor(q, dtype=torch.float64),
                torch.as_tensor(p, dtype=torch.float64),
                torch.as_tensor(params, dtype=torch.float64),
            ).numpy()


class SinglePendulum(HamiltonianSystem):
    """``H = p^2 / (2 m l^2) + m g l (1 - cos q)``, ``m = 1``, ``l ~ U(0.5, 1)``, ``q0 = pi/2``."""

    name = "single_pendulum"
    dim = 1
    q_scale = 2.0 / math.pi
    param_names = ("l",)

    def hamiltonian(self, q, p, params):
        m, length = 1.0, params[..., 0]
        return p[..., 0] ** 2 / (2 * m * length**2) + m * G * length * (1 - torch.cos(q[..., 0]))

    def sample_params(self, n, rng):
        return rng.uniform(0.5, 1.0, size=(n, 1))

    def initial_state(self, params):
        n = len(params)
        return np.full((n, 1), math.pi / 2), np.zeros((n, 1))


class DoublePendulum(HamiltonianSystem):
    """Canonical double pendulum, ``m1 = m2 = l1 = 1``, ``l2 ~ U(0.5, 1.5)``, ``q0 = (pi/2, pi/2)``.

    The potential is measured from the hanging rest position,
    ``V = (m1+m2) g l1 (1 - cos q1) + m2 g l2 (1 - cos q2)``: the brief's
    ``-(m1+m2) g l1 cos q1 - m2 g l2 cos q2`` differs by a constant and gives ``H0 = 0`` at the
    fixed initial state, which makes a relative energy drift undefined.
    """

    name = "double_pendulum"
    dim = 2
    q_scale = 2.0 / math.pi
    param_names = ("l2",)
    m1 = m2 = l1 = 1.0

    def hamiltonian(self, q, p, params):
        m1, m2, l1, l2 = self.m1, self.m2, self.l1, params[..., 0]
        q1, q2, p1, p2 = q[..., 0], q[..., 1], p[..., 0], p[..., 1]
        c = torch.cos(q1 - q2)
        s2 = torch.sin(q1 - q2) ** 2
        num = m2 * l2**2 * p1**2 + (m1 + m2) * l1**2 * p2**2 - 2 * m2 * l1 * l2 * p1 * p2 * c
        den = 2 * m2 * l1**2 * l2**2 * (m1 + m2 * s2)
        pot = (m1 + m2) * G * l1 * (1 - torch.cos(q1)) + m2 * G * l2 * (1 - torch.cos(q2))
        return num / den + pot

    def sample_params(self, n, rng):
        return rng.uniform(0.5, 1.5, size=(n, 1))

    def initial_state(self, params):
        n = len(params)
        return np.full((n, 2), math.pi / 2), np.zeros((n, 2))


class MassSpring(HamiltonianSystem):
    """Project extension: ``H = p^2 / (2 m) + k q^2 / 2``, ``m = 1``, ``k ~ U(0.5, 2)``,
    ``q0 = 1``."""

    name = "mass_spring"
    dim = 1
    q_scale = 1.0
    param_names = ("k",)

    def hamiltonian(self, q, p, params):
        return p[..., 0] ** 2 / 2 + params[..., 0] * q[..., 0] ** 2 / 2

    def sample_params(self, n, rng):
        return rng.uniform(0.5, 2.0, size=(n, 1))

    def initial_state(self, params):
        n = len(params)
        return np.ones((n, 1)), np.zeros((n, 1))


SYSTEMS: dict[str, type[HamiltonianSystem]] = {
    cls.name: cls for cls in (SinglePendulum, DoublePendulum, MassSpring)
}


def get_system(name: str) -> HamiltonianSystem:
    """The system registered under ``name``; unknown names raise a ``KeyError`` listing them."""
    if name not in SYSTEMS:
        raise KeyError(f"unknown system {name!r}; known systems: {sorted(SYSTEMS)}")
    return SYSTEMS[name]()


@dataclass
class DataConfig:
    """Trajectory dataset parameters (the paper's grid: 1025 samples on [0, 10] s)."""

    system: str = "double_pendulum"
    n_train: int = 256
    n_test: int = 64
    t_end: float = 10.0
    n_raw: int = 1025
    coarse_step: int = 8
    n_coarse: int = 65
    rtol: float = 1e-3
    max_step: float = 0.01
    seed: int = 0


def simulate(
    system: HamiltonianSystem, params: np.ndarray, t: np.ndarray, rtol: float, max_step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate all trajectories together with RK45 and read them at ``t`` (dense output).

    Returns raw ``q, p`` of shape ``[n, len(t), dim]``.
    """
    q0, p0 = system.initial_state(params)
    n, d = q0.shape
    par = torch.as_tensor(params, dtype=torch.float64)

    def rhs(_t, y):
        y = torch.as_tensor(y, dtype=torch.float64).view(n, 2, d)
        dq, dp = system.vector_field(y[:, 0], y[:, 1], par)
        return torch.stack([dq, dp], 1).reshape(-1).numpy()

    y0 = np.stack([q0, p0], 1).reshape(-1)
    sol = solve_ivp(
        rhs, (t[0], t[-1]), y0, method="RK45", rtol=rtol, max_step=max_step, dense_output=True
    )
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed for {system.name}: {sol.message}")
    y = sol.sol(t).T.reshape(len(t), n, 2, d).transpose(1, 0, 2, 3)
    return y[:, :, 0], y[:, :, 1]


def build_split(cfg: DataConfig, n: int, seed: int) -> dict[str, np.ndarray]:
    """Generate one split: normalised coarse ``q, p``, ``p_scale``, parameters, raw energies."""
    system = get_system(cfg.system)
    rng = np.random.default_rng(seed)
    params = system.sample_params(n, rng)
    t = np.linspace(0.0, cfg.t_end, cfg.n_raw)
    q_raw, p_raw = simulate(system, params, t, cfg.rtol, cfg.max_step)
    energy = system.energy(q_raw, p_raw, params[:, None, :])
    p_scale = np.abs(p_raw).max(axis=(1, 2))
    # a trajectory that never moves would give p_scale = 0; keep the division finite.
    p_scale = np.where(p_scale > 0, p_scale, 1.0)
    q = q_raw * system.q_scale
    p = p_raw / p_scale[:, None, None]
    sl = slice(None, None, cfg.coarse_step)
    return {
        "q": q[:, sl].astype(np.float64),
        "p": p[:, sl].astype(np.float64),
        "t": t[sl],
        "p_scale": p_scale,
        "params": params,
        "energy_raw": energy,
    }


def load_dataset(cfg: DataConfig, cache_dir=None) -> dict[str, dict[str, np.ndarray]]:
    """Train (seed) and test (seed + 1) splits, generated once and cached by config.

    Each split holds the full coarse trajectory (``n_raw // coarse_step + 1`` states); tasks crop
    it themselves (forward simulation uses the first ``n_coarse`` states).
    """
    from symlab.data import cached_dataset

    out = {}
    for split, n, seed in (("train", cfg.n_train, cfg.seed), ("test", cfg.n_test, cfg.seed + 1)):
        key = {**cfg.__dict__, "split": split, "n": n, "split_seed": seed}
        arrays = cached_dataset(
            f"dhn-{cfg.system}-{split}",
            key,
            lambda _k, n=n, seed=seed: build_split(cfg, n, seed),
            cache_dir=cache_dir,
        )
        for name in ("q", "p", "p_scale", "params"):
            if name not in arrays or not np.all(np.isfinite(arrays[name])):
                raise ValueError(
                    f"dataset {cfg.system}/{split}: array {name!r} missing or not finite"
                )
        out[split] = arrays
    return out


def physical_energy(
    system: HamiltonianSystem, q: np.ndarray, p: np.ndarray, p_scale: np.ndarray, params: np.ndarray
) -> np.ndarray:
    """``H_true`` of normalised states ``[n, T, dim]``: undo ``q_scale`` and ``p_scale`` first."""
    q_raw = np.asarray(q, dtype=np.float64) / system.q_scale
    p_raw = np.asarray(p, dtype=np.float64) * np.asarray(p_scale)[:, None, None]
    return system.energy(q_raw, p_raw, np.asarray(params)[:, None, :])


def relative_energy_drift(energy: np.ndarray) -> np.ndarray:
    """``|H(t) - H(0)| / |H(0)|`` per trajectory and time, from ``[n, T]`` energies."""
    return np.abs(energy - energy[:, :1]) / np.abs(energy[:, :1])

"""Numerical checks of the paper's claims: invariance of the invariants under the group acting on
analytic fields, ground-truth invariant forms on generated data, subspace dimension, and
agreement of our STLSQ with pysindy's."""

from __future__ import annotations

import warnings

import numpy as np
import sympy

from .invariants import boussinesq_data, boussinesq_library, darcy_library, rd_library
from .symbolic import rd_jet

__all__ = [
    "numeric_invariance_errors",
    "ground_truth_residuals",
    "stlsq_pysindy_difference",
]


def _jet_values(exprs: dict, variables, points) -> dict[str, np.ndarray]:
    return {
        name: np.broadcast_to(
            np.asarray(sympy.lambdify(variables, e, "numpy")(*points), dtype=float),
            points[0].shape,
        )
        for name, e in exprs.items()
    }


def _rel_err(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]) / (1e-12 + np.abs(a[k])))) for k in a)


def numeric_invariance_errors(n_points: int = 50, seed: int = 0) -> dict[str, float]:
    """Worst relative change of every invariant when the group acts on an analytic field.

    * Boussinesq: ``u -> lam^-2 u(x/lam, t/lam^2)`` (``lam`` in [0.5, 2]);
    * Darcy: rotation of ``(x, y)``;
    * reaction-diffusion: rotation of ``(u, v)``.
    """
    rng = np.random.default_rng(seed)
    x, t, y = sympy.symbols("x t y", real=True)
    out = {}
    # Boussinesq
    lib = boussinesq_library()
    u = sympy.sin(x) + sympy.Rational(3, 10) * sympy.cos(2 * x - t) + x / 2 + x * t / 10
    errs = []
    for lam in rng.uniform(0.5, 2.0, 3):
        lam = float(lam)
        ut = u.subs({x: x / lam, t: t / lam**2}, simultaneous=True) / lam**2
        pairs = [(a, b) for a in range(5) for b in range(5) if a + b <= 4]
        jet0 = {(a, b): sympy.diff(u, x, a, t, b) if a + b else u for a, b in pairs}
        jet1 = {(a, b): sympy.diff(ut, x, a, t, b) if a + b else ut for a, b in pairs}
        px, pt = rng.uniform(-2, 2, n_points), rng.uniform(0, 2, n_points)
        d0 = boussinesq_data(_jet_values(jet0, (x, t), (px, pt)))
        d1 = boussinesq_data(_jet_values(jet1, (x, t), (lam * px, lam**2 * pt)))
        names = list(lib.invariants)
        errs.append(_rel_err(lib.evaluate(d0, names), lib.evaluate(d1, names)))
    out["boussinesq"] = max(errs)
    # Darcy
    lib = darcy_library()
    u = sympy.exp(-(x**2)) * sympy.sin(y) + x**3 * y
    errs = []
    for th in rng.uniform(0, 2 * np.pi, 3):
        c, s = np.cos(th), np.sin(th)
        ur = u.subs({x: c * x + s * y, y: -s * x + c * y}, simultaneous=True)  # u(R^-1 p)
        derivs = {
            "u": (0, 0),
            "u_x": (1, 0),
            "u_y": (0, 1),
            "u_xx": (2, 0),
            "u_xy": (1, 1),
            "u_yy": (0, 2),
        }

        def jet(f, derivs=derivs):
            return {n: sympy.diff(f, x, a, y, b) if a + b else f for n, (a, b) in derivs.items()}

        px, py = rng.uniform(-1, 1, n_points), rng.uniform(-1, 1, n_points)
        d0 = {"x": px, "y": py, **_jet_values(jet(u), (x, y), (px, py))}
        qx, qy = c * px - s * py, s * px + c * py
        d1 = {"x": qx, "y": qy, **_jet_values(jet(ur), (x, y), (qx, qy))}
        names = list(lib.invariants)
        errs.append(_rel_err(lib.evaluate(d0, names), lib.evaluate(d1, names)))
    out["darcy"] = max(errs)
    # reaction-diffusion
    lib = rd_library()
    u = sympy.sin(x + y) * sympy.exp(-t / 3) + x * y
    v = sympy.cos(x - 2 * y + t) + y**2
    mus = {
        "t": (1, 0, 0),
        "x": (0, 1, 0),
        "y": (0, 0, 1),
        "xx": (0, 2, 0),
        "xy": (0, 1, 1),
        "yy": (0, 0, 2),
    }

    def rjet(fu, fv):
        d = {"u": fu, "v": fv}
        for m, (a, b, c_) in mus.items():
            d[f"u_{m}"] = sympy.diff(fu, t, a, x, b, y, c_)
            d[f"v_{m}"] = sympy.diff(fv, t, a, x, b, y, c_)
        return d

    errs = []
    names = list(rd_invariant_names())
    for th in rng.uniform(0, 2 * np.pi, 3):
        c, s = float(np.cos(th)), float(np.sin(th))
        pts = tuple(rng.uniform(-1, 1, n_points) for _ in range(3))
        d0 = {k: a for k, a in zip(("t", "x", "y"), pts)}
        d0.update(_jet_values(rjet(u, v), (t, x, y), pts))
        d1 = {k: a for k, a in zip(("t", "x", "y"), pts)}
        d1.update(_jet_values(rjet(c * u - s * v, s * u + c * v), (t, x, y), pts))
        errs.append(_rel_err(lib.evaluate(d0, names), lib.evaluate(d1, names)))
    out["reaction_diffusion"] = max(errs)
    return out


def rd_invariant_names():
    from .symbolic import rd_invariant_exprs

    return rd_invariant_exprs(rd_jet()).keys()


def ground_truth_residuals(bous, darcy, rd) -> dict[str, float]:
    """Relative residual ``||lhs - rhs|| / ||lhs||`` of the invariant forms on generated data.

    ``bous``: (derivs dict, min |u_x|); ``darcy``: (u, x, y, derivs); ``rd``: derivs dict with the
    one-sided time slices removed.
    """
    out = {}
    derivs, min_ux = bous
    mask = np.abs(derivs[(1, 0)]) > min_ux
    lib = boussinesq_library()
    inv = lib.evaluate(boussinesq_data({k: v[mask] for k, v in derivs.items()}))
    res = inv["eta02"] + 1 + inv["eta40"] + inv["eta00"] * inv["eta20"]
    out["boussinesq"] = float(np.linalg.norm(res) / np.linalg.norm(inv["eta02"]))
    u, x, y, dd = darcy
    X, Y = np.meshgrid(x, y)
    inv = darcy_library().evaluate({"x": X, "y": Y, **dd})
    res = (inv["zeta2"] - inv["lap"] / 8 - np.exp(8 * inv["R"]) / 8)[3:-3, 3:-3]
    out["darcy"] = float(np.linalg.norm(res) / np.linalg.norm(inv["zeta2"][3:-3, 3:-3]))
    inv = rd_library().evaluate(rd)
    r1 = inv["I_t"] - (0.1 * (inv["I_xx"] + inv["I_yy"]) + inv["A"] - inv["A"] ** 2)
    r2 = inv["E_t"] - (0.1 * (inv["E_xx"] + inv["E_yy"]) - inv["A"] ** 2)
    out["reaction_diffusion (I_t)"] = float(np.linalg.norm(r1) / np.linalg.norm(inv["I_t"]))
    out["reaction_diffusion (E_t)"] = float(np.linalg.norm(r2) / np.linalg.norm(inv["E_t"]))
    return out


def stlsq_pysindy_difference(seed: int = 0, threshold=0.1, alpha=0.05) -> float:
    """Max |coef difference| between our STLSQ and pysindy 1.7.5's on a random sparse problem."""
    from .sparse import STLSQ

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pysindy as ps

        rng = np.random.default_rng(seed)
        x = rng.standard_normal((300, 12))
        c = np.zeros((2, 12))
        c[0, [1, 4, 7]] = [1.0, -0.5, 2.0]
        c[1, [0, 9]] = [0.3, -1.5]
        y = x @ c.T + 0.01 * rng.standard_normal((300, 2))
        ours = STLSQ(threshold, alpha).fit(x, y).coef_
        theirs = ps.STLSQ(threshold=threshold, alpha=alpha).fit(x, y).coef_
    return float(np.max(np.abs(ours - theirs)))

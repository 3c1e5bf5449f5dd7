"""Differential invariants as regression atoms (the paper's SI) and the systems' libraries.

:class:`InvariantLibrary` takes sympy invariants on a :class:`~.symbolic.JetSpace`, verifies them
against the given symmetries (symbolic prolongation), evaluates them on data given as a dict of
jet coordinates (``{"u": ..., "u_x": ..., "u_tt": ...}``) and builds a monomial library over the
chosen atoms. :class:`InvariantSINDy` regresses the left-hand-side invariant(s) on that library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sympy

from .sparse import STLSQ, MonomialLibrary, equivariant_subspace
from .symbolic import (
    BOUSSINESQ_PAIRS,
    JetSpace,
    LiePointSymmetry,
    boussinesq_invariant_exprs,
    boussinesq_jet,
    boussinesq_symmetries,
    darcy_invariant_exprs,
    darcy_jet,
    darcy_symmetries,
    is_differential_invariant,
    rd_invariant_exprs,
    rd_jet,
    rd_symmetries,
)

__all__ = [
    "InvariantLibrary",
    "InvariantSINDy",
    "NotInvariantError",
    "boussinesq_library",
    "darcy_library",
    "rd_library",
    "boussinesq_data",
    "rd_data",
    "darcy_data",
    "boussinesq_raw_library",
    "RD_RAW_NAMES",
    "rd_raw_features",
    "rd_jet_points",
    "rd_equivariant_basis",
]


class NotInvariantError(ValueError):
    """A candidate invariant is not annihilated by a prolonged generator."""


class _RealPow(sympy.Function):
    """``x ** (p/q)`` with odd ``q`` as the real root (``numpy.power`` gives NaN for x < 0)."""


def _real_pow(x, p, q):
    p, q = int(p), int(q)
    if q % 2 == 0:
        return np.power(x, p / q)
    return np.sign(x) ** (p % 2) * np.abs(x) ** (p / q)


def _lambdify(expr: sympy.Expr, jet: JetSpace):
    expr = expr.replace(
        lambda e: e.is_Pow and e.exp.is_Rational and not e.exp.is_integer,
        lambda e: _RealPow(e.base, e.exp.p, e.exp.q),
    )
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    fn = sympy.lambdify(syms, expr, modules=[{"_RealPow": _real_pow}, "numpy"])
    names = [s.name for s in syms]

    def evaluate(data: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = [n for n in names if n not in data]
        if missing:
            raise KeyError(f"data lacks the jet coordinates {missing}")
        # Invariants with powers of u_x are singular where u_x = 0; callers filter those points.
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(fn(*(np.asarray(data[n], dtype=float) for n in names)), dtype=float)

    return evaluate


class InvariantLibrary:
    """Monomials of differential invariants, with the left-hand side invariant(s) as targets.

    Parameters
    ----------
    jet : JetSpace
    invariants : dict of str -> sympy expression
        Candidate invariants in the jet coordinates.
    lhs : str or sequence of str
        Name(s) of the target invariant(s) (e.g. the one containing ``u_tt``).
    atoms : sequence of str, optional
        Invariants the library is built from (default: all except ``lhs``).
    symmetries : sequence of LiePointSymmetry, optional
        When given, :meth:`fit` verifies every invariant symbolically and raises
        :class:`NotInvariantError` otherwise.
    degree, include_bias, powers :
        Passed to :class:`~.sparse.MonomialLibrary`.

    Attributes
    ----------
    feature_names_ : list of str
    lhs_names_ : list of str
    """

    def __init__(
        self,
        jet: JetSpace,
        invariants: Mapping[str, sympy.Expr],
        lhs: str | Sequence[str],
        atoms: Sequence[str] | None = None,
        symmetries: Sequence[LiePointSymmetry] | None = None,
        degree: int = 2,
        include_bias: bool = True,
        powers=None,
    ) -> None:
        self.jet = jet
        self.invariants = dict(invariants)
        self.lhs = lhs
        self.atoms = atoms
        self.symmetries = symmetries
        self.degree = degree
        self.include_bias = include_bias
        self.powers = powers

    def fit(self, data=None) -> InvariantLibrary:
        """Verify the invariants (when symmetries are given) and build the library."""
        self.lhs_names_ = [self.lhs] if isinstance(self.lhs, str) else list(self.lhs)
        atoms = self.atoms or [n for n in self.invariants if n not in self.lhs_names_]
        for n in [*self.lhs_names_, *atoms]:
            if n not in self.invariants:
                raise KeyError(f"{n!r} is not one of the invariants {list(self.invariants)}")
        if self.symmetries:
            bad = [
                n
                for n, e in self.invariants.items()
                if not is_differential_invariant(e, self.symmetries, self.jet)
            ]
            if bad:
                raise NotInvariantError(f"not invariant under the given symmetries: {bad}")
        self.atom_names_ = list(atoms)
        self._fns = {n: _lambdify(e, self.jet) for n, e in self.invariants.items()}
        self.monomials_ = MonomialLibrary(self.degree, self.include_bias, self.powers).fit(atoms)
        self.feature_names_ = self.monomials_.feature_names_
        return self

    def evaluate(self, data: Mapping[str, np.ndarray], names=None) -> dict[str, np.ndarray]:
        """Invariants evaluated on ``data`` (dict of jet coordinate arrays)."""
        names = names or [*self.lhs_names_, *self.atom_names_]
        shape = np.shape(next(iter(data.values())))
        return {n: np.broadcast_to(self._fns[n](data), shape) for n in names}

    def transform(self, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """Library matrix ``(..., n_features)``."""
        inv = self.evaluate(data, self.atom_names_)
        return self.monomials_.transform(np.stack([inv[n] for n in self.atom_names_], axis=-1))

    def target(self, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """Left-hand side invariants ``(..., n_targets)``."""
        inv = self.evaluate(data, self.lhs_names_)
        return np.stack([inv[n] for n in self.lhs_names_], axis=-1)


class InvariantSINDy:
    """Sparse regression on invariants (the paper's Algorithm 2, "SI").

    Parameters
    ----------
    library : InvariantLibrary
    optimizer : STLSQ, optional

    Attributes
    ----------
    coef_ : ndarray (n_targets, n_features)
    n_params_ : int
        Number of library coefficients (the paper's C).
    """

    def __init__(self, library: InvariantLibrary, optimizer: STLSQ | None = None) -> None:
        self.library = library
        self.optimizer = optimizer

    def fit(self, data: Mapping[str, np.ndarray]) -> InvariantSINDy:
        """Fit on ``data``: dict of flat arrays of jet coordinates (one entry per sample)."""
        if not hasattr(self.library, "feature_names_"):
            self.library.fit()
        theta = self.library.transform(data)
        y = self.library.target(data)
        ok = np.all(np.isfinite(theta), axis=1) & np.all(np.isfinite(y), axis=1)
        if not ok.any():
            raise ValueError("no sample has finite invariants")
        opt = self.optimizer or STLSQ()
        self.coef_ = opt.fit(theta[ok], y[ok]).coef_
        self.n_params_ = self.coef_.size
        return self

    def predict(self, data: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.library.transform(data) @ self.coef_.T

    def equations(self, precision: int = 3) -> list[str]:
        """Human-readable ``lhs = sum c * feature``."""
        out = []
        for name, row in zip(self.library.lhs_names_, self.coef_):
            terms = [
                f"{c:+.{precision}g} {f}" for c, f in zip(row, self.library.feature_names_) if c
            ]
            out.append(f"{name} = " + (" ".join(terms) if terms else "0"))
        return out


# ----------------------------------------------------------------------------- Boussinesq

BOUSSINESQ_TRUTH = {"1": -1.0, "eta40": -1.0, "eta00 eta20": -1.0}


def boussinesq_library(verify: bool = False, degree: int = 2) -> InvariantLibrary:
    """SI library: ``eta02 = u_tt/u_x^2`` on monomials of the spatial invariants."""
    jet = boussinesq_jet()
    return InvariantLibrary(
        jet,
        boussinesq_invariant_exprs(jet),
        lhs="eta02",
        atoms=["eta00", "eta20", "eta30", "eta40"],
        symmetries=boussinesq_symmetries(jet) if verify else None,
        degree=degree,
    ).fit()


def boussinesq_data(derivs: Mapping[tuple, np.ndarray]) -> dict[str, np.ndarray]:
    """Map ``{(a, b): u_{x^a t^b}}`` to jet-coordinate names (``u_xxt`` ...)."""
    jet_names = {(a, b): "u" + ("_" + "x" * a + "t" * b if a + b else "") for a, b in derivs}
    return {jet_names[k]: np.asarray(v) for k, v in derivs.items()}


BOUSSINESQ_RAW = ["u", "u_x", "u_xx", "u_xxx", "u_xxxx"]


def boussinesq_raw_library(kind: str) -> MonomialLibrary:
    """Plain-SINDy libraries: ``"restricted"`` = PySINDy's 15 features
    ``{1, u, u^2} x {1, u_x, ..., u_xxxx}`` (lacks ``u_x^2``); ``"full"`` = all 21 monomials of
    degree <= 2 (the paper's PySINDy*)."""
    if kind == "full":
        return MonomialLibrary(2).fit(BOUSSINESQ_RAW)
    if kind != "restricted":
        raise ValueError(f"unknown Boussinesq library {kind!r}; use 'restricted' or 'full'")
    powers = []
    for pu in range(3):
        for d in range(5):
            e = [pu, 0, 0, 0, 0]
            if d:
                e[d] += 1
            powers.append(tuple(e))
    return MonomialLibrary(powers=powers).fit(BOUSSINESQ_RAW)


# ----------------------------------------------------------------------------- Darcy


def darcy_library(verify: bool = False) -> InvariantLibrary:
    """The 7 SO(2) invariants of Darcy flow (LHS ``lap`` = Delta u, used by GP)."""
    jet = darcy_jet()
    return InvariantLibrary(
        jet,
        darcy_invariant_exprs(jet),
        lhs="lap",
        symmetries=darcy_symmetries(jet) if verify else None,
        degree=1,
    ).fit()


def darcy_data(u, x, y, derivs) -> dict[str, np.ndarray]:
    """Jet coordinates of the Darcy solution (``x, y`` broadcast to the field shape)."""
    X, Y = np.meshgrid(x, y)
    return {"x": X, "y": Y, **derivs}


# ----------------------------------------------------------------------------- reaction-diffusion

RD_DERIV = ("x", "y", "xx", "xy", "yy")
RD_SI_ATOMS = ["A"] + [f"I_{m}" for m in RD_DERIV] + [f"E_{m}" for m in RD_DERIV]
RD_RAW_NAMES = ["u", "v", "u^2", "u v", "v^2", "u^3", "u^2 v", "u v^2", "v^3"] + [
    f"{f}_{m}" for f in ("u", "v") for m in RD_DERIV
]


def rd_library(verify: bool = False) -> InvariantLibrary:
    """SI library for ``(I_t, E_t)``: ``{1, A, A^2, A^3}`` and the 10 spatial ``I_mu, E_mu``
    (14 features per equation, C = 28)."""
    jet = rd_jet()
    p = len(RD_SI_ATOMS)
    powers = [tuple([k] + [0] * (p - 1)) for k in range(4)]
    powers += [tuple(int(i == j) for i in range(p)) for j in range(1, p)]
    return InvariantLibrary(
        jet,
        rd_invariant_exprs(jet),
        lhs=["I_t", "E_t"],
        atoms=RD_SI_ATOMS,
        symmetries=rd_symmetries(jet) if verify else None,
        powers=powers,
    ).fit()


def rd_data(derivs: Mapping[str, np.ndarray], t=None, x=None) -> dict[str, np.ndarray]:
    """Jet-coordinate dict of reaction-diffusion derivative fields (+ ``t, x, y`` if given)."""
    out = dict(derivs)
    if t is not None and x is not None:
        T, Y, X = np.meshgrid(t, x, x, indexing="ij")
        out.update({"t": T, "x": X, "y": Y})
    return out


def rd_jet_points(derivs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Stack ``(u, v, u_mu.., v_mu..)`` into points ``(..., 12)`` for the raw library."""
    names = ["u", "v"] + [f"u_{m}" for m in RD_DERIV] + [f"v_{m}" for m in RD_DERIV]
    return np.stack([np.asarray(derivs[n]) for n in names], axis=-1)


def rd_raw_features(z: np.ndarray) -> np.ndarray:
    """The 19-feature SINDy library of Champion et al. from points ``(..., 12)``."""
    u, v = z[..., 0], z[..., 1]
    mono = [u, v, u * u, u * v, v * v, u**3, u * u * v, u * v * v, v**3]
    return np.concatenate([np.stack(mono, axis=-1), z[..., 2:]], axis=-1)


def _rotate_uv(z: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    u = z[..., [0, 2, 3, 4, 5, 6]]
    v = z[..., [1, 7, 8, 9, 10, 11]]
    ur, vr = c * u - s * v, s * u + c * v
    return np.concatenate([ur[..., :1], vr[..., :1], ur[..., 1:], vr[..., 1:]], axis=-1)


def _rot(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def rd_equivariant_basis(sparsify: str | None = "sparsepca", seed: int = 0, n_points: int = 64):
    """Basis ``Q`` (38 x r) of SO(2)-equivariant ``W`` for the 19-feature library (r = 14)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_points, 12))
    angles = rng.uniform(0, 2 * np.pi, 4)
    q, _ = equivariant_subspace(rd_raw_features, _rotate_uv, _rot, z, angles, sparsify=sparsify)
    return q


__all__ += ["BOUSSINESQ_TRUTH", "BOUSSINESQ_PAIRS", "RD_SI_ATOMS", "RD_DERIV"]

"""Lie point symmetries, their prolongation and a symbolic check of differential invariance.

A jet space is described by :class:`JetSpace` (independent variables, dependent variables and a
maximal order); its coordinates ``u_J`` are sympy symbols. The ``n``-th prolongation of a
generator ``v = sum_i xi^i d_{x^i} + sum_a phi^a d_{u^a}`` has coefficients (Olver, Thm 2.36)

    phi^a_J = D_J (phi^a - sum_i xi^i u^a_i) + sum_i xi^i u^a_{J,i},

with ``D`` the total derivative. ``eta`` is a differential invariant iff ``pr v(eta) = 0`` for
every generator (Olver, Prop. 2.56 / the paper's Thm 3.2).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sympy

__all__ = [
    "JetSpace",
    "LiePointSymmetry",
    "prolong",
    "apply_prolongation",
    "is_differential_invariant",
    "boussinesq_jet",
    "boussinesq_symmetries",
    "boussinesq_invariant_exprs",
    "darcy_jet",
    "darcy_symmetries",
    "darcy_invariant_exprs",
    "rd_jet",
    "rd_symmetries",
    "rd_invariant_exprs",
]


@dataclass
class JetSpace:
    """Coordinates ``x^i, u^a, u^a_J`` (``|J| <= order``) of a jet space.

    Parameters
    ----------
    independent : sequence of str
        Names of the independent variables, e.g. ``("x", "t")``.
    dependent : sequence of str
        Names of the dependent variables, e.g. ``("u",)``.
    order : int
        Maximal derivative order.
    positive : sequence of str
        Jet coordinates (``"u_x"``...) declared positive so fractional powers simplify.
    """

    independent: Sequence[str]
    dependent: Sequence[str]
    order: int
    positive: Sequence[str] = ()
    x: dict = field(init=False)
    u: dict = field(init=False)

    def __post_init__(self) -> None:
        self.x = {n: sympy.Symbol(n, real=True) for n in self.independent}
        self.u = {}
        p = len(self.independent)
        for a in self.dependent:
            for counts in itertools.product(range(self.order + 2), repeat=p):
                if sum(counts) <= self.order + 1:  # one order more for total derivatives
                    name = self.name(a, counts)
                    pos = name in self.positive
                    self.u[(a, counts)] = sympy.Symbol(name, real=True, positive=pos or None)

    def name(self, dep: str, counts: tuple[int, ...]) -> str:
        """``u`` for ``counts = 0``, else ``u_xxt`` style names (letters repeated)."""
        if sum(counts) == 0:
            return dep
        return dep + "_" + "".join(v * c for v, c in zip(self.independent, counts))

    def __getitem__(self, name: str) -> sympy.Symbol:
        for sym in list(self.x.values()) + list(self.u.values()):
            if sym.name == name:
                return sym
        raise KeyError(f"no jet coordinate named {name!r}")

    def total_derivative(self, expr: sympy.Expr, var: str) -> sympy.Expr:
        """``D_var expr``; raises if ``expr`` already uses derivatives of the maximal order + 1."""
        i = list(self.independent).index(var)
        out = sympy.diff(expr, self.x[var])
        for (a, counts), sym in self.u.items():
            if not expr.has(sym):
                continue
            higher = list(counts)
            higher[i] += 1
            key = (a, tuple(higher))
            if key not in self.u:
                raise ValueError(f"total derivative of {sym} leaves the jet space; raise order")
            out += self.u[key] * sympy.diff(expr, sym)
        return out


@dataclass
class LiePointSymmetry:
    """Infinitesimal generator ``v = sum_i xi[x^i] d_{x^i} + sum_a phi[u^a] d_{u^a}``.

    ``xi`` and ``phi`` map variable names to sympy expressions in the jet coordinates of order 0;
    missing entries are zero.
    """

    xi: Mapping[str, sympy.Expr]
    phi: Mapping[str, sympy.Expr]
    name: str = "v"


def prolong(sym: LiePointSymmetry, jet: JetSpace) -> dict[sympy.Symbol, sympy.Expr]:
    """Coefficients of ``pr^(n) v`` on every jet coordinate (``x^i``, ``u^a``, ``u^a_J``)."""
    coeff: dict[sympy.Symbol, sympy.Expr] = {}
    xi = {v: sympy.sympify(sym.xi.get(v, 0)) for v in jet.independent}
    for v in jet.independent:
        coeff[jet.x[v]] = xi[v]
    p = len(jet.independent)
    for a in jet.dependent:
        first = [jet.u[(a, tuple(int(j == i) for j in range(p)))] for i in range(p)]
        char = sympy.sympify(sym.phi.get(a, 0)) - sum(
            xi[v] * first[i] for i, v in enumerate(jet.independent)
        )
        for (b, counts), s in jet.u.items():
            if b != a or sum(counts) > jet.order:
                continue
            q = char
            for i, c in enumerate(counts):
                for _ in range(c):
                    q = jet.total_derivative(q, jet.independent[i])
            for i, v in enumerate(jet.independent):
                higher = list(counts)
                higher[i] += 1
                q += xi[v] * jet.u[(a, tuple(higher))]
            coeff[s] = sympy.expand(q)
    return coeff


def apply_prolongation(sym: LiePointSymmetry, jet: JetSpace, expr: sympy.Expr) -> sympy.Expr:
    """``pr^(n) v (expr)``."""
    coeffs = prolong(sym, jet)
    return sum(c * sympy.diff(expr, s) for s, c in coeffs.items() if expr.has(s))


def is_differential_invariant(
    expr: sympy.Expr, symmetries: Sequence[LiePointSymmetry], jet: JetSpace
) -> bool:
    """True iff every prolonged generator annihilates ``expr`` (after ``sympy.simplify``)."""
    return all(sympy.simplify(apply_prolongation(s, jet, expr)) == 0 for s in symmetries)


# ----------------------------------------------------------------------------- the paper's sets

BOUSSINESQ_PAIRS = [(a, b) for b in range(5) for a in range(5) if a + b <= 4 and (a, b) != (1, 0)]


def boussinesq_jet() -> JetSpace:
    return JetSpace(("x", "t"), ("u",), 4, positive=("u_x",))


def boussinesq_symmetries(jet: JetSpace) -> list[LiePointSymmetry]:
    """Scaling ``2t d_t + x d_x - 2u d_u`` and the x-, t-translations."""
    x, t, u = jet.x["x"], jet.x["t"], jet["u"]
    return [
        LiePointSymmetry({"x": x, "t": 2 * t}, {"u": -2 * u}, "scaling"),
        LiePointSymmetry({"x": 1}, {}, "x-translation"),
        LiePointSymmetry({"t": 1}, {}, "t-translation"),
    ]


def boussinesq_invariant_exprs(jet: JetSpace) -> dict[str, sympy.Expr]:
    """``eta(a,b) = u_{x^a t^b} / u_x^{(2+a+2b)/3}`` for ``a + b <= 4``, ``(a,b) != (1,0)``."""
    ux = jet["u_x"]
    return {
        f"eta{a}{b}": jet.u[("u", (a, b))] / ux ** sympy.Rational(2 + a + 2 * b, 3)
        for a, b in BOUSSINESQ_PAIRS
    }


def darcy_jet() -> JetSpace:
    return JetSpace(("x", "y"), ("u",), 2)


def darcy_symmetries(jet: JetSpace) -> list[LiePointSymmetry]:
    """Rotation ``y d_x - x d_y``."""
    return [LiePointSymmetry({"x": jet.x["y"], "y": -jet.x["x"]}, {}, "rotation")]


def darcy_invariant_exprs(jet: JetSpace) -> dict[str, sympy.Expr]:
    x, y = jet.x["x"], jet.x["y"]
    u, ux, uy = jet["u"], jet["u_x"], jet["u_y"]
    uxx, uxy, uyy = jet["u_xx"], jet["u_xy"], jet["u_yy"]
    return {
        "R": (x**2 + y**2) / 2,
        "u": u,
        "zeta1": x * uy - y * ux,
        "zeta2": x * ux + y * uy,
        "lap": uxx + uyy,
        "hess2": uxx**2 + 2 * uxy**2 + uyy**2,
        "xHx": x**2 * uxx + y**2 * uyy + 2 * x * y * uxy,
    }


RD_MUS = ("t", "x", "y", "xx", "xy", "yy")


def rd_jet() -> JetSpace:
    return JetSpace(("t", "x", "y"), ("u", "v"), 2)


def rd_symmetries(jet: JetSpace) -> list[LiePointSymmetry]:
    """Rotation of the dependent variables ``u d_v - v d_u``."""
    return [LiePointSymmetry({}, {"u": -jet["v"], "v": jet["u"]}, "rotation-uv")]


def rd_invariant_exprs(jet: JetSpace) -> dict[str, sympy.Expr]:
    """``t, x, y, A = u^2+v^2`` and ``I_mu = u u_mu + v v_mu``, ``E_mu = -v u_mu + u v_mu``."""
    u, v = jet["u"], jet["v"]
    out = {"t": jet.x["t"], "x": jet.x["x"], "y": jet.x["y"], "A": u**2 + v**2}
    for mu in RD_MUS:
        out[f"I_{mu}"] = u * jet[f"u_{mu}"] + v * jet[f"v_{mu}"]
    for mu in RD_MUS:
        out[f"E_{mu}"] = -v * jet[f"u_{mu}"] + u * jet[f"v_{mu}"]
    return out

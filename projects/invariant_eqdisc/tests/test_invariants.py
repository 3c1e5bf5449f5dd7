"""Invariance of the paper's invariant sets (symbolic and numeric) and the SO(2) subspace."""

import numpy as np
import pytest
import sympy
from invariant_eqdisc.checks import numeric_invariance_errors, stlsq_pysindy_difference
from invariant_eqdisc.invariants import (
    InvariantLibrary,
    NotInvariantError,
    rd_equivariant_basis,
    rd_raw_features,
)
from invariant_eqdisc.symbolic import (
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

SETS = [
    (boussinesq_jet, boussinesq_symmetries, boussinesq_invariant_exprs, 14),
    (darcy_jet, darcy_symmetries, darcy_invariant_exprs, 7),
    (rd_jet, rd_symmetries, rd_invariant_exprs, 16),
]


@pytest.mark.parametrize("jet_fn,sym_fn,expr_fn,count", SETS)
def test_every_listed_invariant_is_annihilated_by_the_prolonged_generators(
    jet_fn, sym_fn, expr_fn, count
):
    jet = jet_fn()
    exprs = expr_fn(jet)
    assert len(exprs) == count
    for name, e in exprs.items():
        assert is_differential_invariant(e, sym_fn(jet), jet), name


def test_checker_rejects_non_invariants():
    jet = boussinesq_jet()
    syms = boussinesq_symmetries(jet)
    assert not is_differential_invariant(jet["u_xx"] / jet["u_x"], syms, jet)
    assert not is_differential_invariant(jet.x["x"] * jet["u"], syms, jet)
    j2 = darcy_jet()
    assert not is_differential_invariant(j2["u_x"], darcy_symmetries(j2), j2)
    j3 = rd_jet()
    assert not is_differential_invariant(j3["u"] * j3["v_x"], rd_symmetries(j3), j3)


def test_library_refuses_a_non_invariant_atom():
    jet = darcy_jet()
    inv = dict(darcy_invariant_exprs(jet), bad=jet["u_x"])
    with pytest.raises(NotInvariantError, match="bad"):
        InvariantLibrary(jet, inv, lhs="lap", symmetries=darcy_symmetries(jet)).fit()


def test_invariants_agree_under_the_group_action_on_analytic_fields():
    errs = numeric_invariance_errors(n_points=20)
    assert set(errs) == {"boussinesq", "darcy", "reaction_diffusion"}
    assert all(v < 1e-9 for v in errs.values()), errs


def test_rd_subspace_has_dimension_14_and_is_equivariant():
    q = rd_equivariant_basis()
    assert q.shape == (38, 14)
    assert np.linalg.matrix_rank(q, tol=1e-8) == 14
    rng = np.random.default_rng(1)
    z = rng.standard_normal((40, 12))
    for th in rng.uniform(0, 2 * np.pi, 3):
        c, s = np.cos(th), np.sin(th)
        zr = z.copy()
        ui, vi = [0, 2, 3, 4, 5, 6], [1, 7, 8, 9, 10, 11]
        zr[:, ui] = c * z[:, ui] - s * z[:, vi]
        zr[:, vi] = s * z[:, ui] + c * z[:, vi]
        rot = np.array([[c, -s], [s, c]])
        for j in range(14):
            w = q[:, j].reshape(2, 19)
            lhs = rd_raw_features(zr) @ w.T
            rhs = (rd_raw_features(z) @ w.T) @ rot.T
            assert np.max(np.abs(lhs - rhs)) <= 1e-10 * max(1.0, np.max(np.abs(rhs)))


def test_our_stlsq_matches_pysindy():
    assert stlsq_pysindy_difference() < 1e-8
    assert stlsq_pysindy_difference(seed=3, threshold=0.2, alpha=0.0) < 1e-8


def test_user_api_on_own_symmetry():
    """A user-defined symmetry and invariants, fit pysindy-style on synthetic data."""
    from invariant_eqdisc import STLSQ, InvariantSINDy, JetSpace, LiePointSymmetry

    jet = JetSpace(("x", "t"), ("u",), 2)
    # translation in u: invariants are derivatives of u
    sym = LiePointSymmetry({}, {"u": sympy.Integer(1)})
    inv = {"ut": jet["u_t"], "ux": jet["u_x"], "uxx": jet["u_xx"]}
    lib = InvariantLibrary(jet, inv, lhs="ut", symmetries=[sym], degree=2)
    rng = np.random.default_rng(0)
    data = {"u_x": rng.standard_normal(200), "u_xx": rng.standard_normal(200)}
    data["u_t"] = 0.5 * data["u_xx"] - data["u_x"] ** 2
    model = InvariantSINDy(lib, STLSQ(0.1, 0.0)).fit(data)
    assert model.coef_.shape == (1, 6)
    got = dict(zip(lib.feature_names_, model.coef_[0]))
    assert got["uxx"] == pytest.approx(0.5) and got["ux^2"] == pytest.approx(-1.0)
    assert sum(abs(v) > 0 for v in got.values()) == 2

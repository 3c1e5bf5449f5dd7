"""Generators, ground-truth residuals, weak form, configs and the smoke-scale protocol."""

import dataclasses

import numpy as np
import pytest
from invariant_eqdisc.checks import ground_truth_residuals
from invariant_eqdisc.config import load
from invariant_eqdisc.derivatives import finite_difference, spectral_derivative
from invariant_eqdisc.experiments import (
    BoussinesqExperiment,
    RDExperiment,
    WeakExperiment,
    run_boussinesq,
    run_reaction_diffusion,
    run_symmetry_breaking,
)
from invariant_eqdisc.sparse import STLSQ, ConstrainedSINDy
from invariant_eqdisc.systems import (
    BoussinesqConfig,
    DarcyConfig,
    ReactionDiffusionConfig,
    boussinesq_derivatives,
    darcy_derivatives,
    load_system,
    rd_derivatives,
)
from invariant_eqdisc.weak import sample_boxes, weak_rd_system

from symlab.runs import ConfigError

SMALL_B = BoussinesqConfig(n=128, dt=0.002, t_train=2.0, t_test=0.4, save_every=0.1)
SMALL_RD = ReactionDiffusionConfig(n=32, dt=0.01, t_train=1.0, t_test=0.2)


def test_derivatives_are_accurate():
    x = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    f = np.sin(3 * x)
    assert np.allclose(spectral_derivative(f, 2, 2 * np.pi), -9 * f, atol=1e-10)
    h = 0.01
    xs = np.arange(0, 1, h)
    d = finite_difference(np.exp(xs), 1, h, accuracy=6)
    assert np.max(np.abs(d - np.exp(xs))[3:-3]) < 1e-10


def test_ground_truth_invariant_forms_hold_on_generated_data(tmp_path):
    b = load_system("boussinesq", SMALL_B, tmp_path)
    bd = boussinesq_derivatives(b["u"], b["w"], 40.0)
    dcfg = DarcyConfig(n=128)
    dc = load_system("darcy", dcfg, tmp_path)
    dd = darcy_derivatives(dc["u"], 1 / 128)
    rc = ReactionDiffusionConfig(n=32, dt=0.01, t_train=2.0, t_test=0.0)
    r = load_system("reaction_diffusion", rc, tmp_path)
    rd = {k: v[3:-3] for k, v in rd_derivatives(r["u"], r["v"], 0.05, 20.0).items()}
    res = ground_truth_residuals((bd, 0.1), (dc["u"], dc["x"], dc["y"], dd), rd)
    assert all(v < 1e-3 for v in res.values()), res


def test_cache_is_reused_and_config_keyed(tmp_path):
    a = load_system("darcy", DarcyConfig(n=16), tmp_path)
    b = load_system("darcy", DarcyConfig(n=16), tmp_path)
    assert np.array_equal(a["u"], b["u"])
    assert load_system("darcy", DarcyConfig(n=20), tmp_path)["u"].shape == (20, 20)
    with pytest.raises(ValueError, match="unknown system"):
        load_system("kdv", DarcyConfig(), tmp_path)


def test_weak_form_integration_by_parts_matches_strong_form(tmp_path):
    r = load_system("reaction_diffusion", SMALL_RD, tmp_path)
    u, v = r["u"], r["v"]
    boxes = sample_boxes(10, u.shape, 11, 9, np.random.default_rng(0))
    theta, y = weak_rd_system(u, v, boxes, 0.05, 20 / 32)
    # The true coefficients reproduce the weak targets (up to quadrature error).
    w = np.zeros((2, 19))
    w[0, [0, 5, 7, 6, 8, 11, 13]] = [1, -1, -1, 1, 1, 0.1, 0.1]
    w[1, [1, 6, 8, 5, 7, 16, 18]] = [1, -1, -1, -1, -1, 0.1, 0.1]
    rel = np.linalg.norm(theta @ w.T - y) / np.linalg.norm(y)
    assert rel < 1e-2


def test_constrained_fit_recovers_truth_and_relaxed_captures_forcing(tmp_path):
    from invariant_eqdisc.invariants import rd_equivariant_basis

    cfg = WeakExperiment(data=SMALL_RD, eps_grid=[0.2], n_runs=2, box_t=11, box_x=9)
    out = run_symmetry_breaking(cfg, cache_dir=tmp_path, progress=False)[0]
    assert out["weak SI-relaxed"] > out["weak SI-aligned"]
    q = rd_equivariant_basis()
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((300, 19))
    w = q @ rng.standard_normal(14)
    y = theta @ w.reshape(2, 19).T
    m = ConstrainedSINDy(q, STLSQ(0.0, 0.0)).fit(theta, y)
    assert np.allclose(m.coef_.ravel(), w, atol=1e-8) and m.n_params_ == 14


def test_smoke_protocol_boussinesq(tmp_path):
    cfg = BoussinesqExperiment(
        data=SMALL_B, n_runs=4, subsample=0.2, min_abs_ux=0.05, pe_runs=2, pe_dt=0.01, pe_window=0.4
    )
    out = run_boussinesq(cfg, cache_dir=tmp_path, progress=False)
    assert np.mean(out["SI"]["success"]) == 1.0
    assert np.mean(out["PySINDy"]["success"]) == 0.0  # u_x^2 is not in its library
    assert np.mean(out["PySINDy*"]["success"]) == 1.0
    again = run_boussinesq(cfg, cache_dir=tmp_path, progress=False)
    assert again["SI"]["coef"] == out["SI"]["coef"]  # same seed, same numbers


def test_smoke_protocol_reaction_diffusion(tmp_path):
    cfg = RDExperiment(data=SMALL_RD, n_runs=3, pe_runs=2)
    out = run_reaction_diffusion(cfg, cache_dir=tmp_path, progress=False)
    assert out["SI-aligned"]["C"] == 14 and out["PySINDy"]["C"] == 38 and out["SI"]["C"] == 28
    al = np.array(out["SI-aligned"]["coef"])
    assert np.allclose(al[:, 0, 11], 0.1, atol=0.01)  # u_xx


@pytest.mark.parametrize("name", ["smoke", "cpu", "paper"])
def test_shipped_configs_load(name):
    cfg = load(name)
    assert cfg.boussinesq.n_runs >= 1


def test_bad_config_and_nan_give_clear_errors(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("boussinesq: {n_rnus: 3}\n")
    with pytest.raises(ConfigError, match="n_rnus"):
        load(str(p))
    with pytest.raises(ValueError, match="non-finite"):
        STLSQ().fit(np.array([[1.0], [np.nan]]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="unknown stages"):
        dataclasses.replace(load("smoke"), stages=["nope"])

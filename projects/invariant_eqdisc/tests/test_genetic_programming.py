"""GP with DEAP: the paper's term-matching criterion, recovery of an invariant equation at smoke
size, determinism, and the GP protocol's atoms / ground truth / prediction error."""

import random

import numpy as np
import pytest
import sympy
from deap import creator
from invariant_eqdisc.eval import evaluate
from invariant_eqdisc.experiments import BoussinesqExperiment, RDExperiment
from invariant_eqdisc.genetic_programming import (
    GPConfig,
    GPRegressor,
    _Evaluator,
    build_primitive_set,
    expanded_terms,
    match_terms,
)
from invariant_eqdisc.gp_experiments import (
    GPExperiment,
    _bous_pe,
    _darcy_residual_rmse,
    first_generation_reaching,
    gp_problem,
    run_gp,
)
from invariant_eqdisc.systems import BoussinesqConfig, DarcyConfig, ReactionDiffusionConfig
from invariant_eqdisc.train import summarize

a, b, c, R = sympy.symbols("a b c R", real=True)
SMALL_B = BoussinesqConfig(n=128, dt=0.002, t_train=2.0, t_test=0.4, save_every=0.1)
BOUS = BoussinesqExperiment(data=SMALL_B, min_abs_ux=0.05, pe_dt=0.01, pe_window=0.4)


# ----------------------------------------------------------------------------- term matching


@pytest.mark.parametrize(
    "discovered",
    [
        (a + b) * c - sympy.exp(4 * R),  # factored form, expanded by sympy
        1.03 * a * c + 0.98 * b * c - 1.01 * sympy.exp(4 * R),  # coefficients are ignored
        a * c + b * c - sympy.exp(4.005 * R) + 1e-4 * a,  # tiny term dropped (< 1% of largest)
        a * c + b * c - sympy.exp(4 * R + sympy.Float(0.3)),  # exp(4R + 0.3) = 1.35 exp(4R)
    ],
)
def test_term_matching_accepts_equivalent_equations(discovered):
    assert match_terms(discovered, a * c + b * c - sympy.exp(4 * R))


@pytest.mark.parametrize(
    "discovered",
    [
        a * c - sympy.exp(4 * R),  # missing term
        a * c + b * c - sympy.exp(4 * R) + 0.5 * a,  # extra term
        a * b + b * c - sympy.exp(4 * R),  # wrong monomial
        a * c + b * c - sympy.exp(5 * R),  # wrong constant inside exp
        a * c + b * c - sympy.exp(4 * R) - sympy.exp(4.001 * R),  # two terms for one
    ],
)
def test_term_matching_rejects_wrong_equations(discovered):
    assert not match_terms(discovered, a * c + b * c - sympy.exp(4 * R))


def test_expanded_terms_drop_rule():
    terms = expanded_terms(2 * a * (b + 0.001 * c) + 0.5)
    assert {str(r) for _, r in terms} == {"a*b", "1"}


# ----------------------------------------------------------------------------- GP engine


def _bous_si_data(tmp_path, n=300, seed=0):
    p = gp_problem("boussinesq", BOUS, tmp_path)
    idx = np.random.default_rng(seed).choice(p.n_pool, min(n, p.n_pool), replace=False)
    return p, {k: p.values[k][idx] for k in p.atoms["SI"]}, p.values["eta02"][idx]


def test_gp_recovers_boussinesq_invariant_form_at_smoke_size(tmp_path):
    p, x, y = _bous_si_data(tmp_path)
    model = GPRegressor(p.atoms["SI"], GPConfig(population=60, generations=10), seed=3).fit(x, y)
    assert match_terms(model.expr_, p.truth["SI"][0]), model.expr_
    coef = {str(r): cf for cf, r in expanded_terms(model.expr_)}
    assert coef == pytest.approx({"1": -1.0, "eta40": -1.0, "eta00*eta20": -1.0}, abs=1e-6)
    assert model.error_ < 1e-6 and model.n_inputs_ == 13


def test_constants_inside_exp_are_fitted_by_least_squares():
    """Darcy-like form ``y = 8 z - exp(8 R)``: the tree ``z + exp(3 * R)`` has the right
    structure; variable projection moves its constant to 8 and the outer coefficients to 8, -1."""
    rng = np.random.default_rng(0)
    x = {"R": rng.uniform(0, 0.25, 400), "z": rng.standard_normal(400)}
    y = 8 * x["z"] - np.exp(8 * x["R"])
    cfg = GPConfig(use_exp=True)
    pset = build_primitive_set(["R", "z"], True, cfg.exp_clip)
    const = object.__new__(pset.mapping["iedc"])
    const.value = 3.0
    m = pset.mapping
    tree = creator.IEDIndividual([m["add"], m["z"], m["exp"], m["mul"], const, m["R"]])
    ev = _Evaluator(x, y, cfg)
    assert ev.exp_constants(tree) == [4]
    assert ev.evaluate(tree)[1] > 1e-2
    new = ev.optimize_constants(tree, [4])
    assert new[4].value == pytest.approx(8.0, abs=1e-6)
    assert ev.evaluate(new)[1] < 1e-8
    assert match_terms(ev_expr(new, ev), 8 * sympy.Symbol("z") - sympy.exp(8 * R))
    # exp inside exp is rejected (nesting constraint)
    nested = creator.IEDIndividual([m["exp"], m["exp"], m["R"]])
    assert ev.evaluate(nested)[0] == np.inf


def ev_expr(tree, ev):
    model = GPRegressor(["R", "z"])
    return model._model_to_sympy(*ev.model(tree), ev)


def test_gp_is_deterministic_for_a_seed_and_leaves_random_alone(tmp_path):
    p, x, y = _bous_si_data(tmp_path, n=200)
    cfg = GPConfig(population=40, generations=4, n_islands=2, migration_interval=2)
    random.seed(123)
    before = random.random()
    random.seed(123)
    m1 = GPRegressor(p.atoms["SI"], cfg, seed=7).fit(x, y)
    assert random.random() == before  # DEAP's global generator is restored
    m2 = GPRegressor(p.atoms["SI"], cfg, seed=7).fit(x, y)
    assert str(m1.expr_) == str(m2.expr_)
    assert [h["tree"] for h in m1.history_] == [h["tree"] for h in m2.history_]
    m3 = GPRegressor(p.atoms["SI"], cfg, seed=8).fit(x, y)
    assert [h["tree"] for h in m3.history_] != [h["tree"] for h in m1.history_]


def test_gp_bad_input_gives_clear_errors():
    x = {"a": np.ones(20), "b": np.arange(20.0)}
    with pytest.raises(KeyError, match="atoms"):
        GPRegressor(["a", "c"]).fit(x, np.ones(20))
    x["b"][3] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        GPRegressor(["a", "b"]).fit(x, np.ones(20))
    with pytest.raises(ValueError, match="identifier"):
        GPRegressor(["a-1"]).fit({"a-1": np.ones(20)}, np.ones(20))
    with pytest.raises(ValueError, match="n_elite"):
        GPConfig(population=10, n_islands=5, n_elite=2)
    with pytest.raises(ValueError, match="unknown GP systems"):
        GPExperiment(systems=["kdv"])


# ----------------------------------------------------------------------------- protocol


def test_gp_problems_have_the_papers_C_and_their_truth_holds(tmp_path):
    """C = inputs + left-hand sides (14/17, 7/8, 16/17) and the true equations fit the data."""
    rd = RDExperiment(data=ReactionDiffusionConfig(n=32, dt=0.01, t_train=1.0, t_test=0.2))
    rd.noise = 0.0
    specs = {"boussinesq": BOUS, "darcy": (DarcyConfig(n=64), 3), "reaction_diffusion": rd}
    expected = {"boussinesq": (14, 17), "darcy": (7, 8), "reaction_diffusion": (16, 17)}
    for system, spec in specs.items():
        p = gp_problem(system, spec, tmp_path)
        assert (p.c("SI"), p.c("raw")) == expected[system]
        for arm in ("SI", "raw"):
            for lhs, truth in zip(p.lhs[arm], p.truth[arm]):
                syms = sorted(truth.free_symbols, key=lambda s: s.name)
                pred = sympy.lambdify(syms, truth, "numpy")(*(p.values[s.name] for s in syms))
                y = p.values[lhs]
                rel = np.linalg.norm(y - pred) / np.linalg.norm(y)
                assert rel < 2e-2, (system, arm, lhs, rel)


def test_prediction_errors_of_the_true_equations_are_small(tmp_path):
    p = gp_problem("boussinesq", BOUS, tmp_path)
    pe_si = _bous_pe(p, "SI", p.truth["SI"] * 2, BOUS.pe_dt)
    pe_raw = _bous_pe(p, "raw", p.truth["raw"], BOUS.pe_dt)
    assert max(pe_si + pe_raw) < 1e-3
    # an equation with u_ttt on the right-hand side is not an explicit evolution law
    assert _bous_pe(p, "raw", [sympy.Symbol("u_ttt", real=True)], BOUS.pe_dt) == [np.inf]
    d = gp_problem("darcy", (DarcyConfig(n=64), 3), tmp_path)
    good = _darcy_residual_rmse(d, "SI", d.truth["SI"][0])
    bad = _darcy_residual_rmse(d, "SI", 8 * sympy.Symbol("zeta2", real=True))
    assert good < 0.05 * bad


def test_run_gp_smoke_protocol(tmp_path):
    cfg = GPExperiment(
        systems=["boussinesq"],
        n_trials=2,
        n_points=200,
        pe_runs=1,
        boussinesq=GPConfig(population=40, generations=6),
    )
    out = run_gp(cfg, {"boussinesq": BOUS}, cache_dir=tmp_path, progress=False)["boussinesq"]
    for arm, c in (("SI", 14), ("raw", 17)):
        assert out[arm]["C"] == c
        assert np.array(out[arm]["success"]).shape == (2, 7)
        assert len(out[arm]["pe"]) == 1
    again = run_gp(cfg, {"boussinesq": BOUS}, cache_dir=tmp_path, progress=False)["boussinesq"]
    assert again["SI"]["equations"] == out["SI"]["equations"]
    summary = evaluate({"gp": {"boussinesq": out}})
    assert summary["gp/boussinesq/SI/C"] == 14 and "gp/boussinesq/raw/PE" in summary
    assert summarize("gp", {"boussinesq": out})["gp/boussinesq/SI/SP"] == np.mean(
        [row[-1] for row in out["SI"]["success"]]
    )
    assert first_generation_reaching([0, 0.5, 0.95, 1.0], 0.9) == 2
    assert first_generation_reaching([0, 0.5], 0.9) == np.inf

"""Reproduce the paper at one scale: ``python -m invariant_eqdisc.reproduce --scale cpu``.

Writes ``results/<scale>/results.{json,md}`` (Table 1 and Table 3 layout, ours next to the
paper's, including the GP rows and the Darcy column), the weak-form noise and symmetry-breaking
figures and the GP success-vs-generations figure (Fig. 5).
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from symlab.results import ResultsRecorder, results_dir

from .checks import ground_truth_residuals, numeric_invariance_errors, stlsq_pysindy_difference
from .config import load
from .invariants import rd_equivariant_basis
from .symbolic import (
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
from .systems import (
    boussinesq_derivatives,
    darcy_derivatives,
    load_system,
    rd_derivatives,
)
from .train import train

PAPER = "Discovering Symbolic Differential Equations with Symmetry Invariants (Yang et al., 2025)"


def _symbolic_ok() -> float:
    n_ok = n = 0
    for jet_fn, sym_fn, expr_fn in (
        (boussinesq_jet, boussinesq_symmetries, boussinesq_invariant_exprs),
        (darcy_jet, darcy_symmetries, darcy_invariant_exprs),
        (rd_jet, rd_symmetries, rd_invariant_exprs),
    ):
        jet = jet_fn()
        syms = sym_fn(jet)
        for e in expr_fn(jet).values():
            n += 1
            n_ok += is_differential_invariant(e, syms, jet)
    return n_ok / n


def _sp(r):
    return float(np.mean(r["success"]))


def _pe(r):
    return float(np.median(r["pe"]))


def reproduce(scale: str, out_root=None, cache_dir=None, progress=True):
    cfg = load(scale)
    rec = ResultsRecorder(
        "invariant_eqdisc", PAPER, scale, out_root or results_dir(__file__, "invariant_eqdisc")
    )
    R = rec.results
    # --- property checks
    R.add(
        "invariants annihilated by the prolonged generators (fraction, sympy)",
        _symbolic_ok(),
        lower=1.0,
        table="property checks",
    )
    for name, err in numeric_invariance_errors().items():
        R.add(
            f"numeric invariance, {name} (max rel. error)", err, upper=1e-9, table="property checks"
        )
    bc = cfg.boussinesq
    d = load_system("boussinesq", bc.data, cache_dir)
    n_train = int(round(bc.data.t_train / bc.data.save_every)) + 1
    bd = boussinesq_derivatives(d["u"][:n_train], d["w"][:n_train], 2 * bc.data.half_width)
    dc = load_system("darcy", cfg.darcy, cache_dir)
    dd = darcy_derivatives(dc["u"], 2 * cfg.darcy.half_width / cfg.darcy.n)
    rc = cfg.reaction_diffusion.data
    r = load_system("reaction_diffusion", rc, cache_dir)
    nt = int(round(rc.t_train / rc.save_every)) + 1
    rd = rd_derivatives(r["u"][:nt], r["v"][:nt], rc.save_every, 2 * rc.half_width)
    rd = {k: v[3:-3] for k, v in rd.items()}
    res = ground_truth_residuals((bd, bc.min_abs_ux), (dc["u"], dc["x"], dc["y"], dd), rd)
    for name, val in res.items():
        R.add(
            f"ground-truth invariant form residual, {name}",
            val,
            upper=1e-3,
            table="property checks",
            note="clean data, interior points",
        )
    q = rd_equivariant_basis(cfg.reaction_diffusion.sparsify, cfg.seed)
    R.add(
        "SO(2) subspace dimension (reaction-diffusion)",
        q.shape[1],
        paper=14,
        tolerance=0,
        table="property checks",
    )
    R.add(
        "max |our STLSQ - pysindy STLSQ|",
        stlsq_pysindy_difference(),
        upper=1e-8,
        table="property checks",
    )
    # --- experiments
    with tempfile.TemporaryDirectory() as tmp:
        _, results = train(cfg, root=tmp, cache_dir=cache_dir, progress=progress)
    t1 = "Table 1 (C / SP / PE, clean data)"
    b = results["boussinesq"]
    R.add("Boussinesq PySINDy C", b["PySINDy"]["C"], paper=15, table=t1)
    R.add("Boussinesq PySINDy SP", _sp(b["PySINDy"]), paper=0.0, upper=0.05, table=t1)
    R.add(
        "Boussinesq PySINDy PE",
        _pe(b["PySINDy"]),
        paper=0.373,
        table=t1,
        note="median RMSE; inf = simulation blew up",
    )
    R.add(
        "Boussinesq SI (sparse) C",
        b["SI"]["C"],
        paper=13,
        table=t1,
        note="our SI library: degree-2 monomials of eta00, eta20, eta30, eta40",
    )
    R.add("Boussinesq SI (sparse) SP", _sp(b["SI"]), paper=1.0, lower=0.95, table=t1)
    coef = np.array(b["SI"]["coef"])[np.array(b["SI"]["success"])]
    names = b["SI"]["names"]
    cols = [names.index(n) for n in ("1", "eta40", "eta00 eta20")]
    worst = float(np.max(np.abs(coef[:, cols] + 1))) if len(coef) else float("nan")
    R.add("Boussinesq SI max |coef + 1| over successful runs", worst, upper=0.03, table=t1)
    R.add("Boussinesq SI (sparse) PE", _pe(b["SI"]), paper=0.098, table=t1)
    rr = results["reaction_diffusion"]
    R.add("Reaction-diffusion PySINDy C", rr["PySINDy"]["C"], paper=38, table=t1)
    R.add("Reaction-diffusion PySINDy SP", _sp(rr["PySINDy"]), paper=0.53, table=t1)
    R.add("Reaction-diffusion PySINDy PE", _pe(rr["PySINDy"]), paper=0.021, table=t1)
    R.add("Reaction-diffusion SI (sparse) C", rr["SI"]["C"], paper=28, table=t1)
    R.add("Reaction-diffusion SI (sparse) SP", _sp(rr["SI"]), paper=0.54, table=t1)
    R.add(
        "Reaction-diffusion SI (sparse) PE",
        _pe(rr["SI"]),
        paper=0.008,
        upper=_pe(rr["PySINDy"]),
        table=t1,
        note="criterion: PE(SI) <= PE(PySINDy)",
    )
    # coefficient recovery (SI: I_xx, I_yy, E_xx, E_yy ~ 0.1; A, A^2 ~ +-1)
    si = np.array(rr["SI"]["coef"])
    n_si = rr["names_si"]
    diff = si[:, :, [n_si.index("I_xx"), n_si.index("I_yy")]][:, 0].ravel().tolist()
    diff += si[:, 1, [n_si.index("E_xx"), n_si.index("E_yy")]].ravel().tolist()
    R.add("RD SI max |d - 0.1|", float(np.max(np.abs(np.array(diff) - 0.1))), upper=0.01, table=t1)
    react = np.concatenate(
        [
            si[:, 0, n_si.index("A")] - 1,
            si[:, 0, n_si.index("A^2")] + 1,
            si[:, 1, n_si.index("A^2")] + 1,
        ]
    )
    R.add(
        "RD SI max relative reaction-coefficient error",
        float(np.max(np.abs(react))),
        upper=0.05,
        table=t1,
    )
    al = np.array(rr["SI-aligned"]["coef"])
    n_raw = rr["names_raw"]
    dal = np.concatenate(
        [
            al[:, 0, [n_raw.index("u_xx"), n_raw.index("u_yy")]].ravel(),
            al[:, 1, [n_raw.index("v_xx"), n_raw.index("v_yy")]].ravel(),
        ]
    )
    R.add("RD SI-aligned max |d - 0.1|", float(np.max(np.abs(dal - 0.1))), upper=0.01, table=t1)
    truth = {
        (0, "u"): 1,
        (0, "u^3"): -1,
        (0, "u v^2"): -1,
        (0, "u^2 v"): 1,
        (0, "v^3"): 1,
        (1, "v"): 1,
        (1, "u^2 v"): -1,
        (1, "v^3"): -1,
        (1, "u^3"): -1,
        (1, "u v^2"): -1,
    }
    err = max(float(np.max(np.abs(al[:, i, n_raw.index(n)] - c))) for (i, n), c in truth.items())
    R.add("RD SI-aligned max reaction-coefficient error", err, upper=0.05, table=t1)
    t3 = "Table 3 (sparse-regression variants)"
    R.add("Boussinesq PySINDy* C", b["PySINDy*"]["C"], paper=21, table=t3)
    R.add(
        "Boussinesq PySINDy* SP",
        _sp(b["PySINDy*"]),
        paper=1.0,
        lower=0.9,
        table=t3,
        note=f"L2 penalty {bc.alpha_sindy}",
    )
    R.add(
        "Boussinesq PySINDy* SP with the SI L2 penalty",
        _sp(b["PySINDy* (alpha=SI alpha)"]),
        table=t3,
        note=f"L2 penalty {bc.alpha}: ridge shrinks u u_xx, u_x^2 below threshold",
    )
    R.add("Boussinesq PySINDy* PE", _pe(b["PySINDy*"]), table=t3)
    R.add("Reaction-diffusion SI-aligned C", rr["SI-aligned"]["C"], paper=14, table=t3)
    R.add(
        "Reaction-diffusion SI-aligned SP",
        _sp(rr["SI-aligned"]),
        paper=0.56,
        lower=_sp(rr["PySINDy"]) - 0.05,
        table=t3,
        note="criterion: >= SP(PySINDy) - 0.05",
    )
    R.add("Reaction-diffusion SI-aligned PE", _pe(rr["SI-aligned"]), table=t3)
    # --- weak form curves
    tw = "Fig. 3 (weak form, reaction-diffusion)"
    wn = results["weak_noise"]
    for row in wn:
        R.add(
            f"weak SI-aligned SP, noise {row['noise']:.1%}, K={row['K']}",
            row["weak SI-aligned"],
            lower=row["weak SINDy"],
            table=tw,
            note=f"weak SINDy SP {row['weak SINDy']:.2f}; criterion >= weak SINDy",
        )
    sb = results["symmetry_breaking"]
    for row in sb:
        last = row is sb[-1]
        R.add(
            f"weak SI-relaxed SP, forcing eps={row['eps']}",
            row["weak SI-relaxed"],
            lower=row["weak SI-aligned"] + 1e-9 if last and row["eps"] > 0 else None,
            table=tw,
            note=f"strict SI-aligned {row['weak SI-aligned']:.2f}, weak SINDy "
            f"{row['weak SINDy']:.2f}" + ("; criterion > strict SI" if last else ""),
        )
    _figures(rec, wn, sb, cfg)
    if "gp" in results:
        _gp_metrics(R, results["gp"], cfg, t1)
        _gp_figure(rec, results["gp"])
    R.notes += [
        "C counts library coefficients (SINDy, SI) or free subspace coefficients (SI-aligned).",
        "SP = fraction of runs whose discovered term set equals the truth; PE = median RMSE of "
        "simulating the discovered equation over the test window (Boussinesq: first "
        f"{bc.pe_runs} runs, RK4 dt={bc.pe_dt}).",
        "Substitutions: PySR cannot run offline (it downloads Julia), so every GP row uses DEAP "
        "1.4 (genetic_programming.py): '+, -, *' (and a protected exp with ephemeral constants "
        "for Darcy), least-squares coefficients of the expanded tree, tournament selection, "
        "subtree crossover/mutation, static height limit, L2 loss + parsimony. The 'raw-variable "
        "GP' rows stand in for the paper's PySR rows: only the SI-vs-raw ordering is comparable, "
        "not absolute SP. The E2E rows are dropped (needs a downloaded checkpoint).",
        "GP: fixed left-hand side (the invariant with the time derivative, Delta u for Darcy; "
        "raw: u_tt, u_xx, u_t and v_t) instead of Algorithm 1's loop over all invariants. "
        "Success = the paper's term matching (sympy expansion, terms < 1% of the largest "
        "coefficient dropped, one-to-one match of the coefficient-free parts at 100 "
        "standard-normal points within 5%); both equations must match for reaction-diffusion. "
        "C counts input variables including the left-hand side(s). GP PE: median over the first "
        f"{cfg.gp.pe_runs} trials; Darcy PE = RMSE of the discovered equation's residual over "
        "all interior grid points (units of Delta u); inf = blow-up or not an explicit "
        "evolution equation.",
        "Reaction-diffusion strong form uses 0.05% noise, 6th-order time differences and "
        "spectral space derivatives.",
    ]
    rec.write()
    return rec


GP_PAPER = {
    # system: (label, SI(GP) C/SP/PE, PySR C/SP/PE) from the paper's Table 1
    "boussinesq": ("Boussinesq", (14, 1.0, 0.098), (17, 0.90, 0.098)),
    "darcy": ("Darcy", (7, 0.79, 0.051), (8, 0.0, 0.187)),
    "reaction_diffusion": ("Reaction-diffusion", (16, 0.81, 0.023), (17, 0.0, None)),
}


def _gp_sp_curve(arm: dict) -> np.ndarray:
    return np.mean(np.array(arm["success"], dtype=float), axis=0)


def _gp_metrics(R, gp_res, cfg, t1):
    from .gp_experiments import first_generation_reaching

    for system, res in gp_res.items():
        label, p_si, p_raw = GP_PAPER[system]
        si, raw = res["SI"], res["raw"]
        sp_si, sp_raw = _gp_sp_curve(si)[-1], _gp_sp_curve(raw)[-1]
        pe_si, pe_raw = _pe(si), _pe(raw)
        budget = f"population {si['population']} x {si['generations']} generations"
        R.add(f"{label} SI (GP) C", si["C"], paper=p_si[0], table=t1)
        if system == "boussinesq":
            crit = {"lower": 0.9}
            note = f"{budget}; criterion >= 0.9"
        else:
            crit = {"lower": sp_raw + 1e-9}
            note = f"{budget}; criterion > SP(raw-variable GP) = {sp_raw:.2f}"
        R.add(f"{label} SI (GP) SP", sp_si, paper=p_si[1], table=t1, note=note, **crit)
        if system == "darcy":
            R.add(
                f"{label} SI (GP) PE",
                pe_si,
                paper=p_si[2],
                upper=pe_raw,
                table=t1,
                note="residual RMSE (units of Delta u); criterion < PE(raw-variable GP)",
            )
        else:
            R.add(f"{label} SI (GP) PE", pe_si, paper=p_si[2], table=t1)
        R.add(f"{label} raw-variable GP C", raw["C"], paper=p_raw[0], table=t1)
        R.add(
            f"{label} raw-variable GP SP",
            sp_raw,
            paper=p_raw[1],
            table=t1,
            note="DEAP on raw variables, same budget; stands in for PySR",
        )
        R.add(f"{label} raw-variable GP PE", pe_raw, paper=p_raw[2], table=t1)
    tf = "Fig. 5 (GP success vs generations)"
    for system, res in gp_res.items():
        label = GP_PAPER[system][0]
        c_si, c_raw = _gp_sp_curve(res["SI"]), _gp_sp_curve(res["raw"])
        n = len(c_si) - 1
        for g in sorted({max(1, n // 4), max(1, n // 2), n}):
            R.add(
                f"{label} SP after {g} generations, SI (GP) / raw-variable GP",
                c_si[g],
                table=tf,
                note=f"raw-variable GP {c_raw[g]:.2f}",
            )
    if "boussinesq" in gp_res:
        res = gp_res["boussinesq"]
        g_si = first_generation_reaching(_gp_sp_curve(res["SI"]), 0.9)
        g_raw = first_generation_reaching(_gp_sp_curve(res["raw"]), 0.9)
        n = res["SI"]["generations"]
        reached = np.isfinite(g_raw)
        R.add(
            "Boussinesq generations to SP >= 0.9, SI (GP)",
            g_si,
            upper=(g_raw - 1) if reached else n,
            table=tf,
            note=(
                f"raw-variable GP reaches 0.9 at generation {g_raw:.0f}"
                if reached
                else f"raw-variable GP does not reach 0.9 within {n} generations "
                f"(final SP {_gp_sp_curve(res['raw'])[-1]:.2f})"
            )
            + "; criterion: fewer generations than raw. Paper (PySR iterations): SI 1.00 at 5, "
            "PySR 0.90 at 15",
        )


def _gp_figure(rec, gp_res):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(gp_res), figsize=(4 * len(gp_res), 3.3), squeeze=False)
    for ax, (system, res) in zip(axes[0], gp_res.items()):
        for arm, style, name in (("SI", "o-", "SI (GP)"), ("raw", "s--", "raw-variable GP")):
            c = _gp_sp_curve(res[arm])
            ax.plot(np.arange(len(c)), c, style, ms=3, label=name)
        ax.set_title(GP_PAPER[system][0])
        ax.set_xlabel("generation")
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("success probability")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(rec.figure_path("gp_success.png"), dpi=120)
    plt.close(fig)


def _figures(rec, wn, sb, cfg):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for k in sorted({r["K"] for r in wn}):
        rows = [r for r in wn if r["K"] == k]
        x = [100 * r["noise"] for r in rows]
        ax.plot(x, [r["weak SI-aligned"] for r in rows], "o-", label=f"SI-aligned K={k}")
        ax.plot(x, [r["weak SINDy"] for r in rows], "s--", label=f"weak SINDy K={k}")
    ax.set_xlabel("noise (%)")
    ax.set_ylabel("success probability")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(rec.figure_path("weak_noise.png"), dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = [r["eps"] for r in sb]
    for name, style in (
        ("weak SINDy", "s--"),
        ("weak SI-aligned", "o-"),
        ("weak SI-relaxed", "^-"),
    ):
        ax.plot(x, [r[name] for r in sb], style, label=name)
    ax.set_xlabel("forcing eps (symmetry breaking)")
    ax.set_ylabel("success probability")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(rec.figure_path("symmetry_breaking.png"), dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", choices=("smoke", "cpu", "paper"), default="cpu")
    args = p.parse_args(argv)
    rec = reproduce(args.scale)
    print((rec.out_dir / "results.md").read_text())


if __name__ == "__main__":
    main()

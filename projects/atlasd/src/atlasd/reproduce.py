"""Reproduce the paper at one scale and write results/<scale>/ (table and figures).

``python -m atlasd.reproduce --scale {smoke,cpu,paper}``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch

from symlab.results import Results, ResultsRecorder, results_dir

from .config import get_config
from .lie import frobenius_cosine, orthogonality_error, symmetric_fraction
from .train import run_tasks

PAPER = "AtlasD: Automatic Local Symmetry Discovery (Bhat et al., ICML 2025)"
ROTATION = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
#: The "previously discovered" generators hard-coded in the reference code's coset step.
REFERENCE_PDE_GENERATORS = {
    1: torch.tensor([[-0.027, -1.000], [1.016, 0.029]]),
    2: torch.tensor([[-0.182, -1.000], [1.024, 0.189]]),
}


def elliptic_s(L: torch.Tensor) -> float:
    """``s`` of ``L ~ J + s diag(-1, 1)``: half the diagonal difference over the rotation part."""
    L = L.double()
    return float((L[1, 1] - L[0, 0]) / (L[1, 0] - L[0, 1]))


def record(rec: ResultsRecorder, outs: dict[str, dict[str, Any]]) -> None:
    """One metric per acceptance criterion (paper values where known)."""
    add = rec.results.add
    for o in outs.get("pde", {}).values():
        atlas = o["atlas"]
        ref = REFERENCE_PDE_GENERATORS[atlas]
        t = f"Heat PDE with obstacle, atlas {atlas} (A1-A3)"
        add("chosen k (weakest generator collapses at k+1)", o["k"], paper=1, tolerance=0, table=t)
        add(
            "|cos(L, J)|",
            o["cos_rotation"],
            paper=abs(frobenius_cosine(ref, ROTATION)),
            lower=0.95,
            table=t,
            note=f"paper value from the code's atlas-{atlas} generator",
        )
        add(
            "||L + L^T|| / ||L||",
            o["symmetric_fraction"],
            paper=symmetric_fraction(ref),
            upper=0.3,
            table=t,
            note=f"paper value from the code's atlas-{atlas} generator",
        )
        add("surviving cosets", o["n_cosets"], paper=2, lower=2, upper=2, table=t)
        add("survivors have det > 0 and det < 0 (1 = yes)", o["cosets_ok"], lower=1, table=t)
        add("max ||C^T C - I|| of survivors", o["max_orth_error"], upper=0.2, table=t)
        add("equivariance loss, learned / random unit generator (held-out)",
            o["locality_ratio"], upper=0.5, table=t)  # fmt: skip
        if "global_to_local_ratio" in o:
            add(
                "relative equivariance loss, single global chart / local atlas",
                o["global_to_local_ratio"],
                lower=2,
                table=t,
                note="exact simulator as the predictor of both, learned generator at unit norm",
            )
            add("relative equivariance loss of the data on the local charts",
                o["rel_loss_local"], table=t, note="informational")  # fmt: skip
            add("relative equivariance loss of the data on one global chart",
                o["rel_loss_global"], table=t, note="informational")  # fmt: skip
        add("chart predictors: held-out L1 on the compared window", o["predictor_test_l1"],
            table=t, note="informational")  # fmt: skip
        # the reference samples at g^T p: its L acts as our -L^T (same cosine and symmetric part)
        add("elliptic s of the learned generator", elliptic_s(o["L"][0]),
            paper=elliptic_s(-ref.T), table=t,
            note="L ~ J + s diag(-1, 1); paper: the code's generator as -L^T in our warp "
            "convention; informational")  # fmt: skip
        sc = o["elliptic_s_charts"]
        add("s where the learned predictors are most equivariant (atlas mean)",
            o["elliptic_s_atlas"], table=t,
            note=f"loss along J + s diag(-1, 1); per chart {float(sc.min()):.1f} to "
            f"{float(sc.max()):.1f}; informational")  # fmt: skip
    if "probes" in outs:
        o, t = outs["probes"], "Probes (A4, A5)"
        add("D4 probe: surviving cosets", o["d4_n"], paper=8, lower=8, upper=8, table=t)
        add("D4 probe: distinct signed permutations", o["d4_distinct"], lower=8, upper=8, table=t)
        add("D4 probe: max-abs distance to a signed permutation", o["d4_max_dist"], upper=0.05,
            table=t)  # fmt: skip
        add("D4 probe: closed under multiplication (1 = yes)", o["d4_closed"], lower=1, table=t)
        add("two-coset probe: survivors", o["tc_n"], paper=2, lower=2, upper=2, table=t)
        add("two-coset probe: max-abs distance to {I, -I}", o["tc_max_dist"], upper=0.1, table=t)
    if "lorentz" in outs:
        o, t = outs["lorentz"], "Lorentz-invariant jets (A6; synthetic stand-in for top tagging)"
        add("MLP test accuracy", o["accuracy"], paper=0.86, table=t,
            note="paper: real top tagging; ours: synthetic task, not comparable")  # fmt: skip
        add("chosen k", o["k"], paper=7, lower=6, upper=7, table=t,
            note="so(1,3) has 6; the reference code hard-codes 7")  # fmt: skip
        add("|cos(J, diag(1,-1,-1,-1))|", o["cos_minkowski"], paper=0.9996, lower=0.99, table=t)
        add("cosets are {I, P} up to the identity component (1 = yes)", o["cosets_ok"], lower=1,
            table=t, note="found: " + ", ".join(o["coset_names"]))  # fmt: skip
    if "digits" in outs:
        o, t = outs["digits"], "Digits on the sphere (A7; sklearn digits stand-in for MNIST)"
        add("chart predictors: digit-pixel accuracy (training charts)",
            100 * o["chart_accuracy"], unit="%", table=t, note="informational")  # fmt: skip
        add("|cos(L, so(2))|", o["cos_rotation"], lower=0.9, table=t)
        add("plain CNN, test accuracy (+/-180 deg)", 100 * o["plain_test_acc"], paper=70,
            unit="%", table=t)  # fmt: skip
        add(f"gauge CNN ({o['group']}), test accuracy (+/-180 deg)", 100 * o["equiv_test_acc"],
            paper=94, unit="%", table=t)  # fmt: skip
        add("gauge minus plain (accuracy points)", o["gap_points"], paper=24, lower=10,
            unit="points", table=t)  # fmt: skip
        add("effective parameters, gauge / plain", o["equiv_params"] / o["plain_params"],
            upper=1 / 3 + 0.05, paper=1 / 3, table=t, note="paper: under 1/3")  # fmt: skip


def figures(rec: ResultsRecorder, outs: dict[str, dict[str, Any]]) -> None:
    """Generators as matrices, coset scatter, downstream accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mats = []
    for o in outs.get("pde", {}).values():
        mats.append((f"PDE atlas {o['atlas']} L", o["L"][0]))
    if "digits" in outs:
        mats.append(("digits L", outs["digits"]["L"][0]))
    if "lorentz" in outs:
        mats += [(f"Lorentz L{i}", m) for i, m in enumerate(outs["lorentz"]["L"])]
        mats.append(("Lorentz metric J", outs["lorentz"]["J"]))
    if mats:
        fig, axes = plt.subplots(1, len(mats), figsize=(2.2 * len(mats), 2.4), squeeze=False)
        for ax, (name, m) in zip(axes[0], mats):
            m = m.float()
            v = float(m.abs().max())
            ax.imshow(m.numpy(), cmap="RdBu_r", vmin=-v, vmax=v)
            for (i, j), x in __import__("numpy").ndenumerate(m.numpy()):
                ax.text(j, i, f"{x:.2f}", ha="center", va="center", fontsize=6)
            ax.set_title(name, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        fig.savefig(rec.figure_path("generators.png"), dpi=120)
        plt.close(fig)
    panels = [(f"PDE atlas {o['atlas']}", o) for o in outs.get("pde", {}).values()]
    panels += [("Lorentz", outs["lorentz"])] if "lorentz" in outs else []
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
        for ax, (name, o) in zip(axes[0], panels):
            C, loss = o["candidates"], o["candidate_losses"]
            det = torch.linalg.det(C.double())
            orth = orthogonality_error(C)
            sc = ax.scatter(det.numpy(), orth.numpy(), c=loss.numpy(), cmap="viridis", s=25)
            kd, ko = torch.linalg.det(o["cosets"].double()), orthogonality_error(o["cosets"])
            ax.scatter(kd.numpy(), ko.numpy(), facecolors="none", edgecolors="r", s=90,
                       label="survivors")  # fmt: skip
            ax.set_xlabel("det C")
            ax.set_ylabel("||C^T C - I||")
            ax.set_title(f"{name} coset candidates")
            ax.legend(fontsize=7)
            fig.colorbar(sc, ax=ax, label="equivariance loss")
        fig.tight_layout()
        fig.savefig(rec.figure_path("cosets.png"), dpi=120)
        plt.close(fig)
    if outs.get("pde"):
        pdes = list(outs["pde"].values())
        fig, axes = plt.subplots(1, len(pdes), figsize=(4 * len(pdes), 3), squeeze=False)
        for ax, o in zip(axes[0], pdes):
            sv, scan = o["elliptic_s_values"].numpy(), o["elliptic_scan"].numpy()
            ax.plot(sv, scan, color="0.7", lw=0.8)
            ax.plot(sv, scan.mean(axis=1), color="k", lw=2, label="atlas mean")
            ax.axvline(elliptic_s(o["L"][0]), color="r", ls="--", label="learned L")
            ax.set_xlabel("s in J + s diag(-1, 1)")
            ax.set_ylabel("equivariance loss (L1)")
            ax.set_title(f"PDE atlas {o['atlas']}: per-chart predictors", fontsize=9)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(rec.figure_path("elliptic.png"), dpi=120)
        plt.close(fig)
    if "digits" in outs:
        o = outs["digits"]
        fig, ax = plt.subplots(figsize=(4, 3))
        names = ["plain CNN", f"gauge CNN ({o['group']})"]
        tr = [100 * o["plain_train_acc"], 100 * o["equiv_train_acc"]]
        te = [100 * o["plain_test_acc"], 100 * o["equiv_test_acc"]]
        x = torch.arange(2).numpy()
        ax.bar(x - 0.2, tr, 0.4, label="train (+/-60 deg)")
        ax.bar(x + 0.2, te, 0.4, label="test (+/-180 deg)")
        ax.set_xticks(x, names)
        ax.set_ylabel("digit-pixel accuracy (%)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(rec.figure_path("downstream.png"), dpi=120)
        plt.close(fig)


class _Sink:
    """A stand-in recorder that only collects metrics (for the extra seeds)."""

    def __init__(self, scale: str) -> None:
        self.results = Results(project="atlasd", paper=PAPER, scale=scale)


def seed_robustness(rec: ResultsRecorder, per_seed: dict[int, Results], tables: list[str]) -> None:
    """One row per acceptance criterion of ``tables``: on how many seeds it holds (criterion:
    all of them), with the mean, standard deviation and per-seed values in the note."""
    seeds = sorted(per_seed)
    t = "Seed robustness (seeds " + ", ".join(map(str, seeds)) + ")"
    first = per_seed[seeds[0]]
    for m in first.metrics:
        if m.table not in tables or m.passed is None:
            continue
        rows = [next(x for x in per_seed[s].metrics if x.table == m.table and x.name == m.name)
                for s in seeds]  # fmt: skip
        vals = torch.tensor([r.value for r in rows], dtype=torch.float64)
        sd = float(vals.std()) if len(vals) > 1 else 0.0
        short = m.table.split(" (")[0].replace("Heat PDE with obstacle, ", "PDE ")
        rec.results.add(
            f"{short}: {m.name} ({m.criterion}), seeds passing",
            sum(bool(r.passed) for r in rows),
            lower=len(seeds),
            table=t,
            note=f"mean {float(vals.mean()):.4g} +/- {sd:.3g}; per seed "
            + ", ".join(f"{v:.4g}" for v in vals.tolist()),
        )


def reproduce(
    scale: str,
    out_root: str | Path | None = None,
    overrides: list[str] | None = None,
    seeds: list[int] | None = None,
    seed_tasks: list[str] | None = None,
) -> Results:
    """Run every task at ``scale`` and write the results table and figures.

    With several ``seeds`` the first gives the main table and figures; ``seed_tasks`` (default
    pde and digits) are rerun with each further seed and a seed-robustness table counts on how
    many seeds each of their criteria holds.
    """
    cfg = get_config(scale, overrides)
    seeds = list(seeds) if seeds else [cfg.seed]
    seed_tasks = list(seed_tasks or ["pde", "digits"])
    cfg = get_config(scale, list(overrides or []) + [f"seed={seeds[0]}"])
    rec = ResultsRecorder("atlasd", PAPER, scale, out_root or results_dir(__file__, "atlasd"))
    with tempfile.TemporaryDirectory() as tmp:
        outs = run_tasks(cfg, Path(tmp))
    record(rec, outs)
    figures(rec, outs)
    if len(seeds) > 1:
        per_seed = {seeds[0]: rec.results}
        for s in seeds[1:]:
            extra = [f"seed={s}", "tasks=[" + ", ".join(seed_tasks) + "]"]
            cfg_s = get_config(scale, list(overrides or []) + extra)
            with tempfile.TemporaryDirectory() as tmp:
                sink = _Sink(scale)
                record(sink, run_tasks(cfg_s, Path(tmp)))
            per_seed[s] = sink.results
        tables = sorted({m.table for m in per_seed[seeds[1]].metrics})
        seed_robustness(rec, per_seed, tables)
    rec.results.notes += [
        "Stand-ins: synthetic Lorentz-invariant jets for top tagging, scikit-learn digits for "
        "MNIST (neither real dataset is downloadable here); ClimateNet is out of scope.",
        "Paper values for the PDE generator are computed from the generators hard-coded in the "
        "reference code (the paper's tables are not available).",
        f"Config: {scale}; seed {seeds[0]}"
        + (f" (seed-robustness table: seeds {seeds})." if len(seeds) > 1 else "."),
    ]
    rec.write()
    print(rec.results.to_markdown())
    return rec.results


def main(argv: list[str] | None = None) -> Results:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", default="cpu", choices=["smoke", "cpu", "paper"])
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="several seeds: the first gives the main table, the others a seed-robustness "
        "table (mean +/- std, seeds passing each criterion)",
    )
    ap.add_argument("--seed-tasks", nargs="+", default=None,
                    help="tasks rerun for the extra seeds (default: pde digits)")  # fmt: skip
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = ap.parse_args(argv)
    return reproduce(args.scale, overrides=args.overrides, seeds=args.seeds,
                     seed_tasks=args.seed_tasks)  # fmt: skip


if __name__ == "__main__":
    main()

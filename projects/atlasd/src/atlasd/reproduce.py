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


def record(rec: ResultsRecorder, outs: dict[str, dict[str, Any]], atlas: int) -> None:
    """One metric per acceptance criterion (paper values where known)."""
    add = rec.results.add
    if "pde" in outs:
        o, ref = outs["pde"], REFERENCE_PDE_GENERATORS[atlas]
        t = "Heat PDE with obstacle (A1-A3)"
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
    if "pde" in outs:
        mats.append(("PDE L", outs["pde"]["L"][0]))
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
    panels = [(k, outs[k]) for k in ("pde", "lorentz") if k in outs]
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


def reproduce(
    scale: str, out_root: str | Path | None = None, overrides: list[str] | None = None
) -> Results:
    """Run every task at ``scale`` and write the results table and figures."""
    cfg = get_config(scale, overrides)
    rec = ResultsRecorder("atlasd", PAPER, scale, out_root or results_dir(__file__, "atlasd"))
    with tempfile.TemporaryDirectory() as tmp:
        outs = run_tasks(cfg, Path(tmp))
    record(rec, outs, cfg.pde.atlas)
    figures(rec, outs)
    rec.results.notes += [
        "Stand-ins: synthetic Lorentz-invariant jets for top tagging, scikit-learn digits for "
        "MNIST (neither real dataset is downloadable here); ClimateNet is out of scope.",
        "Paper values for the PDE generator are computed from the generators hard-coded in the "
        "reference code (the paper's tables are not available).",
        f"Config: {scale}; seed {cfg.seed}.",
    ]
    rec.write()
    print(rec.results.to_markdown())
    return rec.results


def main(argv: list[str] | None = None) -> Results:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", default="cpu", choices=["smoke", "cpu", "paper"])
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = ap.parse_args(argv)
    return reproduce(args.scale, overrides=args.overrides)


if __name__ == "__main__":
    main()

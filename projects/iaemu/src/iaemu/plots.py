"""Figures of the reproduction (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .statistics import bin_centres

LABELS = (r"$\xi(r)$", r"$\omega(r)$", r"$\eta(r)$")


def predictions(path: Path, pred: dict, y_test: np.ndarray, idx: list[int]) -> None:
    """Predicted vs true correlation functions with 1-sigma aleatoric and total bands."""
    r = bin_centres()
    fig, axes = plt.subplots(len(idx), 3, figsize=(13, 3.2 * len(idx)), squeeze=False)
    for row, i in enumerate(idx):
        for s in range(3):
            ax = axes[row, s]
            truth, spread = y_test[i, :, s].mean(0), y_test[i, :, s].std(0)
            mean = pred["mean"][i, s]
            sa = np.sqrt(pred["var_ale"][i, s])
            st = np.sqrt(pred["var_ale"][i, s] + pred["var_epi"][i, s])
            ax.fill_between(
                r, mean - st, mean + st, alpha=0.2, color="C1", label="total 1$\\sigma$"
            )
            ax.fill_between(
                r, mean - sa, mean + sa, alpha=0.35, color="C1", label="aleatoric 1$\\sigma$"
            )
            ax.plot(r, mean, color="C1", label="IAEmu")
            ax.errorbar(
                r,
                truth,
                yerr=spread,
                fmt="o",
                ms=3,
                color="k",
                label="mocks (mean, realization std)",
            )
            if s == 0:
                ax.set_yscale("log")
            ax.set_xscale("log")
            ax.set_xlabel(r"$r$ [Mpc/h]")
            ax.set_ylabel(LABELS[s])
            if row == 0 and s == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def per_bin_errors(path: Path, metrics: dict, pred: dict, y_test: np.ndarray) -> None:
    """xi relative error and omega/eta absolute error per bin, with the realization scatter."""
    r = bin_centres()
    truth = y_test.mean(1)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    axes[0].plot(r, metrics["xi_mre_per_bin"], "o-", label="mean |rel. error|")
    rel_sd = (y_test[:, :, 0].std(1) / np.abs(truth[:, 0])).mean(0)
    axes[0].plot(r, rel_sd, "s--", label="realization rel. std")
    axes[0].axhline(0.05, color="gray", ls=":")
    axes[0].set_ylabel(r"$\xi$ relative error")
    for s in (1, 2):
        axes[s].plot(
            r, np.abs(pred["mean"][:, s] - truth[:, s]).mean(0), "o-", label="mean |error|"
        )
        axes[s].plot(r, y_test[:, :, s].std(1).mean(0), "s--", label="realization std")
        axes[s].plot(r, np.abs(truth[:, s]).mean(0), "^:", label="mean |truth|")
        axes[s].set_ylabel(LABELS[s] + " error")
        axes[s].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel(r"$r$ [Mpc/h]")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def calibration(path: Path, pred: dict, y_test: np.ndarray) -> None:
    """Fraction of single realizations within k sigma_ale against the Gaussian expectation."""
    from scipy.special import erf

    ks = np.linspace(0.1, 3, 30)
    z = np.abs(y_test - pred["mean"][:, None]) / np.sqrt(pred["var_ale"])[:, None]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for s in range(3):
        ax.plot(ks, [(z[:, :, s] < k).mean() for k in ks], label=LABELS[s])
    ax.plot(ks, erf(ks / np.sqrt(2)), "k--", label="Gaussian")
    ax.set_xlabel(r"$k$ [$\sigma_{ale}$]")
    ax.set_ylabel("fraction within")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def corner(path: Path, runs: list[tuple[str, np.ndarray, tuple[float, float] | None]]) -> None:
    """Corner plot of (mu_cen, mu_sat) posteriors; ``runs`` = (label, samples (n, 2), truth)."""
    names = (r"$\mu_{cen}$", r"$\mu_{sat}$")
    fig, axes = plt.subplots(2, 2, figsize=(6, 6))
    for c, (label, s, truth) in enumerate(runs):
        color = f"C{c}"
        for i in range(2):
            axes[i, i].hist(
                s[:, i],
                bins=40,
                range=(-1, 1),
                histtype="step",
                color=color,
                density=True,
                label=label,
            )
            if truth is not None:
                axes[i, i].axvline(truth[i], color=color, ls="--")
        axes[1, 0].scatter(s[:, 0], s[:, 1], s=2, alpha=0.3, color=color)
        if truth is not None:
            axes[1, 0].plot(*truth, "x", color=color, ms=10, mew=2)
    axes[0, 1].axis("off")
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].set_xlabel(names[0])
    axes[1, 0].set_ylabel(names[1])
    axes[1, 1].set_xlabel(names[1])
    for ax in (axes[1, 0],):
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_curve(path: Path, history: list[dict]) -> None:
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ep, [h["train_loss"] for h in history], label="train beta-NLL")
    v = [(h["epoch"], h["val_combined"]) for h in history if "val_combined" in h]
    if v:
        ax.plot(*zip(*v), "o-", label="val 0.7 MSE + 0.3 NLL")
    ax.set_xlabel("epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

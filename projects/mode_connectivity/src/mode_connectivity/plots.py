"""Figures written by ``reproduce`` (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from .components import ComponentResult
from .curves import CurveRecord
from .lmc import LMCRecord, midpoint_loss_closed_form
from .skip import GridComponents
from .trained import CurveComparison, PairConnection


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log10(1 + np.abs(x))


def plot_components(results: Sequence[ComponentResult], path: Path) -> None:
    """Observed components vs ``2^(l-1)`` per ``(l, h)``, and the determinant signs of one case."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = [f"l={r.depth}\nh={r.width}" for r in results]
    x = np.arange(len(results))
    ax1.bar(x - 0.2, [r.n_components for r in results], 0.4, label="components (union-find)")
    ax1.bar(x + 0.2, [2 ** (r.depth - 1) for r in results], 0.4, label="2^(l-1) (Cor. 4.2)")
    ax1.set_xticks(x, labels)
    ax1.set_ylabel("connected components of sampled minima")
    ax1.set_title("Components of the minimum of deep linear networks")
    ax1.legend()
    shown = next((r for r in results if r.depth == 3 and r.width >= 2), results[-1])
    d = shown.dets
    classes = (d < 0).astype(int) @ (2 ** np.arange(d.shape[1]))
    if d.shape[1] >= 2:
        ax2.scatter(_signed_log(d[:, 0]), _signed_log(d[:, 1]), c=classes, cmap="tab10", s=12)
        ax2.set_ylabel("sign(det W2) log10(1 + |det W2|)")
    else:
        ax2.scatter(_signed_log(d[:, 0]), np.zeros(len(d)), c=classes, cmap="tab10", s=12)
    ax2.axhline(0, color="k", lw=0.8)
    ax2.axvline(0, color="k", lw=0.8)
    ax2.set_xlabel("sign(det W1) log10(1 + |det W1|)")
    ax2.set_title(f"sign classes of {shown.n_minima} minima (l={shown.depth}, h={shown.width})")
    _save(fig, path)


def plot_skip_connection(grids: Sequence[GridComponents], path: Path) -> None:
    """The grid components of ``{w1 w2 + eps != 0}``, one colour per component."""
    fig, axes = plt.subplots(1, len(grids), figsize=(5 * len(grids), 4.6))
    axes = np.atleast_1d(axes)
    colours = ListedColormap(["#ffffff", "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"])
    for ax, grid in zip(axes, grids):
        image = np.where(grid.labels < 0, 0, grid.labels + 1)
        extent = [grid.axis[0], grid.axis[-1], grid.axis[0], grid.axis[-1]]
        ax.imshow(image.T, origin="lower", extent=extent, cmap=colours, vmin=0, vmax=5)
        w = np.linspace(grid.axis[0], grid.axis[-1], 2000)
        if grid.eps == 0:
            ax.axhline(0, color="k", lw=1)
            ax.axvline(0, color="k", lw=1)
        else:
            with np.errstate(divide="ignore"):
                w2 = -grid.eps / w
            w2[np.abs(w2) > grid.axis[-1]] = np.nan
            ax.plot(w, w2, "k", lw=1)
        ax.set_title(
            f"eps = {grid.eps:g}: {grid.n_components} components "
            f"({len(grid.axis)}^2 grid, step {grid.step:.3g})"
        )
        ax.set_xlabel("W1")
        ax.set_ylabel("W2")
    _save(fig, path)


def plot_lmc(records: Sequence[LMCRecord], path: Path) -> None:
    """Midpoint loss vs ``m`` (log scale) against the closed form, and the loss along each line."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    m_dense = np.geomspace(1.01, max(r.m for r in records) * 1.2, 400)
    ax1.plot(m_dense, midpoint_loss_closed_form(m_dense), "k-", label="(1 - (1+m)^2/(4m))^2")
    positive = [r for r in records if r.measured > 0]
    ax1.plot([r.m for r in positive], [r.measured for r in positive], "o", label="measured")
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("m")
    ax1.set_ylabel("midpoint loss / ||Y||^2")
    ax1.set_title("Prop. 5.3: barrier of (m^-1 W_l, m W_(l-1)) on a 5-layer leaky-ReLU net")
    ax1.legend()
    for r in records:
        if r.m > 1:
            t = np.linspace(0, 1, len(r.path_losses))
            ax2.plot(t, np.maximum(r.path_losses, 1e-30), label=f"m = {r.m:g}")
    ax2.set_yscale("log")
    ax2.set_xlabel("t (linear interpolation)")
    ax2.set_ylabel("loss / ||Y||^2")
    ax2.legend(fontsize=8)
    _save(fig, path)


def plot_trained_curves(
    comparisons: dict[int, list[CurveComparison]],
    linear_pair: PairConnection | None,
    path: Path,
) -> None:
    """Fig. 3b-c: loss along symmetry curves vs straight lines, and the barrier vs ``||log g||``."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    seed, first = next(iter(comparisons.items()))
    cmap = plt.get_cmap("viridis")
    for j, c in enumerate(first):
        colour = cmap(j / max(len(first) - 1, 1))
        axes[0].plot(c.t, c.linear_losses, color=colour, lw=1)
        axes[0].plot(c.t, c.curve_losses, color=colour, lw=1, ls="--")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("t")
    axes[0].set_ylabel("training loss")
    axes[0].set_title(
        f"two-layer leaky-ReLU (seed {seed}): linear (solid) vs symmetry curve (dashed);\n"
        f"colour: ||log g||_F from {first[0].log_norm:g} (dark) to {first[-1].log_norm:g} (yellow)",
        fontsize=9,
    )
    for s, comps in comparisons.items():
        norms = [c.log_norm for c in comps]
        axes[1].plot(norms, [c.linear_barrier for c in comps], "o-", label=f"linear, seed {s}")
        axes[1].plot(
            norms,
            [max(c.curve_barrier, 1e-30) for c in comps],
            "x--",
            label=f"symmetry curve, seed {s}",
        )
    axes[1].set_yscale("log")
    axes[1].set_xlabel("||log g||_F")
    axes[1].set_ylabel("barrier: max loss on path - max endpoint loss")
    axes[1].set_title("barrier grows with the group element", fontsize=9)
    axes[1].legend(fontsize=7)
    if linear_pair is not None:
        c = linear_pair.comparison
        axes[2].plot(c.t, c.linear_losses, label="linear interpolation")
        axes[2].plot(c.t, c.curve_losses, "--", label="polar symmetry curve")
        axes[2].set_yscale("log")
        axes[2].set_xlabel("t")
        axes[2].set_ylabel("training loss")
        axes[2].legend(fontsize=8)
    axes[2].set_title("extension: deep linear net, two GD seeds", fontsize=9)
    _save(fig, path)


def plot_curvature_bound(records: Sequence[CurveRecord], path: Path) -> None:
    """Thm. 6.2: chord-to-curve distance vs ``d_max``, and loss deviation vs ``C_L d_max``."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    applicable = [r for r in records if r.check.applicable and r.check.d_max > 0]
    for kind, marker in (("subgroup", "o"), ("polar", "s")):
        rows = [r for r in applicable if r.kind == kind]
        if not rows:
            continue
        ax1.scatter(
            [r.check.d_max for r in rows],
            [max(r.check.chord_distance, 1e-30) for r in rows],
            marker=marker,
            s=14,
            label=f"{kind} curves ({len(rows)})",
        )
        ax2.scatter(
            [r.check.lipschitz * r.check.d_max for r in rows],
            [max(r.check.loss_deviation, 1e-30) for r in rows],
            marker=marker,
            s=14,
            label=kind,
        )
    for ax in (ax1, ax2):
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="bound")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    n_out = sum(not r.check.applicable for r in records)
    ax1.set_xlabel("d_max = (1/kappa)(1 - sqrt(1 - (kappa c/2)^2))")
    ax1.set_ylabel("max distance chord -> curve")
    ax1.set_title(f"sagitta bound ({n_out} curves with kappa c > 2 not shown)", fontsize=9)
    ax2.set_xlabel("C_L d_max")
    ax2.set_ylabel("max |L(chord) - c|")
    ax2.set_title("loss on the chord", fontsize=9)
    _save(fig, path)


def plot_approx_action(ratios: np.ndarray, h_over_k: np.ndarray, path: Path) -> None:
    """Prop. 6.1 / Fig. 3a: error ratio of the approximate action vs ``h / k``."""
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.scatter(h_over_k, np.maximum(ratios, 1e-17), s=12)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="bound ||A - A'|| <= ||A||")
    ax.axvline(1.0, color="grey", ls=":", lw=1, label="h = k (exact beyond)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hidden width h / number of samples k")
    ax.set_ylabel("||A - A'||_F / ||A||_F")
    ax.set_title(f"approximate action on {len(ratios)} random sigmoid networks", fontsize=9)
    ax.legend(fontsize=8)
    _save(fig, path)

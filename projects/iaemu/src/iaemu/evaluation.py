"""Acceptance metrics on held-out parameter draws (emulator vs realization-averaged truth)."""

from __future__ import annotations

import time

import numpy as np
import torch

from .model import Emulator


def predict_numpy(emu: Emulator, theta: np.ndarray, passes: int) -> dict[str, np.ndarray]:
    """MC-dropout prediction of physical parameters as numpy arrays (see ``predict_mc``)."""
    device = next(emu.parameters()).device
    out = emu.predict_mc(torch.as_tensor(theta, device=device), passes=passes)
    return {k: v.double().cpu().numpy() for k, v in out.items()}


def accuracy_metrics(pred: dict[str, np.ndarray], y_test: np.ndarray) -> dict[str, float]:
    """The result criteria C1-C4 of the brief.

    Parameters
    ----------
    pred : dict
        ``mean``, ``var_ale``, ``var_epi`` of shape (N, 3, 20).
    y_test : ndarray, shape (N, R, 3, 20)
        Held-out realizations (draws with a non-positive mean xi bin are excluded).

    Returns
    -------
    dict with ``xi_mre`` (C1, mean relative error over all bins and test points),
    ``xi_mre_bin0`` (smallest-scale bin), ``xi_mre_per_bin`` etc., ``omega_rel`` (C2: mean |err|
    / mean |truth| over bins with realization S/N > 3), ``eta_within_3sigma`` (C3),
    ``coverage_1sigma`` (C4, pooled) and per statistic.
    """
    truth = y_test.mean(1)
    r = y_test.shape[1]
    keep = (truth[:, 0] > 0).all(1) & np.isfinite(y_test).all(axis=(1, 2, 3))
    truth, y_test = truth[keep], y_test[keep]
    mean, var_ale, var_epi = (pred[k][keep] for k in ("mean", "var_ale", "var_epi"))
    out: dict[str, float] = {"n_test_draws": float(keep.sum())}
    rel = np.abs(mean[:, 0] - truth[:, 0]) / truth[:, 0]
    out["xi_mre"] = float(rel.mean())
    out["xi_mre_bin0"] = float(rel[:, 0].mean())
    out["xi_median_re"] = float(np.median(rel))
    out["xi_mre_per_bin"] = rel.mean(0).tolist()
    # omega: signal-to-noise of the realization mean.
    sem = (
        y_test[:, :, 1].std(1, ddof=1) / np.sqrt(r) if r > 1 else np.full(truth[:, 1].shape, np.inf)
    )
    snr = np.abs(truth[:, 1]) / np.maximum(sem, 1e-30)
    sel = snr > 3
    err_w = np.abs(mean[:, 1] - truth[:, 1])
    out["omega_rel"] = (
        float(err_w[sel].sum() / np.abs(truth[:, 1][sel]).sum()) if sel.any() else np.nan
    )
    out["omega_frac_snr3"] = float(sel.mean())
    out["omega_rel_all"] = float(err_w.sum() / np.abs(truth[:, 1]).sum())
    sig_tot = np.sqrt(var_ale + var_epi)
    out["eta_within_3sigma"] = float((np.abs(mean[:, 2] - truth[:, 2]) < 3 * sig_tot[:, 2]).mean())
    # Aleatoric calibration on single realizations.
    z = np.abs(y_test - mean[:, None]) / np.sqrt(var_ale)[:, None]
    cover = (z < 1).mean(axis=(0, 1, 3))
    out["coverage_1sigma"] = float((z < 1).mean())
    for i, name in enumerate(("xi", "omega", "eta")):
        out[f"coverage_1sigma_{name}"] = float(cover[i])
    return out


def outside_box(low: np.ndarray, high: np.ndarray, frac: float, n: int, seed: int) -> np.ndarray:
    """Points in the box enlarged by ``frac`` of its width on every side but outside the box,
    with the alignment strengths kept inside [-1, 1] (their physical range)."""
    rng = np.random.default_rng(seed)
    low, high = np.asarray(low, float), np.asarray(high, float)
    width = high - low
    lo2, hi2 = low - frac * width, high + frac * width
    lo2[:2], hi2[:2] = np.maximum(lo2[:2], -1.0), np.minimum(hi2[:2], 1.0)
    out = []
    while sum(len(o) for o in out) < n:
        cand = lo2 + (hi2 - lo2) * rng.uniform(0, 1, (4 * n, 7))
        # Outside = beyond the box by at least half the margin in some HOD coordinate.
        margin = np.maximum(low - cand, cand - high) / width
        out.append(cand[(margin[:, 2:] > 0.5 * frac).any(1)])
    return np.concatenate(out)[:n]


def epistemic_ratio(
    emu: Emulator, x_in: np.ndarray, low, high, frac: float, n: int, passes: int, seed: int
) -> dict[str, float]:
    """Mean MC-dropout std (scaled units) outside vs inside the training box (C5)."""
    x_out = outside_box(low, high, frac, n, seed)
    s_in = predict_numpy(emu, x_in[:n], passes)["std_epi_scaled"]
    s_out = predict_numpy(emu, x_out, passes)["std_epi_scaled"]
    return {
        "sigma_epi_in": float(s_in.mean()),
        "sigma_epi_out": float(s_out.mean()),
        "ratio": float(s_out.mean() / s_in.mean()),
    }


def time_emulator(emu: Emulator, theta: np.ndarray, repeats: int = 200) -> dict[str, float]:
    """Seconds per emulator forward pass: one parameter set at a time, and per set in a batch."""
    device = next(emu.parameters()).device
    emu.eval()
    one = torch.as_tensor(theta[:1], device=device)
    batch = torch.as_tensor(np.repeat(theta[:1], 1024, axis=0), device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    with torch.no_grad():
        for _ in range(10):
            emu.predict(one)
        sync()
        t0 = time.perf_counter()
        for _ in range(repeats):
            emu.predict(one)
        sync()
        t_one = (time.perf_counter() - t0) / repeats
        emu.predict(batch)
        sync()
        t0 = time.perf_counter()
        for _ in range(5):
            emu.predict(batch)
        sync()
        t_batch = (time.perf_counter() - t0) / 5 / len(batch)
    return {"single": t_one, "batched_per_set": t_batch}

"""Acceptance metrics on held-out parameter draws (emulator vs realization-averaged truth)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch

from .model import Emulator


def predict_numpy(
    emu: Emulator, theta: np.ndarray, passes: int, prediction: str = "deterministic"
) -> dict[str, np.ndarray]:
    """MC-dropout prediction of physical parameters as numpy arrays (see ``predict_mc``).

    With ``prediction="mc"``, ``mean`` and ``var_ale`` are the averages over the passes (the
    released code's prediction); with ``"deterministic"`` the pass with dropout off.
    """
    if prediction not in ("mc", "deterministic"):
        raise ValueError(f"prediction must be 'mc' or 'deterministic', got {prediction!r}")
    device = next(emu.parameters()).device
    out = emu.predict_mc(torch.as_tensor(theta, device=device), passes=passes)
    out = {k: v.double().cpu().numpy() for k, v in out.items()}
    if prediction == "mc":
        out["mean"], out["var_ale"] = out["mean_mc"], out["var_ale_mc"]
    return out


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
    # Noise floor: the expected |error| of the exact expectation against an R-realization mean,
    # sqrt(2/pi) sd / sqrt(R) (Gaussian), and the error of one realization against the mean of
    # the others (what a single mock would score).
    if r > 1:
        floor = np.sqrt(2 / np.pi) * y_test[:, :, 0].std(1, ddof=1) / np.sqrt(r) / truth[:, 0]
        out["xi_floor"] = float(floor.mean())
        out["xi_floor_bin0"] = float(floor[:, 0].mean())
        others = (y_test[:, 1:, 0].sum(1)) / (r - 1)
        single = np.abs(y_test[:, 0, 0] - others) / others
        out["xi_single_mre"] = float(single.mean())
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
    if r > 1 and sel.any():
        out["omega_floor"] = float(
            (np.sqrt(2 / np.pi) * sem[sel]).sum() / np.abs(truth[:, 1][sel]).sum()
        )
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
    """Mean MC-dropout std (scaled units) outside vs inside the training box (C5), pooled over
    the three statistics and per statistic."""
    x_out = outside_box(low, high, frac, n, seed)
    s_in = predict_numpy(emu, x_in[:n], passes)["std_epi_scaled"]
    s_out = predict_numpy(emu, x_out, passes)["std_epi_scaled"]
    out = {
        "sigma_epi_in": float(s_in.mean()),
        "sigma_epi_out": float(s_out.mean()),
        "ratio": float(s_out.mean() / s_in.mean()),
    }
    for i, name in enumerate(("xi", "omega", "eta")):
        out[f"ratio_{name}"] = float(s_out[:, i].mean() / s_in[:, i].mean())
    return out


class _Predict(torch.nn.Module):
    def __init__(self, emu: Emulator) -> None:
        super().__init__()
        self.emu = emu

    def forward(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.emu.predict(theta)


def inference_predictor(emu: Emulator, example: np.ndarray):
    """The eval-mode emulator (``predict``: means and variances) traced and frozen with
    ``torch.jit.optimize_for_inference``, which folds each BatchNorm into the preceding Linear or
    Conv1d; same outputs to float precision (tested)."""
    device = next(emu.parameters()).device
    emu.eval()
    x = torch.as_tensor(example, device=device)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # torch 2.13 marks TorchScript deprecated (in favour of torch.compile, which needs a
        # C++ toolchain at run time on CPU); it still works and is the cheaper option here.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        traced = torch.jit.trace(_Predict(emu).eval(), x, check_trace=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced))


def speed_comparison(
    emu: Emulator,
    time_one_mock,
    thetas: np.ndarray,
    batch: int = 1024,
    repeats: int = 50,
) -> dict[str, float]:
    """Seconds per parameter set of the emulator and of a mock, measured in alternation.

    For each parameter set in ``thetas``, ``time_one_mock(theta)`` (populate + xi, omega, eta)
    is timed, then the emulator (eval mode, ``torch.inference_mode``, BatchNorm folded) on one set
    ``repeats`` times and on a batch of ``batch`` sets; alternating keeps a changing load on a
    shared machine from favouring either side. Medians over the rounds.

    Returns
    -------
    dict with ``mock`` (s per mock), ``single`` (s per forward of one set), ``batched_per_set``
    (s per set in a batch) and their ratios ``speedup_single``, ``speedup_batched``.
    """
    device = next(emu.parameters()).device
    fast = inference_predictor(emu, thetas[:1])

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    t_mock, t_one, t_batch = [], [], []
    with torch.inference_mode():
        xb = torch.as_tensor(np.resize(thetas, (batch, thetas.shape[1])), device=device)
        for _ in range(3):  # warm-up (the first calls of a frozen module optimise it)
            fast(xb[:1])
        fast(xb)
        for theta in thetas:
            t_mock.append(time_one_mock(theta))
            one = torch.as_tensor(theta[None], device=device)
            sync()
            t0 = time.perf_counter()
            for _ in range(repeats):
                fast(one)
            sync()
            t_one.append((time.perf_counter() - t0) / repeats)
            t0 = time.perf_counter()
            fast(xb)
            sync()
            t_batch.append((time.perf_counter() - t0) / batch)
    out = {
        "mock": float(np.median(t_mock)),
        "single": float(np.median(t_one)),
        "batched_per_set": float(np.median(t_batch)),
    }
    out["speedup_single"] = out["mock"] / out["single"]
    out["speedup_batched"] = out["mock"] / out["batched_per_set"]
    return out

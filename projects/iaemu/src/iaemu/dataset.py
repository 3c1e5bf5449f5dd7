"""Data: the real IAEmu file layout, the paper's preprocessing, and the splits.

Real dataset layout (authors' Zenodo record; inferred from ``IAEmu_Dataset`` and the model
output, to be checked when the files are available): ``x_*.npy`` of shape (N, 7) with columns
[mu_cen, mu_sat, logMmin, sigma_logM, logM0, logM1, alpha] and ``y_*.npy`` of shape (N, 3, 20)
with rows (xi, omega, eta); file names such as ``x_train_10x.npy`` suggest one row per
realization. The generator's own layout (N, realizations, 3, 20) is accepted and flattened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

N_PARAMS, N_STATS, N_BINS = 7, 3, 20


class DataError(ValueError):
    """A data file is missing, unreadable or has the wrong shape or values."""


def _load_npy(path: str | os.PathLike, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file not found: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{what} file {path} is not a readable .npy array: {exc}") from exc
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{what} file {path} holds dtype {arr.dtype}, expected numbers")
    return arr.astype(np.float64)


def load_iaemu_arrays(
    x_path: str | os.PathLike, y_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Load an IAEmu ``x``/``y`` pair, one row per realization.

    Parameters
    ----------
    x_path : path
        ``.npy`` of shape (N, 7), or (N, R, 7) when repeated per realization.
    y_path : path
        ``.npy`` of shape (N, 3, 20) or (N, R, 3, 20) (generator layout, flattened here).

    Returns
    -------
    x : ndarray, shape (M, 7)
    y : ndarray, shape (M, 3, 20)

    Raises
    ------
    DataError
        Missing or corrupt file, wrong shapes, mismatched lengths or non-finite inputs.
    """
    x = _load_npy(x_path, "input (x)")
    y = _load_npy(y_path, "output (y)")
    if y.ndim == 4 and y.shape[2:] == (N_STATS, N_BINS):
        n, r = y.shape[:2]
        if x.shape == (n, N_PARAMS):
            x = np.repeat(x, r, axis=0)
        elif x.shape == (n, r, N_PARAMS):
            x = x.reshape(n * r, N_PARAMS)
        y = y.reshape(n * r, N_STATS, N_BINS)
    if x.ndim != 2 or x.shape[1] != N_PARAMS:
        raise DataError(f"{x_path}: expected x of shape (N, {N_PARAMS}), got {x.shape}")
    if y.ndim != 3 or y.shape[1:] != (N_STATS, N_BINS):
        raise DataError(f"{y_path}: expected y of shape (N, {N_STATS}, {N_BINS}), got {y.shape}")
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} rows but y has {len(y)} ({x_path}, {y_path})")
    if not np.isfinite(x).all():
        raise DataError(f"{x_path}: inputs contain NaN or infinity")
    return x, y


def clean_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop rows with a non-positive xi bin (log xi undefined) or any non-finite value.

    The paper drops xi < 0; xi = 0 (no pair in a bin) is dropped as well since log 0 = -inf.
    """
    keep = np.isfinite(y).all(axis=(1, 2)) & (y[:, 0, :] > 0).all(axis=1)
    return x[keep], y[keep]


class Preprocessor(torch.nn.Module):
    """The paper's scalers, as buffers so they travel in the emulator's state dict.

    Inputs: one standard scaler per parameter. Outputs: xi -> log xi, then ONE scalar standard
    scaler per statistic pooled over the 20 bins (the paper), or one per statistic and bin
    (``y_scaling="per_bin"``). All transforms are torch ops, differentiable for NUTS.

    Parameters
    ----------
    xi_variance : {"delta", "original"}
        Variance of xi from the variance of log xi: ``"delta"`` is the delta method
        (``xi^2 var_log``); ``"original"`` reproduces the released code (``xi var_log``).
    y_scaling : {"pooled", "per_bin"}
    """

    def __init__(self, xi_variance: str = "delta", y_scaling: str = "pooled") -> None:
        super().__init__()
        if xi_variance not in ("delta", "original"):
            raise ValueError(f"xi_variance must be 'delta' or 'original', got {xi_variance!r}")
        if y_scaling not in ("pooled", "per_bin"):
            raise ValueError(f"y_scaling must be 'pooled' or 'per_bin', got {y_scaling!r}")
        self.xi_variance, self.y_scaling = xi_variance, y_scaling
        self.register_buffer("x_mean", torch.zeros(N_PARAMS, dtype=torch.float64))
        self.register_buffer("x_scale", torch.ones(N_PARAMS, dtype=torch.float64))
        # (3, 20); with pooled scaling every bin of a statistic holds the same value.
        self.register_buffer("y_mean", torch.zeros(N_STATS, N_BINS, dtype=torch.float64))
        self.register_buffer("y_scale", torch.ones(N_STATS, N_BINS, dtype=torch.float64))

    def fit(self, x: np.ndarray, y: np.ndarray) -> Preprocessor:
        """Fit the scalers on raw inputs (M, 7) and raw outputs (M, 3, 20) with xi > 0."""
        if (y[:, 0] <= 0).any():
            raise DataError("xi must be positive before fitting the log transform; clean first")
        z = np.array(y, dtype=np.float64)
        z[:, 0] = np.log(z[:, 0])
        self.x_mean.copy_(torch.as_tensor(x.mean(0)))
        self.x_scale.copy_(torch.as_tensor(np.where(x.std(0) > 0, x.std(0), 1.0)))
        axes = (0, 2) if self.y_scaling == "pooled" else (0,)
        mean = np.broadcast_to(z.mean(axis=axes, keepdims=True)[0], (N_STATS, N_BINS))
        std = np.broadcast_to(z.std(axis=axes, keepdims=True)[0], (N_STATS, N_BINS))
        self.y_mean.copy_(torch.as_tensor(mean.copy()))
        self.y_scale.copy_(torch.as_tensor(np.where(std > 0, std, 1.0)))
        return self

    def transform_x(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.x_mean.to(x.dtype)) / self.x_scale.to(x.dtype)

    def transform_y(self, y: torch.Tensor) -> torch.Tensor:
        z = torch.cat([torch.log(y[:, :1]), y[:, 1:]], dim=1)
        return (z - self.y_mean.to(y.dtype)) / self.y_scale.to(y.dtype)

    def inverse_mean(self, s: torch.Tensor) -> torch.Tensor:
        """Scaled means (B, 3, 20) -> physical xi, omega, eta."""
        z = s * self.y_scale.to(s.dtype) + self.y_mean.to(s.dtype)
        return torch.cat([torch.exp(z[:, :1]), z[:, 1:]], dim=1)

    def inverse_variance(self, s_var: torch.Tensor, mean_phys: torch.Tensor) -> torch.Tensor:
        """Scaled variances (B, 3, 20) -> physical variances (xi via the chosen transform)."""
        v = s_var * self.y_scale.to(s_var.dtype) ** 2
        xi = mean_phys[:, :1]
        factor = xi**2 if self.xi_variance == "delta" else xi
        return torch.cat([v[:, :1] * factor, v[:, 1:]], dim=1)


@dataclass
class Splits:
    """Mocks split by parameter draw (the test draws are never seen in training)."""

    x_train: np.ndarray  # (n_train_draws, 7)
    y_train: np.ndarray  # (n_train_draws, R, 3, 20)
    x_test: np.ndarray
    y_test: np.ndarray


def split_draws(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> Splits:
    """Random split of the parameter draws into train and held-out test."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(x))
    n_test = max(1, int(round(test_fraction * len(x))))
    test, train = perm[:n_test], perm[n_test:]
    return Splits(x[train], y[train], x[test], y[test])


def rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 7), (N, R, 3, 20) -> one row per realization, cleaned."""
    r = y.shape[1]
    return clean_rows(np.repeat(x, r, axis=0), y.reshape(-1, N_STATS, N_BINS))

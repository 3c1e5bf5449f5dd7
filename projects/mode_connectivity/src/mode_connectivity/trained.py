"""Training the small networks, and the trained-network experiments (Fig. 3b-c and an extension).

* :func:`train_network`: full-batch gradient descent on the sum-of-squares loss, with state-dict
  checkpoints, resume, and a clear error on a non-finite loss.
* :func:`symmetry_vs_linear`: Fig. 3b-c. A trained two-layer leaky-ReLU network (hidden 32 >=
  batch 8) is moved along ``g_t = exp(t log g)`` with the data-dependent action of Prop. 6.1,
  which is exact on the training batch because ``sigma(g V X)`` has full column rank; the loss
  along that curve is compared with the loss along the straight line to ``g . w`` for group
  elements of increasing ``||log g||_F``.
* :func:`linear_pair_connection`: project extension. Two deep linear networks trained by gradient
  descent from two seeds; after odd permutations that put the second into the first's sign
  class, the polar symmetry curve between them is compared with linear interpolation.
* :func:`two_layer_connection`: beyond the paper. Two two-layer networks with hidden width >=
  batch on the same data are joined by the Prop. 6.1 curve to ``V_b`` followed by a straight
  segment in ``U`` alone, along which the outputs interpolate linearly (no loss barrier beyond
  the endpoints).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from symlab.groups import polar_path
from symlab.runs import Run, check_finite, restore_checkpoint

from .approx_action import approximate_action
from .config import NetworkTrainConfig
from .curves import polar_curve
from .linear import DTYPE, group_element_between, sign_classes
from .lmc import interpolate
from .networks import MLP, activation_fn, make_data, mlp_loss, save_network
from .permutations import align_sign_class


@dataclass
class TrainedNetwork:
    """A trained network and its data."""

    name: str
    seed: int
    model: MLP
    X: Tensor
    Y: Tensor
    step: int
    final_loss: float
    checkpoint: Path | None = None

    @property
    def weights(self) -> list[Tensor]:
        return self.model.weight_list()


def _optimizer(cfg: NetworkTrainConfig, model: MLP) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr)


def train_network(
    cfg: NetworkTrainConfig,
    seed: int,
    *,
    name: str = "network",
    checkpoint: str | Path | None = None,
    run: Run | None = None,
    stop_after: int | None = None,
    config_dict: dict | None = None,
) -> TrainedNetwork:
    """Train one MLP by full-batch gradient descent, resuming from ``checkpoint`` when it exists.

    Parameters
    ----------
    cfg : NetworkTrainConfig
        Architecture, data and optimisation settings.
    seed : int
        Initialisation seed (the data has its own ``cfg.data_seed``).
    name : str
        Label used in metrics and error messages.
    checkpoint : path, optional
        Checkpoint file: read on start when present (resume), written every
        ``cfg.checkpoint_every`` steps and at the end.
    run : symlab.runs.Run, optional
        Receives the training loss every ``cfg.log_every`` steps.
    stop_after : int, optional
        Stop (after writing the checkpoint) once this many steps are done, as an interruption
        would; used to test that resuming gives identical numbers.
    config_dict : dict, optional
        Plain config stored in the checkpoint.

    Raises
    ------
    symlab.runs.NonFiniteError
        When the loss becomes NaN or infinite (the last checkpoint is kept).
    """
    X, Y = make_data(
        cfg.widths, cfg.activation, cfg.batch, cfg.data, cfg.data_seed, cfg.negative_slope
    )
    model = MLP(cfg.widths, cfg.activation, cfg.negative_slope)
    model.reset_parameters(torch.Generator().manual_seed(seed), cfg.init_gain)
    optimizer = _optimizer(cfg, model)
    done = 0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.is_file():
        done = int(restore_checkpoint(checkpoint, model=model, optimizer=optimizer)["step"])

    def save(step: int) -> None:
        if checkpoint is not None:
            save_network(
                checkpoint, model, X, Y, step=step, optimizer=optimizer, config=config_dict
            )

    while done < cfg.steps and (stop_after is None or done < stop_after):
        optimizer.zero_grad()
        loss = (Y - model(X)).pow(2).sum()
        check_finite(loss, what=f"{name} (seed {seed}) training loss", step=done)
        loss.backward()
        optimizer.step()
        if run is not None and done % cfg.log_every == 0:
            run.log_metrics({f"{name}/seed{seed}/loss": loss.item()}, step=done)
        done += 1
        if done % cfg.checkpoint_every == 0:
            save(done)
    save(done)
    with torch.no_grad():
        final = float((Y - model(X)).pow(2).sum())
    check_finite(final, what=f"{name} (seed {seed}) final loss", step=done)
    return TrainedNetwork(name, seed, model, X, Y, done, final, checkpoint)


@dataclass
class CurveComparison:
    """Loss along a symmetry curve and along the straight line between the same endpoints."""

    log_norm: float
    t: np.ndarray
    curve_losses: np.ndarray
    linear_losses: np.ndarray
    endpoint_losses: tuple[float, float]
    min_hidden_singular_value: float = float("nan")  # exactness of Prop. 6.1 along the curve

    @property
    def curve_max(self) -> float:
        return float(self.curve_losses.max())

    @property
    def linear_max(self) -> float:
        return float(self.linear_losses.max())

    @property
    def linear_barrier(self) -> float:
        """``max_t L(linear) - max(L(w1), L(w2))``."""
        return self.linear_max - max(self.endpoint_losses)

    @property
    def curve_barrier(self) -> float:
        return self.curve_max - max(self.endpoint_losses)


def symmetry_vs_linear(
    net: TrainedNetwork,
    log_norms: Sequence[float],
    n_points: int,
    generator: torch.Generator,
) -> list[CurveComparison]:
    """Fig. 3b-c for one trained two-layer network.

    The group elements are ``g = exp(s A)`` for one random direction ``A`` (Gaussian, unit
    Frobenius norm) and ``s`` in ``log_norms``, so ``||log g||_F = s``; the curve is
    ``g_t = exp(t s A)`` acting by Prop. 6.1.
    """
    V, U = net.weights
    sigma = activation_fn(net.model.activation, net.model.negative_slope)
    h = V.shape[0]
    direction = torch.randn(h, h, generator=generator, dtype=DTYPE)
    direction = direction / torch.linalg.norm(direction)
    t = torch.linspace(0.0, 1.0, n_points, dtype=DTYPE)

    def loss(weights):
        return mlp_loss(weights, net.X, net.Y, net.model.activation, net.model.negative_slope)

    out = []
    for s in log_norms:
        g_t = torch.linalg.matrix_exp(t[:, None, None] * (s * direction))
        U_t, V_t = approximate_action(g_t, U, V, net.X, sigma)
        curve_losses = loss([V_t, U_t])
        end = [V_t[-1], U_t[-1]]
        linear_losses = loss(interpolate([V, U], end, t))
        hidden = sigma(V_t @ net.X)
        out.append(
            CurveComparison(
                log_norm=float(s),
                t=t.numpy(),
                curve_losses=curve_losses.numpy(),
                linear_losses=linear_losses.numpy(),
                endpoint_losses=(float(loss([V, U])), float(loss(end))),
                min_hidden_singular_value=float(torch.linalg.svdvals(hidden).min()),
            )
        )
    return out


@dataclass
class PairConnection:
    """A symmetry-induced connection between two trained networks."""

    comparison: CurveComparison
    permuted_layers: list[int] = field(default_factory=list)
    endpoint_mismatch: float = 0.0  # ||curve(1) - w_b|| / ||w_b||
    original_linear_max: float = float("nan")  # straight line to the unpermuted second network
    note: str = ""


def linear_pair_connection(
    net_a: TrainedNetwork, net_b: TrainedNetwork, n_points: int
) -> PairConnection:
    """Project extension: polar symmetry curve between two trained deep linear networks.

    ``g_1 = W'_1 W_1^-1, g_i = W'_i g_(i-1) W_i^-1`` maps ``w_a`` onto ``w_b`` in the first
    ``l-1`` layers; in the last layer the two differ only by the training residual, which is
    reported as the endpoint mismatch. If the sign classes differ, odd permutations of hidden
    units move ``w_b`` into ``w_a``'s class first (same function, Prop. 5.2).
    """
    wa, wb = net_a.weights, net_b.weights
    wb_aligned, permuted = align_sign_class(wb, sign_classes(wa))
    gs = group_element_between(wa, wb_aligned)
    t = torch.linspace(0.0, 1.0, n_points, dtype=DTYPE)
    curve = polar_curve(gs, wa, t)

    def loss(weights):
        return mlp_loss(weights, net_a.X, net_a.Y, "linear")

    end = [W[-1] for W in curve]
    mismatch = float(
        torch.sqrt(sum((e - w).pow(2).sum() for e, w in zip(end, wb_aligned)))
        / torch.sqrt(sum(w.pow(2).sum() for w in wb_aligned))
    )
    comparison = CurveComparison(
        # No single log g exists here (polar factors); record ||g||_F of the tuple instead.
        log_norm=float(torch.sqrt(sum(torch.linalg.matrix_norm(g).pow(2) for g in gs))),
        t=t.numpy(),
        curve_losses=loss(curve).numpy(),
        linear_losses=loss(interpolate(wa, wb_aligned, t)).numpy(),
        endpoint_losses=(float(loss(wa)), float(loss(wb_aligned))),
    )
    return PairConnection(
        comparison=comparison,
        permuted_layers=permuted,
        endpoint_mismatch=mismatch,
        original_linear_max=float(loss(interpolate(wa, wb, t)).max()),
        note="odd permutations applied to hidden layers " + str(permuted) if permuted else "",
    )


def two_layer_connection(
    weights_a: Sequence[Tensor],
    weights_b: Sequence[Tensor],
    X: Tensor,
    Y: Tensor,
    activation: str,
    negative_slope: float,
    n_points: int = 51,
) -> tuple[CurveComparison, dict]:
    """Beyond the paper: connect two two-layer networks with hidden width >= batch.

    1. ``g`` in GL+(h) with ``g V_a = V_b`` (the solution nearest the identity; when its
       determinant is negative, a reflection in a direction orthogonal to the columns of ``V_a``
       flips the sign without changing ``g V_a``, possible when ``h > rank V_a``).
    2. The polar path ``g_t`` acting by Prop. 6.1 keeps the outputs on ``X`` equal to those of
       ``a`` (exact because ``sigma(g_t V_a X)`` has full column rank) and ends at ``(U*, V_b)``.
    3. The straight segment from ``U*`` to ``U_b`` with ``V_b`` fixed moves the outputs linearly
       from ``f_a(X)`` to ``f_b(X)``, so its loss is a convex quadratic in ``t``, bounded by the
       endpoint losses.

    Returns
    -------
    comparison : CurveComparison
        Losses along the whole path (``2 n_points - 1`` points, ``t`` in ``[0, 2]``) and along
        the straight line from ``a`` to ``b``.
    info : dict
        ``det_flipped`` and ``min_hidden_singular_value`` along the curve.
    """
    V_a, U_a = weights_a
    V_b, U_b = weights_b
    sigma = activation_fn(activation, negative_slope)
    h = V_a.shape[0]
    identity = torch.eye(h, dtype=V_a.dtype)
    g = identity + (V_b - V_a) @ torch.linalg.pinv(V_a)
    flipped = False
    if float(torch.linalg.det(g)) < 0:
        # A unit vector orthogonal to col(V_a): I - 2 u u^T fixes V_a and has det -1.
        Q, _ = torch.linalg.qr(V_a, mode="complete")
        rank = int(torch.linalg.matrix_rank(V_a))
        if rank >= h:
            raise ValueError("V_a has full row rank: the sign of det g cannot be chosen")
        u = Q[:, rank]
        g = g @ (identity - 2 * torch.outer(u, u))
        flipped = True
    t = torch.linspace(0.0, 1.0, n_points, dtype=V_a.dtype)
    g_t = polar_path(g, t)
    U_t, V_t = approximate_action(g_t, U_a, V_a, X, sigma)
    U_star = U_t[-1]
    segment = interpolate([V_b, U_star], [V_b, U_b], t[1:])

    def loss(weights):
        return mlp_loss(weights, X, Y, activation, negative_slope)

    path_losses = torch.cat([loss([V_t, U_t]), loss(segment)])
    linear_losses = loss(interpolate(list(weights_a), list(weights_b), t))
    comparison = CurveComparison(
        log_norm=float("nan"),
        t=torch.cat([t, 1 + t[1:]]).numpy(),
        curve_losses=path_losses.numpy(),
        linear_losses=linear_losses.numpy(),
        endpoint_losses=(float(loss(list(weights_a))), float(loss(list(weights_b)))),
        min_hidden_singular_value=float(torch.linalg.svdvals(sigma(V_t @ X)).min()),
    )
    return comparison, {"det_flipped": flipped}

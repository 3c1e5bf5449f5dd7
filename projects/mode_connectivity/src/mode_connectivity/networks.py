"""Bias-free MLPs ``W_l sigma(... sigma(W_1 X))`` on column data, their data and checkpoints.

The networks have no biases, as in the paper's statements (Props. 4.1, 5.3, 6.1): a bias in the
last layer would break the closed-form midpoint loss of Prop. 5.3, and the symmetry groups (GL
for linear layers, positive rescaling for leaky-ReLU) are the paper's. Inputs are columns:
``X`` has shape ``(n_0, k)`` for ``k`` samples. Weights are float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from symlab.runs import load_checkpoint

from .linear import DTYPE, sample_data

ACTIVATIONS = ("linear", "leaky_relu", "sigmoid", "squared_relu")

# Degree k of positive homogeneity sigma(c z) = c^k sigma(z), c > 0 (None: not homogeneous).
HOMOGENEITY_DEGREE = {"linear": 1, "leaky_relu": 1, "squared_relu": 2, "sigmoid": None}


def activation_fn(name: str, negative_slope: float = 0.01):
    """The elementwise activation called ``name``."""
    if name == "linear":
        return lambda z: z
    if name == "leaky_relu":
        return lambda z: torch.nn.functional.leaky_relu(z, negative_slope)
    if name == "sigmoid":
        return torch.sigmoid
    if name == "squared_relu":
        return lambda z: torch.relu(z).pow(2)
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")


def mlp_forward(
    weights: Sequence[Tensor], X: Tensor, activation: str, negative_slope: float = 0.01
) -> Tensor:
    """``W_l sigma(... sigma(W_1 X))``, batched over leading dimensions of the weights."""
    sigma = activation_fn(activation, negative_slope)
    out = weights[0] @ X
    for W in weights[1:]:
        out = W @ sigma(out)
    return out


def mlp_loss(
    weights: Sequence[Tensor], X: Tensor, Y: Tensor, activation: str, negative_slope: float = 0.01
) -> Tensor:
    """Sum of squared errors ``||Y - f(X)||_F^2`` (per leading batch index)."""
    return (Y - mlp_forward(weights, X, activation, negative_slope)).pow(2).sum(dim=(-2, -1))


class MLP(nn.Module):
    """A bias-free MLP with weights ``W_i`` of shape ``(widths[i], widths[i-1])``.

    Parameters
    ----------
    widths : sequence of int
        ``[n_0, n_1, ..., n_l]`` (input, hidden..., output).
    activation : str
        One of :data:`ACTIVATIONS` (applied after every layer but the last).
    negative_slope : float
        Leaky-ReLU slope.
    """

    def __init__(
        self, widths: Sequence[int], activation: str = "leaky_relu", negative_slope: float = 0.01
    ) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"an MLP needs at least input and output widths, got {widths}")
        activation_fn(activation)  # fails early on a wrong name
        self.widths = [int(w) for w in widths]
        self.activation = activation
        self.negative_slope = float(negative_slope)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.zeros(n_out, n_in, dtype=DTYPE))
            for n_in, n_out in zip(self.widths[:-1], self.widths[1:])
        )

    def reset_parameters(self, generator: torch.Generator, gain: float = 1.0) -> None:
        """``N(0, gain^2 / fan_in)`` weights."""
        with torch.no_grad():
            for W in self.weights:
                W.copy_(
                    torch.randn(W.shape, generator=generator, dtype=DTYPE)
                    * gain
                    / math.sqrt(W.shape[1])
                )

    def weight_list(self) -> list[Tensor]:
        """Detached copies of the weights."""
        return [W.detach().clone() for W in self.weights]

    def forward(self, X: Tensor) -> Tensor:
        return mlp_forward(list(self.weights), X, self.activation, self.negative_slope)

    def spec(self) -> dict[str, Any]:
        """Plain-data architecture description (stored in checkpoints)."""
        return {
            "widths": list(self.widths),
            "activation": self.activation,
            "negative_slope": self.negative_slope,
        }


def make_data(
    widths: Sequence[int],
    activation: str,
    batch: int,
    kind: str,
    data_seed: int,
    negative_slope: float = 0.01,
) -> tuple[Tensor, Tensor]:
    """Training data for one network.

    ``kind = "gaussian_square"``: the paper's linear-network data, ``X, Y`` square ``N(0, 1)`` with
    ``cond(X) < 1e3`` (needs ``n_0 = n_l = batch``). ``kind = "teacher"``: ``X ~ N(0, 1)`` and
    ``Y`` the output of a random teacher MLP of the same architecture.
    """
    generator = torch.Generator().manual_seed(data_seed)
    if kind == "gaussian_square":
        if not widths[0] == widths[-1] == batch:
            raise ValueError(
                f"gaussian_square data needs input = output = batch, got widths {list(widths)} "
                f"and batch {batch}"
            )
        return sample_data(batch, generator)
    if kind == "teacher":
        X = torch.randn(widths[0], batch, generator=generator, dtype=DTYPE)
        teacher = MLP(widths, activation, negative_slope)
        teacher.reset_parameters(generator)
        with torch.no_grad():
            return X, teacher(X)
    raise ValueError(f"unknown data kind {kind!r}")


@dataclass
class LoadedNetwork:
    """A network restored from a checkpoint of this package, with its training data."""

    model: MLP
    X: Tensor
    Y: Tensor
    path: Path
    step: int

    @property
    def weights(self) -> list[Tensor]:
        return self.model.weight_list()

    def loss(self, weights: Sequence[Tensor] | None = None) -> Tensor:
        """Loss on the stored data (of ``weights`` when given, batched)."""
        w = self.weights if weights is None else weights
        return mlp_loss(w, self.X, self.Y, self.model.activation, self.model.negative_slope)


def load_network(path: str | Path) -> LoadedNetwork:
    """Load an MLP checkpoint written by ``mode_connectivity.train`` (or :func:`save_network`).

    Raises
    ------
    symlab.runs.CheckpointError
        When the file is missing or corrupt.
    ValueError
        When it is a symlab checkpoint but not of an MLP of this package.
    """
    from symlab.runs import restore_checkpoint

    state = load_checkpoint(path)
    extra = state.get("extra", {})
    if "network" not in extra or "X" not in extra:
        raise ValueError(
            f"{path} is not an MLP checkpoint of mode_connectivity (no network spec / data)"
        )
    spec = extra["network"]
    model = MLP(spec["widths"], spec["activation"], spec["negative_slope"])
    restore_checkpoint(state, model=model, restore_rng=False)
    return LoadedNetwork(model, extra["X"], extra["Y"], Path(path), int(state["step"]))


def save_network(
    path: str | Path,
    model: MLP,
    X: Tensor,
    Y: Tensor,
    *,
    step: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    config: dict[str, Any] | None = None,
) -> Path:
    """Write a state-dict checkpoint holding the model, its architecture and its data."""
    from symlab.runs import save_checkpoint

    return save_checkpoint(
        path,
        model=model,
        optimizer=optimizer,
        step=step,
        config=config,
        extra={"network": model.spec(), "X": X, "Y": Y},
    )

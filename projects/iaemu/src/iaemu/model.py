"""The IAEmu network, the emulator wrapper and MC-dropout prediction.

Encoder (every block Linear -> LeakyReLU -> BatchNorm1d -> Dropout): 7 -> 128 -> 128 -> 256
(+ Linear(128, 256) of the 128-block) -> 256 (+ the 256-block) -> 128. Three decoders (xi, omega,
eta): Linear 128 -> 700 reshaped to (7, 100), Conv1d 7 -> 14 -> 28 -> 28 (skip) -> 56 -> 112 ->
112 (skip), kernel 3, then Conv1d(112, 2, kernel 5, stride 5, padding 1) to length 20: channel 0
the mean, channel 1 ``softplus`` the variance (its bias starts at 1). ``width`` scales all hidden
sizes (1 = the paper).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from .dataset import Preprocessor


class Dropout(nn.Dropout):
    """``nn.Dropout`` (inverted dropout, rate ``p``) with the mask drawn by ``uniform_``.

    Same distribution as ``torch.nn.functional.dropout``; on CPU its ``bernoulli_`` mask took a
    fifth of a training step of this network, twice as long as a uniform draw and a compare.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return torch.zeros_like(x)
        keep = torch.empty_like(x).uniform_() >= self.p
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))


def _ch(c: int, width: float) -> int:
    return max(2, int(round(c * width)))


def _block(n_in: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, n_out), nn.LeakyReLU(), nn.BatchNorm1d(n_out), Dropout(dropout)
    )


class ResidualEncoder(nn.Module):
    """Residual MLP encoder of the 7 scaled parameters."""

    def __init__(self, n_in: int = 7, width: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        h, h2 = _ch(128, width), _ch(256, width)
        self.layer1 = _block(n_in, h, dropout)
        self.layer2 = _block(h, h, dropout)
        self.match = nn.Linear(h, h2)
        self.layer3 = _block(h, h2, dropout)
        self.layer4 = _block(h2, h2, dropout)
        self.final = _block(h2, h, dropout)
        self.out_dim = h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x2 = self.layer2(self.layer1(x))
        x3 = self.layer3(x2) + self.match(x2)
        x4 = self.layer4(x3) + x3
        return self.final(x4)

    def mc_dropouts(self) -> list[nn.Dropout]:
        """Every encoder dropout is active in MC-dropout passes."""
        return [m for m in self.modules() if isinstance(m, nn.Dropout)]


class ConvDecoder(nn.Module):
    """1D-conv decoder to 20 means and 20 variances of one statistic."""

    def __init__(
        self, n_in: int = 128, width: float = 1.0, dropout: float = 0.2, n_out: int = 20
    ) -> None:
        super().__init__()
        c = [_ch(v, width) for v in (7, 14, 28, 28, 56, 112, 112)]
        self.c0 = c[0]
        # The stride-5 head needs length 5 * n_out: 100 for 20 bins, as in the paper.
        self.length = 5 * n_out
        self.initial = nn.Linear(n_in, c[0] * self.length)
        self.initial_act = nn.LeakyReLU()
        self.initial_bn = nn.BatchNorm1d(c[0] * self.length)
        self.initial_dropout = Dropout(dropout)
        self.convs = nn.ModuleList(
            nn.Conv1d(c[i], c[i + 1], kernel_size=3, padding=1) for i in range(6)
        )
        self.bns = nn.ModuleList(nn.BatchNorm1d(c[i + 1]) for i in range(6))
        self.dropouts = nn.ModuleList(Dropout(dropout) for _ in range(6))
        self.head = nn.Conv1d(c[6], 2, kernel_size=5, stride=5, padding=1)
        with torch.no_grad():
            self.head.bias[1] = 1.0

    def _layer(self, i: int, h: torch.Tensor) -> torch.Tensor:
        return self.dropouts[i](self.bns[i](F.leaky_relu(self.convs[i](h))))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.initial_dropout(self.initial_bn(self.initial_act(self.initial(z))))
        h = h.view(h.shape[0], self.c0, self.length)
        h = self._layer(1, self._layer(0, h))
        h = self._layer(2, h) + h  # skip around the 28 -> 28 block
        h = self._layer(4, self._layer(3, h))
        h = self._layer(5, h) + h  # skip around the 112 -> 112 block
        out = self.head(h)
        return torch.cat([out[:, 0], F.softplus(out[:, 1])], dim=1)

    def mc_dropouts(self) -> list[nn.Dropout]:
        """Only the first four conv dropouts are active in MC-dropout passes (as released)."""
        return list(self.dropouts[:4])


class IAEmu(nn.Module):
    """Encoder and three decoders; output (B, 3, 40) = [20 means | 20 variances] per statistic,
    in the scaled space of :class:`iaemu.dataset.Preprocessor`."""

    def __init__(self, width: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        self.encoder = ResidualEncoder(7, width, dropout)
        self.decoders = nn.ModuleList(
            ConvDecoder(self.encoder.out_dim, width, dropout) for _ in range(3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)
        return torch.stack([d(z) for d in self.decoders], dim=1)

    def mc_dropouts(self) -> list[nn.Dropout]:
        out = self.encoder.mc_dropouts()
        for d in self.decoders:
            out += d.mc_dropouts()
        return out


@contextmanager
def mc_dropout_mode(model: IAEmu):
    """Eval mode (BatchNorm uses running statistics) with only the MC dropouts switched on;
    restores every module's previous mode on exit."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    for m in model.mc_dropouts():
        m.train(True)
    try:
        yield model
    finally:
        for m, mode in modes.items():
            m.training = mode


class Emulator(nn.Module):
    """Network plus preprocessing: physical parameters in, physical statistics out.

    Parameters
    ----------
    width, dropout : float
        Network size (1, 0.2 = paper).
    xi_variance : {"delta", "original"}
        See :class:`iaemu.dataset.Preprocessor`.
    """

    def __init__(
        self,
        width: float = 1.0,
        dropout: float = 0.2,
        xi_variance: str = "delta",
        y_scaling: str = "pooled",
    ):
        super().__init__()
        self.net = IAEmu(width, dropout)
        self.pre = Preprocessor(xi_variance, y_scaling)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        """Scaled network output (B, 3, 40) of physical parameters ``theta`` (B, 7)."""
        return self.net(self.pre.transform_x(theta).to(self._dtype()))

    def _dtype(self) -> torch.dtype:
        return next(self.net.parameters()).dtype

    def predict(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Physical means and aleatoric variances, each (B, 3, 20) (differentiable)."""
        out = self(theta)
        mean = self.pre.inverse_mean(out[..., :20])
        return mean, self.pre.inverse_variance(out[..., 20:], mean)

    @torch.no_grad()
    def predict_mc(
        self, theta: torch.Tensor, passes: int = 30, chunk: int = 4096
    ) -> dict[str, torch.Tensor]:
        """Deterministic prediction plus MC-dropout epistemic variance.

        Returns
        -------
        dict with ``mean``, ``var_ale`` (dropout off), ``var_epi`` (physical units, (B, 3, 20)),
        ``std_epi_scaled`` (epistemic std of the scaled mean channel, (B, 3, 20)), and
        ``mean_mc``, ``var_ale_mc`` (averages over the passes, as the released code predicts).
        """
        was_training = self.training
        self.eval()
        mean, var_ale = self.predict(theta)
        xs = self.pre.transform_x(theta).to(self._dtype())
        with mc_dropout_mode(self.net):
            # All passes in batched forwards: rows are independent (BatchNorm in eval mode).
            rep = xs.repeat(passes, 1)
            outs = torch.cat([self.net(rep[i : i + chunk]) for i in range(0, len(rep), chunk)])
        outs = outs.view(passes, len(theta), 3, 40)
        phys = torch.stack([self.pre.inverse_mean(o[..., :20]) for o in outs])
        self.train(was_training)
        avg = outs.mean(0).to(mean.dtype)
        mean_mc = self.pre.inverse_mean(avg[..., :20])
        return {
            "mean": mean,
            "var_ale": var_ale,
            "var_epi": phys.var(0),
            "std_epi_scaled": outs[..., :20].std(0),
            # The released code's prediction with passes > 1: the pass average of the scaled
            # outputs, transformed back.
            "mean_mc": mean_mc,
            "var_ale_mc": self.pre.inverse_variance(avg[..., 20:], mean_mc),
        }

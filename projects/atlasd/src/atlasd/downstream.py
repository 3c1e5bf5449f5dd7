"""Downstream gauge-equivariant CNN built from the discovered group.

``GaugeConv`` is a 5x5 convolution applied on the whole map. For ``group="so2"`` (what a
discovered so(2) generator selects) its kernel is averaged over the four 90-degree rotations, so
the layer, and any stack of them with pointwise nonlinearities, is exactly C4-equivariant under
``rot90``; for ``group="trivial"`` it is a plain convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def c4_average(kernel: Tensor) -> Tensor:
    """Average a ``(..., k, k)`` kernel over its four 90-degree rotations."""
    return sum(torch.rot90(kernel, k=i, dims=(-2, -1)) for i in range(4)) / 4


class GaugeConv(nn.Module):
    """5x5 convolution whose kernel is tied to the discovered group."""

    GROUPS = ("trivial", "so2")

    def __init__(self, c_in: int, c_out: int, group: str = "trivial", dilation: int = 1) -> None:
        super().__init__()
        if group not in self.GROUPS:
            raise ValueError(f"unknown group {group!r}; use one of {self.GROUPS}")
        self.group, self.dilation = group, dilation
        conv = nn.Conv2d(c_in, c_out, 5)
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.bias = nn.Parameter(conv.bias.detach().clone())

    def kernel(self) -> Tensor:
        return c4_average(self.weight) if self.group == "so2" else self.weight

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            x, self.kernel(), self.bias, padding=2 * self.dilation, dilation=self.dilation
        )

    def effective_params(self) -> int:
        # a C4-symmetric 5x5 kernel has 7 free entries (orbits of the 25 taps under C4)
        per = 7 if self.group == "so2" else 25
        return self.weight.shape[0] * self.weight.shape[1] * per + self.bias.numel()


class GaugeCNN(nn.Module):
    """Stack of ``GaugeConv`` layers (LeakyReLU, BatchNorm between), pixelwise class logits."""

    def __init__(self, layers: list[tuple[int, int, int]], group: str = "trivial") -> None:
        super().__init__()
        mods: list[nn.Module] = []
        for i, (ci, co, dil) in enumerate(layers):
            mods.append(GaugeConv(ci, co, group, dil))
            if i < len(layers) - 1:
                mods += [nn.LeakyReLU(), nn.BatchNorm2d(co)]
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def effective_params(self) -> int:
        return sum(
            m.effective_params()
            if isinstance(m, GaugeConv)
            else sum(p.numel() for p in m.parameters())
            for m in self.net
        )


def default_layers(width: int, n_classes: int, depth: int) -> list[tuple[int, int, int]]:
    """``depth`` layers of ``width`` channels with dilations 1, 1, 2, 2, ... then 1."""
    dil = [1 if (i < 2 or i >= depth - 2) else 2 for i in range(depth)]
    chans = [1] + [width] * (depth - 1) + [n_classes]
    return [(chans[i], chans[i + 1], dil[i]) for i in range(depth)]


def group_from_algebra(L: Tensor, threshold: float = 0.9) -> str:
    """The kernel constraint a discovered 2x2 algebra asks for: ``"so2"`` when its single
    generator has ``|cos| >= threshold`` with the rotation generator, else ``"trivial"``."""
    from .lie import frobenius_cosine

    J = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    if L.shape[0] >= 1 and abs(frobenius_cosine(L[0], J)) >= threshold:
        return "so2"
    return "trivial"


def foreground_accuracy(logits: Tensor, seg: Tensor, background: int) -> float:
    """Pixel accuracy on the digit (non-background) pixels."""
    fg = seg != background
    return float((logits.argmax(dim=1)[fg] == seg[fg]).float().mean())

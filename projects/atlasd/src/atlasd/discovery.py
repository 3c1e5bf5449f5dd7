"""AtlasD training loops: local predictors, Lie algebra discovery, choosing k, coset discovery.

Both variants share one equivariance loss. The *local* variant acts on charts ``(B, C, F, n, n)``
by warping every chart about its centre (one group element per sample and chart); the *global*
variant acts on a feature axis, ``x (B, n, d) -> x g^T`` (one element per sample).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from symlab.runs import check_finite

from .atlas import crop_centre, warp_charts
from .lie import CosetBank, LieBasis, regularizer


@dataclass
class Action:
    """How group elements act on inputs and outputs, and how outputs are compared.

    Parameters
    ----------
    kind : ``"local"`` (warp charts, one element per sample and chart) or ``"global"`` (act on
        the last feature axis of the input, output invariant).
    loss : ``"l1"`` or ``"ce"`` (cross entropy against the softmax of the unwarped prediction).
    out_rad : for ``local``, radius of the central window compared after warping.
    """

    kind: str = "local"
    loss: str = "l1"
    out_rad: int | None = None
    invariant_output: bool = field(default=False)

    def group_shape(self, x: Tensor) -> tuple:
        return tuple(x.shape[:2]) if self.kind == "local" else tuple(x.shape[:1])

    def act_in(self, x: Tensor, g: Tensor, g_inv: Tensor) -> Tensor:
        if self.kind == "local":
            return warp_charts(x, g_inv)
        return torch.einsum("bij,bnj->bni", g.to(x.dtype), x)

    def act_out(self, y: Tensor, g: Tensor, g_inv: Tensor) -> Tensor:
        if self.kind == "local" and not self.invariant_output:
            return warp_charts(y, g_inv)
        return y

    def crop(self, y: Tensor) -> Tensor:
        return crop_centre(y, self.out_rad) if (self.kind == "local" and self.out_rad) else y

    def per_sample_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Loss per leading index (sample) between a prediction and its (warped) target."""
        if self.loss == "l1":
            return (pred - target).abs().flatten(1).mean(dim=1)
        if self.loss == "ce":
            # class axis: -1 for global logits (B, n_cls); -3 for local fields (B, C, n_cls, h, w)
            dim = -1 if pred.dim() == 2 else -3
            logp = F.log_softmax(pred, dim=dim)
            ce = -(target * logp).sum(dim=dim)
            return ce.reshape(ce.shape[0], -1).mean(dim=1)
        raise ValueError(f"unknown loss {self.loss!r}; use 'l1' or 'ce'")

    @torch.no_grad()
    def reference(self, predictor: nn.Module, x: Tensor) -> Tensor:
        y = predictor(x)
        if self.loss == "ce":
            y = torch.softmax(y, dim=-1 if y.dim() == 2 else -3)
        return y


def equivariance_loss(
    predictor: nn.Module,
    x: Tensor,
    g: Tensor,
    g_inv: Tensor,
    action: Action,
    y_ref: Tensor | None = None,
) -> Tensor:
    """Per-sample ``loss(Phi(g.x), g.stopgrad(Phi(x)))`` on the compared window.

    ``y_ref`` is ``action.reference(predictor, x)`` when it is already known (a frozen predictor
    gives the same reference every time, so the discovery loops compute it once per sample).
    """
    y = action.reference(predictor, x) if y_ref is None else y_ref
    y_g = action.act_out(y, g, g_inv)
    y_pred = predictor(action.act_in(x, g, g_inv))
    return action.per_sample_loss(action.crop(y_pred), action.crop(y_g))


def _batches(n: int, batch: int, gen: torch.Generator, shuffle: bool = True):
    idx = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    for s in range(0, n, batch):
        yield idx[s : s + batch]


def cosine_schedule(opt: torch.optim.Optimizer, total_steps: int, floor: float = 0.05):
    """Cosine decay of the learning rate from its initial value to ``floor`` times it.

    Short cpu-scale runs reach a much better predictor with a decayed rate than with the constant
    rate of the reference (which trains for ~19k steps).
    """
    total = max(1, total_steps)

    def factor(i: int) -> float:
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(i, total) / total))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, X: Tensor, batch: int) -> None:
    """Recompute BatchNorm running statistics as exact averages over ``X`` (train-mode passes).

    The running averages kept during training lag behind the weights; a final pass makes the
    eval-mode network match the trained one.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for s in range(0, len(X), batch):
        model(X[s : s + batch])
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def train_predictor(
    predictor: nn.Module,
    X: Tensor,
    Y: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    *,
    epochs: int,
    batch: int,
    lr: float = 1e-3,
    gen: torch.Generator,
    desc: str = "predictor",
    optimizer: torch.optim.Optimizer | None = None,
    cosine: bool = False,
) -> list[float]:
    """Supervised training of the (per-chart) predictor; returns the mean loss per epoch.

    With ``cosine`` the learning rate decays over all steps (``cosine_schedule``).
    """
    opt = optimizer or torch.optim.Adam(predictor.parameters(), lr=lr)
    sched = cosine_schedule(opt, epochs * math.ceil(len(X) / batch)) if cosine else None
    predictor.train()
    hist = []
    for ep in tqdm(range(epochs), desc=desc, leave=False):
        tot, nb = 0.0, 0
        for idx in _batches(len(X), batch, gen):
            loss = loss_fn(predictor(X[idx]), Y[idx])
            check_finite(loss, what=f"{desc} loss", step=ep)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            tot, nb = tot + float(loss.detach()), nb + 1
        hist.append(tot / max(nb, 1))
    predictor.eval()
    return hist


def _batchnorms(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _frozen(predictor: nn.Module, batch_stats: bool = False) -> bool:
    """Freeze the predictor's weights; returns whether its outputs depend on the batch.

    With ``batch_stats`` its BatchNorm layers normalise with the statistics of each batch they
    see, as the reference uses its predictors during discovery (it never switches them to eval
    mode), while their running averages stay as trained (momentum 0). Otherwise the predictor
    runs in eval mode.
    """
    for p in predictor.parameters():
        p.requires_grad_(False)
    bns = _batchnorms(predictor)
    if batch_stats and bns:
        predictor.train()
        for m in bns:
            if m.momentum != 0.0:
                m._trained_momentum = m.momentum
            m.momentum = 0.0
        return True
    predictor.eval()
    return False


def _release(predictor: nn.Module) -> None:
    """Back to eval mode with the default BatchNorm momentum after a discovery loop."""
    for m in _batchnorms(predictor):
        m.momentum = getattr(m, "_trained_momentum", m.momentum)
    predictor.eval()


@torch.no_grad()
def reference_outputs(predictor: nn.Module, X: Tensor, action: Action, batch: int) -> Tensor:
    """``action.reference(predictor, x)`` for all of ``X`` (frozen, eval-mode predictor)."""
    _frozen(predictor)
    chunks = [action.reference(predictor, X[s : s + batch]) for s in range(0, len(X), batch)]
    return torch.cat(chunks)


def train_basis(
    basis: LieBasis,
    predictor: nn.Module,
    X: Tensor,
    action: Action,
    *,
    epochs: int,
    batch: int,
    lr: float = 5e-4,
    r1: float = 0.05,
    r2: float = 1.0,
    r3: float = 0.35,
    sparse: bool = False,
    gen: torch.Generator,
    desc: str = "basis",
    batch_stats: bool = False,
) -> list[float]:
    """Learn the generators to which the frozen predictor is equivariant (plus the regulariser).

    With an eval-mode predictor (``batch_stats=False`` or no BatchNorm) the reference outputs
    ``Phi(x)`` are computed once for all of ``X`` rather than at every step.
    """
    uses_batch = _frozen(predictor, batch_stats)
    Y_ref = None if uses_batch else reference_outputs(predictor, X, action, batch)
    opt = torch.optim.Adam(basis.parameters(), lr=lr)
    hist = []
    for ep in tqdm(range(epochs), desc=desc, leave=False):
        tot, nb = 0.0, 0
        for idx in _batches(len(X), batch, gen):
            x = X[idx]
            g, g_inv = basis.sample(action.group_shape(x), generator=gen)
            y_ref = None if Y_ref is None else Y_ref[idx]
            loss = equivariance_loss(predictor, x, g, g_inv, action, y_ref).mean()
            loss = loss + regularizer(basis.L, r1, r2, r3, sparse)
            check_finite(loss, what=f"{desc} loss", step=ep)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot, nb = tot + float(loss.detach()), nb + 1
        hist.append(tot / max(nb, 1))
    _release(predictor)
    return hist


@torch.no_grad()
def mean_equivariance_loss(
    predictor: nn.Module,
    X: Tensor,
    L: Tensor,
    action: Action,
    *,
    batch: int,
    gen: torch.Generator,
    samples: int = 1,
    batch_stats: bool = False,
) -> float:
    """Average equivariance loss of ``predictor`` on ``X`` for ``g = exp(sum_i c_i L_i)``."""
    _frozen(predictor, batch_stats)
    L = L.to(X.device, X.dtype)
    tot, n = 0.0, 0
    for _ in range(samples):
        for idx in _batches(len(X), batch, gen, shuffle=False):
            x = X[idx]
            c = torch.randn(*action.group_shape(x), L.shape[0], generator=gen).to(X)
            A = torch.einsum("...k,kij->...ij", c, L)
            g, g_inv = torch.linalg.matrix_exp(A), torch.linalg.matrix_exp(-A)
            tot += float(equivariance_loss(predictor, x, g, g_inv, action).sum())
            n += len(idx)
    _release(predictor)
    return tot / n


def generator_norms(L: Tensor) -> Tensor:
    """Frobenius norm of each generator."""
    return L.detach().flatten(1).norm(dim=1)


def choose_k(
    fit: Callable[[int], Tensor], ks: list[int], collapse: float = 0.5
) -> tuple[int, dict[int, Tensor]]:
    """Increase ``k`` until the weakest generator collapses.

    ``fit(k)`` returns learned generators ``(k, d, d)``. Going from ``k_prev`` to ``k``, the weakest
    generator has collapsed when its norm falls below ``collapse`` times the weakest norm found
    with ``k_prev`` (an extra generator that finds no further symmetry is pushed towards zero by
    the equivariance loss; a genuine one keeps the norm of the others). The chosen ``k`` is the
    last one before the collapse, or the largest tried if none collapses.
    """
    found: dict[int, Tensor] = {}
    chosen = ks[-1]
    prev_min = None
    for i, k in enumerate(ks):
        found[k] = fit(k)
        weakest = float(generator_norms(found[k]).min())
        if prev_min is not None and weakest < collapse * prev_min:
            chosen = ks[i - 1]
            break
        prev_min = weakest
    return chosen, found


def discover_cosets(
    predictor: nn.Module,
    X: Tensor,
    action: Action,
    *,
    K: int,
    dim: int,
    steps: int,
    batch: int,
    lr: float,
    gen: torch.Generator,
    desc: str = "cosets",
    batch_stats: bool = False,
) -> tuple[Tensor, Tensor]:
    """Optimise ``K`` candidates ``C_j`` by their own equivariance losses (all in one batch).

    The reference output ``Phi(x)`` of a batch is computed once and shared by the ``K``
    candidates. Returns the normalised candidates ``(K, d, d)`` and their average loss over the
    final pass on the whole of ``X``.
    """
    bank = CosetBank(K, dim, generator=gen).to(X.device)
    opt = torch.optim.Adam(bank.parameters(), lr=lr)
    uses_batch = _frozen(predictor, batch_stats)
    Y_ref = None if uses_batch else reference_outputs(predictor, X, action, batch)

    def losses(idx: Tensor) -> Tensor:
        x = X[idx]
        C = bank().to(x.dtype)
        C_inv = torch.linalg.inv(C)
        B = x.shape[0]

        def tile(t: Tensor) -> Tensor:
            return t.unsqueeze(0).expand(K, *t.shape).reshape(K * B, *t.shape[1:])

        y = action.reference(predictor, x) if Y_ref is None else Y_ref[idx]
        xk, yk = tile(x), tile(y)
        shape = action.group_shape(xk)
        # one candidate per block of B samples, broadcast over charts
        g = C.repeat_interleave(B, dim=0).reshape(K * B, *([1] * (len(shape) - 1)), dim, dim)
        gi = C_inv.repeat_interleave(B, dim=0).reshape(g.shape)
        g, gi = g.expand(*shape, dim, dim), gi.expand(*shape, dim, dim)
        return equivariance_loss(predictor, xk, g, gi, action, yk).reshape(K, B).mean(dim=1)

    n_steps = 0
    pbar = tqdm(total=steps, desc=desc, leave=False)
    while n_steps < steps:
        for idx in _batches(len(X), batch, gen):
            loss = losses(idx).sum()
            check_finite(loss, what=f"{desc} loss", step=n_steps)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n_steps += 1
            pbar.update(1)
            if n_steps >= steps:
                break
    pbar.close()
    with torch.no_grad():
        tot, n = torch.zeros(K), 0
        for idx in _batches(len(X), batch, gen, shuffle=False):
            tot += losses(idx).cpu() * len(idx)
            n += len(idx)
    _release(predictor)
    return bank().detach().cpu(), tot / n

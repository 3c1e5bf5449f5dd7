"""Side-by-side speed of one DHN training step (a benchmark, not a test):
``python -m dhn.benchmark [--batch 32] [--steps 3] [--backend jacrev autograd]``.

Reference configuration (``configs/ar/sinpend_kernel2_stride1.py`` of the official code): single
pendulum, 129 coarse states, blocks b = 2, s = 1 (all 127 block pairs of every trajectory), width
128, 2 layers, 4 heads, FFN 512, codes of size 128, batch 32, Adam lr 1e-4 (weight decay 1e-4),
loss ``L_eom + 0.1 L_denoise``.

Two implementations of that step are timed in the same process, interleaved step by step, on
the same random data:

* ``reference``: a re-implementation (written from reading the official code, nothing copied) of
  the official training step: PyTorch ``nn.TransformerEncoderLayer`` (sequence-first, unbatched
  ``[1 + 2b, d]`` tokens per sample) under ``sdpa_kernel(MATH)``, noise level embedding indexed
  by ``int(10 a)`` of coordinate 0, a linear output on every token read at the ``z`` token, block
  gathering by index, four separate ``vmap(jacrev(H))`` calls per step (``H+`` and ``H-``, clean
  and noised), the ``ar`` masks, and pasting with all-zero output masks (``use_out_mask=False``).
* ``ours``: :func:`dhn.experiment.model_loss` with :class:`dhn.model.DHN` at the same
  configuration (``windows = 0``: all block pairs), for each requested gradient backend.

Prints the median seconds per step and the ratio ``ours / reference`` (< 1: ours is faster).
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .experiment import Config, TrainConfig, model_loss
from .model import DHN, ModelConfig

REF = {"z_dim": 128, "hidden": 128, "layers": 2, "heads": 4, "block": 2, "stride": 1}


# ---------------------------------------------------------------- reference re-implementation


class ReferenceH(nn.Module):
    """The official ``simple_transformer`` structure: one unbatched sample ``q, p [b, D]``,
    ``z [z_dim]`` -> ``H [1]``."""

    def __init__(self, dim: int, z_dim: int, hidden: int, heads: int, layers: int, block: int):
        super().__init__()
        self.q_embedding = nn.Linear(dim, hidden)
        self.p_embedding = nn.Linear(dim, hidden)
        self.z_embedding = nn.Linear(z_dim, hidden)
        self.positional_embedding = nn.Parameter(torch.zeros(2 * block + 1, hidden))
        self.noise_scale_embedding = nn.Embedding(11, hidden)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout=0.0)
            for _ in range(layers)
        )
        self.fc_out = nn.Linear(hidden, 1)

    def forward(self, q, p, q_mask, p_mask, z):
        x = torch.cat([self.z_embedding(z)[None], self.q_embedding(q), self.p_embedding(p)], 0)
        x = x + self.positional_embedding
        level = torch.cat([torch.ones(1), q_mask[..., 0], p_mask[..., 0]], 0)
        x = x + self.noise_scale_embedding((level * 10).to(torch.int64))
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
            for layer in self.layers:
                x = layer(x)
        return self.fc_out(x)[0]


class ReferenceDHN(nn.Module):
    """Codebook plus one stage of ``H+`` / ``H-`` as in the official ``HamiltonianNet``."""

    def __init__(self, n_codes: int, dim: int = 1, **kw) -> None:
        super().__init__()
        c = {**REF, **kw}
        self.block, self.stride = c["block"], c["stride"]
        args = (dim, c["z_dim"], c["hidden"], c["heads"], c["layers"], c["block"])
        self.codebook = nn.Embedding(n_codes, c["z_dim"])
        self.h_plus = ReferenceH(*args)
        self.h_minus = ReferenceH(*args)

    def _plus(self, q, p, qm, pm, z, q_base, p_base):
        f = torch.vmap(torch.func.jacrev(lambda *a: self.h_plus(*a)[0], argnums=(0, 1)))
        d1, d2 = f(q, p, qm, pm, z)
        return q_base + d2, p_base + d1

    def _minus(self, q_next, p, qm_next, pm, z, q_base, p_base):
        # the reference differentiates H-(q_next, p) with p as the first argument
        f = torch.vmap(
            torch.func.jacrev(
                lambda p_, q_, pm_, qm_, z_: self.h_minus(q_, p_, qm_, pm_, z_)[0], argnums=(0, 1)
            )
        )
        d1, d2 = f(p, q_next, pm, qm_next, z)
        return q_base - d1, p_base - d2

    @staticmethod
    def _noise(x, mask):
        a = torch.rand_like(mask)
        mask = mask + a * (1 - mask)
        return x * mask + torch.randn_like(x) * (1 - mask), mask

    def loss(self, q_raw, p_raw, idx):
        q = q_raw * 2 / torch.pi  # the reference normalises q and p on every batch
        p = p_raw / p_raw.abs().amax(dim=(1, 2), keepdim=True)
        z = self.codebook(idx)
        b, s = self.block, self.stride
        bsz, t, dim = q.shape
        gather = torch.arange(b)[None] + torch.arange(t - b + 1)[:, None]
        qb, pb = q[:, gather], p[:, gather]
        n = qb.shape[1]
        q_src, p_src, q_tgt, p_tgt = qb[:, : n - s], pb[:, : n - s], qb[:, s:], pb[:, s:]
        flat = [x.reshape(-1, b, dim) for x in (q_src, p_src, q_tgt, p_tgt)]
        q_src, p_src, q_tgt, p_tgt = flat
        zz = z[:, None].repeat(1, n - s, 1).reshape(-1, z.shape[-1])
        one = torch.ones_like(q_src)
        qt, ps = self._plus(q_src, p_tgt, one, one, zz, q_src, p_tgt)
        qs, pt = self._minus(q_tgt, p_src, one, one, zz, q_tgt, p_src)
        unknown = torch.ones_like(q_src)
        unknown[:, b - s :] = 0  # the ``ar`` masks of q_tgt and p_tgt
        qsn, qsm = self._noise(q_src, one.clone())
        ptn, ptm = self._noise(p_tgt, unknown.clone())
        qt_d, ps_d = self._plus(qsn, ptn, qsm, ptm, zz, qsn, ptn)
        qtn, qtm = self._noise(q_tgt, unknown.clone())
        psn, psm = self._noise(p_src, one.clone())
        qs_d, pt_d = self._minus(qtn, psn, qtm, psm, zz, qtn, psn)
        zero = torch.zeros_like(q_src)  # use_out_mask = False: nothing is pasted
        qt_d, ps_d = q_tgt * zero + qt_d * (1 - zero), p_src * zero + ps_d * (1 - zero)
        qs_d, pt_d = q_src * zero + qs_d * (1 - zero), p_tgt * zero + pt_d * (1 - zero)
        eom = (
            F.mse_loss(qt, q_tgt)
            + F.mse_loss(ps, p_src)
            + F.mse_loss(qs, q_src)
            + F.mse_loss(pt, p_tgt)
        )
        den = (
            F.mse_loss(qt_d, q_tgt)
            + F.mse_loss(ps_d, p_src)
            + F.mse_loss(qs_d, q_src)
            + F.mse_loss(pt_d, p_tgt)
        )
        return eom + 0.1 * den


def copy_reference_weights(ref: ReferenceH, ours) -> None:
    """Load the weights of a :class:`ReferenceH` into our ``HamiltonianTransformer`` (same
    layout: fused ``qkv`` = ``in_proj``), so the two can be checked to compute the same ``H``."""
    with torch.no_grad():
        ours.q_emb.load_state_dict(ref.q_embedding.state_dict())
        ours.p_emb.load_state_dict(ref.p_embedding.state_dict())
        ours.z_emb.load_state_dict(ref.z_embedding.state_dict())
        ours.pos.copy_(ref.positional_embedding)
        ours.level_emb.load_state_dict(ref.noise_scale_embedding.state_dict())
        ours.head.load_state_dict(ref.fc_out.state_dict())
        for mine, theirs in zip(ours.layers, ref.layers):
            mine.qkv.weight.copy_(theirs.self_attn.in_proj_weight)
            mine.qkv.bias.copy_(theirs.self_attn.in_proj_bias)
            mine.out.load_state_dict(theirs.self_attn.out_proj.state_dict())
            mine.ff1.load_state_dict(theirs.linear1.state_dict())
            mine.ff2.load_state_dict(theirs.linear2.state_dict())
            mine.norm1.load_state_dict(theirs.norm1.state_dict())
            mine.norm2.load_state_dict(theirs.norm2.state_dict())


# ---------------------------------------------------------------- timing


def _ours(backend: str, batch: int, hidden: int):
    net = ModelConfig(dim=1, **{**REF, "hidden": hidden}, grad_backend=backend)
    cfg = Config(
        task="forward", model="dhn", net=net, train=TrainConfig(batch=batch, lr=1e-4, windows=0)
    )
    model = DHN(net, batch)
    return model, partial(model_loss, cfg, model)


def _step(model, loss_fn, opt, q, p, idx) -> float:
    t0 = time.perf_counter()
    loss = loss_fn(q, p, idx)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def compare(
    backends=("jacrev", "autograd"),
    batch: int = 32,
    steps: int = 3,
    n_states: int = 129,
    hidden: int = 128,
    seed: int = 0,
    reference: bool = True,
) -> dict[str, float]:
    """Median seconds per optimiser step for ``reference`` and ``ours-<backend>``, all timed in
    one process and interleaved step by step (a first step of each warms up)."""
    torch.manual_seed(seed)
    q_raw = torch.randn(batch, n_states, 1)
    p_raw = torch.randn(batch, n_states, 1)
    q, p = q_raw * 2 / torch.pi, p_raw / p_raw.abs().amax(dim=(1, 2), keepdim=True)
    idx = torch.arange(batch)
    runs = {}
    if reference:
        ref = ReferenceDHN(batch, hidden=hidden)
        runs["reference"] = (ref, ref.loss, (q_raw, p_raw))
    for backend in backends:
        model, fn = _ours(backend, batch, hidden)
        runs[f"ours-{backend}"] = (model, fn, (q, p))
    opts = {
        k: torch.optim.Adam(m.parameters(), lr=1e-4, weight_decay=1e-4)
        for k, (m, _, _) in runs.items()
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(steps + 1):
        for k, (model, fn, (a, b)) in runs.items():
            times[k].append(_step(model, fn, opts[k], a, b, idx))
    return {k: sorted(v[1:])[len(v[1:]) // 2] for k, v in times.items()}


def time_step(backend: str, batch: int = 32, steps: int = 3, n_states: int = 129, hidden=128):
    """Median seconds per step of our DHN alone at the reference configuration."""
    return compare((backend,), batch, steps, n_states, hidden, reference=False)[f"ours-{backend}"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--backend", nargs="+", default=["jacrev", "autograd"])
    args = ap.parse_args(argv)
    from .experiment import limit_cpu_threads

    limit_cpu_threads()  # the same thread count for both implementations, as in training
    print(f"torch threads: {torch.get_num_threads()}, batch {args.batch} trajectories")
    res = compare(args.backend, args.batch, args.steps)
    for k, s in res.items():
        print(f"{k:>16}: {s:8.3f} s/step   ratio to reference {s / res['reference']:.2f}")


if __name__ == "__main__":
    main()

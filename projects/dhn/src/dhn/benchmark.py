"""Time one DHN training step at the reference configuration (not a test):
``python -m dhn.benchmark [--batch 32] [--steps 3] [--backend jacrev autograd]``.

Reference configuration (``configs/ar/sinpend_kernel2_stride1.py`` of the official code): single
pendulum, 129 coarse states, blocks b = 2, s = 1 (all 127 block pairs of every trajectory), width
128, 2 layers, 4 heads, FFN 512, codes of size 128, batch 32, Adam lr 1e-4, loss
``L_eom + 0.1 L_denoise``. Prints seconds per step for each gradient backend.
"""

from __future__ import annotations

import argparse
import time

import torch

from .experiment import Config, TrainConfig, model_loss
from .model import DHN, ModelConfig


def time_step(
    backend: str,
    batch: int = 32,
    steps: int = 3,
    n_states: int = 129,
    hidden: int = 128,
    seed: int = 0,
) -> float:
    """Median wall time (s) of one optimiser step of the DHN at the reference configuration."""
    torch.manual_seed(seed)
    net = ModelConfig(
        dim=1, z_dim=128, hidden=hidden, layers=2, heads=4, block=2, stride=1, grad_backend=backend
    )
    cfg = Config(
        task="forward", model="dhn", net=net, train=TrainConfig(batch=batch, lr=1e-4, windows=0)
    )
    model = DHN(net, batch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
    q, p = torch.randn(batch, n_states, 1), torch.randn(batch, n_states, 1)
    idx = torch.arange(batch)
    times = []
    for _ in range(steps + 1):  # the first step warms up (allocations, vmap tracing)
        t0 = time.perf_counter()
        loss = model_loss(cfg, model, q, p, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    times = sorted(times[1:])
    return times[len(times) // 2]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--backend", nargs="+", default=["jacrev", "autograd"])
    args = ap.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}")
    for backend in args.backend:
        s = time_step(backend, args.batch, args.steps)
        print(f"DHN training step, reference config, batch {args.batch}, {backend}: {s:.3f} s")


if __name__ == "__main__":
    main()

"""Benchmark: one epoch of DeviceLoader against torch DataLoader over the same tensors.

Run with ``pytest -m slow -s shared/tests/test_data_benchmark.py``; the ratios are printed.
"""

import time

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from symlab.data import DeviceLoader

N, D, BATCH = 100_000, 64, 256


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _epoch_time(loader, device, repeats=3):
    """Best-of-``repeats`` wall time of one full epoch, after one warm-up epoch."""
    best = float("inf")
    for i in range(repeats + 1):
        _sync(device)
        t0 = time.perf_counter()
        n = 0
        for x, y in loader:
            # Touch the batch on the device as a training step would.
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            n += y.shape[0]
        _sync(device)
        if i > 0:
            best = min(best, time.perf_counter() - t0)
        assert n == N
    return best


@pytest.mark.slow
def test_device_loader_faster_than_dataloader():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D, generator=g)
    y = torch.randint(0, 10, (N,), generator=g)
    dataset = TensorDataset(x, y)

    device_loader = DeviceLoader((x, y), batch_size=BATCH, device=device, generator=0)
    plain = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0)
    # The batch-sampler trick: TensorDataset indexed with a list of indices returns a whole
    # batch at once, so the per-sample __getitem__ and collate disappear.
    batched = DataLoader(
        dataset,
        sampler=BatchSampler(RandomSampler(dataset), batch_size=BATCH, drop_last=False),
        batch_size=None,
        num_workers=0,
    )

    t_device = _epoch_time(device_loader, device)
    t_plain = _epoch_time(plain, device)
    t_batched = _epoch_time(batched, device)
    print(
        f"\n[{device}] one epoch of {N} x {D} float32, batch {BATCH}: "
        f"DeviceLoader {t_device * 1e3:.1f} ms, "
        f"DataLoader {t_plain * 1e3:.1f} ms (ratio {t_plain / t_device:.1f}x), "
        f"DataLoader+BatchSampler {t_batched * 1e3:.1f} ms (ratio {t_batched / t_device:.1f}x)"
    )
    assert t_device < t_plain

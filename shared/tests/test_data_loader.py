"""Tests for symlab.data.DeviceLoader."""

import pytest
import torch

from symlab.data import DeviceLoader


def _epoch_indices(loader):
    return torch.cat([b for b in loader])


@pytest.mark.parametrize("n, bs", [(103, 10), (100, 10), (7, 32), (1, 1)])
def test_every_index_exactly_once_per_epoch(n, bs):
    loader = DeviceLoader(torch.arange(n), batch_size=bs, generator=0)
    assert len(loader) == -(-n // bs)
    for _ in range(3):
        batches = list(loader)
        assert len(batches) == len(loader)
        assert all(b.shape == (bs,) for b in batches[:-1])
        assert batches[-1].shape == (n - bs * (len(batches) - 1),)
        idx = torch.cat(batches)
        assert torch.equal(idx.sort().values, torch.arange(n))


def test_drop_last():
    loader = DeviceLoader(torch.arange(103), batch_size=10, drop_last=True, generator=1)
    assert len(loader) == 10
    batches = list(loader)
    assert len(batches) == 10
    assert all(b.shape == (10,) for b in batches)
    idx = torch.cat(batches)
    assert idx.unique().numel() == 100  # no index repeated, 3 dropped

    small = DeviceLoader(torch.arange(5), batch_size=8, drop_last=True)
    assert len(small) == 0
    assert list(small) == []


def test_no_shuffle_is_storage_order():
    loader = DeviceLoader(torch.arange(25), batch_size=10, shuffle=False)
    assert torch.equal(_epoch_indices(loader), torch.arange(25))


def test_batch_shapes_and_structure():
    x = torch.randn(50, 3, 4)
    y = torch.arange(50)
    batch = next(iter(DeviceLoader({"x": x, "y": y}, batch_size=16)))
    assert isinstance(batch, dict) and list(batch) == ["x", "y"]
    assert batch["x"].shape == (16, 3, 4) and batch["y"].shape == (16,)
    tup = next(iter(DeviceLoader((x, y), batch_size=16)))
    assert isinstance(tup, tuple) and tup[0].shape == (16, 3, 4)
    lst = next(iter(DeviceLoader([x, y], batch_size=16)))
    assert isinstance(lst, list) and lst[1].shape == (16,)


def test_seed_reproducible_and_epochs_differ():
    a = DeviceLoader(torch.arange(200), batch_size=32, generator=123)
    b = DeviceLoader(torch.arange(200), batch_size=32, generator=123)
    a1, a2 = _epoch_indices(a), _epoch_indices(a)
    b1, b2 = _epoch_indices(b), _epoch_indices(b)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a1, a2)
    c1 = _epoch_indices(DeviceLoader(torch.arange(200), batch_size=32, generator=124))
    assert not torch.equal(a1, c1)


def test_generator_object_and_global_seed():
    g1 = torch.Generator().manual_seed(5)
    g2 = torch.Generator().manual_seed(5)
    x = torch.arange(64)
    assert torch.equal(
        _epoch_indices(DeviceLoader(x, 8, generator=g1)),
        _epoch_indices(DeviceLoader(x, 8, generator=g2)),
    )
    torch.manual_seed(0)
    first = _epoch_indices(DeviceLoader(x, 8))
    torch.manual_seed(0)
    assert torch.equal(first, _epoch_indices(DeviceLoader(x, 8)))


def test_permutation_drawn_at_iter_time():
    loader = DeviceLoader(torch.arange(40), batch_size=8, generator=3)
    it1 = iter(loader)
    it2 = iter(loader)
    # Two live iterators are independent epochs with their own orders.
    e1, e2 = torch.cat(list(it1)), torch.cat(list(it2))
    assert not torch.equal(e1, e2)
    assert torch.equal(e1.sort().values, e2.sort().values)


def test_dict_batches_keep_alignment():
    n = 97
    data = {
        "x": torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3),
        "y": torch.arange(n) * 2,
        "z": torch.arange(n).view(n, 1, 1).expand(n, 2, 2).clone(),
    }
    for batch in DeviceLoader(data, batch_size=10, generator=7):
        idx = batch["y"] // 2
        assert torch.equal(batch["x"][:, 0].long(), idx)
        assert torch.equal(batch["x"][:, 2].long(), idx)
        assert torch.equal(batch["z"][:, 1, 1], idx)


def test_batches_do_not_alias_data():
    x = torch.zeros(10, 2)
    for shuffle in (True, False):
        loader = DeviceLoader(x, batch_size=4, shuffle=shuffle)
        for batch in loader:
            batch += 1
        assert torch.equal(loader.tensors, torch.zeros(10, 2))


def test_device_move_once_and_properties():
    x = torch.randn(20, 2, dtype=torch.float64)
    loader = DeviceLoader({"x": x}, batch_size=5, device="cpu")
    assert loader.device == torch.device("cpu")
    assert loader.n_samples == 20
    assert next(iter(loader))["x"].dtype == torch.float64
    assert "n_samples=20" in repr(loader)


def test_validation_errors():
    with pytest.raises(ValueError, match="same first dimension.*key 'b' has shape \\(4,\\)"):
        DeviceLoader({"a": torch.zeros(5), "b": torch.zeros(4)}, batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DeviceLoader(torch.zeros(5), batch_size=0)
    with pytest.raises(TypeError, match="key 'a' must be a torch.Tensor"):
        DeviceLoader({"a": [1, 2]}, batch_size=2)
    with pytest.raises(ValueError, match="scalar"):
        DeviceLoader(torch.tensor(1.0), batch_size=1)
    with pytest.raises(ValueError, match="no tensors"):
        DeviceLoader({}, batch_size=1)
    with pytest.raises(TypeError, match="generator must be"):
        DeviceLoader(torch.zeros(5), batch_size=1, generator="seed")


def test_is_sized_iterable_like_a_dataloader():
    from collections.abc import Iterable, Sized

    loader = DeviceLoader(torch.zeros(10, 1), batch_size=3)
    assert isinstance(loader, Iterable) and isinstance(loader, Sized)
    assert sum(1 for _ in loader) == len(loader) == 4


@pytest.mark.gpu
def test_cuda_generator_and_batches_stay_on_gpu():
    loader = DeviceLoader({"x": torch.arange(1000)}, batch_size=100, device="cuda", generator=0)
    assert loader.generator.device.type == "cuda"
    batches = list(loader)
    assert all(b["x"].is_cuda for b in batches)
    idx = torch.cat([b["x"] for b in batches]).cpu()
    assert torch.equal(idx.sort().values, torch.arange(1000))
    again = DeviceLoader({"x": torch.arange(1000)}, batch_size=100, device="cuda", generator=0)
    assert torch.equal(torch.cat([b["x"] for b in again]).cpu(), idx)

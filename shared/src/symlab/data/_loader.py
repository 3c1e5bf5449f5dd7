"""Device-resident mini-batch loading for datasets that fit in memory.

A :class:`torch.utils.data.DataLoader` over a ``TensorDataset`` fetches every sample with a
Python ``__getitem__`` call and then collates them, which dominates the step time of small
models. When the whole dataset fits on the accelerator it is much cheaper to keep it there and
gather each batch with one indexing kernel per tensor; :class:`DeviceLoader` does exactly that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

TensorTree = torch.Tensor | Mapping[str, torch.Tensor] | Sequence[torch.Tensor]


def _new_generator(device: torch.device) -> torch.Generator:
    """Create a generator on ``device``, falling back to CPU where the backend has none."""
    try:
        return torch.Generator(device=device)
    except RuntimeError:
        # Some backends have no device-side generator; a CPU permutation moved once per
        # epoch is still cheap compared with per-sample loading.
        return torch.Generator()


def _make_generator(
    generator: torch.Generator | int | None, device: torch.device
) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None:
        # Draw the seed from torch's global RNG so that ``torch.manual_seed`` alone makes the
        # batch order reproducible, as it does for DataLoader.
        seed = int(torch.randint(0, 2**62, ()).item())
    elif isinstance(generator, int) and not isinstance(generator, bool):
        seed = generator
    else:
        raise TypeError(
            f"generator must be a torch.Generator, an int seed or None, "
            f"found {type(generator).__name__}"
        )
    g = _new_generator(device)
    g.manual_seed(seed)
    return g


class DeviceLoader:
    """Iterate over mini-batches of in-memory tensors without worker processes.

    The tensors are moved to ``device`` once, at construction. Each call to ``iter()`` draws a
    fresh permutation with :func:`torch.randperm` on the generator's device and yields batches
    gathered with :meth:`torch.Tensor.index_select`, so an epoch costs one small kernel per
    tensor per batch and no per-sample Python. It is an iterable with ``__len__``, which is all
    that Lightning's ``Trainer`` needs from a dataloader.

    Parameters
    ----------
    data : torch.Tensor or Mapping[str, torch.Tensor] or Sequence[torch.Tensor]
        The dataset. All tensors must share the same first (sample) dimension. Batches have the
        same structure: a tensor, a ``dict`` with the same keys, or a tuple/list.
    batch_size : int
        Number of samples per batch.
    shuffle : bool, default True
        Draw a new random order for every epoch. Without shuffling the batches are contiguous
        slices in storage order.
    drop_last : bool, default False
        Drop the final batch when it would be smaller than ``batch_size``.
    device : torch.device or str, optional
        Where the data lives. ``None`` keeps the tensors where they are (they must then all be
        on the same device).
    generator : torch.Generator or int, optional
        Source of randomness for shuffling. An int is used as the seed of a new generator
        created on ``device`` (on CUDA the generator is a CUDA generator, so the permutation
        never leaves the GPU). ``None`` seeds a new generator from torch's global RNG. The same
        seed gives the same sequence of epochs; successive epochs differ because the generator
        advances.

    Notes
    -----
    Every batch is a new tensor (a gather or, without shuffling, a clone of a slice), so
    modifying a batch in place never alters the stored dataset.

    Examples
    --------
    >>> x, y = torch.randn(1000, 8), torch.randint(0, 3, (1000,))
    >>> loader = DeviceLoader({"x": x, "y": y}, batch_size=128, generator=0)
    >>> len(loader)
    8
    >>> batch = next(iter(loader))
    >>> batch["x"].shape
    torch.Size([128, 8])
    """

    def __init__(
        self,
        data: TensorTree,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        generator: torch.Generator | int | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, found {batch_size!r}")
        self._kind, self._keys, tensors = _flatten(data)
        if device is None:
            devices = {t.device for t in tensors}
            if len(devices) > 1:
                raise ValueError(
                    f"tensors are on different devices {sorted(map(str, devices))}; "
                    "pass device= to move them all to one"
                )
            self._device = tensors[0].device
        else:
            self._device = torch.device(device)
        # The single host-to-device copy of the whole dataset.
        self._tensors = tuple(t.to(self._device) for t in tensors)
        self._n = self._tensors[0].shape[0]
        for name, t in zip(self._names(), self._tensors):
            if t.shape[0] != self._n:
                raise ValueError(
                    f"all tensors must have the same first dimension: "
                    f"{self._names()[0]} has {self._n} samples but {name} has shape "
                    f"{tuple(t.shape)}"
                )
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = _make_generator(generator, self._device)

    def _names(self) -> list[str]:
        if self._kind == "dict":
            return [f"key {k!r}" for k in self._keys]
        if self._kind == "tensor":
            return ["tensor"]
        return [f"element {i}" for i in range(len(self._tensors))]

    @property
    def device(self) -> torch.device:
        """Device holding the data and the batches."""
        return self._device

    @property
    def n_samples(self) -> int:
        """Number of samples in the dataset."""
        return self._n

    @property
    def tensors(self) -> TensorTree:
        """The stored (device-resident) dataset, in the structure it was given."""
        return self._rebuild(self._tensors)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self.drop_last:
            return self._n // self.batch_size
        return -(-self._n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        # Draw the permutation eagerly (not inside the generator body) so that the order is
        # fixed when iter() is called, independent of when the first batch is requested.
        order = self._permutation() if self.shuffle else None
        return self._batches(order)

    def _permutation(self) -> torch.Tensor:
        g = self.generator
        perm = torch.randperm(self._n, generator=g, device=g.device)
        # No-op when the generator already lives on the data device.
        return perm.to(self._device)

    def _batches(self, order: torch.Tensor | None) -> Iterator[Any]:
        bs = self.batch_size
        stop = len(self) * bs if self.drop_last else self._n
        for start in range(0, stop, bs):
            if order is None:
                batch = tuple(t[start : start + bs].clone() for t in self._tensors)
            else:
                idx = order[start : start + bs]
                batch = tuple(t.index_select(0, idx) for t in self._tensors)
            yield self._rebuild(batch)

    def _rebuild(self, tensors: tuple[torch.Tensor, ...]) -> TensorTree:
        if self._kind == "tensor":
            return tensors[0]
        if self._kind == "dict":
            return dict(zip(self._keys, tensors))
        if self._kind == "list":
            return list(tensors)
        return tensors

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_samples={self._n}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, device={self._device})"
        )


def _flatten(data: TensorTree) -> tuple[str, list[str], list[torch.Tensor]]:
    """Split ``data`` into (structure kind, dict keys, flat list of tensors), validating it."""
    if isinstance(data, torch.Tensor):
        kind, keys, tensors = "tensor", [], [data]
        names = ["tensor"]
    elif isinstance(data, Mapping):
        kind, keys, tensors = "dict", list(data.keys()), list(data.values())
        names = [f"key {k!r}" for k in keys]
    elif isinstance(data, (tuple, list)):
        kind = "list" if isinstance(data, list) else "tuple"
        keys, tensors = [], list(data)
        names = [f"element {i}" for i in range(len(tensors))]
    else:
        raise TypeError(
            f"data must be a tensor, a mapping of tensors or a tuple/list of tensors, "
            f"found {type(data).__name__}"
        )
    if not tensors:
        raise ValueError("data contains no tensors")
    for name, t in zip(names, tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, found {type(t).__name__}")
        if t.ndim == 0:
            raise ValueError(f"{name} is a scalar tensor; expected a leading sample dimension")
    return kind, keys, tensors

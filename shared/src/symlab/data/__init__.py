"""Datasets and data loading: device-resident batching, normalizers, demonstration replay
buffers in the robomimic HDF5 layout, sequence windows and a cache for generated datasets."""

from ._cache import cache_key, cached_dataset, default_cache_dir
from ._loader import DeviceLoader
from ._normalizer import DictNormalizer, Normalizer
from ._replay import DatasetError, ReplayBuffer, split_episodes
from ._sampler import SequenceSampler

__all__ = [
    "DatasetError",
    "DeviceLoader",
    "DictNormalizer",
    "Normalizer",
    "ReplayBuffer",
    "SequenceSampler",
    "cache_key",
    "cached_dataset",
    "default_cache_dir",
    "split_episodes",
]

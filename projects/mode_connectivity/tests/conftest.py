"""Shared test settings for this project's tests only."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread while a test of this project runs (restored afterwards, so other
    projects' tests in the same pytest process are unaffected): the workloads are thousands of
    tiny matrices, where a second thread only adds synchronisation (about 30x slower)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded generator (the symlab plugin seeds the global RNGs too)."""
    return torch.Generator().manual_seed(1234)

"""Shared fixtures of the sym_in_dp tests."""

from __future__ import annotations

import pytest
import torch
from sym_in_dp.config import load_experiment_config
from sym_in_dp.data import dataset_path


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread per test (restored afterwards): the networks are tiny and the test
    machine has 2 shared cores; a second thread made training steps ~13x slower under load."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def smoke_cfg():
    return load_experiment_config("smoke")


@pytest.fixture(scope="session")
def synthetic_file(tmp_path_factory, smoke_cfg):
    """The smoke scale's two synthetic demonstrations, written once in robomimic layout."""
    return dataset_path(smoke_cfg.data, tmp_path_factory.mktemp("data"))

"""Shared fixtures: a tiny halo catalog config and an isolated mock cache."""

import pytest
from iaemu.config import HaloConfig


@pytest.fixture
def tiny_halos() -> HaloConfig:
    """A 50 Mpc/h box (halotools needs r_max < Lbox / 3), ~2k halos above 1.6e11 Msun/h."""
    return HaloConfig(lbox=50.0, log_mass_min=11.2, grid=16, smoothing=2.0, seed=3)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    # Never write the user's cache from tests.
    monkeypatch.setenv("SYMLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYMLAB_RUNS", str(tmp_path / "runs"))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The test machine is shared: spinning OpenMP threads make tiny networks much slower.
    import torch

    torch.set_num_threads(1)

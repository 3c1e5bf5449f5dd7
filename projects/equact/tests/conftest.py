"""Shared fixtures of the equact tests: a small EquAct model and a synthetic keyframe batch."""

import pytest
import torch
from equact.config import load_experiment_config
from equact.data import all_instructions, synthetic_dataset
from equact.language import Vocabulary
from equact.model import build_policy

TASKS = ["pick", "handle", "hover", "push"]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread (restored afterwards): on the shared 2-core machine a second thread
    made small tensor ops ~35x slower (measured on farthest-point sampling)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _small_config(**overrides):
    """The smoke config with lmax 2 and two U-Net levels: fast, but every degree path exists."""
    items = [
        "model.lmax=2",
        "model.rot_lmax=2",
        "model.channels=[8, 8]",
        "model.out_channels=8",
        "model.rot_channels=4",
        "data.n_points=256",
        "data.n_focused=192",
    ] + [f"{k}={v}" for k, v in overrides.items()]
    return load_experiment_config("smoke", items)


@pytest.fixture(scope="session")
def vocab():
    return Vocabulary.from_instructions(all_instructions(TASKS))


@pytest.fixture(scope="session")
def dataset():
    return synthetic_dataset(TASKS, 2, seed=3, n_points=256, n_focused=192)


@pytest.fixture
def make_policy(vocab):
    def make(dtype=torch.float32, seed=0, **overrides):
        cfg = _small_config(**overrides)
        torch.manual_seed(seed)
        policy = build_policy(cfg.model, cfg.action, len(vocab)).to(dtype).eval()
        return policy, cfg

    return make


@pytest.fixture
def batch(dataset, vocab):
    def make(dtype=torch.float32, n=2):
        return dataset.get(list(range(0, 2 * n, 2)), vocab, 16).to(dtype=dtype)

    return make


@pytest.fixture
def small_config():
    """The small test config (a function of dotted overrides)."""
    return _small_config


@pytest.fixture
def tasks():
    return TASKS

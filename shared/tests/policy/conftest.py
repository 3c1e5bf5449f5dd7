"""Settings for the diffusion-policy tests only."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread while a policy test runs (restored afterwards). The networks here are
    tiny: on the 2-core test machine under load, a second thread made a training step about 13x
    slower (measured: 10 steps 12.6 s with 2 threads, 0.97 s with 1)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

"""pytest plugin of SymLab, loaded wherever ``symlab`` is installed (entry point ``pytest11``).

It registers the repository's markers, turns wandb off, seeds every test and provides the
``device`` and ``dtype`` fixtures, so a project copied out of the monorepo keeps the same test
behaviour with only ``symlab`` installed.
"""

from __future__ import annotations

import os

import pytest

MARKERS = {
    "slow": "long-running test or benchmark; deselected by default, run with `make test-slow`",
    "gpu": "needs a CUDA device; deselected automatically when none is present",
    "sim": "needs the robosuite/MuJoCo simulator (`pip install symlab[sim]` and libosmesa6)",
}

TEST_SEED = 0


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    # Tests never talk to wandb, not even offline.
    os.environ["WANDB_MODE"] = "disabled"
    os.environ.setdefault("WANDB_SILENT", "true")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        # Each xdist worker would otherwise start one torch thread per core: oversubscription
        # makes a parallel run slower than a serial one on small machines.
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) ``gpu`` tests on machines without CUDA, so a CPU run reports them as
    deselected rather than as skipped checks."""
    import torch

    if torch.cuda.is_available():
        return
    gpu = [item for item in items if "gpu" in item.keywords]
    if gpu:
        config.hook.pytest_deselected(items=gpu)
        items[:] = [item for item in items if "gpu" not in item.keywords]


@pytest.fixture(autouse=True)
def _seed_everything():
    """Seed python, numpy and torch before every test: same test, same numbers."""
    from symlab.runs import seed_everything

    seed_everything(TEST_SEED)
    yield


def _devices() -> list[str]:
    import torch

    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


@pytest.fixture(params=_devices())
def device(request: pytest.FixtureRequest) -> str:
    """Every device this machine has: ``cpu``, plus ``cuda`` when present."""
    return request.param


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest):
    """Both floating dtypes, as e3nn runs every equivariance test."""
    import torch

    return getattr(torch, request.param)


@pytest.fixture
def generator():
    """A seeded ``torch.Generator`` for tests that pass one explicitly."""
    import torch

    return torch.Generator().manual_seed(TEST_SEED)

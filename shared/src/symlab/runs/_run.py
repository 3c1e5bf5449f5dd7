"""Run directories, seeding and metric logging.

Every training or reproduction run gets one directory holding what is needed to trust and repeat
it: the resolved config, the seed, package versions, the git revision, metrics as JSON lines and
checkpoints.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ._config import config_to_dict

# Packages whose versions are recorded in every run's meta.json (those installed).
TRACKED_PACKAGES = (
    "symlab",
    "torch",
    "numpy",
    "scipy",
    "escnn",
    "e3nn",
    "pysindy",
    "scikit-learn",
    "halotools",
    "mujoco",
    "robosuite",
    "lightning",
    "wandb",
    "deap",
    "pyro-ppl",
)


class NonFiniteError(FloatingPointError):
    """Training produced NaN or infinity."""


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (missing packages are left out)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_revision(path: str | Path | None = None) -> str | None:
    """The git commit of the working tree at ``path`` (with ``-dirty`` when modified), or None."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def check_finite(value: float | torch.Tensor, *, what: str = "loss", step: int | None = None):
    """Raise :class:`NonFiniteError` naming ``what`` and ``step`` when ``value`` is NaN or inf."""
    v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not math.isfinite(v):
        at = f" at step {step}" if step is not None else ""
        raise NonFiniteError(
            f"{what} became {v}{at}; the last checkpoint is kept - lower the learning rate or "
            "check the data for NaNs, then resume"
        )
    return value


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``device`` as a torch device (``auto``: CUDA when available, else the CPU); a clear error
    when CUDA is asked for but not there."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available on this machine")
    return dev


def runs_root(root: str | Path | None = None) -> Path:
    """The parent directory of runs: ``root``, else ``$SYMLAB_RUNS`` (when set and not empty), else
    ``./runs``."""
    return Path(root or os.environ.get("SYMLAB_RUNS") or "runs")


class Run:
    """A run directory.

    Layout::

        <root>/<project>/<name>/
            config.yaml      resolved config
            meta.json        seed, package versions, git revision, host, command, start time
            metrics.jsonl    one JSON object per logged step
            summary.json     final metrics
            checkpoints/     state-dict checkpoints (see :mod:`symlab.runs`)

    Parameters
    ----------
    project : str
        Project name (the folder under ``projects/``).
    config : dataclass or dict
        The resolved config; written to ``config.yaml``.
    seed : int
        The run's seed; ``Run`` seeds python, numpy and torch with it.
    root : path, optional
        Parent directory; defaults to ``$SYMLAB_RUNS`` or ``./runs``.
    name : str, optional
        Directory name; defaults to a timestamp plus the seed. Reusing a name resumes the run
        (metrics are appended, checkpoints found by :meth:`latest_checkpoint`).
    """

    def __init__(
        self,
        project: str,
        config: Any,
        seed: int,
        *,
        root: str | Path | None = None,
        name: str | None = None,
    ) -> None:
        root = runs_root(root)
        name = name or datetime.now().strftime("%Y%m%d-%H%M%S") + f"-s{seed}"
        self.project = project
        self.seed = seed
        self.path = root / project / name
        self.resumed = (self.path / "meta.json").exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self.config = config
        self._start = time.perf_counter()
        seed_everything(seed)
        config_dict = config_to_dict(config)
        config_path = self.path / "config.yaml"
        if self.resumed and config_path.exists():
            previous = yaml.safe_load(config_path.read_text())
            if previous != config_dict:
                raise ValueError(
                    f"run directory {self.path} holds a different config; resuming it with "
                    "another config would mix two experiments - choose another run name"
                )
        config_path.write_text(yaml.safe_dump(config_dict, sort_keys=False))
        meta = {
            "project": project,
            "seed": seed,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_revision": git_revision(),
            "packages": package_versions(),
            "host": socket.gethostname(),
            "command": sys.argv,
            "device": "cuda" if torch.cuda.is_available() else "cpu",
        }
        if self.resumed:
            old = json.loads((self.path / "meta.json").read_text())
            meta["resumed_from"] = old
        write_json_atomic(self.path / "meta.json", meta)

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Append one line of metrics (with step and wall time) to ``metrics.jsonl``."""
        record = {"step": step, "time": round(time.perf_counter() - self._start, 3), **metrics}
        with open(self.path / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record, default=_json_default) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        """All logged metric lines."""
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write the final metrics to ``summary.json``."""
        write_json_atomic(self.path / "summary.json", summary)

    def latest_checkpoint(self) -> Path | None:
        """The most recently written ``*.pt`` in ``checkpoints/``, or None."""
        if not self.checkpoint_dir.exists():
            return None
        files = sorted(self.checkpoint_dir.glob("*.pt"), key=lambda p: p.stat().st_mtime)
        return files[-1] if files else None

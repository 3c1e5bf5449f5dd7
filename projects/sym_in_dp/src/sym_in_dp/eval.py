"""Evaluate a trained policy: offline action error, and closed-loop success with an env runner.

Usage::

    python -m sym_in_dp.eval --checkpoint runs/sym_in_dp/<run>/checkpoints/<method>_policy.pt
        [--dataset demos.hdf5] [--env-runner package.module:factory --task lift]
        [--episodes 50]

The checkpoint (written by ``sym_in_dp.train``) holds the EMA policy's state dict and the
config it was trained with; the policy is rebuilt from that config and loaded with
``weights_only=True``. A policy trained on the benchmark (``data.source: sim``) is evaluated in
closed loop on the benchmark's test seeds without ``--env-runner``. Without ``--dataset`` the
training data of the config is used (synthetic demonstrations are regenerated from their seed,
benchmark demonstrations come from the cache).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from symlab.data import DatasetError
from symlab.runs import (
    CheckpointError,
    ConfigError,
    config_from_dict,
    load_checkpoint,
    restore_checkpoint,
)

from .config import ExperimentConfig
from .data import dataset_path, load_demonstrations, make_datasets
from .evaluation import describe, load_env_runner_factory, offline_action_error, wilson_interval
from .methods import METHODS, build_policy, obs_keys


def load_policy(path: str | Path):
    """Rebuild and load a policy checkpoint; returns ``(policy, config, method)``."""
    state = load_checkpoint(path)
    if "config" not in state or "method" not in state.get("extra", {}):
        raise CheckpointError(f"{path} is not a sym_in_dp policy checkpoint (no config/method)")
    cfg = config_from_dict(ExperimentConfig, state["config"])
    method = state["extra"]["method"]
    if method not in METHODS:
        raise CheckpointError(f"{path}: unknown method {method!r}")
    policy = build_policy(method, cfg.model, cfg.data)
    restore_checkpoint(state, model=policy, restore_rng=False)
    return policy.eval(), cfg, method


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sym_in_dp.eval", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, help="robomimic HDF5 demonstrations")
    parser.add_argument("--env-runner", help="closed-loop evaluation: package.module:factory")
    parser.add_argument("--task", help="benchmark task (default: the config's first)")
    parser.add_argument("--episodes", type=int, help="closed-loop episodes (default: config)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        policy, cfg, method = load_policy(args.checkpoint)
        factory = load_env_runner_factory(args.env_runner)
        if factory is None and cfg.data.source == "sim":
            from .sim import make_runner as factory
        task = args.task or cfg.eval.tasks[0]
        keys = obs_keys(method)
        with tempfile.TemporaryDirectory() as tmp:
            path = args.dataset or dataset_path(cfg.data, tmp, task)
            buffer = load_demonstrations(path, keys)
        train_ds, val_ds = make_datasets(buffer, cfg.data, cfg.model, keys)
        offline = offline_action_error(
            policy, val_ds or train_ds, cfg.eval.offline_windows, cfg.seed
        )
        print(
            f"{method} offline ({'validation' if val_ds else 'training'} windows): "
            + describe(offline)
        )
        if factory is not None:
            n = args.episodes or cfg.eval.n_episodes
            runner = factory(
                task=task,
                n_episodes=n,
                seed=cfg.seed,
                method=method,
                config=cfg,
            )
            metrics = runner.run(policy)
            rate = float(metrics["success_rate"])
            lo, hi = wilson_interval(rate * n, n)
            print(
                f"{method} closed loop on {task}: success {rate:.3f} over {n} episodes "
                f"(Wilson 95% [{lo:.3f}, {hi:.3f}])"
            )
    except (CheckpointError, ConfigError, DatasetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

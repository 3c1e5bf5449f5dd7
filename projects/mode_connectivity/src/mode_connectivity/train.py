"""Train the small networks used by the experiments into a symlab run directory.

Usage::

    python -m mode_connectivity.train --config {smoke,cpu,paper,<file.yaml>} [key=value ...]
        [--run-name NAME] [--runs-root DIR] [--networks two_layer five_layer deep_linear]

Networks (settings under ``training.*`` of the config):

* ``two_layer``: two-layer leaky-ReLU network, hidden 32, input 16, batch 8 (Fig. 3b-c);
* ``five_layer``: five-layer leaky-ReLU network (Fig. 4);
* ``deep_linear``: a deep linear network trained by gradient descent from two seeds (project
  extension, not in the paper).

Each network and seed gets ``checkpoints/<network>_seed<seed>.pt`` (state dicts plus the
architecture and data, readable by ``mode_connectivity.eval``). Rerunning with the same run name
resumes from those checkpoints; a different config under the same name is refused. A NaN or
infinite loss stops training with an error naming the network, seed and step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from symlab.runs import ConfigError, NonFiniteError, Run, config_to_dict

from .config import ExperimentConfig, config_path, load_experiment_config
from .trained import TrainedNetwork, train_network

NETWORKS = ("two_layer", "five_layer", "deep_linear")
PROJECT = "mode_connectivity"


def train_all(
    cfg: ExperimentConfig,
    run: Run,
    networks: tuple[str, ...] = NETWORKS,
    stop_after: int | None = None,
) -> dict[str, list[TrainedNetwork]]:
    """Train (or resume) every requested network and seed into ``run``'s checkpoint folder.

    Parameters
    ----------
    cfg : ExperimentConfig
        The config (its ``training`` section is used).
    run : symlab.runs.Run
        Run directory; checkpoints go to ``run.checkpoint_dir``.
    networks : tuple of str
        Subset of :data:`NETWORKS`.
    stop_after : int, optional
        Stop each network after this many steps (an interruption; resume by rerunning).
    """
    trained: dict[str, list[TrainedNetwork]] = {}
    config_dict = config_to_dict(cfg)
    for name in networks:
        net_cfg = getattr(cfg.training, name)
        trained[name] = [
            train_network(
                net_cfg,
                seed,
                name=name,
                checkpoint=run.checkpoint_dir / f"{name}_seed{seed}.pt",
                run=run,
                stop_after=stop_after,
                config_dict=config_dict,
            )
            for seed in net_cfg.seeds
        ]
    return trained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mode_connectivity.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", default="smoke", help="scale name or YAML file")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    parser.add_argument("--run-name", help="run directory name (default: train-<config name>)")
    parser.add_argument("--runs-root", type=Path, help="default: $SYMLAB_RUNS or ./runs")
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument(
        "--stop-after",
        type=int,
        help="stop after this many steps per network (simulates an interruption)",
    )
    args = parser.parse_args(argv)
    # Tiny matrices: intra-op threads only add synchronisation cost.
    torch.set_num_threads(1)
    try:
        cfg = load_experiment_config(args.config, args.overrides)
        name = args.run_name or f"train-{config_path(args.config).stem}"
        run = Run(PROJECT, cfg, seed=cfg.seed, root=args.runs_root, name=name)
        trained = train_all(cfg, run, tuple(args.networks), args.stop_after)
    except (ConfigError, NonFiniteError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = {}
    for name, nets in trained.items():
        for net in nets:
            key = f"{name}_seed{net.seed}"
            summary[key] = {"final_loss": net.final_loss, "steps": net.step}
            print(f"{key:<22} steps {net.step:>6}  loss {net.final_loss:.3e}  -> {net.checkpoint}")
    run.write_summary(summary)
    print(f"run directory: {run.path}" + (" (resumed)" if run.resumed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

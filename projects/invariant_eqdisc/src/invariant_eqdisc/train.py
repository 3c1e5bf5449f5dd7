"""Run the discovery experiments of a config into a symlab Run directory.

``python -m invariant_eqdisc.train --config {smoke,cpu,paper,path} [key=value ...]``

Each finished stage is saved in ``checkpoints/last.pt``; rerunning with the same ``run_name``
skips the finished stages (resume).
"""

from __future__ import annotations

import argparse
import math

from symlab.runs import Run, check_finite, config_to_dict, load_checkpoint, save_checkpoint

from .config import Config, load
from .experiments import (
    run_boussinesq,
    run_reaction_diffusion,
    run_symmetry_breaking,
    run_weak_noise,
)
from .gp_experiments import run_gp

PROJECT = "invariant_eqdisc"


def run_stage(stage: str, cfg: Config, cache_dir=None, progress=True) -> dict | list:
    fn = {
        "boussinesq": lambda: run_boussinesq(cfg.boussinesq, cfg.seed, cache_dir, progress),
        "reaction_diffusion": lambda: run_reaction_diffusion(
            cfg.reaction_diffusion, cfg.seed, cache_dir, progress
        ),
        "weak_noise": lambda: run_weak_noise(cfg.weak, cfg.seed, cache_dir, progress),
        "symmetry_breaking": lambda: run_symmetry_breaking(cfg.weak, cfg.seed, cache_dir, progress),
        "gp": lambda: run_gp(
            cfg.gp,
            {
                "boussinesq": cfg.boussinesq,
                "darcy": cfg.darcy,
                "reaction_diffusion": cfg.reaction_diffusion,
            },
            cfg.seed,
            cache_dir,
            progress,
        ),
    }[stage]
    return fn()


def summarize(stage: str, res) -> dict[str, float]:
    """Success probabilities of one stage (NaN-checked)."""
    out = {}
    if stage == "gp":
        for system, arms in res.items():
            for arm in ("SI", "raw"):
                final = [row[-1] for row in arms[arm]["success"]]
                out[f"gp/{system}/{arm}/SP"] = sum(final) / max(len(final), 1)
    elif isinstance(res, dict):
        for method, r in res.items():
            if isinstance(r, dict) and "success" in r:
                out[f"{stage}/{method}/SP"] = sum(r["success"]) / max(len(r["success"]), 1)
    for k, v in out.items():
        check_finite(v, what=k)
    return out


def train(cfg: Config, root=None, cache_dir=None, progress=True) -> tuple[Run, dict]:
    """Run every stage of ``cfg`` not yet in the run's checkpoint; returns the run and results."""
    run = Run(PROJECT, cfg, cfg.seed, root=root, name=cfg.run_name)
    ckpt = run.checkpoint_dir / "last.pt"
    results = load_checkpoint(ckpt)["extra"]["results"] if ckpt.exists() else {}
    for i, stage in enumerate(cfg.stages):
        if stage in results:
            continue
        results[stage] = run_stage(stage, cfg, cache_dir, progress)
        run.log_metrics(summarize(stage, results[stage]), step=i)
        save_checkpoint(ckpt, step=i, config=config_to_dict(cfg), extra={"results": results})
    summary = {}
    for stage in cfg.stages:
        summary.update(summarize(stage, results[stage]))
    run.write_summary({k: v for k, v in summary.items() if math.isfinite(v)})
    return run, results


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="smoke")
    p.add_argument("--root", default=None, help="runs root (default $SYMLAB_RUNS or ./runs)")
    p.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = p.parse_args(argv)
    cfg = load(args.config, args.overrides)
    run, results = train(cfg, root=args.root)
    print(f"run directory: {run.path}")
    for stage in cfg.stages:
        for k, v in summarize(stage, results[stage]).items():
            print(f"{k}: {v:.3f}")


if __name__ == "__main__":
    main()

"""Evaluate a trained keyframe policy on held-out scenes, without and under scene perturbations.

With ``data.source: benchmark`` the policy runs closed loop in the shared keyframe suite instead
(:func:`equact.sim.evaluate_in_sim`: seeded test episodes per task, success by the task's check).

Usage::

    python -m equact.eval --checkpoint RUN/checkpoints/policy.pt [--config SCALE_OR_FILE]
        [--perturbations none se2 se3] [--json out.json]

A keyframe counts as a success when the predicted position is within ``eval.pos_tol`` of the
target, the rotation within ``eval.rot_tol_deg`` and the gripper open/close state is right.
Perturbations move the whole test scene (cloud, gripper, target and bounds box) by a random
SE(2) or SE(3) transformation about the bounds centre (:func:`equact.data.perturbation`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from symlab.runs import CheckpointError, ConfigError

from .config import EvalConfig, load_experiment_config
from .data import KeyframeDataset, perturb, perturbation
from .language import Vocabulary
from .model import KeyframePolicy
from .so3 import geodesic_angle


@torch.no_grad()
def evaluate(
    policy: KeyframePolicy,
    dataset: KeyframeDataset,
    vocab: Vocabulary,
    cfg: EvalConfig,
    kind: str,
    max_tokens: int,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Success rate per task and overall, plus mean position / rotation errors."""
    policy.eval()
    gen_pert = torch.Generator().manual_seed(seed + 100)
    gen_ghost = torch.Generator().manual_seed(seed + 200)
    n = len(dataset)
    rot, shift = perturbation(kind, n, gen_pert, cfg.se2_translation, cfg.se3_tilt_deg)
    success, pos_err, rot_err = [], [], []
    for start in tqdm(
        range(0, n, cfg.batch_size), desc=f"eval {kind}", disable=not progress, leave=False
    ):
        idx = torch.arange(start, min(n, start + cfg.batch_size))
        batch = perturb(dataset.get(idx, vocab, max_tokens), rot[idx], shift[idx])
        pred = policy.predict(batch, gen_ghost)
        dp = (pred["position"] - batch.target_pos).norm(dim=-1)
        dr = torch.rad2deg(geodesic_angle(pred["rotation"], batch.target_rot))
        ok_open = (pred["open"] > 0.5).float() == batch.target_open
        success.append((dp < cfg.pos_tol) & (dr < cfg.rot_tol_deg) & ok_open)
        pos_err.append(dp)
        rot_err.append(dr)
    success = torch.cat(success).float()
    task = dataset.batch.task
    per_task = {name: float(success[task == i].mean()) for i, name in enumerate(dataset.task_names)}
    return {
        "perturbation": kind,
        "success": float(success.mean()),
        "per_task": per_task,
        "pos_err": float(torch.cat(pos_err).mean()),
        "rot_err_deg": float(torch.cat(rot_err).mean()),
        "n": n,
    }


def main(argv: list[str] | None = None) -> int:
    from .train import build_datasets, load_policy

    parser = argparse.ArgumentParser(
        prog="python -m equact.eval", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument(
        "--config", help="scale or YAML for the test data (default: the checkpoint's)"
    )
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--perturbations", nargs="+")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        policy, vocab, cfg = load_policy(args.checkpoint)
        if args.config:
            cfg = load_experiment_config(args.config, args.overrides)
        train, test, _ = build_datasets(cfg)
        kinds = args.perturbations or cfg.eval.perturbations
        if test is None:  # keyframe suite: closed loop in the simulator
            from .sim import evaluate_in_sim

            report = {}
            for k in kinds:
                per_task = {
                    t: evaluate_in_sim(
                        policy,
                        vocab,
                        cfg,
                        t,
                        k,
                        cfg.data.test_episodes_per_task,
                        cfg.eval.keyframe_limit(train.meta["max_keyframes"][t]),
                        True,
                    )
                    for t in cfg.data.tasks
                }
                report[k] = {
                    "perturbation": k,
                    "success": sum(r["success"] for r in per_task.values()) / len(per_task),
                    "per_task": {t: r["success"] for t, r in per_task.items()},
                    "episodes": per_task,
                    "pos_err": float("nan"),
                    "rot_err_deg": float("nan"),
                }
        else:
            report = {
                k: evaluate(policy, test, vocab, cfg.eval, k, cfg.model.max_tokens, cfg.seed, True)
                for k in kinds
            }
    except (CheckpointError, ConfigError, ValueError, NotImplementedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for k, r in report.items():
        tasks = "  ".join(f"{t} {v:.2f}" for t, v in r["per_task"].items())
        print(
            f"{k:<5} success {r['success']:.3f}  pos {r['pos_err']:.3f} m  "
            f"rot {r['rot_err_deg']:.1f} deg | {tasks}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train (discover) everything a config asks for, into a symlab Run directory.

``python -m atlasd.train --config {smoke,cpu,paper,path.yaml} [key=value ...]``

Each task (pde, probes, lorentz, digits) writes ``checkpoints/<task>.pt`` when it finishes: the
discovered matrices and metrics as plain tensors (state-dict style, loadable with
``weights_only=True``). Rerunning with the same ``run_name`` resumes: finished tasks are loaded
from their checkpoints instead of being retrained.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from symlab.runs import Run, config_to_dict, load_checkpoint, resolve_device, save_checkpoint

from .config import Config, get_config
from .pipeline import RUNNERS


def scalars(out: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a task's output (for metrics.jsonl and summaries); nested outputs
    (the PDE task, one per atlas) are flattened as ``atlas1/cos_rotation``."""
    flat: dict[str, float] = {}
    for k, v in out.items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            flat[k] = float(v)
        elif isinstance(v, dict):
            flat.update({f"{k}/{kk}": vv for kk, vv in scalars(v).items()})
    return flat


def run_tasks(cfg: Config, ckpt_dir: Path, run: Run | None = None) -> dict[str, dict[str, Any]]:
    """Run (or resume) every task of ``cfg``; returns ``{task: output dict}``."""
    torch.set_num_threads(max(1, cfg.threads))
    device = resolve_device(cfg.device)
    results: dict[str, dict[str, Any]] = {}
    for i, task in enumerate(cfg.tasks):
        path = Path(ckpt_dir) / f"{task}.pt"
        if path.is_file():
            results[task] = load_checkpoint(path)["extra"]
            continue
        out = RUNNERS[task](cfg, device)
        save_checkpoint(path, step=i + 1, config=config_to_dict(cfg), extra=out)
        results[task] = out
        if run is not None:
            run.log_metrics({f"{task}/{k}": v for k, v in scalars(out).items()}, step=i + 1)
    return results


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default="smoke", help="smoke, cpu, paper or a YAML path")
    ap.add_argument("--runs-root", default=None, help="parent of run directories (default ./runs)")
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. pde.n_train=64")
    args = ap.parse_args(argv)
    cfg = get_config(args.config, args.overrides)
    run = Run("atlasd", cfg, cfg.seed, root=args.runs_root, name=cfg.run_name or None)
    results = run_tasks(cfg, run.checkpoint_dir, run)
    run.write_summary({t: scalars(o) for t, o in results.items()})
    for task, out in results.items():
        print(task, {k: round(v, 4) for k, v in scalars(out).items()})
    print(f"run directory: {run.path}")
    return results


if __name__ == "__main__":
    main()

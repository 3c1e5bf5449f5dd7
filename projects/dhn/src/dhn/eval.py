"""Evaluate a checkpoint: ``python -m dhn.eval --checkpoint runs/dhn/<run>/checkpoints/last.pt``.

Prints the task's metrics (forward: q MSE and energy drift per generation setting; representation:
probe MSE and R^2; super-resolution: intermediate-state MSE in and out of distribution).
"""

from __future__ import annotations

import argparse
import json

from symlab.runs import config_from_dict, load_checkpoint, restore_checkpoint

from .experiment import (
    Config,
    Data,
    build_model,
    crop_for,
    evaluate_forward,
    evaluate_representation,
    evaluate_superres,
    limit_cpu_threads,
)


def evaluate_checkpoint(path: str) -> dict:
    """Rebuild the model and data of a checkpoint and evaluate its task."""
    state = load_checkpoint(path)
    if "config" not in state:
        raise ValueError(f"checkpoint {path} has no config; was it written by dhn.train?")
    cfg = config_from_dict(Config, state["config"])
    data = Data(cfg)
    model = build_model(cfg, crop_for(cfg, data.split["train"])[0].shape[0])
    restore_checkpoint(state, model=model)
    if cfg.task == "forward":
        res = evaluate_forward(cfg, model, data)
        return {
            f"{s}/{k}": {m: v for m, v in d.items() if "pred" not in m} for (s, k), d in res.items()
        }
    if cfg.task == "representation":
        r = evaluate_representation(cfg, model, data)
        return {"probe_mse": r["mse"], "probe_r2": r["r2"]}
    r = evaluate_superres(cfg, model, data)
    return {k: v for k, v in r.items() if not k.endswith("_q")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", required=True)
    args = ap.parse_args(argv)
    limit_cpu_threads()
    print(json.dumps(evaluate_checkpoint(args.checkpoint), indent=2))


if __name__ == "__main__":
    main()

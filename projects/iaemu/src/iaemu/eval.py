"""Evaluate a checkpoint.

``python -m iaemu.eval --checkpoint runs/iaemu/<run>/checkpoints/best.pt``

Rebuilds the emulator from the checkpoint, loads the held-out draws of its config (from the mock
cache; generated if missing) and prints the accuracy and calibration metrics as JSON.
"""

from __future__ import annotations

import argparse
import json

from .evaluation import accuracy_metrics, epistemic_ratio, predict_numpy
from .mocks import generate_splits
from .training import load_emulator


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--mc-passes", type=int, default=None, help="default: the config's")
    args = ap.parse_args(argv)
    emu, cfg = load_emulator(args.checkpoint)
    passes = args.mc_passes or cfg.eval.mc_passes
    _, sp = generate_splits(cfg.mocks, cfg.halos, cfg.seed)
    m = accuracy_metrics(predict_numpy(emu, sp.x_test, passes, cfg.eval.prediction), sp.y_test)
    m["epistemic"] = epistemic_ratio(
        emu,
        sp.x_test,
        cfg.mocks.low,
        cfg.mocks.high,
        cfg.eval.ood_fraction,
        cfg.eval.n_ood,
        passes,
        cfg.seed,
    )
    m.pop("xi_mre_per_bin")
    print(json.dumps(m, indent=2))


if __name__ == "__main__":
    main()

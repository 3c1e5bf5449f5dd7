"""Train the emulator: ``python -m iaemu.train --config {smoke,cpu,paper,path} [key=value ...]``.

Generates (or loads from the cache) the config's mocks, trains on the training draws and writes
``runs/iaemu/<name>/`` (config, metrics.jsonl, ``checkpoints/last.pt`` and ``best.pt``).
Rerunning with the same ``--name`` resumes from ``last.pt``. With ``--x``/``--y`` it trains on a
real IAEmu dataset instead (``x_*.npy`` (N, 7), ``y_*.npy`` (N, 3, 20)).
"""

from __future__ import annotations

import argparse

from symlab.runs import Run

from .config import load
from .dataset import clean_rows, load_iaemu_arrays, rows
from .mocks import generate_splits
from .training import train_emulator


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="smoke")
    ap.add_argument("--name", default=None, help="run name (reuse it to resume)")
    ap.add_argument("--x", default=None, help="real-format x_*.npy (with --y)")
    ap.add_argument("--y", default=None, help="real-format y_*.npy (with --x)")
    ap.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = ap.parse_args(argv)
    cfg = load(args.config, args.overrides)
    if (args.x is None) != (args.y is None):
        ap.error("--x and --y go together")
    if args.x is not None:
        x_rows, y_rows = clean_rows(*load_iaemu_arrays(args.x, args.y))
    else:
        _, sp = generate_splits(cfg.mocks, cfg.halos, cfg.seed)
        x_rows, y_rows = rows(sp.x_train, sp.y_train)
    run = Run("iaemu", cfg, cfg.seed, name=args.name)
    _, history = train_emulator(cfg, x_rows, y_rows, run=run)
    run.write_summary({"epochs": len(history), "last": history[-1] if history else None})
    print(f"trained on {len(x_rows)} rows; checkpoints in {run.checkpoint_dir}")


if __name__ == "__main__":
    main()

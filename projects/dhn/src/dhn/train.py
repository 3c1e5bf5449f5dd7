"""Train one model: ``python -m dhn.train --config {smoke,cpu,paper,path} [key=value ...]``.

Examples: ``model=hnn``, ``task=representation``, ``data.system=single_pendulum``. Rerunning with
the same ``--name`` resumes from the run's last checkpoint.
"""

from __future__ import annotations

import argparse

from .experiment import limit_cpu_threads, load, train


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="smoke")
    ap.add_argument("--name", default=None, help="run name (reuse it to resume)")
    ap.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = ap.parse_args(argv)
    limit_cpu_threads()
    cfg = load(args.config, args.overrides)
    _, _, run = train(cfg, run_name=args.name)
    print(
        f"trained {cfg.model} on {cfg.task}/{cfg.data.system}; checkpoint in "
        f"{run.checkpoint_dir / 'last.pt'}"
    )


if __name__ == "__main__":
    main()

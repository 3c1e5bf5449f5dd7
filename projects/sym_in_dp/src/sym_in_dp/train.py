"""Train diffusion policies of the paper's design space.

Usage::

    python -m sym_in_dp.train --config {smoke,cpu,paper,<file.yaml>} [--methods cnn_rel ...]
        [--env-runner package.module:factory] [--run-name NAME] [--runs-root DIR]
        [--stop-after N] [--device auto|cpu|cuda] [key=value ...]

Data: ``data.source: synthetic`` writes synthetic demonstrations in robomimic HDF5 layout into
the run directory and trains on them; ``data.source: hdf5`` with ``data.path`` trains on a
robomimic/MimicGen-layout file (absolute OSC actions). Closed-loop evaluation needs an env
runner: ``--env-runner package.module:factory`` (see :mod:`sym_in_dp.evaluation`) is called every
``train.eval_every`` steps on the EMA policy and the best success rate is kept, as in the paper.
Without it only the offline action error is reported.

Each method gets ``checkpoints/<method>.pt`` (training state; rerunning the same run name resumes)
and ``checkpoints/<method>_policy.pt`` (the EMA policy with its config, read by
``sym_in_dp.eval``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from symlab.data import DatasetError
from symlab.policy import train_policy
from symlab.runs import (
    ConfigError,
    NonFiniteError,
    Run,
    config_to_dict,
    load_checkpoint,
    resolve_device,
    restore_checkpoint,
    save_checkpoint,
    write_json_atomic,
)

from .config import ExperimentConfig, load_experiment_config
from .data import dataset_path, load_demonstrations, make_datasets
from .evaluation import (
    RunnerFactory,
    describe,
    load_env_runner_factory,
    offline_action_error,
    wilson_interval,
)
from .methods import METHODS, build_policy, obs_keys

PROJECT = "sym_in_dp"


def fit_policy_normalizer(policy, dataset) -> None:
    """Fit the policy's normalizers on every training window (low-dim fields only)."""
    batch = dataset.batch(
        torch.arange(len(dataset)),
        obs_keys=[k for k in dataset.obs_keys if not k.endswith("_image")],
    )
    policy.set_normalizer(policy.fit_normalizer(batch["obs"], batch["action"]))


def _make_runners(cfg, method, run, task, runner_factory):
    """The periodic runner and the final (``eval.n_episodes``) runner, or ``(None, None)``."""
    periodic = cfg.eval.periodic_episodes or cfg.eval.n_episodes
    if runner_factory is None and cfg.data.source == "sim":
        from .sim import make_runner

        def runner_factory(**kw):
            name = "periodic" if kw["n_episodes"] == periodic else "final"
            return make_runner(**kw, out_dir=run.path / "rollouts" / f"{method}-{name}")

    if runner_factory is None:
        return None, None
    kw = {"task": task, "seed": cfg.seed, "method": method, "config": cfg}
    runner = runner_factory(n_episodes=periodic, **kw)
    final = runner if periodic == cfg.eval.n_episodes else None
    if final is None:
        final = runner_factory(n_episodes=cfg.eval.n_episodes, **kw)
    return runner, final


def train_method(
    cfg: ExperimentConfig,
    method: str,
    run: Run,
    *,
    data_file: Path | None = None,
    runner_factory: RunnerFactory | None = None,
    task: str | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Train one method; returns its summary (losses, offline errors, closed-loop scores).

    The training windows (images included) and the policy live on ``device``; rollouts send
    their observations there and use the same CPU-seeded noise, so a seed gives the same
    episodes on any device up to floating-point differences.

    With a closed-loop runner (``data.source: sim`` or ``runner_factory``) the EMA policy is
    evaluated every ``train.eval_every`` steps on ``eval.periodic_episodes`` episodes (the best
    is ``best_score``, the paper's protocol) and, after the last step, on ``eval.n_episodes``
    episodes (``final_eval``; cached in the run directory, so a rerun of a finished run reuses
    it).
    """
    keys = obs_keys(method)
    task = task or cfg.eval.tasks[0]
    data_file = data_file or dataset_path(cfg.data, run.path / "data", task)
    buffer = load_demonstrations(data_file, keys)
    dev = resolve_device(device)
    train_ds, val_ds = make_datasets(buffer, cfg.data, cfg.model, keys, device=dev)
    torch.manual_seed(cfg.seed)
    policy = build_policy(method, cfg.model, cfg.data).to(dev)
    fit_policy_normalizer(policy, train_ds)
    runner, final_runner = _make_runners(cfg, method, run, task, runner_factory)
    t0 = time.perf_counter()
    result = train_policy(
        policy,
        train_ds,
        cfg.train,
        env_runner=runner,
        run=run,
        checkpoint_path=run.checkpoint_dir / f"{method}.pt",
        stop_after=stop_after,
        progress=progress,
    )
    summary: dict[str, Any] = {
        "method": method,
        "label": METHODS[method].label,
        "task": task,
        "steps": result.step,
        "first_loss": result.losses[0][1] if result.losses else None,
        "final_loss": result.losses[-1][1] if result.losses else None,
        "losses": result.losses,
        "train_samples_per_s": result.samples_per_s,
        "wall_s": time.perf_counter() - t0,
        "evaluations": result.evaluations,
        "best_score": result.best_score,
        "best_step": result.best_step,
        "best_checkpoint": str(result.best_checkpoint) if result.best_checkpoint else None,
        "data_file": str(data_file),
        "n_demos": buffer.n_episodes,
        "n_windows": len(train_ds),
    }
    if result.step >= cfg.train.steps:
        save_checkpoint(
            run.checkpoint_dir / f"{method}_policy.pt",
            model=result.eval_policy,
            step=result.step,
            config=config_to_dict(cfg),
            extra={"method": method},
        )
        eval_ds = val_ds if val_ds is not None else train_ds
        summary["offline"] = offline_action_error(
            result.eval_policy, eval_ds, cfg.eval.offline_windows, cfg.seed
        )
        summary["offline_split"] = "validation" if val_ds is not None else "training"
        if final_runner is not None:
            summary["final_eval"] = final_evaluation(
                final_runner,
                runner,
                result,
                evaluation_cache(run.path, "final", method),
                cfg.eval.n_episodes,
            )
            best = best_checkpoint_evaluation(
                final_runner,
                runner,
                result,
                summary["final_eval"],
                evaluation_cache(run.path, "best", method),
                lambda: build_policy(method, cfg.model, cfg.data).to(dev),
            )
            if best is not None:
                summary["best_eval"] = best
    return summary


def evaluation_cache(run_dir: Path, kind: str, method: str) -> Path:
    """Where a run caches its ``kind`` ("final" or "best") 50-episode evaluation of ``method``;
    the final one exists only once training and that evaluation have finished."""
    return Path(run_dir) / f"{kind}_eval_{method}.json"


def best_checkpoint_evaluation(
    final_runner, runner, result, final_eval: dict[str, Any], cache: Path, make_policy
) -> dict[str, Any] | None:
    """The checkpoint that scored best in the periodic evaluations, re-evaluated on as many
    episodes as the final policy (the paper's protocol picks the best periodic score; with few
    episodes per periodic evaluation that maximum is optimistic, so the selected checkpoint is
    scored again on the final evaluation's seeds, its own periodic episodes included).

    ``None`` when training kept no best checkpoint (no periodic evaluation, or a run started
    before best checkpoints were written). Cached in ``cache``.
    """
    if cache.is_file():
        return json.loads(cache.read_text())
    if result.best_step is None:
        return None
    if result.best_step == result.step:
        metrics = dict(final_eval)
    else:
        if result.best_checkpoint is None:
            return None
        policy = load_best_policy(result.best_checkpoint, result.best_step, make_policy)
        if policy is None:
            return None  # a stale file (not the best of this run's evaluations)
        first = next(e for e in result.evaluations if e.get("step") == result.best_step)
        metrics = _score(final_runner, runner, policy, first, result.best_step)
    return _save_with_interval(metrics, cache, int(final_eval.get("n_episodes", 0)))


def load_best_policy(path: str | Path, step: int, make_policy):
    """The policy weights that the periodic evaluation at ``step`` saved in ``path`` (the best
    checkpoint, ``checkpoints/<method>_best.pt``), loaded into ``make_policy()`` in eval mode;
    ``None`` when the file holds another step (a stale file)."""
    state = load_checkpoint(path, map_location="cpu")
    if int(state["step"]) != int(step):
        return None
    policy = make_policy()
    restore_checkpoint(state, model=policy, restore_rng=False)
    return policy.eval()


def final_evaluation(final_runner, runner, result, cache: Path, n_episodes: int) -> dict[str, Any]:
    """The last EMA policy on ``n_episodes`` episodes (reused from ``cache`` if there), with
    the success count and Wilson 95% interval (added when the runner does not report them)."""
    if cache.is_file():
        return json.loads(cache.read_text())
    last = result.evaluations[-1] if result.evaluations else None
    if last is not None and last.get("step") != result.step:
        last = None
    metrics = _score(final_runner, runner, result.eval_policy, last, result.step)
    return _save_with_interval(metrics, cache, n_episodes)


def _score(final_runner, runner, policy, periodic: dict[str, Any] | None, step: int) -> dict:
    """``final_runner``'s evaluation of ``policy``, reusing ``periodic`` (the periodic
    evaluation of the same weights, or ``None``): taken as is when the final runner is the
    periodic one, extended to the remaining test seeds for simulated runners."""
    from .sim import SimRunner, extend_evaluation

    if periodic is not None and final_runner is runner:
        metrics = dict(periodic)
    elif (
        periodic is not None
        and isinstance(final_runner, SimRunner)
        and isinstance(runner, SimRunner)
    ):
        # The periodic evaluation ran the same policy on the first test seeds.
        metrics = extend_evaluation(final_runner, policy, periodic)
    else:
        metrics = dict(final_runner.run(policy))
    metrics["step"] = step
    return metrics


def _save_with_interval(metrics: dict[str, Any], cache: Path, n_episodes: int) -> dict[str, Any]:
    """Add the success count and Wilson 95% interval where the runner did not report them,
    and cache the evaluation as JSON."""
    n = int(metrics.setdefault("n_episodes", n_episodes))
    k = int(metrics.setdefault("n_success", round(float(metrics["success_rate"]) * n)))
    lo, hi = wilson_interval(k, n)
    metrics.setdefault("ci_low", lo)
    metrics.setdefault("ci_high", hi)
    write_json_atomic(cache, metrics)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sym_in_dp.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", default="smoke", help="scale name or YAML file")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), help="default: config")
    parser.add_argument("--env-runner", help="closed-loop evaluation: package.module:factory")
    parser.add_argument("--task", help="benchmark task for the env runner (default: first)")
    parser.add_argument("--run-name", help="run directory name (default: train-<config>)")
    parser.add_argument("--runs-root", type=Path, help="default: $SYMLAB_RUNS or ./runs")
    parser.add_argument("--stop-after", type=int, help="stop after this many steps (resumable)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        cfg = load_experiment_config(args.config, args.overrides)
        factory = load_env_runner_factory(args.env_runner)
        name = args.run_name or f"train-{Path(str(args.config)).stem}"
        run = Run(PROJECT, cfg, seed=cfg.seed, root=args.runs_root, name=name)
        summaries = {}
        for method in args.methods or cfg.methods:
            summary = train_method(
                cfg,
                method,
                run,
                runner_factory=factory,
                task=args.task,
                stop_after=args.stop_after,
                device=args.device,
            )
            summaries[method] = summary
            offline = summary.get("offline")
            line = f"{method:<14} steps {summary['steps']:>6}  loss {summary['final_loss']:.4f}"
            if offline:
                line += "  offline: " + describe(offline)
            if summary["best_score"] is not None:
                line += f"  best success {summary['best_score']:.3f} @ {summary['best_step']}"
            final = summary.get("final_eval")
            if final:
                line += (
                    f"  final success {final['success_rate']:.3f} "
                    f"({final['n_success']}/{final['n_episodes']}, Wilson 95% "
                    f"[{final['ci_low']:.2f}, {final['ci_high']:.2f}])"
                )
            print(line)
    except (ConfigError, DatasetError, NonFiniteError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    run.write_summary(summaries)
    print(f"run directory: {run.path}" + (" (resumed)" if run.resumed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

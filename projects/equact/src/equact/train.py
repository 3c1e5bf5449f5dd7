"""Train an EquAct (or baseline) keyframe policy into a symlab run directory.

Usage::

    python -m equact.train --config {smoke,cpu,paper,<file.yaml>} [key=value ...]
        [--run-name NAME] [--runs-root DIR] [--stop-after STEPS]

Data come from ``data.source``: ``synthetic`` (this package's synthetic keyframe suite, see
:mod:`equact.data`) or ``benchmark`` (the shared keyframe suite, :mod:`equact.sim`). The checkpoint
``checkpoints/policy.pt`` holds state dicts, the config, the vocabulary and the generator states;
rerunning with the same run name resumes from it (a different config is refused). A NaN loss
stops training with an error naming the step.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from symlab.runs import (
    CheckpointError,
    ConfigError,
    NonFiniteError,
    Run,
    check_finite,
    config_to_dict,
    load_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)

from .config import ExperimentConfig, config_path, load_experiment_config
from .data import (
    KeyframeDataset,
    all_instructions,
    augment_se3,
    synthetic_dataset,
)
from .language import Vocabulary
from .model import KeyframePolicy, build_policy

PROJECT = "equact"


def build_datasets(
    cfg: ExperimentConfig, progress: bool = True
) -> tuple[KeyframeDataset, KeyframeDataset | None, Vocabulary]:
    """Training and test keyframe datasets and the instruction vocabulary.

    With ``data.source: benchmark`` the test set is None (the keyframe suite is evaluated closed
    loop in the simulator, :func:`equact.sim.evaluate_in_sim`) and ``train.meta["max_keyframes"]``
    holds the most expert keyframes of a training demo per task."""
    d = cfg.data
    if d.source == "synthetic":
        train = synthetic_dataset(
            d.tasks, d.demos_per_task, d.seed, d.n_points, d.n_focused, d.object_tilt_deg
        )
        test = synthetic_dataset(
            d.tasks,
            d.test_episodes_per_task,
            d.seed + 10_000,
            d.n_points,
            d.n_focused,
            d.object_tilt_deg,
        )
        vocab = Vocabulary.from_instructions(all_instructions(d.tasks))
    else:
        from .sim import benchmark_dataset

        data = benchmark_dataset(d, progress)
        train, test = data.dataset, None
        train.meta["max_keyframes"] = data.max_keyframes
        vocab = Vocabulary.from_instructions(data.instructions)
    return train, test, vocab


def make_optimizer(policy: torch.nn.Module, lr: float, weight_decay: float):
    """AdamW with no weight decay on biases, norms and other 1-d parameters (as in the paper)."""
    decay, no_decay = [], []
    for name, p in policy.named_parameters():
        (no_decay if p.ndim <= 1 or "norm" in name else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr)


@dataclass
class TrainResult:
    policy: KeyframePolicy
    vocab: Vocabulary
    step: int
    history: list[dict]
    checkpoint: Path | None


def load_policy(path: str | Path) -> tuple[KeyframePolicy, Vocabulary, ExperimentConfig]:
    """Rebuild a trained policy from ``checkpoints/policy.pt`` (weights_only load)."""
    from symlab.runs import config_from_dict

    state = load_checkpoint(path)
    try:
        cfg = config_from_dict(ExperimentConfig, state["config"])
        vocab = Vocabulary(state["extra"]["vocab"][2:])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is not an equact policy checkpoint: missing {exc}") from exc
    policy = build_policy(cfg.model, cfg.action, len(vocab))
    restore_checkpoint(state, model=policy, restore_rng=False)
    policy.eval()
    return policy, vocab, cfg


def train_policy(
    cfg: ExperimentConfig,
    train: KeyframeDataset,
    vocab: Vocabulary,
    checkpoint: Path | None = None,
    run: Run | None = None,
    stop_after: int | None = None,
    desc: str = "train",
    progress: bool = True,
) -> TrainResult:
    """Train (or resume from ``checkpoint``) for ``cfg.train.steps`` steps.

    Batches are drawn uniformly with replacement from ``train``, augmented by the paper's SE(3)
    augmentation, and passed to :meth:`KeyframePolicy.losses`. Same seed, same numbers.
    """
    t = cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    torch.manual_seed(cfg.seed)
    policy = build_policy(cfg.model, cfg.action, len(vocab))
    optimizer = make_optimizer(policy, t.lr, t.weight_decay)
    gen_batch = torch.Generator().manual_seed(cfg.seed + 1)
    gen_aug = torch.Generator().manual_seed(cfg.seed + 2)
    gen_ghost = torch.Generator().manual_seed(cfg.seed + 3)
    step, history = 0, []
    config_dict = config_to_dict(cfg)
    if checkpoint is not None and checkpoint.exists():
        state = restore_checkpoint(checkpoint, model=policy, optimizer=optimizer)
        if state.get("config") != config_dict:
            raise ValueError(f"checkpoint {checkpoint} was trained with another config")
        step, extra = state["step"], state["extra"]
        history = list(extra["history"])
        for gen, key in ((gen_batch, "gen_batch"), (gen_aug, "gen_aug"), (gen_ghost, "gen_ghost")):
            gen.set_state(extra[key])

    def save():
        if checkpoint is None:
            return
        save_checkpoint(
            checkpoint,
            model=policy,
            optimizer=optimizer,
            step=step,
            config=config_dict,
            extra={
                "vocab": vocab.words,
                "history": history,
                "gen_batch": gen_batch.get_state(),
                "gen_aug": gen_aug.get_state(),
                "gen_ghost": gen_ghost.get_state(),
            },
        )

    policy.train()
    end = t.steps if stop_after is None else min(t.steps, step + stop_after)
    bar = tqdm(total=t.steps, initial=step, desc=desc, disable=not progress, leave=False)
    running: dict[str, float] = {}
    while step < end:
        idx = torch.randint(len(train), (t.batch_size,), generator=gen_batch)
        batch = train.get(idx, vocab, cfg.model.max_tokens)
        batch = augment_se3(batch, t.aug_rot_deg, t.aug_retries, t.jitter, gen_aug)
        losses = policy.losses(batch, gen_ghost)
        check_finite(losses["total"], what=f"{desc} loss", step=step)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(policy.parameters(), t.grad_clip)
        optimizer.step()
        step += 1
        for k, v in losses.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
        bar.update(1)
        if step % t.log_every == 0 or step == end:
            n = t.log_every if step % t.log_every == 0 else (step % t.log_every)
            record = {"step": step, **{k: v / n for k, v in running.items()}}
            history.append(record)
            running = {}
            bar.set_postfix(loss=f"{record['total']:.3f}")
            if run is not None:
                run.log_metrics({f"{desc}/{k}": v for k, v in record.items() if k != "step"}, step)
        if step % t.checkpoint_every == 0 or step == end:
            save()
    bar.close()
    policy.eval()
    return TrainResult(policy, vocab, step, history, checkpoint)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m equact.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", default="smoke", help="scale name or YAML file")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    parser.add_argument("--run-name", help="run directory name (default: train-<config>-<kind>)")
    parser.add_argument("--runs-root", type=Path, help="default: $SYMLAB_RUNS or ./runs")
    parser.add_argument("--stop-after", type=int, help="stop after this many steps (resumable)")
    args = parser.parse_args(argv)
    try:
        cfg = load_experiment_config(args.config, args.overrides)
        torch.set_num_threads(cfg.train.threads or 1)
        name = args.run_name or f"train-{config_path(args.config).stem}-{cfg.model.kind}"
        run = Run(PROJECT, cfg, seed=cfg.seed, root=args.runs_root, name=name)
        train, _, vocab = build_datasets(cfg)
        result = train_policy(
            cfg, train, vocab, run.checkpoint_dir / "policy.pt", run, args.stop_after
        )
    except (ConfigError, NonFiniteError, CheckpointError, ValueError, NotImplementedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    last = result.history[-1] if result.history else {}
    run.write_summary({"step": result.step, **last})
    print(f"step {result.step}  loss {last.get('total', float('nan')):.4f}  -> {result.checkpoint}")
    print(f"run directory: {run.path}" + (" (resumed)" if run.resumed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training loop of diffusion policies with EMA and periodic closed-loop evaluation.

A plain PyTorch loop (the models are small enough on CPU that Lightning's per-step overhead
shows): AdamW, linear warm-up then cosine decay of the learning rate, an EMA copy of the
weights, state-dict checkpoints with exact resume, and an optional :class:`EnvRunner` called
every ``eval_every`` steps on the EMA policy, keeping the best score (the paper's protocol).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from symlab.runs import Run, check_finite, load_checkpoint, restore_checkpoint, save_checkpoint

from ._dataset import PolicyDataset
from ._ema import EMAModel
from ._rollout import EnvRunner


@dataclass
class TrainConfig:
    """Optimisation settings (diffusion policy defaults).

    Parameters
    ----------
    steps : int
        Optimiser steps.
    batch_size : int
        Windows per step (sampled uniformly with replacement).
    lr, betas, weight_decay :
        AdamW.
    warmup_steps : int
        Linear warm-up; then cosine decay to zero at ``steps`` (``lr_schedule='cosine'``).
    lr_schedule : {'cosine', 'constant'}
    use_ema : bool
        Keep an EMA of the weights and evaluate it.
    ema_power : float
        EMA warm-up exponent (0.75).
    eval_every : int
        Closed-loop evaluation period in steps (0: only after the last step). Needs an
        ``env_runner``.
    checkpoint_every : int
        Checkpoint period in steps (0: only at the end). Needs a checkpoint path.
    log_every : int
        Loss logging period.
    seed : int
        Seed of the batch sampling.
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.95, 0.999])
    weight_decay: float = 1e-6
    warmup_steps: int = 500
    lr_schedule: str = "cosine"
    use_ema: bool = True
    ema_power: float = 0.75
    eval_every: int = 0
    checkpoint_every: int = 0
    log_every: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(
                f"lr_schedule must be 'cosine' or 'constant', found {self.lr_schedule}"
            )
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be positive")


@dataclass
class TrainResult:
    """What :func:`train_policy` returns."""

    step: int
    losses: list[tuple[int, float]]
    evaluations: list[dict[str, Any]]
    best_score: float | None
    best_step: int | None
    samples_per_s: float
    eval_policy: Any = None  # the EMA policy (or the policy without EMA), in eval mode
    # the evaluated policy's weights at ``best_step`` (written next to the training checkpoint
    # as ``<name>_best.pt`` when there is one), for re-evaluating the selected checkpoint
    best_checkpoint: Path | None = None


def lr_lambda(config: TrainConfig):
    """Multiplier of the base learning rate at each step."""

    def f(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.lr_schedule == "constant":
            return 1.0
        span = max(1, config.steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return f


def train_policy(
    policy: torch.nn.Module,
    dataset: PolicyDataset,
    config: TrainConfig,
    *,
    env_runner: EnvRunner | None = None,
    score_key: str = "success_rate",
    run: Run | None = None,
    checkpoint_path: str | Path | None = None,
    stop_after: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``policy`` (which must already have its normalizer set) on ``dataset``.

    Parameters
    ----------
    policy : DiffusionPolicy
        With ``compute_loss(batch)``; its normalizer must be set before training (the EMA copy
        is taken at the start).
    dataset : PolicyDataset
        Training windows.
    config : TrainConfig
        Optimisation settings.
    env_runner : EnvRunner, optional
        Closed-loop evaluation; ``env_runner.run(ema_policy)[score_key]`` is tracked and the
        best value is returned. This is where a simulated benchmark plugs in.
    run : symlab.runs.Run, optional
        Metrics are logged to its ``metrics.jsonl``.
    checkpoint_path : path, optional
        Written every ``checkpoint_every`` steps and at the end; an existing file is resumed.
        With ``env_runner``, the evaluated (EMA) policy's weights are also written to
        ``<stem>_best<suffix>`` whenever an evaluation sets a new best score.
    stop_after : int, optional
        Stop after this step (simulates an interruption).
    progress : bool
        Show a tqdm bar.
    """
    params = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay
    )
    lr_sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config))
    ema = EMAModel(policy, power=config.ema_power) if config.use_ema else None
    device = next(policy.parameters()).device
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    step, losses, evaluations = 0, [], []
    best_score, best_step = None, None

    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    best_ckpt = ckpt.with_name(f"{ckpt.stem}_best{ckpt.suffix}") if ckpt is not None else None
    if ckpt is not None and ckpt.is_file():
        state = load_checkpoint(ckpt, map_location=device)
        modules = {"ema": ema} if ema is not None else {}
        restore_checkpoint(state, model=policy, optimizer=optimizer, scheduler=lr_sched, **modules)
        extra = state.get("extra", {})
        gen.set_state(extra["sampler_rng"].cpu())
        step = int(state["step"])
        losses = [tuple(x) for x in extra.get("losses", [])]
        evaluations = list(extra.get("evaluations", []))
        best_score, best_step = extra.get("best_score"), extra.get("best_step")

    def save() -> None:
        if ckpt is None:
            return
        modules = {"ema": ema} if ema is not None else {}
        save_checkpoint(
            ckpt,
            model=policy,
            optimizer=optimizer,
            scheduler=lr_sched,
            step=step,
            extra={
                "sampler_rng": gen.get_state(),
                "losses": [list(x) for x in losses],
                "evaluations": evaluations,
                "best_score": best_score,
                "best_step": best_step,
            },
            **modules,
        )

    def evaluate() -> None:
        nonlocal best_score, best_step
        eval_policy = ema.averaged_model if ema is not None else policy
        was_training = eval_policy.training
        eval_policy.eval()
        metrics = dict(env_runner.run(eval_policy))
        eval_policy.train(was_training)
        metrics["step"] = step
        evaluations.append(metrics)
        score = metrics.get(score_key)
        if score is not None and (best_score is None or score > best_score):
            best_score, best_step = float(score), step
            if best_ckpt is not None:
                save_checkpoint(best_ckpt, model=eval_policy, step=step, extra={score_key: score})
        if run is not None:
            run.log_metrics({f"eval/{k}": v for k, v in metrics.items() if k != "step"}, step)

    last = config.steps if stop_after is None else min(config.steps, stop_after)
    n = len(dataset)
    policy.train()
    bar = tqdm(total=last, initial=step, disable=not progress, desc="train", leave=False)
    t0, done0 = time.perf_counter(), step
    running = None
    while step < last:
        idx = torch.randint(n, (config.batch_size,), generator=gen)
        batch = dataset.batch(idx.to(dataset.action_index.device))
        loss = policy.compute_loss(batch)
        check_finite(loss, what="diffusion loss", step=step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr_sched.step()
        if ema is not None:
            ema.step(policy)
        step += 1
        value = float(loss.detach())
        running = value if running is None else 0.9 * running + 0.1 * value
        if step % config.log_every == 0 or step == last:
            losses.append((step, value))
            if run is not None:
                run.log_metrics({"train/loss": value, "lr": lr_sched.get_last_lr()[0]}, step)
            bar.set_postfix(loss=f"{running:.4f}")
        if env_runner is not None and config.eval_every and step % config.eval_every == 0:
            evaluate()
        if ckpt is not None and config.checkpoint_every and step % config.checkpoint_every == 0:
            save()
        bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - t0
    if env_runner is not None and step == config.steps:
        if not evaluations or evaluations[-1]["step"] != step:
            evaluate()
    save()
    throughput = (step - done0) * config.batch_size / elapsed if elapsed > 0 else float("nan")
    final = (ema.averaged_model if ema is not None else policy).eval()
    best_file = best_ckpt if best_ckpt is not None and best_ckpt.is_file() else None
    return TrainResult(
        step, losses, evaluations, best_score, best_step, throughput, final, best_file
    )

"""Reproduce what can be reproduced without the benchmark, and the closed-loop table with it.

Usage::

    python -m sym_in_dp.reproduce --scale {smoke,cpu,paper} [--env-runner package.module:factory]
        [--methods ...] [--skip-overfit] [--skip-benchmark]

Writes ``projects/sym_in_dp/results/<scale>/results.{json,md}`` and figures:

1. **Symmetry properties** (the paper's theorem and the equivariance of its components):
   relative/delta actions under random SE(3) world-frame changes (float64 and float32), the
   end-to-end invariance of the eye-in-hand + relative-action policy with gripper-frame
   proprioception versus the released absolute proprioception, Frame Averaging under 90- and
   45-degree image rotations, the escnn encoder and the EquiDiff denoiser under rotations.
2. **Overfitting**: every method trained on two synthetic demonstrations; the loss must drop
   at least 10x within 500 steps (cpu/paper scale).
3. **Throughput / latency** of every encoder variant on this machine.
4. **Closed-loop success** (the paper's table): only with ``--env-runner`` (the benchmark's
   tasks, issue 8). Without it no success rate is reported - nothing is simulated or guessed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from symlab.results import ResultsRecorder, results_dir
from symlab.runs import ConfigError, Run, seed_everything

from .benchmark import benchmark_method
from .checks import (
    ProbeEncoder,
    end_to_end_invariance_error,
    equidiff_equivariance_error,
    equivariant_encoder_errors,
    frame_averaging_errors,
    relative_action_invariance_error,
)
from .config import EYE_IN_HAND, ExperimentConfig, load_experiment_config
from .data import make_datasets, pose_action_buffer
from .encoders import FrameAveragedEncoder, crop_images
from .evaluation import load_env_runner_factory, wilson_interval
from .methods import METHODS, build_policy, image_encoder, obs_keys
from .synthetic import synthetic_buffer
from .train import fit_policy_normalizer, train_method

PROJECT = "sym_in_dp"
PAPER = "A Practical Guide for Incorporating Symmetry in Diffusion Policy (NeurIPS 2025)"
# Mean success (%) over 12 MimicGen tasks at 100 demos (secondary source; see the README).
PAPER_MEANS = {
    "Pretrain + FA (relative, eye-in-hand)": 61.4,
    "Equi Enc (relative)": 55.8,
    "CNN Enc (relative)": 46.7,
    "absolute + eye-in-hand": 40.8,
    "delta + eye-in-hand": 37.9,
    "EquiDiff (Im)": 53.7,
}
PAPER_ROW = {
    "cnn_abs": 40.8,
    "cnn_delta": 37.9,
    "cnn_rel": 46.7,
    "equienc_rel": 55.8,
    "fa_rel": 61.4,
    "equidiff_abs": 53.7,
}


def _windows(cfg: ExperimentConfig, method: str, n: int = 2):
    data = replace(cfg.data, n_demos=2, val_fraction=0.0)
    keys = obs_keys(method)
    train, _ = make_datasets(pose_action_buffer(synthetic_buffer(data)), data, cfg.model, keys)
    return train, train.batch(torch.arange(min(n, len(train))))


def symmetry_checks(cfg: ExperimentConfig, rec: ResultsRecorder) -> None:
    res = rec.results
    table = "Symmetry properties"
    for kind in ("relative", "delta"):
        for dtype, bound in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
            err = relative_action_invariance_error(dtype, kind)
            name = str(dtype).removeprefix("torch.")
            res.add(
                f"{kind} actions, max change under SE(3) world-frame change ({name})",
                err,
                upper=bound,
                table=table,
                note="theorem: eye-in-hand + relative/delta actions are SE(3)-invariant",
            )
    # End to end: the same policy weights with gripper-frame vs absolute proprioception.
    for method, crit in (("cnn_rel", {"upper": 1e-5}), ("cnn_rel_absproprio", {"lower": 1e-3})):
        ds, batch = _windows(cfg, method)
        torch.manual_seed(cfg.seed)
        policy = build_policy(method, cfg.model, cfg.data)
        fit_policy_normalizer(policy, ds)
        err = end_to_end_invariance_error(policy, batch["obs"])
        res.add(
            f"end-to-end |pi(g o) - g pi(o)|, {METHODS[method].label}",
            err,
            table=table,
            note="fixed diffusion noise, same eye-in-hand image",
            **crit,
        )
    # Rotation checks on the synthetic eye-in-hand frames with the most structure (the early
    # frames, with the block out of view, are uniform and invariant to every rotation).
    _, batch = _windows(cfg, "cnn_rel", n=10_000)
    frames = batch["obs"][EYE_IN_HAND][:, -1].movedim(-1, -3).float() / 255.0
    frames = crop_images(frames, cfg.data.crop, random=False)
    images = frames[frames.flatten(1).std(1).argsort(descending=True)[:4]]
    N = cfg.model.N
    probe = frame_averaging_errors(FrameAveragedEncoder(ProbeEncoder(N), N), images)
    res.add(
        f"FA 90-degree rotation vs cyclic shift by {N // 4} (C{N}), probe encoder",
        probe["rot90"],
        upper=1e-5,
        table=table,
        note="relative error; FA is equivariant for any encoder",
    )
    res.add(
        "FA 90-degree rotation vs shift in the other direction, probe encoder",
        probe["rot90_wrong_direction"],
        lower=1e-3,
        table=table,
        note="checks the shift direction (relative to the non-invariant part)",
    )
    res.add(
        f"FA 45-degree rotation vs cyclic shift by {N // 8}, probe encoder",
        probe["rot45"],
        table=table,
        note="interpolation (grid_sample) and cut corners: approximate",
    )
    torch.manual_seed(cfg.seed)
    fa = frame_averaging_errors(image_encoder("fa", cfg.model), images)
    res.add(
        f"FA(CNN) 90-degree rotation vs cyclic shift by {N // 4} (C{N})",
        fa["rot90"],
        upper=1e-5,
        table=table,
        note="relative to max |FA(x)|, which invariant biases dominate at initialisation",
    )
    res.add(
        f"FA(CNN) 45-degree rotation vs cyclic shift by {N // 8}",
        fa["rot45"],
        table=table,
        note="interpolation (grid_sample) and cut corners: approximate",
    )
    torch.manual_seed(cfg.seed)
    eq = equivariant_encoder_errors(image_encoder("equi", cfg.model), images)
    res.add(
        f"Equi Enc (escnn C{N}) 90-degree rotation",
        eq["rot90"],
        upper=1e-4,
        table=table,
        note="relative error",
    )
    if "rot45" in eq:
        res.add(
            f"Equi Enc (escnn C{N}) 45-degree rotation",
            eq["rot45"],
            table=table,
            note="approximate off the pixel grid's symmetry",
        )
    ds, batch = _windows(cfg, "equidiff_abs", n=4)
    torch.manual_seed(cfg.seed)
    policy = build_policy("equidiff_abs", cfg.model, cfg.data)
    fit_policy_normalizer(policy, ds)
    nobs = policy.normalizer.normalize(policy.preprocessor(batch["obs"]))
    err = equidiff_equivariance_error(policy, nobs)
    res.add(
        f"EquiDiff denoiser + obs encoder, 90-degree rotation (C{N})",
        err,
        upper=1e-4,
        table=table,
        note="relative error, eps(g a, g o, k) = g eps(a, o, k)",
    )


def overfitting(cfg: ExperimentConfig, methods: list[str], rec: ResultsRecorder, runs_root) -> dict:
    data = replace(cfg.data, n_demos=2, val_fraction=0.0)
    run_cfg = replace(cfg, data=data, train=cfg.overfit)
    run = Run(
        PROJECT,
        run_cfg,
        seed=cfg.seed,
        root=runs_root,
        name=f"reproduce-overfit-{rec.results.scale}",
    )
    curves = {}
    check = cfg.overfit.steps >= 500
    for method in methods:
        summary = train_method(run_cfg, method, run, progress=False)
        losses = np.array([v for _, v in summary["losses"]])
        k = max(1, min(10, len(losses) // 10))
        tail = max(1, min(50, len(losses) // 4))
        ratio = float(losses[:k].mean() / losses[-tail:].mean())
        curves[method] = losses
        rec.results.add(
            f"loss drop on 2 demos in {cfg.overfit.steps} steps, {METHODS[method].label}",
            ratio,
            lower=10.0 if check else None,
            table="Overfitting two demonstrations",
            unit="x",
            note=f"mean of first {k} / last {tail} step losses",
        )
        print(f"overfit {method}: {ratio:.1f}x", flush=True)
    return curves


def plot_curves(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, losses in curves.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, label=METHODS[method].label, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("DDPM loss")
    ax.set_title("Overfitting two synthetic demonstrations")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def throughput(cfg: ExperimentConfig, methods: list[str], rec: ResultsRecorder) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for method in methods:
        r = benchmark_method(cfg, method, device)
        label = METHODS[method].label
        rec.results.add(
            f"training throughput, {label}",
            r["train_samples_per_s"],
            table=f"Throughput ({device}, {torch.get_num_threads()} threads)",
            unit="samples/s",
            note=f"batch {cfg.benchmark.batch_size}",
        )
        rec.results.add(
            f"inference latency per action chunk, {label}",
            r["latency_s_per_chunk"],
            table=f"Throughput ({device}, {torch.get_num_threads()} threads)",
            unit="s",
            note=f"{cfg.model.num_inference_steps} {cfg.model.sampler} steps",
        )
        print(f"benchmark {method}: {r}", flush=True)


def closed_loop(cfg: ExperimentConfig, methods, factory, rec: ResultsRecorder, runs_root) -> None:
    for task in cfg.eval.tasks:
        for method in methods:
            scores = []
            for seed in cfg.eval.seeds:
                seed_cfg = replace(cfg, seed=seed)
                run = Run(
                    PROJECT,
                    seed_cfg,
                    seed=seed,
                    root=runs_root,
                    name=f"reproduce-{rec.results.scale}-{task}-{method}-s{seed}",
                )
                summary = train_method(seed_cfg, method, run, runner_factory=factory, task=task)
                scores.append(summary["best_score"])
            rate = 100.0 * float(np.mean(scores))
            lo, hi = wilson_interval(
                rate / 100 * cfg.eval.n_episodes * len(scores), cfg.eval.n_episodes * len(scores)
            )
            rec.results.add(
                f"best success, {task}, {METHODS[method].label}",
                rate,
                paper=PAPER_ROW.get(method),
                lower=80.0 if task == "lift" else None,
                table="Closed-loop success (best over periodic evaluations)",
                unit="%",
                note=f"Wilson 95% [{100 * lo:.0f}, {100 * hi:.0f}]; paper: 12-task MimicGen mean",
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sym_in_dp.reproduce", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", default="smoke", help="smoke, cpu, paper or a YAML file")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS))
    parser.add_argument("--env-runner", help="closed-loop evaluation: package.module:factory")
    parser.add_argument("--skip-overfit", action="store_true")
    parser.add_argument("--skip-benchmark", action="store_true")
    parser.add_argument("--runs-root", type=Path, help="default: $SYMLAB_RUNS or ./runs")
    parser.add_argument("--out", type=Path, help="results root (default: the project's results/)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        cfg = load_experiment_config(args.scale, args.overrides)
        factory = load_env_runner_factory(args.env_runner)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    scale = Path(str(args.scale)).stem
    if scale not in ("smoke", "cpu", "paper"):
        scale = "smoke"
    methods = args.methods or cfg.methods
    seed_everything(cfg.seed)
    rec = ResultsRecorder(PROJECT, PAPER, scale, args.out or results_dir(__file__, PROJECT))
    symmetry_checks(cfg, rec)
    if not args.skip_overfit:
        curves = overfitting(cfg, methods, rec, args.runs_root)
        plot_curves(curves, rec.figure_path("overfit_loss.png"))
    if not args.skip_benchmark:
        throughput(cfg, methods, rec)
    if factory is not None:
        closed_loop(cfg, methods, factory, rec, args.runs_root)
    else:
        rec.results.notes.append(
            "Closed-loop success rates are not reported: no env runner was given (the "
            "benchmark's closed-loop tasks, issue 8, plug in with --env-runner). Nothing is "
            "simulated or estimated in their place."
        )
    rec.results.notes.append(
        "Paper means (12 MimicGen tasks, 100 demos, secondary source): "
        + ", ".join(f"{k} {v}" for k, v in PAPER_MEANS.items())
        + ". The Pretrain rows need ImageNet weights, unavailable offline: FA runs on a randomly "
        "initialised ResNet-18 (FA-scratch)."
    )
    path = rec.write()
    n_checked, n_passed = rec.results.n_checked, rec.results.n_passed
    print(rec.results.to_markdown())
    print(f"{n_passed}/{n_checked} checks passed; results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

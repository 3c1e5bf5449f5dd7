"""Reproduce the symmetry properties, throughput and the closed-loop table on the benchmark.

Usage::

    python -m sym_in_dp.reproduce --scale {smoke,cpu,paper} [--methods ...] [--tasks ...]
        [--env-runner package.module:factory] [--skip-symmetry] [--skip-overfit] [--skip-benchmark]
        [--skip-table] [--skip-probe] [--report-only] [--keep-rows] [--device auto|cpu|cuda]

Writes ``projects/sym_in_dp/results/<scale>/results.{json,md}`` and figures:

1. **Symmetry properties** (the paper's theorem and the equivariance of its components):
   relative/delta actions under random SE(3) world-frame changes (float64 and float32), the
   end-to-end invariance of the eye-in-hand + relative-action policy with gripper-frame
   proprioception versus the released absolute proprioception, Frame Averaging under 90- and
   45-degree image rotations, the escnn encoder and the EquiDiff denoiser under rotations.
2. **Overfitting**: every method trained on two synthetic demonstrations; the loss must drop
   at least 10x within 500 steps (cpu/paper scale).
3. **Throughput / latency** of every method of the config on this machine.
4. **Closed-loop success** (the paper's table), when ``data.source`` is ``sim`` (cpu and paper
   scales; or with ``--env-runner``): every method of ``--methods`` (default: the config's) is
   trained on the scripted demonstrations of every task of ``--tasks`` (default:
   ``eval.tasks``) and evaluated on the benchmark's test seeds; only the (task, method) pairs
   that ran get rows, and the notes list those that did not. Runs are reused/resumed by name
   (``reproduce-<scale>-<task>-<method>-s<seed>``), so methods can be trained separately (e.g.
   in parallel with ``python -m sym_in_dp.train --run-name ...``) and collected here.
5. **Generalisation probe** (spec 7.2, config ``probe``, benchmark only): the methods of
   ``probe.methods`` trained with the cube in one half of the workspace (``lift_d1_half``) and
   scored in it, in the other half (the same scenes turned 180 degrees about the workspace
   centre) and with the whole scene turned; the drop is compared with CNN-abs's.

``--keep-rows`` keeps the rows of the existing results file that this invocation did not
measure (each marked with the earlier run's date and revision): a table whose runs were made on
different machines, or in sessions whose run directories are gone, is extended rather than
replaced.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from symlab.results import ResultsError, ResultsRecorder, load_results, results_dir
from symlab.runs import ConfigError, Run, resolve_device, seed_everything, write_json_atomic
from symlab.runs import runs_root as default_runs_root

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
from .train import evaluation_cache, fit_policy_normalizer, load_best_policy, train_method

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
# The paper row each method is compared with.
PAPER_METHOD = {
    "cnn_abs": "absolute + eye-in-hand",
    "cnn_delta": "delta + eye-in-hand",
    "cnn_rel": "CNN Enc (relative)",
    "equienc_rel": "Equi Enc (relative)",
    "fa_rel": "Pretrain + FA (relative, eye-in-hand)",
    "equidiff_abs": "EquiDiff (Im)",
    # the paper ran its released policies, whose relative-action rows read absolute proprioception
    "cnn_rel_absproprio": "CNN Enc (relative)",
}
PAPER_ROW = {method: PAPER_MEANS[row] for method, row in PAPER_METHOD.items()}
# The paper's orderings (spec 7.2), checked on Stack D1 within 5 points: (better, worse).
ORDERINGS = (("cnn_rel", "cnn_abs"), ("equienc_rel", "cnn_rel"), ("fa_rel", "cnn_rel"))
# Reported without a criterion when both ran: CNN-rel with the released (absolute)
# proprioception against CNN-abs, and against the exactly invariant CNN-rel.
INFORMATIONAL_ORDERINGS = (("cnn_rel_absproprio", "cnn_abs"), ("cnn_rel_absproprio", "cnn_rel"))
ORDERING_TASK = "stack_d1"
ORDERING_SLACK = 5.0


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


def overfitting(
    cfg: ExperimentConfig, methods: list[str], rec: ResultsRecorder, runs_root, device="cpu"
) -> dict:
    data = replace(cfg.data, source="synthetic", n_demos=2, val_fraction=0.0)
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
        summary = train_method(run_cfg, method, run, progress=False, device=device)
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


def throughput(cfg: ExperimentConfig, methods: list[str], rec: ResultsRecorder, device) -> None:
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


def pooled_success(evals: list[dict]) -> tuple[int, int, float, float]:
    """Successes and episodes summed over seeds, with the Wilson 95% interval."""
    k = sum(int(f["n_success"]) for f in evals)
    n = sum(int(f["n_episodes"]) for f in evals)
    return (k, n, *wilson_interval(k, n))


def seed_runs(
    cfg: ExperimentConfig,
    method: str,
    task: str,
    scale: str,
    runs_root,
    report_only: bool,
    device,
    factory=None,
    finished: str = "final",
) -> list[tuple[ExperimentConfig, Run, dict]] | None:
    """Train (or resume, or reuse) ``method`` on ``task`` for every seed of ``eval.seeds``, as
    the runs ``reproduce-<scale>-<task>-<method>-s<seed>``; returns ``(config of the seed, run,
    summary)`` per seed. With ``report_only`` nothing is trained or evaluated, and ``None`` is
    returned unless every run has cached its ``finished`` ("final" or "best") evaluation."""
    root = default_runs_root(runs_root)
    names = [f"reproduce-{scale}-{task}-{method}-s{s}" for s in cfg.eval.seeds]
    if report_only and not all(
        evaluation_cache(root / PROJECT / n, finished, method).is_file() for n in names
    ):
        return None
    out = []
    for seed, name in zip(cfg.eval.seeds, names):
        seed_cfg = replace(cfg, seed=seed)
        run = Run(PROJECT, seed_cfg, seed=seed, root=runs_root, name=name)
        summary = train_method(
            seed_cfg,
            method,
            run,
            runner_factory=factory,
            task=task,
            stop_after=0 if report_only else None,
            device=device,
        )
        out.append((seed_cfg, run, summary))
    return out


def closed_loop(
    cfg: ExperimentConfig,
    methods,
    tasks,
    factory,
    rec: ResultsRecorder,
    runs_root,
    report_only: bool = False,
    device="cpu",
) -> dict[tuple[str, str], tuple[int, int] | None]:
    """Train and evaluate every (task, method, seed).

    Returns the (task, method) pairs run, each with its pooled (successes, episodes) under the
    paper's protocol (the best periodic checkpoint re-evaluated, else the final EMA policy;
    None without a closed-loop evaluation).

    Runs are named ``reproduce-<scale>-<task>-<method>-s<seed>``: a finished run (for example
    one trained separately with ``python -m sym_in_dp.train --run-name`` of that name and the
    same config) is reused, and an interrupted one resumes from its checkpoint. With
    ``report_only`` nothing is trained or evaluated: only (task, method) pairs whose runs have
    all finished (their final evaluation is cached) are tabulated.
    """
    table = "Closed-loop success"
    done: dict[tuple[str, str], tuple[int, int] | None] = {}
    for task in tasks:
        for method in methods:
            runs = seed_runs(
                cfg, method, task, rec.results.scale, runs_root, report_only, device, factory
            )
            if runs is None:
                continue
            finals, bests, summaries, run_paths, best_evals = [], [], [], [], []
            for _, run, summary in runs:
                summaries.append(summary)
                run_paths.append(run.path)
                if summary.get("final_eval"):
                    finals.append(summary["final_eval"])
                if summary["best_score"] is not None:
                    bests.append(summary["best_score"])
                if summary.get("best_eval"):
                    best_evals.append(summary["best_eval"])
            label = METHODS[method].label
            seeds = len(cfg.eval.seeds)
            # The >= 80% bar of the issue applies to the paper's protocol (the best periodic
            # checkpoint), scored on the final evaluation's episodes when every seed kept it.
            selected = len(best_evals) == len(cfg.eval.seeds)
            if selected:
                k, n, lo, hi = pooled_success(best_evals)
                steps = ", ".join(str(f["step"]) for f in best_evals)
                rec.results.add(
                    f"success, {task}, {label} (best periodic checkpoint, re-evaluated)",
                    100.0 * k / n,
                    paper=PAPER_ROW.get(method),
                    lower=80.0 if task == "lift" else None,
                    table=table,
                    unit="%",
                    note=f"{k}/{n} episodes, checkpoint of step {steps} (the best periodic "
                    f"score), Wilson 95% [{100 * lo:.0f}, {100 * hi:.0f}]; paper: 12-task "
                    "MimicGen mean, best checkpoint",
                )
            if finals:
                k, n, lo, hi = pooled_success(finals)
                rec.results.add(
                    f"success, {task}, {label} (final EMA policy)",
                    100.0 * k / n,
                    paper=None if selected else PAPER_ROW.get(method),
                    lower=80.0 if task == "lift" and not selected else None,
                    table=table,
                    unit="%",
                    note=f"{k}/{n} episodes ({seeds} seed(s), test seeds from 100000), Wilson 95% "
                    f"[{100 * lo:.0f}, {100 * hi:.0f}]"
                    + ("" if selected else "; paper: 12-task MimicGen mean"),
                )
            if bests:
                evals = summaries[0]["evaluations"]
                n_per = int(evals[0]["n_episodes"]) if evals and "n_episodes" in evals[0] else 0
                rec.results.add(
                    f"best periodic success, {task}, {label} (paper protocol)",
                    100.0 * float(np.mean(bests)),
                    table=table,
                    unit="%",
                    note=f"best of {len(evals)} evaluations every {cfg.train.eval_every} steps, "
                    f"{n_per} episodes each, mean over {seeds} seed(s)",
                )
            s0 = summaries[0]
            rates = [logged_throughput(r, cfg.train.batch_size) for r in run_paths]
            rec.results.add(
                f"training throughput on {task} demos, {label}",
                float(np.mean(rates)),
                table="Closed-loop runs: cost",
                unit="samples/s",
                note=f"median over the logged {cfg.train.log_every}-step intervals (evaluations "
                f"excluded); {s0['steps']} steps at batch {cfg.train.batch_size}, "
                f"{s0['n_demos']} demos, {s0['n_windows']} windows",
            )
            if finals and "seconds_per_episode" in finals[0]:
                rec.results.add(
                    f"evaluation seconds per episode, {task}, {label}",
                    float(np.mean([f["seconds_per_episode"] for f in finals])),
                    table="Closed-loop runs: cost",
                    unit="s",
                    note=f"mean {finals[0]['mean_steps']:.0f} steps per episode; rendering, "
                    f"physics and {cfg.model.num_inference_steps} {cfg.model.sampler} steps per "
                    f"chunk (latency {finals[0]['latency_s_per_chunk']:.3f} s)",
                )
            print(
                f"closed loop {task} {method}: "
                + ", ".join(f"{f['n_success']}/{f['n_episodes']}" for f in finals),
                flush=True,
            )
            protocol = best_evals if selected else finals
            done[(task, method)] = pooled_success(protocol)[:2] if protocol else None
    return done


def orderings(scores: dict[tuple[str, str], tuple[int, int] | None], rec: ResultsRecorder) -> None:
    """The paper's method orderings as differences in success (points) on every task where both
    methods were evaluated; on Stack D1 each must hold within 5 points (spec 7.2)."""
    pairs = [(o, True) for o in ORDERINGS] + [(o, False) for o in INFORMATIONAL_ORDERINGS]
    for task in dict.fromkeys(t for t, _ in scores):
        for (better, worse), checked in pairs:
            a, b = scores.get((task, better)), scores.get((task, worse))
            if a is None or b is None:
                continue
            diff = 100.0 * (a[0] / a[1] - b[0] / b[1])
            # With no success for either method the difference is 0 whatever the methods are
            # worth: it is reported, not counted as reproducing the ordering.
            floor = a[0] == 0 and b[0] == 0
            strict = checked and task == ORDERING_TASK and not floor
            bar = f"; must be >= -{ORDERING_SLACK:g} on {task}" if strict else "; not a criterion"
            if floor:
                bar += " (no episode succeeded for either method, so the ordering is not measured)"
            rec.results.add(
                f"{task}: {METHODS[better].label} minus {METHODS[worse].label}",
                diff,
                # two of our variants of one paper row have no paper difference
                paper=None
                if PAPER_METHOD[better] == PAPER_METHOD[worse]
                else round(PAPER_ROW[better] - PAPER_ROW[worse], 1),
                lower=-ORDERING_SLACK if strict else None,
                table="Closed-loop orderings",
                unit="points",
                note=f"{a[0]}/{a[1]} vs {b[0]}/{b[1]} episodes (paper protocol rows); paper: "
                "difference of the 12-task MimicGen means"
                + (" (Pretrain + FA)" if better == "fa_rel" else "")
                + bar,
            )


PROBE_BASELINE = "cnn_abs"


def _probe_conditions(cfg: ExperimentConfig) -> list[tuple[str, str, bool]]:
    """``(label, task, whole scene turned)`` of every test condition of the probe."""
    train = cfg.probe.train_task
    conds = [(train, train, False)]
    conds += [(task, task, False) for task in cfg.probe.test_tasks if task != train]
    if cfg.probe.scene_yaw:
        conds.append((f"{cfg.probe.train_task}, whole scene turned", cfg.probe.train_task, True))
    return conds


def _best_policy(cfg: ExperimentConfig, method: str, summary: dict, step: int, device):
    """The run's best periodic checkpoint as a policy, checked against ``step``."""
    from symlab.runs import CheckpointError

    path = summary.get("best_checkpoint")
    policy = None
    if path is not None:
        policy = load_best_policy(
            path, step, lambda: build_policy(method, cfg.model, cfg.data).to(device)
        )
    if policy is None:
        raise CheckpointError(
            f"the best periodic checkpoint of step {step} ({path}) is missing or holds another "
            "step: delete the run directory to retrain"
        )
    return policy


def generalisation_probe(
    cfg: ExperimentConfig,
    rec: ResultsRecorder,
    runs_root,
    report_only=False,
    device="cpu",
    methods: list[str] | None = None,
) -> dict[str, dict[str, tuple[int, int]]]:
    """Spec 7.2: train in half of the workspace, test under a yaw rotation.

    Every method of ``cfg.probe.methods`` is trained on ``probe.train_task`` like a row of the
    closed-loop table (run ``reproduce-<scale>-<train_task>-<method>-s<seed>``, resumed or
    reused by name). Its best periodic checkpoint (re-evaluated on ``eval.n_episodes`` episodes
    of the training task: the in-distribution score) is scored on the same test seeds of every
    other test condition (:func:`_probe_conditions`); each score is cached in the run directory.
    The drop from the in-distribution score is compared with CNN-abs's: the paper expects the
    invariant and equivariant variants to degrade less. ``methods`` restricts
    ``probe.methods``. Returns ``{method: {condition: (k, n)}}``.
    """
    from symlab.sim import PerturbationConfig

    from .sim import SimRunner

    probe = cfg.probe
    table = f"Generalisation probe (trained on {probe.train_task})"
    conds = _probe_conditions(cfg)
    scores: dict[str, dict[str, tuple[int, int]]] = {}
    for method in [m for m in probe.methods if methods is None or m in methods]:
        label = METHODS[method].label
        runs = seed_runs(
            cfg,
            method,
            probe.train_task,
            rec.results.scale,
            runs_root,
            report_only,
            device,
            finished="best",
        )
        if runs is None:
            continue
        per_cond: dict[str, list[dict]] = {c: [] for c, _, _ in conds}
        for seed_cfg, run, summary in runs:
            seed = seed_cfg.seed
            best = summary.get("best_eval")
            if best is None:
                raise ValueError(
                    f"generalisation probe: run {run.path} has no best periodic checkpoint "
                    "evaluation (set train.eval_every so that training evaluates periodically)"
                )
            policy = None
            for cond, task, turned in conds:
                if task == probe.train_task and not turned:
                    per_cond[cond].append(best)  # the same policy, task and test seeds
                    continue
                cache = run.path / f"probe_eval_{method}_{task}{'_turned' if turned else ''}.json"
                if cache.is_file():
                    per_cond[cond].append(json.loads(cache.read_text()))
                    continue
                if report_only:
                    break
                if policy is None:
                    policy = _best_policy(seed_cfg, method, summary, best["step"], device)
                runner = SimRunner(
                    task,
                    cfg.eval.n_episodes,
                    obs_keys(method),
                    cfg.data.image_size,
                    seed=seed,
                    out_dir=run.path / "rollouts" / f"{method}-probe-{cache.stem}",
                    max_steps=cfg.eval.max_steps or None,
                    perturbation=PerturbationConfig("se2", max_translation=0.0) if turned else None,
                )
                metrics = dict(runner.run(policy), step=best["step"])
                write_json_atomic(cache, metrics)
                per_cond[cond].append(metrics)
                print(f"probe {method} {cond}: {metrics['n_success']}/{metrics['n_episodes']}")
        scores[method] = {}
        for cond, _, _ in conds:
            if len(per_cond[cond]) != len(runs):
                continue
            k, n, lo, hi = pooled_success(per_cond[cond])
            scores[method][cond] = (k, n)
            rec.results.add(
                f"success, {label}, {cond}",
                100.0 * k / n,
                table=table,
                unit="%",
                note=f"{k}/{n} episodes, best periodic checkpoint (step "
                + ", ".join(str(e["step"]) for e in per_cond[cond])
                + f"), Wilson 95% [{100 * lo:.0f}, {100 * hi:.0f}]",
            )
    base = scores.get(PROBE_BASELINE, {})
    first = conds[0][0]
    for method, by_cond in scores.items():
        if method == PROBE_BASELINE or first not in by_cond or first not in base:
            continue
        for cond, _, _ in conds[1:]:
            if cond not in by_cond or cond not in base:
                continue
            (k0, n0), (k1, n1) = by_cond[first], by_cond[cond]
            (b0, m0), (b1, m1) = base[first], base[cond]
            drop, base_drop = 100.0 * (k0 / n0 - k1 / n1), 100.0 * (b0 / m0 - b1 / m1)
            # Neither policy succeeds in distribution: there is nothing to lose.
            floor = k0 == 0 and b0 == 0
            rec.results.add(
                f"drop {first} -> {cond}: {METHODS[method].label} minus "
                f"{METHODS[PROBE_BASELINE].label}",
                drop - base_drop,
                upper=None if floor else 0.0,
                table=table,
                unit="points",
                note=f"drops {drop:+.0f} vs {base_drop:+.0f} points (success in distribution "
                f"{k0}/{n0} vs {b0}/{m0}); the paper expects the invariant/equivariant variant "
                "to degrade less (<= 0)"
                + (" (neither succeeds in distribution: not measured)" if floor else ""),
            )
    return scores


def plot_probe(scores: dict[str, dict[str, tuple[int, int]]], path: Path) -> None:
    """Success per method and test condition of the generalisation probe."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = list(dict.fromkeys(c for by in scores.values() for c in by))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(1, len(scores))
    for i, (method, by_cond) in enumerate(scores.items()):
        x = np.arange(len(conds)) + (i - (len(scores) - 1) / 2) * width
        # A condition this method was not scored on is left blank, not drawn as 0%.
        kn = [by_cond.get(c) for c in conds]
        p = np.array([x[0] / x[1] if x else np.nan for x in kn])
        lo, hi = np.array([wilson_interval(*x) if x else (np.nan, np.nan) for x in kn]).T
        ax.bar(x, 100 * p, width, label=METHODS[method].label)
        ax.errorbar(x, 100 * p, yerr=100 * np.stack([p - lo, hi - p]), fmt="none", c="k", lw=1)
    ax.set_xticks(np.arange(len(conds)), [c.replace(", ", ",\n") for c in conds], fontsize=7)
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Generalisation probe (Wilson 95% intervals)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def logged_throughput(run_path: Path, batch_size: int) -> float:
    """Median training samples/s over consecutive logged steps of ``metrics.jsonl``.

    Intervals that contain an evaluation or a restart (resumed runs log time from the new
    process's start) are left out, so the value measures optimisation steps only, also for a
    run that was trained in several sessions.
    """
    rows = []
    path = Path(run_path) / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        row = json.loads(line)
        if "train/loss" in row:
            rows.append((int(row["step"]), float(row["time"])))
    evals = {
        int(row["step"])
        for row in map(json.loads, path.read_text().splitlines() if path.is_file() else [])
        if any(k.startswith("eval/") for k in row)
    }
    rates = []
    for (s0, t0), (s1, t1) in zip(rows, rows[1:]):
        if s1 > s0 and t1 > t0 and not any(s0 <= e < s1 for e in evals):
            rates.append((s1 - s0) * batch_size / (t1 - t0))
    return float(np.median(rates)) if rates else float("nan")


def collection_costs(cfg: ExperimentConfig, tasks, rec: ResultsRecorder) -> None:
    """Collection time of the cached demonstrations (recorded when they were collected)."""
    from .sim import collect_demos

    for task in tasks:
        path = collect_demos(task, cfg.data)
        info_file = path.with_suffix(".json")
        if info_file.is_file():
            info = json.loads(info_file.read_text())
            rec.results.add(
                f"demonstration collection time, {task}",
                info["collect_seconds"],
                table="Closed-loop runs: cost",
                unit="s",
                note=f"{info['n_demos']} scripted demos, {info['image_size']}px eye-in-hand + "
                f"agentview, {info['workers']} worker process(es)"
                + (f"; {info['note']}" if info.get("note") else ""),
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sym_in_dp.reproduce", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", default="smoke", help="smoke, cpu, paper or a YAML file")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), help="default: config")
    parser.add_argument("--tasks", nargs="+", help="closed-loop tasks (default: eval.tasks)")
    parser.add_argument("--env-runner", help="closed-loop evaluation: package.module:factory")
    parser.add_argument("--skip-symmetry", action="store_true", help="no property checks")
    parser.add_argument("--skip-overfit", action="store_true")
    parser.add_argument("--skip-benchmark", action="store_true")
    parser.add_argument(
        "--skip-table", action="store_true", help="no closed-loop method table (e.g. probe only)"
    )
    parser.add_argument(
        "--skip-probe", action="store_true", help="no generalisation probe (config 'probe')"
    )
    parser.add_argument(
        "--keep-rows",
        action="store_true",
        help="keep the rows of the existing results file that this invocation does not "
        "measure (marked with the earlier run's date), e.g. when the runs of a table were "
        "made on different machines",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train and evaluate nothing new: tabulate the finished closed-loop runs only",
    )
    parser.add_argument("--runs-root", type=Path, help="default: $SYMLAB_RUNS or ./runs")
    parser.add_argument("--out", type=Path, help="results root (default: the project's results/)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        cfg = load_experiment_config(args.scale, args.overrides)
        factory = load_env_runner_factory(args.env_runner)
        device = resolve_device(args.device)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    scale = Path(str(args.scale)).stem
    if scale not in ("smoke", "cpu", "paper"):
        scale = "smoke"
    methods = args.methods or cfg.methods
    seed_everything(cfg.seed)
    rec = ResultsRecorder(PROJECT, PAPER, scale, args.out or results_dir(__file__, PROJECT))
    if not args.skip_symmetry:
        symmetry_checks(cfg, rec)
    if not args.skip_overfit:
        curves = overfitting(cfg, methods, rec, args.runs_root, device)
        plot_curves(curves, rec.figure_path("overfit_loss.png"))
    if not args.skip_benchmark:
        throughput(cfg, cfg.methods, rec, device)
    tasks = args.tasks or cfg.eval.tasks
    if args.skip_table:
        rec.results.notes.append("The closed-loop method table was not run (--skip-table).")
    elif factory is not None or cfg.data.source == "sim":
        done = closed_loop(
            cfg, methods, tasks, factory, rec, args.runs_root, args.report_only, device
        )
        if cfg.data.source == "sim":
            collection_costs(cfg, list(dict.fromkeys(t for t, _ in done)), rec)
        orderings(done, rec)
        missing = [f"{t}/{m}" for t in cfg.eval.tasks for m in cfg.methods if (t, m) not in done]
        rec.results.notes.append(
            "Closed-loop rows were measured for: "
            + ", ".join(f"{t}/{m}" for t, m in done)
            + ". Not run in this invocation"
            + (" or not finished" if args.report_only else "")
            + " (no number is reported for them): "
            + (", ".join(missing) if missing else "none")
            + "."
        )
    else:
        rec.results.notes.append(
            "Closed-loop success rates are not reported: data.source is not 'sim' and no env "
            "runner was given. Nothing is simulated or estimated in their place."
        )
    if cfg.probe.methods and cfg.data.source == "sim" and not args.skip_probe:
        probe = generalisation_probe(
            cfg, rec, args.runs_root, args.report_only, device, args.methods
        )
        if probe:
            plot_probe(probe, rec.figure_path("generalisation_probe.png"))
    rec.results.notes.append(
        "Paper means (12 MimicGen tasks, 100 demos, secondary source): "
        + ", ".join(f"{k} {v}" for k, v in PAPER_MEANS.items())
        + ". The Pretrain rows need ImageNet weights, unavailable offline: FA runs on a randomly "
        "initialised ResNet-18 (FA-scratch)."
    )
    previous = rec.out_dir / "results.json"
    if args.keep_rows and previous.is_file():
        try:
            kept = rec.results.keep_rows_of(load_results(previous), figure_dir=rec.out_dir)
        except ResultsError as exc:
            print(f"error: --keep-rows: {exc}", file=sys.stderr)
            return 1
        print(f"kept {len(kept)} rows of {previous} that this invocation did not measure")
    path = rec.write()
    n_checked, n_passed = rec.results.n_checked, rec.results.n_passed
    print(rec.results.to_markdown())
    print(f"{n_passed}/{n_checked} checks passed; results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training throughput and inference latency of every encoder variant.

Usage::

    python -m sym_in_dp.benchmark --config {smoke,cpu,paper} [--methods ...] [--device cpu|cuda]

Training throughput is samples/s of full optimisation steps (encoder + U-Net forward/backward,
AdamW) at ``benchmark.batch_size``; latency is the wall time of one ``predict_action`` call for
one environment (a whole action chunk: ``num_inference_steps`` denoising steps). Synthetic
windows are used, so no dataset or simulator is needed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from symlab.runs import ConfigError, resolve_device

from .config import ExperimentConfig, load_experiment_config
from .data import make_datasets, pose_action_buffer
from .evaluation import replace_readme_block
from .methods import METHODS, build_policy, obs_keys
from .synthetic import synthetic_buffer
from .train import fit_policy_normalizer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def benchmark_method(cfg: ExperimentConfig, method: str, device: str = "cpu") -> dict[str, float]:
    """Throughput (samples/s) and latency (s per action chunk) of one method."""
    dev = resolve_device(device)
    keys = obs_keys(method)
    from dataclasses import replace

    data_cfg = replace(cfg.data, n_demos=2, val_fraction=0.0)
    train_ds, _ = make_datasets(
        pose_action_buffer(synthetic_buffer(data_cfg)), data_cfg, cfg.model, keys, device=dev
    )
    torch.manual_seed(cfg.seed)
    policy = build_policy(method, cfg.model, cfg.data).to(dev)
    fit_policy_normalizer(policy, train_ds)
    policy.train()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    bench = cfg.benchmark
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        idx = torch.randint(len(train_ds), (bench.batch_size,), generator=gen).to(dev)
        loss = policy.compute_loss(train_ds.batch(idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(bench.warmup_steps):
        step()
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(bench.train_steps):
        step()
    _sync(dev)
    train_time = time.perf_counter() - t0
    policy.eval()
    obs = train_ds.batch(torch.tensor([0], device=dev))["obs"]
    policy.predict_action(obs)  # warm-up (escnn expands its filters on eval())
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(bench.latency_repeats):
        policy.predict_action(obs)
    _sync(dev)
    latency = (time.perf_counter() - t0) / bench.latency_repeats
    return {
        "train_samples_per_s": bench.train_steps * bench.batch_size / train_time,
        "latency_s_per_chunk": latency,
        "parameters": float(sum(p.numel() for p in policy.parameters())),
        "inference_steps": float(cfg.model.num_inference_steps),
    }


def device_label(device: torch.device, threads: int) -> str:
    """What the table's device column says: the GPU's name, or the CPU's thread count."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device} ({threads} thread{'s' if threads > 1 else ''})"


def markdown_table(rows: dict[str, dict[str, float]], device: torch.device, threads: int) -> str:
    label = device_label(device, threads)
    lines = [
        "| method | train samples/s | latency per chunk (s) | parameters | device |",
        "|---|---|---|---|---|",
    ]
    for method, r in rows.items():
        lines.append(
            f"| {METHODS[method].label} | {r['train_samples_per_s']:.1f} | "
            f"{r['latency_s_per_chunk']:.3f} | {int(r['parameters']):,} | {label} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sym_in_dp.benchmark", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", default="cpu", help="scale name or YAML file")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto (default: cpu)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    parser.add_argument(
        "--readme", action="store_true", help="write the table into the project README"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        cfg = load_experiment_config(args.config, args.overrides)
        device = resolve_device(args.device)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = {}
    for method in args.methods or cfg.methods:
        rows[method] = benchmark_method(cfg, method, device)
        r = rows[method]
        print(
            f"{method:<14} {r['train_samples_per_s']:8.1f} samples/s  "
            f"{r['latency_s_per_chunk']:.3f} s/chunk",
            flush=True,
        )
    table = markdown_table(rows, device, args.threads)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    if args.readme:
        readme = Path(__file__).resolve().parents[2] / "README.md"
        command = " ".join(["python -m sym_in_dp.benchmark", *(argv or sys.argv[1:])])
        block = f"benchmark-{device.type}"
        if args.config != "cpu":
            block += f"-{Path(args.config).stem}"
        if not replace_readme_block(readme, block, f"`{command}`:\n\n{table}"):
            print(f"no <!-- {block}:begin --> block in {readme}; table not written", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

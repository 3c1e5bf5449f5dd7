"""Throughput benchmark: environment steps per second by observation config, and parallel
evaluation scaling with the number of processes. Writes ``throughput.json`` and
``throughput.png`` under ``shared/benchmarks/sim`` (recorded figures, not timed tests).

    python -m symlab.sim.throughput --steps 200 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .benchmark import DEFAULT_OUT
from .config import CameraConfig, ObservationConfig


def _configs(size_small: int = 84, size_large: int = 128) -> dict[str, ObservationConfig]:
    four = tuple(
        CameraConfig(n, size_large, size_large, depth=True)
        for n in ("front", "left_shoulder", "right_shoulder", "wrist")
    )
    return {
        "no cameras": ObservationConfig(),
        f"eye-in-hand + agentview RGB {size_small}x{size_small}": ObservationConfig.mimicgen(
            size_small
        ),
        f"4 RGB-D cameras {size_large}x{size_large}": ObservationConfig(cameras=four),
        f"4 RGB-D {size_large} + fused point cloud": ObservationConfig(
            cameras=four, point_cloud=True
        ),
    }


def measure_steps(task: str, obs: ObservationConfig, n_steps: int, seed: int = 0) -> float:
    """Steps/s of ``SimEnv.step`` (hold-pose actions with small noise), rendering included."""
    from scipy.spatial.transform import Rotation

    from .env import SimEnv

    env = SimEnv(task, obs=obs, terminate_on_success=False, max_steps=10**9)
    env.reset(seed)
    rng = np.random.default_rng(seed)
    T = env.eef_pose
    base = np.concatenate([T[:3, 3], Rotation.from_matrix(T[:3, :3]).as_rotvec(), [-1.0]])
    env.step(base)  # warm-up (first render creates the GL context)
    t0 = time.perf_counter()
    for _ in range(n_steps):
        a = base.copy()
        a[:3] += rng.uniform(-0.02, 0.02, size=3)
        env.step(a)
    dt = time.perf_counter() - t0
    env.close()
    return n_steps / dt


def measure_robosuite_step(n_steps: int) -> float:
    """robosuite's own ``Lift.step`` (its observables, no cameras), for reference."""
    from ._robosuite import import_robosuite

    suite = import_robosuite()
    env = suite.make(
        "Lift",
        robots="Panda",
        has_renderer=False,
        has_offscreen_renderer=False,
        use_camera_obs=False,
        hard_reset=False,
        control_freq=20,
    )
    env.reset()
    t0 = time.perf_counter()
    for _ in range(n_steps):
        env.step(np.zeros(env.action_dim))
    dt = time.perf_counter() - t0
    env.close()
    return n_steps / dt


def measure_parallel(task: str, episodes_per_worker: int, workers: int) -> dict:
    """Aggregate throughput of ``evaluate`` with ``workers`` processes.

    Each worker's rate is its steps over its busy span (first episode start to last episode
    end, so process start and model compilation are excluded); ``steps_per_s`` is their sum,
    valid while the workers run concurrently (``overlap`` is the fraction of the longest busy
    span during which all workers were busy). ``total_wall_s`` includes process start.
    """
    from .evaluate import EvalConfig, ExpertPolicy, evaluate

    n = episodes_per_worker * workers
    cfg = EvalConfig(task=task, n_episodes=n, obs=ObservationConfig())
    t0 = time.perf_counter()
    res = evaluate(ExpertPolicy, cfg, workers=workers, progress=False)
    total = time.perf_counter() - t0
    by_pid: dict[int, list[dict]] = {}
    for e in res.episodes:
        by_pid.setdefault(e["pid"], []).append(e)
    spans = {
        p: (min(e["t_start"] for e in es), max(e["t_end"] for e in es)) for p, es in by_pid.items()
    }
    rate = sum(
        sum(e["steps"] for e in es) / (spans[p][1] - spans[p][0]) for p, es in by_pid.items()
    )
    both = min(s[1] for s in spans.values()) - max(s[0] for s in spans.values())
    longest = max(s[1] - s[0] for s in spans.values())
    return {
        "workers": workers,
        "processes_used": len(by_pid),
        "episodes": n,
        "total_wall_s": total,
        "steps_per_s": rate,
        "overlap": max(0.0, both) / longest,
        "success_rate": res.success_rate,
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(result["single_process_steps_per_s"])
    vals = [result["single_process_steps_per_s"][n] for n in names]
    a.barh(names, vals, color="tab:blue")
    for i, v in enumerate(vals):
        a.text(v, i, f" {v:.1f}", va="center")
    a.set_xlabel("environment steps / s (one process, 20 Hz control)")
    a.set_title(f"{result['task']}: steps/s by observation")
    par = result["parallel"]
    w = [p["workers"] for p in par]
    b.plot(w, [p["steps_per_s"] for p in par], "o-", label="measured")
    b.plot(w, [par[0]["steps_per_s"] * x / w[0] for x in w], "--", color="gray", label="linear")
    b.set_xlabel("worker processes")
    b.set_ylabel("aggregate steps / s (steady state)")
    b.set_title(f"parallel evaluation, {result['parallel_task']} ({os.cpu_count()} CPUs)")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cpu_busy_s() -> float | None:
    """Busy CPU seconds of the whole machine since boot (``/proc/stat``), None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process and its finished children."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--task", default="lift")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--episodes", type=int, default=10, help="episodes per worker")
    p.add_argument("--parallel-task", default="square_d0")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args(argv)
    from ._gl import configure_gl_backend

    result = {
        "task": a.task,
        "gl_backend": configure_gl_backend(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_at_start": os.getloadavg(),
        "single_process_steps_per_s": {},
        "parallel_task": a.parallel_task,
    }
    busy0, own0, t0 = _cpu_busy_s(), _own_cpu_s(), time.perf_counter()
    for name, cfg in _configs().items():
        result["single_process_steps_per_s"][name] = measure_steps(a.task, cfg, a.steps)
        print(f"{name}: {result['single_process_steps_per_s'][name]:.1f} steps/s", flush=True)
    result["robosuite_lift_step_no_cameras"] = measure_robosuite_step(a.steps)
    print(f"robosuite Lift.step: {result['robosuite_lift_step_no_cameras']:.1f} steps/s")
    result["parallel"] = []
    for w in [int(x) for x in a.workers.split(",")]:
        result["parallel"].append(measure_parallel(a.parallel_task, a.episodes, w))
        print(result["parallel"][-1], flush=True)
    result["load_average_at_end"] = os.getloadavg()
    if busy0 is not None:
        # CPUs that other processes kept busy during the measurement (0 = a quiet machine)
        elapsed = time.perf_counter() - t0
        other = (_cpu_busy_s() - busy0) - (_own_cpu_s() - own0)
        result["other_processes_cpus_busy"] = max(0.0, other / elapsed)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "throughput.json").write_text(json.dumps(result, indent=1))
    plot(result, a.out / "throughput.png")
    update_readme(result)
    print(f"wrote {a.out / 'throughput.json'} and throughput.png")


def update_readme(result: dict) -> None:
    """Refresh the README's throughput section (between its ``throughput`` markers)."""
    from .benchmark import README

    start, end = "<!-- throughput:start -->", "<!-- throughput:end -->"
    if not README.exists() or start not in README.read_text():
        return
    lines = [
        f"Measured by `python -m symlab.sim.throughput` on {result['cpu_count']} CPUs "
        f"({result['gl_backend']} rendering; other processes kept "
        f"{result.get('other_processes_cpus_busy', float('nan')):.2f} CPUs busy on average during "
        "the measurement), task `lift`, 20 Hz control, one process:",
        "",
        "| observation | steps/s |",
        "|---|---|",
    ]
    for name, v in result["single_process_steps_per_s"].items():
        lines.append(f"| {name} | {v:.1f} |")
    lines.append(
        f"| robosuite's own `Lift.step`, no cameras | "
        f"{result['robosuite_lift_step_no_cameras']:.1f} |"
    )
    lines += [
        "",
        f"Parallel evaluation (`{result['parallel_task']}`, expert policy, no cameras; sum of the "
        "workers' steady-state rates):",
        "",
    ]
    lines += ["| workers | steps/s | overlap of the workers' busy spans |", "|---|---|---|"]
    for p in result["parallel"]:
        lines.append(f"| {p['workers']} | {p['steps_per_s']:.1f} | {p['overlap']:.2f} |")
    lines += ["", "![throughput](../../../benchmarks/sim/throughput.png)", ""]
    text = README.read_text()
    a, rest = text.split(start, 1)
    _, b = rest.split(end, 1)
    README.write_text(a + start + "\n" + "\n".join(lines) + end + b)


if __name__ == "__main__":
    main()

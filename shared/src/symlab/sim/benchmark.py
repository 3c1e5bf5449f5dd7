"""Expert-success benchmark: every closed-loop task's scripted expert on N seeded episodes,
without perturbation and under SE(2) and SE(3) perturbations.

Writes ``<out>/expert_success.json``, ``<out>/expert_success.md`` and refreshes the table in
``shared/src/symlab/sim/README.md`` between its ``expert-success`` markers. Per-episode results
are appended to ``<out>/expert_success.jsonl`` as they finish, so a killed run resumes.

    python -m symlab.sim.benchmark --episodes 50 --workers 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .evaluate import wilson_interval

DEFAULT_TASKS = (
    "lift",
    "stack_d1",
    "stack_three_d1",
    "square_d0",
    "square_d2",
    "pick_place_can",
    "door",
)
KINDS = ("none", "se2", "se3")
SHARED_DIR = Path(__file__).resolve().parents[3]
DEFAULT_OUT = SHARED_DIR / "benchmarks" / "sim"
README = Path(__file__).resolve().parent / "README.md"
MARK_START, MARK_END = "<!-- expert-success:start -->", "<!-- expert-success:end -->"

_ENVS: dict = {}


def run_logged(
    fn: Callable[[Any], dict],
    jobs: list,
    log: Path,
    key: Callable[[dict], Any],
    *,
    workers: int = 1,
    desc: str = "jobs",
    chunksize: int = 1,
    maxtasksperchild: int | None = None,
) -> list[dict]:
    """Run ``fn`` on every job whose ``key`` is not yet in the JSON-lines ``log``, appending each
    result as it finishes (so a killed run resumes), in ``workers`` spawned processes.

    Returns every logged record whose key belongs to ``jobs`` (earlier and new, unsorted).
    ``key(record)`` must equal the job it came from.
    """
    records = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    wanted = set(jobs)
    records = [r for r in records if key(r) in wanted]
    done = {key(r) for r in records}
    todo = [j for j in jobs if j not in done]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=desc)
    pool = None
    if workers > 1 and todo:
        pool = mp.get_context("spawn").Pool(workers, maxtasksperchild=maxtasksperchild)
        it = pool.imap_unordered(fn, todo, chunksize=chunksize)
    else:
        it = map(fn, todo)
    # SIGTERM unwinds like Ctrl-C, so the workers are terminated rather than orphaned.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with log.open("a") as f:
            for r in it:
                records.append(r)
                f.write(json.dumps(r) + "\n")
                f.flush()
                bar.update(1)
    except BaseException:
        if pool is not None:
            pool.terminate()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        if pool is not None:
            pool.close()
            pool.join()
        bar.close()
    return records


def _episode(job: tuple[str, str, int]) -> dict:
    task, kind, seed = job
    from .env import SimEnv
    from .expert import run_expert
    from .perturbation import PerturbationConfig

    if (task, kind) not in _ENVS:
        _ENVS[(task, kind)] = SimEnv(task, perturbation=PerturbationConfig(kind))
    t0 = time.perf_counter()
    demo = run_expert(_ENVS[(task, kind)], seed, record_obs=False)
    return {
        "task": task,
        "kind": kind,
        "seed": seed,
        "success": demo.success,
        "steps": demo.length,
        "all_reached": demo.all_reached,
        "wall_s": time.perf_counter() - t0,
    }


def summarize(records: list[dict], tasks, kinds, n: int) -> dict:
    out = {}
    for t in tasks:
        for k in kinds:
            rs = [r for r in records if r["task"] == t and r["kind"] == k][:n]
            s = sum(r["success"] for r in rs)
            lo, hi = wilson_interval(s, len(rs))
            out[f"{t}/{k}"] = {
                "task": t,
                "kind": k,
                "n": len(rs),
                "successes": s,
                "rate": s / max(len(rs), 1),
                "ci95": [lo, hi],
                "mean_steps": sum(r["steps"] for r in rs) / max(len(rs), 1),
                "failed_seeds": [r["seed"] for r in rs if not r["success"]],
            }
    return out


def markdown(summary: dict, tasks, kinds) -> str:
    tasks = [t for t in tasks if any(summary[f"{t}/{k}"]["n"] for k in kinds)]
    head = "| task | " + " | ".join(f"{k} success" for k in kinds) + " | mean steps |"
    lines = [head, "|" + "---|" * (len(kinds) + 2)]
    for t in tasks:
        cells = []
        for k in kinds:
            s = summary[f"{t}/{k}"]
            flag = "" if s["n"] and s["rate"] >= 0.95 else " (below 95%)"
            cells.append(f"{s['successes']}/{s['n']}{flag}")
        steps = summary[f"{t}/none"]["mean_steps"]
        lines.append(f"| {t} | " + " | ".join(cells) + f" | {steps:.0f} |")
    return "\n".join(lines) + "\n"


def update_readme(
    table: str, note: str, marks: tuple[str, str] = (MARK_START, MARK_END), readme: Path = README
) -> None:
    """Replace the README block between ``marks`` with ``note`` and ``table``."""
    start, end = marks
    if not readme.exists():
        return
    text = readme.read_text()
    if start not in text or end not in text:
        return
    a, rest = text.split(start, 1)
    _, b = rest.split(end, 1)
    readme.write_text(f"{a}{start}\n{note}\n\n{table}{end}{b}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--tasks", default=",".join(DEFAULT_TASKS))
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--no-readme", action="store_true")
    p.add_argument(
        "--summarize-only", action="store_true", help="tabulate the recorded episodes, run none"
    )
    a = p.parse_args(argv)
    tasks, kinds = a.tasks.split(","), a.kinds.split(",")
    a.out.mkdir(parents=True, exist_ok=True)
    jobs = [(t, k, s) for t in tasks for k in kinds for s in range(a.episodes)]
    if a.summarize_only:
        log = a.out / "expert_success.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        records = [r for r in map(json.loads, lines) if (r["task"], r["kind"], r["seed"]) in jobs]
    else:
        # chunks keep one (task, kind) per worker for a while, so envs are reused
        records = run_logged(
            _episode,
            jobs,
            a.out / "expert_success.jsonl",
            key=lambda r: (r["task"], r["kind"], r["seed"]),
            workers=a.workers,
            desc="expert benchmark",
            chunksize=5,
            maxtasksperchild=200,
        )
    records.sort(key=lambda r: (r["task"], r["kind"], r["seed"]))
    summary = summarize(records, tasks, kinds, a.episodes)
    (a.out / "expert_success.json").write_text(json.dumps(summary, indent=1))
    table = markdown(summary, tasks, kinds)
    (a.out / "expert_success.md").write_text(table)
    note = (
        f"Scripted-expert success on seeds 0..{a.episodes - 1} (generated by "
        "`python -m symlab.sim.benchmark`; SE(2): yaw +/-180 deg, +/-10 cm; SE(3): also roll "
        "and pitch +/-15 deg, +/-5 cm height, gravity rotated)."
    )
    if not a.no_readme:
        update_readme(table, note)
    print(table)


if __name__ == "__main__":
    main()

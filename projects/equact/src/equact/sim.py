"""The shared benchmark's keyframe suite (``symlab.sim.keyframe``) as EquAct's data and test bench.

Recording
---------
:func:`record_demos` runs the task's scripted expert (``symlab.sim.expert.run_expert``, without
rendering every step) and then, for every expert keyframe, restores the simulator state reached
before it (the episode start, or the state right after the previous keyframe), renders the four
RLBench-like RGB-D cameras (front, left/right shoulder, wrist), fuses them into a world-frame
cloud and keeps the points inside the task's gripper bounds box. The record holds that cloud (with
RGB), the gripper pose and open state there, the canonical instruction and the keyframe itself
(commanded gripper pose and open/close). The expert's own keyframes are used, not PerAct's
extraction (which finds about twice as many on these demos, see the suite's README).

Clouds are reduced at recording time by farthest-point sampling to ``raw_points`` (of which
``raw_focused`` lie above the table inside the box); :func:`equact.data.dataset_from_records`
then samples the model's ``n_points`` from them. The same two steps run on test observations.

Perturbations
-------------
A perturbed scene (``PerturbationConfig("se2"/"se3")``) moves table, objects and robot rigidly by
``g``. The gripper-bounds box and the "above the table" test move with it (``frame = g``), as the
table does; the model never sees ``g`` otherwise.

Evaluation
----------
:func:`evaluate_in_sim` runs seeded test episodes (seeds from ``symlab.sim.evaluate``'s
``TEST_SEED_START``) with ``symlab.sim.evaluate``: each policy call predicts the next keyframe from
the observation and the environment executes it (``SimEnv.execute_keyframe``), until success, the
keyframe limit or the horizon.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from tqdm import tqdm

from .data import KeyframeDataset, KeyframeRecord, dataset_from_records
from .geometry import farthest_point_sampling

#: Fused-cloud crop of the observation (world frame): wide enough for any perturbed workspace;
#: the box-frame crop (:func:`scene_record`) does the real cropping.
WIDE_BOUNDS = ((-1.2, -1.2, 0.3), (1.2, 1.2, 1.9))
#: Points this far above the table top count as "focused" (objects, gripper).
TABLE_MARGIN = 0.004
CACHE_VERSION = 1


def _sim():
    try:
        from symlab import sim
        from symlab.sim import keyframe
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise NotImplementedError(
            "data.source=benchmark needs the shared keyframe suite (symlab.sim with robosuite and "
            f"MuJoCo): {exc}; use data.source=synthetic"
        ) from exc
    return sim, keyframe


def keyframe_task_names() -> list[str]:
    """The tasks of the shared keyframe suite."""
    sim, _ = _sim()
    return sim.list_tasks("keyframe")


def check_tasks(tasks) -> None:
    known = keyframe_task_names()
    bad = [t for t in tasks if t not in known]
    if bad:
        raise ValueError(f"unknown keyframe tasks {bad}; the keyframe suite has {known}")


def observation_config(image_size: int):
    """RLBench-like cameras (front, shoulders, wrist) RGB-D at ``image_size`` + fused cloud."""
    sim, _ = _sim()
    return sim.ObservationConfig.rlbench(image_size, point_cloud_bounds=WIDE_BOUNDS)


def all_instructions(tasks) -> list[str]:
    """The canonical instruction of every variation of ``tasks`` (the vocabulary's source)."""
    sim, _ = _sim()
    from symlab.sim.tasks.base import make_task

    out = []
    for name in tasks:
        task = make_task(name)
        out += [task.instructions(v)[0] for v in range(task.n_variations)]
    return out


def scene_record(
    env,
    obs: dict,
    target_pose: np.ndarray | None,
    target_open: bool,
    raw_points: int,
    raw_focused: int,
) -> KeyframeRecord:
    """A :class:`KeyframeRecord` of the current observation (target: the next keyframe, or the
    identity when unknown at test time). The cloud is cropped to the task's gripper bounds box
    moved by the episode's perturbation and reduced to ``raw_points`` by focused FPS."""
    from symlab.sim.keyframe.base import TABLE_Z

    g = np.asarray(env.g, dtype=np.float64)
    lo, hi = (np.asarray(b, dtype=np.float64) for b in env.task.workspace_bounds)
    pts = np.asarray(obs["point_cloud"], dtype=np.float64)
    rgb = np.asarray(obs["point_cloud_rgb"], dtype=np.float32) / 255.0
    local = (pts - g[:3, 3]) @ g[:3, :3]
    inside = np.all((local >= lo) & (local <= hi), axis=1)
    if not inside.any():
        raise ValueError(f"{env.task.name}: no point of the fused cloud lies in the bounds box")
    pts, rgb, local = pts[inside], rgb[inside], local[inside]
    focus = local[:, 2] > TABLE_Z + TABLE_MARGIN
    xyz_t = torch.tensor(pts, dtype=torch.float32)[None]
    parts = []
    for mask, n in ((~focus, raw_points - raw_focused), (focus, raw_focused)):
        valid = torch.tensor(mask if mask.any() else ~mask)[None]
        parts.append(farthest_point_sampling(xyz_t, n, valid=valid)[0].numpy())
    idx = np.concatenate(parts)
    eef = env.eef_pose
    target = np.eye(4) if target_pose is None else np.asarray(target_pose, dtype=np.float64)
    return KeyframeRecord(
        xyz=pts[idx].astype(np.float32),
        rgb=rgb[idx],
        gripper_pos=eef[:3, 3].copy(),
        gripper_rot=eef[:3, :3].copy(),
        gripper_open=float(np.asarray(obs["robot0_gripper_open"]).reshape(-1)[0]),
        target_pos=target[:3, 3].copy(),
        target_rot=target[:3, :3].copy(),
        target_open=float(target_open),
        instruction=env.task.instructions(env.variation)[0],
        task=env.task.name,
        bounds=np.stack([lo, hi]).astype(np.float32),
        table_height=TABLE_Z + TABLE_MARGIN,
        frame=g,
    )


@dataclass
class RecordConfig:
    """What :func:`record_demos` records (also the cache key)."""

    task: str
    seeds: list[int] = field(default_factory=lambda: list(range(10)))
    image_size: int = 128
    raw_points: int = 1024
    raw_focused: int = 768
    perturbation: str = "none"  # training demos are unperturbed; tests record perturbed ones


def record_demos(
    cfg: RecordConfig, progress: bool = False, episodes: list[int] | None = None
) -> list[KeyframeRecord]:
    """Keyframe records of the scripted expert on ``cfg.task`` for every seed (see the module
    docstring). Demos in which the expert fails are dropped. ``episodes``, when given, receives
    the seed of every record."""
    sim, keyframe = _sim()
    from symlab.sim.expert import run_expert

    check_tasks([cfg.task])
    env = keyframe.make_keyframe_env(
        cfg.task,
        obs=observation_config(cfg.image_size),
        perturbation=sim.PerturbationConfig(cfg.perturbation),
    )
    records: list[KeyframeRecord] = []
    try:
        for seed in tqdm(cfg.seeds, desc=f"demos {cfg.task}", disable=not progress):
            demo = run_expert(env, seed, record_obs=False)
            if not demo.success:
                continue
            final = env.get_state()
            gripper_open = True
            for i, (pose, open_) in enumerate(zip(demo.keyframe_poses, demo.keyframe_gripper_open)):
                if i == 0:
                    state = demo.states[0]
                else:
                    nxt = demo.keyframe_steps[i - 1] + 1
                    state = demo.states[nxt] if nxt < len(demo.states) else final
                env.set_state(state)
                rec = scene_record(
                    env, env.get_observation(), pose, open_, cfg.raw_points, cfg.raw_focused
                )
                # set_state does not restore the last gripper command: take it from the demo
                records.append(replace(rec, gripper_open=float(gripper_open)))
                if episodes is not None:
                    episodes.append(seed)
                gripper_open = bool(open_)
    finally:
        env.close()
    return records


_ARRAYS = ("xyz", "rgb", "gripper_pos", "gripper_rot", "gripper_open")
_ARRAYS += ("target_pos", "target_rot", "target_open", "bounds", "table_height", "frame")


def _to_arrays(records: list[KeyframeRecord], episode: list[int]) -> dict[str, np.ndarray]:
    out = {k: np.stack([np.asarray(getattr(r, k)) for r in records]) for k in _ARRAYS}
    out["instruction"] = np.array([r.instruction for r in records])
    out["episode"] = np.asarray(episode)
    return out


def _from_arrays(a, task: str) -> list[KeyframeRecord]:
    return [
        KeyframeRecord(
            **{k: a[k][i] for k in _ARRAYS},
            instruction=str(a["instruction"][i]),
            task=task,
        )
        for i in range(len(a["xyz"]))
    ]


def cached_records(
    cfg: RecordConfig, progress: bool = True
) -> tuple[list[KeyframeRecord], np.ndarray]:
    """:func:`record_demos` through ``symlab.data.cached_dataset`` (``$SYMLAB_CACHE``); also
    returns the demo seed of every record."""
    from symlab.data import cached_dataset

    def build(_):
        episode: list[int] = []
        records = record_demos(cfg, progress, episode)
        if not records:
            raise ValueError(f"{cfg.task}: the expert failed on every seed {cfg.seeds}")
        return _to_arrays(records, episode)

    arrays = cached_dataset(
        f"equact-keyframe-{cfg.task}", asdict(cfg), build, version=CACHE_VERSION
    )
    return _from_arrays(arrays, cfg.task), np.asarray(arrays["episode"])


@dataclass
class BenchmarkData:
    """Training keyframes of the suite plus what evaluation needs per task."""

    dataset: KeyframeDataset
    instructions: list[str]  # every canonical instruction of the tasks (vocabulary source)
    max_keyframes: dict[str, int]  # most expert keyframes in one training demo, per task


def benchmark_dataset(data_cfg, progress: bool = True) -> BenchmarkData:
    """The cached training keyframes of ``data_cfg.tasks`` (``data_cfg``: a
    :class:`equact.config.DataConfig` with ``source: benchmark``)."""
    check_tasks(data_cfg.tasks)
    records, max_kf = [], {}
    for task in data_cfg.tasks:
        cfg = RecordConfig(
            task=task,
            seeds=list(range(data_cfg.seed, data_cfg.seed + data_cfg.demos_per_task)),
            image_size=data_cfg.image_size,
            raw_points=data_cfg.raw_points,
            raw_focused=data_cfg.raw_focused,
        )
        recs, episode = cached_records(cfg, progress)
        records += recs
        max_kf[task] = int(np.unique(episode, return_counts=True)[1].max())
    dataset = dataset_from_records(
        records, data_cfg.n_points, data_cfg.n_focused, list(data_cfg.tasks)
    )
    return BenchmarkData(dataset, all_instructions(data_cfg.tasks), max_kf)


class SimPolicy:
    """A trained keyframe policy as a ``symlab.sim.evaluate`` policy (returns a
    ``KeyframeAction`` per call)."""

    def __init__(self, policy, vocab, cfg, seed: int = 0):
        self.policy, self.vocab, self.cfg = policy, vocab, cfg
        self.generator = torch.Generator().manual_seed(seed)
        self.seed = seed
        self.env = None

    def bind(self, env) -> None:
        self.env = env

    def reset(self, info=None) -> None:
        episode = 0 if info is None else int(info.get("seed") or 0)
        self.generator.manual_seed(self.seed * 1_000_003 + episode)

    @torch.no_grad()
    def act(self, obs):
        from symlab.sim.evaluate import KeyframeAction

        d = self.cfg.data
        rec = scene_record(self.env, obs, None, True, d.raw_points, d.raw_focused)
        ds = dataset_from_records([rec], d.n_points, d.n_focused, [rec.task])
        batch = ds.get([0], self.vocab, self.cfg.model.max_tokens)
        pred = self.policy.predict(batch, self.generator)
        pose = np.eye(4)
        pose[:3, :3] = pred["rotation"][0].double().numpy()
        pose[:3, 3] = pred["position"][0].double().numpy()
        return KeyframeAction(pose, bool(pred["open"][0] > 0.5))


def evaluate_in_sim(
    policy,
    vocab,
    cfg,
    task: str,
    kind: str,
    n_episodes: int,
    max_keyframes: int,
    progress: bool = False,
) -> dict:
    """Success of ``policy`` on ``n_episodes`` seeded test episodes of ``task`` under the
    perturbation ``kind`` (none / se2 / se3), each at most ``max_keyframes`` keyframes."""
    sim, _ = _sim()
    from symlab.sim.evaluate import EvalConfig as SimEvalConfig
    from symlab.sim.evaluate import evaluate

    policy.eval()
    ecfg = SimEvalConfig(
        task=task,
        n_episodes=n_episodes,
        obs=observation_config(cfg.data.image_size),
        perturbation=sim.PerturbationConfig(kind),
        max_keyframes=max_keyframes,
    )
    res = evaluate(
        lambda: SimPolicy(policy, vocab, cfg, cfg.seed), ecfg, workers=1, progress=progress
    )
    return {
        "task": task,
        "perturbation": kind,
        "success": res.success_rate,
        "n": res.n_episodes,
        "successes": int(sum(e["success"] for e in res.episodes)),
        "ci": [res.ci_low, res.ci_high],
        "keyframes": float(np.mean([e["keyframes"] for e in res.episodes])),
        "wall_s": float(sum(e["wall_time_s"] for e in res.episodes)),
    }

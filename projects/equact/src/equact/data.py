"""Keyframe data: the batch interface, a synthetic keyframe suite, augmentation, perturbations.

Interface
---------
A keyframe sample is a fused world-frame point cloud with RGB, the current gripper pose and
open state (proprioception), a language instruction, and the target keyframe: gripper position,
rotation and open/close. :class:`KeyframeBatch` holds a batch of them (plus the oriented box in
which the translation field samples ghost points). Any source that yields
:class:`KeyframeRecord` objects plugs in through :func:`dataset_from_records`; the shared
benchmark's keyframe suite (``symlab.sim.keyframe``) is read by :func:`benchmark_records` (and,
cached, by :mod:`equact.sim`).

Synthetic suite (clearly not the paper's RLBench tasks)
-------------------------------------------------------
:func:`synthetic_dataset` builds table-top scenes of three primitive objects (block, cylinder,
tower) of distinct colours, each with a white handle that fixes its orientation. Six tasks define
a target gripper pose and open state in the *object frame* (pick from the top, grasp the handle,
hover above, push from behind, touch the side, reach beside); objects get random planar poses
(SE(2); optionally tilted), and the instruction names the task and the target object
("grasp the handle of the red cylinder"). Every sample is one keyframe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch

from .geometry import farthest_point_sampling, gather, sample_in_ball
from .so3 import rotation_about_axes


@dataclass
class KeyframeBatch:
    """A batch of keyframe samples (all tensors share the batch dimension ``B``).

    Attributes
    ----------
    xyz, rgb : (B, N, 3) world-frame points and colours in [0, 1]
    gripper_pos, gripper_rot, gripper_open : (B, 3), (B, 3, 3), (B,) current gripper state
    target_pos, target_rot, target_open : (B, 3), (B, 3, 3), (B,) keyframe action (1 = open)
    bounds_center, bounds_rot, bounds_half : (B, 3), (B, 3, 3), (B, 3) oriented gripper-bounds box
    tokens : (B, T) instruction token ids, or None when ``clip_features`` are given
    clip_features : (B, T, 512) precomputed CLIP text features, or None
    clip_mask : (B, T) validity mask of ``clip_features``, or None
    task : (B,) task index
    """

    xyz: torch.Tensor
    rgb: torch.Tensor
    gripper_pos: torch.Tensor
    gripper_rot: torch.Tensor
    gripper_open: torch.Tensor
    target_pos: torch.Tensor
    target_rot: torch.Tensor
    target_open: torch.Tensor
    bounds_center: torch.Tensor
    bounds_rot: torch.Tensor
    bounds_half: torch.Tensor
    task: torch.Tensor
    tokens: torch.Tensor | None = None
    clip_features: torch.Tensor | None = None
    clip_mask: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.xyz.shape[0]

    def map(self, fn) -> KeyframeBatch:
        return KeyframeBatch(
            **{
                f.name: None if (v := getattr(self, f.name)) is None else fn(v)
                for f in fields(self)
            }
        )

    def to(self, device=None, dtype=None) -> KeyframeBatch:
        def move(t):
            if t.is_floating_point():
                return t.to(device=device, dtype=dtype)
            return t.to(device=device)

        return self.map(move)

    def index(self, idx) -> KeyframeBatch:
        return self.map(lambda t: t[idx])

    def transformed(self, rotation: torch.Tensor, translation: torch.Tensor) -> KeyframeBatch:
        """The batch under ``x -> R x + t`` (``R`` (3, 3) or (B, 3, 3), ``t`` (3,) or (B, 3)):
        points, gripper, target and the bounds box all move."""
        r = rotation.to(self.xyz.dtype).expand(len(self), 3, 3)
        t = translation.to(self.xyz.dtype).expand(len(self), 3)

        def point(p):
            return torch.einsum("bij,b...j->b...i", r, p) + t.view(-1, *([1] * (p.dim() - 2)), 3)

        return replace(
            self,
            xyz=point(self.xyz),
            gripper_pos=point(self.gripper_pos),
            gripper_rot=r @ self.gripper_rot,
            target_pos=point(self.target_pos),
            target_rot=r @ self.target_rot,
            bounds_center=point(self.bounds_center),
            bounds_rot=r @ self.bounds_rot,
        )


@dataclass
class KeyframeRecord:
    """One keyframe sample from any source (numpy, world frame; the benchmark hook's format).

    ``xyz``/``rgb`` are the fused cloud (any number of points), ``*_rot`` are 3x3 matrices, opens
    are 1 (open) / 0 (closed), ``bounds`` is ``[[xmin, ymin, zmin], [xmax, ymax, zmax]]`` and
    ``table_height`` a height, both in the frame ``frame`` (a 4x4 world-from-box pose; None: the
    world frame). A perturbed scene passes its perturbation as ``frame``, so that the gripper
    bounds box and the focused crop move with the scene."""

    xyz: np.ndarray
    rgb: np.ndarray
    gripper_pos: np.ndarray
    gripper_rot: np.ndarray
    gripper_open: float
    target_pos: np.ndarray
    target_rot: np.ndarray
    target_open: float
    instruction: str
    task: str
    bounds: np.ndarray
    table_height: float = 0.0
    frame: np.ndarray | None = None


@dataclass
class KeyframeDataset:
    """Stacked keyframe samples with their instructions and task names."""

    batch: KeyframeBatch
    instructions: list[str]
    task_names: list[str]
    meta: dict = field(default_factory=dict)  # source-specific (e.g. keyframes per task)

    def __len__(self) -> int:
        return len(self.batch)

    def get(self, idx, vocab, max_tokens: int) -> KeyframeBatch:
        """The samples ``idx`` with instructions tokenised by ``vocab``."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        texts = [self.instructions[int(i)] for i in idx]
        return replace(self.batch.index(idx), tokens=vocab.encode(texts, max_tokens))


def downsample_cloud(
    xyz: torch.Tensor, rgb: torch.Tensor, focus: torch.Tensor, n_points: int, n_focused: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Farthest-point downsampling of a batch of clouds (B, P, 3) to ``n_points``, of which
    ``n_focused`` come from the points where ``focus`` (B, P) is true (the objects / the focused
    gripper-bounds box) and the rest from the others (the table), as in the official code."""
    idx_f = farthest_point_sampling(xyz, n_focused, valid=focus)
    idx_r = farthest_point_sampling(xyz, n_points - n_focused, valid=~focus)
    idx = torch.cat([idx_r, idx_f], dim=1)
    return gather(xyz, idx), gather(rgb, idx)


def dataset_from_records(
    records: Sequence[KeyframeRecord], n_points: int, n_focused: int, task_names=None
) -> KeyframeDataset:
    """Stack records from any source into a :class:`KeyframeDataset` (FPS to ``n_points``).

    Clouds of different sizes are padded by repeating their first point (padding is never
    picked twice by FPS, so it does not bias the sample)."""
    if not records:
        raise ValueError("no keyframe records")
    task_names = task_names or sorted({r.task for r in records})
    p = max(len(r.xyz) for r in records)

    def pad(a):
        a = np.asarray(a, dtype=np.float32)
        return np.concatenate([a, np.repeat(a[:1], p - len(a), 0)]) if len(a) < p else a

    xyz = torch.tensor(np.stack([pad(r.xyz) for r in records]))
    rgb = torch.tensor(np.stack([pad(r.rgb) for r in records]))
    bounds = torch.tensor(np.stack([np.asarray(r.bounds, np.float32) for r in records]))
    frames = torch.tensor(
        np.stack([np.eye(4) if r.frame is None else np.asarray(r.frame) for r in records]),
        dtype=torch.float32,
    )
    rot, shift = frames[:, :3, :3], frames[:, :3, 3]
    local = torch.einsum("bji,bnj->bni", rot, xyz - shift[:, None])  # box-frame coordinates
    lo, hi = bounds[:, None, 0], bounds[:, None, 1]
    height = torch.tensor([r.table_height for r in records], dtype=torch.float32)[:, None]
    focus = ((local >= lo) & (local <= hi)).all(-1) & (local[..., 2] > height + 1e-3)
    xyz, rgb = downsample_cloud(xyz, rgb, focus, n_points, n_focused)

    def stack(name, dtype=torch.float32):
        return torch.tensor(np.stack([np.asarray(getattr(r, name)) for r in records]), dtype=dtype)

    batch = KeyframeBatch(
        xyz=xyz,
        rgb=rgb,
        gripper_pos=stack("gripper_pos"),
        gripper_rot=stack("gripper_rot"),
        gripper_open=stack("gripper_open"),
        target_pos=stack("target_pos"),
        target_rot=stack("target_rot"),
        target_open=stack("target_open"),
        bounds_center=torch.einsum("bij,bj->bi", rot, (bounds[:, 0] + bounds[:, 1]) / 2) + shift,
        bounds_rot=rot.clone(),
        bounds_half=(bounds[:, 1] - bounds[:, 0]) / 2,
        task=torch.tensor([task_names.index(r.task) for r in records]),
    )
    return KeyframeDataset(batch, [r.instruction for r in records], list(task_names))


def benchmark_records(tasks: Sequence[str], demos_per_task: int, seed: int, split: str):
    """Keyframe records of the shared benchmark's keyframe suite (``symlab.sim.keyframe``).

    Scripted demos (seeds ``seed .. seed + demos_per_task - 1``, variations drawn from the seeds)
    recorded by :func:`equact.sim.record_demos` with the default recording settings; see
    :func:`equact.sim.benchmark_dataset` for the cached, configurable version. ``split`` must be
    ``"train"``: the test split of the suite is closed-loop evaluation in the simulator
    (:func:`equact.sim.evaluate_in_sim`), not a set of keyframe records.
    """
    if split != "train":
        raise ValueError(
            f"benchmark_records: split {split!r}; the keyframe suite is evaluated in the simulator "
            "(equact.sim.evaluate_in_sim), only split='train' has records"
        )
    from .sim import RecordConfig, record_demos

    out: list[KeyframeRecord] = []
    for task in tasks:
        cfg = RecordConfig(task=task, seeds=list(range(seed, seed + demos_per_task)))
        out += record_demos(cfg)
    return out


# --------------------------------------------------------------------------------------------
# Synthetic keyframe suite
# --------------------------------------------------------------------------------------------

COLORS = {
    "red": (0.85, 0.15, 0.15),
    "green": (0.15, 0.7, 0.2),
    "blue": (0.15, 0.3, 0.9),
    "yellow": (0.9, 0.8, 0.15),
}
# Half extents (x, y) and height of each shape; cylinders use x = y = radius.
SHAPES = {
    "block": (0.04, 0.025, 0.05),
    "cylinder": (0.025, 0.025, 0.07),
    "tower": (0.02, 0.02, 0.1),
}
HANDLE = 0.01  # half size of the white handle cube on the +x side


def _frame(x, y, z) -> np.ndarray:
    """Gripper rotation with columns (closing axis x, y, approach axis z) in the object frame."""
    m = np.array([x, y, z], dtype=np.float64).T
    assert np.allclose(m @ m.T, np.eye(3)) and np.linalg.det(m) > 0
    return m


# Task -> (instruction template, target position fn(hx, hy, h), rotation in object frame, open).
TASKS = {
    "pick": (
        "pick up the {}",
        lambda hx, hy, h: (0, 0, h - 0.01),
        _frame((1, 0, 0), (0, -1, 0), (0, 0, -1)),
        0.0,
    ),
    "handle": (
        "grasp the handle of the {}",
        lambda hx, hy, h: (hx + HANDLE, 0, h / 2),
        _frame((0, 1, 0), (0, 0, -1), (-1, 0, 0)),
        0.0,
    ),
    "hover": (
        "hover above the {}",
        lambda hx, hy, h: (0, 0, h + 0.08),
        _frame((0, 1, 0), (1, 0, 0), (0, 0, -1)),
        1.0,
    ),
    "push": (
        "push the {} from behind",
        lambda hx, hy, h: (-hx - 0.04, 0, h / 2),
        _frame((0, 1, 0), (0, 0, 1), (1, 0, 0)),
        0.0,
    ),
    "touch": (
        "touch the left side of the {}",
        lambda hx, hy, h: (0, hy + 0.02, h / 2),
        _frame((1, 0, 0), (0, 0, 1), (0, -1, 0)),
        1.0,
    ),
    "reach": (
        "reach to the right of the {}",
        lambda hx, hy, h: (0, -hy - 0.06, h / 2 + 0.02),
        _frame((1, 0, 0), (0, 0, -1), (0, 1, 0)),
        1.0,
    ),
}
BOUNDS = np.array([[-0.35, -0.35, -0.02], [0.35, 0.35, 0.26]], dtype=np.float32)


def _surface(shape: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points on the surface of a shape (object frame, base at z = 0)."""
    hx, hy, h = SHAPES[shape]
    if shape == "cylinder":
        side = int(n * 0.75)
        a = rng.uniform(0, 2 * np.pi, n)
        z = np.where(np.arange(n) < side, rng.uniform(0, h, n), h)
        r = np.where(np.arange(n) < side, hx, hx * np.sqrt(rng.uniform(0, 1, n)))
        return np.stack([r * np.cos(a), r * np.sin(a), z], 1)
    return _box_surface(np.array([0, 0, h / 2]), np.array([hx, hy, h / 2]), n, rng)


def _box_surface(center, half, n, rng):
    areas = np.array([half[1] * half[2], half[0] * half[2], half[0] * half[1]]).repeat(2)
    face = rng.choice(6, n, p=areas / areas.sum())
    u = rng.uniform(-1, 1, (n, 3))
    axis, sign = face // 2, np.where(face % 2 == 0, 1.0, -1.0)
    u[np.arange(n), axis] = sign
    return center + u * half


def synthetic_records(
    tasks: Sequence[str],
    per_task: int,
    seed: int,
    object_tilt_deg: float = 0.0,
    n_table: int = 1200,
    n_object: int = 500,
) -> list[KeyframeRecord]:
    """Synthetic keyframe records: ``per_task`` scenes for each task (see the module docstring)."""
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown synthetic tasks {sorted(unknown)}; known: {sorted(TASKS)}")
    rng = np.random.default_rng(seed)
    records = []
    for task in tasks:
        template, pos_fn, rot_local, open_ = TASKS[task]
        for _ in range(per_task):
            colors = rng.permutation(list(COLORS))[:3]
            shapes = rng.choice(list(SHAPES), 3)
            angle0 = rng.uniform(0, 2 * np.pi)
            xyz = [
                np.concatenate([rng.uniform(-0.35, 0.35, (n_table, 2)), np.zeros((n_table, 1))], 1)
            ]
            rgb = [np.clip(0.5 + 0.03 * rng.standard_normal((n_table, 3)), 0, 1)]
            poses = []
            for i in range(3):
                radius = rng.uniform(0.12, 0.2)
                a = angle0 + 2 * np.pi * i / 3 + rng.uniform(-0.3, 0.3)
                tilt = np.deg2rad(object_tilt_deg) * rng.uniform(-1, 1, 2)
                rot = rotation_about_axes(
                    torch.tensor([tilt[0], tilt[1], rng.uniform(0, 2 * np.pi)])
                ).numpy()
                pos = np.array([radius * np.cos(a), radius * np.sin(a), 0.0])
                hx, hy, h = SHAPES[shapes[i]]
                n_handle = n_object // 8
                body = _surface(shapes[i], n_object - n_handle, rng)
                handle = _box_surface(
                    np.array([hx + HANDLE, 0, h / 2]), np.full(3, HANDLE), n_handle, rng
                )
                pts = np.concatenate([body, handle])
                col = np.concatenate(
                    [np.tile(COLORS[colors[i]], (len(body), 1)), np.full((n_handle, 3), 0.95)]
                )
                xyz.append(pts @ rot.T + pos)
                rgb.append(np.clip(col + 0.03 * rng.standard_normal(col.shape), 0, 1))
                poses.append((pos, rot, (hx, hy, h)))
            target = rng.integers(3)
            pos, rot, dims = poses[target]
            yaw = rng.uniform(-np.pi, np.pi)
            gripper_rot = rotation_about_axes(torch.tensor([np.pi, 0.0, yaw])).numpy()
            records.append(
                KeyframeRecord(
                    xyz=np.concatenate(xyz),
                    rgb=np.concatenate(rgb),
                    gripper_pos=np.array([*rng.uniform(-0.2, 0.2, 2), rng.uniform(0.18, 0.24)]),
                    gripper_rot=gripper_rot,
                    gripper_open=float(rng.integers(2)),
                    target_pos=pos + rot @ np.asarray(pos_fn(*dims), dtype=np.float64),
                    target_rot=rot @ rot_local,
                    target_open=open_,
                    instruction=template.format(f"{colors[target]} {shapes[target]}"),
                    task=task,
                    bounds=BOUNDS,
                    table_height=0.0,
                )
            )
    return records


def synthetic_dataset(
    tasks: Sequence[str], per_task: int, seed: int, n_points: int, n_focused: int, tilt: float = 0.0
) -> KeyframeDataset:
    records = synthetic_records(tasks, per_task, seed, tilt)
    return dataset_from_records(records, n_points, n_focused, task_names=list(tasks))


def all_instructions(tasks: Iterable[str]) -> list[str]:
    """Every instruction the synthetic templates can produce (the vocabulary's source)."""
    return [TASKS[t][0].format(f"{c} {s}") for t in tasks for c in COLORS for s in SHAPES]


# --------------------------------------------------------------------------------------------
# Augmentation and evaluation perturbations
# --------------------------------------------------------------------------------------------


def _inside(batch: KeyframeBatch, p: torch.Tensor) -> torch.Tensor:
    local = torch.einsum("bji,b...j->b...i", batch.bounds_rot, p - batch.bounds_center[:, None])
    return (local.abs() <= batch.bounds_half[:, None]).all(-1)


def augment_se3(
    batch: KeyframeBatch,
    max_deg: Sequence[float],
    retries: int,
    jitter: float,
    generator: torch.Generator | None = None,
) -> KeyframeBatch:
    """The paper's augmentation: rotate scene, gripper and target about the bounds centre by XYZ
    Euler angles uniform in ``+-max_deg``, keeping the first of ``retries`` draws whose target
    stays inside the (fixed) bounds (identity if none does); then jitter points by ``jitter`` m."""
    b, dtype = len(batch), batch.xyz.dtype
    limits = torch.deg2rad(torch.tensor(max_deg, dtype=dtype))
    angles = (torch.rand(b, retries, 3, generator=generator, dtype=dtype) * 2 - 1) * limits
    rots = rotation_about_axes(angles)  # (B, R, 3, 3)
    c = batch.bounds_center
    moved = torch.einsum("brij,bj->bri", rots, batch.target_pos - c) + c[:, None]
    ok = _inside(batch, moved)
    first = torch.where(ok.any(1), ok.int().argmax(1), torch.full((b,), -1))
    eye = torch.eye(3, dtype=dtype).expand(b, 3, 3)
    rot = torch.where((first >= 0)[:, None, None], rots[torch.arange(b), first.clamp_min(0)], eye)
    out = batch.transformed(rot, c - torch.einsum("bij,bj->bi", rot, c))
    out = replace(out, bounds_center=batch.bounds_center, bounds_rot=batch.bounds_rot)
    if jitter > 0:
        shake = sample_in_ball(out.xyz.shape[:2], generator, dtype, out.xyz.device) * jitter
        out = replace(out, xyz=out.xyz + shake)
    return out


def perturbation(
    kind: str,
    n: int,
    generator: torch.Generator,
    translation: float = 0.1,
    tilt_deg: float = 45.0,
    dtype=torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random scene perturbations ``(R (n, 3, 3), t (n, 3))`` applied about the bounds centre:
    ``none``; ``se2`` (yaw in +-180 deg, xy shift in +-translation); ``se3`` (additionally roll
    and pitch in +-tilt_deg and a z shift)."""
    if kind == "none":
        return torch.eye(3, dtype=dtype).expand(n, 3, 3), torch.zeros(n, 3, dtype=dtype)
    u = torch.rand(n, 6, generator=generator, dtype=dtype) * 2 - 1
    tilt = math.radians(tilt_deg) if kind == "se3" else 0.0
    angles = torch.stack([u[:, 0] * tilt, u[:, 1] * tilt, u[:, 2] * math.pi], -1)
    shift = u[:, 3:] * translation
    if kind == "se2":
        shift[:, 2] = 0
    elif kind != "se3":
        raise ValueError(f"unknown perturbation {kind!r}; use none, se2 or se3")
    return rotation_about_axes(angles), shift


def perturb(batch: KeyframeBatch, rot: torch.Tensor, shift: torch.Tensor) -> KeyframeBatch:
    """Apply a perturbation about the bounds centre (scene, gripper, target and bounds move)."""
    c = batch.bounds_center
    return batch.transformed(rot, c + shift - torch.einsum("bij,bj->bi", rot, c))

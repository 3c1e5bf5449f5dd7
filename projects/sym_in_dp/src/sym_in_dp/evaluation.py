"""Offline evaluation (action error on demonstration windows) and the env-runner hook."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from symlab.policy import DiffusionPolicy, EnvRunner, PolicyDataset, rot6d_to_matrix


@torch.no_grad()
def offline_action_error(
    policy: DiffusionPolicy, dataset: PolicyDataset, n_windows: int, seed: int = 0
) -> dict[str, float]:
    """Error of the executed action chunk against the demonstration on ``n_windows`` windows.

    Returns the mean position error (m), the mean rotation error (degrees) and the gripper
    command agreement (fraction of steps with the right sign), over the ``n_action_steps``
    actions the policy would execute.
    """
    policy.eval()
    gen = torch.Generator().manual_seed(seed)
    n = min(n_windows, len(dataset))
    idx = torch.randperm(len(dataset), generator=gen)[:n]
    batch = dataset.batch(idx)
    out = policy.predict_action(batch["obs"], generator=torch.Generator().manual_seed(seed))
    start = policy.n_obs_steps - 1
    target = batch["action"][:, start : start + policy.n_action_steps].to(torch.float64)
    pred = out["action"].to(torch.float64)
    pos = (pred[..., :3] - target[..., :3]).norm(dim=-1).mean()
    R_pred, R_true = rot6d_to_matrix(pred[..., 3:9]), rot6d_to_matrix(target[..., 3:9])
    cos = (((R_pred.mT @ R_true).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    rot = torch.rad2deg(torch.arccos(cos)).mean()
    grip = (torch.sign(pred[..., 9]) == torch.sign(target[..., 9])).to(torch.float64).mean()
    return {
        "position_error_m": float(pos),
        "rotation_error_deg": float(rot),
        "gripper_agreement": float(grip),
        "n_windows": n,
    }


RunnerFactory = Callable[..., EnvRunner]


def load_env_runner_factory(spec: str | None) -> RunnerFactory | None:
    """Resolve ``"package.module:function"`` to an env-runner factory.

    This is the hook where the benchmark's closed-loop tasks plug in: the factory is called as
    ``factory(task=..., n_episodes=..., seed=..., method=..., config=...)`` and returns an object
    with ``run(policy) -> {"success_rate": ...}`` (:class:`symlab.policy.EnvRunner`), which
    typically steps the environment through :class:`symlab.policy.ActionChunkController` and
    converts the 10-d pose actions to the controller's format with
    :func:`symlab.policy.pose_to_axis_angle_action`.
    """
    if not spec:
        return None
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"env runner must be given as 'package.module:function', found {spec!r}")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load env runner factory {spec!r}: {exc}") from exc
    if not callable(factory):
        raise ValueError(f"env runner factory {spec!r} is not callable")
    return factory


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a success rate (reported with every closed-loop result)."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (centre - half, centre + half)


def describe(metrics: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
    )


def replace_readme_block(readme: str | Path, name: str, text: str) -> bool:
    """Replace the text between ``<!-- {name}:begin ... -->`` and ``<!-- {name}:end -->`` in the
    project README (generated tables are never typed). Returns whether the block was found."""
    readme = Path(readme)
    if not readme.is_file():
        return False
    content = readme.read_text()
    begin = content.find(f"<!-- {name}:begin")
    end = content.find(f"<!-- {name}:end -->")
    if begin < 0 or end < 0:
        return False
    head = content[: content.index("-->", begin) + 3]
    readme.write_text(head + "\n" + text.strip() + "\n" + content[end:])
    return True

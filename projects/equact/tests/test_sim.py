"""EquAct on the shared benchmark's keyframe suite (symlab.sim.keyframe), at smoke size.

Recording 1 scripted demo, training a few steps and one closed-loop test episode end to end; and
the recorded keyframe targets transform with the scene perturbation g (the expert is
perturbation-consistent, so training targets are equivariant data)."""

from importlib.util import find_spec

import numpy as np
import pytest
import torch
from equact.config import load_experiment_config
from equact.data import dataset_from_records
from equact.language import Vocabulary
from equact.sim import RecordConfig, all_instructions, evaluate_in_sim, record_demos
from equact.train import train_policy

pytestmark = [
    pytest.mark.sim,
    # documented optional system: the simulator (symlab[sim]: robosuite + MuJoCo + osmesa)
    pytest.mark.skipif(find_spec("robosuite") is None, reason="needs symlab[sim] (robosuite)"),
]

TASK = "pick_and_lift"  # 3 expert keyframes: above the block (open), grasp (close), lift
SMALL = dict(image_size=64, raw_points=256, raw_focused=192)


def _smoke_config():
    return load_experiment_config(
        "smoke",
        [
            "data.source=benchmark",
            f"data.tasks=[{TASK}]",
            "data.demos_per_task=1",
            "data.test_episodes_per_task=1",
            "data.image_size=64",
            "data.raw_points=256",
            "data.raw_focused=192",
            "model.max_tokens=16",
        ],
    )


@pytest.fixture(scope="module")
def demo_records():
    episodes: list[int] = []
    records = record_demos(RecordConfig(task=TASK, seeds=[0], **SMALL), episodes=episodes)
    return records, episodes


def test_recorded_keyframes(demo_records):
    records, episodes = demo_records
    assert len(records) == 3 and episodes == [0, 0, 0]
    assert [r.target_open for r in records] == [1.0, 0.0, 0.0]
    # proprioception: the open state before each keyframe is the previous keyframe's command
    assert [r.gripper_open for r in records] == [1.0, 1.0, 0.0]
    # the gripper starts each keyframe where the previous one put it (within the tolerances)
    for prev, cur in zip(records, records[1:]):
        assert np.linalg.norm(cur.gripper_pos - prev.target_pos) < 0.02
    for r in records:
        assert r.xyz.shape == (256, 3) and r.rgb.shape == (256, 3)
        assert 0.0 <= r.rgb.min() and r.rgb.max() <= 1.0
        local = r.xyz  # unperturbed: frame is the identity
        assert np.allclose(r.frame, np.eye(4))
        assert np.all((local >= r.bounds[0] - 1e-5) & (local <= r.bounds[1] + 1e-5))
        assert "block" in r.instruction


def test_record_train_evaluate_end_to_end(demo_records):
    records, _ = demo_records
    cfg = _smoke_config()
    vocab = Vocabulary.from_instructions(all_instructions([TASK]))
    train = dataset_from_records(records, cfg.data.n_points, cfg.data.n_focused, [TASK])
    result = train_policy(cfg, train, vocab, progress=False)
    assert result.step == cfg.train.steps
    assert all(np.isfinite(h["total"]) for h in result.history)
    r = evaluate_in_sim(result.policy, vocab, cfg, TASK, "se3", 1, max_keyframes=2)
    assert r["n"] == 1 and 1 <= r["keyframes"] <= 2
    assert r["successes"] in (0, 1) and r["success"] == r["successes"]


def test_recorded_targets_transform_with_g(demo_records):
    """Under an SE(3) perturbation g the recorded keyframe targets and gripper states are g times
    the unperturbed ones (the expert is perturbation-consistent), and the box frame is g."""
    plain, _ = demo_records
    moved = record_demos(RecordConfig(task=TASK, seeds=[0], perturbation="se3", **SMALL))
    assert len(moved) == len(plain)
    g = moved[0].frame
    assert not np.allclose(g, np.eye(4))  # a real perturbation
    rot, shift = g[:3, :3], g[:3, 3]
    for a, b in zip(plain, moved):
        assert np.allclose(b.frame, g)
        assert np.linalg.norm(rot @ a.target_pos + shift - b.target_pos) < 0.01
        angle = np.arccos(np.clip((np.trace((rot @ a.target_rot).T @ b.target_rot) - 1) / 2, -1, 1))
        assert np.rad2deg(angle) < 2.0
        assert a.target_open == b.target_open and a.gripper_open == b.gripper_open
        assert a.instruction == b.instruction
        # the cloud moves with the scene: its box-frame centroid matches the unperturbed one
        local = (b.xyz - shift) @ rot
        assert np.linalg.norm(local.mean(0) - a.xyz.mean(0)) < 0.05
    # as training batches: the whole sample transforms with g
    ds_a = dataset_from_records(plain, 128, 96, [TASK])
    ds_b = dataset_from_records(moved, 128, 96, [TASK])
    moved_a = ds_a.batch.transformed(torch.tensor(rot), torch.tensor(shift))
    assert torch.allclose(moved_a.target_pos, ds_b.batch.target_pos, atol=0.01)
    assert torch.allclose(moved_a.bounds_center, ds_b.batch.bounds_center, atol=1e-4)
    assert torch.allclose(moved_a.bounds_rot, ds_b.batch.bounds_rot, atol=1e-5)

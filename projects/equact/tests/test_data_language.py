"""Synthetic keyframe suite, the record interface, augmentation, perturbations, language."""

import numpy as np
import pytest
import torch
from equact.data import (
    TASKS as TASK_TABLE,
)
from equact.data import (
    augment_se3,
    benchmark_records,
    dataset_from_records,
    perturb,
    perturbation,
    synthetic_records,
)
from equact.language import CLIP_TEXT_WIDTH, InstructionEncoder, Vocabulary


def test_synthetic_targets_are_defined_in_the_object_frame():
    records = synthetic_records(["handle"], 3, seed=0)
    for r in records:
        assert "handle" in r.instruction and r.target_open == 0.0
        rot = r.target_rot
        assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-9) and np.linalg.det(rot) > 0
        # the gripper approaches the handle along -x of the object: target sits on white points
        near = np.linalg.norm(r.xyz - r.target_pos, axis=1) < 0.015
        assert near.any() and (r.rgb[near] > 0.8).all(axis=1).mean() > 0.5


def test_records_stack_into_a_dataset(vocab, tasks):
    records = synthetic_records(tasks, 2, seed=1)
    data = dataset_from_records(records, 128, 96, tasks)
    batch = data.get([0, 3], vocab, 16)
    assert batch.xyz.shape == (2, 128, 3) and batch.tokens.shape == (2, 16)
    assert (batch.xyz[:, 32:, 2] > 1e-3).all()  # focused points are object points
    assert len(set(TASK_TABLE)) >= 6


def test_augmentation_keeps_targets_in_bounds_and_is_rigid(dataset, vocab):
    batch = dataset.get(list(range(6)), vocab, 16)
    out = augment_se3(batch, [5, 5, 45], 50, 0.0, torch.Generator().manual_seed(0))
    local = out.target_pos - out.bounds_center
    assert (local.abs() <= out.bounds_half + 1e-6).all()
    d0 = (batch.xyz - batch.target_pos[:, None]).norm(dim=-1)
    d1 = (out.xyz - out.target_pos[:, None]).norm(dim=-1)
    assert torch.allclose(d0, d1, atol=1e-5)
    assert not torch.allclose(out.xyz, batch.xyz)


@pytest.mark.parametrize("kind", ["none", "se2", "se3"])
def test_perturbations(kind, dataset, vocab):
    batch = dataset.get(list(range(4)), vocab, 16)
    rot, shift = perturbation(kind, 4, torch.Generator().manual_seed(0))
    out = perturb(batch, rot, shift)
    assert torch.allclose(out.bounds_center, batch.bounds_center + shift, atol=1e-6)
    tilt = torch.rad2deg(torch.arccos(rot[:, 2, 2].clamp(-1, 1)))
    if kind == "se3":
        assert tilt.max() > 1.0
    else:
        assert tilt.max() < 1e-3
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturbation("se4", 1, torch.Generator())


def test_benchmark_hook_rejects_unknown_tasks_and_splits(tasks):
    with pytest.raises(ValueError, match="unknown keyframe tasks"):
        benchmark_records(tasks, 1, 0, "train")  # synthetic task names are not suite tasks
    with pytest.raises(ValueError, match="closed loop|simulator"):
        benchmark_records(["pick_and_lift"], 1, 0, "test")


def test_instruction_encoder_accepts_tokens_or_clip_features():
    vocab = Vocabulary.from_instructions(["pick up the red block", "hover above it"])
    assert vocab.encode(["pick up the purple block"], 6)[0, 3] == 1  # unknown word
    enc = InstructionEncoder(len(vocab), width=16, layers=1, heads=2, mlp=32, max_tokens=53)
    a = enc(tokens=vocab.encode(["pick up the red block", "hover above it"], 8))
    feats = torch.randn(2, 53, CLIP_TEXT_WIDTH)
    mask = torch.ones(2, 53, dtype=torch.bool)
    mask[1, 10:] = False
    b = enc(clip_features=feats, mask=mask)
    assert a.shape == b.shape == (2, 16) and torch.isfinite(b).all()
    feats2 = feats.clone()
    feats2[1, 10:] = 7.0  # masked tokens must not matter
    assert torch.allclose(enc(clip_features=feats2, mask=mask)[1], b[1], atol=1e-5)
    with pytest.raises(ValueError, match="width"):
        enc(clip_features=torch.randn(2, 5, 300))
    with pytest.raises(ValueError, match="exactly one"):
        enc()

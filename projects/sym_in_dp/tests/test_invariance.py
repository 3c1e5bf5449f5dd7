"""The paper's invariance theorem, end to end, and EquiDiff's equivariance."""

from __future__ import annotations

import pytest
import torch
from sym_in_dp.checks import (
    end_to_end_invariance_error,
    equidiff_equivariance_error,
    relative_action_invariance_error,
)
from sym_in_dp.data import load_demonstrations, make_datasets
from sym_in_dp.methods import build_policy, obs_keys
from sym_in_dp.train import fit_policy_normalizer


@pytest.mark.parametrize("kind", ["relative", "delta"])
def test_relative_actions_invariant_to_world_frame(kind):
    """Acceptance: float64 < 1e-10, float32 < 1e-5."""
    assert relative_action_invariance_error(torch.float64, kind) < 1e-10
    assert relative_action_invariance_error(torch.float32, kind) < 1e-5


def _policy(method, cfg, path):
    keys = obs_keys(method)
    ds, _ = make_datasets(load_demonstrations(path, keys), cfg.data, cfg.model, keys)
    torch.manual_seed(0)
    policy = build_policy(method, cfg.model, cfg.data)
    fit_policy_normalizer(policy, ds)
    return policy, ds.batch(torch.tensor([3, 11]))


def test_eye_in_hand_relative_policy_is_invariant_end_to_end(smoke_cfg, synthetic_file):
    """Acceptance: with gripper-frame proprioception pi(g o) = g pi(o) to < 1e-5; with the
    released absolute proprioception the error exceeds 1e-3."""
    policy, batch = _policy("cnn_rel", smoke_cfg, synthetic_file)
    assert end_to_end_invariance_error(policy, batch["obs"]) < 1e-5
    released, batch = _policy("cnn_rel_absproprio", smoke_cfg, synthetic_file)
    assert end_to_end_invariance_error(released, batch["obs"]) > 1e-3


def test_absolute_action_policy_is_not_invariant(smoke_cfg, synthetic_file):
    policy, batch = _policy("cnn_abs", smoke_cfg, synthetic_file)
    assert end_to_end_invariance_error(policy, batch["obs"], n_transforms=1) > 1e-3


def test_equidiff_denoiser_is_c8_equivariant(smoke_cfg, synthetic_file):
    """Acceptance: EquiDiff (C8 image encoder + equivariant U-Net) under 90 degrees < 1e-4."""
    from dataclasses import replace

    model = replace(smoke_cfg.model, N=8)
    cfg = replace(smoke_cfg, model=model)
    policy, batch = _policy("equidiff_abs", cfg, synthetic_file)
    nobs = policy.normalizer.normalize(policy.preprocessor(batch["obs"]))
    assert equidiff_equivariance_error(policy, nobs) < 1e-4

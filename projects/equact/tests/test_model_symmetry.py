"""E1-E5: the paper's equivariance claims, measured on the full EquAct model."""

import pytest
import torch
from equact import checks
from equact.so3 import make_rotation_grid

N_SAMPLES = 3


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float64, 1e-8)])
def test_unet_features_are_se3_equivariant(make_policy, batch, dtype, tol):
    """E1: EPTU features under random rotations and translations t ~ U[-1, 1]^3 (gate
    nonlinearities only, so the bound is the dtype's rounding)."""
    policy, _ = make_policy(dtype)
    b = batch(dtype)
    cond = torch.randn(len(b), policy.model_cfg.cond_dim, dtype=dtype)
    gen = torch.Generator().manual_seed(1)
    report = checks.unet_equivariance(policy, b, cond, checks.random_rigid(gen, dtype), N_SAMPLES)
    assert report.max_error < tol, str(report)


def test_ifilm_is_invariant_and_film_is_not(make_policy, batch):
    """E2: iFiLM keeps E1 for 5 random instruction embeddings; plain FiLM breaks it (> 1e-2);
    the condition is active (swapping it changes the features by > 1e-3)."""
    b = batch(torch.float64)
    gen = torch.Generator().manual_seed(2)
    errors = {}
    for film in ("ifilm", "film"):
        policy, _ = make_policy(torch.float64, **{"model.film": film})
        worst = 0.0
        for _ in range(5):
            cond = torch.randn(
                len(b), policy.model_cfg.cond_dim, generator=gen, dtype=torch.float64
            )
            report = checks.unet_equivariance(policy, b, cond, checks.random_rigid(gen), 2)
            worst = max(worst, report.max_error)
        errors[film] = worst
        if film == "ifilm":
            c1, c2 = torch.randn(2, len(b), policy.model_cfg.cond_dim, dtype=torch.float64)
            assert checks.instruction_sensitivity(policy, b, c1, c2) > 1e-3
    assert errors["ifilm"] < 1e-8, errors
    assert errors["film"] > 1e-2, errors


def test_translation_scores_and_gripper_logit_are_invariant(make_policy, batch):
    """E3: Q_trans(g x, g q) = Q_trans(x, q); the gripper logit at g p is invariant."""
    policy, _ = make_policy(torch.float32)
    b = batch(torch.float32)
    ghost = policy.ghost_points(b, 0, None, 32, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(3)
    report = checks.translation_invariance(
        policy, b, ghost, checks.random_rigid(gen, torch.float32), N_SAMPLES
    )
    assert report.max_error < 1e-4, str(report)


def test_rotation_scores_permute_exactly_under_the_octahedral_group(make_policy, batch):
    """E4: on the 24-element grid, Q_rot(g x)[i] = Q_rot(x)[pi_g(i)] for all 24 g (with random
    translations); the SO(3) Fourier coefficients transform by D(R) for random R."""
    policy, _ = make_policy(torch.float32)
    policy.set_rotation_grid(make_rotation_grid("octahedral", 0, torch.float32), "eval")
    b = batch(torch.float32)
    gen = torch.Generator().manual_seed(4)
    report = checks.rotation_permutation(policy, b, checks.octahedral_rigid(gen, torch.float32), 24)
    assert report.max_error < 1e-4, str(report)
    report = checks.fourier_equivariance(policy, b, checks.random_rigid(gen, torch.float32), 2)
    assert report.max_error < 1e-4, str(report)


def test_rotation_scores_permute_on_the_octahedral_healpix_grid(make_policy, batch):
    """The O x S grid (480 rotations at level 1) is closed under O, so scores permute too."""
    policy, _ = make_policy(
        torch.float64, **{"action.rot_grid": "octahedral_healpix", "action.rot_level_eval": 1}
    )
    b = batch(torch.float64, n=1)
    gen = torch.Generator().manual_seed(5)
    report = checks.rotation_permutation(policy, b, checks.octahedral_rigid(gen), 4)
    assert report.max_error < 1e-8, str(report)


def test_end_to_end_prediction_is_equivariant(make_policy, batch):
    """E5: predict(g scene) = g predict(scene) for g = octahedral rotation + translation: the
    ghost points move with the scene and the grid is closed under g, so position and rotation
    match to rounding (well within one ghost spacing and one grid bin)."""
    policy, _ = make_policy(
        torch.float64, **{"action.rot_grid": "octahedral_healpix", "action.rot_level_eval": 1}
    )
    b = batch(torch.float64)
    gen = torch.Generator().manual_seed(6)
    for g in checks.octahedral_rigid(gen)(3):
        err = checks.end_to_end(policy, b, g)
        assert err["position"] < 1e-6 and err["rotation_deg"] < 1e-3 and err["open"] < 1e-6, err


def test_baseline_queries_see_their_local_geometry(make_policy, batch):
    """The point-transformer baseline scores ghost points from the global tokens and from each
    ghost's nearest scene points: with the tokens kept, moving the neighbours of one ghost changes
    its score, and moving points in no ghost's neighbourhood changes nothing."""
    from dataclasses import replace

    from equact.geometry import knn

    policy, cfg = make_policy(**{"model.kind": "baseline"})
    b = batch()
    cond = policy.condition(b)
    scene = policy.encode(b, cond)
    ghost = b.xyz[:, :8] + 0.003
    scores = policy.translation_scores(scene, ghost, cond)
    index = knn(ghost, scene.xyz, cfg.model.trans_knn)  # (B, Q, k)

    def shifted(points):  # (B, m) point indices moved by 5 mm
        xyz = scene.xyz.clone()
        xyz.scatter_add_(
            1,
            points[..., None].expand(-1, -1, 3),
            torch.full_like(xyz[:, :1], 0.005).expand(-1, points.shape[1], 3),
        )
        return policy.translation_scores(replace(scene, xyz=xyz), ghost, cond)

    assert (shifted(index[:, 0])[:, 0] - scores[:, 0]).abs().min() > 1e-4
    n = scene.xyz.shape[1]
    used = torch.zeros(len(b), n, dtype=torch.bool).scatter_(1, index.flatten(1), True)
    far = torch.stack([(~u).nonzero()[:10, 0] for u in used])  # 10 unused points per element
    assert torch.equal(shifted(far), scores)

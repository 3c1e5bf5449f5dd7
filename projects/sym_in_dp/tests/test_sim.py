"""The benchmark data source and env runner on real scripted demonstrations (symlab.sim)."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch
from sym_in_dp import reproduce, train
from sym_in_dp.config import EYE_IN_HAND, load_experiment_config
from sym_in_dp.data import dataset_path, load_demonstrations, make_datasets
from sym_in_dp.methods import build_policy, obs_keys
from sym_in_dp.train import fit_policy_normalizer

from symlab.groups import axis_angle_to_matrix
from symlab.policy import (
    ActionConversion,
    axis_angle_action_to_pose,
    eef_pose,
    invert_pose,
    pose_to_axis_angle_action,
    split_pose_action,
)

pytestmark = pytest.mark.sim
pytest.importorskip("robosuite", reason="the benchmark needs the sim extra (robosuite, mujoco)")

SIM = [
    "data.source=sim",
    "data.n_demos=2",
    "data.image_size=40",
    "data.crop=32",
    "eval.n_episodes=1",
    "eval.max_steps=20",
]


@pytest.fixture(scope="module")
def sim_cfg(tmp_path_factory):
    cache = tmp_path_factory.mktemp("sim_data")
    return load_experiment_config("smoke", [*SIM, f"data.cache_dir={cache}"])


@pytest.fixture(scope="module")
def lift_file(sim_cfg):
    """Two scripted Lift demonstrations at 40x40, collected once (and cached) for the module."""
    return dataset_path(sim_cfg.data, "unused", task="lift")


def _raw_demo(path, i=0):
    with h5py.File(path) as f:
        g = f[f"data/demo_{i}"]
        return {
            "actions": torch.from_numpy(g["actions"][()]),
            "pos": torch.from_numpy(g["obs/robot0_eef_pos"][()]),
            "quat": torch.from_numpy(g["obs/robot0_eef_quat"][()]),
        }


def _chunks(x: torch.Tensor, horizon: int) -> torch.Tensor:
    """Every window of ``horizon`` steps starting at each step (last step repeated)."""
    idx = (torch.arange(len(x))[:, None] + torch.arange(horizon)).clamp(max=len(x) - 1)
    return x[idx]


def test_collected_demos_are_cached_and_in_robomimic_layout(lift_file, sim_cfg):
    assert dataset_path(sim_cfg.data, "unused", task="lift") == lift_file  # cache hit
    with h5py.File(lift_file) as f:
        assert len(f["data"]) == 2
        demo = f["data/demo_0"]
        assert demo["actions"].shape[1] == 7
        assert demo[f"obs/{EYE_IN_HAND}"].shape[1:] == (40, 40, 3)
        assert demo["obs/agentview_image"].dtype == np.uint8
        assert demo["rewards"][-1] == 1.0  # the expert lifted the cube


def test_conversions_of_a_collected_demo_reproduce_the_recorded_actions(lift_file):
    """abs / rel / delta encodings of the real demo decode to the recorded absolute actions."""
    demo = _raw_demo(lift_file)
    a7 = demo["actions"]  # float64 absolute OSC actions [pos, axis-angle, gripper]
    A = _chunks(axis_angle_action_to_pose(a7), 16)  # (T, 16, 10)
    T = eef_pose(demo["pos"], demo["quat"])  # current gripper pose at each step
    # The targets are a few centimetres / degrees from the current gripper pose: checks that
    # the recorded quaternions (x y z w) and the actions' axis-angles share one frame.
    rel0 = invert_pose(T) @ split_pose_action(A[:, 0])[0]
    assert rel0[:, :3, 3].norm(dim=-1).max() < 0.06  # OSC tracking lag: up to ~4.5 cm
    cos = ((rel0[:, :3, :3].diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    assert torch.rad2deg(torch.arccos(cos)).max() < 10.0
    for kind in ("absolute", "relative", "delta"):
        conv = ActionConversion(kind, workspace_center=[0.0, 0.0, 0.8])
        enc = conv.encode(A, T)
        if kind != "absolute":
            assert not torch.allclose(enc, A)
        back = pose_to_axis_angle_action(conv.decode(enc, T))  # what the env receives
        recorded = _chunks(a7, 16)
        assert (back[..., :3] - recorded[..., :3]).abs().max() < 1e-12, kind
        assert (back[..., 6] - recorded[..., 6]).abs().max() == 0, kind
        # Axis-angles of the top-down gripper are near pi (sign-ambiguous): compare rotations.
        R_back, R_rec = (
            axis_angle_to_matrix(back[..., 3:6]),
            axis_angle_to_matrix(recorded[..., 3:6]),
        )
        assert (R_back - R_rec).abs().max() < 1e-10, kind


@pytest.mark.parametrize("method", ["cnn_abs", "cnn_delta", "cnn_rel"])
def test_dataset_pipeline_recovers_recorded_actions(lift_file, sim_cfg, method):
    """Through the training windows (float32) and the policy's own encode / decode."""
    keys = obs_keys(method)
    ds, _ = make_datasets(load_demonstrations(lift_file, keys), sim_cfg.data, sim_cfg.model, keys)
    policy = build_policy(method, sim_cfg.model, sim_cfg.data)
    batch = ds.batch(torch.arange(len(ds)))
    params = policy.encode_actions(batch["obs"], batch["action"])
    absolute = policy.decode_actions(batch["obs"], params)
    assert (absolute - batch["action"]).abs().max() < 1e-5
    # The first window starts one step before demo 0 (n_obs_steps - 1 = 1 padded step).
    demo = _raw_demo(lift_file)
    idx = (torch.arange(16) - 1).clamp(min=0)
    recorded = axis_angle_action_to_pose(demo["actions"][idx]).float()
    assert (absolute[0] - recorded).abs().max() < 1e-5


def test_train_and_closed_loop_evaluation_end_to_end(tmp_path, sim_cfg, lift_file, capsys):
    """Collect (cached) -> train a few steps -> periodic and final rollouts through SimRunner."""
    args = [
        "--config",
        "smoke",
        "--methods",
        "cnn_rel",
        "--runs-root",
        str(tmp_path),
        "--run-name",
        "reproduce-smoke-lift-cnn_rel-s0",
        *SIM,
        f"data.cache_dir={sim_cfg.data.cache_dir}",
        "train.steps=6",
        "train.eval_every=3",
        "eval.periodic_episodes=1",
        "eval.n_episodes=2",
    ]
    assert train.main(args) == 0
    out = capsys.readouterr().out
    assert "final success" in out and "/2, Wilson 95%" in out
    run_dir = tmp_path / "sym_in_dp" / "reproduce-smoke-lift-cnn_rel-s0"
    summary = json.loads((run_dir / "summary.json").read_text())["cnn_rel"]
    assert summary["data_file"] == str(lift_file)
    assert [e["step"] for e in summary["evaluations"]] == [3, 6]
    final = summary["final_eval"]
    # The final evaluation (2 episodes) reuses the last periodic one (the first seed).
    assert final["n_episodes"] == 2 and final["step"] == 6 and final["reused_episodes"] == 1
    rollouts = run_dir / "rollouts"
    assert [p.name for p in (rollouts / "cnn_rel-final" / "eval_000" / "episodes").iterdir()] == [
        "episode_100001.json"
    ]
    # 20 environment steps, 8 executed actions per chunk: the policy replanned 3 times.
    assert final["mean_steps"] == 20
    assert final["policy_calls"] == 2 * math.ceil(20 / 8)
    # The best periodic checkpoint (the first, ties keep the earlier) is scored again on the
    # final evaluation's 2 episodes, its own periodic episode reused.
    assert summary["best_step"] == 3 and (run_dir / "checkpoints" / "cnn_rel_best.pt").is_file()
    best = summary["best_eval"]
    assert best["step"] == 3 and best["n_episodes"] == 2 and best["reused_episodes"] == 1
    episode = rollouts / "cnn_rel-periodic" / "eval_001" / "episodes" / "episode_100000.json"
    record = json.loads(episode.read_text())
    assert record["seed"] == 100000 and record["steps"] == 20
    # reproduce reuses the finished run (same name and config) and writes only measured rows.
    out = tmp_path / "results"
    args = [a for a in args if a not in ("--run-name", "reproduce-smoke-lift-cnn_rel-s0")]
    args = [a.replace("--config", "--scale") for a in args]
    extra = ["--tasks", "lift", "--skip-symmetry", "--skip-overfit", "--skip-benchmark"]
    extra += ["--out", str(out)]
    assert reproduce.main([*args, *extra]) == 0
    results = json.loads((out / "smoke" / "results.json").read_text())
    rows = {m["name"]: m for m in results["metrics"] if m["table"] == "Closed-loop success"}
    row = rows["success, lift, CNN-rel (final EMA policy)"]
    assert row["value"] == 100.0 * final["n_success"] / 2 and "/2 episodes" in row["note"]
    assert row["lower"] is None  # the bar moved to the selected checkpoint
    row = rows["success, lift, CNN-rel (best periodic checkpoint, re-evaluated)"]
    assert row["value"] == 100.0 * best["n_success"] / 2 and row["lower"] == 80.0
    assert not any("Stack" in name or "cnn_abs" in name for name in rows)
    assert any("lift/cnn_abs" in note and "Not run" in note for note in results["notes"])


def test_rollouts_are_reproducible(sim_cfg, lift_file):
    """Same seed, same weights: identical closed-loop trajectories (seeded diffusion noise)."""
    from sym_in_dp.sim import SimPolicy

    from symlab.sim import ObservationConfig, SimEnv

    keys = obs_keys("cnn_rel")
    ds, _ = make_datasets(load_demonstrations(lift_file, keys), sim_cfg.data, sim_cfg.model, keys)
    torch.manual_seed(0)
    policy = build_policy("cnn_rel", sim_cfg.model, sim_cfg.data).eval()
    fit_policy_normalizer(policy, ds)
    cams = ObservationConfig.mimicgen(sim_cfg.data.image_size).cameras
    env = SimEnv("lift", obs=ObservationConfig(cameras=cams[1:]))
    runs = []
    for _ in range(2):
        obs = env.reset(100000)
        agent = SimPolicy(policy, keys, seed=0)
        agent.reset(env.episode_info())
        actions = []
        for _ in range(10):
            a = agent.act(obs)
            actions.append(a)
            obs, *_ = env.step(a)
        runs.append(np.stack(actions))
    env.close()
    assert runs[0].shape == (10, 7)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_generalisation_probe_end_to_end(tmp_path, sim_cfg, capsys):
    """Spec 7.2 at smoke size: CNN-abs and CNN-rel trained on the half workspace (2 demos),
    their best checkpoints scored in distribution, on the turned half and with the whole scene
    turned; scores cached; the drop row compares each method with CNN-abs."""
    from symlab.results import ResultsRecorder

    cfg = load_experiment_config(
        "smoke",
        [
            *SIM,
            f"data.cache_dir={sim_cfg.data.cache_dir}",
            "train.steps=4",
            "train.eval_every=2",
            "eval.periodic_episodes=1",
            "eval.n_episodes=2",
            "probe.methods=[cnn_abs, cnn_rel]",
        ],
    )
    assert cfg.probe.train_task == "lift_d1_half"
    rec = ResultsRecorder("sym_in_dp", "paper", "smoke", tmp_path / "results")
    scores = reproduce.generalisation_probe(cfg, rec, tmp_path)
    conds = ["lift_d1_half", "lift_d1_half_yaw180", "lift_d1_half, whole scene turned"]
    assert {m: list(s) for m, s in scores.items()} == {"cnn_abs": conds, "cnn_rel": conds}
    assert all(n == 2 for s in scores.values() for _, n in s.values())
    run_dir = tmp_path / "sym_in_dp" / "reproduce-smoke-lift_d1_half-cnn_rel-s0"
    best = json.loads((run_dir / "best_eval_cnn_rel.json").read_text())
    # In distribution is the best checkpoint's own re-evaluation on the training task.
    assert scores["cnn_rel"]["lift_d1_half"] == (best["n_success"], 2)
    assert (run_dir / "checkpoints" / "cnn_rel_best.pt").is_file() and best["step"] in (2, 4)
    for name in (
        "probe_eval_cnn_rel_lift_d1_half_yaw180",
        "probe_eval_cnn_rel_lift_d1_half_turned",
    ):
        cached = json.loads((run_dir / f"{name}.json").read_text())
        assert cached["step"] == best["step"] and cached["n_episodes"] == 2
    episodes = run_dir / "rollouts" / "cnn_rel-probe-probe_eval_cnn_rel_lift_d1_half_turned"
    record = json.loads(next(episodes.rglob("episode_100000.json")).read_text())
    assert record["seed"] == 100000
    rows = {m.name: m for m in rec.results.metrics}
    drop = rows["drop lift_d1_half -> lift_d1_half_yaw180: CNN-rel minus CNN-abs"]
    (k0, _), (k1, _) = scores["cnn_rel"]["lift_d1_half"], scores["cnn_rel"]["lift_d1_half_yaw180"]
    (b0, _), (b1, _) = scores["cnn_abs"]["lift_d1_half"], scores["cnn_abs"]["lift_d1_half_yaw180"]
    assert drop.value == pytest.approx(50.0 * ((k0 - k1) - (b0 - b1)))
    assert drop.upper == (None if k0 == b0 == 0 else 0.0)
    assert "success, CNN-abs, lift_d1_half, whole scene turned" in rows
    # A second pass reuses the runs and the cached scores: nothing is trained or rolled out.
    capsys.readouterr()
    rec2 = ResultsRecorder("sym_in_dp", "paper", "smoke", tmp_path / "results2")
    assert reproduce.generalisation_probe(cfg, rec2, tmp_path, report_only=True) == scores
    assert "probe cnn" not in capsys.readouterr().out
    reproduce.plot_probe(scores, tmp_path / "probe.png")
    assert (tmp_path / "probe.png").stat().st_size > 0

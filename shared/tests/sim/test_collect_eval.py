"""Demonstration datasets (robomimic layout, resumable, cached, replayable) and the evaluation
runner (seeded episodes, Wilson interval, per-episode JSON)."""

import json

import h5py
import numpy as np
import pytest

pytest.importorskip("robosuite", reason="robosuite not installed (pip install symlab[sim])")

import symlab.sim.collect as collect_mod
from symlab.data import ReplayBuffer
from symlab.sim import CameraConfig, ObservationConfig
from symlab.sim.collect import CollectConfig, collect, reconvert, replay_demo
from symlab.sim.env import SimEnv
from symlab.sim.evaluate import (
    EvalConfig,
    ExpertPolicy,
    KeyframeAction,
    evaluate,
    wilson_interval,
)

pytestmark = pytest.mark.sim

OBS = ObservationConfig(cameras=(CameraConfig("agentview", 32, 32),))


def test_collect_writes_robomimic_file_that_replays(tmp_path, monkeypatch):
    cfg = CollectConfig(task="lift", n_demos=2, obs=OBS, val_fraction=0.5)
    path = tmp_path / "lift.hdf5"
    # Resume: a shard of seed 0 already exists (as if an earlier run was killed) ...
    shard_dir = path.with_name(path.name + ".parts")
    shard_dir.mkdir()
    collect_mod._worker_init(cfg)
    collect_mod._run_seed((cfg, 0, str(shard_dir)))
    calls = []
    run = collect_mod._run_seed
    monkeypatch.setattr(collect_mod, "_run_seed", lambda job: calls.append(job[1]) or run(job))
    out = collect(cfg, path, progress=False)
    assert calls == [1]  # ... so only seed 1 is simulated
    assert not shard_dir.exists()

    buf = ReplayBuffer.from_robomimic_hdf5(out)
    assert buf.n_episodes == 2
    assert {"agentview_image", "robot0_eef_pos", "robot0_joint_pos"} <= set(buf.obs_keys)
    assert buf["obs/agentview_image"].dtype == np.uint8
    assert buf["actions"].shape[1] == 7 and "states" in buf
    assert buf.env_args["env_name"] == "lift"
    with h5py.File(out) as f:
        assert len(f["mask/train"]) == 1 and len(f["mask/valid"]) == 1
        env = SimEnv.from_env_args(json.loads(f["data"].attrs["env_args"]))
        for name in ("demo_0", "demo_1"):
            g = f[f"data/{name}"]
            assert replay_demo(env, g)["success"]
            # states re-render the stored observations
            states, images = g["states"][()], g["obs/agentview_image"][()]
            for t in (0, len(states) // 2, len(states) - 1):
                env.set_state(states[t])
                img = env.get_observation()["agentview_image"]
                assert np.abs(img.astype(int) - images[t].astype(int)).max() <= 2
        env.close()
    # Re-render other cameras from the stored states.
    wide = ObservationConfig(cameras=(CameraConfig("robot0_eye_in_hand_wide", 8, 8),))
    out2 = reconvert(out, tmp_path / "lift_wide.hdf5", wide, n_demos=1, progress=False)
    buf2 = ReplayBuffer.from_robomimic_hdf5(out2)
    n0 = buf.episode_lengths[0]
    assert buf2["obs/robot0_eye_in_hand_wide_image"].shape == (n0, 8, 8, 3)
    np.testing.assert_array_equal(buf2["actions"], buf["actions"][:n0])
    with h5py.File(out2) as f:
        assert f["data/demo_0"].attrs["seed"] == 0
    # Cached: a second call returns the file without simulating.
    mtime = out.stat().st_mtime_ns
    assert collect(cfg, path, progress=False) == out and out.stat().st_mtime_ns == mtime
    assert calls == [1]


class KeyframeExpert:
    """Plays the expert's keyframe waypoints through execute_keyframe (RLBench style)."""

    def bind(self, env):
        self.env = env

    def reset(self, info):
        self.it = iter(
            [w for w in self.env.task.expert(self.env, self.env._expert_rng) if w.keyframe]
        )

    def act(self, obs):
        wp = next(self.it)
        return KeyframeAction(wp.pose, wp.gripper_open)


@pytest.mark.parametrize("factory", [ExpertPolicy, KeyframeExpert])
def test_evaluate_expert(tmp_path, factory):
    cfg = EvalConfig(task="lift", n_episodes=2, obs=ObservationConfig(), max_keyframes=3)
    res = evaluate(factory, cfg, out_dir=tmp_path, progress=False)
    assert res.success_rate == 1.0 and res.n_episodes == 2
    assert (res.ci_low, res.ci_high) == pytest.approx(wilson_interval(2, 2))
    files = sorted((tmp_path / "episodes").glob("episode_*.json"))
    assert [json.loads(f.read_text())["seed"] for f in files] == [100000, 100001]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["success_rate"] == 1.0 and summary["config"]["task"] == "lift"


def test_evaluate_video_without_imageio(tmp_path):
    cfg = EvalConfig(task="lift", n_episodes=1, video=True, video_size=16, max_steps=5)
    evaluate(ExpertPolicy, cfg, out_dir=tmp_path, progress=False)
    rec = json.loads(next((tmp_path / "episodes").glob("*.json")).read_text())
    assert rec["steps"] == 5
    if rec["video"].endswith(".npz"):
        frames = np.load(rec["video"])["frames"]
        assert frames.shape == (6, 16, 16, 3)

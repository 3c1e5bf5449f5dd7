"""Synthetic robomimic data, train / eval / reproduce end to end at smoke scale."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from sym_in_dp import eval as sid_eval
from sym_in_dp import reproduce, train
from sym_in_dp.config import AGENTVIEW, EYE_IN_HAND
from sym_in_dp.data import load_demonstrations

from symlab.data import DatasetError
from symlab.policy import eef_pose, split_pose_action


def test_synthetic_file_has_robomimic_layout(synthetic_file, smoke_cfg):
    with h5py.File(synthetic_file) as f:
        demo = f["data/demo_0"]
        assert demo["actions"].shape == (smoke_cfg.data.episode_length, 7)
        assert demo[f"obs/{EYE_IN_HAND}"].dtype == np.uint8
        assert demo[f"obs/{AGENTVIEW}"].shape[1:] == (84, 84, 3)
        assert demo["obs/robot0_eef_quat"].shape[1] == 4
        assert int(f["data"].attrs["total"]) == 2 * smoke_cfg.data.episode_length


def test_actions_become_pose_actions_reaching_the_next_pose(synthetic_file):
    keys = ["robot0_eef_pos", "robot0_eef_quat"]
    buf = load_demonstrations(synthetic_file, keys)
    a = torch.from_numpy(buf["actions"]).double()
    assert a.shape[-1] == 10
    T_next, _ = split_pose_action(a[:-1])
    pos = torch.from_numpy(buf["obs/robot0_eef_pos"]).double()
    quat = torch.from_numpy(buf["obs/robot0_eef_quat"]).double()
    T_obs = eef_pose(pos, quat)
    ends = buf.episode_ends
    inside = np.setdiff1d(np.arange(len(a) - 1), ends - 1)  # steps whose next obs is known
    assert (T_next[inside] - T_obs[inside + 1]).abs().max() < 1e-5


def test_bad_action_dimension_is_rejected(tmp_path, synthetic_file):
    from symlab.data import ReplayBuffer

    buf = ReplayBuffer.from_robomimic_hdf5(synthetic_file, obs_keys=["robot0_eef_pos"])
    data = dict(buf.data)
    data["actions"] = data["actions"][:, :4]
    ReplayBuffer(data, buf.episode_ends).write_robomimic_hdf5(tmp_path / "bad.hdf5")
    with pytest.raises(DatasetError, match="dimension 4"):
        load_demonstrations(tmp_path / "bad.hdf5", ["robot0_eef_pos"])


def test_train_resume_and_eval_end_to_end(tmp_path, capsys):
    args = ["--config", "smoke", "--methods", "cnn_rel", "--runs-root", str(tmp_path)]
    assert train.main([*args, "--run-name", "r", "--stop-after", "10"]) == 0
    ckpt = tmp_path / "sym_in_dp" / "r" / "checkpoints"
    assert (ckpt / "cnn_rel.pt").is_file() and not (ckpt / "cnn_rel_policy.pt").exists()
    assert train.main([*args, "--run-name", "r"]) == 0  # resumes from step 10
    out = capsys.readouterr().out
    assert "cnn_rel" in out and "steps     20" in out and "(resumed)" in out
    summary = json.loads((tmp_path / "sym_in_dp" / "r" / "summary.json").read_text())
    assert summary["cnn_rel"]["offline"]["n_windows"] == 8
    assert sid_eval.main(["--checkpoint", str(ckpt / "cnn_rel_policy.pt")]) == 0
    assert "position_error_m" in capsys.readouterr().out


def test_equivariant_encoder_run_resumes_exactly(tmp_path):
    """escnn's eval-mode filter caches stay out of checkpoints: an interrupted EquiEnc run
    resumes from a freshly built model, a finished one reloads, and the losses match an
    uninterrupted run."""
    args = ["--config", "smoke", "--methods", "equienc_rel", "--runs-root", str(tmp_path)]
    assert train.main([*args, "--run-name", "whole"]) == 0
    assert train.main([*args, "--run-name", "whole"]) == 0  # a finished run reloads
    assert train.main([*args, "--run-name", "cut", "--stop-after", "10"]) == 0
    assert train.main([*args, "--run-name", "cut"]) == 0
    summaries = [
        json.loads((tmp_path / "sym_in_dp" / n / "summary.json").read_text())["equienc_rel"]
        for n in ("whole", "cut")
    ]
    assert summaries[0]["steps"] == summaries[1]["steps"] == 20
    assert summaries[0]["losses"] == summaries[1]["losses"]


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = ["--config", "smoke", "--device", "cuda", "--runs-root", str(tmp_path)]
    assert train.main(args) == 1
    assert "CUDA is not available" in capsys.readouterr().err


def test_clear_errors(tmp_path, capsys):
    assert train.main(["--config", "smoke", "model.down_dim=[4]"]) == 1
    assert "down_dims" in capsys.readouterr().err
    assert train.main(["--config", "smoke", "--env-runner", "nowhere"]) == 1
    assert "package.module:function" in capsys.readouterr().err
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    assert sid_eval.main(["--checkpoint", str(bad)]) == 1
    assert "could not be read" in capsys.readouterr().err


class ScriptedRunner:
    """Stands in for the benchmark's env runner: checks the hook's call pattern."""

    calls: list = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def run(self, policy):
        ScriptedRunner.calls.append(self.kwargs["task"])
        return {"success_rate": 0.5}


def make_runner(**kwargs):
    return ScriptedRunner(**kwargs)


def test_env_runner_hook_is_called_periodically(tmp_path):
    ScriptedRunner.calls = []
    spec = f"{__name__}:make_runner"
    args = ["--config", "smoke", "--methods", "cnn_rel", "--runs-root", str(tmp_path)]
    assert train.main([*args, "--env-runner", spec, "train.eval_every=10"]) == 0
    # periodic evaluations at steps 10 and 20; the final runner is the periodic one, so the
    # final policy (step 20) and the best checkpoint (step 10; a tie keeps the earlier one)
    # reuse those evaluations instead of running again
    assert ScriptedRunner.calls == ["lift", "lift"]
    summary = json.loads((tmp_path / "sym_in_dp" / "train-smoke" / "summary.json").read_text())
    assert summary["cnn_rel"]["best_eval"]["step"] == 10


def test_reproduce_smoke_writes_results(tmp_path):
    out = tmp_path / "results"
    code = reproduce.main(
        [
            "--scale",
            "smoke",
            "--methods",
            "cnn_rel",
            "--out",
            str(out),
            "--runs-root",
            str(tmp_path),
        ]
    )
    assert code == 0
    results = json.loads((out / "smoke" / "results.json").read_text())
    names = [m["name"] for m in results["metrics"]]
    assert any("end-to-end" in n for n in names) and any("throughput" in n for n in names)
    assert (out / "smoke" / "overfit_loss.png").is_file()
    # The symmetry checks pass at smoke scale too.
    checks = [m for m in results["metrics"] if m["table"] == "Symmetry properties"]
    assert all(m["passed"] is not False for m in checks), [
        (m["name"], m["value"]) for m in checks if m["passed"] is False
    ]
    assert any("not reported" in note for note in results["notes"])


def test_orderings_check_stack_d1_within_five_points_and_only_report_other_tasks(tmp_path):
    rec = reproduce.ResultsRecorder("sym_in_dp", "paper", "smoke", tmp_path)
    scores = {
        ("lift", "cnn_rel"): (30, 50),
        ("lift", "cnn_abs"): (45, 50),
        ("stack_d1", "cnn_rel"): (20, 50),
        ("stack_d1", "cnn_abs"): (22, 50),  # rel 4 points below abs: within the slack
        ("stack_d1", "equienc_rel"): (10, 50),  # 20 points below CNN-rel: fails
        ("stack_d1", "fa_rel"): None,  # trained but not evaluated: no row
    }
    reproduce.orderings(scores, rec)
    rows = {m.name: m for m in rec.results.metrics}
    assert set(rows) == {
        "lift: CNN-rel minus CNN-abs",
        "stack_d1: CNN-rel minus CNN-abs",
        "stack_d1: EquiEnc-rel minus CNN-rel",
    }
    lift = rows["lift: CNN-rel minus CNN-abs"]
    assert lift.value == pytest.approx(-30.0) and lift.passed is None
    assert rows["stack_d1: CNN-rel minus CNN-abs"].value == pytest.approx(-4.0)
    assert rows["stack_d1: CNN-rel minus CNN-abs"].passed is True
    assert rows["stack_d1: CNN-rel minus CNN-abs"].paper == pytest.approx(5.9)
    assert rows["stack_d1: EquiEnc-rel minus CNN-rel"].passed is False
    # Both at 0/50 on Stack D1: reported, but not a pass (0 - 0 says nothing about the order).
    rec = reproduce.ResultsRecorder("sym_in_dp", "paper", "smoke", tmp_path)
    reproduce.orderings({("stack_d1", "cnn_rel"): (0, 50), ("stack_d1", "cnn_abs"): (0, 50)}, rec)
    (row,) = rec.results.metrics
    assert row.value == 0.0 and row.passed is None and "not measured" in row.note
    # The released-proprioception CNN-rel is compared with CNN-abs and CNN-rel, never as a check.
    rec = reproduce.ResultsRecorder("sym_in_dp", "paper", "smoke", tmp_path)
    scores = {("stack_d1", m): (k, 50) for m, k in [("cnn_rel_absproprio", 10), ("cnn_abs", 30)]}
    reproduce.orderings({**scores, ("stack_d1", "cnn_rel"): (0, 50)}, rec)
    rows = {m.name: m for m in rec.results.metrics}
    info = rows["stack_d1: CNN-rel (absolute proprio, as released) minus CNN-abs"]
    assert info.value == pytest.approx(-40.0) and info.passed is None
    same_row = rows["stack_d1: CNN-rel (absolute proprio, as released) minus CNN-rel"]
    assert same_row.passed is None and same_row.paper is None  # one paper row, no paper value
    assert info.paper == pytest.approx(5.9)
    assert rows["stack_d1: CNN-rel minus CNN-abs"].passed is False


class MethodRunner:
    """A scripted runner whose success rate depends on the method (CNN-rel 4 points below
    CNN-abs): checks that ``reproduce`` turns the closed-loop scores into the ordering rows."""

    RATES = {"cnn_rel": 0.46, "cnn_abs": 0.5}

    def __init__(self, **kwargs):
        self.method = kwargs["method"]

    def run(self, policy):
        return {"success_rate": self.RATES[self.method], "n_episodes": 50}


def make_method_runner(**kwargs):
    return MethodRunner(**kwargs)


def test_reproduce_closed_loop_writes_success_and_ordering_rows(tmp_path, monkeypatch):
    out = tmp_path / "results"
    spec = f"{__name__}:make_method_runner"
    args = ["--scale", "smoke", "--methods", "cnn_rel", "cnn_abs", "--tasks", "stack_d1"]
    args += ["--skip-symmetry", "--skip-overfit", "--skip-benchmark", "--env-runner", spec]
    args += ["--out", str(out), "--runs-root", str(tmp_path), "train.eval_every=10"]
    assert reproduce.main(args) == 0
    metrics = json.loads((out / "smoke" / "results.json").read_text())["metrics"]
    rows = {m["name"]: m for m in metrics}
    best = rows["success, stack_d1, CNN-rel (best periodic checkpoint, re-evaluated)"]
    assert best["value"] == pytest.approx(46.0) and best["passed"] is None  # no bar off Lift
    order = rows["stack_d1: CNN-rel minus CNN-abs"]
    assert order["value"] == pytest.approx(-4.0) and order["passed"] is True
    # --report-only tabulates the finished runs again and neither trains nor evaluates: no run
    # is started for cnn_delta, and the runner is never built.
    monkeypatch.setattr(MethodRunner, "RATES", {})
    args[args.index("cnn_abs") + 1 : args.index("cnn_abs") + 1] = ["cnn_delta"]
    assert reproduce.main([*args, "--report-only"]) == 0
    again = json.loads((out / "smoke" / "results.json").read_text())
    assert [m["value"] for m in again["metrics"]] == [m["value"] for m in metrics]
    assert not (tmp_path / "sym_in_dp" / "reproduce-smoke-stack_d1-cnn_delta-s0").exists()
    assert any("stack_d1/cnn_delta" in n and "not finished" in n for n in again["notes"])
    # --skip-table --keep-rows: the table's rows are kept from the file just written, marked,
    # while what this invocation measures (the symmetry checks) is new.
    keep = ["--scale", "smoke", "--skip-overfit", "--skip-benchmark", "--skip-table"]
    keep += ["--keep-rows", "--out", str(out), "--runs-root", str(tmp_path)]
    assert reproduce.main(keep) == 0
    kept = json.loads((out / "smoke" / "results.json").read_text())
    rows = {m["name"]: m for m in kept["metrics"]}
    order = rows["stack_d1: CNN-rel minus CNN-abs"]
    assert order["value"] == pytest.approx(-4.0) and order["passed"] is True
    assert f"kept from the results of {again['created']}" in order["note"]
    assert any(m["table"] == "Symmetry properties" for m in kept["metrics"])
    assert not any("kept from" in m["note"] for m in kept["metrics"] if "Symmetry" in m["table"])
    assert any(n.startswith("Kept from the results of") for n in kept["notes"])
    assert "The closed-loop method table was not run (--skip-table)." in kept["notes"]
    (out / "smoke" / "results.json").write_text("{not json")
    assert reproduce.main(keep) == 1

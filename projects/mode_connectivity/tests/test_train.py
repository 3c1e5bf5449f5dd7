"""Training: checkpoints, identical numbers after resuming, clear errors."""

import pytest
import torch
from mode_connectivity import train
from mode_connectivity.config import NetworkTrainConfig, load_experiment_config
from mode_connectivity.networks import load_network
from mode_connectivity.trained import train_network

from symlab.runs import NonFiniteError

TINY = [
    "training.two_layer.steps=12",
    "training.two_layer.seeds=[0]",
    "training.two_layer.checkpoint_every=4",
    "training.five_layer.steps=6",
    "training.five_layer.checkpoint_every=4",
    "training.deep_linear.steps=10",
    "training.deep_linear.checkpoint_every=4",
]


def test_train_cli_writes_checkpoints(tmp_path, capsys):
    assert train.main(["--config", "smoke", *TINY, "--runs-root", str(tmp_path)]) == 0
    run_dir = tmp_path / "mode_connectivity" / "train-smoke"
    names = sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt"))
    assert names == [
        "deep_linear_seed0.pt",
        "deep_linear_seed1.pt",
        "five_layer_seed0.pt",
        "two_layer_seed0.pt",
    ]
    net = load_network(run_dir / "checkpoints" / "two_layer_seed0.pt")
    assert net.model.widths == [16, 32, 4] and net.step == 12
    assert net.X.shape == (16, 8) and net.X.dtype == torch.float64
    assert (run_dir / "summary.json").is_file() and (run_dir / "metrics.jsonl").is_file()
    assert "two_layer_seed0" in capsys.readouterr().out


def test_resume_gives_identical_numbers(tmp_path):
    cfg = load_experiment_config("smoke", TINY).training.two_layer
    straight = train_network(cfg, 0, checkpoint=tmp_path / "a.pt")
    interrupted = train_network(cfg, 0, checkpoint=tmp_path / "b.pt", stop_after=8)
    assert interrupted.step == 8
    resumed = train_network(cfg, 0, checkpoint=tmp_path / "b.pt")
    assert resumed.step == straight.step == 12
    for a, b in zip(straight.weights, resumed.weights):
        assert torch.equal(a, b)
    assert straight.final_loss == resumed.final_loss


def test_cli_resume_with_the_same_run_name(tmp_path):
    args = ["--config", "smoke", *TINY, "--runs-root", str(tmp_path), "--networks", "five_layer"]
    assert train.main([*args, "--run-name", "r", "--stop-after", "4"]) == 0
    ckpt = tmp_path / "mode_connectivity" / "r" / "checkpoints" / "five_layer_seed0.pt"
    assert load_network(ckpt).step == 4
    assert train.main([*args, "--run-name", "r"]) == 0
    assert load_network(ckpt).step == 6
    assert train.main([*args, "--run-name", "straight"]) == 0
    other = tmp_path / "mode_connectivity" / "straight" / "checkpoints" / "five_layer_seed0.pt"
    for a, b in zip(load_network(ckpt).weights, load_network(other).weights):
        assert torch.equal(a, b)


def test_nan_loss_raises_a_clear_error(tmp_path, capsys):
    cfg = NetworkTrainConfig(
        widths=[4, 4, 4],
        activation="linear",
        batch=4,
        data="gaussian_square",
        steps=50,
        lr=1e6,
        optimizer="sgd",
    )
    with pytest.raises(NonFiniteError, match=r"network \(seed 0\) training loss became .* at step"):
        train_network(cfg, 0, checkpoint=tmp_path / "x.pt")
    bad = ["training.deep_linear.lr=1.0e+6", "training.deep_linear.steps=50"]
    code = train.main(
        ["--config", "smoke", *bad, "--runs-root", str(tmp_path), "--networks", "deep_linear"]
    )
    assert code == 1
    assert "deep_linear (seed 0) training loss became" in capsys.readouterr().err


def test_config_errors_are_reported(tmp_path, capsys):
    assert train.main(["--config", "smoke", "training.two_layer.step=3"]) == 1
    assert "did you mean 'steps'" in capsys.readouterr().err

"""Configs validated on load, run directories, checkpoints (state dicts only) and resume."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch

from symlab.runs import (
    CheckpointError,
    ConfigError,
    NonFiniteError,
    Run,
    check_finite,
    config_from_dict,
    config_to_dict,
    load_checkpoint,
    load_config,
    resolve_device,
    restore_checkpoint,
    runs_root,
    save_checkpoint,
    seed_everything,
)


@dataclass
class OptimConfig:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass
class TrainConfig:
    steps: int = 10
    encoder: Literal["cnn", "equivariant"] = "cnn"
    optim: OptimConfig = field(default_factory=OptimConfig)
    tasks: list[str] = field(default_factory=lambda: ["lift"])
    note: str | None = None


def test_config_nested_and_typed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 5\nencoder: equivariant\noptim:\n  lr: 1\n  betas: [0.8, 0.9]\n")
    cfg = load_config(TrainConfig, path, overrides=["tasks=[stack, lift]", "optim.lr=0.5"])
    assert cfg.steps == 5 and cfg.encoder == "equivariant"
    assert cfg.optim.lr == 0.5 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.betas == (0.8, 0.9)
    assert cfg.tasks == ["stack", "lift"]
    assert config_from_dict(TrainConfig, config_to_dict(cfg)) == cfg
    # YAML reads 1e6 as a string; a float field still takes it.
    assert load_config(TrainConfig, path, overrides=["optim.lr=1e6"]).optim.lr == 1e6


@pytest.mark.parametrize(
    "data, message",
    [
        ({"stpes": 3}, r"unknown config key 'stpes' \(did you mean 'steps'\?\)"),
        ({"optim": {"learning_rate": 1}}, r"unknown config key 'optim.learning_rate'"),
        ({"steps": "many"}, r"steps: expected an integer"),
        ({"steps": 2.5}, r"steps: expected an integer"),
        ({"optim": {"lr": "fast"}}, r"optim.lr: expected a number"),
        ({"encoder": "mlp"}, r"encoder: 'mlp' is not one of \['cnn', 'equivariant'\]"),
        ({"optim": {"betas": [0.9]}}, r"optim.betas: expected 2 items"),
    ],
)
def test_config_errors_name_the_problem(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(TrainConfig, data)


def test_config_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(TrainConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(TrainConfig, bad)


def test_seed_everything_repeats_numbers():
    seed_everything(3)
    a = (torch.randn(3), np.random.rand(3))  # noqa: NPY002 (the global state is what is seeded)
    seed_everything(3)
    b = (torch.randn(3), np.random.rand(3))  # noqa: NPY002 (the global state is what is seeded)
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_run_directory_records_everything(tmp_path):
    run = Run("demo", TrainConfig(steps=3), seed=7, root=tmp_path, name="r1")
    run.log_metrics({"loss": 1.5}, step=0)
    run.log_metrics({"loss": 0.5}, step=1)
    run.write_summary({"final_loss": 0.5})
    meta = json.loads((run.path / "meta.json").read_text())
    assert meta["seed"] == 7 and "torch" in meta["packages"] and "git_revision" in meta
    assert [m["loss"] for m in run.read_metrics()] == [1.5, 0.5]
    assert (run.path / "config.yaml").read_text().startswith("steps: 3")
    # Re-opening the same run resumes it; another config under the same name is refused.
    again = Run("demo", TrainConfig(steps=3), seed=7, root=tmp_path, name="r1")
    assert again.resumed and len(again.read_metrics()) == 2
    with pytest.raises(ValueError, match="different config"):
        Run("demo", TrainConfig(steps=4), seed=7, root=tmp_path, name="r1")


def _train(model, opt, steps, start=0, ckpt=None, interrupt_at=None):
    losses = []
    for step in range(start, steps):
        x = torch.randn(16, 4)
        loss = (model(x) - x.sum(-1, keepdim=True)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if ckpt is not None:
            save_checkpoint(ckpt, model=model, optimizer=opt, step=step + 1)
        if interrupt_at is not None and step + 1 == interrupt_at:
            break
    return losses


def test_checkpoint_resume_gives_the_same_numbers(tmp_path):
    def fresh():
        seed_everything(0)
        model = torch.nn.Linear(4, 1)
        return model, torch.optim.Adam(model.parameters(), lr=0.1)

    model, opt = fresh()
    straight = _train(model, opt, 6)

    model, opt = fresh()
    ckpt = tmp_path / "last.pt"
    first = _train(model, opt, 6, ckpt=ckpt, interrupt_at=3)
    model, opt = torch.nn.Linear(4, 1), None
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    state = restore_checkpoint(ckpt, model=model, optimizer=opt)
    rest = _train(model, opt, 6, start=state["step"])
    assert first + rest == pytest.approx(straight, abs=0, rel=0)


def test_checkpoint_is_plain_and_errors_are_clear(tmp_path):
    model = torch.nn.Linear(2, 2)
    path = save_checkpoint(tmp_path / "c.pt", model=model, config={"a": 1}, step=4)
    state = torch.load(path, weights_only=True)  # loads without unpickling code
    assert state["step"] == 4 and state["config"] == {"a": 1}
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt.pt could not be read"):
        load_checkpoint(corrupt)
    with pytest.raises(CheckpointError, match="does not fit"):
        restore_checkpoint(path, model=torch.nn.Linear(3, 2))
    with pytest.raises(CheckpointError, match="no state for 'optimizer'"):
        restore_checkpoint(path, optimizer=torch.optim.SGD(model.parameters(), lr=1))


def test_check_finite():
    assert check_finite(torch.tensor(1.0)) == torch.tensor(1.0)
    with pytest.raises(NonFiniteError, match="loss became nan at step 12"):
        check_finite(torch.tensor(float("nan")), step=12)


def test_lightning_trainer_logs_into_the_run(tmp_path):
    """The Lightning helper trains on a DeviceLoader and writes epoch metrics into the run."""
    import lightning

    from symlab.data import DeviceLoader
    from symlab.runs import init_wandb, lightning_trainer

    class Regressor(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            loss = (self.lin(batch["x"]) - batch["y"]).pow(2).mean()
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x = torch.randn(256, 3)
    data = {"x": x, "y": x.sum(-1, keepdim=True)}
    run = Run("demo", {"epochs": 3}, seed=0, root=tmp_path, name="lit")
    assert init_wandb(run) is None  # tests run with WANDB_MODE=disabled
    trainer = lightning_trainer(run, max_epochs=3, enable_progress_bar=False, logger=False)
    trainer.fit(Regressor(), DeviceLoader(data, batch_size=64, generator=0))
    losses = [m["train_loss"] for m in run.read_metrics()]
    assert len(losses) == 3 and losses[-1] < losses[0]


def _fake_package(tmp_path, name="fake_project"):
    """A package object with shipped configs, built without touching sys.path."""
    import importlib.util

    root = tmp_path / name
    (root / "configs").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    spec = importlib.util.spec_from_file_location(
        name, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, root / "configs"


def test_scale_config_loader(tmp_path):
    from symlab.runs import load_scale_config, scale_config_path

    package, configs = _fake_package(tmp_path)
    (configs / "smoke.yaml").write_text("optim: {lr: 0.5}\ntasks: [stack]\n")
    assert scale_config_path(package, "smoke") == configs / "smoke.yaml"
    cfg = load_scale_config(TrainConfig, package, "smoke", ["steps=3"])
    assert (cfg.optim.lr, cfg.tasks, cfg.steps) == (0.5, ["stack"], 3)
    custom = tmp_path / "mine.yaml"
    custom.write_text("steps: 9\n")
    assert load_scale_config(TrainConfig, package, custom).steps == 9
    with pytest.raises(ConfigError, match="ships no 'cpu' config"):
        scale_config_path(package, "cpu")
    with pytest.raises(ConfigError, match="neither a scale"):
        scale_config_path(package, "gpu")
    (configs / "paper.yaml").write_text("stepz: 1\n")
    with pytest.raises(ConfigError, match="stepz"):
        load_scale_config(TrainConfig, package, "paper")


def test_runs_root_prefers_the_argument_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SYMLAB_RUNS", raising=False)
    assert runs_root() == Path("runs")
    monkeypatch.setenv("SYMLAB_RUNS", str(tmp_path / "env"))
    assert runs_root() == tmp_path / "env"
    assert runs_root(tmp_path / "arg") == tmp_path / "arg"
    run = Run("proj", TrainConfig(steps=1), seed=0, name="r")
    assert run.path == tmp_path / "env" / "proj" / "r"
    monkeypatch.setenv("SYMLAB_RUNS", "")  # an empty variable is unset, not the current folder
    assert runs_root() == Path("runs")


def test_resolve_device_picks_cuda_only_when_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device() == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")

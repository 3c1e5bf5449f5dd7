"""Configs, learning beats a baseline, exact resume, clear NaN errors, checkpoint reload."""

from pathlib import Path

import numpy as np
import pytest
import torch
from iaemu.config import CONFIG_DIR, SCALES, load
from iaemu.training import load_emulator, train_emulator

from symlab.runs import ConfigError, NonFiniteError, Run


@pytest.mark.parametrize("scale", SCALES)
def test_every_shipped_config_loads(scale):
    cfg = load(scale)
    assert cfg.scale == scale
    assert len(cfg.mocks.low) == 7
    assert (CONFIG_DIR / f"{scale}.yaml").is_file()


def test_bad_config_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match="epochz"):
        load("smoke", ["train.epochz=3"])
    with pytest.raises(ConfigError, match="neither"):
        load(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="high"):
        load("smoke", ["mocks.high=[0, 0, 0, 0, 0, 0, 0]"])


def _synthetic(n, seed):
    """Smooth functions of the 7 inputs with realization noise: a learnable stand-in for mocks."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 7))
    r = np.linspace(-1, 1, 20)
    clean = np.stack(
        [
            np.exp(2 + x[:, :1] * 2 * (1 - r) - x[:, 1:2] * r),
            0.1 * x[:, 2:3] * np.exp(-((r - x[:, 3:4]) ** 2)),
            0.04 * x[:, 4:5] * (1 - r**2),
        ],
        axis=1,
    )
    # 5% scatter on xi, 0.01 on omega and eta.
    noise_sd = np.stack([0.05 * clean[:, 0], np.full((n, 20), 0.01), np.full((n, 20), 0.01)], 1)
    noisy = clean + noise_sd * rng.normal(size=clean.shape)
    return x, noisy, clean


def test_training_beats_the_mean_baseline():
    cfg = load(
        "smoke",
        [
            "train.epochs=25",
            "train.batch_size=64",
            "train.warmup_epochs=5",
            "train.report_interval=5",
            "model.width=0.5",
            "train.lr=3e-3",
            "model.y_scaling=per_bin",  # as the cpu scale
        ],
    )
    x, y, _ = _synthetic(640, 0)
    emu, history = train_emulator(cfg, x, y, progress=False)
    xt, _, yt = _synthetic(200, 1)  # compare with the noise-free truth
    with torch.no_grad():
        mean, _ = emu.predict(torch.as_tensor(xt))
    mean = mean.numpy()
    for s in range(3):
        model_err = np.abs(mean[:, s] - yt[:, s]).mean()
        base_err = np.abs(y[:, s].mean(0) - yt[:, s]).mean()
        assert model_err < 0.7 * base_err, (s, model_err, base_err)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_resume_gives_the_same_numbers(tmp_path):
    cfg = load("smoke", ["train.epochs=4", "train.report_interval=2"])
    x, y, _ = _synthetic(96, 2)
    straight = Run("iaemu", cfg, cfg.seed, root=tmp_path, name="straight")
    emu_a, _ = train_emulator(cfg, x, y, run=straight, progress=False)
    interrupted = Run("iaemu", cfg, cfg.seed, root=tmp_path, name="resumed")
    train_emulator(cfg, x, y, run=interrupted, progress=False, stop_after=2)
    assert (interrupted.checkpoint_dir / "last.pt").exists()
    again = Run("iaemu", cfg, cfg.seed, root=tmp_path, name="resumed")
    assert again.resumed
    emu_b, hist_b = train_emulator(cfg, x, y, run=again, progress=False)
    assert len(hist_b) == 4
    for (k, a), b in zip(emu_a.state_dict().items(), emu_b.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    # The checkpoint rebuilds the same emulator (config travels with it).
    emu_c, cfg_c = load_emulator(Path(again.checkpoint_dir) / "best.pt", device=torch.device("cpu"))
    assert cfg_c == cfg
    theta = torch.as_tensor(x[:3])
    torch.testing.assert_close(emu_c.predict(theta)[0], emu_b.cpu().predict(theta)[0])


def test_nan_in_the_data_stops_with_a_clear_error():
    cfg = load("smoke", ["train.epochs=2"])
    x, y, _ = _synthetic(64, 3)
    y[5, 1, 3] = np.nan
    with pytest.raises(NonFiniteError, match="training loss"):
        train_emulator(cfg, x, y, progress=False)

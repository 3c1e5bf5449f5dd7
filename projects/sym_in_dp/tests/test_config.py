"""Every shipped config loads; wrong keys and values fail with clear errors."""

import pytest
from sym_in_dp.config import ExperimentConfig, load_experiment_config

from symlab.runs import ConfigError


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
def test_shipped_configs_load(scale):
    cfg = load_experiment_config(scale)
    assert isinstance(cfg, ExperimentConfig)
    assert (cfg.model.horizon, cfg.model.n_action_steps, cfg.model.n_obs_steps) == (16, 8, 2)
    assert set(cfg.methods) >= {"cnn_abs", "cnn_rel", "equienc_rel", "fa_rel", "equidiff_abs"}


def test_paper_scale_has_the_paper_settings():
    cfg = load_experiment_config("paper")
    m = cfg.model
    assert m.down_dims == [512, 1024, 2048] and m.fa_down_dims == [256, 512, 1024]
    assert m.equi_widths == [8, 16, 32, 64] and m.equi_out == 128 and m.N == 8
    assert m.num_train_timesteps == 100 and m.num_inference_steps == 100
    assert cfg.train.lr == 1e-4 and cfg.train.betas == [0.95, 0.999]
    assert cfg.train.weight_decay == 1e-6 and cfg.train.warmup_steps == 500
    assert cfg.eval.n_episodes == 50 and len(cfg.eval.seeds) == 3


def test_unknown_keys_and_values_fail_clearly(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  down_dim: [8]\n")
    with pytest.raises(ConfigError, match="down_dim.*down_dims"):
        load_experiment_config(bad)
    with pytest.raises(ConfigError, match="unknown methods"):
        load_experiment_config("smoke", ["methods=[cnn_rell]"])
    with pytest.raises(ConfigError, match=r"probe.methods: unknown methods \['cnn_ab'\]"):
        load_experiment_config("cpu", ["probe.methods=[cnn_ab]"])
    with pytest.raises(ConfigError, match="probe.train_tsk.*train_task"):
        load_experiment_config("cpu", ["probe.train_tsk=lift"])
    with pytest.raises(ConfigError, match="not one of"):
        load_experiment_config("smoke", ["model.sampler=euler"])
    with pytest.raises(ConfigError, match="neither a scale"):
        load_experiment_config("tiny")

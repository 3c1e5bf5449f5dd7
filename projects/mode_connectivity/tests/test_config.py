"""Configs: the packaged scales load, wrong keys and values fail clearly."""

import pytest
from mode_connectivity.config import SCALES, ExperimentConfig, load_experiment_config

from symlab.runs import ConfigError


@pytest.mark.parametrize("scale", SCALES)
def test_packaged_configs_load(scale):
    cfg = load_experiment_config(scale)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.training.two_layer.widths == [16, 32, 4]
    assert cfg.training.two_layer.batch == 8


def test_cpu_scale_matches_the_brief():
    cfg = load_experiment_config("cpu")
    assert cfg.components.depths == [2, 3, 4] and cfg.components.widths == [1, 2, 3]
    assert cfg.components.n_minima >= 200 and cfg.components.n_curve_points == 101
    assert cfg.skip.grid_points == 401 and cfg.skip.box == 3.0
    assert cfg.approx_action.n_networks == 100 and cfg.approx_action.max_dim == 100
    assert cfg.lmc.multipliers == [1, 2, 4, 8, 16, 32, 64]
    assert cfg.trained_curves.n_group_elements == 10
    assert cfg.time_budget_s <= 300


def test_unknown_key_is_rejected_with_a_suggestion(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("components:\n  n_minimum: 5\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'components.n_minimum'.*n_minima"):
        load_experiment_config(path)
    with pytest.raises(ConfigError, match="unknown config key 'trained_curve'"):
        load_experiment_config("smoke", ["trained_curve.n_group_elements=3"])


def test_wrong_types_and_values_are_rejected():
    with pytest.raises(ConfigError, match="expected an integer"):
        load_experiment_config("smoke", ["components.n_minima=many"])
    with pytest.raises(ConfigError, match="not one of"):
        load_experiment_config("smoke", ["training.two_layer.optimizer=lbfgs"])
    with pytest.raises(ConfigError, match="hidden width >= batch"):
        load_experiment_config("smoke", ["training.two_layer.batch=64"])
    with pytest.raises(ConfigError, match="depths must be >= 2"):
        load_experiment_config("smoke", ["components.depths=[1, 2]"])
    with pytest.raises(ConfigError, match="neither a scale"):
        load_experiment_config("no_such_scale")


def test_overrides_apply():
    cfg = load_experiment_config("smoke", ["components.n_minima=7", "lmc.multipliers=[1, 3]"])
    assert cfg.components.n_minima == 7
    assert cfg.lmc.multipliers == [1.0, 3.0]

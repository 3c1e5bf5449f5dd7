"""Runs: directories, seeding, configs validated on load, checkpoints, wandb and Lightning."""

from ._checkpoint import CheckpointError, load_checkpoint, restore_checkpoint, save_checkpoint
from ._config import (
    SCALES,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    load_scale_config,
    scale_config_path,
)
from ._logging import init_wandb, lightning_loggers, lightning_trainer, metrics_callback, wandb_mode
from ._run import (
    NonFiniteError,
    Run,
    check_finite,
    git_revision,
    package_versions,
    resolve_device,
    runs_root,
    seed_everything,
    write_json_atomic,
)

__all__ = [
    "SCALES",
    "CheckpointError",
    "ConfigError",
    "NonFiniteError",
    "Run",
    "apply_overrides",
    "check_finite",
    "config_from_dict",
    "config_to_dict",
    "git_revision",
    "init_wandb",
    "lightning_loggers",
    "lightning_trainer",
    "load_checkpoint",
    "load_config",
    "load_scale_config",
    "metrics_callback",
    "package_versions",
    "resolve_device",
    "restore_checkpoint",
    "runs_root",
    "save_checkpoint",
    "scale_config_path",
    "seed_everything",
    "wandb_mode",
    "write_json_atomic",
]

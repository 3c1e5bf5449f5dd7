"""wandb (offline by default) and Lightning helpers around a :class:`Run`."""

from __future__ import annotations

import os
from typing import Any

from ._config import config_to_dict
from ._run import Run, check_finite


def wandb_mode() -> str:
    """The wandb mode: ``$WANDB_MODE`` when set, else ``offline`` (sync later with ``wandb sync``)."""
    return os.environ.get("WANDB_MODE", "offline")


def init_wandb(run: Run, *, mode: str | None = None, **kwargs: Any):
    """Start a wandb run writing into the run directory.

    Returns ``None`` when wandb is not installed or the mode is ``disabled`` (as in tests), so
    callers can write ``if wb: wb.log(...)``.
    """
    mode = mode or wandb_mode()
    if mode == "disabled":
        return None
    try:
        import wandb
    except ImportError:
        return None
    return wandb.init(
        project=f"symlab-{run.project}",
        name=run.path.name,
        dir=str(run.path),
        config=config_to_dict(run.config),
        mode=mode,
        reinit=True,
        **kwargs,
    )


def lightning_loggers(run: Run) -> list:
    """CSV logger into the run directory, plus a wandb logger unless wandb is disabled."""
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    loggers: list = [CSVLogger(save_dir=str(run.path), name="lightning", version="")]
    mode = wandb_mode()
    if mode != "disabled":
        loggers.append(
            WandbLogger(
                project=f"symlab-{run.project}",
                name=run.path.name,
                save_dir=str(run.path),
                offline=mode == "offline",
                config=config_to_dict(run.config),
            )
        )
    return loggers


def metrics_callback(run: Run):
    """A Lightning callback that appends epoch-end metrics to the run's ``metrics.jsonl`` and
    stops with a clear error when the training loss is NaN or infinite."""
    from lightning.pytorch.callbacks import Callback

    class _RunMetrics(Callback):
        def on_train_epoch_end(self, trainer, pl_module) -> None:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
            for key, value in metrics.items():
                if "loss" in key:
                    check_finite(value, what=key, step=trainer.current_epoch)
            run.log_metrics(metrics, step=trainer.current_epoch)

    return _RunMetrics()


def lightning_trainer(run: Run, **kwargs: Any):
    """A ``lightning.Trainer`` logging into ``run`` (deterministic, progress bar on).

    Lightning's own checkpointing is off: its files pickle hyper-parameters and need
    ``weights_only=False``. Save state dicts with :func:`symlab.runs.save_checkpoint` instead.
    """
    import lightning

    defaults: dict[str, Any] = dict(
        default_root_dir=str(run.path),
        logger=lightning_loggers(run),
        callbacks=[metrics_callback(run)],
        enable_checkpointing=False,
        deterministic=True,
        enable_progress_bar=True,
        accelerator="auto",
        devices=1,
    )
    if "callbacks" in kwargs:
        kwargs["callbacks"] = defaults["callbacks"] + list(kwargs["callbacks"])
    defaults.update(kwargs)
    return lightning.Trainer(**defaults)

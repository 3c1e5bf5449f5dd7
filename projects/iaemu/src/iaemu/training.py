"""Training with a Lightning ``Trainer``: beta-NLL with warm-up, AdamW + MultiStepLR, early
stopping, checkpoints, exact resume.

The whole dataset lives on the device and batches are index gathers (:class:`_Batches`); the
validation metric runs through Lightning's validation loop every ``report_interval`` epochs.
Every epoch writes ``checkpoints/last.pt`` (model, optimizer, scheduler, RNG states, epoch,
early-stopping state) as a symlab state-dict checkpoint (Lightning's own checkpoints pickle
objects and are off), so rerunning with the same run name continues exactly where it stopped;
the best validation model is ``checkpoints/best.pt``.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch

from symlab.runs import (
    Run,
    check_finite,
    config_to_dict,
    lightning_trainer,
    load_checkpoint,
    resolve_device,
    restore_checkpoint,
    save_checkpoint,
)

from .config import Config
from .losses import betas_for_epoch, training_loss, validation_metric
from .model import Emulator


def build_emulator(cfg: Config) -> Emulator:
    return Emulator(cfg.model.width, cfg.model.dropout, cfg.eval.xi_variance, cfg.model.y_scaling)


class _Batches:
    """Mini-batches of device-resident tensors in a new order (torch's global RNG) each epoch.

    The order comes from the global RNG, which ``last.pt`` saves, so a resumed run draws the same
    batches as an uninterrupted one. A last batch of one row is dropped (BatchNorm cannot
    normalise a single sample in training).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        self.x, self.y, self.bs = x, y, batch_size
        n = len(x)
        self.n_batches = max(
            1, n // batch_size if n % batch_size == 1 else math.ceil(n / batch_size)
        )

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self):
        order = torch.randperm(len(self.x)).to(self.x.device)
        for b in range(self.n_batches):
            idx = order[b * self.bs : (b + 1) * self.bs]
            yield self.x[idx], self.y[idx]


class _Whole:
    """The validation set as one batch (draws no random numbers)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return 1

    def __iter__(self):
        yield self.x, self.y


def _module_class():
    import lightning

    class EmulatorModule(lightning.LightningModule):
        """The paper's training step and epoch bookkeeping around an :class:`Emulator`."""

        def __init__(self, emu, cfg, opt, sched, state, run, x_val, y_val) -> None:
            super().__init__()
            self.emu, self.cfg, self.opt, self.sched = emu, cfg, opt, sched
            self.state, self.run_dir, self.val = state, run, _Whole(x_val, y_val)
            self.best_state = None
            self._sum, self._n = 0.0, 0

        @property
        def global_epoch(self) -> int:
            return self.state["epoch"]

        def configure_optimizers(self):
            # The scheduler is stepped by hand at the end of each epoch, before last.pt is
            # written, so that a resumed run continues with the same learning rate.
            return self.opt

        def train_dataloader(self):
            return self._train

        def val_dataloader(self):
            return self.val

        def on_train_epoch_start(self) -> None:
            self._sum, self._n = 0.0, 0
            tc = self.cfg.train
            self._betas = betas_for_epoch(
                self.global_epoch, tc.warmup_epochs, tc.beta_warmup, tc.betas
            )

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = training_loss(self.emu.net(x), y, self._betas)
            check_finite(loss, what="training loss", step=self.global_epoch)
            self._sum += float(loss.detach())
            self._n += 1
            return loss

        def validation_step(self, batch, batch_idx):
            # Lightning validates every epoch of this call; the metric is computed every
            # report_interval epochs of the whole run (so also after a resume) and at the end.
            epoch, tc = self.global_epoch, self.cfg.train
            if (epoch + 1) % tc.report_interval != 0 and epoch + 1 != tc.epochs:
                return
            x, y = batch
            combined, mse, nll = validation_metric(
                self.emu.net(x), y, self.cfg.train.val_mse_weight
            )
            self._val = dict(val_combined=combined, val_mse=mse, val_nll=nll)

        def on_train_epoch_end(self) -> None:
            epoch, tc, st = self.global_epoch, self.cfg.train, self.state
            self.sched.step()
            record = {"epoch": epoch, "train_loss": self._sum / max(self._n, 1)}
            record["lr"] = self.sched.get_last_lr()[0]
            if getattr(self, "_val", None) is not None:
                record.update(self._val)
                self._val = None
                if record["val_combined"] < st["best"]:
                    st["best"], st["bad"] = record["val_combined"], 0
                    self.best_state = {
                        k: v.detach().clone() for k, v in self.emu.state_dict().items()
                    }
                    if self.run_dir:
                        save_checkpoint(
                            self.run_dir.checkpoint_dir / "best.pt",
                            model=self.emu,
                            step=epoch,
                            config=config_to_dict(self.cfg),
                        )
                else:
                    st["bad"] += 1
                    st["stopped"] = st["bad"] >= tc.patience
            st["history"].append(record)
            st["epoch"] = epoch + 1
            if st["stopped"]:
                self.trainer.should_stop = True
            if self.run_dir:
                self.run_dir.log_metrics(record, step=epoch)
                save_checkpoint(
                    self.run_dir.checkpoint_dir / "last.pt",
                    model=self.emu,
                    optimizer=self.opt,
                    scheduler=self.sched,
                    step=epoch,
                    config=config_to_dict(self.cfg),
                    extra=st,
                )

    return EmulatorModule


def train_emulator(
    cfg: Config,
    x_rows: np.ndarray,
    y_rows: np.ndarray,
    run: Run | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> tuple[Emulator, list[dict]]:
    """Fit the emulator on single-realization rows with a Lightning ``Trainer``.

    Parameters
    ----------
    x_rows : ndarray, shape (M, 7)
        Physical parameters, one row per realization.
    y_rows : ndarray, shape (M, 3, 20)
        Raw statistics with xi > 0 (see :func:`iaemu.dataset.clean_rows`).
    run : symlab.runs.Run, optional
        Run directory for metrics and checkpoints; resumes from its ``last.pt``.
    stop_after : int, optional
        Return after this many epochs of this call (an interruption; rerun to resume).

    Returns
    -------
    The emulator holding the best-validation weights (eval mode, on ``device``) and the
    per-epoch history.
    """
    import lightning

    tc = cfg.train
    device = device or resolve_device()
    if tc.threads > 0 and device.type == "cpu":
        torch.set_num_threads(tc.threads)
    emu = build_emulator(cfg)
    emu.pre.fit(x_rows, y_rows)
    emu.to(device)
    x = emu.pre.transform_x(torch.as_tensor(x_rows, device=device)).float()
    y = emu.pre.transform_y(torch.as_tensor(y_rows, device=device)).float()
    # Random 90/10 split of the rows, as the paper; fixed by the config seed.
    g = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(len(x), generator=g).to(device)
    n_val = max(1, int(round(tc.val_fraction * len(x))))
    x_val, y_val = x[perm[:n_val]], y[perm[:n_val]]
    x_tr, y_tr = x[perm[n_val:]], y[perm[n_val:]]
    opt = torch.optim.AdamW(emu.net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=[tc.epochs // 3, 2 * (tc.epochs // 3)], gamma=0.1
    )
    state = {"epoch": 0, "best": math.inf, "bad": 0, "stopped": False, "history": []}
    last = run.checkpoint_dir / "last.pt" if run else None
    if last is not None and last.exists():
        ck = restore_checkpoint(last, model=emu, optimizer=opt, scheduler=sched)
        state = dict(ck["extra"])
        state["history"] = list(state["history"])
    module = _module_class()(emu, cfg, opt, sched, state, run, x_val, y_val)
    if run and (run.checkpoint_dir / "best.pt").exists():
        module.best_state = load_checkpoint(run.checkpoint_dir / "best.pt")["state_dicts"]["model"]
    module._train = _Batches(x_tr, y_tr, tc.batch_size)
    todo = tc.epochs - state["epoch"]
    if stop_after is not None:
        todo = min(todo, stop_after)
    if todo > 0 and not state["stopped"]:
        kw = dict(
            max_epochs=todo,
            accelerator=device.type,
            devices=1,
            gradient_clip_val=tc.grad_clip,
            gradient_clip_algorithm="norm",
            # Validation every report_interval epochs of the whole run (also after a resume).
            check_val_every_n_epoch=1,
            num_sanity_val_steps=0,
            enable_progress_bar=progress,
            enable_model_summary=False,
            # Determinism comes from the seeds; use_deterministic_algorithms is not needed here.
            deterministic=False,
        )
        with _quiet_lightning():
            trainer = (
                lightning_trainer(run, **kw)
                if run
                else lightning.Trainer(logger=False, enable_checkpointing=False, **kw)
            )
            trainer.fit(module)
    if module.best_state is not None:
        emu.load_state_dict(module.best_state)
    emu.eval()
    return emu, state["history"]


@contextlib.contextmanager
def _quiet_lightning():
    """Silence Lightning's start-up banners and its hints about worker processes (the batches
    are device-resident index gathers, no DataLoader)."""
    import logging
    import warnings

    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*isinstance.*LeafSpec.*")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def load_emulator(path, device: torch.device | None = None) -> tuple[Emulator, Config]:
    """Rebuild an emulator and its config from a checkpoint written by :func:`train_emulator`."""
    from symlab.runs import config_from_dict

    ck = load_checkpoint(path, map_location="cpu")
    if "config" not in ck:
        raise ValueError(f"checkpoint {path} holds no config; it was not written by iaemu")
    cfg = config_from_dict(Config, ck["config"])
    emu = build_emulator(cfg)
    restore_checkpoint(ck, model=emu, restore_rng=False)
    return emu.to(device or resolve_device()).eval(), cfg

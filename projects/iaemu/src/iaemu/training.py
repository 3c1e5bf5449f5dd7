"""Training loop: beta-NLL with warm-up, AdamW + MultiStepLR, early stopping, checkpoints, resume.

A plain device-resident loop (the whole dataset lives on the device; batches are index
gathers). Every epoch writes ``checkpoints/last.pt`` (model, optimizer, scheduler, RNG states,
epoch, early-stopping state), so rerunning with the same run name continues exactly where it
stopped; the best validation model is ``checkpoints/best.pt``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from symlab.runs import (
    Run,
    check_finite,
    config_to_dict,
    load_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)

from .config import Config
from .losses import betas_for_epoch, training_loss, validation_metric
from .model import Emulator


def default_device() -> torch.device:
    """cuda when available, else cpu (never mps-only)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_emulator(cfg: Config) -> Emulator:
    return Emulator(cfg.model.width, cfg.model.dropout, cfg.eval.xi_variance)


def train_emulator(
    cfg: Config,
    x_rows: np.ndarray,
    y_rows: np.ndarray,
    run: Run | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> tuple[Emulator, list[dict]]:
    """Fit the emulator on single-realization rows.

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
    validation history.
    """
    from tqdm.auto import tqdm

    tc = cfg.train
    device = device or default_device()
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
    net = emu.net
    opt = torch.optim.AdamW(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=[tc.epochs // 3, 2 * (tc.epochs // 3)], gamma=0.1
    )
    state = {"epoch": 0, "best": math.inf, "bad": 0, "stopped": False, "history": []}
    last = run.checkpoint_dir / "last.pt" if run else None
    if last is not None and last.exists():
        ck = restore_checkpoint(last, model=emu, optimizer=opt, scheduler=sched)
        state = dict(ck["extra"])
        state["history"] = list(state["history"])
    best_state = None
    if run and (run.checkpoint_dir / "best.pt").exists():
        best_state = load_checkpoint(run.checkpoint_dir / "best.pt")["state_dicts"]["model"]
    n_tr, bs = len(x_tr), tc.batch_size
    # Drop a last batch of one row: BatchNorm cannot normalise a single sample in training.
    n_batches = max(1, n_tr // bs if n_tr % bs == 1 else math.ceil(n_tr / bs))
    bar = tqdm(range(state["epoch"], tc.epochs), desc="train", disable=not progress, unit="epoch")
    start = state["epoch"]
    for epoch in bar:
        if state["stopped"] or (stop_after is not None and epoch - start >= stop_after):
            break
        betas = betas_for_epoch(epoch, tc.warmup_epochs, tc.beta_warmup, tc.betas)
        net.train()
        order = torch.randperm(n_tr).to(device)
        total = 0.0
        for b in range(n_batches):
            idx = order[b * bs : (b + 1) * bs]
            opt.zero_grad(set_to_none=True)
            loss = training_loss(net(x_tr[idx]), y_tr[idx], betas)
            check_finite(loss, what="training loss", step=epoch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), tc.grad_clip)
            opt.step()
            total += float(loss.detach())
        sched.step()
        record = {"epoch": epoch, "train_loss": total / n_batches, "lr": sched.get_last_lr()[0]}
        if (epoch + 1) % tc.report_interval == 0 or epoch + 1 == tc.epochs:
            net.eval()
            with torch.no_grad():
                combined, mse, nll = validation_metric(net(x_val), y_val, tc.val_mse_weight)
            record.update(val_combined=combined, val_mse=mse, val_nll=nll)
            if combined < state["best"]:
                state["best"], state["bad"] = combined, 0
                best_state = {k: v.detach().clone() for k, v in emu.state_dict().items()}
                if run:
                    save_checkpoint(
                        run.checkpoint_dir / "best.pt",
                        model=emu,
                        step=epoch,
                        config=config_to_dict(cfg),
                    )
            else:
                state["bad"] += 1
                state["stopped"] = state["bad"] >= tc.patience
            bar.set_postfix(loss=f"{record['train_loss']:.3f}", val=f"{combined:.3f}")
        state["history"].append(record)
        state["epoch"] = epoch + 1
        if run:
            run.log_metrics(record, step=epoch)
            save_checkpoint(
                last,
                model=emu,
                optimizer=opt,
                scheduler=sched,
                step=epoch,
                config=config_to_dict(cfg),
                extra=state,
            )
    bar.close()
    if best_state is not None:
        emu.load_state_dict(best_state)
    emu.eval()
    return emu, state["history"]


def load_emulator(path, device: torch.device | None = None) -> tuple[Emulator, Config]:
    """Rebuild an emulator and its config from a checkpoint written by :func:`train_emulator`."""
    from symlab.runs import config_from_dict

    ck = load_checkpoint(path, map_location="cpu")
    if "config" not in ck:
        raise ValueError(f"checkpoint {path} holds no config; it was not written by iaemu")
    cfg = config_from_dict(Config, ck["config"])
    emu = build_emulator(cfg)
    restore_checkpoint(ck, model=emu, restore_rng=False)
    return emu.to(device or default_device()).eval(), cfg

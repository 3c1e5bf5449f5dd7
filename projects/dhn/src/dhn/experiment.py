"""Configs, training (networks and autodecoder codes), test-time code fitting and the evaluation
of the three tasks: forward simulation, representation learning and super-resolution."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .baselines import (
    CNNUpsampler,
    HNNTransformer,
    VanillaResNet,
    VanillaTransformer,
    linear_upsample,
)
from .model import (
    DHN,
    ModelConfig,
    forward_masks,
    representation_masks,
    rollout,
    src_tgt_blocks,
    superres,
    superres_masks,
)
from .systems import DataConfig, get_system, load_dataset, physical_energy, relative_energy_drift

TASKS = ("forward", "representation", "superres")
MODELS = ("dhn", "hnn", "vanilla", "resnet", "cnn")


@dataclass
class TrainConfig:
    """Optimisation of networks and codes (paper: Adam lr 1e-4, wd 1e-4, batch 32, 200 epochs)."""

    epochs: int = 40
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "constant"  # "constant" (the reference's effective schedule) or "cosine"
    code_lr: float = 0.0  # learning rate of the autodecoder codes (0 = lr)
    windows: int = 16  # block pairs drawn per trajectory and step (0 = all)
    w_eom: float = 1.0
    w_denoise: float = 0.1


@dataclass
class FitConfig:
    """Test-time code fitting with the networks frozen (paper: Adam lr 1e-2, batch 100)."""

    epochs: int = 200
    lr: float = 1e-2
    batch: int = 100
    obs_steps: int = 16  # completion: codes are fit from the first obs_steps coarse states


@dataclass
class EvalConfig:
    """Generation settings."""

    n_init: int = 8
    denoise_steps: list[int] = field(default_factory=lambda: [10, 1])
    update: int = 0  # states written per window move (0 = the stride s)
    n_fit_eval: int = 64  # training trajectories evaluated for the fitting task
    superres_log2: int = 3  # given states every 2**k coarse steps (k = 3: every 64 raw steps)
    superres_span: int = 65  # coarse states per interpolation window (raw 0..512)


@dataclass
class Config:
    """One training run: a model on a task and system."""

    task: str = "forward"
    model: str = "dhn"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    net: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    forward_systems: list[str] = field(
        default_factory=lambda: ["double_pendulum", "single_pendulum"]
    )
    superres_systems: list[str] = field(
        default_factory=lambda: ["double_pendulum", "single_pendulum"]
    )
    # training seeds of the forward-simulation tables: every (system, model) is trained once per
    # seed and the tables give the mean over them (empty: ``seed`` alone)
    forward_seeds: list[int] = field(default_factory=list)
    # further DHN block sizes / strides ``[b, s]`` of the paper's forward-simulation sweep, trained
    # with ``seed`` alone and reported in their own table (``net.block``/``net.stride`` is the
    # setting the criteria use)
    forward_block_sweep: list[list[int]] = field(default_factory=list)
    runs_root: str = "runs"

    def __post_init__(self) -> None:
        if self.train.schedule not in ("constant", "cosine"):
            raise ValueError(
                f"train.schedule {self.train.schedule!r} is not 'constant' or 'cosine'"
            )
        if self.task not in TASKS:
            raise ValueError(f"task {self.task!r} is not one of {TASKS}")
        if self.model not in MODELS:
            raise ValueError(f"model {self.model!r} is not one of {MODELS}")
        for pair in self.forward_block_sweep:
            if len(pair) != 2 or not pair[0] >= pair[1] >= 1:
                raise ValueError(
                    f"forward_block_sweep entry {pair!r} is not [block, stride] with "
                    "block >= stride >= 1"
                )
        if (
            self.task == "superres"
            and self.model in ("dhn",)
            and (self.net.block, self.net.stride) != (2, 1)
        ):
            self.net = dataclasses.replace(self.net, block=2, stride=1)


def limit_cpu_threads() -> int:
    """Use ``$DHN_NUM_THREADS`` (default 1) intra-op threads on CPU and return the number.

    The models are small (d = 32..128, a few hundred tokens per step), so one thread is as fast
    as two on an idle 2-core machine, while on a shared, loaded one PyTorch's default of one
    thread per core oversubscribes the cores and a training step gets 10-60x slower (measured:
    0.06 s vs 3.4 s per forward-DHN step at cpu scale, load average 5-7).
    """
    import os

    n = int(os.environ.get("DHN_NUM_THREADS", "1"))
    if n < 1:
        raise ValueError(f"DHN_NUM_THREADS must be a positive integer, got {n}")
    torch.set_num_threads(n)
    return n


def load(config: str, overrides: list[str] | None = None) -> Config:
    """Load a shipped config by scale name (``smoke``, ``cpu``, ``paper``) or a YAML path."""
    from symlab.runs import load_scale_config

    return load_scale_config(Config, "dhn", config, overrides)


def variant(cfg: Config, **changes) -> Config:
    """A copy of ``cfg`` with top-level fields and ``data``/``net`` fields replaced."""
    data = dataclasses.replace(cfg.data, **changes.pop("data", {}))
    net = dataclasses.replace(cfg.net, **changes.pop("net", {}))
    return Config(
        **{
            **{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)},
            "data": data,
            "net": net,
            **changes,
        }
    )


# ---------------------------------------------------------------- data and models


class Data:
    """Tensors of one system: ``q, p`` ``[N, T, D]`` (full coarse trajectories) per split."""

    def __init__(self, cfg: Config, cache_dir=None) -> None:
        arrays = load_dataset(cfg.data, cache_dir=cache_dir)
        self.system = get_system(cfg.data.system)
        self.split = {}
        for name, a in arrays.items():
            self.split[name] = {
                "q": torch.as_tensor(a["q"], dtype=torch.float32),
                "p": torch.as_tensor(a["p"], dtype=torch.float32),
                "p_scale": a["p_scale"],
                "params": a["params"],
                "energy_raw": a.get("energy_raw"),
            }


def crop_for(cfg: Config, split: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The states a task trains on: the first ``n_coarse`` (forward, representation) or the
    in-distribution interpolation span (super-resolution)."""
    n = cfg.eval.superres_span if cfg.task == "superres" else cfg.data.n_coarse
    return split["q"][:, :n], split["p"][:, :n]


def build_model(cfg: Config, n_codes: int):
    """The network of ``cfg.model`` with a codebook of ``n_codes`` latent codes."""
    net = dataclasses.replace(cfg.net, dim=get_system(cfg.data.system).dim)
    norm = cfg.task == "representation"
    if cfg.model == "dhn":
        stages = cfg.eval.superres_log2 if cfg.task == "superres" else 1
        return DHN(net, n_codes, stages=stages, normalize_codes=norm)
    if cfg.model == "hnn":
        return HNNTransformer(net, n_codes, norm)
    if cfg.model == "vanilla":
        return VanillaTransformer(net, n_codes, norm)
    if cfg.model == "resnet":
        return VanillaResNet(net, n_codes, norm)
    return CNNUpsampler(net, stages=cfg.eval.superres_log2)


def model_loss(cfg: Config, model, q, p, idx, codes=None, generator=None):
    """Training loss of ``model`` on trajectories ``q, p`` ``[B, T, D]`` with code indices."""
    if cfg.model == "cnn":  # no latent code, as in the reference
        gap = 2**cfg.eval.superres_log2
        qh, ph = model(q[:, ::gap], p[:, ::gap])
        return F.mse_loss(qh, q) + F.mse_loss(ph, p)
    z = model.code(idx, codes)
    bsz, _, dim = q.shape
    if cfg.model == "dhn":
        stages = range(len(model.h_plus))
        total = 0.0
        for stage in stages:
            if cfg.task == "superres":
                step = 2 ** (cfg.eval.superres_log2 - 1 - stage)
                qs_, ps_ = q[:, ::step], p[:, ::step]
                b, s, masks = 2, 1, superres_masks(dim)
            else:
                qs_, ps_ = q, p
                b, s = cfg.net.block, cfg.net.stride
                masks = (
                    forward_masks(b, s, dim)
                    if cfg.task == "forward"
                    else representation_masks(b, dim, generator)
                )
            q_src, q_tgt = src_tgt_blocks(qs_, b, s)
            p_src, p_tgt = src_tgt_blocks(ps_, b, s)
            n = q_src.shape[1]
            w = cfg.train.windows
            if 0 < w < n:
                pick = torch.rand(bsz, n, generator=generator).argsort(1)[:, :w]
            else:
                pick = torch.arange(n).expand(bsz, n)
            sel = pick[..., None, None]
            take = [
                torch.take_along_dim(x, sel, 1).reshape(-1, b, dim)
                for x in (q_src, p_src, q_tgt, p_tgt)
            ]
            zz = z[:, None].expand(bsz, pick.shape[1], z.shape[-1]).reshape(-1, z.shape[-1])
            loss, _ = model.block_loss(
                stage,
                *take,
                zz,
                masks,
                base_with_noise=cfg.task != "representation",
                use_out_mask=cfg.task == "superres",
                w_eom=cfg.train.w_eom,
                w_denoise=cfg.train.w_denoise,
                generator=generator,
            )
            total = total + loss
        return total
    t = q.shape[1] - 1
    zz = z[:, None].expand(bsz, t, z.shape[-1])
    return model.step_loss(q[:, :-1], p[:, :-1], q[:, 1:], p[:, 1:], zz)


# ---------------------------------------------------------------- training


def learning_rate(tc: TrainConfig, step: int, total_steps: int) -> float:
    """Learning rate at optimiser step ``step`` (a function of the step, so resuming from a
    checkpoint continues the schedule exactly): constant, or cosine from ``lr`` to 0."""
    if tc.schedule == "cosine":
        return 0.5 * tc.lr * (1 + math.cos(math.pi * step / max(total_steps, 1)))
    return tc.lr


def train(
    cfg: Config,
    data: Data | None = None,
    run_name: str | None = None,
    progress=True,
    cache_dir=None,
):
    """Train networks and codes on the training split; checkpoint every epoch, resume when the
    run directory already holds a checkpoint. Returns ``(model, data, run)``."""
    from symlab.runs import Run, check_finite, load_checkpoint, restore_checkpoint, save_checkpoint

    data = data or Data(cfg, cache_dir=cache_dir)
    run = Run("dhn", cfg, cfg.seed, root=cfg.runs_root, name=run_name)
    tr = data.split["train"]
    q, p = crop_for(cfg, tr)
    model = build_model(cfg, q.shape[0])
    codes = [prm for name, prm in model.named_parameters() if name.startswith("codes.")]
    nets = [prm for name, prm in model.named_parameters() if not name.startswith("codes.")]
    scale = {"nets": 1.0, "codes": (cfg.train.code_lr or cfg.train.lr) / cfg.train.lr}
    groups = [{"params": nets, "name": "nets"}] + (
        [{"params": codes, "name": "codes"}] if codes else []
    )
    opt = torch.optim.Adam(groups, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    start = 0
    gen = torch.Generator().manual_seed(cfg.seed)
    ckpt = run.checkpoint_dir / "last.pt"
    if ckpt.exists():
        state = load_checkpoint(ckpt)
        restore_checkpoint(state, model=model, optimizer=opt)
        start = state["step"]
        if "generator" in state.get("extra", {}):
            # resume the batch/window/noise stream exactly where the interrupted run stopped
            gen.set_state(state["extra"]["generator"])
    n = q.shape[0]
    steps_per_epoch = -(-n // cfg.train.batch)
    total_steps = cfg.train.epochs * steps_per_epoch
    bar = tqdm(
        range(start, cfg.train.epochs),
        desc=f"{cfg.task}/{cfg.data.system}/{cfg.model}",
        disable=not progress,
        leave=False,
    )
    for epoch in bar:
        perm = torch.randperm(n, generator=gen)
        losses = []
        for i in range(0, n, cfg.train.batch):
            idx = perm[i : i + cfg.train.batch]
            step = epoch * steps_per_epoch + i // cfg.train.batch
            for group in opt.param_groups:
                group["lr"] = learning_rate(cfg.train, step, total_steps) * scale[group["name"]]
            loss = model_loss(cfg, model, q[idx], p[idx], idx, generator=gen)
            check_finite(loss, what=f"training loss of {cfg.model}", step=epoch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        run.log_metrics({"loss": float(np.mean(losses))}, step=epoch + 1)
        bar.set_postfix(loss=f"{np.mean(losses):.4g}")
        save_checkpoint(
            ckpt,
            model=model,
            optimizer=opt,
            step=epoch + 1,
            config=dataclasses.asdict(cfg),
            extra={"generator": gen.get_state()},
        )
    return model, data, run


def fit_codes(cfg: Config, model, q, p, progress=False) -> torch.Tensor:
    """Re-fit one latent code per trajectory of ``q, p`` with the networks frozen."""
    for prm in model.parameters():
        prm.requires_grad_(False)
    n = q.shape[0]
    # re-initialised from the seeded generator (not the global RNG), so the fitted codes do not
    # depend on what ran before in the process
    gen = torch.Generator().manual_seed(cfg.seed + 12345)
    codes = torch.nn.Parameter(torch.randn(n, cfg.net.z_dim, generator=gen) * 0.01)
    opt = torch.optim.Adam([codes], lr=cfg.fit.lr)
    for _ in tqdm(range(cfg.fit.epochs), desc="fit codes", disable=not progress, leave=False):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg.fit.batch):
            idx = perm[i : i + cfg.fit.batch]
            loss = model_loss(cfg, model, q[idx], p[idx], idx, codes=codes, generator=gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
    for prm in model.parameters():
        prm.requires_grad_(True)
    return codes.detach()


# ---------------------------------------------------------------- evaluation


def generate_forward(cfg: Config, model, q, p, z, denoise_steps: int = 10, method: str = "euler"):
    """Roll out from the first ``n_init`` states (DHN: block denoising; baselines: one step at a
    time with ``method``)."""
    gen = torch.Generator().manual_seed(cfg.seed + 999)
    if cfg.model == "dhn":
        upd = cfg.eval.update or None
        return rollout(model, q, p, z, cfg.eval.n_init, denoise_steps, upd, generator=gen)
    return model.rollout(q, p, z, cfg.eval.n_init, method)


def forward_metrics(system, q_pred, p_pred, q_gt, p_gt, p_scale, params, n_init) -> dict:
    """q MSE (normalised and physical) after the given states, and the mean relative energy
    drift of ``H_true`` (de-normalised) with respect to the true initial energy."""
    sl = slice(n_init, None)
    mse = float(F.mse_loss(q_pred[:, sl], q_gt[:, sl]))
    e_pred = physical_energy(system, q_pred.numpy(), p_pred.numpy(), p_scale, params)
    e_gt = physical_energy(system, q_gt.numpy(), p_gt.numpy(), p_scale, params)
    drift = np.abs(e_pred - e_gt[:, :1]) / np.abs(e_gt[:, :1])
    return {
        "q_mse": mse,
        "q_mse_phys": mse / system.q_scale**2,
        "energy_drift": float(np.mean(drift[:, sl])),
        "energy_drift_gt": float(np.mean(relative_energy_drift(e_gt)[:, sl])),
    }


def evaluate_forward(cfg: Config, model, data: Data, progress=False) -> dict:
    """Fitting (training trajectories, trained codes) and completion (test trajectories, codes
    fit from the first ``obs_steps`` states) for every generation setting of the model."""
    out = {}
    tr, te = data.split["train"], data.split["test"]
    q_tr, p_tr = crop_for(cfg, tr)
    n = min(cfg.eval.n_fit_eval, q_tr.shape[0])
    idx = torch.arange(n)
    q_te, p_te = crop_for(cfg, te)
    k_obs = cfg.fit.obs_steps
    codes_te = fit_codes(cfg, model, q_te[:, :k_obs], p_te[:, :k_obs], progress)
    settings = (
        [(f"K={k}", {"denoise_steps": k}) for k in cfg.eval.denoise_steps]
        if cfg.model == "dhn"
        else [("euler", {"method": "euler"}), ("leapfrog", {"method": "leapfrog"})]
        if cfg.model == "hnn"
        else [("", {})]
    )
    with torch.no_grad() if cfg.model not in ("dhn", "hnn") else torch.enable_grad():
        for name, kw in settings:
            for split, q, p, z, sl in (
                ("fit", q_tr[:n], p_tr[:n], model.code(idx), slice(0, n)),
                (
                    "completion",
                    q_te,
                    p_te,
                    model.code(torch.arange(q_te.shape[0]), codes_te),
                    slice(None),
                ),
            ):
                d = tr if split == "fit" else te
                qp, pp = generate_forward(cfg, model, q, p, z, **kw)
                m = forward_metrics(
                    data.system,
                    qp.detach(),
                    pp.detach(),
                    q,
                    p,
                    d["p_scale"][sl],
                    d["params"][sl],
                    cfg.eval.n_init,
                )
                m["q_pred"], m["p_pred"] = qp.detach(), pp.detach()
                out[(split, name)] = m
    return out


def linear_probe(x_tr, y_tr, x_te, y_te, ridge: float = 1e-3) -> dict:
    """Ridge regression (with bias) from codes to the parameter; test MSE and R^2."""

    def design(x):
        return np.concatenate([x, np.ones((len(x), 1))], 1)

    a = design(x_tr)
    w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y_tr)
    pred = design(x_te) @ w
    mse = float(np.mean((pred - y_te) ** 2))
    return {"mse": mse, "r2": 1 - mse / float(np.var(y_te)), "pred": pred}


def evaluate_representation(cfg: Config, model, data: Data, progress=False) -> dict:
    """Linear probe of the physical parameter: fit on the training codes (learned jointly with
    the networks), tested on codes re-fit with the networks frozen on the test split."""
    tr, te = data.split["train"], data.split["test"]
    q_te, p_te = crop_for(cfg, te)
    codes_te = fit_codes(cfg, model, q_te, p_te, progress)
    with torch.no_grad():
        z_tr = model.code(torch.arange(tr["q"].shape[0])).numpy()
        z_te = model.code(torch.arange(q_te.shape[0]), codes_te).numpy()
    res = linear_probe(z_tr, tr["params"][:, 0], z_te, te["params"][:, 0])
    res["target"] = te["params"][:, 0]
    res["var"] = float(np.var(te["params"][:, 0]))
    return res


def evaluate_superres(cfg: Config, model, data: Data) -> dict:
    """Intermediate-state MSE on the training trajectories (trained codes), in distribution
    (coarse states 0..span-1, raw 0..512) and out of distribution (the next span, raw 512..1024).
    Linear interpolation is evaluated alongside."""
    tr = data.split["train"]
    n = min(cfg.eval.n_fit_eval, tr["q"].shape[0])
    span = cfg.eval.superres_span
    gap = 2**cfg.eval.superres_log2
    z = model.code(torch.arange(n)) if cfg.model == "dhn" else None
    out = {}
    for name, sl in (("in", slice(0, span)), ("ood", slice(span - 1, 2 * span - 1))):
        q, p = tr["q"][:n, sl], tr["p"][:n, sl]
        if q.shape[1] != span:
            raise ValueError(f"trajectories are too short for the {name} interpolation span")
        mid = torch.ones(span, dtype=torch.bool)
        mid[::gap] = False
        if cfg.model == "dhn":
            res = {}
            for k in cfg.eval.denoise_steps:
                g = torch.Generator().manual_seed(cfg.seed + 7)
                qh, _ = superres(model, q, p, z, cfg.eval.superres_log2, k, generator=g)
                res[f"K={k}"] = float(F.mse_loss(qh.detach()[:, mid], q[:, mid]))
            out[name] = res
        elif cfg.model == "cnn":
            with torch.no_grad():
                qh, _ = model(q[:, ::gap], p[:, ::gap])
            out[name] = {"": float(F.mse_loss(qh[:, mid], q[:, mid]))}
        out[f"{name}_linear"] = float(F.mse_loss(linear_upsample(q, gap)[:, mid], q[:, mid]))
        out[f"{name}_q"] = q
    return out

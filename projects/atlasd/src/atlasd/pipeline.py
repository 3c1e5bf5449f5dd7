"""The experiments of the paper, one function per task, each returning plain metrics and the
discovered matrices. ``train`` and ``reproduce`` both call these."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from symlab.groups import SO2

from .atlas import crop_centre
from .config import Config, DigitsConfig, LieFitConfig, PDEConfig
from .discovery import (
    Action,
    _frozen,
    _release,
    choose_k,
    discover_cosets,
    generator_norms,
    mean_equivariance_loss,
    recalibrate_batchnorm,
    train_basis,
    train_predictor,
)
from .downstream import GaugeCNN, default_layers, foreground_accuracy, group_from_algebra
from .lie import (
    LieBasis,
    closed_under_multiplication,
    filter_cosets,
    frobenius_cosine,
    invariant_metric,
    nearest_signed_permutation,
    orthogonality_error,
    signed_permutation_distance,
    symmetric_fraction,
)
from .lorentz import MINKOWSKI, JetMLP, classify_cosets, make_lorentz_events
from .pde import (
    ATLASES,
    GLOBAL_ATLAS,
    AtlasPredictor,
    ChartCNN,
    atlas_charts,
    make_pde_data,
    simulator_equivariance_loss,
)
from .probes import (
    EMPTY_ALGEBRA,
    SCALING_ALGEBRA,
    D4Function,
    TwoCosetFunction,
    probe_points,
)
from .sphere_digits import (
    BACKGROUND,
    N_CLASSES,
    DigitChartNet,
    make_sphere_digits,
    one_hot_fields,
    sphere_charts,
)

ROTATION = SO2().lie_algebra[0].float()  # [[0, -1], [1, 0]]
TASK_SEED_OFFSET = {"pde": 0, "probes": 1000, "lorentz": 2000, "digits": 3000}


def _fit_kw(lf: LieFitConfig) -> dict:
    return {"steps": lf.steps, "lr": lf.lr, "restarts": lf.restarts, "threshold": lf.threshold}


def _seeded(seed: int) -> torch.Generator:
    torch.manual_seed(seed)  # model initialisation
    return torch.Generator().manual_seed(seed)  # data order and group samples


def _random_unit_generators(n: int, dim: int, gen: torch.Generator) -> Tensor:
    R = torch.randn(n, dim, dim, generator=gen)
    return R / R.flatten(1).norm(dim=1)[:, None, None]


# ---- heat PDE ----------------------------------------------------------------------------------


def _pde_predictor(c: PDEConfig, Xc: Tensor, Yc: Tensor, gen, desc: str) -> tuple[nn.Module, list]:
    """One reference CNN per chart, L1 on the whole input chart (as the reference trains it).

    The whole chart matters: warping the reference output by a large rotation reads it out to
    the chart's corners.
    """
    pred = AtlasPredictor([ChartCNN() for _ in range(Xc.shape[1])]).to(Xc.device)

    def loss(p, y):
        return (p - y).abs().mean()

    hist = train_predictor(
        pred, Xc, Yc, loss, epochs=c.pred_epochs, batch=c.batch, lr=c.pred_lr, gen=gen,
        desc=desc, cosine=c.pred_cosine,
    )  # fmt: skip
    return pred, hist


def run_pde(cfg: Config, device: torch.device) -> dict[str, Any]:
    """The PDE pipeline once per atlas of ``cfg.pde.atlases``: ``{"atlas1": {...}, ...}``."""
    return {f"atlas{a}": run_pde_atlas(cfg, device, a) for a in cfg.pde.atlases}


ELLIPTIC = torch.tensor([[-1.0, 0.0], [0.0, 1.0]])


@torch.no_grad()
def elliptic_scan(
    predictor: nn.Module,
    Xc: Tensor,
    out_rad: int,
    s_values: Tensor,
    *,
    batch_stats: bool,
    seed: int,
) -> Tensor:
    """Per-chart equivariance loss along the elliptic family ``L_s = J + s diag(-1, 1)``.

    ``exp(t L_s)`` preserves ``x^2 + 2 s x y + y^2`` (ellipses along the diagonals). The training
    fields are sums of a wave along the rows and one along the columns (their mixed derivative
    vanishes), and all these forms agree on the axes, so the data pin ``s`` only through how the
    predictors extrapolate to oblique waves. Returns ``(len(s_values), C)`` mean L1 losses with
    the same group coefficients for every ``s``.
    """
    _frozen(predictor, batch_stats)
    J = ROTATION.to(Xc)
    rows = []
    for s in s_values.tolist():
        L = J + s * ELLIPTIC.to(Xc)
        gen = torch.Generator().manual_seed(seed)
        tot = torch.zeros(Xc.shape[1], dtype=Xc.dtype, device=Xc.device)
        for sl in range(0, len(Xc), 16):
            x = Xc[sl : sl + 16]
            c = torch.randn(*x.shape[:2], generator=gen).to(Xc)
            A = c[..., None, None] * L
            g, gi = torch.linalg.matrix_exp(A), torch.linalg.matrix_exp(-A)
            y = predictor(x)
            d = Action("local", "l1", out_rad)
            diff = d.crop(predictor(d.act_in(x, g, gi))) - d.crop(d.act_out(y, g, gi))
            tot += diff.abs().mean(dim=(2, 3, 4)).sum(dim=0)
        rows.append(tot / len(Xc))
    _release(predictor)
    return torch.stack(rows)


def run_pde_atlas(cfg: Config, device: torch.device, atlas: int) -> dict[str, Any]:
    """Algebra (A1), cosets (A2) and locality (A3) on the heat equation with an obstacle."""
    c, seed = cfg.pde, cfg.seed + TASK_SEED_OFFSET["pde"]
    gen = _seeded(seed)
    X, Y = make_pde_data(c.n_train, seed)
    Xt, Yt = make_pde_data(c.n_test, seed + 1)
    fractions, _, out_rad = ATLASES[atlas]
    Xc, Yc = atlas_charts(X, atlas).to(device), atlas_charts(Y, atlas).to(device)
    Xtc = atlas_charts(Xt, atlas).to(device)
    pred, hist = _pde_predictor(c, Xc, Yc, gen, f"pde atlas {atlas} predictor")
    with torch.no_grad():
        test_l1 = float(
            (crop_centre(pred(Xtc), out_rad) - crop_centre(atlas_charts(Yt, atlas), out_rad))
            .abs()
            .mean()
        )
    action = Action("local", "l1", out_rad)

    def fit(k: int) -> Tensor:
        basis = LieBasis(k, 2, generator=gen).to(device)
        train_basis(
            basis, pred, Xc, action, epochs=c.basis_epochs, batch=c.basis_batch, lr=c.basis_lr,
            r3=c.r3, gen=gen, desc=f"pde atlas {atlas} basis k={k}", batch_stats=c.batch_stats,
        )  # fmt: skip
        return basis.L.detach().cpu()

    k, found = choose_k(fit, c.ks)
    L = found[k]
    out: dict[str, Any] = {
        "atlas": atlas, "predictor_l1": hist[-1], "predictor_test_l1": test_l1, "k": k
    }  # fmt: skip
    # where the learned predictors themselves are most equivariant along the elliptic family
    s_values = torch.linspace(-0.5, 0.5, 11)
    scan = elliptic_scan(pred, Xtc, out_rad, s_values, batch_stats=c.batch_stats, seed=seed + 9)
    out["elliptic_s_values"], out["elliptic_scan"] = s_values, scan.cpu()
    out["elliptic_s_atlas"] = float(s_values[scan.mean(dim=1).argmin()])
    out["elliptic_s_charts"] = s_values[scan.argmin(dim=0).cpu()]
    out.update(L=L, all_L=found)
    out["cos_rotation"] = abs(frobenius_cosine(L[0], ROTATION))
    out["symmetric_fraction"] = symmetric_fraction(L[0])
    out["norms"] = {kk: generator_norms(v).tolist() for kk, v in found.items()}

    # A3: held-out fields, learned generator vs random generators, all at unit norm
    unit = L / L.flatten(1).norm(dim=1)[:, None, None]
    ev_gen = torch.Generator().manual_seed(seed + 7)
    ev_kw = {"batch": c.batch, "gen": ev_gen, "batch_stats": c.batch_stats}
    loss_learned = mean_equivariance_loss(pred, Xtc, unit, action, **ev_kw)
    rand = _random_unit_generators(c.random_generators, 2, ev_gen)
    loss_random = sum(mean_equivariance_loss(pred, Xtc, r[None], action, **ev_kw) for r in rand)
    loss_random /= len(rand)
    out["loss_learned"], out["loss_random"] = loss_learned, loss_random
    out["locality_ratio"] = loss_learned / loss_random

    if c.global_check:
        # The data's own symmetry, measured with the exact simulator as the predictor: acting
        # about each chart centre (local) vs about the centre of one chart covering the field.
        # A learned CNN cannot serve for the global chart: it is local (9-px receptive field)
        # and would move the fixed obstacle along with the input, reporting an equivariance the
        # data does not have.
        Xs = Xt[: c.global_n].to(device)
        g_fr, _, g_out = GLOBAL_ATLAS
        rel_local = simulator_equivariance_loss(
            Xs, unit, fractions, out_rad, gen=torch.Generator().manual_seed(seed + 8)
        )
        rel_global = simulator_equivariance_loss(
            Xs, unit, g_fr, g_out, gen=torch.Generator().manual_seed(seed + 8)
        )
        out.update(rel_loss_local=rel_local, rel_loss_global=rel_global)
        out["global_to_local_ratio"] = rel_global / rel_local

    # A2: cosets with the discovered algebra
    Xk = Xc[: c.coset_n]
    C, closs = discover_cosets(
        pred, Xk, action, K=c.coset_K, dim=2, steps=c.coset_steps, batch=c.coset_batch,
        lr=c.coset_lr, gen=gen, desc=f"pde atlas {atlas} cosets", batch_stats=c.batch_stats,
    )  # fmt: skip
    kept, kept_loss = filter_cosets(C, closs, L, c.coset_q, **_fit_kw(cfg.lie_fit))
    det = torch.linalg.det(kept.double())
    orth = orthogonality_error(kept)
    out.update(
        candidates=C, candidate_losses=closs, cosets=kept, coset_losses=kept_loss,
        n_cosets=len(kept), n_pos_det=int((det > 0).sum()), n_neg_det=int((det < 0).sum()),
        max_orth_error=float(orth.max()),
    )  # fmt: skip
    out["cosets_ok"] = float(len(kept) == 2 and out["n_pos_det"] == 1 and out["n_neg_det"] == 1)
    return out


# ---- probes --------------------------------------------------------------------------------------


def run_probes(cfg: Config, device: torch.device) -> dict[str, Any]:
    """D4 probe (A4) and two-coset probe (A5)."""
    c, seed = cfg.probes, cfg.seed + TASK_SEED_OFFSET["probes"]
    gen = _seeded(seed)
    X = probe_points(c.n_points, seed).to(device)
    action = Action("global", "l1")
    out: dict[str, Any] = {}
    C, closs = discover_cosets(
        D4Function(), X, action, K=c.d4_K, dim=2, steps=c.steps, batch=c.batch, lr=c.lr,
        gen=gen, desc="D4 cosets",
    )  # fmt: skip
    kept, kl = filter_cosets(C, closs, EMPTY_ALGEBRA, c.d4_q, **_fit_kw(cfg.lie_fit))
    dist = signed_permutation_distance(kept)
    rounded = nearest_signed_permutation(kept)
    distinct = torch.unique(rounded.reshape(len(rounded), -1), dim=0).reshape(-1, 2, 2)
    out.update(
        d4_candidates=C, d4_losses=closs, d4_cosets=kept, d4_n=len(kept),
        d4_max_dist=float(dist.max()), d4_distinct=len(distinct),
        d4_closed=float(closed_under_multiplication(distinct) and len(distinct) == len(kept)),
    )  # fmt: skip
    C, closs = discover_cosets(
        TwoCosetFunction(), X, action, K=c.tc_K, dim=2, steps=c.steps, batch=c.batch, lr=c.lr,
        gen=gen, desc="two-coset cosets",
    )  # fmt: skip
    kept, kl = filter_cosets(C, closs, SCALING_ALGEBRA, c.tc_q, **_fit_kw(cfg.lie_fit))
    eye = torch.eye(2)
    d_pos = (kept - eye).abs().amax(dim=(-1, -2))
    d_neg = (kept + eye).abs().amax(dim=(-1, -2))
    out.update(tc_candidates=C, tc_losses=closs, tc_cosets=kept, tc_n=len(kept))
    if len(kept) == 2:
        out["tc_max_dist"] = float(min(max(d_pos[0], d_neg[1]), max(d_pos[1], d_neg[0])))
    else:
        out["tc_max_dist"] = float("inf")
    return out


# ---- Lorentz task --------------------------------------------------------------------------------


def run_lorentz(cfg: Config, device: torch.device) -> dict[str, Any]:
    """Lorentz algebra and the invariant metric (A6), cosets {I, P}."""
    c, seed = cfg.lorentz, cfg.seed + TASK_SEED_OFFSET["lorentz"]
    gen = _seeded(seed)
    X, y = make_lorentz_events(c.n_events, seed, n_max=c.n_const, max_rapidity=c.max_rapidity)
    X, y = X.to(device), y.to(device)
    n_tr = int(len(X) * (1 - c.test_fraction))
    pred = JetMLP(c.n_const, c.hidden).to(device)
    hist = train_predictor(
        pred, X[:n_tr], y[:n_tr], F.cross_entropy, epochs=c.pred_epochs, batch=c.batch,
        lr=c.pred_lr, gen=gen, desc="jet MLP",
    )  # fmt: skip
    with torch.no_grad():
        acc = float((pred(X[n_tr:]).argmax(-1) == y[n_tr:]).float().mean())
    action = Action("global", "ce")

    def fit(k: int) -> Tensor:
        basis = LieBasis(k, 4, generator=gen).to(device)
        train_basis(
            basis, pred, X[:n_tr], action, epochs=c.basis_epochs, batch=c.batch, lr=c.basis_lr,
            r1=c.r1, r3=c.r3, gen=gen, desc=f"lorentz basis k={k}",
        )  # fmt: skip
        return basis.L.detach().cpu()

    k, found = choose_k(fit, c.ks)
    L = found[k]
    J = invariant_metric(L)
    out: dict[str, Any] = {
        "predictor_ce": hist[-1], "accuracy": acc, "k": k, "L": L, "all_L": found, "J": J,
        "cos_minkowski": abs(frobenius_cosine(J, MINKOWSKI)),
        "norms": {kk: generator_norms(v).tolist() for kk, v in found.items()},
    }  # fmt: skip
    C, closs = discover_cosets(
        pred, X[: c.coset_n], action, K=c.coset_K, dim=4, steps=c.coset_steps, batch=c.batch,
        lr=c.coset_lr, gen=gen, desc="lorentz cosets",
    )  # fmt: skip
    kept, kl = filter_cosets(C, closs, L, c.coset_q, **_fit_kw(cfg.lie_fit))
    names = classify_cosets(kept, L, **_fit_kw(cfg.lie_fit))
    out.update(candidates=C, candidate_losses=closs, cosets=kept, coset_names=names)
    out["cosets_ok"] = float(sorted(names) == ["I", "P"])
    return out


# ---- digits on the sphere -----------------------------------------------------------------------


def train_downstream(
    c: DigitsConfig, group: str, Xtr, Str, Xte, Ste, gen, device
) -> tuple[GaugeCNN, float, float]:
    """Train the gauge CNN (``trivial`` or ``so2``); returns the model and train/test accuracy."""
    model = GaugeCNN(default_layers(c.down_width, N_CLASSES, c.down_depth), group).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=c.down_lr)
    weight = torch.ones(N_CLASSES, device=device)
    # as the reference: the task is the classification of digit pixels, the background nearly free
    weight[BACKGROUND] = c.down_bg_weight

    def loss(p, s):
        return F.cross_entropy(p, s, weight=weight)

    train_predictor(
        model, Xtr, Str, loss, epochs=c.down_epochs, batch=c.down_batch, lr=c.down_lr, gen=gen,
        desc=f"downstream {group}", optimizer=opt, cosine=c.down_cosine,
    )  # fmt: skip
    recalibrate_batchnorm(model, Xtr, 64)
    with torch.no_grad():
        acc_tr = _batched_acc(model, Xtr, Str)
        acc_te = _batched_acc(model, Xte, Ste)
    return model, acc_tr, acc_te


def _batched_acc(model, X, S, batch: int = 128) -> float:
    model.eval()
    logits = torch.cat([model(X[i : i + batch]) for i in range(0, len(X), batch)])
    return foreground_accuracy(logits, S, BACKGROUND)


def run_digits(cfg: Config, device: torch.device) -> dict[str, Any]:
    """so(2) discovery on digit charts (A7) and the plain vs gauge CNN comparison."""
    c, seed = cfg.digits, cfg.seed + TASK_SEED_OFFSET["digits"]
    gen = _seeded(seed)
    Xtr, Str = make_sphere_digits(c.n_train, seed, c.width, c.digit_size, c.train_degrees)
    Xte, Ste = make_sphere_digits(c.n_test, seed + 1, c.width, c.digit_size, c.test_degrees)
    Xtr, Str, Xte, Ste = Xtr.to(device), Str.to(device), Xte.to(device), Ste.to(device)
    Xc = sphere_charts(Xtr, c.chart_radius)
    Yc = sphere_charts(one_hot_fields(Str), c.chart_radius)
    size = 2 * c.chart_radius + 1
    pred = AtlasPredictor([DigitChartNet(c.pred_width, size) for _ in range(Xc.shape[1])])
    pred = pred.to(device)
    cw = torch.ones(N_CLASSES, device=device)
    cw[BACKGROUND] = c.pred_bg_weight  # the reference's class weights for the chart predictors

    def seg_loss(p, y):
        return F.cross_entropy(p.flatten(0, 1), y.flatten(0, 1).argmax(dim=1), weight=cw)

    hist = train_predictor(
        pred, Xc, Yc, seg_loss, epochs=c.pred_epochs, batch=c.batch, lr=c.pred_lr, gen=gen,
        desc="digit charts", cosine=c.pred_cosine,
    )  # fmt: skip
    with torch.no_grad():
        lab = Yc.argmax(dim=-3)
        hit = torch.cat([pred(Xc[i : i + 256]) for i in range(0, len(Xc), 256)]).argmax(dim=-3)
        fg = lab != BACKGROUND
        chart_acc = float((hit[fg] == lab[fg]).float().mean())
    action = Action("local", "ce", c.chart_radius)
    basis = LieBasis(1, 2, generator=gen).to(device)
    train_basis(
        basis, pred, Xc, action, epochs=c.basis_epochs, batch=c.basis_batch, lr=c.basis_lr,
        r3=c.r3, gen=gen, desc="digit basis",
    )  # fmt: skip
    L = basis.L.detach().cpu()
    group = group_from_algebra(L)
    out: dict[str, Any] = {
        "predictor_ce": hist[-1], "chart_accuracy": chart_acc, "L": L,
        "cos_rotation": abs(frobenius_cosine(L[0], ROTATION)), "group": group,
    }  # fmt: skip
    plain, tr_p, te_p = train_downstream(c, "trivial", Xtr, Str, Xte, Ste, gen, device)
    eq, tr_e, te_e = train_downstream(c, group, Xtr, Str, Xte, Ste, gen, device)
    out.update(
        plain_train_acc=tr_p, plain_test_acc=te_p, equiv_train_acc=tr_e, equiv_test_acc=te_e,
        gap_points=100 * (te_e - te_p), plain_params=plain.effective_params(),
        equiv_params=eq.effective_params(),
    )  # fmt: skip
    return out


RUNNERS = {"pde": run_pde, "probes": run_probes, "lorentz": run_lorentz, "digits": run_digits}

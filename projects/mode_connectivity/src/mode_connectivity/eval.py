"""Beyond the paper: symmetry report for two MLP checkpoints of this package.

Usage::

    python -m mode_connectivity.eval --checkpoint A.pt --checkpoint-b B.pt [--points 101]
        [--orbit-tol 1e-8] [--json report.json]

For network A it reports, for each continuous symmetry family that applies (GL(h_i) on the hidden
layers of a linear MLP; positive rescaling of hidden units for leaky-ReLU; the data-dependent
GL(h) action of Prop. 6.1 for a two-layer network with hidden width >= batch), the group
dimension, the analytic orbit dimension and the numerical orbit dimension (rank of the Jacobian
of the action at the identity).

Then it looks for a symmetry-induced curve from A to B: a least-squares group element with
``g . A = B``; if it exists and lies in the identity component, the curve
``polar_path(g, t) . A`` (factor-wise) is evaluated on A's data. If B is in the orbit but in
another component (some ``det g_i < 0``), odd permutations of B's hidden units (same function)
move it into A's component first. For two-layer networks with hidden width >= batch trained on the
same data, the Prop. 6.1 curve plus a straight segment in the last layer always connects them.
Otherwise the report says why no curve exists. The loss along linear interpolation is always
reported for comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from symlab.groups import polar_path
from symlab.runs import CheckpointError

from .linear import act
from .lmc import interpolate
from .networks import LoadedNetwork, load_network
from .orbits import fit_group_element, orbit_dimension, rescaling_act
from .permutations import odd_permutation, permute_hidden_layer
from .trained import two_layer_connection


def symmetry_families(net: LoadedNetwork) -> list[str]:
    """The continuous symmetry families that apply to ``net`` (see :mod:`.orbits`)."""
    model = net.model
    families = []
    if model.activation == "linear":
        families.append("gl")
    elif model.activation == "leaky_relu":
        families.append("rescaling")
    if len(model.widths) == 3 and model.widths[1] >= net.X.shape[1]:
        families.append("data_gl")
    return families


def evaluate_pair(path_a: str | Path, path_b: str | Path, n_points: int = 101, orbit_tol=1e-8):
    """Compute the report for checkpoints ``path_a`` and ``path_b`` (see the module docstring).

    Returns
    -------
    dict
        Plain data: ``orbit_dimensions`` (one entry per family), ``connection`` (how the curve
        was found or why none exists), ``curve_max_loss``, ``linear_max_loss``, losses at both
        ends, and the loss arrays.
    """
    net_a, net_b = load_network(path_a), load_network(path_b)
    if net_a.model.spec() != net_b.model.spec():
        raise ValueError(
            f"the checkpoints hold different architectures: {net_a.model.spec()} vs "
            f"{net_b.model.spec()}"
        )
    wa, wb = net_a.weights, net_b.weights
    same_data = torch.equal(net_a.X, net_b.X) and torch.equal(net_a.Y, net_b.Y)
    spec = net_a.model.spec()
    report: dict[str, Any] = {
        "checkpoint_a": str(path_a),
        "checkpoint_b": str(path_b),
        "architecture": spec,
        "same_training_data": same_data,
        "loss_a": float(net_a.loss()),
        "loss_b": float(net_a.loss(wb)),
        "orbit_dimensions": [],
    }
    families = symmetry_families(net_a)
    for family in families:
        dim = orbit_dimension(
            family, wa, net_a.X, net_a.model.activation, net_a.model.negative_slope
        )
        report["orbit_dimensions"].append(
            {
                "family": family,
                "group_dimension": dim.group_dimension,
                "analytic_orbit_dimension": dim.analytic_orbit_dimension,
                "analytic_formula": dim.analytic_formula,
                "numerical_orbit_dimension": dim.numerical_rank,
                "stabilizer_dimension": dim.stabilizer_dimension,
                "singular_value_gap": dim.singular_value_gap,
            }
        )

    t = torch.linspace(0.0, 1.0, n_points, dtype=wa[0].dtype)
    linear_losses = net_a.loss(interpolate(wa, wb, t))
    curve_losses = None
    connection = "none"
    reasons = []
    continuous = [f for f in families if f in ("gl", "rescaling")]
    if not continuous:
        reasons.append(f"no exact weight-space symmetry implemented for {spec['activation']}")
    for family in continuous:
        fit = fit_group_element(family, wa, wb)
        report.setdefault("group_element_fits", []).append(
            {"family": family, "relative_residual": fit.relative_residual, "dets": fit.dets}
        )
        if not fit.relative_residual <= orbit_tol:
            reasons.append(
                f"B is not in the {family} orbit of A: the best group element leaves a relative "
                f"residual {fit.relative_residual:.2e} > {orbit_tol:g}"
            )
            continue
        if family == "rescaling":
            if not fit.connected:
                reasons.append(
                    "B is A with some hidden units rescaled by a negative factor, which is not a "
                    "symmetry of leaky-ReLU"
                )
                continue
            logs = [torch.log(torch.diagonal(g)) for g in fit.group_elements]
            path = [torch.exp(t[:, None] * lg) for lg in logs]
            curve_losses = net_a.loss(rescaling_act(path, wa))
            connection = "rescaling curve exp(t log d) . A"
            break
        negative = [i + 1 for i, d in enumerate(fit.dets) if d <= 0]
        gs = fit.group_elements
        if negative:
            if any(wa[i - 1].shape[-2] < 2 for i in negative):
                reasons.append(
                    f"B is in A's GL orbit but in another component (det g_i < 0 at hidden "
                    f"layers {negative}); with one unit there is no permutation to fix it "
                    "(Cor. 4.2: no path inside the minimum)"
                )
                continue
            for layer in negative:  # P g_i flips the sign of det g_i (Prop. 5.2)
                wb = permute_hidden_layer(wb, layer, odd_permutation(wa[layer - 1].shape[-2]))
            refit = fit_group_element(family, wa, wb)
            gs = refit.group_elements
            connection = (
                f"B is in another component of A's orbit (det g_i < 0 at hidden layers "
                f"{negative}); units 0 and 1 of those layers of B were swapped (same function, "
                "Prop. 5.2), then polar curve polar_path(g, t) . A"
            )
            linear_losses = net_a.loss(interpolate(wa, wb, t))
            report["linear_max_loss_unpermuted"] = float(
                net_a.loss(interpolate(wa, net_b.weights, t)).max()
            )
        else:
            connection = "polar curve polar_path(g, t) . A (factor-wise)"
        curve_losses = net_a.loss(act([polar_path(g, t) for g in gs], wa))
        break
    if curve_losses is None and "data_gl" in families:
        if same_data:
            comparison, info = two_layer_connection(
                wa, wb, net_a.X, net_a.Y, spec["activation"], spec["negative_slope"], n_points
            )
            curve_losses = torch.from_numpy(comparison.curve_losses)
            connection = (
                "Prop. 6.1 curve (exact on the stored batch since hidden width >= batch) from A "
                "to (U*, V_B), then a straight segment in the last layer to B"
                + (" (det g made positive by a reflection)" if info["det_flipped"] else "")
            )
        else:
            reasons.append("the data-dependent action needs both networks trained on the same data")
    report.update(
        {
            "connection": connection,
            "reasons_no_curve": reasons if curve_losses is None else [],
            "notes": reasons if curve_losses is not None else [],
            "curve_max_loss": float(curve_losses.max()) if curve_losses is not None else None,
            "linear_max_loss": float(linear_losses.max()),
            "curve_losses": curve_losses.tolist() if curve_losses is not None else None,
            "linear_losses": linear_losses.tolist(),
        }
    )
    return report


def format_report(report: dict) -> str:
    """The printed table."""
    spec = report["architecture"]
    rows = [
        ("network", f"{spec['activation']} MLP, widths {spec['widths']}"),
        ("same training data", str(report["same_training_data"])),
        ("loss at A", f"{report['loss_a']:.6e}"),
        ("loss at B (on A's data)", f"{report['loss_b']:.6e}"),
    ]
    for dim in report["orbit_dimensions"]:
        f = dim["family"]
        rows += [
            (f"[{f}] group dimension", str(dim["group_dimension"])),
            (
                f"[{f}] orbit dimension, analytic",
                f"{dim['analytic_orbit_dimension']}  ({dim['analytic_formula']})",
            ),
            (
                f"[{f}] orbit dimension, numerical",
                f"{dim['numerical_orbit_dimension']}  (rank of the action's Jacobian at I; "
                f"singular value gap {dim['singular_value_gap']:.1e})",
            ),
            (f"[{f}] stabilizer dimension", str(dim["stabilizer_dimension"])),
        ]
    for fit in report.get("group_element_fits", []):
        rows.append(
            (
                f"[{fit['family']}] best g: rel. residual of g.A - B",
                f"{fit['relative_residual']:.2e}",
            )
        )
    rows.append(("symmetry-induced curve A -> B", report["connection"]))
    for reason in report["reasons_no_curve"]:
        rows.append(("  why not", reason))
    for note in report["notes"]:
        rows.append(("  note", note))
    curve = report["curve_max_loss"]
    rows.append(("max loss along the curve", "-" if curve is None else f"{curve:.6e}"))
    rows.append(("max loss along linear interpolation", f"{report['linear_max_loss']:.6e}"))
    if "linear_max_loss_unpermuted" in report:
        rows.append(("  (to the unpermuted B)", f"{report['linear_max_loss_unpermuted']:.6e}"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'quantity':<{width}} | value", f"{'-' * width}-|------"]
    lines += [f"{k:<{width}} | {v}" for k, v in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mode_connectivity.eval",
        description="Orbit dimension of an MLP checkpoint's symmetry group, and the loss along a "
        "symmetry-induced curve to a second checkpoint (vs linear interpolation).",
    )
    parser.add_argument("--checkpoint", required=True, help="checkpoint A (.pt)")
    parser.add_argument("--checkpoint-b", required=True, help="checkpoint B (.pt)")
    parser.add_argument("--points", type=int, default=101, help="points along each path")
    parser.add_argument(
        "--orbit-tol", type=float, default=1e-8, help="relative residual for 'same orbit'"
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    # Tiny matrices: intra-op threads only add synchronisation cost.
    torch.set_num_threads(1)
    try:
        report = evaluate_pair(args.checkpoint, args.checkpoint_b, args.points, args.orbit_tol)
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        clean = json.loads(
            json.dumps(report, default=float), parse_constant=lambda c: None
        )  # inf/nan -> null
        args.json.write_text(json.dumps(clean, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

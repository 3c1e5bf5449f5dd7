"""Re-analyse a finished task from its checkpoint.

``python -m atlasd.eval --checkpoint runs/atlasd/<run>/checkpoints/<task>.pt``

Recomputes the acceptance quantities from the stored discovered matrices (cosines, symmetric
part, invariant metric, coset determinants and orthogonality) and prints them as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from symlab.runs import load_checkpoint

from .lie import (
    frobenius_cosine,
    invariant_metric,
    orthogonality_error,
    signed_permutation_distance,
    symmetric_fraction,
)
from .lorentz import MINKOWSKI

ROTATION = torch.tensor([[0.0, -1.0], [1.0, 0.0]])


def analyse(task: str, out: dict[str, Any]) -> dict[str, Any]:
    """Acceptance quantities of one task output (as stored in its checkpoint)."""
    if task == "pde":  # one output per atlas
        return {"task": task, **{name: analyse("pde_atlas", o) for name, o in out.items()}}
    res: dict[str, Any] = {"task": task}
    if task in ("pde_atlas", "digits"):
        L = out["L"]
        res["cos_rotation"] = abs(frobenius_cosine(L[0], ROTATION))
        res["symmetric_fraction"] = symmetric_fraction(L[0])
        res["generator"] = L[0].tolist()
    if task == "pde_atlas":
        C = out["cosets"]
        res["coset_dets"] = torch.linalg.det(C.double()).tolist()
        res["coset_orthogonality_error"] = orthogonality_error(C).tolist()
    if task == "lorentz":
        J = invariant_metric(out["L"])
        res["cos_minkowski"] = abs(frobenius_cosine(J, MINKOWSKI))
        res["metric"] = J.tolist()
        res["coset_names"] = out["coset_names"]
    if task == "probes":
        res["d4_max_dist"] = float(signed_permutation_distance(out["d4_cosets"]).max())
        res["d4_n"] = len(out["d4_cosets"])
        res["two_coset"] = out["tc_cosets"].tolist()
    if task == "digits":
        for k in ("plain_test_acc", "equiv_test_acc", "gap_points", "group"):
            res[k] = out[k]
    return res


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="a <task>.pt written by atlasd.train")
    args = ap.parse_args(argv)
    path = Path(args.checkpoint)
    state = load_checkpoint(path)
    if "extra" not in state:
        raise ValueError(f"{path} holds no discovered matrices (not an atlasd task checkpoint)")
    task = path.stem
    if task not in ("pde", "probes", "lorentz", "digits"):
        raise ValueError(
            f"{path}: the file name must be <task>.pt with task pde/probes/lorentz/digits"
        )
    res = analyse(task, state["extra"])
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()

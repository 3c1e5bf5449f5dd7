"""Summarise a finished run: ``python -m invariant_eqdisc.eval --checkpoint runs/.../last.pt``.

Prints success probability, median prediction error and C per method and stage, and (for the
weak-form stages) the curves.
"""

from __future__ import annotations

import argparse

import numpy as np

from symlab.runs import load_checkpoint


def evaluate(results: dict) -> dict[str, float]:
    """Flat dict of SP / PE / C per stage and method."""
    out = {}
    for stage, res in results.items():
        if stage == "gp":
            for system, arms in res.items():
                for arm in ("SI", "raw"):
                    r = arms[arm]
                    out[f"gp/{system}/{arm}/SP"] = float(np.mean([s[-1] for s in r["success"]]))
                    out[f"gp/{system}/{arm}/PE"] = float(np.median(r["pe"])) if r["pe"] else np.nan
                    out[f"gp/{system}/{arm}/C"] = float(r["C"])
        elif isinstance(res, dict):
            for method, r in res.items():
                if not isinstance(r, dict) or "success" not in r:
                    continue
                out[f"{stage}/{method}/SP"] = float(np.mean(r["success"]))
                if "pe" in r:
                    out[f"{stage}/{method}/PE"] = float(np.median(r["pe"]))
                if "C" in r:
                    out[f"{stage}/{method}/C"] = float(r["C"])
        else:
            for row in res:
                key = ",".join(f"{k}={v}" for k, v in row.items() if not k.startswith("weak"))
                for k, v in row.items():
                    if k.startswith("weak"):
                        out[f"{stage}/{key}/{k}/SP"] = float(v)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", required=True)
    args = p.parse_args(argv)
    state = load_checkpoint(args.checkpoint)
    results = state.get("extra", {}).get("results")
    if results is None:
        raise SystemExit(f"{args.checkpoint} holds no invariant_eqdisc results")
    for k, v in evaluate(results).items():
        print(f"{k}: {v:.4g}")


if __name__ == "__main__":
    main()

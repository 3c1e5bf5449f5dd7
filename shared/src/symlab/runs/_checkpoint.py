"""Checkpoints: state dicts and plain config only, loaded with ``weights_only=True``.

Whole pickled objects (models, workspaces) break when code moves and execute arbitrary code on
load; a checkpoint here is a dict of tensors, numbers, strings and nested dicts/lists.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt or does not fit the model."""


def _rng_state() -> dict[str, Any]:
    import random

    import numpy as np

    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype("int64")),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": repr(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import ast
    import random

    import numpy as np

    # A checkpoint loaded with map_location="cuda" has its RNG states there; torch wants them
    # as CPU byte tensors.
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state(
        (
            n["name"],
            n["keys"].cpu().numpy().astype("uint32"),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    random.setstate(ast.literal_eval(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    step: int = 0,
    config: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    **modules: Any,
) -> Path:
    """Save state dicts (and the RNG states, so a resumed run continues the same stream).

    Parameters
    ----------
    path : path
        Destination; written atomically (temporary file, then ``os.replace``) so an interrupted
        save never leaves a truncated checkpoint under the final name.
    model, optimizer, scheduler : optional
        Objects with ``state_dict()``.
    step : int
        Training step or epoch reached.
    config : dict, optional
        Plain-data config (see :func:`symlab.runs.config_to_dict`).
    extra : dict, optional
        Other plain data (tensors, numbers, strings, lists, dicts).
    **modules
        Further objects with ``state_dict()`` (an EMA model, a normalizer), stored by name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"step": int(step), "rng": _rng_state()}
    named = {"model": model, "optimizer": optimizer, "scheduler": scheduler, **modules}
    state["state_dicts"] = {k: v.state_dict() for k, v in named.items() if v is not None}
    if config is not None:
        state["config"] = config
    if extra is not None:
        state["extra"] = extra
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Raises
    ------
    CheckpointError
        Naming the file when it is missing, truncated/corrupt, or holds pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {path} could not be read (corrupt, truncated or not a state-dict "
            f"checkpoint): {exc}"
        ) from exc
    if not isinstance(state, dict) or "state_dicts" not in state:
        raise CheckpointError(f"{path} is not a symlab checkpoint (no 'state_dicts' entry)")
    return state


def restore_checkpoint(
    state_or_path: dict[str, Any] | str | Path,
    *,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    restore_rng: bool = True,
    map_location: str | torch.device = "cpu",
    **modules: Any,
) -> dict[str, Any]:
    """Load state dicts into the given objects and return the checkpoint dict.

    A model whose parameters do not match raises :class:`CheckpointError` listing the missing and
    unexpected keys.
    """
    state = (
        state_or_path
        if isinstance(state_or_path, dict)
        else load_checkpoint(state_or_path, map_location)
    )
    named = {"model": model, "optimizer": optimizer, "scheduler": scheduler, **modules}
    for key, obj in named.items():
        if obj is None:
            continue
        if key not in state["state_dicts"]:
            raise CheckpointError(
                f"checkpoint has no state for {key!r}; it holds {sorted(state['state_dicts'])}"
            )
        try:
            obj.load_state_dict(state["state_dicts"][key])
        except RuntimeError as exc:
            raise CheckpointError(f"state of {key!r} does not fit: {exc}") from exc
    if restore_rng and "rng" in state:
        _set_rng_state(state["rng"])
    return state

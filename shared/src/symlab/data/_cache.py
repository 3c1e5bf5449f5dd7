"""On-disk cache for generated (synthetic) datasets keyed by their configuration.

A dataset is identified by the SHA-256 of a canonical JSON encoding of ``(name, config,
version)`` and stored as ``<cache_dir>/<name>-<hash16>.npz`` with a sidecar
``<name>-<hash16>.json`` recording the config. Files are written atomically (temporary file in
the same directory, fsync, ``os.replace``) so that an interrupted or concurrent generation never
leaves a partial file under the final name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("symlab.data")

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def default_cache_dir() -> Path:
    """``$SYMLAB_CACHE`` if set, else ``~/.cache/symlab``."""
    env = os.environ.get("SYMLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "symlab"


def _canonical(value: Any, where: str) -> Any:
    """Convert ``value`` to plain JSON types, or raise TypeError naming where it failed."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _canonical(dataclasses.asdict(value), where)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        # numpy scalars (e.g. from np.linspace) are common in configs; treat them as numbers.
        value = value.item()
        if not isinstance(value, (bool, int, float)):
            raise TypeError(f"{where} is a numpy scalar of unsupported type {type(value).__name__}")
        return _canonical(value, where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{where} is {value}, which has no JSON representation")
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                # json would silently turn 1 into "1", making {1: x} and {"1": x} collide.
                raise TypeError(f"{where} has non-string key {k!r}; config keys must be strings")
            out[k] = _canonical(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{where} has type {type(value).__name__}, which is not JSON-serialisable; "
        "use dicts, lists, str, int, float, bool, None or dataclasses of these"
    )


def _canonical_json(name: str, config: Any, version: int) -> str:
    payload = {"name": name, "config": _canonical(config, "config"), "version": version}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def cache_key(name: str, config: Any, version: int = 1) -> str:
    """SHA-256 hex digest identifying a generated dataset.

    Parameters
    ----------
    name : str
        Dataset name.
    config : dataclass instance, Mapping or JSON-able value
        Generation parameters. Dataclasses are converted with :func:`dataclasses.asdict`;
        tuples hash like lists.
    version : int, default 1
        Bump when the generator code changes so that old caches are not reused.

    Returns
    -------
    str
        64 hex characters.

    Raises
    ------
    TypeError
        If the config contains a value without a JSON representation (naming where).
    """
    return hashlib.sha256(_canonical_json(name, config, version).encode("utf-8")).hexdigest()


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Write via ``write(fileobj)`` to a temp file next to ``path``, fsync and rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        # Persist the rename itself; not possible on every platform, hence best effort.
        dfd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _write_npz(fileobj: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """Write an ``.npz`` archive readable by :func:`numpy.load`.

    Written by hand rather than with ``np.savez(f, **arrays)`` so that array names such as
    ``"file"`` cannot clash with ``savez``'s own keyword arguments.
    """
    with zipfile.ZipFile(fileobj, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(f"{key}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)


def _try_load(npz_path: Path, meta_path: Path, key: str, canonical: str) -> dict | None:
    """Return the cached arrays, or None (after a warning if the cache is damaged)."""
    if not npz_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") != key or meta.get("canonical") != canonical:
            warnings.warn(
                f"cache sidecar {meta_path} does not match the requested config; regenerating",
                stacklevel=3,
            )
            return None
        expected = list(meta["arrays"])
        with np.load(npz_path, allow_pickle=False) as f:
            missing = [k for k in expected if k not in f.files]
            if missing:
                raise ValueError(f"arrays {missing} missing from the archive")
            # Materialise inside the context: NpzFile reads lazily from the open zip.
            return {k: f[k] for k in expected}
    except Exception as e:  # any failure to read means the cache is unusable
        warnings.warn(
            f"cached dataset {npz_path} is unreadable or corrupt ({type(e).__name__}: {e}); "
            "regenerating",
            stacklevel=3,
        )
        logger.warning("cache file %s is corrupt (%s); regenerating", npz_path, e)
        return None


def cached_dataset(
    name: str,
    config: Any,
    build_fn: Callable[[Any], Mapping[str, np.ndarray]],
    cache_dir: str | os.PathLike | None = None,
    version: int = 1,
) -> dict[str, np.ndarray]:
    """Build a dataset with ``build_fn(config)`` once and load it from disk afterwards.

    Parameters
    ----------
    name : str
        Dataset name, used in the file name (letters, digits, ``.``, ``_``, ``-``).
    config : dataclass instance, Mapping or JSON-able value
        Generation parameters; passed unchanged to ``build_fn`` and hashed for the key.
    build_fn : callable
        ``build_fn(config) -> Mapping[str, numpy.ndarray]``. Only called on a cache miss.
    cache_dir : str or os.PathLike, optional
        Directory of the cache; default :func:`default_cache_dir` (``$SYMLAB_CACHE`` or
        ``~/.cache/symlab``). Created if needed.
    version : int, default 1
        Part of the key; bump to invalidate caches when ``build_fn`` changes.

    Returns
    -------
    dict[str, numpy.ndarray]
        The dataset arrays.

    Notes
    -----
    A cache file that cannot be read, lacks arrays listed in its sidecar, or whose sidecar
    config differs from ``config`` triggers a warning and a rebuild. If ``build_fn`` raises,
    nothing is written.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"dataset name {name!r} is not a safe file name "
            "(use letters, digits, '.', '_' and '-', starting with a letter or digit)"
        )
    canonical = _canonical_json(name, config, version)
    key = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    stem = f"{name}-{key[:16]}"
    npz_path = root / f"{stem}.npz"
    meta_path = root / f"{stem}.json"

    arrays = _try_load(npz_path, meta_path, key, canonical)
    if arrays is not None:
        logger.info("loaded cached dataset %r from %s", name, npz_path)
        return arrays

    logger.info("building dataset %r (cache miss, key %s)", name, key[:16])
    built = build_fn(config)
    if not isinstance(built, Mapping):
        raise TypeError(
            f"build_fn for {name!r} must return a dict of numpy arrays, "
            f"found {type(built).__name__}"
        )
    arrays = {}
    for k, v in built.items():
        if not isinstance(k, str) or not k:
            raise TypeError(f"build_fn for {name!r} returned a non-string or empty key {k!r}")
        arr = np.asarray(v)
        if arr.dtype == object:
            raise TypeError(
                f"build_fn for {name!r} returned object array for key {k!r}; "
                "only numeric/string arrays can be cached"
            )
        arrays[k] = arr

    root.mkdir(parents=True, exist_ok=True)
    # Archive first, sidecar second: the loader requires both, so a crash in between reads
    # as a miss and is regenerated rather than trusted.
    _atomic_write(npz_path, lambda f: _write_npz(f, arrays))
    meta = {
        "name": name,
        "version": version,
        "key": key,
        "canonical": canonical,
        "config": json.loads(canonical)["config"],
        "arrays": list(arrays),
    }
    _atomic_write(meta_path, lambda f: f.write(json.dumps(meta, indent=2).encode("utf-8")))
    logger.info("cached dataset %r at %s", name, npz_path)
    return arrays

"""Episodic replay buffer for demonstrations, with robomimic HDF5 import/export.

The robomimic layout is::

    data/                       attrs: total (int), env_args (JSON string, optional)
        demo_0/                 attrs: num_samples (int)
            actions             (T, A)
            obs/<key>           (T, ...)
            rewards, dones      (T,)      optional
            states              (T, S)    optional
        demo_1/ ...

In memory every field is one array with all episodes concatenated along time, and
``episode_ends`` holds the exclusive end index of each episode, as in diffusion policy's
``ReplayBuffer``. Observation fields are stored under their HDF5 path, ``"obs/<key>"``, so
field names never collide and map back to the file one-to-one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

_OPTIONAL_FIELDS = ("rewards", "dones", "states")


class DatasetError(ValueError):
    """A dataset file or an episode does not have the expected layout or contents."""


def _demo_sort_key(name: str) -> tuple[int, int, str]:
    # robomimic sorts demos by their integer suffix; "demo_10" must come after "demo_9".
    m = re.fullmatch(r"demo_(\d+)", name)
    return (0, int(m.group(1)), name) if m else (1, 0, name)


def _flatten_episode(episode: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, value in episode.items():
        if not isinstance(key, str):
            raise DatasetError(f"episode keys must be strings, found {key!r}")
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten_episode(value, prefix=f"{name}/"))
            continue
        arr = np.asarray(value)
        if arr.dtype == object:
            raise DatasetError(f"episode key {name!r} has object dtype; expected a numeric array")
        if arr.ndim == 0:
            raise DatasetError(
                f"episode key {name!r} is a scalar; expected a leading time dimension"
            )
        out[name] = arr
    return out


def _fsync_path(path: str | os.PathLike, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        # Directories cannot be opened for fsync on every platform (e.g. Windows).
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


class ReplayBuffer:
    """In-memory episodic storage: one concatenated array per field plus episode ends.

    Parameters
    ----------
    data : Mapping[str, numpy.ndarray], optional
        Concatenated arrays, all with the same length ``n_steps`` along axis 0.
    episode_ends : array-like of int, optional
        Exclusive end index of each episode in ``data``; required with ``data``. Must be
        strictly increasing and end at ``n_steps``.
    env_args : dict or str, optional
        Environment metadata (robomimic ``env_args``), written back by
        :meth:`write_robomimic_hdf5`.

    Notes
    -----
    :meth:`add_episode` grows the storage geometrically, so appending many episodes is
    amortised linear. Arrays returned by ``buffer[key]`` and :meth:`get_episode` are views of
    the storage; after a later ``add_episode`` they may no longer track it.

    Examples
    --------
    >>> buf = ReplayBuffer()
    >>> buf.add_episode({"actions": np.zeros((5, 2)), "obs": {"pos": np.ones((5, 3))}})
    >>> buf.n_episodes, buf.n_steps, buf.keys()
    (1, 5, ['actions', 'obs/pos'])
    """

    def __init__(
        self,
        data: Mapping[str, np.ndarray] | None = None,
        episode_ends: Sequence[int] | np.ndarray | None = None,
        *,
        env_args: dict | str | None = None,
    ) -> None:
        self._store: dict[str, np.ndarray] = {}
        self._n_steps = 0
        self._episode_ends: list[int] = []
        self.env_args = env_args
        if data is None:
            if episode_ends is not None and len(episode_ends):
                raise DatasetError("episode_ends given without data")
            return
        if episode_ends is None:
            raise DatasetError("episode_ends is required when data is given")
        arrays = _flatten_episode(data)
        if not arrays:
            raise DatasetError("data contains no arrays")
        lengths = {k: v.shape[0] for k, v in arrays.items()}
        n = next(iter(lengths.values()))
        for key, length in lengths.items():
            if length != n:
                first = next(iter(lengths))
                raise DatasetError(
                    f"all arrays must have the same length: {first!r} has {n} steps "
                    f"but {key!r} has {length}"
                )
        ends = np.asarray(episode_ends, dtype=np.int64).reshape(-1)
        if ends.size == 0 or ends[-1] != n or ends[0] <= 0 or np.any(np.diff(ends) <= 0):
            raise DatasetError(
                f"episode_ends must be strictly increasing positive ints ending at n_steps={n}, "
                f"found {ends.tolist()[:10]}{'...' if ends.size > 10 else ''}"
            )
        self._store = dict(arrays)
        self._n_steps = n
        self._episode_ends = ends.tolist()

    # ------------------------------------------------------------------ basic access
    @property
    def n_episodes(self) -> int:
        """Number of episodes."""
        return len(self._episode_ends)

    @property
    def n_steps(self) -> int:
        """Total number of time steps over all episodes."""
        return self._n_steps

    @property
    def episode_ends(self) -> np.ndarray:
        """Exclusive end index of every episode, shape ``(n_episodes,)``, int64 (a copy)."""
        return np.asarray(self._episode_ends, dtype=np.int64)

    @property
    def episode_starts(self) -> np.ndarray:
        """Start index of every episode, shape ``(n_episodes,)``, int64."""
        ends = self.episode_ends
        return ends - np.diff(ends, prepend=0)

    @property
    def episode_lengths(self) -> np.ndarray:
        """Length of every episode, shape ``(n_episodes,)``, int64."""
        return np.diff(self.episode_ends, prepend=0)

    def keys(self) -> list[str]:
        """Field names, e.g. ``['actions', 'obs/agentview_image', 'rewards']``."""
        return list(self._store)

    @property
    def obs_keys(self) -> list[str]:
        """Observation names without the ``obs/`` prefix."""
        return [k[len("obs/") :] for k in self._store if k.startswith("obs/")]

    @property
    def data(self) -> dict[str, np.ndarray]:
        """All fields as concatenated arrays (views)."""
        return {k: v[: self._n_steps] for k, v in self._store.items()}

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._store:
            raise KeyError(f"no field {key!r} in replay buffer; available: {self.keys()}")
        return self._store[key][: self._n_steps]

    def __len__(self) -> int:
        return self._n_steps

    def episode_slice(self, i: int) -> slice:
        """Slice of episode ``i`` (negative indices count from the end) in the arrays."""
        n = self.n_episodes
        if not -n <= i < n:
            raise IndexError(f"episode index {i} out of range for buffer with {n} episodes")
        i %= n
        start = self._episode_ends[i - 1] if i > 0 else 0
        return slice(start, self._episode_ends[i])

    def get_episode(self, i: int) -> dict[str, np.ndarray]:
        """Fields of episode ``i`` as views of the storage."""
        s = self.episode_slice(i)
        return {k: v[s] for k, v in self._store.items()}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}: {v.dtype}{tuple(v.shape[1:])}" for k, v in self._store.items())
        return (
            f"{type(self).__name__}(n_episodes={self.n_episodes}, n_steps={self.n_steps}, "
            f"fields={{{fields}}})"
        )

    # ------------------------------------------------------------------ appending
    def add_episode(self, episode: Mapping[str, Any]) -> None:
        """Append one episode.

        Parameters
        ----------
        episode : Mapping[str, array-like]
            Arrays of equal length ``T > 0`` along axis 0. Nested mappings are flattened with
            ``/``, so ``{"obs": {"pos": x}}`` is stored as ``"obs/pos"``. After the first
            episode, every episode must have the same fields with the same trailing shapes.
        """
        arrays = _flatten_episode(episode)
        if not arrays:
            raise DatasetError("episode contains no arrays")
        ref = "actions" if "actions" in arrays else next(iter(arrays))
        t = arrays[ref].shape[0]
        for key, arr in arrays.items():
            if arr.shape[0] != t:
                raise DatasetError(
                    f"episode key {key!r} has length {arr.shape[0]} but {ref!r} has length {t}"
                )
        if t == 0:
            raise DatasetError("episode has length 0")

        if not self._store:
            self._store = {k: np.empty((0, *v.shape[1:]), dtype=v.dtype) for k, v in arrays.items()}
        missing = [k for k in self._store if k not in arrays]
        extra = [k for k in arrays if k not in self._store]
        if missing or extra:
            raise DatasetError(
                f"episode fields do not match the buffer: missing {missing}, unexpected {extra}"
            )
        for key, arr in arrays.items():
            stored = self._store[key]
            if arr.shape[1:] != stored.shape[1:]:
                raise DatasetError(
                    f"episode key {key!r} has per-step shape {arr.shape[1:]}, "
                    f"expected {stored.shape[1:]}"
                )
            if not np.can_cast(arr.dtype, stored.dtype, casting="same_kind"):
                raise DatasetError(
                    f"episode key {key!r} has dtype {arr.dtype} which cannot be stored as "
                    f"{stored.dtype}"
                )

        end = self._n_steps + t
        self._reserve(end)
        for key, arr in arrays.items():
            self._store[key][self._n_steps : end] = arr
        self._n_steps = end
        self._episode_ends.append(end)

    def _reserve(self, n: int) -> None:
        for key, arr in self._store.items():
            if arr.shape[0] < n:
                # Doubling keeps repeated add_episode calls amortised O(total steps).
                grown = np.empty((max(n, 2 * arr.shape[0]), *arr.shape[1:]), dtype=arr.dtype)
                grown[: self._n_steps] = arr[: self._n_steps]
                self._store[key] = grown

    # ------------------------------------------------------------------ robomimic I/O
    @classmethod
    def from_robomimic_hdf5(
        cls, path: str | os.PathLike, obs_keys: Sequence[str] | None = None
    ) -> ReplayBuffer:
        """Load demonstrations from a robomimic-layout HDF5 file.

        Parameters
        ----------
        path : str or os.PathLike
            The ``.hdf5`` file.
        obs_keys : sequence of str, optional
            Observation keys to load (without ``obs/``). ``None`` loads every key of the
            first demo.

        Returns
        -------
        ReplayBuffer
            Fields ``actions``, ``obs/<key>`` and whichever of ``rewards``, ``dones``,
            ``states`` the demos have; ``env_args`` parsed from JSON when present.

        Raises
        ------
        DatasetError
            If the file is missing, is not a readable HDF5 file, or its layout is invalid
            (no ``data`` group, no demos, a demo without ``actions``, a length or shape
            mismatch, a requested observation key absent).
        """
        if isinstance(obs_keys, str):
            obs_keys = [obs_keys]
        path = Path(path)
        if not path.exists():
            raise DatasetError(f"dataset file not found: {path}")
        if not path.is_file():
            raise DatasetError(f"dataset path is not a file: {path}")
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise DatasetError(
                f"cannot open {path} as HDF5 (not an HDF5 file, truncated or corrupt): {e}"
            ) from e
        with f:
            try:
                return cls._read_robomimic(f, path, obs_keys)
            except DatasetError:
                raise
            except (OSError, KeyError, RuntimeError, ValueError, TypeError) as e:
                # h5py reports damaged data blocks through a variety of exception types.
                raise DatasetError(f"failed to read {path} (file corrupt?): {e}") from e

    @classmethod
    def _read_robomimic(
        cls, f: h5py.File, path: Path, obs_keys: Sequence[str] | None
    ) -> ReplayBuffer:
        if "data" not in f or not isinstance(f["data"], h5py.Group):
            raise DatasetError(f"{path}: no 'data' group; top-level keys: {sorted(f.keys())}")
        data = f["data"]
        demos = sorted((k for k in data if isinstance(data[k], h5py.Group)), key=_demo_sort_key)
        if not demos:
            raise DatasetError(f"{path}: the 'data' group contains no demos")

        # Pass 1: validate every demo from metadata alone, before reading any array data, and
        # collect (field -> per-step shape, dtype) from the first demo.
        spec: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        lengths: list[int] = []
        first = demos[0]
        for name in demos:
            g = data[name]
            if "actions" not in g or not isinstance(g["actions"], h5py.Dataset):
                raise DatasetError(
                    f"{path}: demo '{name}' has no 'actions' dataset; found {sorted(g.keys())}"
                )
            actions = g["actions"]
            if actions.ndim != 2:
                raise DatasetError(
                    f"{path}: demo '{name}' actions must have shape (T, A), found {actions.shape}"
                )
            t = actions.shape[0]
            if t == 0:
                raise DatasetError(f"{path}: demo '{name}' has 0 steps")

            obs_group = g["obs"] if "obs" in g and isinstance(g["obs"], h5py.Group) else None
            available = sorted(obs_group.keys()) if obs_group is not None else []
            if obs_keys is None:
                obs_keys = available
            fields = {"actions": actions}
            for key in obs_keys:
                if key not in available or not isinstance(obs_group[key], h5py.Dataset):
                    raise DatasetError(
                        f"{path}: obs key '{key}' not found in demo '{name}'; "
                        f"available obs keys: {available}"
                    )
                fields[f"obs/{key}"] = obs_group[key]
            for key in _OPTIONAL_FIELDS:
                if name == first:
                    if key in g and isinstance(g[key], h5py.Dataset):
                        fields[key] = g[key]
                elif key in spec:
                    if key not in g or not isinstance(g[key], h5py.Dataset):
                        raise DatasetError(
                            f"{path}: demo '{name}' has no '{key}' dataset but demo '{first}' has"
                        )
                    fields[key] = g[key]

            for key, ds in fields.items():
                if ds.ndim == 0 or ds.shape[0] != t:
                    found = ds.shape[0] if ds.ndim else "a scalar"
                    raise DatasetError(
                        f"{path}: demo '{name}' key '{key}' has length {found} "
                        f"but 'actions' has length {t}"
                    )
                if name == first:
                    spec[key] = (ds.shape[1:], ds.dtype)
                    continue
                expected = spec[key][0]
                if ds.shape[1:] != expected:
                    if key == "actions":
                        raise DatasetError(
                            f"{path}: demo '{name}' has action dimension {ds.shape[1]} "
                            f"(shape {ds.shape}) but demo '{first}' has action dimension "
                            f"{expected[0]}"
                        )
                    raise DatasetError(
                        f"{path}: demo '{name}' key '{key}' has per-step shape {ds.shape[1:]}, "
                        f"expected {expected} as in demo '{first}'"
                    )
                spec[key] = (expected, np.promote_types(spec[key][1], ds.dtype))

            n_attr = g.attrs.get("num_samples")
            if n_attr is not None and int(n_attr) != t:
                warnings.warn(
                    f"{path}: demo '{name}' attribute num_samples={int(n_attr)} "
                    f"but it has {t} steps; using {t}",
                    stacklevel=3,
                )
            lengths.append(t)

        ends = np.cumsum(lengths, dtype=np.int64)
        total = int(ends[-1])
        total_attr = data.attrs.get("total")
        if total_attr is not None and int(total_attr) != total:
            warnings.warn(
                f"{path}: 'data' attribute total={int(total_attr)} but the demos have "
                f"{total} steps; using {total}",
                stacklevel=3,
            )

        # Pass 2: read each dataset straight into its slot of the preallocated arrays, so the
        # peak memory is the final buffer rather than per-demo copies plus a concatenation.
        store = {k: np.empty((total, *shape), dtype=dtype) for k, (shape, dtype) in spec.items()}
        start = 0
        for name, end in zip(demos, ends.tolist()):
            g = data[name]
            for key, arr in store.items():
                ds = g[key]
                if ds.dtype == arr.dtype:
                    ds.read_direct(arr, dest_sel=np.s_[start:end])
                else:
                    arr[start:end] = ds[()]
            start = end

        env_args = data.attrs.get("env_args")
        if env_args is not None:
            if isinstance(env_args, bytes):
                env_args = env_args.decode("utf-8")
            try:
                env_args = json.loads(env_args)
            except (TypeError, ValueError):
                warnings.warn(
                    f"{path}: 'data' attribute env_args is not valid JSON; keeping it as a string",
                    stacklevel=3,
                )
        return cls(store, ends, env_args=env_args)

    def write_robomimic_hdf5(
        self,
        path: str | os.PathLike,
        env_args: dict | str | None = None,
        *,
        compression: str | None = None,
    ) -> None:
        """Write the buffer in robomimic layout, atomically.

        The file is written to a temporary file in the destination directory, flushed to disk
        and then renamed over ``path``, so readers never see a partially written file and an
        interrupted write leaves any previous file intact.

        Parameters
        ----------
        path : str or os.PathLike
            Destination ``.hdf5`` file. Parent directories are created.
        env_args : dict or str, optional
            Stored as the JSON attribute ``data.attrs['env_args']``; defaults to
            ``self.env_args``.
        compression : str, optional
            h5py compression filter for every dataset, e.g. ``'gzip'``.
        """
        if "actions" not in self._store:
            raise DatasetError(
                f"cannot write robomimic file: the buffer has no 'actions' field; "
                f"fields: {self.keys()}"
            )
        if self.n_episodes == 0:
            raise DatasetError("cannot write robomimic file: the buffer has no episodes")
        env_args = self.env_args if env_args is None else env_args
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            with h5py.File(tmp, "w") as f:
                data = f.create_group("data")
                data.attrs["total"] = self._n_steps
                if env_args is not None:
                    data.attrs["env_args"] = (
                        env_args if isinstance(env_args, str) else json.dumps(env_args)
                    )
                start = 0
                for i, end in enumerate(self._episode_ends):
                    g = data.create_group(f"demo_{i}")
                    g.attrs["num_samples"] = end - start
                    for key, arr in self._store.items():
                        # h5py creates the intermediate "obs" group from the path.
                        g.create_dataset(key, data=arr[start:end], compression=compression)
                    start = end
            _fsync_path(tmp)
            os.replace(tmp, path)
            _fsync_path(path.parent, directory=True)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def split_episodes(
    n_episodes: int, val_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly split episodes into train and validation masks.

    Parameters
    ----------
    n_episodes : int
        Number of episodes.
    val_fraction : float
        Fraction in ``[0, 1)`` of episodes for validation. When positive, at least one episode
        goes to validation and at least one stays in training.
    seed : int, default 0
        Seed of the split, so train/val membership is reproducible.

    Returns
    -------
    train_mask, val_mask : numpy.ndarray
        Complementary boolean masks of shape ``(n_episodes,)``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), found {val_fraction}")
    if n_episodes < 0:
        raise ValueError(f"n_episodes must be non-negative, found {n_episodes}")
    val_mask = np.zeros(n_episodes, dtype=bool)
    if val_fraction > 0 and n_episodes > 1:
        n_val = min(max(1, round(n_episodes * val_fraction)), n_episodes - 1)
        rng = np.random.default_rng(seed)
        val_mask[rng.choice(n_episodes, size=n_val, replace=False)] = True
    return ~val_mask, val_mask

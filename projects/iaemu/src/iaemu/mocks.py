"""HOD + intrinsic-alignment mocks with halotools, and their parallel, cached generation.

Model (halotools ``HodModelFactory``):

* centrals: ``Zheng07Cens`` + ``TrivialPhaseSpace`` + ``CentralAlignment`` (major axis
  Dimroth-Watson about the halo major axis with strength mu_cen);
* satellites: ``Zheng07Sats`` + ``NFWPhaseSpace`` (no subhalos in a synthetic catalog; the paper
  uses ``SubhaloPhaseSpace``) + ``RadialSatelliteAlignment`` (about the host-to-satellite vector
  with strength mu_sat), optionally with the distance-dependent
  ``RadialSatelliteAlignmentStrength`` (the distribution-shift mocks).

One parameter draw gives ``n_realizations`` independent populations of the same halo catalog,
each reduced to (xi, omega, eta) in 20 radial bins, retried up to ``max_attempts`` times when a
statistic is NaN. Draws are grouped in chunks; each chunk is one ``symlab.data.cached_dataset``
entry keyed by its exact parameters, so an interrupted generation resumes where it stopped and
processes can write chunks independently.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import time
import warnings
from typing import Any

import numpy as np

from .config import HaloConfig, MockConfig
from .halos import build_halo_arrays, to_halotools
from .statistics import compute_statistics, radial_bins

CACHE_VERSION = 3  # 3: orientations seeded (_GlobalRNGContext), warm-up does not shift the RNG
HOD_KEYS = ("logMmin", "sigma_logM", "logM0", "logM1", "alpha")


class _GlobalRNGContext:
    """Stand-in for astropy's ``NumpyRNGContext`` in halotools' orientation code.

    ``NumpyRNGContext(None)`` reseeds numpy's global RNG from the operating system, so halotools'
    galaxy orientations (drawn with ``seed=None``) are irreproducible even when the mock is
    populated with a seed. With this context ``seed=None`` means "use the global RNG as is",
    which :meth:`MockGenerator.populate` seeds; an explicit seed behaves as in astropy.
    """

    def __init__(self, seed=None) -> None:
        self.seed = seed

    def __enter__(self):
        if self.seed is not None:
            self.state = np.random.get_state()  # noqa: NPY002 (halotools draws from the global RNG)
            np.random.seed(self.seed)  # noqa: NPY002 (halotools draws from the global RNG)

    def __exit__(self, *exc) -> None:
        if self.seed is not None:
            np.random.set_state(self.state)  # noqa: NPY002 (halotools draws from the global RNG)


@contextlib.contextmanager
def _reproducible_orientations():
    import halotools.empirical_models.ia_models.ia_model_components as iamc
    import halotools.utils.mcrotations as mcrot

    saved = iamc.NumpyRNGContext, mcrot.NumpyRNGContext
    iamc.NumpyRNGContext = mcrot.NumpyRNGContext = _GlobalRNGContext
    try:
        yield
    finally:
        iamc.NumpyRNGContext, mcrot.NumpyRNGContext = saved


def sample_parameters(cfg: MockConfig) -> np.ndarray:
    """``n_draws`` uniform draws in the 7-d parameter box; shape (n_draws, 7)."""
    rng = np.random.default_rng(cfg.seed)
    low, high = np.asarray(cfg.low), np.asarray(cfg.high)
    return low + (high - low) * rng.uniform(0, 1, (cfg.n_draws, 7))


def build_model(radial_strength: tuple[float, float] | None = None, lbox: float = 250.0):
    """A halotools ``HodModelFactory`` for the paper's HOD + alignment model.

    Parameters
    ----------
    radial_strength : (a, gamma), optional
        Use ``RadialSatelliteAlignmentStrength``: mu_sat(r) = a (r / r_vir)^gamma per satellite.
    lbox : float
        Box side, which the strength component needs for periodic host-satellite vectors.
    """
    from halotools.empirical_models import (
        HodModelFactory,
        NFWPhaseSpace,
        TrivialPhaseSpace,
        Zheng07Cens,
        Zheng07Sats,
    )
    from halotools.empirical_models.ia_models.ia_model_components import (
        CentralAlignment,
        RadialSatelliteAlignment,
    )

    features: dict[str, Any] = dict(
        centrals_occupation=Zheng07Cens(),
        centrals_profile=TrivialPhaseSpace(),
        satellites_occupation=Zheng07Sats(),
        satellites_profile=NFWPhaseSpace(),
        centrals_orientation=CentralAlignment(central_alignment_strength=0.0),
        satellites_orientation=RadialSatelliteAlignment(satellite_alignment_strength=0.0),
    )
    sequence = [
        "centrals_occupation",
        "centrals_profile",
        "satellites_occupation",
        "satellites_profile",
    ]
    if radial_strength is not None:
        from halotools.empirical_models.ia_models.ia_strength_models import (
            RadialSatelliteAlignmentStrength,
        )

        a, gamma = radial_strength
        strength = RadialSatelliteAlignmentStrength(
            satellite_alignment_a=a, satellite_alignment_gamma=gamma
        )
        # The factory does not pass Lbox to this component (as in the data generator).
        strength.inherit_halocat_properties(Lbox=np.full(3, float(lbox)))
        features["satellites_radial_alignment_strength"] = strength
        sequence.append("satellites_radial_alignment_strength")
    sequence += ["centrals_orientation", "satellites_orientation"]
    return HodModelFactory(model_feature_calling_sequence=tuple(sequence), **features)


def set_parameters(model, theta: np.ndarray) -> None:
    """Write [mu_cen, mu_sat, logMmin, sigma_logM, logM0, logM1, alpha] into the model."""
    theta = np.asarray(theta, dtype=float)
    model.param_dict["central_alignment_strength"] = float(theta[0])
    model.param_dict["satellite_alignment_strength"] = float(theta[1])
    for key, value in zip(HOD_KEYS, theta[2:]):
        model.param_dict[key] = float(value)


def galaxies(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, major axes and a satellite mask of the current mock."""
    gt = model.mock.galaxy_table
    pos = np.stack([np.asarray(gt[c], dtype=np.float64) for c in ("x", "y", "z")], axis=1)
    ori = np.stack(
        [np.asarray(gt[f"galaxy_axisA_{c}"], dtype=np.float64) for c in ("x", "y", "z")], axis=1
    )
    return pos, ori, np.asarray(gt["gal_type"] == "satellites")


class MockGenerator:
    """Populate one halo catalog repeatedly and measure the three statistics.

    Parameters
    ----------
    halos : HaloConfig
    backend : {"halotools", "kdtree"}
        Pair-counting implementation of the statistics (population always uses halotools).
    radial_strength : (a, gamma), optional
        Distance-dependent satellite alignment (distribution-shift mocks).
    """

    def __init__(
        self,
        halos: HaloConfig,
        backend: str = "halotools",
        radial_strength: tuple[float, float] | None = None,
    ) -> None:
        self.halo_cfg = halos
        self.backend = backend
        self.halocat = to_halotools(build_halo_arrays(halos))
        self.model = build_model(radial_strength, halos.lbox)
        self.edges = radial_bins()
        self._populated = False

    def populate(self, theta: np.ndarray, seed: int) -> None:
        """Populate the catalog with parameters ``theta`` (deterministic in ``seed``)."""
        set_parameters(self.model, theta)
        # halotools seeds positions with ``seed`` but draws the orientations from numpy's global
        # RNG; seed that too (and restore the caller's state) so a seed fixes the whole mock.
        seed = int(seed) % (2**32 - 1)  # halotools and numpy need a 32-bit seed
        state = np.random.get_state()  # noqa: NPY002 (halotools draws from the global RNG)
        np.random.seed(seed)  # noqa: NPY002 (halotools draws from the global RNG)
        try:
            with _reproducible_orientations():
                self._populate(seed)
        finally:
            np.random.set_state(state)  # noqa: NPY002 (halotools draws from the global RNG)

    def _populate(self, seed: int) -> None:
        with warnings.catch_warnings():
            # halotools warns on every call that the alignment strength column is absent and
            # the param_dict value is used, which is what we want.
            warnings.simplefilter("ignore")
            if not self._populated:
                # populate_mock builds the mock object, and the first repopulation after it
                # still differs from later ones (table columns are created on the fly); run both
                # once so that every realization takes the same path, then reseed the global
                # RNG that the warm-up consumed.
                self.model.populate_mock(self.halocat, seed=0)
                self.model.mock.populate(seed=0)
                self._populated = True
                np.random.seed(seed)  # noqa: NPY002 (halotools draws from the global RNG)
            self.model.mock.populate(seed=int(seed))

    def realization(self, theta: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
        """One mock's (3, 20) statistics and its galaxy count."""
        self.populate(theta, seed)
        pos, ori, _ = galaxies(self.model)
        stats = compute_statistics(pos, ori, self.halo_cfg.lbox, self.backend, self.edges)
        return stats, len(pos)

    def draw(
        self, theta: np.ndarray, n_realizations: int, seed: int, max_attempts: int = 5
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n_realizations`` statistics of one parameter set; NaN results are redrawn.

        Returns
        -------
        stats : ndarray, shape (n_realizations, 3, 20)
            NaN rows remain only when every attempt failed.
        n_gal : ndarray, shape (n_realizations,)
        """
        out = np.full((n_realizations, 3, len(self.edges) - 1), np.nan)
        n_gal = np.zeros(n_realizations, dtype=np.int64)
        for r in range(n_realizations):
            for attempt in range(max_attempts):
                try:
                    stats, n_gal[r] = self.realization(theta, seed * 1009 + r * 31 + attempt)
                except TypeError:
                    # halotools' Dimroth-Watson sampler ends with ``raise warn(msg)`` (a
                    # TypeError) when its rejection loop hits max_iter; redraw like a NaN.
                    stats = np.full_like(out[r], np.nan)
                if np.isfinite(stats).all():
                    break
            out[r] = stats
        return out, n_gal


# One generator per process and model: building the catalog, the model and the first population
# costs about 2 s, so a worker reuses them for every chunk it is given (only the HOD and alignment
# parameters change between draws; every realization is seeded, so reuse changes no number).
_GENERATORS: dict[str, MockGenerator] = {}


def _generator(spec: dict) -> MockGenerator:
    import json

    key = json.dumps([spec["halos"], spec["backend"], spec["radial_strength"]], sort_keys=True)
    if key not in _GENERATORS:
        _GENERATORS[key] = MockGenerator(
            HaloConfig(**spec["halos"]),
            backend=spec["backend"],
            radial_strength=tuple(spec["radial_strength"]) if spec["radial_strength"] else None,
        )
    return _GENERATORS[key]


def _build_chunk(spec: dict) -> dict[str, np.ndarray]:
    gen = _generator(spec)
    ys, ns = [], []
    for theta, seed in zip(spec["thetas"], spec["seeds"]):
        y, n = gen.draw(np.asarray(theta), spec["n_realizations"], seed, spec["max_attempts"])
        ys.append(y)
        ns.append(n)
    return {"x": np.asarray(spec["thetas"]), "y": np.stack(ys), "n_gal": np.stack(ns)}


def _run_chunk(args: tuple[dict, str | None]) -> dict[str, np.ndarray]:
    from symlab.data import cached_dataset

    spec, cache_dir = args
    return cached_dataset(
        "iaemu-mocks", spec, _build_chunk, cache_dir=cache_dir, version=CACHE_VERSION
    )


class _CacheMiss(Exception):
    pass


def _raise_miss(spec: dict) -> dict[str, np.ndarray]:
    raise _CacheMiss


def _cached_chunk(job: tuple[dict, str | None]) -> dict[str, np.ndarray] | None:
    """The chunk from the cache, or None when it still has to be generated."""
    from symlab.data import cached_dataset

    spec, cache_dir = job
    try:
        return cached_dataset(
            "iaemu-mocks", spec, _raise_miss, cache_dir=cache_dir, version=CACHE_VERSION
        )
    except _CacheMiss:
        return None


def generate(
    thetas: np.ndarray,
    halos: HaloConfig,
    n_realizations: int,
    *,
    seed: int = 0,
    backend: str = "halotools",
    workers: int = 1,
    chunk_size: int = 20,
    max_attempts: int = 5,
    radial_strength: tuple[float, float] | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    desc: str = "mocks",
) -> dict[str, np.ndarray]:
    """Statistics of every parameter draw, generated in parallel processes and cached.

    Parameters
    ----------
    thetas : ndarray, shape (n, 7)
        Parameter draws.
    workers : int
        Processes (1 = in this process). Each builds the halo catalog once per chunk.
    chunk_size : int
        Draws per cache file: the granularity of resuming after an interruption.
    cache_dir : path, optional
        Cache directory of ``symlab.data.cached_dataset`` (default ``$SYMLAB_CACHE``).

    Returns
    -------
    dict with ``x`` (n, 7), ``y`` (n, n_realizations, 3, 20) and ``n_gal`` (n, n_realizations):
    the generator's (N, realizations, 3, 20) layout.
    """
    from tqdm.auto import tqdm

    thetas = np.asarray(thetas, dtype=float)
    if thetas.ndim != 2 or thetas.shape[1] != 7:
        raise ValueError(f"thetas must have shape (n, 7), got {thetas.shape}")
    halo_dict = dataclasses.asdict(halos)
    specs = []
    for start in range(0, len(thetas), chunk_size):
        stop = min(start + chunk_size, len(thetas))
        specs.append(
            dict(
                halos=halo_dict,
                thetas=thetas[start:stop].tolist(),
                seeds=[int(seed) * 1_000_003 + i for i in range(start, stop)],
                n_realizations=int(n_realizations),
                backend=backend,
                max_attempts=int(max_attempts),
                radial_strength=list(radial_strength) if radial_strength else None,
            )
        )
    cache = None if cache_dir is None else str(cache_dir)
    jobs = [(s, cache) for s in specs]
    bar = tqdm(total=len(thetas), desc=desc, disable=not progress, unit="draw")
    # Cached chunks are read here; only the missing ones go to the worker processes.
    results: list[dict | None] = [_cached_chunk(job) for job in jobs]
    todo = [i for i, r in enumerate(results) if r is None]
    bar.update(len(thetas) - sum(len(jobs[i][0]["thetas"]) for i in todo))
    if workers <= 1 or len(todo) <= 1:
        for i in todo:
            results[i] = _run_chunk(jobs[i])
            bar.update(len(jobs[i][0]["thetas"]))
    else:
        # spawn: the parent may hold torch threads, which fork does not copy safely.
        ctx = mp.get_context("spawn")
        with ctx.Pool(processes=min(workers, len(todo))) as pool:
            for i, res in pool.imap_unordered(_indexed_chunk, [(i, jobs[i]) for i in todo]):
                results[i] = res
                bar.update(len(jobs[i][0]["thetas"]))
    bar.close()
    return {k: np.concatenate([r[k] for r in results]) for k in ("x", "y", "n_gal")}


def _indexed_chunk(item: tuple[int, tuple[dict, str | None]]):
    i, job = item
    return i, _run_chunk(job)


def generate_dataset(
    mocks: MockConfig, halos: HaloConfig, progress: bool = True
) -> dict[str, np.ndarray]:
    """The training/test mocks of a config (uniform draws in the parameter box)."""
    return generate(
        sample_parameters(mocks),
        halos,
        mocks.n_realizations,
        seed=mocks.seed,
        backend=mocks.backend,
        workers=mocks.workers,
        chunk_size=mocks.chunk_size,
        max_attempts=mocks.max_attempts,
        cache_dir=mocks.cache_dir,
        progress=progress,
        desc="training mocks",
    )


def generate_splits(mocks: MockConfig, halos: HaloConfig, seed: int, progress: bool = True):
    """The config's mocks split by draw into training and held-out test draws.

    The held-out draws are topped up to ``mocks.test_realizations`` realizations (new seeds), so
    that their realization mean, the "truth" of the accuracy criteria, is less noisy than the
    training draws' (its scatter sets a floor under any emulator's measured error).

    Returns
    -------
    data : dict
        The training mocks as :func:`generate_dataset` returns them.
    splits : iaemu.dataset.Splits
        ``y_test`` has shape (n_test, max(n_realizations, test_realizations), 3, 20).
    """
    from .dataset import split_draws

    data = generate_dataset(mocks, halos, progress=progress)
    sp = split_draws(data["x"], data["y"], mocks.test_fraction, seed)
    extra = mocks.test_realizations - mocks.n_realizations
    if extra > 0:
        top = generate(
            sp.x_test,
            halos,
            extra,
            seed=mocks.seed + 1,
            backend=mocks.backend,
            workers=mocks.workers,
            chunk_size=mocks.chunk_size,
            max_attempts=mocks.max_attempts,
            cache_dir=mocks.cache_dir,
            progress=progress,
            desc="test realizations",
        )
        sp.y_test = np.concatenate([sp.y_test, top["y"]], axis=1)
    return data, sp


def time_mock(gen: MockGenerator, theta: np.ndarray, seed: int = 12345) -> float:
    """Seconds of one mock: populate the catalog and measure xi, omega and eta."""
    t0 = time.perf_counter()
    gen.populate(theta, seed)
    pos, ori, _ = galaxies(gen.model)
    compute_statistics(pos, ori, gen.halo_cfg.lbox, gen.backend, gen.edges)
    return time.perf_counter() - t0
